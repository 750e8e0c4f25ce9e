/* format_internal.h — per-format row kernels behind lowbit_quantize/lowbit_dequantize. Each format
 * family lives in its own file (legacy.c, kquants.c, iquants.c, ternary.c, float.c, fp4.c, q1q2.c) and registers
 * its rows here. */
#ifndef LOWBIT_FORMAT_INTERNAL_H
#define LOWBIT_FORMAT_INTERNAL_H

#include <stddef.h>

#include "lowbit/lowbit_format.h"

/* One row of `cols` elements (a multiple of the block size). `importance` may be NULL. */
typedef void (*lowbit_quantize_row_fn)(const float *src, void *dst, size_t cols, const float *importance);
typedef void (*lowbit_dequantize_row_fn)(const void *src, float *dst, size_t cols);

typedef struct lowbit_format_ops {
    lowbit_quantize_row_fn quantize_row;     /* NULL: cannot quantize */
    lowbit_dequantize_row_fn dequantize_row; /* NULL: cannot dequantize */
} lowbit_format_ops;

const lowbit_format_ops *lowbit_format_ops_get(int format);

/* float.c */
void lowbit_quantize_row_f32(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_f32(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_f16(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_f16(const void *src, float *dst, size_t cols);

void lowbit_quantize_row_bf16(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_bf16(const void *src, float *dst, size_t cols);

/* legacy.c */
void lowbit_quantize_row_q4_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q4_0(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q8_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q8_0(const void *src, float *dst, size_t cols);

/* legacy.c (continued) */
void lowbit_quantize_row_q4_1(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q4_1(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q5_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q5_0(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q5_1(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q5_1(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q8_1(const float *src, void *dst, size_t cols, const float *importance);

/* kquants.c */
void lowbit_quantize_row_q2_k(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q2_k(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q3_k(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q3_k(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q4_k(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q4_k(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q5_k(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q5_k(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q6_k(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q6_k(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q8_k(const float *src, void *dst, size_t cols, const float *importance);

/* iquants.c */
void lowbit_quantize_row_iq4_nl(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_iq4_nl(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_iq4_xs(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_iq4_xs(const void *src, float *dst, size_t cols);

/* ternary.c */
void lowbit_quantize_row_tq1_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_tq1_0(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_tq2_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_tq2_0(const void *src, float *dst, size_t cols);

/* fp4.c */
void lowbit_quantize_row_mxfp4(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_mxfp4(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_nvfp4(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_nvfp4(const void *src, float *dst, size_t cols);

/* q1q2.c */
void lowbit_quantize_row_q1_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q1_0(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_q2_0(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_dequantize_row_q2_0(const void *src, float *dst, size_t cols);

/* Grid (codebook) formats, docs/formats.md §3.7: dequantize rows in grids.c, quantizers in iq2_quant.c
 * (IQ2_XXS, IQ2_XS, IQ2_S), iq3_quant.c (IQ3_XXS, IQ3_S) and iq1_quant.c (IQ1_S, IQ1_M). */
void lowbit_dequantize_row_iq2_xxs(const void *src, float *dst, size_t cols);
void lowbit_dequantize_row_iq2_xs(const void *src, float *dst, size_t cols);
void lowbit_dequantize_row_iq2_s(const void *src, float *dst, size_t cols);
void lowbit_dequantize_row_iq3_xxs(const void *src, float *dst, size_t cols);
void lowbit_dequantize_row_iq3_s(const void *src, float *dst, size_t cols);
void lowbit_dequantize_row_iq1_s(const void *src, float *dst, size_t cols);
void lowbit_dequantize_row_iq1_m(const void *src, float *dst, size_t cols);
void lowbit_quantize_row_iq2_xxs(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_quantize_row_iq2_xs(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_quantize_row_iq2_s(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_quantize_row_iq3_xxs(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_quantize_row_iq3_s(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_quantize_row_iq1_s(const float *src, void *dst, size_t cols, const float *importance);
void lowbit_quantize_row_iq1_m(const float *src, void *dst, size_t cols, const float *importance);

/* Little-endian loads/stores shared by the format files. */
static inline unsigned lowbit_load_u16le(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }
static inline void lowbit_store_u16le(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xFFu);
    p[1] = (unsigned char)((v >> 8) & 0xFFu);
}

#endif
