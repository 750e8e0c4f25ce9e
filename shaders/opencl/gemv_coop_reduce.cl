/* gemv_coop_reduce.cl — the cooperative (GPU) layout's last step, shared by every GEMV family: each
 * work-item's partial sums are reduced across the workgroup and stored by output row. Portable: a tree in
 * local memory (log2 WG_SIZE barriers). LOWBIT_SUBGROUPS: each subgroup reduces its own lanes first
 * (sub_group_reduce_add, no local memory, no barrier), so local memory and one barrier carry only one
 * value per subgroup. Subgroup sizes differ between devices, and a workgroup's last subgroup may be
 * narrower: nothing here assumes a size. */
#if defined(LAYOUT_COOP) && !defined(LOWBIT_GEMM)
#if defined(LOWBIT_SUBGROUPS)
#if defined(LOWBIT_SUBGROUPS_EMULATE)
/* Test hook (LOWBIT_OPENCL_PARAMS subgroups=emulate): one-work-item subgroups, so the code below compiles
 * and runs on devices without subgroups; only the four built-ins are stand-ins. */
#define coop_sub_group_reduce_add(value) (value)
#define coop_sub_group_count() ((uint)get_local_size(0))
#define coop_sub_group_id() ((uint)get_local_id(0))
#define coop_sub_group_lane() 0u
#else
/* cl_khr_subgroups (OpenCL C 1.2 / 2.0) needs the pragma; OpenCL C 3.0's __opencl_c_subgroups does not. */
#if defined(cl_khr_subgroups)
#pragma OPENCL EXTENSION cl_khr_subgroups : enable
#elif !defined(__opencl_c_subgroups)
#error "LOWBIT_SUBGROUPS needs cl_khr_subgroups or __opencl_c_subgroups"
#endif
#define coop_sub_group_reduce_add(value) sub_group_reduce_add(value)
#define coop_sub_group_count() get_num_sub_groups()
#define coop_sub_group_id() get_sub_group_id()
#define coop_sub_group_lane() get_sub_group_local_id()
#endif

static inline __attribute__((always_inline)) void coop_reduce_store(
    __local float partial[ROWS_PER_WG * N_MAX][WG_SIZE], float acc[ROWS_PER_WG][N_MAX], const uint lid,
    const size_t first_row, const uint rows, const uint n, __global float *y, const uint y_offset,
    const uint y_stride)
{
    /* Every work-item of the workgroup reaches this loop with the same trip count, as a subgroup
     * function requires; the subgroup count never exceeds WG_SIZE, partial's second extent. */
    const uint subgroup = coop_sub_group_id(), subgroups = coop_sub_group_count();
    const int leader = coop_sub_group_lane() == 0;
    for (uint k = 0; k < ROWS_PER_WG; ++k) {
        for (uint j = 0; j < N_MAX; ++j) {
            const float total = coop_sub_group_reduce_add(acc[k][j]);
            if (leader) partial[k * N_MAX + j][subgroup] = total;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint e = lid; e < ROWS_PER_WG * N_MAX; e += WG_SIZE) {
        const size_t row = first_row + e / N_MAX;
        const uint j = e % N_MAX;
        float sum = 0.0f;
        for (uint s = 0; s < subgroups; ++s)
            sum += partial[e][s];
        if (row < rows && j < n) y[(size_t)y_offset + (size_t)j * y_stride + row] = sum;
    }
}
#else
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
#endif /* LOWBIT_SUBGROUPS */
#endif
