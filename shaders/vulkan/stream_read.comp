// stream_read.comp — the bandwidth probe behind measure_bandwidth: reads a buffer of `count` uvec4 once
// with the plain read the device class does fastest and folds it into a value that is stored only when it
// equals an unlikely push constant, so no read can be elided and almost nothing is written.
// CPU_LAYOUT=1: each invocation reads one contiguous range of `per_invocation` uvec4 (CPU devices, where an
// invocation is a SIMD lane of a core walking its own cache lines); 0: grid-stride, coalesced (GPUs).
#version 450
#extension GL_GOOGLE_include_directive : require
#ifndef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#endif
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;
layout(constant_id = LOWBIT_VK_SPEC_ROWS) const uint ROWS = 1;  // unused (shared specialization layout)
layout(constant_id = LOWBIT_VK_SPEC_CPU_LAYOUT) const uint CPU_LAYOUT = 0;
layout(constant_id = LOWBIT_VK_SPEC_BATCH) const uint BATCH = 1; // unused

layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer Data { uvec4 data[]; };
#if LOWBIT_TEXEL_WEIGHTS
// the same buffer as RGBA32UI texels
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHT_TEXELS) uniform usamplerBuffer data_texels;
#endif
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Sink { uint sink[]; };
layout(push_constant) uniform Params { LOWBIT_VK_STREAM_PUSH_FIELDS(uint) } p;

uvec4 load(uint i)
{
#if LOWBIT_TEXEL_WEIGHTS
    return texelFetch(data_texels, int(i));
#else
    return data[i];
#endif
}

void main()
{
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint id = group * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    uint threads = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;
    uvec4 a = uvec4(0u), b = uvec4(0u);
    if (CPU_LAYOUT != 0u) {
        uint begin = id * p.per_invocation;
        uint end = min(begin + p.per_invocation, p.count);
        uint i = begin;
        for (; i + 1u < end; i += 2u) {
            a ^= load(i);
            b += load(i + 1u);
        }
        if (i < end) a ^= load(i);
    } else {
        for (uint i = id; i < p.count; i += threads) a ^= load(i);
    }
    a ^= b;
    if ((a.x ^ a.y ^ a.z ^ a.w) == p.magic) sink[id & 255u] = a.x;
}
