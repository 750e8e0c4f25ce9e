// decode_int.glsl — 32-element groups of stored blocks as integers, for the kernels that keep the quants integer:
// gemv_raw.comp's packed K-quant path (packed_sub) and the integer-dot GEMV gemv_q8.comp (int_group). Included
// after decode_raw.glsl, whose byte access, headers and scale helpers it uses.
#ifndef LOWBIT_DECODE_INT_GLSL
#define LOWBIT_DECODE_INT_GLSL

// Sub-block s of a Q4_K / Q5_K / Q6_K block as 8 words whose bytes hold the quants of elements 4i..4i+3 in
// place (4, 5 or 6 bits each, unshifted), and the scale/offset of its two 16-element halves (weight =
// scale * q - offset).
void packed_sub(uint block, uint s, uint h[16], out uint q[8], out vec4 scale_offset)
{
    uint b[16];
    if (FORMAT == F_Q6_K) {
        uint hf = s >> 2, k = s & 3u, c[16];
        load_words(block + 64u * hf + 32u * (k & 1u), 8u, b);
        load_words(block + 128u + 32u * hf, 8u, c);
        [[unroll]] for (uint i = 0; i < 8u; ++i)
            q[i] = ((b[i] >> (4u * (k >> 1))) & 0x0F0F0F0Fu) | (((c[i] >> (2u * k)) & 0x03030303u) << 4);
        float d = half_of(h, 16u);
        vec2 scale = d * vec2(float(bitfieldExtract(int(byte_of(h, 2u * s)), 0, 8)),
                              float(bitfieldExtract(int(byte_of(h, 2u * s + 1u)), 0, 8)));
        scale_offset = vec4(scale, 32.0 * scale);
    } else {
        load_words(block + (FORMAT == F_Q4_K ? 16u : 48u) + 32u * (s >> 1), 8u, b);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            q[i] = (b[i] >> (4u * (s & 1u))) & 0x0F0F0F0Fu;
            if (FORMAT == F_Q5_K) q[i] |= ((h[4u + i] >> s) & 0x01010101u) << 4; // bit s of qh[l]
        }
        uvec2 sm = scale_min_k4(h, s);
        float scale = half_of(h, 0u) * float(sm.x), offset = half_of(h, 2u) * float(sm.y);
        scale_offset = vec4(scale, scale, offset, offset);
    }
}

#if !LOWBIT_RAW_GRID
// The little-endian word at even byte k of w (k ≡ 2 mod 4: funnel-shifted from its two neighbours).
uint word_of(uint w[16], uint k)
{
    uint i = k >> 2;
    return (k & 2u) == 0u ? w[i] : (w[i] >> 16) | (w[i + 1u] << 16);
}

// The 4 low bits of `bits` (bit e: element e) as bit 4 of byte e.
uint high_bits4(uint bits) { return ((bits & 1u) | ((bits & 2u) << 7) | ((bits & 4u) << 14) | ((bits & 8u) << 21)) << 4; }

// Four signed values (each in -128..127) as the bytes of a word, the first lowest.
uint pack_bytes(ivec4 v) { return uint(v.x & 0xFF) | uint(v.y & 0xFF) << 8 | uint(v.z & 0xFF) << 16 | uint(v.w & 0xFF) << 24; }

// A word of 4 IQ4 level indices (one per byte) as the levels themselves (int8 bytes).
uint kvalue_bytes(uint indices) { return pack_bytes(ivec4(kvalues4(bytes4(indices)))); }

// Bytes of `v` (each 0..127) minus c (each byte c ≤ v's) as int8 bytes: no borrow crosses a byte.
uint bytes_minus(uint v, uint c) { return ((v | 0x80808080u) - c) ^ 0x80808080u; }

// Group s of the stored block at `block` (header h) as signed int8 quants, q[i] = elements 4i..4i+3, one per byte
// (element 4i in the low byte), and so = (scale of elements 0..15, scale of 16..31, offset of 0..15, offset of
// 16..31): weight = scale·q − offset, so a group's dot with activations x is so.x·Σ₀¹⁵ q·x + so.y·Σ₁₆³¹ q·x −
// so.z·Σ₀¹⁵ x − so.w·Σ₁₆³¹ x (the offsets differ in Q2_K alone). Returns false for a format without an integer form
// (a constant once FORMAT is specialized).
bool int_group(uint block, uint s, uint h[16], out uint q[8], out vec4 so)
{
    uint b[16];
    if (FORMAT == F_Q4_1 || FORMAT == F_IQ4_NL || FORMAT == F_IQ4_XS) {
        // nibbles: low ones are elements 0..15, high ones 16..31; Q4_1: d, m, qs; IQ4_NL: d, qs; IQ4_XS: qs of s
        uint at = FORMAT == F_Q4_1 ? 4u : FORMAT == F_IQ4_NL ? 2u : 0u;
        load_words(FORMAT == F_IQ4_XS ? block + 8u + 16u * s : block, 5u, b);
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint w = word_of(b, at + 4u * i);
            q[i] = w & 0x0F0F0F0Fu;
            q[4u + i] = (w >> 4) & 0x0F0F0F0Fu;
            if (FORMAT != F_Q4_1) q[i] = kvalue_bytes(q[i]), q[4u + i] = kvalue_bytes(q[4u + i]);
        }
        float d = FORMAT == F_IQ4_XS ? half_of(h, 0u) * float(iq4_xs_scale(h, s)) : half_of(b, 0u);
        so = vec4(d, d, vec2(FORMAT == F_Q4_1 ? -half_of(b, 2u) : 0.0));
    } else if (FORMAT == F_Q5_0 || FORMAT == F_Q5_1) {
        uint at = FORMAT == F_Q5_0 ? 2u : 4u; // qh follows d (and m), qs follow qh
        load_words(block, 6u, b);
        uint qh = word_of(b, at);
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint w = word_of(b, at + 4u + 4u * i);
            q[i] = (w & 0x0F0F0F0Fu) | high_bits4(qh >> (4u * i));
            q[4u + i] = ((w >> 4) & 0x0F0F0F0Fu) | high_bits4(qh >> (16u + 4u * i));
        }
        float d = half_of(b, 0u);
        so = vec4(d, d, vec2(FORMAT == F_Q5_0 ? 16.0 * d : -half_of(b, 2u)));
    } else if (FORMAT == F_Q4_K || FORMAT == F_Q5_K || FORMAT == F_Q6_K) {
        packed_sub(block, s, h, q, so); // unsigned 4..6-bit quants, valid int8 as they are
        if (FORMAT == F_Q6_K) { // q − 32, offset 0
            [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = bytes_minus(q[i], 0x20202020u);
            so.zw = vec2(0.0);
        }
    } else if (FORMAT == F_Q2_K || FORMAT == F_Q3_K) {
        // 2 low bits at shift 2(s % 4) of qs[32(s / 4) + l]; Q2_K: scale | min << 4 per 16 elements; Q3_K: bit s of
        // hmask[l] (header words 0..7) adds 4, then q − 4, signed 6-bit scales per 16 elements
        load_words(block + (FORMAT == F_Q2_K ? 16u : 32u) + 32u * (s >> 2), 8u, b);
        uint shift = 2u * (s & 3u);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            q[i] = (b[i] >> shift) & 0x03030303u;
            if (FORMAT == F_Q3_K) q[i] = bytes_minus(q[i] | (((h[i] >> s) & 0x01010101u) << 2), 0x04040404u);
        }
        if (FORMAT == F_Q2_K) {
            float d = half_of(h, 16u), dmin = half_of(h, 18u);
            uint sc0 = byte_of(h, 2u * s), sc1 = byte_of(h, 2u * s + 1u);
            so = vec4(d * vec2(sc0 & 0xFu, sc1 & 0xFu), dmin * vec2(sc0 >> 4, sc1 >> 4));
        } else {
            float d = half_of(h, 44u);
            so = vec4(d * scale_q3k(h, 2u * s), d * scale_q3k(h, 2u * s + 1u), 0.0, 0.0);
        }
    } else {
        [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = 0u;
        so = vec4(0.0);
        return false;
    }
    return true;
}
#endif

#endif
