// decode_fp4.glsl — dequant32 of the FP4 microscaling formats (MXFP4, NVFP4): group s of a block into 8 vec4, in the
// reference's element order (docs/formats.md §3). The OpenCL side of the family is shaders/opencl/gemv_fp4.cl.
// Included by decode_raw.glsl, after the byte access and header helpers it uses.

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

// Returns false when FORMAT is not one of this family's (a constant once FORMAT is specialized).
bool dequant32_fp4(uint block, uint s, uint h[16], out vec4 w[8])
{
    uint b[16];
    if (FORMAT == F_MXFP4) {
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
    } else {
        return false;
    }
    return true;
}
