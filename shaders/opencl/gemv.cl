/* gemv.cl — fused dequantize + GEMV, Y[n×rows] = X[n×cols]·Wᵀ with f32 accumulation, for F32, F16,
 * Q4_0 and Q8_0 weights in the split layout of lowbit_blocks.h (embedded ahead of this file).
 *
 * Build options (see backends/opencl/opencl_kernels.c, the one table of kernels and defaults):
 *   LOWBIT_GEMV_F32 | LOWBIT_GEMV_F16 | LOWBIT_GEMV_Q4_0 | LOWBIT_GEMV_Q8_0   which kernel to compile
 *   WG_SIZE      work-items per workgroup
 *   ROWS_PER_WG  weight rows one workgroup computes
 *   N_MAX        activation rows one dispatch computes (1, 2, 4 or 8); the argument n ≤ N_MAX
 *   LAYOUT_ROW   CPU-class devices: each work-item streams its own ROWS_PER_WG/WG_SIZE rows end to end,
 *                because PoCL turns GPU-style strided access into slow gathers
 *   LAYOUT_COOP  GPUs: the workgroup shares each row, neighbouring work-items read neighbouring blocks
 *                (coalesced), partial sums meet in local memory
 *   X_BLOCK_SUMS Q4_0, LAYOUT_ROW, N_MAX 1 only: the host passes the sum of x over every 32-block, so
 *                Σ d·(q−8)·x = d·Σ q·x − 8·d·Σx takes the −8 out of the per-weight work (on CPU devices
 *                the nibble unpacking, not memory, bounds this kernel); its own kernel below reads four
 *                blocks as one uint16 and x from local memory in matching order
 *   XP_PANEL     that kernel: elements of x the workgroup holds in local memory at a time (default 4096)
 *   X_F16        x holds IEEE halves (activations.cl: every x load goes through x_load*)
 * Weights are processed in blocks of 32 elements; F32/F16 rows that are not a multiple of 32 finish
 * with a scalar tail. */

#define GEMV_BLOCK 32
/* Everything per block is forced inline: CPU drivers otherwise call it and keep accumulators in memory. */
#define GEMV_INLINE static inline __attribute__((always_inline))

GEMV_INLINE float sum16(float16 v)
{
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

#if defined(LOWBIT_GEMV_Q4_0) || defined(LOWBIT_GEMV_Q8_0)
#define GEMV_HAS_SCALE 1
GEMV_INLINE float load_scale(__global const half *scales, size_t row, size_t nb, size_t block)
{
    return vload_half(LOWBIT_SPLIT_SCALE(row, block, nb), scales);
}
GEMV_INLINE float4 load_scales4(__global const half *scales, size_t row, size_t nb, size_t block)
{
    return vload_half4(0, scales + LOWBIT_SPLIT_SCALE(row, block, nb));
}
#else
#define GEMV_HAS_SCALE 0
#define load_scale(scales, row, nb, block) 1.0f
#define load_scales4(scales, row, nb, block) ((float4)1.0f)
#endif

#if defined(LOWBIT_GEMV_Q4_0)
#define GEMV_KERNEL gemv_q4_0
#define GEMV_HAS_TAIL 0
/* q − 8 of the 32 elements: element j in the low nibble of byte j, element j+16 in its high nibble. */
GEMV_INLINE void q4_0_values(uchar16 bytes, char16 *lo, char16 *hi)
{
    *lo = as_char16(bytes & (uchar16)0x0F) - (char16)8;
    *hi = as_char16(bytes >> (uchar16)4) - (char16)8;
}
GEMV_INLINE uchar16 q4_0_bytes(__global const uint *quants, size_t row, size_t nb, size_t block)
{
    return as_uchar16(vload4(0, quants + LOWBIT_SPLIT_QWORD(row, block, nb, LOWBIT_Q4_0_QS_WORDS)));
}
/* Element j of a block sits in the low nibble of byte j, element j+16 in the high nibble. */
GEMV_INLINE void load_block(__global const uint *quants, size_t row, size_t cols, size_t block, float16 *w0,
                            float16 *w1)
{
    const uchar16 bytes = q4_0_bytes(quants, row, cols / LOWBIT_QK4_0, block);
#if defined(X_BLOCK_SUMS)
    /* Unsigned nibbles, widened once: the −8 is applied per block through the block sums of x. */
    const int16 wide = convert_int16(bytes);
    *w0 = convert_float16(wide & 0x0F);
    *w1 = convert_float16(wide >> 4);
#else
    char16 lo, hi;
    q4_0_values(bytes, &lo, &hi);
    *w0 = convert_float16(lo);
    *w1 = convert_float16(hi);
#endif
}
/* The integer decode for gemv_int.cl (LOWBIT_DOT_INT). */
GEMV_INLINE void load_block_int(__global const uint *quants, size_t row, size_t nb, size_t block, char16 *q0,
                                char16 *q1)
{
    q4_0_values(q4_0_bytes(quants, row, nb, block), q0, q1);
}
#elif defined(LOWBIT_GEMV_Q8_0)
#define GEMV_KERNEL gemv_q8_0
#define GEMV_HAS_TAIL 0
GEMV_INLINE void load_block(__global const uint *quants, size_t row, size_t cols, size_t block, float16 *w0,
                            float16 *w1)
{
    const size_t nb = cols / LOWBIT_QK8_0;
    const __global uint *q = quants + LOWBIT_SPLIT_QWORD(row, block, nb, LOWBIT_Q8_0_QS_WORDS);
    *w0 = convert_float16(as_char16(vload4(0, q)));
    *w1 = convert_float16(as_char16(vload4(1, q)));
}
GEMV_INLINE void load_block_int(__global const uint *quants, size_t row, size_t nb, size_t block, char16 *q0,
                                char16 *q1)
{
    const __global uint *q = quants + LOWBIT_SPLIT_QWORD(row, block, nb, LOWBIT_Q8_0_QS_WORDS);
    *q0 = as_char16(vload4(0, q));
    *q1 = as_char16(vload4(1, q));
}
#elif defined(LOWBIT_GEMV_F16)
#define GEMV_KERNEL gemv_f16
#define GEMV_HAS_TAIL 1
/* vload_half needs no cl_khr_fp16: halves are only stored, the arithmetic is f32. */
GEMV_INLINE void load_block(__global const uint *quants, size_t row, size_t cols, size_t block, float16 *w0,
                            float16 *w1)
{
    const __global half *w = (const __global half *)quants + row * cols + block * GEMV_BLOCK;
    *w0 = vload_half16(0, w);
    *w1 = vload_half16(1, w);
}
GEMV_INLINE float load_element(__global const uint *quants, size_t row, size_t cols, size_t col)
{
    return vload_half(row * cols + col, (const __global half *)quants);
}
GEMV_INLINE float4 load_quad(__global const uint *quants, size_t row, size_t cols, size_t quad)
{
    return vload_half4(quad, (const __global half *)quants + row * cols);
}
#elif defined(LOWBIT_GEMV_F32)
#define GEMV_KERNEL gemv_f32
#define GEMV_HAS_TAIL 1
GEMV_INLINE void load_block(__global const uint *quants, size_t row, size_t cols, size_t block, float16 *w0,
                            float16 *w1)
{
    const __global float *w = (const __global float *)quants + row * cols + block * GEMV_BLOCK;
    *w0 = vload16(0, w);
    *w1 = vload16(1, w);
}
GEMV_INLINE float load_element(__global const uint *quants, size_t row, size_t cols, size_t col)
{
    return ((const __global float *)quants)[row * cols + col];
}
GEMV_INLINE float4 load_quad(__global const uint *quants, size_t row, size_t cols, size_t quad)
{
    return vload4(quad, (const __global float *)quants + row * cols);
}
#else
#error "gemv.cl: define one of LOWBIT_GEMV_F32, LOWBIT_GEMV_F16, LOWBIT_GEMV_Q4_0, LOWBIT_GEMV_Q8_0"
#endif

#define GEMV_SPLIT_LAYOUT 1

/* LOWBIT_GEMM: only the decode above is wanted; gemm.cl, embedded after this file, is the kernel; likewise
 * LOWBIT_DOT_INT with gemv_int.cl, the integer-dot GEMV. */
#if !defined(LOWBIT_GEMM) && !defined(LOWBIT_DOT_INT)
/* Arguments: weights (quants, scales), x[n×cols] at the start of its buffer, y written at
 * y[y_offset + j*y_stride + row] so a part of a row-split matrix lands in its place, and x_sums[cols/32]
 * (the block sums of x) when X_BLOCK_SUMS is defined, else unused. */
#define GEMV_ARGS                                                                                                      \
    __global const uint *quants, __global const half *scales, __global const X_TYPE *x, __global float *y,              \
        const uint rows, const uint cols, const uint n, const uint y_offset, const uint y_stride,                      \
        __global const float *x_sums

#if defined(X_BLOCK_SUMS) && !(defined(LOWBIT_GEMV_Q4_0) && defined(LAYOUT_ROW) && N_MAX == 1)
#error "X_BLOCK_SUMS is for the Q4_0 row layout with one activation row"
#endif

#if defined(LAYOUT_ROW)
#define ROWS_PER_ITEM (ROWS_PER_WG / WG_SIZE)
/* Independent accumulator chains: with one activation row a single chain would wait on the FMA
 * latency every block; with several rows their chains already overlap. */
#if N_MAX == 1
#define ACC_CHAINS 4
#else
#define ACC_CHAINS 1
#endif

/* One block of every row of this work-item against every activation row: x is loaded once per block. */
GEMV_INLINE void row_block_step(__global const uint *quants, __global const X_TYPE *x, const size_t *row, size_t cols,
                                uint n, size_t block, const float *d, float16 acc[][N_MAX])
{
    (void)d; /* unused by F32/F16 */
    float16 w0[ROWS_PER_ITEM], w1[ROWS_PER_ITEM];
#pragma unroll
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        load_block(quants, row[k], cols, block, &w0[k], &w1[k]);
#if GEMV_HAS_SCALE && N_MAX > 1
        /* Several activation rows: scaling the weights once is cheaper than scaling every dot. */
        w0[k] *= d[k];
        w1[k] *= d[k];
#endif
    }
    /* Every one of the N_MAX activation rows is computed without a branch (rows past n repeat the last
     * one and are never stored): a conditional update would make CPU compilers keep the accumulators
     * in memory. The host picks N_MAX as n rounded up to a power of two, so at most half is spare. */
#pragma unroll
    for (uint j = 0; j < N_MAX; ++j) {
        const __global X_TYPE *xb = x + (size_t)min(j, n - 1) * cols + block * GEMV_BLOCK;
        const float16 x0 = x_load16(0, xb), x1 = x_load16(1, xb);
#pragma unroll
        for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
#if GEMV_HAS_SCALE && N_MAX == 1
            /* One activation row: scale the block's dot product instead of every weight. */
            acc[k][j] = fma(fma(w0[k], x0, w1[k] * x1), (float16)d[k], acc[k][j]);
#else
            acc[k][j] = fma(w0[k], x0, acc[k][j]);
            acc[k][j] = fma(w1[k], x1, acc[k][j]);
#endif
        }
    }
}

#if defined(X_BLOCK_SUMS)
/* Q4_0 with one activation row on CPU devices: four blocks (64 bytes, one uint16) at a time, lane i
 * holding bytes 4i..4i+3, so nibble k of every lane comes out with one AND (no byte widening, no
 * shifts): w_k = q·2^(4k) exactly, converted as is. The workgroup first copies x into local memory in
 * the matching order, each element scaled by 2^(−4k) (exact), so w_k·x' = q·x. Lane i of nibble k is
 * element 32(i/4) + 16(k&1) + 4(i%4) + k/2 of the four blocks; the scales of the four blocks become one
 * vector, four lanes each. The −8 comes in through the host's block sums of x. */
#define XP_CHUNK 128 /* elements of x per four blocks */
#ifndef XP_PANEL
#define XP_PANEL 4096 /* elements of x held in local memory at a time: 16 KiB, within every device's minimum */
#endif

GEMV_INLINE float16 q4_0_scale_lanes(float4 d)
{
    return shuffle(d, (uint16)(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
}

/* Chunk c of x (128 elements from p) into xp[8c..8c+7]. */
GEMV_INLINE void q4_0_permute_chunk(__global const X_TYPE *p, __local float16 *xp)
{
    const float16 a0 = x_load16(0, p), a1 = x_load16(1, p), b0 = x_load16(2, p), b1 = x_load16(3, p);
    const float16 c0 = x_load16(4, p), c1 = x_load16(5, p), e0 = x_load16(6, p), e1 = x_load16(7, p);
    xp[0] = (float16)(a0.s048c, b0.s048c, c0.s048c, e0.s048c);
    xp[1] = (float16)(a1.s048c, b1.s048c, c1.s048c, e1.s048c) * 0x1p-4f;
    xp[2] = (float16)(a0.s159d, b0.s159d, c0.s159d, e0.s159d) * 0x1p-8f;
    xp[3] = (float16)(a1.s159d, b1.s159d, c1.s159d, e1.s159d) * 0x1p-12f;
    xp[4] = (float16)(a0.s26ae, b0.s26ae, c0.s26ae, e0.s26ae) * 0x1p-16f;
    xp[5] = (float16)(a1.s26ae, b1.s26ae, c1.s26ae, e1.s26ae) * 0x1p-20f;
    xp[6] = (float16)(a0.s37bf, b0.s37bf, c0.s37bf, e0.s37bf) * 0x1p-24f;
    xp[7] = (float16)(a1.s37bf, b1.s37bf, c1.s37bf, e1.s37bf); /* nibble 7 is shifted down, not masked */
}

/* `count` chunks from chunk `panel` on, for every row of this work-item. A trip count that differs
 * between work-items (the past-the-end ones pass 0) keeps PoCL from interchanging the chunk loop with
 * its work-item loop: interchanged, every work-item's row becomes a separate stream advancing 64 bytes
 * at a time, which measured slower. */
GEMV_INLINE void q4_0_rows_panel(__global const uint *quants, __global const half *scales,
                                 __global const float *x_sums, __local const float16 *xp, const size_t *row,
                                 size_t count, size_t panel, size_t nb, float16 *acc0, float16 *acc1, float4 *offset)
{
    for (size_t c = 0; c < count; ++c) {
        const size_t b = (panel + c) * 4;
        __local const float16 *xc = xp + c * 8;
        const float4 xs = vload4(0, x_sums + b);
#pragma unroll
        for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
            const float4 d4 = load_scales4(scales, row[k], nb, b);
            offset[k] = fma(d4, xs, offset[k]);
            const uint16 v = vload16(0, quants + LOWBIT_SPLIT_QWORD(row[k], b, nb, LOWBIT_Q4_0_QS_WORDS));
            float16 ta = convert_float16(as_int16(v & (uint16)0x0000000Fu)) * xc[0];
            float16 tb = convert_float16(as_int16(v & (uint16)0x000000F0u)) * xc[1];
            ta = fma(convert_float16(as_int16(v & (uint16)0x00000F00u)), xc[2], ta);
            tb = fma(convert_float16(as_int16(v & (uint16)0x0000F000u)), xc[3], tb);
            ta = fma(convert_float16(as_int16(v & (uint16)0x000F0000u)), xc[4], ta);
            tb = fma(convert_float16(as_int16(v & (uint16)0x00F00000u)), xc[5], tb);
            ta = fma(convert_float16(as_int16(v & (uint16)0x0F000000u)), xc[6], ta);
            tb = fma(convert_float16(as_int16(v >> 28)), xc[7], tb); /* nibble 7: shifted, so x is unscaled */
            const float16 d = q4_0_scale_lanes(d4);
            acc0[k] = fma(ta, d, acc0[k]);
            acc1[k] = fma(tb, d, acc1[k]);
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(GEMV_ARGS)
{
    __local float16 xp[XP_PANEL / 16];
    const uint lid = get_local_id(0);
    const size_t first_row = get_global_id(0) * ROWS_PER_ITEM;
    const size_t nb = cols / GEMV_BLOCK, chunks = nb / 4;
    /* No early return: every work-item must reach the barriers. Rows past the end repeat the last row. */
    size_t row[ROWS_PER_ITEM];
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        row[k] = min(first_row + k, (size_t)rows - 1);
    float16 acc0[ROWS_PER_ITEM], acc1[ROWS_PER_ITEM];
    float4 offset[ROWS_PER_ITEM]; /* Σ d·Σx per row, four blocks to a lane */
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        acc0[k] = acc1[k] = (float16)0.0f;
        offset[k] = (float4)0.0f;
    }

    if (chunks <= XP_PANEL / XP_CHUNK) {
        /* One panel (cols ≤ XP_PANEL): one barrier outside any loop. On PoCL a barrier inside the loop
         * (below) measured slower when the weights stream from DRAM. */
        for (size_t c = lid; c < chunks; c += WG_SIZE)
            q4_0_permute_chunk(x + c * XP_CHUNK, xp + c * 8);
        barrier(CLK_LOCAL_MEM_FENCE);
        q4_0_rows_panel(quants, scales, x_sums, xp, row, first_row < rows ? chunks : 0, 0, nb, acc0, acc1, offset);
    } else {
        for (size_t panel = 0; panel < chunks; panel += XP_PANEL / XP_CHUNK) {
            const size_t count = min((size_t)(XP_PANEL / XP_CHUNK), chunks - panel);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (size_t c = lid; c < count; c += WG_SIZE)
                q4_0_permute_chunk(x + (panel + c) * XP_CHUNK, xp + c * 8);
            barrier(CLK_LOCAL_MEM_FENCE);
            q4_0_rows_panel(quants, scales, x_sums, xp, row, first_row < rows ? count : 0, panel, nb, acc0, acc1,
                            offset);
        }
    }
    /* The last nb % 4 blocks, one at a time from x as it is. */
    for (size_t b = chunks * 4; first_row < rows && b < nb; ++b) {
        const __global X_TYPE *xb = x + b * GEMV_BLOCK;
        const float16 x0 = x_load16(0, xb), x1 = x_load16(1, xb);
        for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
            float16 w0, w1;
            load_block(quants, row[k], cols, b, &w0, &w1);
            const float d = load_scale(scales, row[k], nb, b);
            offset[k].x = fma(d, x_sums[b], offset[k].x);
            acc0[k] = fma(fma(w0, x0, w1 * x1), (float16)d, acc0[k]);
        }
    }
    (void)n;
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        if (first_row + k >= rows) break;
        const float sum = sum16(acc0[k] + acc1[k]) - 8.0f * ((offset[k].x + offset[k].y) + (offset[k].z + offset[k].w));
        y[(size_t)y_offset + row[k]] = sum;
    }
}
#else
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(GEMV_ARGS)
{
    const size_t first_row = get_global_id(0) * ROWS_PER_ITEM;
    if (first_row >= rows) return;
    const size_t nb = cols / GEMV_BLOCK;
    /* Rows past the end repeat the last row (loads stay in bounds) and are not stored. */
    size_t row[ROWS_PER_ITEM];
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        row[k] = min(first_row + k, (size_t)rows - 1);

    float16 acc[ACC_CHAINS][ROWS_PER_ITEM][N_MAX];
    for (uint c = 0; c < ACC_CHAINS; ++c)
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            for (uint j = 0; j < N_MAX; ++j)
                acc[c][k][j] = (float16)0.0f;

    (void)x_sums;

    /* Four blocks at a time so their f16 scales convert as one vector (CPU drivers convert a lone
     * half in scalar code, which costs more than the block's arithmetic). */
    size_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        float d[4][ROWS_PER_ITEM];
        for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
            const float4 d4 = load_scales4(scales, row[k], nb, b);
            d[0][k] = d4.x, d[1][k] = d4.y, d[2][k] = d4.z, d[3][k] = d4.w;
        }
        /* Written out: the compiler then keeps every accumulator in a register. */
        row_block_step(quants, x, row, cols, n, b + 0, d[0], acc[0]);
        row_block_step(quants, x, row, cols, n, b + 1, d[1], acc[1 % ACC_CHAINS]);
        row_block_step(quants, x, row, cols, n, b + 2, d[2], acc[2 % ACC_CHAINS]);
        row_block_step(quants, x, row, cols, n, b + 3, d[3], acc[3 % ACC_CHAINS]);
    }
    for (; b < nb; ++b) {
        float d[ROWS_PER_ITEM];
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            d[k] = load_scale(scales, row[k], nb, b);
        row_block_step(quants, x, row, cols, n, b, d, acc[0]);
    }
    for (uint c = 1; c < ACC_CHAINS; ++c)
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            for (uint j = 0; j < N_MAX; ++j)
                acc[0][k][j] += acc[c][k][j];

    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        if (first_row + k >= rows) break;
        for (uint j = 0; j < N_MAX; ++j) {
            if (j < n) {
                float sum = sum16(acc[0][k][j]);
#if GEMV_HAS_TAIL
                for (size_t c = nb * GEMV_BLOCK; c < cols; ++c)
                    sum = fma(load_element(quants, row[k], cols, c), x_load((size_t)j * cols + c, x), sum);
#endif
                y[(size_t)y_offset + (size_t)j * y_stride + row[k]] = sum;
            }
        }
    }
}

#endif /* X_BLOCK_SUMS */

#elif defined(LAYOUT_COOP)
#if (WG_SIZE & (WG_SIZE - 1)) != 0
#error "LAYOUT_COOP needs a power-of-two WG_SIZE"
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(GEMV_ARGS)
{
    __local float partial[ROWS_PER_WG * N_MAX][WG_SIZE];
    (void)x_sums;
    const uint lid = get_local_id(0);
    const size_t first_row = get_group_id(0) * ROWS_PER_WG;
    const size_t nb = cols / GEMV_BLOCK;
    (void)nb;

    float acc[ROWS_PER_WG][N_MAX];
    for (uint k = 0; k < ROWS_PER_WG; ++k)
        for (uint j = 0; j < N_MAX; ++j)
            acc[k][j] = 0.0f;

    for (uint k = 0; k < ROWS_PER_WG; ++k) {
        const size_t row = first_row + k;
        if (row >= rows) break;
#if GEMV_HAS_TAIL
        /* F32/F16: neighbouring work-items take neighbouring groups of four elements, so weights and
         * activations are both read coalesced. */
        const size_t quads = cols / 4;
        for (size_t q = lid; q < quads; q += WG_SIZE) {
            const float4 w = load_quad(quants, row, cols, q);
            for (uint j = 0; j < N_MAX; ++j)
                if (j < n) acc[k][j] += dot(w, x_load4(q, x + (size_t)j * cols));
        }
        for (size_t c = quads * 4 + lid; c < cols; c += WG_SIZE)
            for (uint j = 0; j < N_MAX; ++j)
                if (j < n) acc[k][j] = fma(load_element(quants, row, cols, c), x_load((size_t)j * cols + c, x), acc[k][j]);
#else
        /* Quantized: neighbouring work-items take neighbouring blocks (16 or 32 contiguous bytes each). */
        for (size_t b = lid; b < nb; b += WG_SIZE) {
            float16 w0, w1;
            load_block(quants, row, cols, b, &w0, &w1);
            const float d = load_scale(scales, row, nb, b);
            for (uint j = 0; j < N_MAX; ++j) {
                if (j < n) {
                    const __global X_TYPE *xb = x + (size_t)j * cols + b * GEMV_BLOCK;
                    acc[k][j] = fma(sum16(fma(w0, x_load16(0, xb), w1 * x_load16(1, xb))), d, acc[k][j]);
                }
            }
        }
#endif
    }

    coop_reduce_store(partial, acc, lid, first_row, rows, n, y, y_offset, y_stride);
}

#else
#error "gemv.cl: define LAYOUT_ROW or LAYOUT_COOP"
#endif
#endif /* !LOWBIT_GEMM && !LOWBIT_DOT_INT */
