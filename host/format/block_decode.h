/* block_decode.h — one block of each stored format decoded into floats, the layouts of docs/formats.md
 * (offsets and sizes from shaders/common/lowbit_formats.h) as code: the reference dequantizers (legacy.c, kquants.c,
 * iquants.c, ternary.c) loop over rows of them, and the CPU backend's fused kernels inline them into their
 * multiversioned GEMV. Each repeats the reference's float operations in order (a product rounded before
 * its offset is added: no FMA contraction in the ISO C build), so every caller gets bit-exact weights. The
 * loops run over contiguous bytes with constant trip counts and the sub-block scale hoisted, which
 * compilers vectorize. */
#ifndef LOWBIT_BLOCK_DECODE_H
#define LOWBIT_BLOCK_DECODE_H

#include <stdint.h>
#include <string.h>

#include "../../shaders/common/lowbit_formats.h"
#include "lowbit/lowbit_format.h"

#define LOWBIT_DECODE_INLINE __attribute__((always_inline, unused)) static inline

LOWBIT_DECODE_INLINE uint32_t lowbit_decode_u16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

LOWBIT_DECODE_INLINE float lowbit_decode_half(const unsigned char *p)
{
    return lowbit_fp16_to_fp32((uint16_t)lowbit_decode_u16(p));
}

LOWBIT_DECODE_INLINE uint32_t lowbit_decode_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

__attribute__((unused)) static const signed char lowbit_iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                                          1,    13,   25,  38,  53,  69,  89,  113};

/* Q4_1: f16 d, f16 m, qs[16]; x = d·q + m (the product rounded first, as in the reference). */
LOWBIT_DECODE_INLINE void lowbit_decode_q4_1(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in), m = lowbit_decode_half(in + 2);
    for (int j = 0; j < 16; ++j) {
        const float p0 = d * (float)(in[4 + j] & 0x0F), p1 = d * (float)(in[4 + j] >> 4);
        y[j] = p0 + m;
        y[j + 16] = p1 + m;
    }
}

/* Q5_0 / Q5_1: the fifth bit of element j is bit j of the little-endian qh word. */
LOWBIT_DECODE_INLINE void lowbit_decode_q5(const unsigned char *restrict in, float *restrict y, int affine)
{
    const float d = lowbit_decode_half(in), m = affine ? lowbit_decode_half(in + 2) : 0.0f;
    const unsigned char *qh_bytes = in + (affine ? 4 : 2), *qs = qh_bytes + 4;
    const uint32_t qh = lowbit_decode_u32(qh_bytes);
    for (int j = 0; j < 16; ++j) {
        const int q0 = (qs[j] & 0x0F) | (int)(((qh >> j) & 1u) << 4);
        const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
        if (affine) {
            const float p0 = d * (float)q0, p1 = d * (float)q1;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        } else {
            y[j] = d * (float)(q0 - 16);
            y[j + 16] = d * (float)(q1 - 16);
        }
    }
}
LOWBIT_DECODE_INLINE void lowbit_decode_q5_0(const unsigned char *restrict in, float *restrict y)
{
    lowbit_decode_q5(in, y, 0);
}
LOWBIT_DECODE_INLINE void lowbit_decode_q5_1(const unsigned char *restrict in, float *restrict y)
{
    lowbit_decode_q5(in, y, 1);
}

LOWBIT_DECODE_INLINE void lowbit_decode_iq4_nl(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in);
    for (int j = 0; j < 16; ++j) {
        y[j] = d * (float)lowbit_iq4_levels[in[2 + j] & 0x0F];
        y[j + 16] = d * (float)lowbit_iq4_levels[in[2 + j] >> 4];
    }
}

/* Q2_K: scales[16] (4-bit scale | 4-bit min), qs[64], f16 d, f16 dmin. Element 128h + 32k + l is bits 2k of
 * qs[32h + l]; its sub-block (16 elements) is 8h + 2k + l/16. */
LOWBIT_DECODE_INLINE void lowbit_decode_q2_k(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + 80), dmin = lowbit_decode_half(in + 82);
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k)
            for (int half = 0; half < 2; ++half) {
                const int j = 8 * h + 2 * k + half;
                const float dl = d * (float)(in[j] & 0xF), ml = dmin * (float)(in[j] >> 4);
                const unsigned char *qs = in + 16 + 32 * h + 16 * half;
                float *out = y + 128 * h + 32 * k + 16 * half;
                for (int i = 0; i < 16; ++i) {
                    const float p = dl * (float)((qs[i] >> (2 * k)) & 3);
                    out[i] = p - ml;
                }
            }
}

/* Q3_K: hmask[32], qs[64], scales[12] (16 × 6 bits, −32), f16 d. Element 128h + 32k + l: low bits 2k of
 * qs[32h + l], high bit 4h + k of hmask[l] (a clear bit subtracts 4). */
LOWBIT_DECODE_INLINE void lowbit_decode_q3_k(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + 108);
    const unsigned char *s = in + 96;
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k)
            for (int half = 0; half < 2; ++half) {
                const int j = 8 * h + 2 * k + half, bit = 4 * h + k;
                const int lo = (s[j % 8] >> (4 * (j / 8))) & 0xF, hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
                const float dl = d * (float)((lo | (hi << 4)) - 32);
                const unsigned char *qs = in + 32 + 32 * h + 16 * half, *hm = in + 16 * half;
                float *out = y + 128 * h + 32 * k + 16 * half;
                for (int i = 0; i < 16; ++i) {
                    const int q = ((qs[i] >> (2 * k)) & 3) - (((hm[i] >> bit) & 1) ? 0 : 4);
                    out[i] = dl * (float)q;
                }
            }
}

/* Q4_K / Q5_K: sub-block j's 6-bit scale and min from the 12 packed bytes at s. */
LOWBIT_DECODE_INLINE void lowbit_decode_k4_scale_min(const unsigned char *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Q4_K / Q5_K: f16 d, f16 dmin, scales[12] (8 × 6-bit scale and min), [qh[32]], qs[128]. Sub-block j
 * (32 elements) is nibble plane j % 2 of qs[32·(j/2)..]; Q5_K's fifth bit is bit j of qh[l]. */
LOWBIT_DECODE_INLINE void lowbit_decode_k4(const unsigned char *restrict in, float *restrict y, int five_bits)
{
    const float d = lowbit_decode_half(in), dmin = lowbit_decode_half(in + 2);
    const unsigned char *s = in + 4, *qh = in + 16, *qs = in + (five_bits ? 48 : 16);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        lowbit_decode_k4_scale_min(s, j, &sc, &m);
        const float dl = d * (float)sc, ml = dmin * (float)m;
        const unsigned char *chunk = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) {
            int q = (chunk[l] >> shift) & 0xF;
            if (five_bits) q |= ((qh[l] >> j) & 1) << 4;
            const float p = dl * (float)q;
            y[32 * j + l] = p - ml;
        }
    }
}
LOWBIT_DECODE_INLINE void lowbit_decode_q4_k(const unsigned char *restrict in, float *restrict y)
{
    lowbit_decode_k4(in, y, 0);
}
LOWBIT_DECODE_INLINE void lowbit_decode_q5_k(const unsigned char *restrict in, float *restrict y)
{
    lowbit_decode_k4(in, y, 1);
}

/* Q6_K: ql[128], qh[64], int8 scales[16], f16 d. Element 128h + 32k + l: low nibble plane k / 2 of
 * ql[64h + 32·(k%2) + l], high bits 2k of qh[32h + l]; sub-block 8h + 2k + l/16. */
LOWBIT_DECODE_INLINE void lowbit_decode_q6_k(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + 208);
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k)
            for (int half = 0; half < 2; ++half) {
                const float dl = d * (float)(signed char)in[192 + 8 * h + 2 * k + half];
                const unsigned char *ql = in + 64 * h + 32 * (k % 2) + 16 * half, *qh = in + 128 + 32 * h + 16 * half;
                float *out = y + 128 * h + 32 * k + 16 * half;
                for (int i = 0; i < 16; ++i) {
                    const int q = ((ql[i] >> (4 * (k / 2))) & 0xF) | (((qh[i] >> (2 * k)) & 3) << 4);
                    out[i] = dl * (float)(q - 32);
                }
            }
}

/* IQ4_XS: f16 d, scales_h (2 high bits × 8), scales_l[4] (4 low bits × 8), qs[128]; x = d·(ls − 32)·level. */
LOWBIT_DECODE_INLINE void lowbit_decode_iq4_xs(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in);
    const unsigned scales_h = lowbit_decode_u16(in + 2);
    for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((in[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (int)(((scales_h >> (2 * ib)) & 3u) << 4);
        const float dl = d * (float)(ls - 32);
        const unsigned char *qs = in + 8 + 16 * ib;
        for (int j = 0; j < 16; ++j) {
            y[32 * ib + j] = dl * (float)lowbit_iq4_levels[qs[j] & 0xF];
            y[32 * ib + j + 16] = dl * (float)lowbit_iq4_levels[qs[j] >> 4];
        }
    }
}

/* TQ1_0: qs[48] of five base-3 digits each (scaled to a byte), qh[4] of four, f16 d. Digit p of byte b is
 * ((b·3^p mod 256)·3) >> 8. */
LOWBIT_DECODE_INLINE void lowbit_decode_tq1_0(const unsigned char *restrict in, float *restrict y)
{
    static const unsigned powers[5] = {1, 3, 9, 27, 81};
    const float d = lowbit_decode_half(in + 52);
    for (int p = 0; p < 5; ++p) {
        for (int l = 0; l < 32; ++l)
            y[32 * p + l] = d * (float)((int)((((unsigned char)(in[l] * powers[p])) * 3u) >> 8) - 1);
        for (int l = 0; l < 16; ++l)
            y[160 + 16 * p + l] = d * (float)((int)((((unsigned char)(in[32 + l] * powers[p])) * 3u) >> 8) - 1);
    }
    for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 4; ++l)
            y[240 + 4 * p + l] = d * (float)((int)((((unsigned char)(in[48 + l] * powers[p])) * 3u) >> 8) - 1);
}

/* TQ2_0: qs[64] of four 2-bit digits (q − 1), f16 d. */
LOWBIT_DECODE_INLINE void lowbit_decode_tq2_0(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + 64);
    for (int c = 0; c < 2; ++c)
        for (int k = 0; k < 4; ++k)
            for (int l = 0; l < 32; ++l)
                y[128 * c + 32 * k + l] = d * (float)((int)((in[32 * c + l] >> (2 * k)) & 3) - 1);
}

/* The 16 E2M1 (FP4) values of MXFP4 and NVFP4, doubled so they are integers: {0, 0.5, 1, 1.5, 2, 3, 4, 6}
 * and their negatives; the scales are decoded at half their value to make up for it (docs/formats.md §3.5). */
__attribute__((unused)) static const signed char lowbit_fp4_levels[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                                                          0, -1, -2, -3, -4, -6, -8, -12};

LOWBIT_DECODE_INLINE float lowbit_bits_to_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* E8M0 shared exponent e → 2^(e − 128) (half of 2^(e − 127)); e = 0 and 1 are the f32 subnormals. */
LOWBIT_DECODE_INLINE float lowbit_decode_e8m0_half(unsigned e)
{
    return lowbit_bits_to_float(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

/* Unsigned E4M3 (bias 7, no sign; bytes 0 and 0x7F read as 0) → half its value. Built from the bits: the
 * same value as the reference's ldexp form, exactly. */
LOWBIT_DECODE_INLINE float lowbit_decode_ue4m3_half(unsigned x)
{
    if (x == 0 || x == 0x7F) return 0.0f;
    const unsigned exponent = (x >> 3) & 0xFu, mantissa = x & 7u;
    if (exponent == 0) return (float)mantissa * 0x1p-10f;                      /* m·2⁻⁹, halved */
    return lowbit_bits_to_float(((exponent + 119u) << 23) | (mantissa << 20)); /* (1 + m/8)·2^(e−7), halved */
}

/* MXFP4: e, qs[16]; element j (< 16) is the low nibble of qs[j], j + 16 its high nibble. */
LOWBIT_DECODE_INLINE void lowbit_decode_mxfp4(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_e8m0_half(in[LOWBIT_MXFP4_E]);
    const unsigned char *qs = in + LOWBIT_MXFP4_QS;
    for (int j = 0; j < 16; ++j) {
        y[j] = (float)lowbit_fp4_levels[qs[j] & 0x0F] * d;
        y[j + 16] = (float)lowbit_fp4_levels[qs[j] >> 4] * d;
    }
}

/* NVFP4: d[4] (one UE4M3 scale per 16 elements), qs[32]; element 16s + j (j < 8) is the low nibble of
 * qs[8s + j], 16s + j + 8 its high nibble. */
LOWBIT_DECODE_INLINE void lowbit_decode_nvfp4(const unsigned char *restrict in, float *restrict y)
{
    for (int s = 0; s < LOWBIT_NVFP4_BLOCK / LOWBIT_NVFP4_SUB; ++s) {
        const float d = lowbit_decode_ue4m3_half(in[LOWBIT_NVFP4_D + s]);
        const unsigned char *qs = in + LOWBIT_NVFP4_QS + 8 * s;
        for (int j = 0; j < 8; ++j) {
            y[16 * s + j] = (float)lowbit_fp4_levels[qs[j] & 0x0F] * d;
            y[16 * s + j + 8] = (float)lowbit_fp4_levels[qs[j] >> 4] * d;
        }
    }
}

/* Q1_0: f16 d, qs[16]; bit j % 8 of qs[j / 8] set: +d, clear: −d. */
LOWBIT_DECODE_INLINE void lowbit_decode_q1_0(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_Q1_0_D), neg_d = -d;
    const unsigned char *qs = in + LOWBIT_Q1_0_QS;
    for (int j = 0; j < LOWBIT_Q1_0_BLOCK; ++j)
        y[j] = ((qs[j / 8] >> (j % 8)) & 1) ? d : neg_d;
}

/* Q2_0: f16 d, qs[16]; element j is bits 2·(j % 4) of qs[j / 4], x = (q − 1)·d, q ∈ {0..3}. */
LOWBIT_DECODE_INLINE void lowbit_decode_q2_0(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_Q2_0_D);
    const unsigned char *qs = in + LOWBIT_Q2_0_QS;
    for (int j = 0; j < LOWBIT_Q2_0_BLOCK; ++j)
        y[j] = (float)((int)((qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
}

#include "grid_decode.h"
#endif
