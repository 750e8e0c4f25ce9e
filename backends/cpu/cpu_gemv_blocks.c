/* cpu_gemv_blocks.c — fused kernels for every block format without a hand-vectorized one (Q4_1, Q5_0, Q5_1,
 * IQ4_NL, the K-quants, IQ4_XS, TQ1_0, TQ2_0). One block at a time is decoded into floats on the stack and
 * dotted with up to eight activation rows while it sits in L1, so weights cross memory once per call and
 * never as a full f32 row. The decoders repeat the reference's float operations (host/format), so the
 * weights are exactly the dequantized ones; they are written as loops over contiguous bytes with constant
 * trip counts and the scale hoisted out, which GCC vectorizes in each multiversioned clone. The reference
 * dequantizers index every element through its sub-block and run several times slower. */
#include <string.h>

#include "../../host/format/format_internal.h"
#include "cpu_gemv.h"
#include "cpu_simd.h"

#define MAX_BLOCK 256

static inline float half_at(const unsigned char *p) { return lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(p)); }

static inline uint32_t u32_at(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static const signed char iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* Q4_1: f16 d, f16 m, qs[16]; x = d·q + m (the product rounded first, as in the reference). */
LOWBIT_ALWAYS_INLINE void decode_q4_1(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in), m = half_at(in + 2);
    for (int j = 0; j < 16; ++j) {
        const float p0 = d * (float)(in[4 + j] & 0x0F), p1 = d * (float)(in[4 + j] >> 4);
        y[j] = p0 + m;
        y[j + 16] = p1 + m;
    }
}

/* Q5_0 / Q5_1: the fifth bit of element j is bit j of the little-endian qh word. */
LOWBIT_ALWAYS_INLINE void decode_q5(const unsigned char *restrict in, float *restrict y, int affine)
{
    const float d = half_at(in), m = affine ? half_at(in + 2) : 0.0f;
    const unsigned char *qh_bytes = in + (affine ? 4 : 2), *qs = qh_bytes + 4;
    const uint32_t qh = u32_at(qh_bytes);
    for (int j = 0; j < 16; ++j) {
        const int q0 = (qs[j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
        const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
        if (affine) {
            const float p0 = d * (float)q0, p1 = d * (float)q1;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        } else {
            y[j] = d * (float)(q0 - 16);
            y[j + 16] = d * (float)(q1 - 16);
        }
    }
}

LOWBIT_ALWAYS_INLINE void decode_iq4_nl(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in);
    for (int j = 0; j < 16; ++j) {
        y[j] = d * (float)iq4_levels[in[2 + j] & 0x0F];
        y[j + 16] = d * (float)iq4_levels[in[2 + j] >> 4];
    }
}

/* Q2_K: scales[16] (4-bit scale | 4-bit min), qs[64], f16 d, f16 dmin. Element 128h + 32k + l is bits 2k of
 * qs[32h + l]; its sub-block (16 elements) is 8h + 2k + l/16. */
LOWBIT_ALWAYS_INLINE void decode_q2_k(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in + 80), dmin = half_at(in + 82);
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k)
            for (int half = 0; half < 2; ++half) {
                const int j = 8 * h + 2 * k + half;
                const float dl = d * (float)(in[j] & 0xF), ml = dmin * (float)(in[j] >> 4);
                const unsigned char *qs = in + 16 + 32 * h + 16 * half;
                float *out = y + 128 * h + 32 * k + 16 * half;
                for (int i = 0; i < 16; ++i) {
                    const float p = dl * (float)((qs[i] >> (2 * k)) & 3);
                    out[i] = p - ml;
                }
            }
}

/* Q3_K: hmask[32], qs[64], scales[12] (16 × 6 bits, −32), f16 d. Element 128h + 32k + l: low bits 2k of
 * qs[32h + l], high bit 4h + k of hmask[l] (a clear bit subtracts 4). */
LOWBIT_ALWAYS_INLINE void decode_q3_k(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in + 108);
    const unsigned char *s = in + 96;
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k)
            for (int half = 0; half < 2; ++half) {
                const int j = 8 * h + 2 * k + half, bit = 4 * h + k;
                const int lo = (s[j % 8] >> (4 * (j / 8))) & 0xF, hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
                const float dl = d * (float)((lo | (hi << 4)) - 32);
                const unsigned char *qs = in + 32 + 32 * h + 16 * half, *hm = in + 16 * half;
                float *out = y + 128 * h + 32 * k + 16 * half;
                for (int i = 0; i < 16; ++i) {
                    const int q = ((qs[i] >> (2 * k)) & 3) - (((hm[i] >> bit) & 1) ? 0 : 4);
                    out[i] = dl * (float)q;
                }
            }
}

/* Q4_K / Q5_K: f16 d, f16 dmin, scales[12] (8 × 6-bit scale and min), [qh[32]], qs[128]. Sub-block j
 * (32 elements) is nibble plane j % 2 of qs[32·(j/2)..]; Q5_K's fifth bit is bit j of qh[l]. */
LOWBIT_ALWAYS_INLINE void decode_k4(const unsigned char *restrict in, float *restrict y, int five_bits)
{
    const float d = half_at(in), dmin = half_at(in + 2);
    const unsigned char *s = in + 4, *qh = in + 16, *qs = in + (five_bits ? 48 : 16);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        if (j < 4) {
            sc = s[j] & 63;
            m = s[j + 4] & 63;
        } else {
            sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
            m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        }
        const float dl = d * (float)sc, ml = dmin * (float)m;
        const unsigned char *chunk = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) {
            int q = (chunk[l] >> shift) & 0xF;
            if (five_bits) q |= ((qh[l] >> j) & 1) << 4;
            const float p = dl * (float)q;
            y[32 * j + l] = p - ml;
        }
    }
}

/* Q6_K: ql[128], qh[64], int8 scales[16], f16 d. Element 128h + 32k + l: low nibble plane k / 2 of
 * ql[64h + 32·(k%2) + l], high bits 2k of qh[32h + l]; sub-block 8h + 2k + l/16. */
LOWBIT_ALWAYS_INLINE void decode_q6_k(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in + 208);
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k)
            for (int half = 0; half < 2; ++half) {
                const float dl = d * (float)(signed char)in[192 + 8 * h + 2 * k + half];
                const unsigned char *ql = in + 64 * h + 32 * (k % 2) + 16 * half, *qh = in + 128 + 32 * h + 16 * half;
                float *out = y + 128 * h + 32 * k + 16 * half;
                for (int i = 0; i < 16; ++i) {
                    const int q = ((ql[i] >> (4 * (k / 2))) & 0xF) | (((qh[i] >> (2 * k)) & 3) << 4);
                    out[i] = dl * (float)(q - 32);
                }
            }
}

/* IQ4_XS: f16 d, scales_h (2 high bits × 8), scales_l[4] (4 low bits × 8), qs[128]; x = d·(ls − 32)·level. */
LOWBIT_ALWAYS_INLINE void decode_iq4_xs(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in);
    const unsigned scales_h = lowbit_load_u16le(in + 2);
    for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((in[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (int)(((scales_h >> (2 * ib)) & 3u) << 4);
        const float dl = d * (float)(ls - 32);
        const unsigned char *qs = in + 8 + 16 * ib;
        for (int j = 0; j < 16; ++j) {
            y[32 * ib + j] = dl * (float)iq4_levels[qs[j] & 0xF];
            y[32 * ib + j + 16] = dl * (float)iq4_levels[qs[j] >> 4];
        }
    }
}

/* TQ1_0: qs[48] of five base-3 digits each (scaled to a byte), qh[4] of four, f16 d. Digit p of byte b is
 * ((b·3^p mod 256)·3) >> 8. */
LOWBIT_ALWAYS_INLINE void decode_tq1_0(const unsigned char *restrict in, float *restrict y)
{
    static const unsigned powers[5] = {1, 3, 9, 27, 81};
    const float d = half_at(in + 52);
    for (int p = 0; p < 5; ++p) {
        for (int l = 0; l < 32; ++l)
            y[32 * p + l] = d * (float)((int)((((unsigned char)(in[l] * powers[p])) * 3u) >> 8) - 1);
        for (int l = 0; l < 16; ++l)
            y[160 + 16 * p + l] = d * (float)((int)((((unsigned char)(in[32 + l] * powers[p])) * 3u) >> 8) - 1);
    }
    for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 4; ++l)
            y[240 + 4 * p + l] = d * (float)((int)((((unsigned char)(in[48 + l] * powers[p])) * 3u) >> 8) - 1);
}

/* TQ2_0: qs[64] of four 2-bit digits (q − 1), f16 d. */
LOWBIT_ALWAYS_INLINE void decode_tq2_0(const unsigned char *restrict in, float *restrict y)
{
    const float d = half_at(in + 64);
    for (int c = 0; c < 2; ++c)
        for (int k = 0; k < 4; ++k)
            for (int l = 0; l < 32; ++l)
                y[128 * c + 32 * k + l] = d * (float)((int)((in[32 * c + l] >> (2 * k)) & 3) - 1);
}

LOWBIT_ALWAYS_INLINE void decode_block(lowbit_format format, const unsigned char *restrict in, float *restrict y)
{
    switch (format) {
    case LOWBIT_FORMAT_Q4_1: decode_q4_1(in, y); break;
    case LOWBIT_FORMAT_Q5_0: decode_q5(in, y, 0); break;
    case LOWBIT_FORMAT_Q5_1: decode_q5(in, y, 1); break;
    case LOWBIT_FORMAT_IQ4_NL: decode_iq4_nl(in, y); break;
    case LOWBIT_FORMAT_Q2_K: decode_q2_k(in, y); break;
    case LOWBIT_FORMAT_Q3_K: decode_q3_k(in, y); break;
    case LOWBIT_FORMAT_Q4_K: decode_k4(in, y, 0); break;
    case LOWBIT_FORMAT_Q5_K: decode_k4(in, y, 1); break;
    case LOWBIT_FORMAT_Q6_K: decode_q6_k(in, y); break;
    case LOWBIT_FORMAT_IQ4_XS: decode_iq4_xs(in, y); break;
    case LOWBIT_FORMAT_TQ1_0: decode_tq1_0(in, y); break;
    case LOWBIT_FORMAT_TQ2_0: decode_tq2_0(in, y); break;
    default: break;
    }
}

/* The shared frame, inlined into one multiversioned function per format so `format` is a constant. */
LOWBIT_ALWAYS_INLINE void gemv_blocks(lowbit_format format, size_t block_elems, size_t block_bytes,
                                      const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                                      size_t rows, size_t row_begin, size_t row_end)
{
    const size_t blocks = cols / block_elems;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 8) {
            const size_t count = n - i0 < 8 ? n - i0 : 8;
            float acc[8][LANES];
            memset(acc, 0, sizeof acc);
            for (size_t b = 0; b < blocks; ++b) {
                float decoded[MAX_BLOCK];
                decode_block(format, row + b * block_bytes, decoded);
                for (size_t i = 0; i < count; ++i)
                    dot_accumulate(acc[i], decoded, x + (i0 + i) * cols + b * block_elems, block_elems);
            }
            for (size_t i = 0; i < count; ++i) y[(i0 + i) * rows + r] = lanes_sum(acc[i]);
        }
    }
}

#define BLOCK_KERNEL(fn, format, elems, bytes)                                                                         \
    LOWBIT_MULTIVERSION static void fn(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,        \
                                       size_t rows, size_t row_begin, size_t row_end)                                  \
    {                                                                                                                  \
        gemv_blocks(format, elems, bytes, w, cols, x, n, y, rows, row_begin, row_end);                                 \
    }

BLOCK_KERNEL(gemv_q4_1, LOWBIT_FORMAT_Q4_1, 32, 20)
BLOCK_KERNEL(gemv_q5_0, LOWBIT_FORMAT_Q5_0, 32, 22)
BLOCK_KERNEL(gemv_q5_1, LOWBIT_FORMAT_Q5_1, 32, 24)
BLOCK_KERNEL(gemv_iq4_nl, LOWBIT_FORMAT_IQ4_NL, 32, 18)
BLOCK_KERNEL(gemv_q2_k, LOWBIT_FORMAT_Q2_K, 256, 84)
BLOCK_KERNEL(gemv_q3_k, LOWBIT_FORMAT_Q3_K, 256, 110)
BLOCK_KERNEL(gemv_q4_k, LOWBIT_FORMAT_Q4_K, 256, 144)
BLOCK_KERNEL(gemv_q5_k, LOWBIT_FORMAT_Q5_K, 256, 176)
BLOCK_KERNEL(gemv_q6_k, LOWBIT_FORMAT_Q6_K, 256, 210)
BLOCK_KERNEL(gemv_iq4_xs, LOWBIT_FORMAT_IQ4_XS, 256, 136)
BLOCK_KERNEL(gemv_tq1_0, LOWBIT_FORMAT_TQ1_0, 256, 54)
BLOCK_KERNEL(gemv_tq2_0, LOWBIT_FORMAT_TQ2_0, 256, 66)

typedef void block_kernel_fn(const unsigned char *, size_t, const float *, size_t, float *, size_t, size_t, size_t);

static const struct {
    lowbit_format format;
    block_kernel_fn *run;
    const char *name;
} block_kernels[] = {
    {LOWBIT_FORMAT_Q4_1, gemv_q4_1, "cpu_gemv_q4_1"},       {LOWBIT_FORMAT_Q5_0, gemv_q5_0, "cpu_gemv_q5_0"},
    {LOWBIT_FORMAT_Q5_1, gemv_q5_1, "cpu_gemv_q5_1"},       {LOWBIT_FORMAT_IQ4_NL, gemv_iq4_nl, "cpu_gemv_iq4_nl"},
    {LOWBIT_FORMAT_Q2_K, gemv_q2_k, "cpu_gemv_q2_k"},       {LOWBIT_FORMAT_Q3_K, gemv_q3_k, "cpu_gemv_q3_k"},
    {LOWBIT_FORMAT_Q4_K, gemv_q4_k, "cpu_gemv_q4_k"},       {LOWBIT_FORMAT_Q5_K, gemv_q5_k, "cpu_gemv_q5_k"},
    {LOWBIT_FORMAT_Q6_K, gemv_q6_k, "cpu_gemv_q6_k"},       {LOWBIT_FORMAT_IQ4_XS, gemv_iq4_xs, "cpu_gemv_iq4_xs"},
    {LOWBIT_FORMAT_TQ1_0, gemv_tq1_0, "cpu_gemv_tq1_0"},    {LOWBIT_FORMAT_TQ2_0, gemv_tq2_0, "cpu_gemv_tq2_0"},
};

const char *lowbit_cpu_gemv_blocks(lowbit_format format, const void *weights, size_t cols, const float *x, size_t n,
                                   float *y, size_t rows, size_t row_begin, size_t row_end)
{
    for (size_t k = 0; k < sizeof block_kernels / sizeof block_kernels[0]; ++k)
        if (block_kernels[k].format == format) {
            block_kernels[k].run(weights, cols, x, n, y, rows, row_begin, row_end);
            return block_kernels[k].name;
        }
    return NULL;
}
