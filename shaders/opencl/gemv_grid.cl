/* gemv_grid.cl — the grid (codebook) formats read in their stored layout: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
 * IQ3_S, IQ1_S, IQ1_M (256-element blocks). One build option selects the kernel (LOWBIT_GEMV_IQ2_XXS, ...);
 * gemv_stored.cl, embedded after this file, is the GEMV frame and asks for one 32-element sub-block (a
 * chunk) at a time. Layouts and element order: docs/formats.md §3.7; offsets from lowbit_formats.h and the
 * codebooks, in lowbit's compact encoding, from lowbit_grids.h (both embedded first). Every weight is the
 * reference dequantizer's exactly: the sub-block factor is formed first in the reference's order, then
 * multiplied by the integer magnitude, and a sign only flips the product's sign bit (the reference's ·−1).
 * Every format also has load_chunk_int, the integer decode for the integer-dot frame gemv_int.cl (LOWBIT_DOT_INT):
 * the signed grid magnitudes as integers with the sub-block factor as the scale; IQ1_S and IQ1_M, whose
 * weights are dl·(grid + δ) with δ = ±1/8, as q = 8·grid ± 1 with scale dl/8 (exact, no offset). */

#define GEMV_HAS_TAIL 0
#define BLOCK_ELEMS LOWBIT_QK_K
#define ROW_BYTES(cols) ((size_t)(cols) / BLOCK_ELEMS * BLOCK_BYTES)

/* The little-endian 32-bit word at an even offset (blocks are only 2-byte aligned). */
GEMV_INLINE uint load_u32_even(__global const uchar *p)
{
    return load_u16(p) | (load_u16(p + 2) << 16);
}

/* Entry e of a compact grid: 16-bit codes, entry 2i in the low half of word i. */
GEMV_INLINE uint grid_code(__constant const uint *grid, uint e)
{
    return (grid[e >> 1] >> ((e & 1u) << 4)) & 0xFFFFu;
}

/* A 7-bit sign index → the 8-bit mask with the parity of the 7 as bit 7 (an even count of minus signs). */
GEMV_INLINE uint parity_signs(uint s)
{
    return s | ((popcount(s) & 1u) << 7);
}

/* Lane k negated where bit k of `mask` is set: only the sign bit changes, as the reference's ·(−1). */
GEMV_INLINE float8 apply_signs(float8 v, uint mask)
{
    const uint8 bit = ((uint8)mask << (uint8)(31, 30, 29, 28, 27, 26, 25, 24)) & (uint8)0x80000000u;
    return as_float8(as_uint8(v) ^ bit);
}

/* The 8 two-bit codes of an IQ2 or IQ1 grid entry, element k at bits 2k. */
GEMV_INLINE uint8 codes2(uint code)
{
    return ((uint8)code >> (uint8)(0, 2, 4, 6, 8, 10, 12, 14)) & (uint8)3u;
}

/* Eight 3-bit codes (two IQ3 quads, the second at bit 12), element k at bits 3k. */
GEMV_INLINE uint8 codes3(uint code)
{
    return ((uint8)code >> (uint8)(0, 3, 6, 9, 12, 15, 18, 21)) & (uint8)7u;
}

/* IQ2 group: code c → magnitude 8 + 17c + (c >> 1) ∈ {8, 25, 43}; x = (db·magnitude)·(±1). */
GEMV_INLINE float8 iq2_group(__constant const uint *grid, uint index, uint signs, float db)
{
    const uint8 c = codes2(grid_code(grid, index));
    return apply_signs(db * convert_float8(c * (uint8)17u + (uint8)8u + (c >> (uint8)1u)), signs);
}

/* IQ1 group: code c → c − 1 ∈ {−1, 0, 1}; x = dl·(grid + δ). */
GEMV_INLINE float8 iq1_group(__constant const uint *grid, uint index, float delta, float dl)
{
    const int8 g = as_int8(codes2(grid_code(grid, index))) - (int8)1;
    return dl * (convert_float8(g) + delta);
}

/* The integer decode's versions of the above: lane k negated where bit k of `mask` is set (−v = (v ^ −1) + 1). */
GEMV_INLINE char8 apply_signs_int(char8 v, uint mask)
{
    const char8 negative = convert_char8(((uint8)mask >> (uint8)(0, 1, 2, 3, 4, 5, 6, 7)) & (uint8)1u);
    return (v ^ -negative) + negative;
}
/* IQ2 group as signed magnitudes. */
GEMV_INLINE char8 iq2_group_int(__constant const uint *grid, uint index, uint signs)
{
    const uint8 c = codes2(grid_code(grid, index));
    return apply_signs_int(convert_char8(c * (uint8)17u + (uint8)8u + (c >> (uint8)1u)), signs);
}
/* IQ1 group as 8·grid + 1, or 8·grid − 1 when δ is negative: 8·(grid + δ). */
GEMV_INLINE char8 iq1_group_int(__constant const uint *grid, uint index, int negative_delta)
{
    const int8 g = as_int8(codes2(grid_code(grid, index))) - (int8)1;
    return convert_char8(g * (int8)8 + (int8)(negative_delta ? -1 : 1));
}

#if defined(LOWBIT_GEMV_IQ2_XXS)
#define GEMV_KERNEL gemv_iq2_xxs
#define BLOCK_BYTES LOWBIT_IQ2_XXS_BYTES /* 66: f16 d, then 8 bytes a sub-block */
__constant uint grid_iq2xxs[] = {LOWBIT_GRID_IQ2XXS_WORDS};
/* Sub-block b: bytes 0..3 at 2 + 8b are the groups' grid indices; the u32 after them holds the four 7-bit
 * sign indices (bits 7l..7l+6) and s (bits 28–31). db = d·(0.5 + s)·0.25 */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *q = block + LOWBIT_IQ2_XXS_QS + 8 * chunk;
    const float d = load_f16(block + LOWBIT_IQ2_XXS_D);
    const uint idx01 = load_u16(q), idx23 = load_u16(q + 2), aux = load_u32_even(q + 4);
    const float db = d * (0.5f + (float)(aux >> 28)) * 0.25f;
    *w0 = (float16)(iq2_group(grid_iq2xxs, idx01 & 255u, parity_signs(aux & 127u), db),
                    iq2_group(grid_iq2xxs, idx01 >> 8, parity_signs((aux >> 7) & 127u), db));
    *w1 = (float16)(iq2_group(grid_iq2xxs, idx23 & 255u, parity_signs((aux >> 14) & 127u), db),
                    iq2_group(grid_iq2xxs, idx23 >> 8, parity_signs((aux >> 21) & 127u), db));
}
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *q = block + LOWBIT_IQ2_XXS_QS + 8 * chunk;
    const float d = load_f16(block + LOWBIT_IQ2_XXS_D);
    const uint idx01 = load_u16(q), idx23 = load_u16(q + 2), aux = load_u32_even(q + 4);
    *q0 = (char16)(iq2_group_int(grid_iq2xxs, idx01 & 255u, parity_signs(aux & 127u)),
                   iq2_group_int(grid_iq2xxs, idx01 >> 8, parity_signs((aux >> 7) & 127u)));
    *q1 = (char16)(iq2_group_int(grid_iq2xxs, idx23 & 255u, parity_signs((aux >> 14) & 127u)),
                   iq2_group_int(grid_iq2xxs, idx23 >> 8, parity_signs((aux >> 21) & 127u)));
    *scale = (float2)(d * (0.5f + (float)(aux >> 28)) * 0.25f);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ2_XS)
#define GEMV_KERNEL gemv_iq2_xs
#define BLOCK_BYTES LOWBIT_IQ2_XS_BYTES /* 74: f16 d, u16 qs[32], scales[8] */
__constant uint grid_iq2xs[] = {LOWBIT_GRID_IQ2XS_WORDS};
/* Group g = 4b + l is u16 qs[g]: 9-bit grid index, 7-bit sign index above it. scales[b]: low nibble for
 * the first 16 elements of b, high nibble for the second. db = d·(0.5 + s)·0.25 */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *q = block + LOWBIT_IQ2_XS_QS + 8 * chunk;
    const float d = load_f16(block + LOWBIT_IQ2_XS_D);
    const uint sc = block[LOWBIT_IQ2_XS_SCALES + chunk];
    const float db0 = d * (0.5f + (float)(sc & 15u)) * 0.25f;
    const float db1 = d * (0.5f + (float)(sc >> 4)) * 0.25f;
    const uint g0 = load_u16(q), g1 = load_u16(q + 2), g2 = load_u16(q + 4), g3 = load_u16(q + 6);
    *w0 = (float16)(iq2_group(grid_iq2xs, g0 & 511u, parity_signs(g0 >> 9), db0),
                    iq2_group(grid_iq2xs, g1 & 511u, parity_signs(g1 >> 9), db0));
    *w1 = (float16)(iq2_group(grid_iq2xs, g2 & 511u, parity_signs(g2 >> 9), db1),
                    iq2_group(grid_iq2xs, g3 & 511u, parity_signs(g3 >> 9), db1));
}
#define INT_OFFSET 0
#define INT_HALF_SCALES 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *q = block + LOWBIT_IQ2_XS_QS + 8 * chunk;
    const float d = load_f16(block + LOWBIT_IQ2_XS_D);
    const uint sc = block[LOWBIT_IQ2_XS_SCALES + chunk];
    const uint g0 = load_u16(q), g1 = load_u16(q + 2), g2 = load_u16(q + 4), g3 = load_u16(q + 6);
    *q0 = (char16)(iq2_group_int(grid_iq2xs, g0 & 511u, parity_signs(g0 >> 9)),
                   iq2_group_int(grid_iq2xs, g1 & 511u, parity_signs(g1 >> 9)));
    *q1 = (char16)(iq2_group_int(grid_iq2xs, g2 & 511u, parity_signs(g2 >> 9)),
                   iq2_group_int(grid_iq2xs, g3 & 511u, parity_signs(g3 >> 9)));
    *scale = (float2)(d * (0.5f + (float)(sc & 15u)) * 0.25f, d * (0.5f + (float)(sc >> 4)) * 0.25f);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ2_S)
#define GEMV_KERNEL gemv_iq2_s
#define BLOCK_BYTES LOWBIT_IQ2_S_BYTES /* 82: f16 d, qs[32], signs[32], qh[8], scales[8] */
__constant uint grid_iq2s[] = {LOWBIT_GRID_IQ2S_WORDS};
/* Group g = 4b + l: index qs[g] | (bits 2l..2l+1 of qh[b]) << 8, full sign byte signs[g] (no parity);
 * scales as IQ2_XS. */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *qs = block + LOWBIT_IQ2_S_QS + 4 * chunk;
    __global const uchar *signs = block + LOWBIT_IQ2_S_QS + 32 + 4 * chunk;
    const float d = load_f16(block + LOWBIT_IQ2_S_D);
    const uint sc = block[LOWBIT_IQ2_S_SCALES + chunk], qh = block[LOWBIT_IQ2_S_QH + chunk];
    const float db0 = d * (0.5f + (float)(sc & 15u)) * 0.25f;
    const float db1 = d * (0.5f + (float)(sc >> 4)) * 0.25f;
    const uint q01 = load_u16(qs), q23 = load_u16(qs + 2), s01 = load_u16(signs), s23 = load_u16(signs + 2);
    *w0 = (float16)(iq2_group(grid_iq2s, (q01 & 255u) | ((qh & 3u) << 8), s01 & 255u, db0),
                    iq2_group(grid_iq2s, (q01 >> 8) | ((qh & 12u) << 6), s01 >> 8, db0));
    *w1 = (float16)(iq2_group(grid_iq2s, (q23 & 255u) | ((qh & 48u) << 4), s23 & 255u, db1),
                    iq2_group(grid_iq2s, (q23 >> 8) | ((qh & 192u) << 2), s23 >> 8, db1));
}
#define INT_OFFSET 0
#define INT_HALF_SCALES 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *qs = block + LOWBIT_IQ2_S_QS + 4 * chunk;
    __global const uchar *signs = block + LOWBIT_IQ2_S_QS + 32 + 4 * chunk;
    const float d = load_f16(block + LOWBIT_IQ2_S_D);
    const uint sc = block[LOWBIT_IQ2_S_SCALES + chunk], qh = block[LOWBIT_IQ2_S_QH + chunk];
    const uint q01 = load_u16(qs), q23 = load_u16(qs + 2), s01 = load_u16(signs), s23 = load_u16(signs + 2);
    *q0 = (char16)(iq2_group_int(grid_iq2s, (q01 & 255u) | ((qh & 3u) << 8), s01 & 255u),
                   iq2_group_int(grid_iq2s, (q01 >> 8) | ((qh & 12u) << 6), s01 >> 8));
    *q1 = (char16)(iq2_group_int(grid_iq2s, (q23 & 255u) | ((qh & 48u) << 4), s23 & 255u),
                   iq2_group_int(grid_iq2s, (q23 >> 8) | ((qh & 192u) << 2), s23 >> 8));
    *scale = (float2)(d * (0.5f + (float)(sc & 15u)) * 0.25f, d * (0.5f + (float)(sc >> 4)) * 0.25f);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ3_XXS)
#define GEMV_KERNEL gemv_iq3_xxs
#define BLOCK_BYTES LOWBIT_IQ3_XXS_BYTES /* 98: f16 d, qs[64] grid indices, u32[8] signs and scales */
__constant uint grid_iq3xxs[] = {LOWBIT_GRID_IQ3XXS_WORDS};
/* Quads 2l, 2l + 1 (indices qs[8b + 2l], qs[8b + 2l + 1]) form group l: code c → 4 + 8c, except c = 7 → 62. */
GEMV_INLINE float8 iq3_xxs_group(uint pair, uint signs, float db)
{
    const uint8 c = codes3(grid_code(grid_iq3xxs, pair & 255u) | (grid_code(grid_iq3xxs, pair >> 8) << 12));
    const uint8 magnitude = (uint8)4u + (c << (uint8)3u) + (((c + (uint8)1u) >> (uint8)3u) << (uint8)1u);
    return apply_signs(db * convert_float8(magnitude), signs);
}
/* The u32 at 66 + 4b: four 7-bit sign indices (group l at bits 7l..7l+6), s in bits 28–31.
 * db = d·(0.5 + s)·0.5 */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *qs = block + LOWBIT_IQ3_XXS_QS + 8 * chunk;
    const float d = load_f16(block + LOWBIT_IQ3_XXS_D);
    const uint aux = load_u32_even(block + LOWBIT_IQ3_XXS_QS + 64 + 4 * chunk);
    const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
    *w0 = (float16)(iq3_xxs_group(load_u16(qs), parity_signs(aux & 127u), db),
                    iq3_xxs_group(load_u16(qs + 2), parity_signs((aux >> 7) & 127u), db));
    *w1 = (float16)(iq3_xxs_group(load_u16(qs + 4), parity_signs((aux >> 14) & 127u), db),
                    iq3_xxs_group(load_u16(qs + 6), parity_signs((aux >> 21) & 127u), db));
}
#define INT_OFFSET 0
GEMV_INLINE char8 iq3_xxs_group_int(uint pair, uint signs)
{
    const uint8 c = codes3(grid_code(grid_iq3xxs, pair & 255u) | (grid_code(grid_iq3xxs, pair >> 8) << 12));
    const uint8 magnitude = (uint8)4u + (c << (uint8)3u) + (((c + (uint8)1u) >> (uint8)3u) << (uint8)1u);
    return apply_signs_int(convert_char8(magnitude), signs);
}
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *qs = block + LOWBIT_IQ3_XXS_QS + 8 * chunk;
    const float d = load_f16(block + LOWBIT_IQ3_XXS_D);
    const uint aux = load_u32_even(block + LOWBIT_IQ3_XXS_QS + 64 + 4 * chunk);
    *q0 = (char16)(iq3_xxs_group_int(load_u16(qs), parity_signs(aux & 127u)),
                   iq3_xxs_group_int(load_u16(qs + 2), parity_signs((aux >> 7) & 127u)));
    *q1 = (char16)(iq3_xxs_group_int(load_u16(qs + 4), parity_signs((aux >> 14) & 127u)),
                   iq3_xxs_group_int(load_u16(qs + 6), parity_signs((aux >> 21) & 127u)));
    *scale = (float2)(d * (0.5f + (float)(aux >> 28)) * 0.5f);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ3_S)
#define GEMV_KERNEL gemv_iq3_s
#define BLOCK_BYTES LOWBIT_IQ3_S_BYTES /* 110: f16 d, qs[64], qh[8], signs[32], scales[4] */
__constant uint grid_iq3s[] = {LOWBIT_GRID_IQ3S_WORDS};
/* Group l: quads 2l, 2l + 1 with indices qs[8b + k] | (bit k of qh[b]) << 8, code c → 1 + 2c; sign byte
 * signs[4b + l]. */
GEMV_INLINE float8 iq3_s_group(uint pair, uint qh, uint l, uint signs, float db)
{
    const uint i0 = (pair & 255u) | (((qh >> (2 * l)) & 1u) << 8);
    const uint i1 = (pair >> 8) | (((qh >> (2 * l + 1)) & 1u) << 8);
    const uint8 c = codes3(grid_code(grid_iq3s, i0) | (grid_code(grid_iq3s, i1) << 12));
    return apply_signs(db * convert_float8((c << (uint8)1u) + (uint8)1u), signs);
}
/* s is nibble (b mod 2) of scales[b/2]; db = d·(1 + 2s) */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *qs = block + LOWBIT_IQ3_S_QS + 8 * chunk;
    __global const uchar *signs = block + LOWBIT_IQ3_S_SIGNS + 4 * chunk;
    const float d = load_f16(block + LOWBIT_IQ3_S_D);
    const uint qh = block[LOWBIT_IQ3_S_QH + chunk];
    const uint s = ((uint)block[LOWBIT_IQ3_S_SCALES + chunk / 2] >> (4 * (chunk % 2))) & 15u;
    const float db = d * (float)(1u + 2u * s);
    const uint s01 = load_u16(signs), s23 = load_u16(signs + 2);
    *w0 = (float16)(iq3_s_group(load_u16(qs), qh, 0, s01 & 255u, db),
                    iq3_s_group(load_u16(qs + 2), qh, 1, s01 >> 8, db));
    *w1 = (float16)(iq3_s_group(load_u16(qs + 4), qh, 2, s23 & 255u, db),
                    iq3_s_group(load_u16(qs + 6), qh, 3, s23 >> 8, db));
}
#define INT_OFFSET 0
GEMV_INLINE char8 iq3_s_group_int(uint pair, uint qh, uint l, uint signs)
{
    const uint i0 = (pair & 255u) | (((qh >> (2 * l)) & 1u) << 8);
    const uint i1 = (pair >> 8) | (((qh >> (2 * l + 1)) & 1u) << 8);
    const uint8 c = codes3(grid_code(grid_iq3s, i0) | (grid_code(grid_iq3s, i1) << 12));
    return apply_signs_int(convert_char8((c << (uint8)1u) + (uint8)1u), signs);
}
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *qs = block + LOWBIT_IQ3_S_QS + 8 * chunk;
    __global const uchar *signs = block + LOWBIT_IQ3_S_SIGNS + 4 * chunk;
    const float d = load_f16(block + LOWBIT_IQ3_S_D);
    const uint qh = block[LOWBIT_IQ3_S_QH + chunk];
    const uint s = ((uint)block[LOWBIT_IQ3_S_SCALES + chunk / 2] >> (4 * (chunk % 2))) & 15u;
    const uint s01 = load_u16(signs), s23 = load_u16(signs + 2);
    *q0 = (char16)(iq3_s_group_int(load_u16(qs), qh, 0, s01 & 255u),
                   iq3_s_group_int(load_u16(qs + 2), qh, 1, s01 >> 8));
    *q1 = (char16)(iq3_s_group_int(load_u16(qs + 4), qh, 2, s23 & 255u),
                   iq3_s_group_int(load_u16(qs + 6), qh, 3, s23 >> 8));
    *scale = (float2)(d * (float)(1u + 2u * s));
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ1_S)
#define GEMV_KERNEL gemv_iq1_s
#define BLOCK_BYTES LOWBIT_IQ1_S_BYTES /* 50: f16 d, qs[32], u16 qh[8] */
__constant uint grid_iq1s[] = {LOWBIT_GRID_IQ1S_WORDS};
/* Group l: index qs[4b + l] | (bits 3l..3l+2 of qh[b]) << 8; qh[b] bits 12–14 are s, bit 15 the sign of
 * δ = ±0.125. x = (d·(2s + 1))·(grid + δ) */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *qs = block + LOWBIT_IQ1_S_QS + 4 * chunk;
    const float d = load_f16(block + LOWBIT_IQ1_S_D);
    const uint qh = load_u16(block + LOWBIT_IQ1_S_QH + 2 * chunk);
    const float dl = d * (float)(2u * ((qh >> 12) & 7u) + 1u);
    const float delta = (qh & 0x8000u) ? -0.125f : 0.125f;
    const uint q01 = load_u16(qs), q23 = load_u16(qs + 2);
    *w0 = (float16)(iq1_group(grid_iq1s, (q01 & 255u) | ((qh & 7u) << 8), delta, dl),
                    iq1_group(grid_iq1s, (q01 >> 8) | (((qh >> 3) & 7u) << 8), delta, dl));
    *w1 = (float16)(iq1_group(grid_iq1s, (q23 & 255u) | (((qh >> 6) & 7u) << 8), delta, dl),
                    iq1_group(grid_iq1s, (q23 >> 8) | (((qh >> 9) & 7u) << 8), delta, dl));
}
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *qs = block + LOWBIT_IQ1_S_QS + 4 * chunk;
    const float d = load_f16(block + LOWBIT_IQ1_S_D);
    const uint qh = load_u16(block + LOWBIT_IQ1_S_QH + 2 * chunk);
    const int negative = (qh & 0x8000u) != 0u;
    const uint q01 = load_u16(qs), q23 = load_u16(qs + 2);
    *q0 = (char16)(iq1_group_int(grid_iq1s, (q01 & 255u) | ((qh & 7u) << 8), negative),
                   iq1_group_int(grid_iq1s, (q01 >> 8) | (((qh >> 3) & 7u) << 8), negative));
    *q1 = (char16)(iq1_group_int(grid_iq1s, (q23 & 255u) | (((qh >> 6) & 7u) << 8), negative),
                   iq1_group_int(grid_iq1s, (q23 >> 8) | (((qh >> 9) & 7u) << 8), negative));
    *scale = (float2)(d * (float)(2u * ((qh >> 12) & 7u) + 1u) * 0.125f);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ1_M)
#define GEMV_KERNEL gemv_iq1_m
#define BLOCK_BYTES LOWBIT_IQ1_M_BYTES /* 56: qs[32], qh[16], scales[8] (four u16, f16 d in their top nibbles) */
__constant uint grid_iq1s[] = {LOWBIT_GRID_IQ1S_WORDS};
/* Nibble n of qh (group l: qh[2b + l/2], low nibble for even l): bits 0–2 extend qs[4b + l], bit 3 set
 * → δ = −0.125. */
GEMV_INLINE float8 iq1_m_group(uint q, uint nibble, float dl)
{
    return iq1_group(grid_iq1s, q | ((nibble & 7u) << 8), (nibble & 8u) ? -0.125f : 0.125f, dl);
}
/* s of half t of b = (w[b/2] >> (6·(b mod 2) + 3t)) & 7; d = bits 12–15 of w0..w3 as bits 0–3 .. 12–15 of
 * an f16. x = (d·(2s + 1))·(grid + δ) */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    __global const uchar *sc = block + LOWBIT_IQ1_M_SCALES;
    const uint sw0 = load_u16(sc), sw1 = load_u16(sc + 2), sw2 = load_u16(sc + 4), sw3 = load_u16(sc + 6);
    const float d =
        half_bits_to_float((sw0 >> 12) | ((sw1 >> 8) & 0x00F0u) | ((sw2 >> 4) & 0x0F00u) | (sw3 & 0xF000u));
    const uint w = load_u16(sc + 2 * (chunk / 2)) >> (6 * (chunk % 2));
    const float dl0 = d * (float)(2u * (w & 7u) + 1u);
    const float dl1 = d * (float)(2u * ((w >> 3) & 7u) + 1u);
    __global const uchar *qs = block + LOWBIT_IQ1_M_QS + 4 * chunk;
    const uint q01 = load_u16(qs), q23 = load_u16(qs + 2);
    const uint qh = load_u16(block + LOWBIT_IQ1_M_QH + 2 * chunk);
    *w0 = (float16)(iq1_m_group(q01 & 255u, qh & 15u, dl0), iq1_m_group(q01 >> 8, (qh >> 4) & 15u, dl0));
    *w1 = (float16)(iq1_m_group(q23 & 255u, (qh >> 8) & 15u, dl1), iq1_m_group(q23 >> 8, qh >> 12, dl1));
}
#define INT_OFFSET 0
#define INT_HALF_SCALES 1
GEMV_INLINE char8 iq1_m_group_int(uint q, uint nibble)
{
    return iq1_group_int(grid_iq1s, q | ((nibble & 7u) << 8), (nibble & 8u) != 0u);
}
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    __global const uchar *sc = block + LOWBIT_IQ1_M_SCALES;
    const uint sw0 = load_u16(sc), sw1 = load_u16(sc + 2), sw2 = load_u16(sc + 4), sw3 = load_u16(sc + 6);
    const float d =
        half_bits_to_float((sw0 >> 12) | ((sw1 >> 8) & 0x00F0u) | ((sw2 >> 4) & 0x0F00u) | (sw3 & 0xF000u));
    const uint w = load_u16(sc + 2 * (chunk / 2)) >> (6 * (chunk % 2));
    __global const uchar *qs = block + LOWBIT_IQ1_M_QS + 4 * chunk;
    const uint q01 = load_u16(qs), q23 = load_u16(qs + 2);
    const uint qh = load_u16(block + LOWBIT_IQ1_M_QH + 2 * chunk);
    *q0 = (char16)(iq1_m_group_int(q01 & 255u, qh & 15u), iq1_m_group_int(q01 >> 8, (qh >> 4) & 15u));
    *q1 = (char16)(iq1_m_group_int(q23 & 255u, (qh >> 8) & 15u), iq1_m_group_int(q23 >> 8, qh >> 12));
    /* dl/8 of each half: d·(2s + 1) first, as the float decode forms dl */
    *scale = (float2)(d * (float)(2u * (w & 7u) + 1u), d * (float)(2u * ((w >> 3) & 7u) + 1u)) * 0.125f;
    *offset = (float2)0.0f;
}

#else
#error "gemv_grid.cl: define one of LOWBIT_GEMV_IQ2_XXS, _IQ2_XS, _IQ2_S, _IQ3_XXS, _IQ3_S, _IQ1_S, _IQ1_M"
#endif
