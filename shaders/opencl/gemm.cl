/* gemm.cl — tiled GEMM for prefill, Y[n×rows] = X[n×cols]·Wᵀ with f32 accumulation. Embedded after a
 * format's decode code (gemv.cl for the split layout, a family file + gemv_stored.cl for the stored
 * layout), which, built with LOWBIT_GEMM, defines only the decode and no GEMV kernel. Weights are
 * dequantized 32 elements at a time while a tile is loaded into local memory, never in global memory.
 *
 * Build options (backends/opencl/opencl_kernels.c holds the table and the per-device-class defaults):
 *   LOWBIT_GEMM=1, GEMM_KERNEL  the kernel's name (gemm_q4_0, ...); the format's LOWBIT_GEMV_* define
 *   TILE_ROWS, TILE_N  weight rows and activation rows one workgroup computes
 *   ITEM_ROWS, ITEM_N  the block of outputs one work-item accumulates in registers; the workgroup is
 *                      (TILE_ROWS/ITEM_ROWS) × (TILE_N/ITEM_N) work-items
 *   TILE_K             32-element chunks of the reduction loaded per tile
 *   GEMM_STREAM        the CPU-class shape (below); X_F16 x holds halves (activations.cl)
 * Work-item (r, j) owns weight rows r + LR·i and activation rows j + LN·m of its tile: neighbouring
 * work-items read neighbouring local words. Ragged edges: rows and activation rows past the end repeat
 * the last one (loads stay in bounds) and are never stored; chunks past cols are zero in both tiles.
 * cols is a multiple of 32 (the host keeps other F32/F16/BF16 shapes on the GEMV). */

/* LOWBIT_DOT_INT with LOWBIT_GEMM: gemv_int.cl, embedded after this file, holds the integer-dot GEMM instead. */
#if defined(LOWBIT_GEMM) && !defined(LOWBIT_DOT_INT)
#if !defined(TILE_ROWS) || !defined(TILE_N) || !defined(ITEM_ROWS) || !defined(ITEM_N) || !defined(TILE_K)
#error "gemm.cl: TILE_ROWS, TILE_N, ITEM_ROWS, ITEM_N and TILE_K are required"
#endif
#if TILE_ROWS % ITEM_ROWS != 0 || TILE_N % ITEM_N != 0
#error "gemm.cl: the tile must be a whole number of work-item blocks"
#endif

#define LR (TILE_ROWS / ITEM_ROWS)
#if defined(GEMM_STREAM)
#define LN 1
#else
#define LN (TILE_N / ITEM_N)
#endif
#define GEMM_WG (LR * LN)
#define TILE_COLS (TILE_K * 32)

#if defined(GEMV_SPLIT_LAYOUT)
#define GEMM_WEIGHT_ARGS __global const uint *quants, __global const half *scales
/* Chunk `chunk` (elements 32·chunk ..) of row `row`, dequantized: the split layout's block is the chunk. */
GEMV_INLINE void gemm_load(__global const uint *quants, __global const half *scales, size_t row, size_t cols,
                           size_t chunk, float16 *w0, float16 *w1)
{
    load_block(quants, row, cols, chunk, w0, w1);
#if GEMV_HAS_SCALE
    const float d = load_scale(scales, row, cols / 32, chunk);
    *w0 *= d;
    *w1 *= d;
#else
    (void)scales;
#endif
}
#define GEMM_LOAD(row, chunk, w0, w1) gemm_load(quants, scales, row, cols, chunk, w0, w1)
#define GEMM_UNUSED_WEIGHT_ARGS
#else
#define GEMM_WEIGHT_ARGS __global const uchar *weights, __global const uchar *unused_scales
#define GEMM_LOAD(row, chunk, w0, w1)                                                                                  \
    load_chunk(weights + (row) * ROW_BYTES(cols) + (chunk) / CHUNKS_PER_BLOCK * BLOCK_BYTES,                           \
               (uint)((chunk) % CHUNKS_PER_BLOCK), w0, w1)
#define GEMM_UNUSED_WEIGHT_ARGS (void)unused_scales;
#endif

GEMV_INLINE float gemm_sum16(float16 v)
{
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

#if defined(GEMM_STREAM)
/* CPU-class devices (GEMM_STREAM): a workgroup is a loop over its work-items there and local memory is
 * ordinary cache, so local tiles only add copies. Each work-item owns ITEM_ROWS weight rows and walks the
 * workgroup's TILE_N activation rows ITEM_N at a time, accumulating 16-wide vectors in registers; its
 * rows (a few KB) stay in the core's cache across those passes, so weights cross memory once per TILE_N
 * activation rows, not once per ITEM_N as in the looped GEMV. */
__kernel __attribute__((reqd_work_group_size(LR, 1, 1))) void GEMM_KERNEL(
    GEMM_WEIGHT_ARGS, __global const X_TYPE *x, __global float *y, const uint rows, const uint cols, const uint n,
    const uint y_offset, const uint y_stride, __global const float *x_sums)
{
    GEMM_UNUSED_WEIGHT_ARGS(void) x_sums;
    const size_t first_row = get_global_id(0) * ITEM_ROWS, n0 = get_group_id(1) * TILE_N;
    if (first_row >= rows) return;
    const size_t chunks = cols / 32, n_end = min(n0 + TILE_N, (size_t)n);
    size_t row[ITEM_ROWS];
    for (uint i = 0; i < ITEM_ROWS; ++i)
        row[i] = min(first_row + i, (size_t)rows - 1);
    for (size_t j0 = n0; j0 < n_end; j0 += ITEM_N) {
        float16 acc[ITEM_ROWS][ITEM_N];
        for (uint i = 0; i < ITEM_ROWS; ++i)
            for (uint m = 0; m < ITEM_N; ++m)
                acc[i][m] = (float16)0.0f;
        for (size_t c = 0; c < chunks; ++c) {
            float16 w0[ITEM_ROWS], w1[ITEM_ROWS];
#pragma unroll
            for (uint i = 0; i < ITEM_ROWS; ++i)
                GEMM_LOAD(row[i], c, &w0[i], &w1[i]);
            /* Activation rows past n repeat the last one and are not stored: no branch in the loop. */
#pragma unroll
            for (uint m = 0; m < ITEM_N; ++m) {
                const __global X_TYPE *xb = x + min(j0 + m, (size_t)n - 1) * cols + c * 32;
                const float16 x0 = x_load16(0, xb), x1 = x_load16(1, xb);
#pragma unroll
                for (uint i = 0; i < ITEM_ROWS; ++i)
                    acc[i][m] = fma(w0[i], x0, fma(w1[i], x1, acc[i][m]));
            }
        }
        for (uint i = 0; i < ITEM_ROWS; ++i) {
            if (first_row + i >= rows) break;
            for (uint m = 0; m < ITEM_N; ++m)
                if (j0 + m < n_end) y[(size_t)y_offset + (j0 + m) * y_stride + row[i]] = gemm_sum16(acc[i][m]);
        }
    }
}
#else
/* The same arguments as the GEMV kernels: the host sets them the same way. */
__kernel __attribute__((reqd_work_group_size(LR, LN, 1))) void GEMM_KERNEL(
    GEMM_WEIGHT_ARGS, __global const X_TYPE *x, __global float *y, const uint rows, const uint cols, const uint n,
    const uint y_offset, const uint y_stride, __global const float *x_sums)
{
    GEMM_UNUSED_WEIGHT_ARGS(void) x_sums;
    /* Reduction index first, so a work-item's ITEM_ROWS weights and ITEM_N activations of one k are
     * strided words of one local row. */
    __local float w_tile[TILE_COLS][TILE_ROWS];
    __local float x_tile[TILE_COLS][TILE_N];

    const uint lr = get_local_id(0), ln = get_local_id(1), lid = ln * LR + lr;
    const size_t row0 = get_group_id(0) * TILE_ROWS, n0 = get_group_id(1) * TILE_N;
    const size_t chunks = cols / 32;

    float acc[ITEM_N][ITEM_ROWS];
    for (uint m = 0; m < ITEM_N; ++m)
        for (uint i = 0; i < ITEM_ROWS; ++i)
            acc[m][i] = 0.0f;

    for (size_t c0 = 0; c0 < chunks; c0 += TILE_K) {
        /* Weights: one (row, chunk) unit of 32 elements per step, decoded in registers, stored transposed. */
        for (uint u = lid; u < TILE_ROWS * TILE_K; u += GEMM_WG) {
            const uint r = u % TILE_ROWS, c = u / TILE_ROWS;
            float16 w0 = (float16)0.0f, w1 = (float16)0.0f;
            if (c0 + c < chunks) GEMM_LOAD(min(row0 + r, (size_t)rows - 1), c0 + c, &w0, &w1);
            float w[32];
            vstore16(w0, 0, w);
            vstore16(w1, 1, w);
            for (uint e = 0; e < 32; ++e)
                w_tile[c * 32 + e][r] = w[e];
        }
        /* Activations: four elements per step. */
        for (uint u = lid; u < TILE_N * TILE_COLS / 4; u += GEMM_WG) {
            const uint j = u % TILE_N, q = u / TILE_N;
            const size_t xrow = min(n0 + j, (size_t)n - 1);
            float4 v = (float4)0.0f;
            if (c0 * 32 + q * 4 < cols) v = x_load4(0, x + xrow * cols + c0 * 32 + q * 4);
            x_tile[4 * q + 0][j] = v.x;
            x_tile[4 * q + 1][j] = v.y;
            x_tile[4 * q + 2][j] = v.z;
            x_tile[4 * q + 3][j] = v.w;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint k = 0; k < TILE_COLS; ++k) {
            float w[ITEM_ROWS], a[ITEM_N];
            for (uint i = 0; i < ITEM_ROWS; ++i)
                w[i] = w_tile[k][lr + LR * i];
            for (uint m = 0; m < ITEM_N; ++m)
                a[m] = x_tile[k][ln + LN * m];
            for (uint m = 0; m < ITEM_N; ++m)
                for (uint i = 0; i < ITEM_ROWS; ++i)
                    acc[m][i] = fma(a[m], w[i], acc[m][i]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (uint m = 0; m < ITEM_N; ++m) {
        const size_t j = n0 + ln + LN * m;
        if (j >= n) break;
        for (uint i = 0; i < ITEM_ROWS; ++i) {
            const size_t row = row0 + lr + LR * i;
            if (row < rows) y[(size_t)y_offset + j * y_stride + row] = acc[m][i];
        }
    }
}
#endif /* GEMM_STREAM */
#endif /* LOWBIT_GEMM && !LOWBIT_DOT_INT */
