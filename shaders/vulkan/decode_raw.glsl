// decode_raw.glsl — the stored-block (GGUF) decoders shared by gemv_raw.comp and gemm.comp: byte access at
// any offset into the weights (`raw`, or `raw_texels` with LOWBIT_TEXEL_WEIGHTS), block headers and
// dequant32(), which turns one 32-element group of a block into 8 vec4 (element order of the reference:
// docs/formats.md §3; ids, sizes and offsets from lowbit_formats.h), each family's part in decode_<family>.glsl.
// The includer declares FORMAT (the lowbit format id), the `raw` buffer (and `raw_texels` on the texel
// variant) and the push constants `p` (p.cols is read by BF16 and the grid formats).
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

// Q4_K/Q5_K and Q3_K scale unpacking (also read by gemv_raw.comp's packed K-quant path)
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

// BF16 (the one float format decoded here): 32 elements of the row starting at element c0; the block is the row.
void dequant32_bf16(uint block, uint c0, out vec4 w[8])
{
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

#if LOWBIT_RAW_GRID
#include "decode_grid.glsl"
#else
#include "decode_legacy.glsl"
#include "decode_kquants.glsl"
#include "decode_fp4.glsl"
#include "decode_q1q2.glsl"
#endif

// The 32 weights of group `s` of the block at byte `block` (header h), w[i] = elements 4i..4i+3; for BF16
// the group of the row starting at element c0 (block is the row).
// Each family's decoder is in its own file, decode_<family>.glsl (the family names of shaders/opencl/).
void dequant32(uint block, uint s, uint h[16], uint c0, out vec4 w[8])
{
#if LOWBIT_RAW_GRID
    dequant32_grid(block, s, h, w);
#else
    if (dequant32_legacy(block, s, h, w) || dequant32_kquants(block, s, h, w) || dequant32_fp4(block, s, h, w) ||
        dequant32_q1q2(block, s, h, w))
        return;
    dequant32_bf16(block, c0, w);
#endif
}

#endif
