// decode_legacy.glsl — dequant32 of the legacy formats (Q4_1, Q5_0, Q5_1, IQ4_NL): group s of a block into 8 vec4, in the
// reference's element order (docs/formats.md §3). The OpenCL side of the family is shaders/opencl/gemv_legacy.cl.
// Included by decode_raw.glsl, after the byte access and header helpers it uses.

// Returns false when FORMAT is not one of this family's (a constant once FORMAT is specialized).
bool dequant32_legacy(uint block, uint s, uint h[16], out vec4 w[8])
{
    uvec4 q[8];
    uint b[16];
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
    } else {
        return false;
    }
    return true;
}
