// gemv_q4_0.comp — fused Q4_0 dequantize + GEMV over the split layout: Y[j][r] = sum_c X[j][c] * W[r][c].
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
// The same quants (RGBA32UI: one texel per block) and scales (R32UI) as texel buffers: CPU drivers
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

// The 32 weights of a block minus the Q4_0 offset 8: lo[w] = elements 4w..4w+3, hi[w] = 16+4w..16+4w+3.
void block_unpack(uint block_index, out vec4 lo[4], out vec4 hi[4])
{
    uvec4 q = quants[block_index];
    [[unroll]] for (uint w = 0; w < 4u; ++w) {
        uint word = q[w];
        lo[w] = vec4(uvec4(word, word >> 8, word >> 16, word >> 24) & 0xFu) - 8.0;
        hi[w] = vec4(uvec4(word >> 4, word >> 12, word >> 20, word >> 28) & 0xFu) - 8.0;
    }
}

float block_dot(vec4 lo[4], vec4 hi[4], uint xb)
{
    float s = dot(lo[0], load_x4(xb)) + dot(lo[1], load_x4(xb + 1u)) + dot(lo[2], load_x4(xb + 2u)) +
              dot(lo[3], load_x4(xb + 3u));
    return s + dot(hi[0], load_x4(xb + 4u)) + dot(hi[1], load_x4(xb + 5u)) + dot(hi[2], load_x4(xb + 6u)) +
           dot(hi[3], load_x4(xb + 7u));
}

// Accumulates d * dot(block, X[j] block) for every activation row j.
void block_accumulate(uint block_index, uint block_in_row, inout float acc[BATCH])
{
    vec4 lo[4], hi[4];
    block_unpack(block_index, lo, hi);
    float d = scale_of(block_index);
    [[unroll]] for (uint j = 0; j < BATCH; ++j)
        acc[j] += d * block_dot(lo, hi, (p.x_offset + j * p.x_stride) / 4u + block_in_row * 8u);
}

void main()
{
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupSize.x;
    uint nb = p.cols / LOWBIT_QK4_0;
    if (CPU_LAYOUT != 0u) {
        // Invocation walks rows first + k*wg (k < ROWS) block by block; every activation word it loads
        // serves ROWS rows, which matters where each load costs per invocation (CPU devices). Rows past
        // the end are clamped (computed, never stored).
        uint first = group * ROWS * wg + lid;
        if (first >= p.rows) return;
        float acc[ROWS * BATCH];
        [[unroll]] for (uint i = 0; i < ROWS * BATCH; ++i) acc[i] = 0.0;
        for (uint b = 0; b < nb; ++b) {
            uvec4 q[ROWS];
            float d[ROWS];
            [[unroll]] for (uint k = 0; k < ROWS; ++k) {
                uint block_index = min(first + k * wg, p.rows - 1u) * nb + b;
#if LOWBIT_TEXEL_WEIGHTS
                q[k] = texelFetch(quant_texels, int(block_index));
                uint scale_pair = texelFetch(scale_texels, int(block_index >> 1)).x;
                d[k] = unpackHalf2x16(scale_pair >> ((block_index & 1u) * 16u)).x;
#else
                q[k] = quants[block_index];
                d[k] = scale_of(block_index);
#endif
            }
            [[unroll]] for (uint j = 0; j < BATCH; ++j) {
                uint xb = (p.x_offset + j * p.x_stride) / 4u + b * 8u;
                float s[ROWS];
                [[unroll]] for (uint k = 0; k < ROWS; ++k) s[k] = 0.0;
                // The offset 8 is applied once per block as 8 * sum(x), not per weight. Nibbles stay in
                // place (masked, not shifted: q * 256^i converts exactly) and x is scaled by 256^-i
                // instead, once for all ROWS rows.
                vec4 x_sum = vec4(0.0);
                [[unroll]] for (uint w = 0; w < 4u; ++w) {
                    vec4 xl = load_x4(xb + w), xh = load_x4(xb + 4u + w);
                    x_sum += xl + xh;
                    const vec4 byte_scale = vec4(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0);
                    const ivec4 byte_mask = ivec4(0xF, 0xF00, 0xF0000, 0xF000000);
                    xl *= byte_scale;
                    xh *= byte_scale;
                    [[unroll]] for (uint k = 0; k < ROWS; ++k) {
                        vec4 lo = vec4(ivec4(int(q[k][w])) & byte_mask);
                        vec4 hi = vec4(ivec4(int(q[k][w] >> 4)) & byte_mask);
                        s[k] += dot(lo, xl) + dot(hi, xh);
                    }
                }
                float offset = 8.0 * (x_sum.x + x_sum.y + x_sum.z + x_sum.w);
                [[unroll]] for (uint k = 0; k < ROWS; ++k) s[k] -= offset;
                [[unroll]] for (uint k = 0; k < ROWS; ++k) acc[k * BATCH + j] += d[k] * s[k];
            }
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
