/* legacy.c — the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, and Q8_1 for activations):
 * reference quantizers whose bytes match ggml's, and dequantizers that repeat the layout's float
 * operations in the same order.
 *
 * Bit-exactness relies on every product being rounded before the following add (x·id + 8.5, d·q + m):
 * the build is ISO C11, where GCC does not contract into FMAs, and each product sits in its own
 * statement, which clang's default contraction respects. A build with -std=gnu11 and -mfma would
 * move rare round-half ties by one step (see tests/oracle/format_oracle.py, which counts them). */
#include <math.h>
#include <stdint.h>

#include "../../shaders/common/lowbit_blocks.h"
#include "block_decode.h"
#include "format_internal.h"

void lowbit_quantize_row_q4_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_QK4_0; ++b, out += LOWBIT_Q4_0_BYTES) {
        const float *x = src + b * LOWBIT_QK4_0;
        float amax = 0.0f, max = 0.0f; /* the signed value of largest magnitude */
        for (int j = 0; j < LOWBIT_QK4_0; ++j) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        for (int j = 0; j < LOWBIT_QK4_0 / 2; ++j) {
            const float x0 = x[j] * id, x1 = x[j + LOWBIT_QK4_0 / 2] * id;
            /* NaN (and anything a float→int cast would make undefined) becomes 0, what x86 gives */
            const float v0 = x0 + 8.5f, v1 = x1 + 8.5f;
            int q0 = v0 >= 0.0f && v0 < 64.0f ? (int)v0 : 0, q1 = v1 >= 0.0f && v1 < 64.0f ? (int)v1 : 0;
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            out[2 + j] = (unsigned char)(q0 | (q1 << 4));
        }
    }
}

void lowbit_dequantize_row_q4_0(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_QK4_0; ++b, in += LOWBIT_Q4_0_BYTES) {
        const float d = lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(in));
        float *y = dst + b * LOWBIT_QK4_0;
        for (int j = 0; j < LOWBIT_QK4_0 / 2; ++j) {
            y[j] = d * (float)((int)(in[2 + j] & 0x0F) - 8);
            y[j + LOWBIT_QK4_0 / 2] = d * (float)((int)(in[2 + j] >> 4) - 8);
        }
    }
}

void lowbit_quantize_row_q8_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_QK8_0; ++b, out += LOWBIT_Q8_0_BYTES) {
        const float *x = src + b * LOWBIT_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < LOWBIT_QK8_0; ++j)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        for (int j = 0; j < LOWBIT_QK8_0; ++j) {
            const float v = roundf(x[j] * id);
            out[2 + j] = (unsigned char)(int8_t)(v >= -127.0f && v <= 127.0f ? (int)v : 0); /* NaN → 0 */
        }
    }
}

void lowbit_dequantize_row_q8_0(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_QK8_0; ++b, in += LOWBIT_Q8_0_BYTES) {
        const float d = lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(in));
        for (int j = 0; j < LOWBIT_QK8_0; ++j)
            dst[b * LOWBIT_QK8_0 + j] = d * (float)(int8_t)in[2 + j];
    }
}

/* --- Q4_1 / Q5_1: asymmetric blocks {f16 d, f16 m, [qh], qs} with x = d·q + m ------------------ */
#define QK_LEGACY 32

static void block_min_max(const float *x, float *min_out, float *max_out)
{
    /* Strict comparisons from ±FLT_MAX: a NaN never becomes the min or max, as in ggml's reference. */
    float min = INFINITY, max = -INFINITY;
    for (int j = 0; j < QK_LEGACY; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *min_out = min;
    *max_out = max;
}

/* q = trunc((x − min)·id + 0.5), clamped to 0..levels; shared by Q4_1 and Q5_1. */
static void quantize_block_min(const float *x, int levels, float *d_out, float *min_out, int q[QK_LEGACY])
{
    float min, max;
    block_min_max(x, &min, &max);
    const float d = (max - min) / (float)levels;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK_LEGACY; ++j) {
        const float scaled = (x[j] - min) * id;
        const float v = scaled + 0.5f;
        /* v >= 0.5 for finite inputs; NaN or out-of-range saturates instead of invoking UB in the cast */
        int l = v >= 0.0f && v < 64.0f ? (int)v : 0;
        q[j] = l > levels ? levels : l;
    }
    *d_out = d;
    *min_out = min;
}

static void store_nibbles(unsigned char *qs, const int q[QK_LEGACY])
{
    for (int j = 0; j < QK_LEGACY / 2; ++j)
        qs[j] = (unsigned char)((q[j] & 0x0F) | ((q[j + QK_LEGACY / 2] & 0x0F) << 4));
}

/* The 5th bits of all 32 quants as one little-endian uint32, bit j for element j. */
static void store_high_bits(unsigned char *qh, const int q[QK_LEGACY])
{
    uint32_t bits = 0;
    for (int j = 0; j < QK_LEGACY; ++j)
        bits |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; ++k)
        qh[k] = (unsigned char)(bits >> (8 * k));
}

void lowbit_quantize_row_q4_1(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 20) {
        int q[QK_LEGACY];
        float d, min;
        quantize_block_min(src + b * QK_LEGACY, 15, &d, &min, q);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(min));
        store_nibbles(out + 4, q);
    }
}

void lowbit_dequantize_row_q4_1(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b) lowbit_decode_q4_1((const unsigned char *)src + b * 20, dst + b * 32);
}

void lowbit_quantize_row_q5_1(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 24) {
        int q[QK_LEGACY];
        float d, min;
        quantize_block_min(src + b * QK_LEGACY, 31, &d, &min, q);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(min));
        store_high_bits(out + 4, q);
        store_nibbles(out + 8, q);
    }
}

void lowbit_dequantize_row_q5_1(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b) lowbit_decode_q5((const unsigned char *)src + b * 24, dst + b * 32, 1);
}

/* --- Q5_0: symmetric, x = d·(q − 16) ---------------------------------------------------------- */
void lowbit_quantize_row_q5_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 22) {
        const float *x = src + b * QK_LEGACY;
        float amax = 0.0f, max = 0.0f; /* the signed value of largest magnitude, first one on ties */
        for (int j = 0; j < QK_LEGACY; ++j) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY; ++j) {
            const float scaled = x[j] * id; /* rounded before the add, as gguf-py does */
            const float v = scaled + 16.5f;
            const int l = v >= 0.0f && v < 64.0f ? (int)v : 0;
            q[j] = l > 31 ? 31 : l;
        }
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        store_high_bits(out + 2, q);
        store_nibbles(out + 6, q);
    }
}

void lowbit_dequantize_row_q5_0(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b) lowbit_decode_q5((const unsigned char *)src + b * 22, dst + b * 32, 0);
}

/* --- Q8_1: the activation partner of Q4_1/Q5_1; s = d·Σq lets a dot product fold in the weight's m */
void lowbit_quantize_row_q8_1(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 36) {
        const float *x = src + b * QK_LEGACY;
        float amax = 0.0f;
        for (int j = 0; j < QK_LEGACY; ++j)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK_LEGACY; ++j) {
            const float v = roundf(x[j] * id);
            const int q = v >= -127.0f && v <= 127.0f ? (int)v : 0; /* NaN → 0 */
            out[4 + j] = (unsigned char)(int8_t)q;
            sum += q;
        }
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16((float)sum * d));
    }
}
