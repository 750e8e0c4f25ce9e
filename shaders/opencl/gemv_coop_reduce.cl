/* gemv_coop_reduce.cl — the cooperative (GPU) layout's last step, shared by every GEMV family: each
 * work-item's partial sums are reduced across the workgroup in local memory and stored by output row. */
#if defined(LAYOUT_COOP) && !defined(LOWBIT_GEMM)
static inline __attribute__((always_inline)) void coop_reduce_store(
    __local float partial[ROWS_PER_WG * N_MAX][WG_SIZE], float acc[ROWS_PER_WG][N_MAX], const uint lid,
    const size_t first_row, const uint rows, const uint n, __global float *y, const uint y_offset,
    const uint y_stride)
{
    for (uint k = 0; k < ROWS_PER_WG; ++k)
        for (uint j = 0; j < N_MAX; ++j)
            partial[k * N_MAX + j][lid] = acc[k][j];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint stride = WG_SIZE / 2; stride > 0; stride >>= 1) {
        if (lid < stride)
            for (uint e = 0; e < ROWS_PER_WG * N_MAX; ++e)
                partial[e][lid] += partial[e][lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (uint e = lid; e < ROWS_PER_WG * N_MAX; e += WG_SIZE) {
        const size_t row = first_row + e / N_MAX;
        const uint j = e % N_MAX;
        if (row < rows && j < n) y[(size_t)y_offset + (size_t)j * y_stride + row] = partial[e][0];
    }
}
#endif
