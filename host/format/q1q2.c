/* q1q2.c — the symmetric 1- and 2-bit formats Q1_0 (128 signs and one f16 scale, 1.125 bpw) and Q2_0
 * (64 two-bit codes {−1, 0, 1, 2}·d, 2.25 bpw). Reference quantizers whose bytes match ggml's (they take
 * no importance weights, as the reference) and dequantizers built on block_decode.h.
 * docs/formats.md §3.6 and §4. */
#include <math.h>
#include <string.h>

#include "block_decode.h"
#include "format_internal.h"

/* d = mean |x| over the block (summed in order); the bit is set for x ≥ 0 (a NaN stores −d). */
void lowbit_quantize_row_q1_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_Q1_0_BLOCK; ++b, out += LOWBIT_Q1_0_BYTES) {
        const float *x = src + b * LOWBIT_Q1_0_BLOCK;
        float sum = 0.0f;
        for (int j = 0; j < LOWBIT_Q1_0_BLOCK; ++j)
            sum += fabsf(x[j]);
        lowbit_store_u16le(out + LOWBIT_Q1_0_D, lowbit_fp32_to_fp16(sum / (float)LOWBIT_Q1_0_BLOCK));
        unsigned char *qs = out + LOWBIT_Q1_0_QS;
        memset(qs, 0, LOWBIT_Q1_0_BLOCK / 8);
        for (int j = 0; j < LOWBIT_Q1_0_BLOCK; ++j)
            if (x[j] >= 0.0f) qs[j / 8] |= (unsigned char)(1u << (j % 8));
    }
}

void lowbit_dequantize_row_q1_0(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_Q1_0_BLOCK; ++b)
        lowbit_decode_q1_0(in + b * LOWBIT_Q1_0_BYTES, dst + b * LOWBIT_Q1_0_BLOCK);
}

/* d = amax over the block; q = round-half-away(x/d) + 1 clamped to 0..3 (so +2d is reachable only by
 * rounding, never by the maximum itself, which lands on +1). A NaN stores code 0 (−d), as the reference's
 * float → int conversion (x86-64's 0x80000000, then clamped) does. */
void lowbit_quantize_row_q2_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_Q2_0_BLOCK; ++b, out += LOWBIT_Q2_0_BYTES) {
        const float *x = src + b * LOWBIT_Q2_0_BLOCK;
        float amax = 0.0f;
        for (int j = 0; j < LOWBIT_Q2_0_BLOCK; ++j)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
        const float id = amax > 0.0f ? 1.0f / amax : 0.0f;
        lowbit_store_u16le(out + LOWBIT_Q2_0_D, lowbit_fp32_to_fp16(amax));
        unsigned char *qs = out + LOWBIT_Q2_0_QS;
        memset(qs, 0, LOWBIT_Q2_0_BLOCK / 4);
        for (int j = 0; j < LOWBIT_Q2_0_BLOCK; ++j) {
            const float r = roundf(x[j] * id);
            const int q = r != r ? 0 : r < -1.0f ? 0 : r > 2.0f ? 3 : (int)r + 1;
            qs[j / 4] |= (unsigned char)(q << (2 * (j % 4)));
        }
    }
}

void lowbit_dequantize_row_q2_0(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_Q2_0_BLOCK; ++b)
        lowbit_decode_q2_0(in + b * LOWBIT_Q2_0_BYTES, dst + b * LOWBIT_Q2_0_BLOCK);
}
