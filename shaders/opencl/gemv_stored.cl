/* gemv_stored.cl — the GEMV frame for weights uploaded in their stored (GGUF) layout, one plain byte
 * buffer of whole rows, Y[n×rows] = X[n×cols]·Wᵀ with f32 accumulation. Embedded after a family file
 * (gemv_legacy.cl, gemv_kquants.cl, gemv_fp4.cl, gemv_q1q2.cl) that defines, for the kernel its build option selects:
 *   GEMV_KERNEL       the kernel's name
 *   BLOCK_ELEMS       elements per block: 32, 64, 128 or 256 (a plain integer: the frame tests it in #if)
 *   BLOCK_BYTES       stored bytes per block
 *   ROW_BYTES(cols)   stored bytes per row
 *   load_chunk(block, chunk, &w0, &w1)   elements 32·chunk + 0..15 and + 16..31 of the block at `block`,
 *                     dequantized in registers (never written back)
 *   GEMV_HAS_TAIL     1 when rows may end in a partial chunk (BF16), with load_element(row, col)
 *   GEMV_AFFINE       optional: load_chunk_affine(block, chunk, &q0, &q1, &scale, &offset) gives the
 *                     chunk as scale·q − offset, for X_BLOCK_SUMS (host sums of x over each 32 elements;
 *                     row layout, N_MAX 1)
 * Build options as gemv.cl: WG_SIZE, ROWS_PER_WG, N_MAX, X_F16, LAYOUT_ROW (CPU devices: each work-item streams
 * its own rows) or LAYOUT_COOP (GPUs: neighbouring work-items take neighbouring 32-element chunks). */

#define CHUNKS_PER_BLOCK (BLOCK_ELEMS / 32)

GEMV_INLINE float sum16(float16 v)
{
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

/* LOWBIT_GEMM: only the family decode is wanted; gemm.cl, embedded after this file, is the kernel; likewise
 * LOWBIT_DOT_INT with gemv_int.cl, the integer-dot GEMV. */
#if !defined(LOWBIT_GEMM) && !defined(LOWBIT_DOT_INT)
#define GEMV_ARGS                                                                                                      \
    __global const uchar *weights, __global const uchar *unused_scales, __global const X_TYPE *x, __global float *y,    \
        const uint rows, const uint cols, const uint n, const uint y_offset, const uint y_stride,                      \
        __global const float *x_sums

#if defined(LAYOUT_ROW)
#define ROWS_PER_ITEM (ROWS_PER_WG / WG_SIZE)
#if N_MAX == 1
#define ACC_CHAINS 2
#else
#define ACC_CHAINS 1
#endif

#if defined(X_BLOCK_SUMS)
#if !(N_MAX == 1 && defined(GEMV_AFFINE))
#error "X_BLOCK_SUMS is for the row layout with one activation row, and formats with load_chunk_affine"
#endif
/* x = scale·q − offset per chunk, so Σ x·w = scale·Σ q·w − offset·Σw: the offset leaves the per-element
 * work, applied once a chunk through the host's sums of x over each 32 elements. */
GEMV_INLINE void chunk_step(__global const uchar *const *row_base, __global const X_TYPE *x, size_t cols, uint n,
                            size_t block, uint chunk, float16 acc[][N_MAX], float *offset,
                            __global const float *x_sums)
{
    (void)cols, (void)n;
    const __global X_TYPE *xb = x + block * BLOCK_ELEMS + chunk * 32;
    const float16 x0 = x_load16(0, xb), x1 = x_load16(1, xb);
    const float x_sum = x_sums[block * CHUNKS_PER_BLOCK + chunk];
#pragma unroll
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        float16 q0, q1;
        float scale, chunk_offset;
        load_chunk_affine(row_base[k] + block * BLOCK_BYTES, chunk, &q0, &q1, &scale, &chunk_offset);
        acc[k][0] = fma(fma(q0, x0, q1 * x1), (float16)scale, acc[k][0]);
        offset[k] = fma(chunk_offset, x_sum, offset[k]);
    }
}
#define CHUNK_STEP(b, c, chain) chunk_step(row_base, x, cols, n, b, c, chain, offset, x_sums)
#else
/* One chunk of every row of this work-item against every activation row: x is loaded once per chunk. */
GEMV_INLINE void chunk_step(__global const uchar *const *row_base, __global const X_TYPE *x, size_t cols, uint n,
                            size_t block, uint chunk, float16 acc[][N_MAX])
{
    float16 w0[ROWS_PER_ITEM], w1[ROWS_PER_ITEM];
#pragma unroll
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        load_chunk(row_base[k] + block * BLOCK_BYTES, chunk, &w0[k], &w1[k]);
#pragma unroll
    for (uint j = 0; j < N_MAX; ++j) {
        const __global X_TYPE *xb = x + (size_t)min(j, n - 1) * cols + block * BLOCK_ELEMS + chunk * 32;
        const float16 x0 = x_load16(0, xb), x1 = x_load16(1, xb);
#pragma unroll
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            acc[k][j] = fma(w0[k], x0, fma(w1[k], x1, acc[k][j]));
    }
}
#define CHUNK_STEP(b, c, chain) chunk_step(row_base, x, cols, n, b, c, chain)
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(GEMV_ARGS)
{
    (void)unused_scales, (void)x_sums;
    const size_t first_row = get_global_id(0) * ROWS_PER_ITEM;
    float offset[ROWS_PER_ITEM]; /* Σ offset·Σx, X_BLOCK_SUMS only */
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        offset[k] = 0.0f;
    if (first_row >= rows) return;
    const size_t nb = cols / BLOCK_ELEMS;
    /* Rows past the end repeat the last row (loads stay in bounds) and are not stored. */
    size_t row[ROWS_PER_ITEM];
    __global const uchar *row_base[ROWS_PER_ITEM];
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        row[k] = min(first_row + k, (size_t)rows - 1);
        row_base[k] = weights + row[k] * ROW_BYTES(cols);
    }
    float16 acc[ACC_CHAINS][ROWS_PER_ITEM][N_MAX];
    for (uint c = 0; c < ACC_CHAINS; ++c)
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            for (uint j = 0; j < N_MAX; ++j)
                acc[c][k][j] = (float16)0.0f;

    /* Written out (never indexed by a loop variable) so every accumulator stays in a register. */
#if CHUNKS_PER_BLOCK == 1
    size_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        CHUNK_STEP(b, 0, acc[0]);
        CHUNK_STEP(b + 1, 0, acc[1 % ACC_CHAINS]);
    }
    if (b < nb) CHUNK_STEP(b, 0, acc[0]);
#else
    /* Chunks in pairs, not all eight written out: the chunk index costs a few scalar operations a
     * chunk, eight copies of the body cost CPU drivers four times the compile time. */
    for (size_t b = 0; b < nb; ++b) {
#if N_MAX == 1
        /* One activation row: a small body, so every chunk (2, 4 or 8) is written out and the chunk's
         * shifts and scale offsets become constants. */
        CHUNK_STEP(b, 0, acc[0]);
        CHUNK_STEP(b, 1, acc[1 % ACC_CHAINS]);
#if CHUNKS_PER_BLOCK > 2
        CHUNK_STEP(b, 2, acc[0]);
        CHUNK_STEP(b, 3, acc[1 % ACC_CHAINS]);
#endif
#if CHUNKS_PER_BLOCK > 4
        CHUNK_STEP(b, 4, acc[0]);
        CHUNK_STEP(b, 5, acc[1 % ACC_CHAINS]);
        CHUNK_STEP(b, 6, acc[0]);
        CHUNK_STEP(b, 7, acc[1 % ACC_CHAINS]);
#endif
#else
        for (uint c = 0; c < CHUNKS_PER_BLOCK; c += 2) {
            CHUNK_STEP(b, c, acc[0]);
            CHUNK_STEP(b, c + 1, acc[1 % ACC_CHAINS]);
        }
#endif
    }
#endif
    for (uint c = 1; c < ACC_CHAINS; ++c)
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            for (uint j = 0; j < N_MAX; ++j)
                acc[0][k][j] += acc[c][k][j];

    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        if (first_row + k >= rows) break;
        for (uint j = 0; j < N_MAX; ++j) {
            if (j < n) {
                float sum = sum16(acc[0][k][j]) - offset[k];
#if GEMV_HAS_TAIL
                for (size_t c = nb * BLOCK_ELEMS; c < cols; ++c)
                    sum = fma(load_element(row_base[k], c), x_load((size_t)j * cols + c, x), sum);
#endif
                y[(size_t)y_offset + (size_t)j * y_stride + row[k]] = sum;
            }
        }
    }
}

#elif defined(LAYOUT_COOP)
#if (WG_SIZE & (WG_SIZE - 1)) != 0
#error "LAYOUT_COOP needs a power-of-two WG_SIZE"
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(GEMV_ARGS)
{
    __local float partial[ROWS_PER_WG * N_MAX][WG_SIZE];
    (void)unused_scales, (void)x_sums;
    const uint lid = get_local_id(0);
    const size_t first_row = get_group_id(0) * ROWS_PER_WG;
    const size_t nb = cols / BLOCK_ELEMS, units = nb * CHUNKS_PER_BLOCK;

    float acc[ROWS_PER_WG][N_MAX];
    for (uint k = 0; k < ROWS_PER_WG; ++k)
        for (uint j = 0; j < N_MAX; ++j)
            acc[k][j] = 0.0f;

    for (uint k = 0; k < ROWS_PER_WG; ++k) {
        const size_t row = first_row + k;
        if (row >= rows) break;
        __global const uchar *base = weights + row * ROW_BYTES(cols);
        for (size_t u = lid; u < units; u += WG_SIZE) {
            const size_t block = u / CHUNKS_PER_BLOCK;
            const uint chunk = (uint)(u % CHUNKS_PER_BLOCK);
            float16 w0, w1;
            load_chunk(base + block * BLOCK_BYTES, chunk, &w0, &w1);
            for (uint j = 0; j < N_MAX; ++j) {
                if (j < n) {
                    const __global X_TYPE *xb = x + (size_t)j * cols + u * 32;
                    acc[k][j] += sum16(fma(w0, x_load16(0, xb), w1 * x_load16(1, xb)));
                }
            }
        }
#if GEMV_HAS_TAIL
        for (size_t c = nb * BLOCK_ELEMS + lid; c < cols; c += WG_SIZE)
            for (uint j = 0; j < N_MAX; ++j)
                if (j < n) acc[k][j] = fma(load_element(base, c), x_load((size_t)j * cols + c, x), acc[k][j]);
#endif
    }

    coop_reduce_store(partial, acc, lid, first_row, rows, n, y, y_offset, y_stride);
}

#else
#error "gemv_stored.cl: define LAYOUT_ROW or LAYOUT_COOP"
#endif
#endif /* !LOWBIT_GEMM && !LOWBIT_DOT_INT */
