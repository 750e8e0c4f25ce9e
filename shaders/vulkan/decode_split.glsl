// decode_split.glsl — dequantize one 32-element group of a row of the split device layout (F32, F16, Q4_0,
// Q8_0: quants/rows in binding 0, f16 scales two per word in binding 1; see backends/vulkan/vulkan_memory.c),
// the same arithmetic as the gemv_{f32,f16,q4_0,q8_0}.comp block decoders. The includer declares
// `split_words` (binding 0 as uint), `split_quads` (binding 0 as uvec4), `split_scales` (binding 1) and FORMAT.
#ifndef LOWBIT_DECODE_SPLIT_GLSL
#define LOWBIT_DECODE_SPLIT_GLSL

const uint F_F32 = 0u, F_F16 = 1u, F_Q4_0 = 2u, F_Q8_0 = 8u;

float split_scale(uint block) { return unpackHalf2x16(split_scales[block >> 1] >> ((block & 1u) * 16u)).x; }

// Group g (elements 32g..32g+31) of `row` into w[i] = elements 4i..4i+3; F32/F16 elements past the row end
// (cols need not be a multiple of 32 there) weigh 0. Q4_0/Q8_0: the group is block row * cols/32 + g.
void split_dequant32(uint row, uint g, uint cols, out vec4 w[8])
{
    if (FORMAT == F_Q4_0) {
        uint block = row * (cols / 32u) + g;
        uvec4 q = split_quads[block];
        float d = split_scale(block);
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            uint word = q[i];
            w[i] = d * (vec4(uvec4(word, word >> 8, word >> 16, word >> 24) & 0xFu) - 8.0);
            w[4u + i] = d * (vec4(uvec4(word >> 4, word >> 12, word >> 20, word >> 28) & 0xFu) - 8.0);
        }
    } else if (FORMAT == F_Q8_0) {
        uint block = row * (cols / 32u) + g;
        uvec4 q0 = split_quads[2u * block], q1 = split_quads[2u * block + 1u];
        float d = split_scale(block);
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            int word = int(i < 4u ? q0[i] : q1[i - 4u]);
            w[i] = d * vec4(ivec4(word << 24, word << 16, word << 8, word) >> 24);
        }
    } else if (FORMAT == F_F32) {
        uint base = row * cols, c0 = 32u * g;
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            vec4 v;
            [[unroll]] for (uint e = 0; e < 4u; ++e) {
                uint c = c0 + 4u * i + e;
                v[e] = c < cols ? uintBitsToFloat(split_words[base + c]) : 0.0;
            }
            w[i] = v;
        }
    } else { // F16
        uint base = row * cols, c0 = 32u * g;
        [[unroll]] for (uint i = 0; i < 8u; ++i) {
            vec4 v;
            [[unroll]] for (uint e = 0; e < 4u; ++e) {
                uint c = c0 + 4u * i + e, index = base + c;
                v[e] = c < cols ? unpackHalf2x16(split_words[index >> 1] >> ((index & 1u) * 16u)).x : 0.0;
            }
            w[i] = v;
        }
    }
}

#endif
