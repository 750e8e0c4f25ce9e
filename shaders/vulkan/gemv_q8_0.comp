// gemv_q8_0.comp — fused Q8_0 dequantize + GEMV over the split layout: Y[j][r] = sum_c X[j][c] * W[r][c].
// CPU_LAYOUT=1: each invocation walks whole rows (CPU-class devices); 0: a workgroup shares a row and sums
// it in workgroup_sum.glsl (subgroupAdd in the *_subgroups module). X is f32 or f16 (activations.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#ifndef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#endif
#include "lowbit_blocks.h"
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;
layout(constant_id = LOWBIT_VK_SPEC_ROWS) const uint ROWS = 1;  // rows per workgroup (GPU) / per invocation (CPU)
layout(constant_id = LOWBIT_VK_SPEC_CPU_LAYOUT) const uint CPU_LAYOUT = 0;
layout(constant_id = LOWBIT_VK_SPEC_BATCH) const uint BATCH = 1; // activation rows handled by one dispatch (1..8)

layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer Quants { uvec4 quants[]; };
#if LOWBIT_TEXEL_WEIGHTS
// The same quants (RGBA32UI: two texels per block) and scales (R32UI) as texel buffers: CPU drivers
// vectorize texel fetches across invocations, storage loads they issue one invocation at a time.
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHT_TEXELS) uniform usamplerBuffer quant_texels;
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_SCALE_TEXELS) uniform usamplerBuffer scale_texels;
#endif
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_SCALES) readonly buffer Scales { uint scales[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { LOWBIT_VK_GEMV_PUSH_FIELDS(uint) } p;

#include "activations.glsl"
#include "workgroup_sum.glsl"

float scale_of(uint index) { return unpackHalf2x16(scales[index >> 1] >> ((index & 1u) * 16u)).x; }

// Accumulates d * dot(block, X[j] block) for every activation row j.
void block_accumulate(uint block_index, uint block_in_row, inout float acc[BATCH])
{
    uvec4 q0 = quants[block_index * 2u], q1 = quants[block_index * 2u + 1u];
    float d = scale_of(block_index);
    vec4 v[8];
    [[unroll]] for (uint w = 0; w < 8u; ++w) {
        int word = int(w < 4u ? q0[w] : q1[w - 4u]);
        v[w] = vec4(ivec4(word << 24, word << 16, word << 8, word) >> 24);
    }
    [[unroll]] for (uint j = 0; j < BATCH; ++j) {
        uint xb = (p.x_offset + j * p.x_stride) / 4u + block_in_row * 8u;
        float s = dot(v[0], load_x4(xb)) + dot(v[1], load_x4(xb + 1u)) + dot(v[2], load_x4(xb + 2u)) +
                  dot(v[3], load_x4(xb + 3u));
        s += dot(v[4], load_x4(xb + 4u)) + dot(v[5], load_x4(xb + 5u)) + dot(v[6], load_x4(xb + 6u)) +
             dot(v[7], load_x4(xb + 7u));
        acc[j] += d * s;
    }
}

// Words 4h..4h+3 (h = 0, 1) of block `block_index`, and the activation vec4 at vec4 index i.
uvec4 quant_words(uint block_index, uint h)
{
#if LOWBIT_TEXEL_WEIGHTS
    return texelFetch(quant_texels, int(block_index * 2u + h));
#else
    return quants[block_index * 2u + h];
#endif
}

vec4 x_vec4(uint i) { return load_x4(i); }

float scale_of_block(uint index)
{
#if LOWBIT_TEXEL_WEIGHTS
    return unpackHalf2x16(texelFetch(scale_texels, int(index >> 1)).x >> ((index & 1u) * 16u)).x;
#else
    return scale_of(index);
#endif
}

void main()
{
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupSize.x;
    uint nb = p.cols / LOWBIT_QK8_0;
    if (CPU_LAYOUT != 0u) {
        // Invocation walks rows first + k*wg (k < ROWS) block by block; every activation load serves
        // ROWS rows, which matters where each load costs per invocation (CPU devices). Rows past the end
        // are clamped (computed, never stored).
        uint first = group * ROWS * wg + lid;
        if (first >= p.rows) return;
        float acc[ROWS * BATCH];
        [[unroll]] for (uint i = 0; i < ROWS * BATCH; ++i) acc[i] = 0.0;
        for (uint b = 0; b < nb; ++b) {
            uvec4 q[ROWS * 2u];
            float d[ROWS];
            [[unroll]] for (uint k = 0; k < ROWS; ++k) {
                uint block_index = min(first + k * wg, p.rows - 1u) * nb + b;
                q[2u * k] = quant_words(block_index, 0u);
                q[2u * k + 1u] = quant_words(block_index, 1u);
                d[k] = scale_of_block(block_index);
            }
            float s[ROWS * BATCH];
            [[unroll]] for (uint i = 0; i < ROWS * BATCH; ++i) s[i] = 0.0;
            [[unroll]] for (uint w = 0; w < 8u; ++w) {
                vec4 v[ROWS];
                [[unroll]] for (uint k = 0; k < ROWS; ++k) {
                    int word = int(q[2u * k + w / 4u][w % 4u]);
                    v[k] = vec4(ivec4(word << 24, word << 16, word << 8, word) >> 24);
                }
                [[unroll]] for (uint j = 0; j < BATCH; ++j) {
                    vec4 xv = x_vec4((p.x_offset + j * p.x_stride) / 4u + b * 8u + w);
                    [[unroll]] for (uint k = 0; k < ROWS; ++k) s[k * BATCH + j] += dot(v[k], xv);
                }
            }
            [[unroll]] for (uint k = 0; k < ROWS; ++k)
                [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[k * BATCH + j] += d[k] * s[k * BATCH + j];
        }
        [[unroll]] for (uint k = 0; k < ROWS; ++k) {
            uint row = first + k * wg;
            if (row < p.rows)
                [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = acc[k * BATCH + j];
        }
        return;
    }
    [[unroll]] for (uint k = 0; k < ROWS; ++k) {
        uint row = group * ROWS + k;
        float acc[BATCH];
        [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] = 0.0;
        if (row < p.rows)
            for (uint b = lid; b < nb; b += wg) block_accumulate(row * nb + b, b, acc);
        workgroup_sum(acc);
        if (lid == 0u && row < p.rows)
            [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = acc[j];
    }
}
