/* cpu_gemv_blocks.c — fused kernels for every block format of LOWBIT_BLOCK_FORMATS (shaders/common/lowbit_formats.h:
 * Q4_1, Q5_0, Q5_1, IQ4_NL, the K-quants, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0, the grid formats; AVX-512
 * CPUs take cpu_gemv_x86.c's Q4_K/Q6_K instead). One block at a time is decoded into floats on the stack and dotted
 * with up to eight activation rows while it sits in L1, so weights cross memory once per call and never as a full f32
 * row. The decoders are the reference dequantizers' own (host/format/block_decode.h), inlined here into each
 * multiversioned clone, so the weights are exactly the dequantized ones. */
#include <string.h>

#include "../../host/format/block_decode.h"
#include "cpu_gemv.h"
#include "cpu_simd.h"

#define MAX_BLOCK 256

#define DECODE_CASE(F, f, cl, vk)                                                                                      \
    case LOWBIT_FORMAT_##F: lowbit_decode_##f(in, y); break;
LOWBIT_ALWAYS_INLINE void decode_block(lowbit_format format, const unsigned char *restrict in, float *restrict y)
{
    switch (format) {
        LOWBIT_BLOCK_FORMATS(DECODE_CASE)
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
#define BLOCK_KERNEL(F, f, cl, vk)                                                                                     \
    _Static_assert(LOWBIT_##F##_BLOCK <= MAX_BLOCK, #F " fits the decode buffer");                                     \
    LOWBIT_MULTIVERSION static void gemv_##F(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,  \
                                             size_t rows, size_t row_begin, size_t row_end)                            \
    {                                                                                                                  \
        gemv_blocks(LOWBIT_FORMAT_##F, LOWBIT_##F##_BLOCK, LOWBIT_##F##_BYTES, w, cols, x, n, y, rows, row_begin,      \
                    row_end);                                                                                          \
    }

LOWBIT_BLOCK_FORMATS(BLOCK_KERNEL)

typedef void block_kernel_fn(const unsigned char *, size_t, const float *, size_t, float *, size_t, size_t, size_t);

#define BLOCK_ENTRY(F, f, cl, vk) {LOWBIT_FORMAT_##F, gemv_##F, "cpu_gemv_" #f},
static const struct {
    lowbit_format format;
    block_kernel_fn *run;
    const char *name;
} block_kernels[] = {LOWBIT_BLOCK_FORMATS(BLOCK_ENTRY)};

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
