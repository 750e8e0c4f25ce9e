/* gemv_int.cl — the integer-dot GEMV (the context parameter dot=int), Y[n×rows] = X·Wᵀ with X quantized on the
 * device first (x_quantize.cl, ggml's Q8_1 rule). Embedded last in the sources of the families that have
 * integer decodes (gemv.cl for Q4_0/Q8_0 in the split layout; gemv_legacy.cl and gemv_kquants.cl with
 * gemv_stored.cl), and compiled only with LOWBIT_DOT_INT, which switches the float GEMV of those files off.
 *
 * Quantized activations, the device layout x_quantize.cl writes (the kernel's x and x_sums arguments):
 *   xq  char[n][cols]         q of element k of row j at j·cols + k (the order of x)
 *   xd  float2[n][cols / 32]  (d, d·s) of 32-element block b of row j at j·cols/32 + b: d = max|x|/127,
 *                             q = round(x/d) in [−127, 127], s = Σq (exact) — a block holding NaN or Inf
 *                             has q = 0 and d = d·s = NaN, so its row's outputs are NaN
 * A format's integer decode gives one 32-element chunk of the weights as
 *   w = scale.s0·q0 − offset.s0 (elements 0..15),  scale.s1·q1 − offset.s1 (16..31),  q0, q1 integers:
 *   load_block_int(quants, row, nb, block, &q0, &q1) in the split layout (scale: the block's f16 d), or
 *   load_chunk_int(block, chunk, &q0, &q1, &scale, &offset) in the stored layout, with
 *   INT_OFFSET       0: no offset; 1: one offset per chunk (offset.s0 == .s1), applied as offset·d·s;
 *                    2: one per 16 elements (Q2_K), applied through Σ of each half of xq, summed here
 *   INT_HALF_SCALES  1 when scale.s0 and .s1 differ (16-element sub-blocks: Q2_K, Q3_K, Q6_K)
 * so Σ w·x = d·(scale·Σ q·xq) − offset·d·s, every Σ q·xq in integers (a few lanes of partial sums per
 * chunk, each exact). With LOWBIT_GEMM (and GEMM_STREAM) the same steps make gemm.cl's streaming GEMM shape
 * (GEMM_KERNEL, TILE_N, ITEM_ROWS, ITEM_N, TILE_ROWS); otherwise build options as the float GEMV:
 * WG_SIZE, ROWS_PER_WG, N_MAX, LAYOUT_ROW | LAYOUT_COOP (X_F16 is irrelevant: xq is already 8-bit). */

#if defined(LOWBIT_DOT_INT)
#ifndef INT_OFFSET
#define INT_OFFSET 0
#endif
#ifndef INT_HALF_SCALES
#define INT_HALF_SCALES 0
#endif

#if defined(GEMV_SPLIT_LAYOUT)
#define INT_BLOCK 32
#define INT_CHUNKS 1
#define INT_WEIGHT_ARGS __global const uint *quants, __global const half *scales
#define INT_WEIGHTS quants, scales
#define INT_WEIGHTS_FIRST quants
typedef size_t int_row_ref; /* the split layout addresses blocks by row index */
GEMV_INLINE int_row_ref int_row(__global const uint *quants, size_t row, size_t cols)
{
    (void)quants, (void)cols;
    return row;
}
/* `d`: the block's scale when the caller has it already (the row layout converts four at a time, as gemv.cl:
 * CPU drivers convert a lone half in scalar code), else NAN and it is loaded here. */
GEMV_INLINE void int_load(__global const uint *quants, __global const half *scales, int_row_ref row, size_t cols,
                          size_t block, uint chunk, float d, char16 *q0, char16 *q1, float2 *scale, float2 *offset)
{
    (void)chunk;
    const size_t nb = cols / 32;
    load_block_int(quants, row, nb, block, q0, q1);
    *scale = (float2)(isnan(d) ? load_scale(scales, row, nb, block) : d);
    *offset = (float2)0.0f;
}
#else
#define INT_BLOCK BLOCK_ELEMS
#define INT_CHUNKS CHUNKS_PER_BLOCK
#define INT_WEIGHT_ARGS __global const uchar *weights, __global const uchar *unused_scales
#define INT_WEIGHTS weights, unused_scales
#define INT_WEIGHTS_FIRST weights
typedef __global const uchar *int_row_ref; /* the row's first stored byte */
GEMV_INLINE int_row_ref int_row(__global const uchar *weights, size_t row, size_t cols)
{
    return weights + row * ROW_BYTES(cols);
}
GEMV_INLINE void int_load(__global const uchar *weights, __global const uchar *unused_scales, int_row_ref row,
                          size_t cols, size_t block, uint chunk, float d, char16 *q0, char16 *q1, float2 *scale,
                          float2 *offset)
{
    (void)weights, (void)unused_scales, (void)cols, (void)d;
    load_chunk_int(row + block * BLOCK_BYTES, chunk, q0, q1, scale, offset);
}
#endif

/* The integer dot products stay a few lanes wide (int_lanes, each lane an exact partial sum) until they are
 * scaled into the float accumulators (float_lanes). With cl_khr_integer_dot_product's 4×8-bit dot (GPUs) a lane
 * is one dot(char4, char4); otherwise (CPU devices) products are multiplied sixteen at a time as shorts
 * (|a·b| ≤ 128·127, so products and sums of two fit) and folded to eight lanes. */
#if defined(__opencl_c_integer_dot_product_input_4x8bit)
typedef int4 int_lanes;
typedef float4 float_lanes;
#define convert_float_lanes convert_float4
/* Σ a·b of 16 byte lanes, as four lanes of four products. */
GEMV_INLINE int_lanes dot16_i8(char16 a, char16 b)
{
    return (int4)(dot(a.s0123, b.s0123), dot(a.s4567, b.s4567), dot(a.s89ab, b.s89ab), dot(a.scdef, b.scdef));
}
GEMV_INLINE int_lanes dot32_i8(char16 a0, char16 a1, char16 b0, char16 b1)
{
    return dot16_i8(a0, b0) + dot16_i8(a1, b1);
}
GEMV_INLINE int sum_int_lanes(int_lanes v)
{
    const int2 u = v.lo + v.hi;
    return u.x + u.y;
}
GEMV_INLINE float sum_float_lanes(float_lanes v)
{
    const float2 u = v.lo + v.hi;
    return u.x + u.y;
}
#else
typedef int8 int_lanes;
typedef float8 float_lanes;
#define convert_float_lanes convert_float8
/* Σ a·b of 16 byte lanes, as eight lanes of two products. */
GEMV_INLINE int_lanes dot16_i8(char16 a, char16 b)
{
    const short16 p = convert_short16(a) * convert_short16(b);
    return convert_int8(p.lo) + convert_int8(p.hi);
}
/* The same over 32 lanes (two halves with one scale), four products a lane. */
GEMV_INLINE int_lanes dot32_i8(char16 a0, char16 a1, char16 b0, char16 b1)
{
    const short16 p = convert_short16(a0) * convert_short16(b0) + convert_short16(a1) * convert_short16(b1);
    return convert_int8(p.lo) + convert_int8(p.hi);
}
GEMV_INLINE int sum_int_lanes(int_lanes v)
{
    const int4 t = v.lo + v.hi;
    const int2 u = t.lo + t.hi;
    return u.x + u.y;
}
GEMV_INLINE float sum_float_lanes(float_lanes v)
{
    const float4 t = v.lo + v.hi;
    const float2 u = t.lo + t.hi;
    return u.x + u.y;
}
#endif

/* One 32-element chunk of quantized x: its q, (d, d·s), and for INT_OFFSET 2 d·Σq of each half. */
typedef struct int_x_chunk {
    char16 q0, q1;
    float2 ds;
    float2 half_sums;
} int_x_chunk;

GEMV_INLINE int_x_chunk int_x_load(__global const char *xq, __global const float2 *xd, size_t cols, size_t xrow,
                                   size_t unit)
{
    int_x_chunk x;
    const __global char *p = xq + xrow * cols + unit * 32;
    x.q0 = vload16(0, p);
    x.q1 = vload16(1, p);
    x.ds = xd[xrow * (cols / 32) + unit];
#if INT_OFFSET == 2
    const char16 one = (char16)1;
    x.half_sums = x.ds.x * convert_float2((int2)(sum_int_lanes(dot16_i8(x.q0, one)), sum_int_lanes(dot16_i8(x.q1, one))));
#else
    x.half_sums = (float2)0.0f;
#endif
    return x;
}

/* Σ w·x over the chunk into a row's accumulators: the integer dot products stay int_lanes wide (each lane an
 * exact partial sum), scaled into `acc` as floats, as ggml's x86 kernels do; the lanes meet once, at the end of
 * the row. The offset term goes to the scalar `offset_acc`. */
GEMV_INLINE void int_chunk_dot(char16 w0, char16 w1, float2 scale, float2 offset, const int_x_chunk *x, float_lanes *acc,
                               float *offset_acc)
{
#if INT_HALF_SCALES
    *acc = fma(convert_float_lanes(dot16_i8(w0, x->q0)), (float_lanes)(x->ds.x * scale.s0), *acc);
    *acc = fma(convert_float_lanes(dot16_i8(w1, x->q1)), (float_lanes)(x->ds.x * scale.s1), *acc);
#else
    *acc = fma(convert_float_lanes(dot32_i8(w0, w1, x->q0, x->q1)), (float_lanes)(x->ds.x * scale.s0), *acc);
#endif
#if INT_OFFSET == 1
    *offset_acc = fma(offset.s0, x->ds.y, *offset_acc);
#elif INT_OFFSET == 2
    *offset_acc += dot(offset, x->half_sums);
#else
    (void)offset, (void)offset_acc;
#endif
}

/* The float GEMV's arguments, x and x_sums carrying the quantized activations. */
#define INT_ARGS                                                                                                       \
    INT_WEIGHT_ARGS, __global const char *xq, __global float *y, const uint rows, const uint cols, const uint n,       \
        const uint y_offset, const uint y_stride, __global const float2 *xd

#if defined(LAYOUT_ROW) || defined(LOWBIT_GEMM)
#if defined(LOWBIT_GEMM)
#if !defined(GEMM_STREAM)
#error "gemv_int.cl: the integer-dot GEMM has the streaming shape only (GEMM_STREAM)"
#endif
#define ROWS_PER_ITEM ITEM_ROWS
#define N_MAX ITEM_N
#else
#define ROWS_PER_ITEM (ROWS_PER_WG / WG_SIZE)
#endif

/* One chunk of every row of this work-item against activation rows j0 .. j0 + N_MAX − 1: x is loaded once per
 * chunk. */
GEMV_INLINE void int_chunk_step(INT_WEIGHT_ARGS, const int_row_ref *ref, __global const char *xq,
                                __global const float2 *xd, size_t cols, uint n, size_t j0, size_t block, uint chunk,
                                const float *d, float_lanes acc[][N_MAX], float offset_acc[][N_MAX])
{
    char16 w0[ROWS_PER_ITEM], w1[ROWS_PER_ITEM];
    float2 scale[ROWS_PER_ITEM], offset[ROWS_PER_ITEM];
#pragma unroll
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        int_load(INT_WEIGHTS, ref[k], cols, block, chunk, d[k], &w0[k], &w1[k], &scale[k], &offset[k]);
    const size_t unit = block * INT_CHUNKS + chunk;
    /* Activation rows past n repeat the last one and are never stored (no branch, as the float GEMV). */
#pragma unroll
    for (uint j = 0; j < N_MAX; ++j) {
        const int_x_chunk x = int_x_load(xq, xd, cols, min(j0 + j, (size_t)n - 1), unit);
#pragma unroll
        for (uint k = 0; k < ROWS_PER_ITEM; ++k)
            int_chunk_dot(w0[k], w1[k], scale[k], offset[k], &x, &acc[k][j], &offset_acc[k][j]);
    }
}

#if defined(LOWBIT_GEMM)
/* gemm.cl's streaming shape (CPU-class devices): each work-item owns ITEM_ROWS weight rows and walks its
 * workgroup's TILE_N activation rows ITEM_N at a time, so the rows stay in cache across those passes. */
__kernel __attribute__((reqd_work_group_size(TILE_ROWS / ITEM_ROWS, 1, 1))) void GEMM_KERNEL(INT_ARGS)
{
    const size_t first_row = get_global_id(0) * ITEM_ROWS, n0 = get_group_id(1) * TILE_N;
    if (first_row >= rows) return;
    const size_t nb = cols / INT_BLOCK, n_end = min(n0 + TILE_N, (size_t)n);
    size_t row[ITEM_ROWS];
    int_row_ref ref[ITEM_ROWS];
    float d[ITEM_ROWS]; /* NAN: int_load reads the scales itself */
    for (uint i = 0; i < ITEM_ROWS; ++i) {
        row[i] = min(first_row + i, (size_t)rows - 1);
        ref[i] = int_row(INT_WEIGHTS_FIRST, row[i], cols);
        d[i] = NAN;
    }
    for (size_t j0 = n0; j0 < n_end; j0 += ITEM_N) {
        float_lanes acc[ITEM_ROWS][ITEM_N];
        float offset_acc[ITEM_ROWS][ITEM_N];
        for (uint i = 0; i < ITEM_ROWS; ++i)
            for (uint m = 0; m < ITEM_N; ++m) {
                acc[i][m] = (float_lanes)0.0f;
                offset_acc[i][m] = 0.0f;
            }
        for (size_t b = 0; b < nb; ++b)
            for (uint c = 0; c < INT_CHUNKS; ++c)
                int_chunk_step(INT_WEIGHTS, ref, xq, xd, cols, n, j0, b, c, d, acc, offset_acc);
        for (uint i = 0; i < ITEM_ROWS; ++i) {
            if (first_row + i >= rows) break;
            for (uint m = 0; m < ITEM_N; ++m)
                if (j0 + m < n_end)
                    y[(size_t)y_offset + (j0 + m) * y_stride + row[i]] = sum_float_lanes(acc[i][m]) - offset_acc[i][m];
        }
    }
}
#else
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(INT_ARGS)
{
    const size_t first_row = get_global_id(0) * ROWS_PER_ITEM;
    if (first_row >= rows) return;
    const size_t nb = cols / INT_BLOCK;
    /* Rows past the end repeat the last row (loads stay in bounds) and are not stored. */
    size_t row[ROWS_PER_ITEM];
    int_row_ref ref[ROWS_PER_ITEM];
    float_lanes acc[ROWS_PER_ITEM][N_MAX];
    float offset_acc[ROWS_PER_ITEM][N_MAX];
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        row[k] = min(first_row + k, (size_t)rows - 1);
        ref[k] = int_row(INT_WEIGHTS_FIRST, row[k], cols);
        for (uint j = 0; j < N_MAX; ++j) {
            acc[k][j] = (float_lanes)0.0f;
            offset_acc[k][j] = 0.0f;
        }
    }
    float d[4][ROWS_PER_ITEM]; /* the split layout's block scales, four blocks at a time; else NAN (unused) */
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        d[0][k] = d[1][k] = d[2][k] = d[3][k] = NAN;
    size_t b = 0;
#if defined(GEMV_SPLIT_LAYOUT)
    for (; b + 4 <= nb; b += 4) {
        for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
            const float4 d4 = load_scales4(scales, row[k], nb, b);
            d[0][k] = d4.x, d[1][k] = d4.y, d[2][k] = d4.z, d[3][k] = d4.w;
        }
        int_chunk_step(INT_WEIGHTS, ref, xq, xd, cols, n, 0, b + 0, 0, d[0], acc, offset_acc);
        int_chunk_step(INT_WEIGHTS, ref, xq, xd, cols, n, 0, b + 1, 0, d[1], acc, offset_acc);
        int_chunk_step(INT_WEIGHTS, ref, xq, xd, cols, n, 0, b + 2, 0, d[2], acc, offset_acc);
        int_chunk_step(INT_WEIGHTS, ref, xq, xd, cols, n, 0, b + 3, 0, d[3], acc, offset_acc);
    }
    for (uint k = 0; k < ROWS_PER_ITEM; ++k)
        d[0][k] = NAN;
#endif
    for (; b < nb; ++b) {
#pragma unroll
        for (uint c = 0; c < INT_CHUNKS; ++c)
            int_chunk_step(INT_WEIGHTS, ref, xq, xd, cols, n, 0, b, c, d[0], acc, offset_acc);
    }
    for (uint k = 0; k < ROWS_PER_ITEM; ++k) {
        if (first_row + k >= rows) break;
        for (uint j = 0; j < N_MAX; ++j)
            if (j < n) y[(size_t)y_offset + (size_t)j * y_stride + row[k]] = sum_float_lanes(acc[k][j]) - offset_acc[k][j];
    }
}
#endif /* LOWBIT_GEMM */

#elif defined(LAYOUT_COOP)
#if (WG_SIZE & (WG_SIZE - 1)) != 0
#error "LAYOUT_COOP needs a power-of-two WG_SIZE"
#endif

/* Neighbouring work-items take neighbouring 32-element chunks of a row; partial sums meet in
 * gemv_coop_reduce.cl. */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void GEMV_KERNEL(INT_ARGS)
{
    __local float partial[ROWS_PER_WG * N_MAX][WG_SIZE];
    const uint lid = get_local_id(0);
    const size_t first_row = get_group_id(0) * ROWS_PER_WG;
    const size_t units = cols / 32;
    float acc[ROWS_PER_WG][N_MAX];
    for (uint k = 0; k < ROWS_PER_WG; ++k)
        for (uint j = 0; j < N_MAX; ++j)
            acc[k][j] = 0.0f;
    for (uint k = 0; k < ROWS_PER_WG; ++k) {
        const size_t row = first_row + k;
        if (row >= rows) break;
        const int_row_ref ref = int_row(INT_WEIGHTS_FIRST, row, cols);
        float_lanes lanes[N_MAX];
        float offset_acc[N_MAX];
        for (uint j = 0; j < N_MAX; ++j) {
            lanes[j] = (float_lanes)0.0f;
            offset_acc[j] = 0.0f;
        }
        for (size_t u = lid; u < units; u += WG_SIZE) {
            char16 w0, w1;
            float2 scale, offset;
            int_load(INT_WEIGHTS, ref, cols, u / INT_CHUNKS, (uint)(u % INT_CHUNKS), NAN, &w0, &w1, &scale, &offset);
            for (uint j = 0; j < N_MAX; ++j) {
                if (j < n) {
                    const int_x_chunk x = int_x_load(xq, xd, cols, j, u);
                    int_chunk_dot(w0, w1, scale, offset, &x, &lanes[j], &offset_acc[j]);
                }
            }
        }
        for (uint j = 0; j < N_MAX; ++j)
            acc[k][j] = sum_float_lanes(lanes[j]) - offset_acc[j];
    }
    coop_reduce_store(partial, acc, lid, first_row, rows, n, y, y_offset, y_stride);
}

#else
#error "gemv_int.cl: define LAYOUT_ROW or LAYOUT_COOP"
#endif
#endif /* LOWBIT_DOT_INT */
