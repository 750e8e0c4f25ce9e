// decode_raw.glsl — the stored-block (GGUF) decoders shared by gemv_raw.comp and gemm.comp: byte access at
// any offset into the weights (`raw`, or `raw_texels` with LOWBIT_TEXEL_WEIGHTS), block headers and
// dequant32(), which turns one 32-element group of a block into 8 vec4 (element order of the reference:
// docs/formats.md §3; ids, sizes and offsets from lowbit_formats.h). The includer declares FORMAT (the lowbit format id), the `raw`
// buffer (and `raw_texels` on the texel variant) and the push constants `p` (p.cols is read by BF16).
#ifndef LOWBIT_DECODE_RAW_GLSL
#define LOWBIT_DECODE_RAW_GLSL

#include "lowbit_formats.h"
#ifndef LOWBIT_RAW_GRID
#define LOWBIT_RAW_GRID 0 // 1: the *_grid modules, which decode the grid formats (and only those)
#endif

// lowbit_format ids: F_<NAME> for BF16 and every format of LOWBIT_BLOCK_FORMATS
#define FORMAT_ID_CONST(F, f, cl, vk) const uint F_##F = LOWBIT_##F##_ID;
LOWBIT_BLOCK_FORMATS(FORMAT_ID_CONST)
const uint F_BF16 = LOWBIT_BF16_ID;

// kvalues_iq4nl {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113} as int8 bytes,
// four per word: looked up with selects and shifts (vector ALU) instead of an indexed table (a gather per
// element on CPU devices).
const uint KV0 = 0xBFAD9881u, KV1 = 0xF6EADDCFu, KV2 = 0x26190D01u, KV3 = 0x71594535u;
vec4 kvalues4(uvec4 q)
{
    bvec4 odd = notEqual(q & 4u, uvec4(0u)), high = greaterThanEqual(q, uvec4(8u));
    uvec4 word = mix(mix(uvec4(KV0), uvec4(KV1), odd), mix(uvec4(KV2), uvec4(KV3), odd), high);
    return vec4(ivec4(word << (24u - 8u * (q & 3u))) >> 24);
}

// A format's facts as a function of the specialization constant (folded once FORMAT is known): a chain of
// selects over LOWBIT_BLOCK_FORMATS that ends in BF16's.
#define BLOCK_ELEMS_ARM(F, f, cl, vk) FORMAT == F_##F ? LOWBIT_##F##_BLOCK :
#define BLOCK_BYTES_ARM(F, f, cl, vk) FORMAT == F_##F ? LOWBIT_##F##_BYTES :
uint block_elems() { return uint(LOWBIT_BLOCK_FORMATS(BLOCK_ELEMS_ARM) LOWBIT_BF16_BLOCK); }
uint block_bytes() { return uint(LOWBIT_BLOCK_FORMATS(BLOCK_BYTES_ARM) LOWBIT_BF16_BYTES); } // BF16: one element

// --- byte access at any offset (the buffer carries 128 bytes of padding past the last row) ----------------

// Formats whose block size is a multiple of 4 bytes: every block, and every field loaded below, starts on a
// word, so runs of words are read directly instead of funnel-shifted from their unaligned neighbours.
#define ALIGNED4 (block_bytes() % 4u == 0u)

// Formats whose blocks are whole 16-byte texels (Q4_K 144, Q5_K 176 bytes): their texel view is RGBA32UI
// (the upload makes it so), so one fetch brings 4 words; every other view is R32UI.
#define ALIGNED16 (FORMAT == F_Q4_K || FORMAT == F_Q5_K)

uint word_at(uint index)
{
#if LOWBIT_TEXEL_WEIGHTS
    if (ALIGNED16) return texelFetch(raw_texels, int(index >> 2))[index & 3u];
    return texelFetch(raw_texels, int(index)).x;
#else
    return raw[index];
#endif
}

uint u16_at(uint byte) { return (word_at(byte >> 2) >> ((byte & 2u) * 8u)) & 0xFFFFu; } // byte is even

// The n (≤ 16, a constant after inlining) little-endian words starting at any byte offset.
void load_words(uint byte, uint n, out uint w[16])
{
    uint index = byte >> 2, shift = (byte & 3u) * 8u;
#if LOWBIT_TEXEL_WEIGHTS
    if (ALIGNED16) { // whole texels: every run these formats load starts on one and is a multiple of 4 words
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uvec4 v = i < (n + 3u) / 4u ? texelFetch(raw_texels, int((byte >> 4) + i)) : uvec4(0u);
            w[4u * i] = v.x;
            w[4u * i + 1u] = v.y;
            w[4u * i + 2u] = v.z;
            w[4u * i + 3u] = v.w;
        }
        return;
    }
#endif
    if (ALIGNED4) {
        [[unroll]] for (uint i = 0; i < 16u; ++i) w[i] = i < n ? word_at(index + i) : 0u;
    } else {
        // (hi << (31 - shift)) << 1 is hi << (32 - shift), and 0 for shift 0
        uint lo = word_at(index);
        [[unroll]] for (uint i = 0; i < 16u; ++i) {
            if (i < n) {
                uint hi = word_at(index + i + 1u);
                w[i] = (lo >> shift) | ((hi << (31u - shift)) << 1u);
                lo = hi;
            } else {
                w[i] = 0u;
            }
        }
    }
}

uint byte_of(uint w[16], uint k) { return (w[k >> 2] >> ((k & 3u) * 8u)) & 0xFFu; }
float half_of(uint w[16], uint k) { return unpackHalf2x16(w[k >> 2] >> ((k & 2u) * 8u)).x; } // k even

// The 4 bytes of `word` as a uvec4 (byte 0 first).
uvec4 bytes4(uint word) { return uvec4(word, word >> 8, word >> 16, word >> 24) & 0xFFu; }

// The doubled E2M1 value of each MXFP4/NVFP4 nibble: magnitude code m = q & 7 → {0, 1, 2, 3, 4, 6, 8, 12},
// i.e. m below 2, else (2 + (m & 1)) << ((m − 2) >> 1); bit 3 is the sign.
vec4 fp4_levels(uvec4 q)
{
    uvec4 m = q & 7u;
    uvec4 large = (2u + (m & 1u)) << ((max(m, uvec4(2u)) - 2u) >> 1);
    vec4 magnitude = vec4(mix(large, m, lessThan(m, uvec4(2u))));
    return mix(magnitude, -magnitude, notEqual(q & 8u, uvec4(0u)));
}

// E8M0 e → 2^(e − 128) (half the MXFP4 scale, to match the doubled levels)
float e8m0_half(uint e) { return uintBitsToFloat(e < 2u ? 0x00200000u << e : (e - 1u) << 23); }

// Unsigned E4M3 (bias 7) → half its value; bytes 0 and 0x7F are 0
float ue4m3_half(uint x)
{
    uint e = (x >> 3) & 15u, m = x & 7u;
    float v = e == 0u ? float(m) * (1.0 / 1024.0) : uintBitsToFloat(((e + 119u) << 23) | (m << 20));
    return x == 0u || x == 0x7Fu ? 0.0 : v;
}

#if LOWBIT_RAW_GRID
// --- grid (codebook) formats: lowbit_grids.h's compact codes, two 16-bit entries per word -----------------
// The format's codebook (lowbit_grids.h) follows the part's rows in the weight buffer, after their padding to
// whole 16-byte texels and 128 bytes (vulkan_memory.c puts it there): entry e is half e & 1 of word e >> 1.
uint grid_code(uint e)
{
    uint row_bytes = p.cols / block_elems() * block_bytes();
    uint base = ((p.rows * row_bytes + 15u) / 16u * 16u + 128u) / 4u;
    return (word_at(base + (e >> 1)) >> (16u * (e & 1u))) & 0xFFFFu;
}

// Elements 4h..4h+3 of an 8-element IQ2 entry: 2-bit codes c → 8 + 17c + (c >> 1) ∈ {8, 25, 43}
vec4 grid2_magnitudes(uint code, uint h)
{
    uvec4 c = (uvec4(code) >> (uvec4(0u, 2u, 4u, 6u) + 8u * h)) & 3u;
    return vec4(8u + 17u * c + (c >> 1));
}

// The 4 elements of an IQ3 entry: 3-bit codes c → 4 + 8c (7 → 62) for IQ3_XXS, 1 + 2c for IQ3_S
vec4 grid3_magnitudes(uint code)
{
    uvec4 c = (uvec4(code) >> uvec4(0u, 3u, 6u, 9u)) & 7u;
    if (FORMAT == F_IQ3_S) return vec4(1u + 2u * c);
    return vec4(4u + 8u * c + 2u * (c >> 2 & c >> 1 & c & 1u));
}

// Elements 4h..4h+3 of an 8-element IQ1 entry: 2-bit codes c → c − 1
vec4 grid1_values(uint code, uint h)
{
    uvec4 c = (uvec4(code) >> (uvec4(0u, 2u, 4u, 6u) + 8u * h)) & 3u;
    return vec4(c) - 1.0;
}

// ±1 for signs 4h..4h+3 of a sign byte (bit set: negative)
vec4 signs4(uint signs, uint h)
{
    uvec4 bit = (uvec4(signs) >> (uvec4(0u, 1u, 2u, 3u) + 4u * h)) & 1u;
    return vec4(1.0) - 2.0 * vec4(bit);
}

// 7 stored signs and their parity as the 8th
uint signs_from7(uint s7) { return s7 | ((uint(bitCount(s7)) & 1u) << 7); }

// The little-endian word at any byte offset
uint word_at_byte(uint byte)
{
    uint w[16];
    load_words(byte, 1u, w);
    return w[0];
}

#endif

// one ternary digit of a TQ1_0 byte: digit p of (b · 3^p mod 256)
uvec4 trits(uvec4 b, uint power) { return (((b * power) & 0xFFu) * 3u) >> 8; }

// --- decoders -------------------------------------------------------------------------------------------

// What a block's 32-element groups share, read once per block: scales, mins, d, high-bit planes.
void block_header(uint block, out uint h[16])
{
    if (FORMAT == F_Q4_K) load_words(block, 4u, h);               // d, dmin, scales[12]
    else if (FORMAT == F_Q5_K) {
        uint a[16], b[16];
        load_words(block, 4u, a);                                 // d, dmin, scales[12]
        load_words(block + 16u, 8u, b);                           // qh[32]
        [[unroll]] for (uint i = 0; i < 16u; ++i) h[i] = i < 4u ? a[i] : i < 12u ? b[i - 4u] : 0u;
    } else if (FORMAT == F_Q6_K) load_words(block + 192u, 5u, h); // scales[16], d
    else if (FORMAT == F_Q2_K) {
        load_words(block, 4u, h);                                 // scales[16]
        h[4] = word_at((block + 80u) >> 2);                       // d, dmin
    } else if (FORMAT == F_Q3_K) {
        uint a[16], b[16];
        load_words(block, 8u, a);                                 // hmask[32]
        load_words(block + 96u, 4u, b);                           // scales[12], d
        [[unroll]] for (uint i = 0; i < 16u; ++i) h[i] = i < 8u ? a[i] : i < 12u ? b[i - 8u] : 0u;
    } else if (FORMAT == F_IQ4_XS) load_words(block, 2u, h);      // d, scales_h, scales_l[4]
    else if (FORMAT == F_TQ2_0) load_words(block + 64u, 1u, h);   // d
    else if (FORMAT == F_TQ1_0) load_words(block, 14u, h);        // the whole block
    else if (FORMAT == F_IQ1_M) load_words(block + LOWBIT_IQ1_M_SCALES, 2u, h); // scales[8] (d spread over them)
    else if (FORMAT == F_IQ2_XXS || FORMAT == F_IQ2_XS || FORMAT == F_IQ2_S || FORMAT == F_IQ3_XXS ||
             FORMAT == F_IQ3_S || FORMAT == F_IQ1_S) {
        load_words(block, 1u, h);                                 // d
        [[unroll]] for (uint i = 1; i < 16u; ++i) h[i] = 0u;
    }
    else [[unroll]] for (uint i = 0; i < 16u; ++i) h[i] = 0u;
}

// 16 bytes of nibbles (words q[first..first+3]): low nibbles are elements 0..15, high nibbles 16..31
void nibbles16(uint q[16], uint first, out uvec4 n[8])
{
    [[unroll]] for (uint i = 0; i < 4u; ++i) {
        uvec4 b = bytes4(q[first + i]);
        n[i] = b & 0xFu;
        n[4u + i] = b >> 4;
    }
}

// 6-bit scale and min j of the Q4_K/Q5_K 12-byte packing (bytes 4..15 of the header)
uvec2 scale_min_k4(uint h[16], uint j)
{
    if (j < 4u) return uvec2(byte_of(h, 4u + j) & 63u, byte_of(h, 8u + j) & 63u);
    uint hi = byte_of(h, 8u + j);
    return uvec2((hi & 0xFu) | ((byte_of(h, j) >> 6) << 4), (hi >> 4) | ((byte_of(h, 4u + j) >> 6) << 4));
}

// 6-bit scale j of Q3_K (minus 32); its 12 scale bytes start at header byte 32
float scale_q3k(uint h[16], uint j)
{
    uint low = j < 8u ? byte_of(h, 32u + j) & 0xFu : byte_of(h, 24u + j) >> 4;
    uint high = (byte_of(h, 40u + (j & 3u)) >> (2u * (j >> 2))) & 3u;
    return float(int(low | (high << 4)) - 32);
}

// The 32 weights of group `s` of the block at byte `block` (header h), w[i] = elements 4i..4i+3; for BF16
// the group of the row starting at element c0 (block is the row).
void dequant32(uint block, uint s, uint h[16], uint c0, out vec4 w[8])
{
    uvec4 q[8];
    uint b[16];
#if LOWBIT_RAW_GRID
    if (FORMAT == F_IQ2_XXS) {
        // group s: 4 grid indices (bytes), then a word of four 7-bit sign sets and a 4-bit scale
        load_words(block + LOWBIT_IQ2_XXS_QS + 8u * s, 2u, b);
        float db = half_of(h, 0u) * (0.5 + float(b[1] >> 28)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code = grid_code((b[0] >> (8u * l)) & 0xFFu), sg = signs_from7((b[1] >> (7u * l)) & 127u);
            w[2u * l] = db * grid2_magnitudes(code, 0u) * signs4(sg, 0u);
            w[2u * l + 1u] = db * grid2_magnitudes(code, 1u) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ2_XS) {
        // group s: four u16 (9-bit grid index, 7-bit sign set), a scale byte (low nibble: l < 2)
        load_words(block + LOWBIT_IQ2_XS_QS + 8u * s, 2u, b);
        uint sc = word_at_byte(block + LOWBIT_IQ2_XS_SCALES + s) & 0xFFu;
        float d = half_of(h, 0u);
        float db0 = d * (0.5 + float(sc & 0xFu)) * 0.25, db1 = d * (0.5 + float(sc >> 4)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint q = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFFFu;
            uint code = grid_code(q & 511u), sg = signs_from7(q >> 9);
            float dl = l < 2u ? db0 : db1;
            w[2u * l] = dl * grid2_magnitudes(code, 0u) * signs4(sg, 0u);
            w[2u * l + 1u] = dl * grid2_magnitudes(code, 1u) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ2_S) {
        // group s: 4 low index bytes (qs), 4 sign bytes (qs + 32), qh[s] (2 high bits each), scales[s]
        uint lo = word_at_byte(block + LOWBIT_IQ2_S_QS + 4u * s);
        uint sgn = word_at_byte(block + LOWBIT_IQ2_S_QS + 32u + 4u * s);
        uint qh = word_at_byte(block + LOWBIT_IQ2_S_QH + s) & 0xFFu;
        uint sc = word_at_byte(block + LOWBIT_IQ2_S_SCALES + s) & 0xFFu;
        float d = half_of(h, 0u);
        float db0 = d * (0.5 + float(sc & 0xFu)) * 0.25, db1 = d * (0.5 + float(sc >> 4)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint index = ((lo >> (8u * l)) & 0xFFu) | ((qh << (8u - 2u * l)) & 0x300u);
            uint code = grid_code(index), sg = (sgn >> (8u * l)) & 0xFFu;
            float dl = l < 2u ? db0 : db1;
            w[2u * l] = dl * grid2_magnitudes(code, 0u) * signs4(sg, 0u);
            w[2u * l + 1u] = dl * grid2_magnitudes(code, 1u) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ3_XXS) {
        // group s: 8 grid indices (4 elements each) at qs + 8s; a word of four 7-bit sign sets and a scale at
        // qs + 64 + 4s
        load_words(block + LOWBIT_IQ3_XXS_QS + 8u * s, 2u, b);
        uint aux = word_at_byte(block + LOWBIT_IQ3_XXS_QS + 64u + 4u * s);
        float db = half_of(h, 0u) * (0.5 + float(aux >> 28)) * 0.5;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint sg = signs_from7((aux >> (7u * l)) & 127u);
            uint i0 = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFu, i1 = (b[l >> 1] >> (16u * (l & 1u) + 8u)) & 0xFFu;
            w[2u * l] = db * grid3_magnitudes(grid_code(i0)) * signs4(sg, 0u);
            w[2u * l + 1u] = db * grid3_magnitudes(grid_code(i1)) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ3_S) {
        // group s: 8 index bytes (+ a 9th bit each from qh[s]), 4 sign bytes, a scale nibble (scales[s / 2])
        load_words(block + LOWBIT_IQ3_S_QS + 8u * s, 2u, b);
        uint qh = word_at_byte(block + LOWBIT_IQ3_S_QH + s) & 0xFFu;
        uint sgn = word_at_byte(block + LOWBIT_IQ3_S_SIGNS + 4u * s);
        uint sc = (word_at_byte(block + LOWBIT_IQ3_S_SCALES + (s >> 1)) >> (4u * (s & 1u))) & 0xFu;
        float db = half_of(h, 0u) * float(1u + 2u * sc);
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint pair = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFFFu;
            uint i0 = (pair & 0xFFu) | ((qh << (8u - 2u * l)) & 256u);
            uint i1 = (pair >> 8) | ((qh << (7u - 2u * l)) & 256u);
            uint sg = (sgn >> (8u * l)) & 0xFFu;
            w[2u * l] = db * grid3_magnitudes(grid_code(i0)) * signs4(sg, 0u);
            w[2u * l + 1u] = db * grid3_magnitudes(grid_code(i1)) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ1_S) {
        // group s: 4 low index bytes at qs + 4s, a u16 qh[s]: 3 high bits per index, a 3-bit scale, the
        // sign of the shift (bit 15)
        uint lo = word_at_byte(block + LOWBIT_IQ1_S_QS + 4u * s);
        uint qh = word_at_byte(block + LOWBIT_IQ1_S_QH + 2u * s) & 0xFFFFu;
        float dl = half_of(h, 0u) * float(2u * ((qh >> 12) & 7u) + 1u);
        float delta = (qh & 0x8000u) != 0u ? -0.125 : 0.125;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code = grid_code(((lo >> (8u * l)) & 0xFFu) | (((qh >> (3u * l)) & 7u) << 8));
            w[2u * l] = dl * (grid1_values(code, 0u) + delta);
            w[2u * l + 1u] = dl * (grid1_values(code, 1u) + delta);
        }
    } else if (FORMAT == F_IQ1_M) {
        // the f16 d is the top nibbles of the 4 scale u16s; group s: 4 low index bytes at 4s, qh bytes 2s and
        // 2s + 1 (3 high bits and a shift sign per index), two 3-bit scales in scales u16 s / 2
        uint sc0 = h[0] & 0xFFFFu, sc1 = h[0] >> 16, sc2 = h[1] & 0xFFFFu, sc3 = h[1] >> 16;
        uint dbits = (sc0 >> 12) | ((sc1 >> 8) & 0x00F0u) | ((sc2 >> 4) & 0x0F00u) | (sc3 & 0xF000u);
        float d = unpackHalf2x16(dbits).x;
        uint sc = (h[s >> 2] >> (16u * ((s >> 1) & 1u))) & 0xFFFFu;
        float dl1 = d * float(2u * ((sc >> (6u * (s & 1u))) & 7u) + 1u);
        float dl2 = d * float(2u * ((sc >> (6u * (s & 1u) + 3u)) & 7u) + 1u);
        uint lo = word_at_byte(block + LOWBIT_IQ1_M_QS + 4u * s);
        uint qhw[16];
        load_words(block + LOWBIT_IQ1_M_QH, 4u, qhw);
        uint qh2 = (qhw[s >> 1] >> (16u * (s & 1u))) & 0xFFFFu; // qh[2s] | qh[2s + 1] << 8
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint qh = (qh2 >> (8u * (l >> 1))) & 0xFFu;
            uint high = (l & 1u) == 0u ? (qh << 8) & 0x700u : (qh << 4) & 0x700u;
            float delta = (qh & ((l & 1u) == 0u ? 0x08u : 0x80u)) != 0u ? -0.125 : 0.125;
            uint code = grid_code(((lo >> (8u * l)) & 0xFFu) | high);
            float dl = l < 2u ? dl1 : dl2;
            w[2u * l] = dl * (grid1_values(code, 0u) + delta);
            w[2u * l + 1u] = dl * (grid1_values(code, 1u) + delta);
        }
    } else {
        [[unroll]] for (uint i = 0; i < 8u; ++i) w[i] = vec4(0.0);
    }
#else
    if (FORMAT == F_Q4_1) {
        load_words(block, 5u, b); // d, m, qs[16]
        float d = half_of(b, 0u), m = half_of(b, 2u);
        nibbles16(b, 1u, q);
        [[unroll]] for (uint i = 0; i < 8u; ++i) w[i] = d * vec4(q[i]) + m;
    } else if (FORMAT == F_Q5_0 || FORMAT == F_Q5_1) {
        uint at = FORMAT == F_Q5_0 ? 2u : 4u; // qh follows d (and m), qs follow qh
        load_words(block, 6u, b); // 24 bytes: d, (m,) qh, qs
        float d = half_of(b, 0u), m = FORMAT == F_Q5_0 ? -16.0 * d : half_of(b, 2u);
        uint qh = byte_of(b, at) | (byte_of(b, at + 1u) << 8) | (byte_of(b, at + 2u) << 16) |
                  (byte_of(b, at + 3u) << 24);
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint k = at + 4u + 4u * i;
            uvec4 by = uvec4(byte_of(b, k), byte_of(b, k + 1u), byte_of(b, k + 2u), byte_of(b, k + 3u));
            q[i] = by & 0xFu;
            q[4u + i] = by >> 4;
        }
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            uvec4 high = (uvec4(qh) >> (uvec4(0u, 1u, 2u, 3u) + 4u * i)) & 1u;
            w[i] = d * vec4(q[i] | (high << 4)) + m;
        }
    } else if (FORMAT == F_IQ4_NL) {
        load_words(block, 5u, b); // d, qs[16] (18 bytes)
        float d = half_of(b, 0u);
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint k = 2u + 4u * i;
            uvec4 by = uvec4(byte_of(b, k), byte_of(b, k + 1u), byte_of(b, k + 2u), byte_of(b, k + 3u));
            q[i] = by & 0xFu;
            q[4u + i] = by >> 4;
        }
        [[unroll]] for (uint i = 0; i < 8u; ++i)
            w[i] = d * kvalues4(q[i]);
    } else if (FORMAT == F_IQ4_XS) {
        float d = half_of(h, 0u);
        uint ls = ((byte_of(h, 4u + (s >> 1)) >> (4u * (s & 1u))) & 0xFu) | (((h[0] >> (16u + 2u * s)) & 3u) << 4);
        float dl = d * float(int(ls) - 32);
        load_words(block + 8u + 16u * s, 4u, b);
        nibbles16(b, 0u, q);
        [[unroll]] for (uint i = 0; i < 8u; ++i)
            w[i] = dl * kvalues4(q[i]);
    } else if (FORMAT == F_Q4_K || FORMAT == F_Q5_K) {
        // qs in 4 chunks of 32 bytes: low nibbles are sub-block 2c, high nibbles 2c + 1
        float d = half_of(h, 0u), dmin = half_of(h, 2u);
        uvec2 sm = scale_min_k4(h, s);
        float scale = d * float(sm.x), offset = dmin * float(sm.y);
        uint shift = 4u * (s & 1u);
        load_words(block + (FORMAT == F_Q4_K ? 16u : 48u) + 32u * (s >> 1), 8u, b);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            q[i] = (bytes4(b[i]) >> shift) & 0xFu;
            if (FORMAT == F_Q5_K) q[i] |= ((bytes4(h[4u + i]) >> s) & 1u) << 4; // bit s of qh[l]
        }
        [[unroll]] for (uint i = 0; i < 8u; ++i) w[i] = scale * vec4(q[i]) - offset;
    } else if (FORMAT == F_Q6_K) {
        // half hf = s / 4, quarter k = s % 4: ql[64hf + 32(k & 1) + l] (high nibble for k >= 2),
        // qh[32hf + l] at shift 2k; scales[2s] (l < 16) and scales[2s + 1] (l >= 16), int8
        uint hf = s >> 2, k = s & 3u;
        float d = half_of(h, 16u);
        float d0 = d * float(bitfieldExtract(int(byte_of(h, 2u * s)), 0, 8));
        float d1 = d * float(bitfieldExtract(int(byte_of(h, 2u * s + 1u)), 0, 8));
        uint c[16];
        load_words(block + 64u * hf + 32u * (k & 1u), 8u, b);
        load_words(block + 128u + 32u * hf, 8u, c);
        uint nibble = 4u * (k >> 1);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            uvec4 lo = (bytes4(b[i]) >> nibble) & 0xFu, hi = (bytes4(c[i]) >> (2u * k)) & 3u;
            w[i] = (i < 4u ? d0 : d1) * (vec4(lo | (hi << 4)) - 32.0);
        }
    } else if (FORMAT == F_Q2_K) {
        // half s / 4: qs[32(s / 4) + l] at shift 2(s % 4); scales[2s + (l >= 16)]: low nibble scale, high min
        float d = half_of(h, 16u), dmin = half_of(h, 18u);
        uint sc0 = byte_of(h, 2u * s), sc1 = byte_of(h, 2u * s + 1u);
        float scale0 = d * float(sc0 & 0xFu), min0 = dmin * float(sc0 >> 4);
        float scale1 = d * float(sc1 & 0xFu), min1 = dmin * float(sc1 >> 4);
        load_words(block + 16u + 32u * (s >> 2), 8u, b);
        uint shift = 2u * (s & 3u);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            vec4 v = vec4((bytes4(b[i]) >> shift) & 3u);
            w[i] = i < 4u ? scale0 * v - min0 : scale1 * v - min1;
        }
    } else if (FORMAT == F_Q3_K) {
        // low 2 bits as Q2_K; bit s of hmask[l] set: q = lo, clear: q = lo - 4 (hmask: header words 0..7)
        float d = half_of(h, 44u);
        float scale0 = d * scale_q3k(h, 2u * s), scale1 = d * scale_q3k(h, 2u * s + 1u);
        load_words(block + 32u + 32u * (s >> 2), 8u, b);
        uint shift = 2u * (s & 3u);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            vec4 lo = vec4((bytes4(b[i]) >> shift) & 3u), hbit = vec4((bytes4(h[i]) >> s) & 1u);
            w[i] = (i < 4u ? scale0 : scale1) * (lo - 4.0 + 4.0 * hbit);
        }
    } else if (FORMAT == F_TQ2_0) {
        float d = half_of(h, 0u);
        load_words(block + 32u * (s >> 2), 8u, b);
        uint shift = 2u * (s & 3u);
        [[unroll]] for (uint i = 0; i < 8u; ++i) w[i] = d * (vec4((bytes4(b[i]) >> shift) & 3u) - 1.0);
    } else if (FORMAT == F_TQ1_0) {
        // elements 0..159: digit p of byte l is element 32p + l; 160..239: digit p of byte 32 + l is
        // 160 + 16p + l; 240..255: digit p of byte 48 + l is 240 + 4p + l (the block is the header)
        const uint powers[5] = uint[5](1u, 3u, 9u, 27u, 81u);
        float d = half_of(h, 52u);
        if (s < 5u) {
            uint power = powers[s];
            [[unroll]] for (uint i = 0; i < 8u; ++i) w[i] = d * (vec4(trits(bytes4(h[i]), power)) - 1.0);
        } else {
            // s = 5, 6: digits 2(s - 5) and 2(s - 5) + 1 of bytes 32..47; s = 7: digit 4 of them, then qh
            uint p0 = 2u * (s - 5u);
            uint power0 = powers[min(p0, 4u)], power1 = powers[min(p0 + 1u, 4u)];
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
                uvec4 by = bytes4(h[8u + i]);
                w[i] = d * (vec4(trits(by, power0)) - 1.0);
                w[4u + i] = d * (vec4(trits(s < 7u ? by : bytes4(h[12]), s < 7u ? power1 : powers[i])) - 1.0);
            }
        }
    } else if (FORMAT == F_MXFP4) {
        load_words(block, 5u, b); // e, qs[16] (17 bytes at any byte offset)
        float d = e8m0_half(byte_of(b, LOWBIT_MXFP4_E));
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint k = LOWBIT_MXFP4_QS + 4u * i;
            uvec4 by = uvec4(byte_of(b, k), byte_of(b, k + 1u), byte_of(b, k + 2u), byte_of(b, k + 3u));
            w[i] = d * fp4_levels(by & 0xFu);
            w[4u + i] = d * fp4_levels(by >> 4);
        }
    } else if (FORMAT == F_NVFP4) {
        // group s is sub-blocks 2s and 2s + 1: qs[8t..8t+7], low nibbles elements 16t + 0..7, high 16t + 8..15
        load_words(block, 9u, b); // d[4], qs[32]: 36 bytes, word-aligned
        [[unroll]] for (uint t = 0; t < 2u; ++t) {
            float d = ue4m3_half(byte_of(b, LOWBIT_NVFP4_D + 2u * s + t));
            uint first = (LOWBIT_NVFP4_QS + 16u * s + 8u * t) / 4u;
            uvec4 lo = bytes4(b[first]), hi = bytes4(b[first + 1u]);
            w[4u * t] = d * fp4_levels(lo & 0xFu);
            w[4u * t + 1u] = d * fp4_levels(hi & 0xFu);
            w[4u * t + 2u] = d * fp4_levels(lo >> 4);
            w[4u * t + 3u] = d * fp4_levels(hi >> 4);
        }
    } else if (FORMAT == F_Q1_0) {
        // group s is qs[4s..4s+3]: element 32s + j is bit j of that little-endian word; set +d, clear -d
        load_words(block, 5u, b); // d, qs[16]: 18 bytes at an even offset
        float d = half_of(b, LOWBIT_Q1_0_D);
        uint at = LOWBIT_Q1_0_QS + 4u * s; // an even byte: the word straddles b[at / 4] and the next
        uint bits = (b[at >> 2] >> 16) | (b[(at >> 2) + 1u] << 16);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            uvec4 bit = (uvec4(bits) >> (uvec4(0u, 1u, 2u, 3u) + 4u * i)) & 1u;
            w[i] = mix(vec4(-d), vec4(d), notEqual(bit, uvec4(0u)));
        }
    } else if (FORMAT == F_Q2_0) {
        // group s is qs[8s..8s+7]: element 32s + j is bits 2(j % 4) of byte j / 4; x = (q - 1) d
        load_words(block, 5u, b); // d, qs[16]: 18 bytes at an even offset
        float d = half_of(b, LOWBIT_Q2_0_D);
        uint at = LOWBIT_Q2_0_QS + 8u * s; // even: each word straddles two loaded words
        uint word0 = (b[at >> 2] >> 16) | (b[(at >> 2) + 1u] << 16);
        uint word1 = (b[(at >> 2) + 1u] >> 16) | (b[(at >> 2) + 2u] << 16);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            uint word = i < 4u ? word0 : word1;
            uvec4 q = (uvec4(word) >> (uvec4(0u, 2u, 4u, 6u) + 8u * (i & 3u))) & 3u;
            w[i] = d * (vec4(q) - 1.0);
        }
    } else { // BF16: 64 bytes of the row from element c0; elements past the row end weigh 0
        uint c[16];
        load_words(block + 2u * c0, 16u, c);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            vec4 v;
            [[unroll]] for (uint e = 0; e < 4u; ++e) {
                uint k = 4u * i + e;
                uint bits = (c[k >> 1] >> (16u * (k & 1u))) << 16;
                v[e] = c0 + k < p.cols ? uintBitsToFloat(bits & 0xFFFF0000u) : 0.0;
            }
            w[i] = v;
        }
    }
#endif
}

#endif
