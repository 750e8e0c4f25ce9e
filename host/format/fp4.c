/* fp4.c — the FP4 microscaling formats: MXFP4 (32 E2M1 values sharing an E8M0 power of two) and NVFP4
 * (64 values, a UE4M3 scale per 16). Reference quantizers whose bytes match ggml's (deterministic, no
 * importance weights: the reference ignores them too) and dequantizers built on block_decode.h.
 * docs/formats.md §3.5 and §4. */
#include <math.h>
#include <stdint.h>

#include "block_decode.h"
#include "format_internal.h"

/* The index of the level nearest x at scale d; the first of equals wins (so 0 beats −0). The products
 * are exact (a 4-bit integer times a scale with at most 4 significant bits), so evaluation order and FMA
 * contraction cannot change which index wins. */
static unsigned char fp4_nearest(float x, float d)
{
    unsigned char best = 0;
    float best_err = fabsf((float)lowbit_fp4_levels[0] * d - x);
    for (unsigned char i = 1; i < 16; ++i) {
        const float err = fabsf((float)lowbit_fp4_levels[i] * d - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return best;
}

static float abs_max(const float *x, int count)
{
    float amax = 0.0f;
    for (int j = 0; j < count; ++j)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]);
    return amax;
}

/* e = floor(log2(amax)) − 2 + 127: the largest magnitude lands in [4, 8) of the doubled levels (the
 * top level, 12 = 6·2, saturates). An exponent below the E8M0 range wraps to a byte as the reference's
 * float → integer → byte conversion does on x86-64. */
void lowbit_quantize_row_mxfp4(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_MXFP4_BLOCK; ++b, out += LOWBIT_MXFP4_BYTES) {
        const float *x = src + b * LOWBIT_MXFP4_BLOCK;
        const float amax = abs_max(x, LOWBIT_MXFP4_BLOCK);
        const float exponent = floorf(log2f(amax)) - 2.0f + 127.0f;
        /* an infinite amax gives x86's "integer indefinite" 0x80000000, whose low byte is 0 */
        const unsigned char e = amax > 0.0f && exponent >= -1e9f && exponent <= 1e9f ? (unsigned char)(int)exponent : 0;
        const float d = lowbit_decode_e8m0_half(e);
        out[LOWBIT_MXFP4_E] = e;
        for (int j = 0; j < LOWBIT_MXFP4_BLOCK / 2; ++j)
            out[LOWBIT_MXFP4_QS + j] =
                (unsigned char)(fp4_nearest(x[j], d) | (fp4_nearest(x[j + LOWBIT_MXFP4_BLOCK / 2], d) << 4));
    }
}

void lowbit_dequantize_row_mxfp4(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_MXFP4_BLOCK; ++b)
        lowbit_decode_mxfp4(in + b * LOWBIT_MXFP4_BYTES, dst + b * LOWBIT_MXFP4_BLOCK);
}

/* f32 → unsigned E4M3, rounding the mantissa on its first dropped bit (half away from zero), clamped
 * to 448 (0x7E); below the normal range m·2⁻⁹ with m = round(x·512) in 1..7, else 0. */
static unsigned char fp32_to_ue4m3(float x)
{
    if (!(x > 0.0f)) return 0;
    if (x > 448.0f) x = 448.0f;
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int exponent = (int)((bits >> 23) & 0xFFu) - 127 + 7;
    if (exponent <= 0) {
        int m = (int)(x * 512.0f + 0.5f);
        if (m > 7) m = 7;
        return m < 1 ? 0 : (unsigned char)m;
    }
    if (exponent >= 15) return 0x7E;
    int mantissa = (int)((bits >> 20) & 7u) + (int)((bits >> 19) & 1u);
    if (mantissa > 7) {
        mantissa = 0;
        if (++exponent >= 15) return 0x7E;
    }
    return (unsigned char)((exponent << 3) | mantissa);
}

/* Per 16 elements: scale = UE4M3(amax / 6), so the largest magnitude maps near the top E2M1 value 6. */
void lowbit_quantize_row_nvfp4(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_NVFP4_BLOCK; ++b, out += LOWBIT_NVFP4_BYTES) {
        for (int s = 0; s < LOWBIT_NVFP4_BLOCK / LOWBIT_NVFP4_SUB; ++s) {
            const float *x = src + b * LOWBIT_NVFP4_BLOCK + s * LOWBIT_NVFP4_SUB;
            const unsigned char scale = fp32_to_ue4m3(abs_max(x, LOWBIT_NVFP4_SUB) / 6.0f);
            const float d = lowbit_decode_ue4m3_half(scale);
            out[LOWBIT_NVFP4_D + s] = scale;
            for (int j = 0; j < LOWBIT_NVFP4_SUB / 2; ++j)
                out[LOWBIT_NVFP4_QS + 8 * s + j] =
                    (unsigned char)(fp4_nearest(x[j], d) | (fp4_nearest(x[j + LOWBIT_NVFP4_SUB / 2], d) << 4));
        }
    }
}

void lowbit_dequantize_row_nvfp4(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_NVFP4_BLOCK; ++b)
        lowbit_decode_nvfp4(in + b * LOWBIT_NVFP4_BYTES, dst + b * LOWBIT_NVFP4_BLOCK);
}
