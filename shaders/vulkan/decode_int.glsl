// decode_int.glsl — 32-element groups of stored blocks as integers, for the kernels that keep the quants integer:
// gemv_raw.comp's packed K-quant path (packed_sub) and the integer-dot GEMV gemv_q8.comp (int_group: every stored
// block format; the grid formats' version is built into the *_grid modules, LOWBIT_RAW_GRID=1). Included after
// decode_raw.glsl, whose byte access, headers and scale helpers (and family decoders) it uses.
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

// --- helpers of both module kinds (the grid formats' int_group is built into the *_grid modules) ----------

// Four signed values (each in -128..127) as the bytes of a word, the first lowest.
uint pack_bytes(ivec4 v) { return uint(v.x & 0xFF) | uint(v.y & 0xFF) << 8 | uint(v.z & 0xFF) << 16 | uint(v.w & 0xFF) << 24; }

// Bytes of `v` (each 0..127) minus c (each byte of c at most 128) as int8 bytes: v | 0x80 ≥ c per byte, so no
// borrow crosses a byte; the differences must lie in -128..127.
uint bytes_minus(uint v, uint c) { return ((v | 0x80808080u) - c) ^ 0x80808080u; }

// The 4 low bits of `bits` as bytes 0..3 (each 0 or 1).
uint bits_to_bytes(uint bits) { return (bits & 1u) | ((bits & 2u) << 7) | ((bits & 4u) << 14) | ((bits & 8u) << 21); }

// The four 2-bit fields of v's low byte (field k at bit 2k) as bytes 0..3.
uint fields2_to_bytes(uint v) { return (v & 3u) | ((v & 0xCu) << 6) | ((v & 0x30u) << 12) | ((v & 0xC0u) << 18); }

#if !LOWBIT_RAW_GRID
// The little-endian word at even byte k of w (k ≡ 2 mod 4: funnel-shifted from its two neighbours).
uint word_of(uint w[16], uint k)
{
    uint i = k >> 2;
    return (k & 2u) == 0u ? w[i] : (w[i] >> 16) | (w[i + 1u] << 16);
}

// The 4 low bits of `bits` (bit e: element e) as bit 4 of byte e.
uint high_bits4(uint bits) { return bits_to_bytes(bits) << 4; }

// A word of 4 IQ4 level indices (one per byte) as the levels themselves (int8 bytes).
uint kvalue_bytes(uint indices) { return pack_bytes(ivec4(kvalues4(bytes4(indices)))); }

// A word of 4 E2M1 codes (one per byte) as their doubled values (fp4_levels: 0, ±1, ±2, ±3, ±4, ±6, ±8, ±12) in
// int8 bytes, looked up with selects as kvalues4: codes 0..3, 4..7, 8..11, 12..15 in a word each.
const uint FP4_0 = 0x03020100u, FP4_1 = 0x0C080604u, FP4_2 = 0xFDFEFF00u, FP4_3 = 0xF4F8FAFCu;
uint fp4_bytes(uint codes)
{
    uvec4 q = bytes4(codes);
    bvec4 odd = notEqual(q & 4u, uvec4(0u)), high = greaterThanEqual(q, uvec4(8u));
    uvec4 word = mix(mix(uvec4(FP4_0), uvec4(FP4_1), odd), mix(uvec4(FP4_2), uvec4(FP4_3), odd), high);
    uvec4 v = (word >> (8u * (q & 3u))) & 0xFFu;
    return v.x | (v.y << 8) | (v.z << 16) | (v.w << 24);
}

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
    } else if (FORMAT == F_MXFP4) {
        // e, then qs[16] from byte 1: low nibbles elements 0..15, high 16..31; doubled levels, half the scale
        load_words(block, 5u, b);
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint w = (b[i] >> 8) | (b[i + 1u] << 24); // qs[4i..4i+3]
            q[i] = fp4_bytes(w & 0x0F0F0F0Fu);
            q[4u + i] = fp4_bytes((w >> 4) & 0x0F0F0F0Fu);
        }
        float d = e8m0_half(byte_of(b, LOWBIT_MXFP4_E));
        so = vec4(d, d, 0.0, 0.0);
    } else if (FORMAT == F_NVFP4) {
        // group s is sub-blocks 2s, 2s + 1 (one UE4M3 scale per 16 elements: the two halves' scales), each 8 bytes
        // of qs: low nibbles elements 0..7, high 8..15
        load_words(block, 9u, b);
        [[unroll]] for (uint t = 0; t < 2u; ++t) {
            uint first = (LOWBIT_NVFP4_QS + 16u * s + 8u * t) / 4u, lo = b[first], hi = b[first + 1u];
            q[4u * t] = fp4_bytes(lo & 0x0F0F0F0Fu);
            q[4u * t + 1u] = fp4_bytes(hi & 0x0F0F0F0Fu);
            q[4u * t + 2u] = fp4_bytes((lo >> 4) & 0x0F0F0F0Fu);
            q[4u * t + 3u] = fp4_bytes((hi >> 4) & 0x0F0F0F0Fu);
        }
        so = vec4(ue4m3_half(byte_of(b, LOWBIT_NVFP4_D + 2u * s)), ue4m3_half(byte_of(b, LOWBIT_NVFP4_D + 2u * s + 1u)),
                  0.0, 0.0);
    } else if (FORMAT == F_Q1_0) {
        // bit j of the word at qs + 4s is element j: set +1, clear −1 (0xFF ^ 0xFE = 1, 0xFF ^ 0 = −1 per byte)
        load_words(block, 5u, b);
        uint bits = word_of(b, LOWBIT_Q1_0_QS + 4u * s);
        [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = 0xFFFFFFFFu ^ (bits_to_bytes(bits >> (4u * i)) * 0xFEu);
        float d = half_of(b, LOWBIT_Q1_0_D);
        so = vec4(d, d, 0.0, 0.0);
    } else if (FORMAT == F_Q2_0) {
        // byte k of qs + 8s holds elements 4k..4k+3 (2 bits each); q − 1
        load_words(block, 5u, b);
        uint w0 = word_of(b, LOWBIT_Q2_0_QS + 8u * s), w1 = word_of(b, LOWBIT_Q2_0_QS + 8u * s + 4u);
        [[unroll]] for (uint i = 0; i < 8u; ++i)
            q[i] = bytes_minus(fields2_to_bytes((i < 4u ? w0 : w1) >> (8u * (i & 3u))), 0x01010101u);
        float d = half_of(b, LOWBIT_Q2_0_D);
        so = vec4(d, d, 0.0, 0.0);
    } else if (FORMAT == F_TQ2_0) {
        // qs[32(s / 4) + l] at shift 2(s % 4), q − 1
        load_words(block + 32u * (s >> 2), 8u, b);
        uint shift = 2u * (s & 3u);
        [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = bytes_minus((b[i] >> shift) & 0x03030303u, 0x01010101u);
        float d = half_of(h, 0u);
        so = vec4(d, d, 0.0, 0.0);
    } else if (FORMAT == F_TQ1_0) {
        // the trits of dequant32_kquants (the header is the whole block), q − 1
        const uint powers[5] = uint[5](1u, 3u, 9u, 27u, 81u);
        if (s < 5u) {
            uint power = powers[s];
            [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = pack_bytes(ivec4(trits(bytes4(h[i]), power)));
        } else {
            uint p0 = 2u * (s - 5u);
            uint power0 = powers[min(p0, 4u)], power1 = powers[min(p0 + 1u, 4u)];
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
                uvec4 by = bytes4(h[8u + i]);
                q[i] = pack_bytes(ivec4(trits(by, power0)));
                q[4u + i] = pack_bytes(ivec4(trits(s < 7u ? by : bytes4(h[12]), s < 7u ? power1 : powers[i])));
            }
        }
        [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = bytes_minus(q[i], 0x01010101u);
        float d = half_of(h, LOWBIT_TQ1_0_D);
        so = vec4(d, d, 0.0, 0.0);
    } else {
        [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = 0u;
        so = vec4(0.0);
        return false;
    }
    return true;
}
#else
// The grid formats (the *_grid modules): grid entries as int8 bytes with their signs applied. IQ2: magnitudes 8,
// 25, 43 times the float path's db; IQ3_XXS 4..62, IQ3_S 1..15; IQ1_S / IQ1_M: grid value g ∈ {−1, 0, 1} plus the
// shift ±1/8 as 8g ± 1 (−9..9), with the scale divided by 8 (exact), so no offsets.

// The four 3-bit fields of v (field k at bit 3k) as bytes 0..3.
uint fields3_to_bytes(uint v) { return (v & 7u) | ((v & 0x38u) << 5) | ((v & 0x1C0u) << 10) | ((v & 0xE00u) << 15); }

// Bytes m (each 1..127) negated where bit k of `signs` is set: ~m + 1 per byte, which never carries for m ≥ 1.
uint signed_bytes(uint m, uint signs)
{
    uint negative = bits_to_bytes(signs) * 0xFFu;
    return (m ^ negative) + (negative & 0x01010101u);
}

// Elements 4h..4h+3 of an IQ2 grid entry as magnitudes: 2-bit codes c → 8 + 17c + (c >> 1)
uint grid2_bytes(uint code, uint h)
{
    uint c = fields2_to_bytes(code >> (8u * h));
    return c * 17u + ((c >> 1) & 0x01010101u) + 0x08080808u;
}

// An IQ3 grid entry as magnitudes: 3-bit codes c → 4 + 8c (7 → 62) for IQ3_XXS, 1 + 2c for IQ3_S
uint grid3_bytes(uint code)
{
    uint c = fields3_to_bytes(code);
    if (FORMAT == F_IQ3_S) return c * 2u + 0x01010101u;
    return c * 8u + 0x04040404u + 2u * (c & (c >> 1) & (c >> 2) & 0x01010101u);
}

// Elements 4h..4h+3 of an IQ1 grid entry: 2-bit codes c → 8(c − 1) + 1, or − 1 where the shift is negative
uint grid1_bytes(uint code, uint h, bool negative)
{
    return bytes_minus(fields2_to_bytes(code >> (8u * h)) * 8u, negative ? 0x09090909u : 0x07070707u);
}

// int_group (above) for the grid formats, read as dequant32_grid reads them.
bool int_group(uint block, uint s, uint h[16], out uint q[8], out vec4 so)
{
    uint b[16];
    if (FORMAT == F_IQ2_XXS) {
        load_words(block + LOWBIT_IQ2_XXS_QS + 8u * s, 2u, b);
        float db = half_of(h, 0u) * (0.5 + float(b[1] >> 28)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code = grid_code((b[0] >> (8u * l)) & 0xFFu), sg = signs_from7((b[1] >> (7u * l)) & 127u);
            q[2u * l] = signed_bytes(grid2_bytes(code, 0u), sg);
            q[2u * l + 1u] = signed_bytes(grid2_bytes(code, 1u), sg >> 4);
        }
        so = vec4(db, db, 0.0, 0.0);
    } else if (FORMAT == F_IQ2_XS || FORMAT == F_IQ2_S) {
        // IQ2_XS: four u16 (9-bit index, 7-bit sign set); IQ2_S: 4 index bytes (+ 2 bits each of qh[s]) and 4 sign
        // bytes; a scale byte per group (low nibble: elements 0..15)
        uint sc;
        if (FORMAT == F_IQ2_XS) {
            load_words(block + LOWBIT_IQ2_XS_QS + 8u * s, 2u, b);
            sc = word_at_byte(block + LOWBIT_IQ2_XS_SCALES + s) & 0xFFu;
        } else {
            b[0] = word_at_byte(block + LOWBIT_IQ2_S_QS + 4u * s);
            b[1] = word_at_byte(block + LOWBIT_IQ2_S_QS + 32u + 4u * s);
            b[2] = word_at_byte(block + LOWBIT_IQ2_S_QH + s) & 0xFFu;
            sc = word_at_byte(block + LOWBIT_IQ2_S_SCALES + s) & 0xFFu;
        }
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code, sg;
            if (FORMAT == F_IQ2_XS) {
                uint v = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFFFu;
                code = grid_code(v & 511u), sg = signs_from7(v >> 9);
            } else {
                code = grid_code(((b[0] >> (8u * l)) & 0xFFu) | ((b[2] << (8u - 2u * l)) & 0x300u));
                sg = (b[1] >> (8u * l)) & 0xFFu;
            }
            q[2u * l] = signed_bytes(grid2_bytes(code, 0u), sg);
            q[2u * l + 1u] = signed_bytes(grid2_bytes(code, 1u), sg >> 4);
        }
        float d = half_of(h, 0u);
        so = vec4(d * (0.5 + float(sc & 0xFu)) * 0.25, d * (0.5 + float(sc >> 4)) * 0.25, 0.0, 0.0);
    } else if (FORMAT == F_IQ3_XXS || FORMAT == F_IQ3_S) {
        // 8 index bytes at qs + 8s (IQ3_S: a 9th bit each from qh[s]); IQ3_XXS: a word of four 7-bit sign sets
        // and a scale; IQ3_S: 4 sign bytes, a scale nibble
        load_words(block + (FORMAT == F_IQ3_S ? LOWBIT_IQ3_S_QS : LOWBIT_IQ3_XXS_QS) + 8u * s, 2u, b);
        uint qh = 0u, aux;
        float db;
        if (FORMAT == F_IQ3_S) {
            qh = word_at_byte(block + LOWBIT_IQ3_S_QH + s) & 0xFFu;
            aux = word_at_byte(block + LOWBIT_IQ3_S_SIGNS + 4u * s);
            uint sc = (word_at_byte(block + LOWBIT_IQ3_S_SCALES + (s >> 1)) >> (4u * (s & 1u))) & 0xFu;
            db = half_of(h, 0u) * float(1u + 2u * sc);
        } else {
            aux = word_at_byte(block + LOWBIT_IQ3_XXS_QS + 64u + 4u * s);
            db = half_of(h, 0u) * (0.5 + float(aux >> 28)) * 0.5;
        }
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint pair = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFFFu;
            uint i0 = (pair & 0xFFu) | ((qh << (8u - 2u * l)) & 256u), i1 = (pair >> 8) | ((qh << (7u - 2u * l)) & 256u);
            uint sg = FORMAT == F_IQ3_S ? (aux >> (8u * l)) & 0xFFu : signs_from7((aux >> (7u * l)) & 127u);
            q[2u * l] = signed_bytes(grid3_bytes(grid_code(i0)), sg);
            q[2u * l + 1u] = signed_bytes(grid3_bytes(grid_code(i1)), sg >> 4);
        }
        so = vec4(db, db, 0.0, 0.0);
    } else if (FORMAT == F_IQ1_S) {
        // 4 low index bytes at qs + 4s, u16 qh[s]: 3 high bits per index, a 3-bit scale, the shift's sign (bit 15)
        uint lo = word_at_byte(block + LOWBIT_IQ1_S_QS + 4u * s);
        uint qh = word_at_byte(block + LOWBIT_IQ1_S_QH + 2u * s) & 0xFFFFu;
        bool negative = (qh & 0x8000u) != 0u;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code = grid_code(((lo >> (8u * l)) & 0xFFu) | (((qh >> (3u * l)) & 7u) << 8));
            q[2u * l] = grid1_bytes(code, 0u, negative);
            q[2u * l + 1u] = grid1_bytes(code, 1u, negative);
        }
        float dl = half_of(h, 0u) * float(2u * ((qh >> 12) & 7u) + 1u) * 0.125;
        so = vec4(dl, dl, 0.0, 0.0);
    } else if (FORMAT == F_IQ1_M) {
        // d from the top nibbles of the 4 scale u16s (header); qh bytes 2s, 2s + 1: 3 high bits and a shift sign
        // per index; two 3-bit scales (elements 0..15, 16..31) in scales u16 s / 2
        uint sc0 = h[0] & 0xFFFFu, sc1 = h[0] >> 16, sc2 = h[1] & 0xFFFFu, sc3 = h[1] >> 16;
        float d = unpackHalf2x16((sc0 >> 12) | ((sc1 >> 8) & 0x00F0u) | ((sc2 >> 4) & 0x0F00u) | (sc3 & 0xF000u)).x;
        uint sc = (h[s >> 2] >> (16u * ((s >> 1) & 1u))) & 0xFFFFu;
        uint lo = word_at_byte(block + LOWBIT_IQ1_M_QS + 4u * s); // word-aligned: IQ1_M blocks are whole words
        load_words(block + LOWBIT_IQ1_M_QH, 4u, b);
        uint qh2 = (b[s >> 1] >> (16u * (s & 1u))) & 0xFFFFu; // qh[2s] | qh[2s + 1] << 8
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint qh = (qh2 >> (8u * (l >> 1))) & 0xFFu;
            uint high = (l & 1u) == 0u ? (qh << 8) & 0x700u : (qh << 4) & 0x700u;
            bool negative = (qh & ((l & 1u) == 0u ? 0x08u : 0x80u)) != 0u;
            uint code = grid_code(((lo >> (8u * l)) & 0xFFu) | high);
            q[2u * l] = grid1_bytes(code, 0u, negative);
            q[2u * l + 1u] = grid1_bytes(code, 1u, negative);
        }
        so = vec4(d * float(2u * ((sc >> (6u * (s & 1u))) & 7u) + 1u) * 0.125,
                  d * float(2u * ((sc >> (6u * (s & 1u) + 3u)) & 7u) + 1u) * 0.125, 0.0, 0.0);
    } else {
        [[unroll]] for (uint i = 0; i < 8u; ++i) q[i] = 0u;
        so = vec4(0.0);
        return false;
    }
    return true;
}
#endif

#endif
