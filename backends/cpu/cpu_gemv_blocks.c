/* cpu_gemv_blocks.c — fused kernels for every block format without a hand-vectorized one (Q4_1, Q5_0, Q5_1,
 * IQ4_NL, the K-quants, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0, the grid formats; AVX-512 CPUs take
 * cpu_gemv_x86.c's Q4_K/Q6_K instead). One block at a time is decoded into floats on the stack and dotted with up to
 * eight activation rows while it sits in L1, so weights cross memory once per call and never as a full f32 row. The
 * decoders are the reference dequantizers' own (host/format/block_decode.h), inlined here into each multiversioned
 * clone, so the weights are exactly the dequantized ones. */
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
    case LOWBIT_FORMAT_MXFP4: lowbit_decode_mxfp4(in, y); break;
    case LOWBIT_FORMAT_NVFP4: lowbit_decode_nvfp4(in, y); break;
    case LOWBIT_FORMAT_Q1_0: lowbit_decode_q1_0(in, y); break;
    case LOWBIT_FORMAT_Q2_0: lowbit_decode_q2_0(in, y); break;
    case LOWBIT_FORMAT_IQ2_XXS: lowbit_decode_iq2_xxs(in, y); break;
    case LOWBIT_FORMAT_IQ2_XS: lowbit_decode_iq2_xs(in, y); break;
    case LOWBIT_FORMAT_IQ2_S: lowbit_decode_iq2_s(in, y); break;
    case LOWBIT_FORMAT_IQ3_XXS: lowbit_decode_iq3_xxs(in, y); break;
    case LOWBIT_FORMAT_IQ3_S: lowbit_decode_iq3_s(in, y); break;
    case LOWBIT_FORMAT_IQ1_S: lowbit_decode_iq1_s(in, y); break;
    case LOWBIT_FORMAT_IQ1_M: lowbit_decode_iq1_m(in, y); break;
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

/* One multiversioned kernel per format, its geometry from lowbit_formats.h. */
#define BLOCK_KERNEL(F, f)                                                                                             \
    _Static_assert(LOWBIT_##F##_BLOCK <= MAX_BLOCK, #F " fits the decode buffer");                                     \
    LOWBIT_MULTIVERSION static void gemv_##F(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,  \
                                             size_t rows, size_t row_begin, size_t row_end)                            \
    {                                                                                                                  \
        gemv_blocks(LOWBIT_FORMAT_##F, LOWBIT_##F##_BLOCK, LOWBIT_##F##_BYTES, w, cols, x, n, y, rows, row_begin,      \
                    row_end);                                                                                          \
    }

/* The formats this file serves, once: X(FORMAT, kernel name suffix). */
/* clang-format off */
#define BLOCK_FORMATS(X)                                                                                               \
    X(Q4_1, q4_1) X(Q5_0, q5_0) X(Q5_1, q5_1) X(IQ4_NL, iq4_nl) X(Q2_K, q2_k) X(Q3_K, q3_k) X(Q4_K, q4_k)              \
    X(Q5_K, q5_k) X(Q6_K, q6_k) X(IQ4_XS, iq4_xs) X(TQ1_0, tq1_0) X(TQ2_0, tq2_0) X(MXFP4, mxfp4) X(NVFP4, nvfp4)      \
    X(Q1_0, q1_0) X(Q2_0, q2_0) X(IQ2_XXS, iq2_xxs) X(IQ2_XS, iq2_xs) X(IQ2_S, iq2_s) X(IQ3_XXS, iq3_xxs)              \
    X(IQ3_S, iq3_s) X(IQ1_S, iq1_s) X(IQ1_M, iq1_m)
/* clang-format on */

BLOCK_FORMATS(BLOCK_KERNEL)

typedef void block_kernel_fn(const unsigned char *, size_t, const float *, size_t, float *, size_t, size_t, size_t);

#define BLOCK_ENTRY(F, f) {LOWBIT_FORMAT_##F, gemv_##F, "cpu_gemv_" #f},
static const struct {
    lowbit_format format;
    block_kernel_fn *run;
    const char *name;
} block_kernels[] = {BLOCK_FORMATS(BLOCK_ENTRY)};

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
