/* grid_decode.h — one block of each grid (codebook) format decoded into 256 floats: IQ2_XXS, IQ2_XS, IQ2_S,
 * IQ3_XXS, IQ3_S, IQ1_S, IQ1_M (docs/formats.md §3.7; offsets from shaders/common/lowbit_formats.h, codebooks
 * from shaders/common/lowbit_grids.h). Included by block_decode.h, so the reference dequantizers (grids.c) and
 * the CPU backend's fused kernels share them. As everywhere in block_decode.h, each element repeats the
 * reference's float operations in order: the sub-block factor first (d·(0.5 + s)·0.25 is two roundings), then
 * factor·magnitude rounded, then the sign as a multiplication by ±1 (IQ1: factor·(value + δ)). */
#ifndef LOWBIT_GRID_DECODE_H
#define LOWBIT_GRID_DECODE_H

#include "block_decode.h"

#include "../../shaders/common/lowbit_grids.h"

/* The codebooks as lowbit_grids.h packs them: entry i is the 16-bit code in half i % 2 of word i / 2. */
__attribute__((unused)) static const uint32_t lowbit_grid_iq2xxs[] = {LOWBIT_GRID_IQ2XXS_WORDS};
__attribute__((unused)) static const uint32_t lowbit_grid_iq2xs[] = {LOWBIT_GRID_IQ2XS_WORDS};
__attribute__((unused)) static const uint32_t lowbit_grid_iq2s[] = {LOWBIT_GRID_IQ2S_WORDS};
__attribute__((unused)) static const uint32_t lowbit_grid_iq3xxs[] = {LOWBIT_GRID_IQ3XXS_WORDS};
__attribute__((unused)) static const uint32_t lowbit_grid_iq3s[] = {LOWBIT_GRID_IQ3S_WORDS};
__attribute__((unused)) static const uint32_t lowbit_grid_iq1s[] = {LOWBIT_GRID_IQ1S_WORDS};

_Static_assert(sizeof lowbit_grid_iq2xxs / sizeof(uint32_t) * 2 == LOWBIT_GRID_IQ2XXS_ENTRIES, "IQ2XXS grid size");
_Static_assert(sizeof lowbit_grid_iq2xs / sizeof(uint32_t) * 2 == LOWBIT_GRID_IQ2XS_ENTRIES, "IQ2XS grid size");
_Static_assert(sizeof lowbit_grid_iq2s / sizeof(uint32_t) * 2 == LOWBIT_GRID_IQ2S_ENTRIES, "IQ2S grid size");
_Static_assert(sizeof lowbit_grid_iq3xxs / sizeof(uint32_t) * 2 == LOWBIT_GRID_IQ3XXS_ENTRIES, "IQ3XXS grid size");
_Static_assert(sizeof lowbit_grid_iq3s / sizeof(uint32_t) * 2 == LOWBIT_GRID_IQ3S_ENTRIES, "IQ3S grid size");
_Static_assert(sizeof lowbit_grid_iq1s / sizeof(uint32_t) * 2 == LOWBIT_GRID_IQ1S_ENTRIES, "IQ1S grid size");

/* The 16-bit code of entry `index` (every caller's index fits its grid: 8 to 11 bits, by construction). */
LOWBIT_DECODE_INLINE uint32_t lowbit_grid_code(const uint32_t *grid, uint32_t index)
{
    return (grid[index >> 1] >> (16u * (index & 1u))) & 0xFFFFu;
}

/* A 7-bit sign index → the 8-bit negation mask: bit 7 is the parity of the 7 (an even count of minus signs). */
LOWBIT_DECODE_INLINE uint32_t lowbit_ksigns(uint32_t index)
{
    uint32_t parity = index ^ (index >> 4);
    parity ^= parity >> 2;
    parity ^= parity >> 1;
    return (index & 0x7Fu) | ((parity & 1u) << 7);
}

/* Bit j of `signs` set: −1, else +1 (a multiplication, as in the reference, not a sign flip). */
LOWBIT_DECODE_INLINE float lowbit_grid_sign(uint32_t signs, int j) { return ((signs >> j) & 1u) ? -1.0f : 1.0f; }

/* One IQ2 group: 8 magnitudes of 2-bit codes c (element j at bits 2j) → 8 + 17c + (c >> 1) ∈ {8, 25, 43}. */
LOWBIT_DECODE_INLINE void lowbit_grid_iq2_group(uint32_t code, uint32_t signs, float dl, float *restrict y)
{
    for (int j = 0; j < 8; ++j) {
        const uint32_t c = (code >> (2 * j)) & 3u;
        const float p = dl * (float)(8u + 17u * c + (c >> 1));
        y[j] = p * lowbit_grid_sign(signs, j);
    }
}

/* IQ3_XXS magnitude of a 3-bit code: 4 + 8c, except c = 7 → 62. */
LOWBIT_DECODE_INLINE uint32_t lowbit_grid_iq3xxs_value(uint32_t c) { return c == 7u ? 62u : 4u + 8u * c; }

/* One IQ3 group of 8 elements: two quads (codes q0, q1; element k at bits 3k), one sign byte over all 8. */
LOWBIT_DECODE_INLINE void lowbit_grid_iq3_group(uint32_t q0, uint32_t q1, int xxs, uint32_t signs, float dl,
                                                float *restrict y)
{
    for (int j = 0; j < 8; ++j) {
        const uint32_t c = ((j < 4 ? q0 : q1) >> (3 * (j % 4))) & 7u;
        const float p = dl * (float)(xxs ? lowbit_grid_iq3xxs_value(c) : 1u + 2u * c);
        y[j] = p * lowbit_grid_sign(signs, j);
    }
}

/* One IQ1 group: 8 signed values c − 1 ∈ {−1, 0, 1} (2-bit codes, element j at bits 2j) shifted by δ, then
 * scaled: dl·(v + δ), the sum exact and the product rounded once. */
LOWBIT_DECODE_INLINE void lowbit_grid_iq1_group(uint32_t code, float dl, float delta, float *restrict y)
{
    for (int j = 0; j < 8; ++j) {
        const int v = (int)((code >> (2 * j)) & 3u) - 1;
        y[j] = dl * ((float)v + delta);
    }
}

#define LOWBIT_IQ1_DELTA 0.125f

/* IQ2_XXS: f16 d, then per 32 elements two u32: w0 holds the 4 grid indices (byte l), w1 the 4 sign indices
 * (bits 7l..7l+6) and the scale s (bits 28–31); factor d·(0.5 + s)·0.25. */
LOWBIT_DECODE_INLINE void lowbit_decode_iq2_xxs(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_IQ2_XXS_D);
    for (int b = 0; b < 8; ++b) {
        const unsigned char *q = in + LOWBIT_IQ2_XXS_QS + 8 * b;
        const uint32_t w0 = lowbit_decode_u32(q), w1 = lowbit_decode_u32(q + 4);
        const float db = d * (0.5f + (float)(w1 >> 28)) * 0.25f;
        for (int l = 0; l < 4; ++l)
            lowbit_grid_iq2_group(lowbit_grid_code(lowbit_grid_iq2xxs, (w0 >> (8 * l)) & 0xFFu),
                                  lowbit_ksigns((w1 >> (7 * l)) & 0x7Fu), db, y + 32 * b + 8 * l);
    }
}

/* IQ2_XS: f16 d, u16 qs[32] (9-bit grid index | 7-bit sign index << 9), scales[8]: the low nibble scales the
 * first 16 elements of a 32, the high nibble the second 16. */
LOWBIT_DECODE_INLINE void lowbit_decode_iq2_xs(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_IQ2_XS_D);
    for (int b = 0; b < 8; ++b) {
        const unsigned sc = in[LOWBIT_IQ2_XS_SCALES + b];
        const float db[2] = {d * (0.5f + (float)(sc & 0xFu)) * 0.25f, d * (0.5f + (float)(sc >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l) {
            const uint32_t q = lowbit_decode_u16(in + LOWBIT_IQ2_XS_QS + 2 * (4 * b + l));
            lowbit_grid_iq2_group(lowbit_grid_code(lowbit_grid_iq2xs, q & 0x1FFu), lowbit_ksigns(q >> 9), db[l / 2],
                                  y + 32 * b + 8 * l);
        }
    }
}

/* IQ2_S: f16 d, 32 grid index bytes, 32 sign bytes (all 8 signs, no parity), qh[8] (bits 2l..2l+1: index bits
 * 8–9 of group l), scales[8] as IQ2_XS. */
LOWBIT_DECODE_INLINE void lowbit_decode_iq2_s(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_IQ2_S_D);
    const unsigned char *qs = in + LOWBIT_IQ2_S_QS, *signs = qs + 32;
    for (int b = 0; b < 8; ++b) {
        const unsigned sc = in[LOWBIT_IQ2_S_SCALES + b], qh = in[LOWBIT_IQ2_S_QH + b];
        const float db[2] = {d * (0.5f + (float)(sc & 0xFu)) * 0.25f, d * (0.5f + (float)(sc >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l) {
            const uint32_t index = qs[4 * b + l] | (((qh >> (2 * l)) & 3u) << 8);
            lowbit_grid_iq2_group(lowbit_grid_code(lowbit_grid_iq2s, index), signs[4 * b + l], db[l / 2],
                                  y + 32 * b + 8 * l);
        }
    }
}

/* IQ3_XXS: f16 d, 64 quad index bytes, then per 32 elements a u32 of 4 sign indices (group l: bits 7l..7l+6)
 * and s (bits 28–31); factor d·(0.5 + s)·0.5. */
LOWBIT_DECODE_INLINE void lowbit_decode_iq3_xxs(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_IQ3_XXS_D);
    const unsigned char *qs = in + LOWBIT_IQ3_XXS_QS;
    for (int b = 0; b < 8; ++b) {
        const uint32_t aux = lowbit_decode_u32(qs + 64 + 4 * b);
        const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l)
            lowbit_grid_iq3_group(lowbit_grid_code(lowbit_grid_iq3xxs, qs[8 * b + 2 * l]),
                                  lowbit_grid_code(lowbit_grid_iq3xxs, qs[8 * b + 2 * l + 1]), 1,
                                  lowbit_ksigns((aux >> (7 * l)) & 0x7Fu), db, y + 32 * b + 8 * l);
    }
}

/* IQ3_S: f16 d, qs[64], qh[8] (bit k of qh[b]: index bit 8 of quad k of sub-block b), signs[32] (full bytes),
 * scales[4] (nibble b % 2 of scales[b / 2]); factor d·(1 + 2s). */
LOWBIT_DECODE_INLINE void lowbit_decode_iq3_s(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_IQ3_S_D);
    const unsigned char *qs = in + LOWBIT_IQ3_S_QS, *signs = in + LOWBIT_IQ3_S_SIGNS;
    for (int b = 0; b < 8; ++b) {
        const unsigned qh = in[LOWBIT_IQ3_S_QH + b];
        const int s = (in[LOWBIT_IQ3_S_SCALES + b / 2] >> (4 * (b % 2))) & 0xF;
        const float db = d * (float)(1 + 2 * s);
        for (int l = 0; l < 4; ++l) {
            const int k = 2 * l;
            const uint32_t i0 = qs[8 * b + k] | (((qh >> k) & 1u) << 8);
            const uint32_t i1 = qs[8 * b + k + 1] | (((qh >> (k + 1)) & 1u) << 8);
            lowbit_grid_iq3_group(lowbit_grid_code(lowbit_grid_iq3s, i0), lowbit_grid_code(lowbit_grid_iq3s, i1), 0,
                                  signs[4 * b + l], db, y + 32 * b + 8 * l);
        }
    }
}

/* IQ1_S: f16 d, qs[32] (index bits 0–7), u16 qh[8]: bits 3l..3l+2 index bits 8–10 of group l, bits 12–14 s,
 * bit 15 the sign of δ; factor d·(2s + 1). */
LOWBIT_DECODE_INLINE void lowbit_decode_iq1_s(const unsigned char *restrict in, float *restrict y)
{
    const float d = lowbit_decode_half(in + LOWBIT_IQ1_S_D);
    const unsigned char *qs = in + LOWBIT_IQ1_S_QS;
    for (int b = 0; b < 8; ++b) {
        const uint32_t qh = lowbit_decode_u16(in + LOWBIT_IQ1_S_QH + 2 * b);
        const float dl = d * (float)(2 * (int)((qh >> 12) & 7u) + 1);
        const float delta = (qh & 0x8000u) ? -LOWBIT_IQ1_DELTA : LOWBIT_IQ1_DELTA;
        for (int l = 0; l < 4; ++l) {
            const uint32_t index = qs[4 * b + l] | (((qh >> (3 * l)) & 7u) << 8);
            lowbit_grid_iq1_group(lowbit_grid_code(lowbit_grid_iq1s, index), dl, delta, y + 32 * b + 8 * l);
        }
    }
}

/* IQ1_M: qs[32], qh[16] (a nibble per group: bits 0–2 index bits 8–10, bit 3 the sign of δ; group l of
 * sub-block b in nibble l % 2 of qh[2b + l / 2]), four u16 scales words: 3-bit s per 16 elements (half t of
 * sub-block b at bit 6·(b % 2) + 3t of word b / 2), and the f16 d from the words' top nibbles (word i → d bits
 * 4i..4i+3). */
LOWBIT_DECODE_INLINE void lowbit_decode_iq1_m(const unsigned char *restrict in, float *restrict y)
{
    uint32_t sc[4];
    for (int i = 0; i < 4; ++i)
        sc[i] = lowbit_decode_u16(in + LOWBIT_IQ1_M_SCALES + 2 * i);
    const uint32_t bits = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0u) | ((sc[2] >> 4) & 0x0F00u) | (sc[3] & 0xF000u);
    const float d = lowbit_fp16_to_fp32((uint16_t)bits);
    const unsigned char *qs = in + LOWBIT_IQ1_M_QS, *qh = in + LOWBIT_IQ1_M_QH;
    for (int b = 0; b < 8; ++b) {
        const uint32_t w = sc[b / 2] >> (6 * (b % 2));
        const float dl[2] = {d * (float)(2 * (int)(w & 7u) + 1), d * (float)(2 * (int)((w >> 3) & 7u) + 1)};
        for (int l = 0; l < 4; ++l) {
            const uint32_t nibble = (uint32_t)(qh[2 * b + l / 2] >> (4 * (l % 2))) & 0xFu;
            const uint32_t index = qs[4 * b + l] | ((nibble & 7u) << 8);
            const float delta = (nibble & 8u) ? -LOWBIT_IQ1_DELTA : LOWBIT_IQ1_DELTA;
            lowbit_grid_iq1_group(lowbit_grid_code(lowbit_grid_iq1s, index), dl[l / 2], delta, y + 32 * b + 8 * l);
        }
    }
}

#endif
