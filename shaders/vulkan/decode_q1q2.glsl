// decode_q1q2.glsl — dequant32 of the 1- and 2-bit formats (Q1_0, Q2_0): group s of a block into 8 vec4, in the
// reference's element order (docs/formats.md §3). The OpenCL side of the family is shaders/opencl/gemv_q1q2.cl.
// Included by decode_raw.glsl, after the byte access and header helpers it uses.

// Returns false when FORMAT is not one of this family's (a constant once FORMAT is specialized).
bool dequant32_q1q2(uint block, uint s, uint h[16], out vec4 w[8])
{
    uint b[16];
    if (FORMAT == F_Q1_0) {
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
    } else {
        return false;
    }
    return true;
}
