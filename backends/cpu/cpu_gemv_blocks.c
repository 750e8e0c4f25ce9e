/* cpu_gemv_blocks.c — fused kernels for every block format without a hand-vectorized one (Q4_1, Q5_0, Q5_1,
 * IQ4_NL, the K-quants, IQ4_XS, TQ1_0, TQ2_0; AVX-512 CPUs take cpu_gemv_x86.c's Q4_K/Q6_K instead). One
 * block at a time is decoded into floats on the stack and dotted with up to eight activation rows while it
 * sits in L1, so weights cross memory once per call and never as a full f32 row. The decoders are the
 * reference dequantizers' own (host/format/block_decode.h), inlined here into each multiversioned clone,
 * so the weights are exactly the dequantized ones. */
#include <string.h>

#include "../../host/format/block_decode.h"
#include "cpu_gemv.h"
#include "cpu_simd.h"

#define MAX_BLOCK 256

LOWBIT_ALWAYS_INLINE void decode_block(lowbit_format format, const unsigned char *restrict in, float *restrict y)
{
    switch (format) {
    case LOWBIT_FORMAT_Q4_1: lowbit_decode_q4_1(in, y); break;
    case LOWBIT_FORMAT_Q5_0: lowbit_decode_q5(in, y, 0); break;
    case LOWBIT_FORMAT_Q5_1: lowbit_decode_q5(in, y, 1); break;
    case LOWBIT_FORMAT_IQ4_NL: lowbit_decode_iq4_nl(in, y); break;
    case LOWBIT_FORMAT_Q2_K: lowbit_decode_q2_k(in, y); break;
    case LOWBIT_FORMAT_Q3_K: lowbit_decode_q3_k(in, y); break;
    case LOWBIT_FORMAT_Q4_K: lowbit_decode_k4(in, y, 0); break;
    case LOWBIT_FORMAT_Q5_K: lowbit_decode_k4(in, y, 1); break;
    case LOWBIT_FORMAT_Q6_K: lowbit_decode_q6_k(in, y); break;
    case LOWBIT_FORMAT_IQ4_XS: lowbit_decode_iq4_xs(in, y); break;
    case LOWBIT_FORMAT_TQ1_0: lowbit_decode_tq1_0(in, y); break;
    case LOWBIT_FORMAT_TQ2_0: lowbit_decode_tq2_0(in, y); break;
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
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = lanes_sum(acc[i]);
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
    {LOWBIT_FORMAT_Q4_1, gemv_q4_1, "cpu_gemv_q4_1"},    {LOWBIT_FORMAT_Q5_0, gemv_q5_0, "cpu_gemv_q5_0"},
    {LOWBIT_FORMAT_Q5_1, gemv_q5_1, "cpu_gemv_q5_1"},    {LOWBIT_FORMAT_IQ4_NL, gemv_iq4_nl, "cpu_gemv_iq4_nl"},
    {LOWBIT_FORMAT_Q2_K, gemv_q2_k, "cpu_gemv_q2_k"},    {LOWBIT_FORMAT_Q3_K, gemv_q3_k, "cpu_gemv_q3_k"},
    {LOWBIT_FORMAT_Q4_K, gemv_q4_k, "cpu_gemv_q4_k"},    {LOWBIT_FORMAT_Q5_K, gemv_q5_k, "cpu_gemv_q5_k"},
    {LOWBIT_FORMAT_Q6_K, gemv_q6_k, "cpu_gemv_q6_k"},    {LOWBIT_FORMAT_IQ4_XS, gemv_iq4_xs, "cpu_gemv_iq4_xs"},
    {LOWBIT_FORMAT_TQ1_0, gemv_tq1_0, "cpu_gemv_tq1_0"}, {LOWBIT_FORMAT_TQ2_0, gemv_tq2_0, "cpu_gemv_tq2_0"},
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
