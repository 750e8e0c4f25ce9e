/* ternary.c — TQ1_0 (base-3 packed trits, 1.6875 bpw) and TQ2_0 (2-bit trits): reference quantizers
 * whose bytes match ggml's, and dequantizers with the layout's float operations in the same order. */
#include <math.h>
#include <stdint.h>

#include "block_decode.h"
#include "format_internal.h"

#define QK_TERNARY 256
#define TQ1_0_BYTES 54 /* qs[48], qh[4], f16 d last */
#define TQ2_0_BYTES 66 /* qs[64], f16 d last */

/* d = amax over the block; trit = round-half-away(x/d) + 1 ∈ {0,1,2}. NaN maps to the middle trit. */
static float block_trits(const float *x, unsigned char t[QK_TERNARY])
{
    float amax = 0.0f;
    for (int j = 0; j < QK_TERNARY; ++j)
        amax = fmaxf(amax, fabsf(x[j]));
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
    for (int j = 0; j < QK_TERNARY; ++j) {
        const float v = roundf(x[j] * id);
        t[j] = (unsigned char)(v >= -1.0f && v <= 1.0f ? (int)v + 1 : 1);
    }
    return amax;
}

/* Five (or four, then one zero) trits as a base-3 fraction scaled to a byte, rounded up so that the
 * decoder's ((byte·3^p mod 256)·3) >> 8 recovers trit p exactly. */
static unsigned char pack_trits(const unsigned char *t, int count, int stride)
{
    unsigned v = 0;
    for (int p = 0; p < 5; ++p)
        v = v * 3u + (p < count ? t[p * stride] : 0u);
    return (unsigned char)((v * 256u + 242u) / 243u);
}

void lowbit_quantize_row_tq1_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_TERNARY; ++b, out += TQ1_0_BYTES) {
        unsigned char t[QK_TERNARY];
        const float d = block_trits(src + b * QK_TERNARY, t);
        /* bytes 0..31: trit p of byte l is element 32p + l; bytes 32..47: element 160 + 16p + l;
         * qh[0..3]: element 240 + 4p + l */
        for (int l = 0; l < 32; ++l)
            out[l] = pack_trits(t + l, 5, 32);
        for (int l = 0; l < 16; ++l)
            out[32 + l] = pack_trits(t + 160 + l, 5, 16);
        for (int l = 0; l < 4; ++l)
            out[48 + l] = pack_trits(t + 240 + l, 4, 4);
        lowbit_store_u16le(out + 52, lowbit_fp32_to_fp16(d));
    }
}

void lowbit_dequantize_row_tq1_0(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b) lowbit_decode_tq1_0((const unsigned char *)src + b * 54, dst + b * 256);
}

void lowbit_quantize_row_tq2_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_TERNARY; ++b, out += TQ2_0_BYTES) {
        unsigned char t[QK_TERNARY];
        const float d = block_trits(src + b * QK_TERNARY, t);
        /* byte group c (32 bytes), shift 2k of byte l → element 128c + 32k + l */
        for (int c = 0; c < 2; ++c)
            for (int l = 0; l < 32; ++l) {
                const unsigned char *e = t + 128 * c + l;
                out[32 * c + l] = (unsigned char)(e[0] | (e[32] << 2) | (e[64] << 4) | (e[96] << 6));
            }
        lowbit_store_u16le(out + 64, lowbit_fp32_to_fp16(d));
    }
}

void lowbit_dequantize_row_tq2_0(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b) lowbit_decode_tq2_0((const unsigned char *)src + b * 66, dst + b * 256);
}
