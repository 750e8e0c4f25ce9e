/* cpu_gemv.h — the CPU backend's fused dequantize-dot kernels (one row range at a time). */
#ifndef LOWBIT_CPU_GEMV_H
#define LOWBIT_CPU_GEMV_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit/lowbit_format.h"

/* Y[i*rows + r] = dot(W row r, X row i) for r in [row_begin, row_end), i < n. `scratch` holds cols floats
 * (used by formats without a dedicated kernel, which dequantize one row at a time). Returns the
 * kernel's name. */
const char *lowbit_cpu_gemv_rows(lowbit_format format, const void *weights, size_t cols, const float *x, size_t n,
                                 float *y, size_t rows, size_t row_begin, size_t row_end, float *scratch);

/* cpu_gemv_blocks.c: fused block-decode kernels for the other block formats; NULL when `format` has none. */
const char *lowbit_cpu_gemv_blocks(lowbit_format format, const void *weights, size_t cols, const float *x, size_t n,
                                   float *y, size_t rows, size_t row_begin, size_t row_end);

/* cpu_gemv_x86.c: SIMD kernels for Q4_0/Q8_0/F16/F32 (and Q4_1/Q5_0/Q5_1/IQ4_NL/Q4_K/Q6_K at level 2); NULL when the
 * format has none (or not on x86-64). Levels: 0 none, 1 AVX2+FMA+F16C, 2 that and AVX-512F; the kernels use at most
 * `level`. */
int lowbit_cpu_gemv_x86_level(void);
const char *lowbit_cpu_gemv_x86(int level, lowbit_format format, const void *weights, size_t cols, const float *x,
                                size_t n, float *y, size_t rows, size_t row_begin, size_t row_end);

/* --- the integer-dot path: activations quantized per call --- */
/* X in 8-bit blocks of 32 elements per row, by Q8_1's rule: d = max|x|/127, q = round(x/d) (half away from zero),
 * with d kept in f32 (Q8_1 stores it as f16) and s = d·Σq. A block holding NaN or Inf gets d = s = NaN and q = 0,
 * so the rows it touches come out NaN. */
typedef struct lowbit_cpu_q8 {
    int8_t *q;    /* n × cols */
    float *d, *s; /* n × cols/32 */
    /* The K-quant kernels (lowbit_cpu_gemv_int_superblock) take Q8_K blocks instead: per 256 elements the reference
     * Q8_K quants and scale (d256, n × cols/256) and the exact Σq of each 32 (sum32, n × cols/32); d and s unused. A
     * block holding NaN or Inf gets d256 = NaN and q = 0. */
    float *d256;
    int32_t *sum32;
} lowbit_cpu_q8;

void lowbit_cpu_quantize_q8(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out);
/* X as Q8_K blocks into q, d256 and sum32 (cols a multiple of 256). */
void lowbit_cpu_quantize_q8_k(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out);
/* 1 when format's integer kernel reads Q8_K blocks (lowbit_cpu_quantize_q8_k), 0 when Q8_1-rule blocks of 32. */
int lowbit_cpu_gemv_int_superblock(lowbit_format format);

/* 1 when the CPU (within LOWBIT_CPU_ISA) has an integer-dot kernel for `format`. */
int lowbit_cpu_gemv_int_available(lowbit_format format);

/* Y rows [row_begin, row_end) from the quantized activations; NULL when there is no integer kernel. */
const char *lowbit_cpu_gemv_int_rows(lowbit_format format, const void *weights, size_t cols, const lowbit_cpu_q8 *x,
                                     size_t n, float *y, size_t rows, size_t row_begin, size_t row_end);

/* cpu_gemv_x86_int.c: lowbit_cpu_quantize_q8 with AVX2 (the same bytes); 0 when not on x86-64 (nothing written). */
int lowbit_cpu_quantize_q8_x86(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out);

/* cpu_gemv_x86_int.c: 0 when `format` has no AVX2 integer kernel (or not on x86-64), 1 when it reads Q8_1-rule
 * blocks of 32, 2 when it reads Q8_K blocks. */
int lowbit_cpu_gemv_x86_int_kind(lowbit_format format);

/* cpu_gemv_x86_int.c: the AVX2 integer-dot kernels; NULL when the format has none (or not on x86-64). */
const char *lowbit_cpu_gemv_x86_int(lowbit_format format, const void *weights, size_t cols, const lowbit_cpu_q8 *x,
                                    size_t n, float *y, size_t rows, size_t row_begin, size_t row_end);

#endif
