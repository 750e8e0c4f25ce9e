/* float.c — F32/F16/BF16 rows and the IEEE half / bfloat16 conversions every format uses. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "format_internal.h"

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest even, overflow to infinity, NaN kept quiet NaN: what numpy's astype(float16) does. */
uint16_t lowbit_fp32_to_fp16(float value)
{
    uint32_t x = float_bits(value);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) /* Inf or NaN */
        return (uint16_t)(sign | 0x7C00u | (abs > 0x7F800000u ? (0x200u | ((abs >> 13) & 0x3FFu)) : 0u));
    if (abs >= 0x477FF000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7C00u);
    if (abs < 0x38800000u) {                          /* result is subnormal or zero */
        if (abs < 0x33000000u) return (uint16_t)sign; /* below half of the smallest subnormal */
        uint32_t exponent = abs >> 23;
        uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126u - exponent; /* 14..24 */
        uint32_t half = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((abs >> 13) - (112u << 10));
    uint32_t rest = abs & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return (uint16_t)(sign | half);
}

float lowbit_fp16_to_fp32(uint16_t value)
{
    uint32_t sign = ((uint32_t)value & 0x8000u) << 16;
    uint32_t exponent = ((uint32_t)value >> 10) & 0x1Fu;
    uint32_t mantissa = (uint32_t)value & 0x3FFu;
    if (exponent == 0x1Fu) return bits_float(sign | 0x7F800000u | (mantissa << 13));
    if (exponent == 0) {
        if (mantissa == 0) return bits_float(sign);
        /* subnormal: exact as a float product */
        float f = (float)mantissa * 5.9604644775390625e-8f; /* 2^-24 */
        return sign ? -f : f;
    }
    return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t lowbit_fp32_to_bf16(float value)
{
    uint32_t x = float_bits(value);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float lowbit_bf16_to_fp32(uint16_t value) { return bits_float((uint32_t)value << 16); }

void lowbit_quantize_row_f32(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    memcpy(dst, src, cols * sizeof(float));
}

void lowbit_dequantize_row_f32(const void *src, float *dst, size_t cols) { memcpy(dst, src, cols * sizeof(float)); }

void lowbit_quantize_row_f16(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t i = 0; i < cols; ++i)
        lowbit_store_u16le(out + 2 * i, lowbit_fp32_to_fp16(src[i]));
}

void lowbit_dequantize_row_f16(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t i = 0; i < cols; ++i)
        dst[i] = lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(in + 2 * i));
}

/* BF16 rows: the conversion above is the one ggml and gguf-py use (round to nearest even, quiet NaN). */
void lowbit_quantize_row_bf16(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t i = 0; i < cols; ++i)
        lowbit_store_u16le(out + 2 * i, lowbit_fp32_to_bf16(src[i]));
}

void lowbit_dequantize_row_bf16(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t i = 0; i < cols; ++i)
        dst[i] = lowbit_bf16_to_fp32((uint16_t)lowbit_load_u16le(in + 2 * i));
}
