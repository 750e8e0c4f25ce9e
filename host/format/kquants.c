/* kquants.c — the 256-element super-block formats Q2_K..Q6_K (4/6-bit sub-block scales; the weighted scale
 * searches, plain and with an importance vector, are in kquants_search.c) and the Q8_K activation type;
 * dequantizers repeat the layout's float ops in order. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "block_decode.h"
#include "format_internal.h"
#include "kquants_search.h"

/* Stores v as f16 rounded away from zero, and returns the stored value. The super-block scale is
 * rounded up in magnitude so that the largest sub-block scale, divided by it, never needs more than
 * the 4/6/8 bits it has; the sub-block scales are then re-derived against the stored value, which
 * matters when d is tiny and f16 (subnormal) rounding is coarse. */
static float store_half_at_least(unsigned char *p, float v)
{
    uint16_t h = lowbit_fp32_to_fp16(v);
    const float stored = lowbit_fp16_to_fp32(h);
    if (fabsf(stored) < fabsf(v) && (h & 0x7FFFu) < 0x7BFFu) ++h; /* next magnitude, same sign */
    lowbit_store_u16le(p, h);
    return lowbit_fp16_to_fp32(h);
}

/* --- Q2_K: scales[16] (scale | min<<4), qs[64], f16 d, f16 dmin; x = d·sc·q − dmin·m ---------- */
#define Q2_K_BYTES 84

/* Low 2-bit planes as Q2_K/Q3_K store them: shift 2k of byte 32h + l → element 128h + 32k + l. */
static void pack_2bit_planes(const unsigned char *L, unsigned char *qs)
{
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const unsigned char *e = L + 128 * h + l;
            qs[32 * h + l] = (unsigned char)((e[0] & 3) | ((e[32] & 3) << 2) | ((e[64] & 3) << 4) | ((e[96] & 3) << 6));
        }
}

static void quantize_block_q2_k(const float *x, const float *imp, unsigned char *out)
{
    unsigned char L[QK_K];
    float w[16], scales[16], mins[16], max_scale = 0.0f, max_min = 0.0f, d, dmin;
    if (imp) {
        static const lowbit_kq_asym_shape shape = {16, 16, 3, 15, 3};
        int ls[16], lm[16];
        lowbit_kq_asym_quantize(&shape, x, imp, &d, &dmin, ls, lm);
        lowbit_store_u16le(out + 80, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 82, lowbit_fp32_to_fp16(dmin));
        for (int j = 0; j < 16; ++j)
            out[j] = (unsigned char)(ls[j] | (lm[j] << 4));
    } else {
        for (int j = 0; j < 16; ++j) {
            lowbit_kq_element_weights(x + 16 * j, 16, w);
            scales[j] = lowbit_kq_search_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        /* 4-bit sub-block scales and mins against the super-block maxima */
        d = store_half_at_least(out + 80, max_scale / 15.0f);
        dmin = store_half_at_least(out + 82, max_min / 15.0f);
        const float inv_scale = d > 0.0f ? 1.0f / d : 0.0f, inv_min = dmin > 0.0f ? 1.0f / dmin : 0.0f;
        for (int j = 0; j < 16; ++j)
            out[j] = (unsigned char)(clamp_round(inv_scale * scales[j], 0, 15) |
                                     (clamp_round(inv_min * mins[j], 0, 15) << 4));
    }
    /* requantize against the scales the decoder will actually see */
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)(out[j] & 0xF), ml = dmin * (float)(out[j] >> 4);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = dl != 0.0f ? (unsigned char)clamp_round((x[16 * j + i] + ml) / dl, 0, 3) : 0;
    }
    pack_2bit_planes(L, out + 16);
}

void lowbit_quantize_row_q2_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_q2_k(src + b * QK_K, importance ? importance + b * QK_K : NULL,
                            (unsigned char *)dst + b * Q2_K_BYTES);
}

void lowbit_dequantize_row_q2_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_q2_k((const unsigned char *)src + b * 84, dst + b * 256);
}

/* --- Q3_K: hmask[32], qs[64], scales[12] (16 × 6-bit, −32), f16 d; x = d·(sc−32)·(q_lo − 4·!hbit) */
#define Q3_K_BYTES 110

static int q3_k_scale(const unsigned char *s, int j)
{
    const int lo = (s[j % 8] >> (4 * (j / 8))) & 0xF;
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

static void quantize_block_q3_k(const float *x, const float *imp, unsigned char *out)
{
    unsigned char L[QK_K];
    float scales[16], max_scale = 0.0f, amax = 0.0f, d;
    int sc[16];
    if (imp) {
        static const lowbit_kq_sym_shape shape = {4, 32, 2};
        lowbit_kq_sym_quantize(&shape, x, imp, &d, sc);
        lowbit_store_u16le(out + 108, lowbit_fp32_to_fp16(d));
    } else {
        for (int j = 0; j < 16; ++j) {
            scales[j] = lowbit_kq_refine_scale_symmetric(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        /* the largest scale maps to −32, the level without a positive partner */
        d = store_half_at_least(out + 108, amax > 0.0f ? max_scale / -32.0f : 0.0f);
        const float iscale = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; ++j)
            sc[j] = clamp_round(iscale * scales[j], -32, 31);
    }
    memset(out, 0, 108);
    unsigned char *s = out + 96;
    for (int j = 0; j < 16; ++j) {
        const int l = sc[j] + 32;
        s[j % 8] |= (unsigned char)((l & 0xF) << (4 * (j / 8)));
        s[8 + j % 4] |= (unsigned char)((l >> 4) << (2 * (j / 4)));
    }
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)q3_k_scale(s, j);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = dl != 0.0f ? (unsigned char)(clamp_round(x[16 * j + i] / dl, -4, 3) + 4) : 4;
    }
    /* the high bit is stored set for q ≥ 4 (i.e. "do not subtract 4"); bit i of hmask[l] ↔ 32i + l */
    for (int e = 0; e < QK_K; ++e) {
        if (L[e] > 3) {
            out[e % 32] |= (unsigned char)(1u << (e / 32));
            L[e] -= 4;
        }
    }
    pack_2bit_planes(L, out + 32);
}

void lowbit_quantize_row_q3_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_q3_k(src + b * QK_K, importance ? importance + b * QK_K : NULL,
                            (unsigned char *)dst + b * Q3_K_BYTES);
}

void lowbit_dequantize_row_q3_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_q3_k((const unsigned char *)src + b * 110, dst + b * 256);
}

/* --- Q4_K / Q5_K: f16 d, f16 dmin, scales[12] (8 × 6-bit scale + 8 × 6-bit min), [qh[32]], qs[128] */
#define Q4_K_BYTES 144
#define Q5_K_BYTES 176

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales and L (0..nmax). */
static void quantize_block_k4(const float *x, const float *imp, int nmax, unsigned char *out, unsigned char *L)
{
    float w[32], scales[8], mins[8], max_scale = 0.0f, max_min = 0.0f, d, dmin;
    int ls[8], lm[8];
    if (imp) {
        const lowbit_kq_asym_shape shape = {8, 32, nmax, 63, 3};
        lowbit_kq_asym_quantize(&shape, x, imp, &d, &dmin, ls, lm);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(dmin));
    } else {
        for (int j = 0; j < 8; ++j) {
            lowbit_kq_element_weights(x + 32 * j, 32, w);
            scales[j] = lowbit_kq_search_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        d = store_half_at_least(out, max_scale / 63.0f);
        dmin = store_half_at_least(out + 2, max_min / 63.0f);
        const float inv_scale = d > 0.0f ? 1.0f / d : 0.0f, inv_min = dmin > 0.0f ? 1.0f / dmin : 0.0f;
        for (int j = 0; j < 8; ++j) {
            ls[j] = clamp_round(inv_scale * scales[j], 0, 63);
            lm[j] = clamp_round(inv_min * mins[j], 0, 63);
        }
    }
    unsigned char *s = out + 4;
    for (int j = 0; j < 4; ++j) {
        s[j] = (unsigned char)(ls[j] | ((ls[j + 4] >> 4) << 6));
        s[j + 4] = (unsigned char)(lm[j] | ((lm[j + 4] >> 4) << 6));
        s[j + 8] = (unsigned char)((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        lowbit_decode_k4_scale_min(s, j, &sc, &m);
        const float dl = d * (float)sc, ml = dmin * (float)m;
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = dl != 0.0f ? (unsigned char)clamp_round((x[32 * j + i] + ml) / dl, 0, nmax) : 0;
    }
}

/* Nibbles: chunk c of 32 bytes, low nibble → element 64c + l, high nibble → 64c + 32 + l. */
static void pack_k4_nibbles(const unsigned char *L, unsigned char *qs)
{
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l)
            qs[32 * c + l] = (unsigned char)((L[64 * c + l] & 0xF) | ((L[64 * c + 32 + l] & 0xF) << 4));
}

void lowbit_quantize_row_q4_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b) {
        unsigned char L[QK_K], *out = (unsigned char *)dst + b * Q4_K_BYTES;
        quantize_block_k4(src + b * QK_K, importance ? importance + b * QK_K : NULL, 15, out, L);
        pack_k4_nibbles(L, out + 16);
    }
}

void lowbit_quantize_row_q5_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b) {
        unsigned char L[QK_K], *out = (unsigned char *)dst + b * Q5_K_BYTES;
        quantize_block_k4(src + b * QK_K, importance ? importance + b * QK_K : NULL, 31, out, L);
        memset(out + 16, 0, 32);
        for (int e = 0; e < QK_K; ++e)
            out[16 + e % 32] |= (unsigned char)(((L[e] >> 4) & 1) << (e / 32));
        pack_k4_nibbles(L, out + 48);
    }
}

void lowbit_dequantize_row_q4_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_k4((const unsigned char *)src + b * 144, dst + b * 256, 0);
}

void lowbit_dequantize_row_q5_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_k4((const unsigned char *)src + b * 176, dst + b * 256, 1);
}

/* --- Q6_K: ql[128], qh[64], int8 scales[16], f16 d; x = d·sc·(q − 32) ------------------------- */
#define Q6_K_BYTES 210

static void quantize_block_q6_k(const float *x, const float *imp, unsigned char *out)
{
    unsigned char L[QK_K];
    float scales[16], max_scale = 0.0f, amax = 0.0f, d;
    signed char *sc = (signed char *)(out + 192);
    if (imp) {
        static const lowbit_kq_sym_shape shape = {32, 128, 16};
        int isc[16];
        lowbit_kq_sym_quantize(&shape, x, imp, &d, isc);
        lowbit_store_u16le(out + 208, lowbit_fp32_to_fp16(d));
        for (int j = 0; j < 16; ++j)
            sc[j] = (signed char)isc[j];
    } else {
        for (int j = 0; j < 16; ++j) {
            scales[j] = lowbit_kq_search_scale_symmetric(16, 32, x + 16 * j, NULL, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        /* the largest scale maps to −128, the int8 end without a positive partner */
        d = store_half_at_least(out + 208, amax > 0.0f ? max_scale / -128.0f : 0.0f);
        const float iscale = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; ++j)
            sc[j] = (signed char)clamp_round(iscale * scales[j], -128, 127);
    }
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)sc[j];
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = dl != 0.0f ? (unsigned char)(clamp_round(x[16 * j + i] / dl, -32, 31) + 32) : 32;
    }
    /* half h: ql[64h + l] low/high nibble → 128h + l / 128h + 64 + l (l < 64);
     * qh[32h + l] shift 2k → high 2 bits of 128h + 32k + l */
    for (int h = 0; h < 2; ++h) {
        for (int l = 0; l < 64; ++l)
            out[64 * h + l] = (unsigned char)((L[128 * h + l] & 0xF) | ((L[128 * h + 64 + l] & 0xF) << 4));
        for (int l = 0; l < 32; ++l) {
            const unsigned char *e = L + 128 * h + l;
            out[128 + 32 * h + l] =
                (unsigned char)((e[0] >> 4) | ((e[32] >> 4) << 2) | ((e[64] >> 4) << 4) | ((e[96] >> 4) << 6));
        }
    }
}

void lowbit_quantize_row_q6_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_q6_k(src + b * QK_K, importance ? importance + b * QK_K : NULL,
                            (unsigned char *)dst + b * Q6_K_BYTES);
}

void lowbit_dequantize_row_q6_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_q6_k((const unsigned char *)src + b * 210, dst + b * 256);
}

/* --- Q8_K (activations only): f32 d, int8 qs[256], int16 bsums[16] (sum of each 16 quants) ---- */
#define Q8_K_BYTES 292

void lowbit_quantize_row_q8_k(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    for (size_t b = 0; b < cols / QK_K; ++b) {
        const float *x = src + b * QK_K;
        unsigned char *out = (unsigned char *)dst + b * Q8_K_BYTES;
        float max = 0.0f, amax = 0.0f;
        for (int i = 0; i < QK_K; ++i) {
            if (fabsf(x[i]) > amax) {
                amax = fabsf(x[i]);
                max = x[i];
            }
        }
        memset(out, 0, Q8_K_BYTES);
        if (!(amax > 0.0f) || isinf(amax)) continue; /* zero (or unrepresentable) block: d = 0, all quants 0 */
        const float iscale = -127.0f / max;
        int q[QK_K];
        for (int i = 0; i < QK_K; ++i) {
            q[i] = clamp_round(iscale * x[i], -127, 127);
            out[4 + i] = (unsigned char)(signed char)q[i];
        }
        const float d = 1.0f / iscale;
        memcpy(out, &d, sizeof d); /* little-endian hosts only, like every other layout here */
        for (int j = 0; j < 16; ++j) {
            int sum = 0;
            for (int i = 0; i < 16; ++i)
                sum += q[16 * j + i];
            lowbit_store_u16le(out + 260 + 2 * j, (unsigned)(uint16_t)(int16_t)sum);
        }
    }
}
