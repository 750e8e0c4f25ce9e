// workgroup_sum.glsl — the GPU layout's reduction of per-invocation partial sums (one per activation row)
// over the workgroup. USE_SUBGROUPS=1 (only in modules built with LOWBIT_SUBGROUPS=1, for devices that report
// subgroup arithmetic in compute): subgroupAdd within each subgroup, then shared memory only across the
// subgroups; 0: a shared-memory tree over every invocation (portable; needs a power-of-two workgroup). The
// includer declares BATCH (LOWBIT_VK_SPEC_BATCH).
#ifndef LOWBIT_WORKGROUP_SUM_GLSL
#define LOWBIT_WORKGROUP_SUM_GLSL

#ifndef LOWBIT_SUBGROUPS
#define LOWBIT_SUBGROUPS 0
#endif
#if LOWBIT_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "lowbit_vk_interface.h"

// set by the host only for LOWBIT_SUBGROUPS modules
layout(constant_id = LOWBIT_VK_SPEC_USE_SUBGROUPS) const uint USE_SUBGROUPS = 0u;

// One slot per invocation and row, plus BATCH totals (the subgroup path's result; with subgroups of one
// invocation there are as many subgroup sums as invocations).
shared float partial[(gl_WorkGroupSize.x + 1u) * BATCH];

// Sums acc[j] over the workgroup for every activation row j: on return every invocation holds the totals.
// Every invocation calls it in uniform control flow; it leaves partial[] free for the next call.
void workgroup_sum(inout float acc[BATCH])
{
    uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
#if LOWBIT_SUBGROUPS
    if (USE_SUBGROUPS != 0u) {
        // gl_NumSubgroups is not assumed to be wg / gl_SubgroupSize (the last subgroup may be partial, or
        // the driver may pick another size), and invocation 0 need not sit in subgroup 0: the totals go
        // through shared memory to everyone.
        uint subgroups = gl_NumSubgroups;
        [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] = subgroupAdd(acc[j]);
        if (subgroupElect())
            [[unroll]] for (uint j = 0; j < BATCH; ++j) partial[j * subgroups + gl_SubgroupID] = acc[j];
        barrier();
        if (gl_SubgroupID == 0u) {
            [[unroll]] for (uint j = 0; j < BATCH; ++j) {
                float v = 0.0;
                for (uint s = gl_SubgroupInvocationID; s < subgroups; s += gl_SubgroupSize) v += partial[j * subgroups + s];
                v = subgroupAdd(v);
                if (subgroupElect()) partial[wg * BATCH + j] = v;
            }
        }
        barrier();
        [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] = partial[wg * BATCH + j];
        barrier();
        return;
    }
#endif
    [[unroll]] for (uint j = 0; j < BATCH; ++j) partial[j * wg + lid] = acc[j];
    barrier();
    for (uint s = wg / 2u; s > 0u; s >>= 1) {
        if (lid < s)
            [[unroll]] for (uint j = 0; j < BATCH; ++j) partial[j * wg + lid] += partial[j * wg + lid + s];
        barrier();
    }
    [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] = partial[j * wg];
    barrier();
}

#endif
