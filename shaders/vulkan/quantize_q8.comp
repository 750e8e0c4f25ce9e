// quantize_q8.comp — the integer-dot path's first dispatch: X (f32 or f16, activations.glsl) quantized to 8-bit
// blocks by ggml's Q8_1 rule, one invocation per 32-element block of an activation row. Per block: amax = max|x|,
// d = amax / 127, id = d != 0 ? 1/d : 0, q = round-half-away-from-zero(x·id) (int8, −127..127), s = Σq (exact);
// a block holding a NaN or an Inf gets d = NaN, q = 0, s = 0, so its row's outputs are NaN.
//
// Device layout of the quantized activations (binding Y here, binding X of gemv_q8.comp): activation row j
// starts at word j·p.y_stride (the row's words, a multiple of 4); block b of the row has its 32 quants at words
// 8b .. 8b+7 (4 int8 per word, element 4i of the block in the low byte of word 8b+i), then, after the row's
// 8·blocks quant words, its d (f32 bits) at word 8·blocks + 2b and s (int) at 8·blocks + 2b + 1.
// Push constants: cols, X's first element and row stride in elements (x_offset, x_stride), the quantized rows'
// stride in words (y_stride) and the rows of the chunk (batch).
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#ifndef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#endif
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Q8 { uint q8[]; };
layout(push_constant) uniform Params { LOWBIT_VK_GEMM_PUSH_FIELDS(uint) } p;

#include "activations.glsl"

void main()
{
    uint blocks = p.cols / 32u;
    uint id = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (id >= blocks * p.batch) return;
    uint j = id / blocks, b = id % blocks;
    uint xb = (p.x_offset + j * p.x_stride) / 4u + 8u * b;
    vec4 x[8];
    float amax = 0.0;
    bool special = false; // a NaN or an Inf: exponent bits all set (bit tests, which no compiler folds away)
    [[unroll]] for (uint i = 0; i < 8u; ++i) {
        x[i] = load_x4(xb + i);
        special = special || any(equal(floatBitsToUint(x[i]) & 0x7F800000u, uvec4(0x7F800000u)));
        vec4 a = abs(x[i]);
        amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
    }
    float d = amax / 127.0;
    float inv = d != 0.0 ? 1.0 / d : 0.0;
    int s = 0;
    uint base = j * p.y_stride;
    [[unroll]] for (uint i = 0; i < 8u; ++i) {
        vec4 v = x[i] * inv;
        ivec4 r = clamp(ivec4(sign(v) * floor(abs(v) + 0.5)), ivec4(-127), ivec4(127));
        if (special) r = ivec4(0);
        s += r.x + r.y + r.z + r.w;
        q8[base + 8u * b + i] = uint(r.x & 0xFF) | uint(r.y & 0xFF) << 8 | uint(r.z & 0xFF) << 16 | uint(r.w & 0xFF) << 24;
    }
    q8[base + 8u * blocks + 2u * b] = special ? 0x7FC00000u : floatBitsToUint(d);
    q8[base + 8u * blocks + 2u * b + 1u] = uint(s);
}
