// decode_kquants.glsl — dequant32 of the K-quant and ternary formats (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, TQ1_0, TQ2_0): group s of a block into 8 vec4, in the
// reference's element order (docs/formats.md §3). The OpenCL side of the family is shaders/opencl/gemv_kquants.cl.
// Included by decode_raw.glsl, after the byte access and header helpers it uses.

// one ternary digit of a TQ1_0 byte: digit p of (b · 3^p mod 256)
uvec4 trits(uvec4 b, uint power) { return (((b * power) & 0xFFu) * 3u) >> 8; }

// IQ4_XS: the signed 6-bit scale of sub-block s (scales_l nibble, scales_h 2 bits, minus 32)
int iq4_xs_scale(uint h[16], uint s)
{
    uint ls = ((byte_of(h, 4u + (s >> 1)) >> (4u * (s & 1u))) & 0xFu) | (((h[0] >> (16u + 2u * s)) & 3u) << 4);
    return int(ls) - 32;
}

// Returns false when FORMAT is not one of this family's (a constant once FORMAT is specialized).
bool dequant32_kquants(uint block, uint s, uint h[16], out vec4 w[8])
{
    uvec4 q[8];
    uint b[16];
    if (FORMAT == F_IQ4_XS) {
        float d = half_of(h, 0u);
        float dl = d * float(iq4_xs_scale(h, s));
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
    } else {
        return false;
    }
    return true;
}
