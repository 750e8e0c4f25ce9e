// gemv_f32.comp — GEMV over f32 weights (row-major, any cols): Y[j][r] = sum_c X[j][c] * W[r][c].
// CPU_LAYOUT=1: each invocation walks whole rows (CPU-class devices); 0: a workgroup shares a row and sums
// it in workgroup_sum.glsl (subgroupAdd in the *_subgroups module). X is f32 or f16 (activations.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#ifndef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#endif
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;
layout(constant_id = LOWBIT_VK_SPEC_ROWS) const uint ROWS = 1;  // rows per workgroup (GPU) / per invocation (CPU)
layout(constant_id = LOWBIT_VK_SPEC_CPU_LAYOUT) const uint CPU_LAYOUT = 0;
layout(constant_id = LOWBIT_VK_SPEC_BATCH) const uint BATCH = 1; // activation rows handled by one dispatch (1..8)

// Scalar and vec4 views of the same binding: the vec4 path runs when cols % 4 == 0.
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer W { float w[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer W4 { vec4 w4[]; };
#if LOWBIT_TEXEL_WEIGHTS
// The same weights as RGBA32UI texels (4 floats): CPU drivers vectorize texel fetches across
// invocations, storage loads they issue one invocation at a time.
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHT_TEXELS) uniform usamplerBuffer weight_texels;
#endif
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { LOWBIT_VK_GEMV_PUSH_FIELDS(uint) } p;

#include "activations.glsl"
#include "workgroup_sum.glsl"

// Chunk c of row `row`: 4 elements on the vec4 path, else 1 (padded with zeros).
vec4 weight_chunk(uint row, uint c, bool vec_path)
{
    if (vec_path) return w4[row * (p.cols / 4u) + c];
    return vec4(w[row * p.cols + c], 0.0, 0.0, 0.0);
}

vec4 x_chunk(uint j, uint c, bool vec_path)
{
    if (vec_path) return load_x4((p.x_offset + j * p.x_stride) / 4u + c);
    return vec4(load_x1(p.x_offset + j * p.x_stride + c), 0.0, 0.0, 0.0);
}

// Weights of chunk c of `row` on the vec4 path.
vec4 weight_vec4(uint row, uint c)
{
#if LOWBIT_TEXEL_WEIGHTS
    return uintBitsToFloat(texelFetch(weight_texels, int(row * (p.cols / 4u) + c)));
#else
    return w4[row * (p.cols / 4u) + c];
#endif
}

vec4 x_vec4(uint j, uint c) { return load_x4((p.x_offset + j * p.x_stride) / 4u + c); }

void chunk_accumulate(uint row, uint c, bool vec_path, inout float acc[BATCH])
{
    vec4 wv = weight_chunk(row, c, vec_path);
    [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] += dot(wv, x_chunk(j, c, vec_path));
}

void main()
{
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupSize.x;
    bool vec_path = (p.cols & 3u) == 0u && (p.x_stride & 3u) == 0u && (p.x_offset & 3u) == 0u;
    uint chunks = vec_path ? p.cols / 4u : p.cols;
    if (CPU_LAYOUT != 0u) {
        // Invocation walks rows first + k*wg (k < ROWS); every activation load serves ROWS rows, which
        // matters where each load costs per invocation (CPU devices). Rows past the end are clamped.
        uint first = group * ROWS * wg + lid;
        if (first >= p.rows) return;
        float acc[ROWS * BATCH];
        [[unroll]] for (uint i = 0; i < ROWS * BATCH; ++i) acc[i] = 0.0;
        if (vec_path) {
            for (uint c = 0; c < chunks; ++c) {
                vec4 wv[ROWS];
                [[unroll]] for (uint k = 0; k < ROWS; ++k) wv[k] = weight_vec4(min(first + k * wg, p.rows - 1u), c);
                [[unroll]] for (uint j = 0; j < BATCH; ++j) {
                    vec4 xv = x_vec4(j, c);
                    [[unroll]] for (uint k = 0; k < ROWS; ++k) acc[k * BATCH + j] += dot(wv[k], xv);
                }
            }
        } else {
            for (uint c = 0; c < chunks; ++c) {
                float wv[ROWS];
                [[unroll]] for (uint k = 0; k < ROWS; ++k)
                    wv[k] = weight_chunk(min(first + k * wg, p.rows - 1u), c, false).x;
                [[unroll]] for (uint j = 0; j < BATCH; ++j) {
                    float xv = load_x1(p.x_offset + j * p.x_stride + c);
                    [[unroll]] for (uint k = 0; k < ROWS; ++k) acc[k * BATCH + j] += wv[k] * xv;
                }
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
        if (row < p.rows) {
            if (vec_path)
                for (uint c = lid; c < chunks; c += wg) chunk_accumulate(row, c, true, acc);
            else
                for (uint c = lid; c < chunks; c += wg) chunk_accumulate(row, c, false, acc);
        }
        workgroup_sum(acc);
        if (lid == 0u && row < p.rows)
            [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = acc[j];
    }
}
