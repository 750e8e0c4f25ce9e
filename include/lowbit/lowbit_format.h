/* lowbit_format.h — weight and activation format ids (numerically equal to GGML type ids), block
 * geometry, and the CPU reference quantize/dequantize entry points. */
#ifndef LOWBIT_FORMAT_H
#define LOWBIT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values are GGUF/ggml type ids so files map onto formats without a table. */
typedef enum lowbit_format {
    LOWBIT_FORMAT_F32 = 0,
    LOWBIT_FORMAT_F16 = 1,
    LOWBIT_FORMAT_Q4_0 = 2,
    LOWBIT_FORMAT_Q4_1 = 3,
    LOWBIT_FORMAT_Q5_0 = 6,
    LOWBIT_FORMAT_Q5_1 = 7,
    LOWBIT_FORMAT_Q8_0 = 8,
    LOWBIT_FORMAT_Q8_1 = 9,
    LOWBIT_FORMAT_Q2_K = 10,
    LOWBIT_FORMAT_Q3_K = 11,
    LOWBIT_FORMAT_Q4_K = 12,
    LOWBIT_FORMAT_Q5_K = 13,
    LOWBIT_FORMAT_Q6_K = 14,
    LOWBIT_FORMAT_Q8_K = 15,
    LOWBIT_FORMAT_IQ2_XXS = 16,
    LOWBIT_FORMAT_IQ2_XS = 17,
    LOWBIT_FORMAT_IQ3_XXS = 18,
    LOWBIT_FORMAT_IQ1_S = 19,
    LOWBIT_FORMAT_IQ4_NL = 20,
    LOWBIT_FORMAT_IQ3_S = 21,
    LOWBIT_FORMAT_IQ2_S = 22,
    LOWBIT_FORMAT_IQ4_XS = 23,
    LOWBIT_FORMAT_IQ1_M = 29,
    LOWBIT_FORMAT_BF16 = 30,
    LOWBIT_FORMAT_TQ1_0 = 34,
    LOWBIT_FORMAT_TQ2_0 = 35,
    LOWBIT_FORMAT_MXFP4 = 39,
    LOWBIT_FORMAT_NVFP4 = 40,
    LOWBIT_FORMAT_Q1_0 = 41,
    LOWBIT_FORMAT_Q2_0 = 42,
    LOWBIT_FORMAT_COUNT = 43 /* one past the largest id this header names */
} lowbit_format;

/* Static facts about one format. */
typedef struct lowbit_format_traits {
    lowbit_format format;
    const char *name;       /* "Q4_0", as ggml spells it */
    uint32_t block_size;    /* elements per block (1 for F32/F16/BF16) */
    uint32_t type_size;     /* bytes per block */
    int can_quantize;       /* the CPU reference can produce it */
    int can_dequantize;     /* the CPU reference can read it (activation-only types cannot) */
    int is_activation_only; /* Q8_1, Q8_K: never stored as weights */
} lowbit_format_traits;

/* NULL for an id this build does not know. */
LOWBIT_API const lowbit_format_traits *lowbit_format_get(int format);
/* "Q4_0" → format; returns 0 on success, -1 when unknown (case-insensitive). */
LOWBIT_API int lowbit_format_from_name(const char *name, lowbit_format *out);
LOWBIT_API const char *lowbit_format_name(int format); /* "?" when unknown */
/* Bytes of one row of `cols` elements; 0 when cols is not a multiple of the block size or unknown. */
LOWBIT_API size_t lowbit_format_row_size(int format, size_t cols);

/* CPU reference quantization of rows×cols f32 values into `dst` (dst_size must equal
 * rows × lowbit_format_row_size). `importance` is an optional per-column weight vector (imatrix,
 * length cols) used by formats with a weighted scale search; others ignore it. Multi-threaded over
 * rows with n_threads (0 = all cores); output is identical for every thread count.
 * Returns a lowbit_status (0 on success). */
LOWBIT_API int lowbit_quantize(int format, const float *src, size_t rows, size_t cols, void *dst, size_t dst_size,
                               const float *importance, int n_threads);
/* Bit-exact dequantization of rows×cols elements stored in `src` (src_size bytes). */
LOWBIT_API int lowbit_dequantize(int format, const void *src, size_t src_size, size_t rows, size_t cols, float *dst);

/* IEEE half and bfloat16 conversions (round to nearest even, NaN kept NaN). */
LOWBIT_API uint16_t lowbit_fp32_to_fp16(float value);
LOWBIT_API float lowbit_fp16_to_fp32(uint16_t value);
LOWBIT_API uint16_t lowbit_fp32_to_bf16(float value);
LOWBIT_API float lowbit_bf16_to_fp32(uint16_t value);

/* Shape fallback (llama.cpp's rule): `wanted` when cols is a multiple of its block size, else the
 * replacement with 32-element blocks (IQ4_XS → IQ4_NL; Q2_K, Q3_K, TQ1_0, TQ2_0 → Q4_0; Q4_K → Q5_0;
 * Q5_K → Q5_1; Q6_K, Q8_K → Q8_0), and F16 when even 32 does not divide cols (or the id is unknown). */
LOWBIT_API lowbit_format lowbit_format_fallback(lowbit_format wanted, size_t cols);

#ifdef __cplusplus
}
#endif
#endif
