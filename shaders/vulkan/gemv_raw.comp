// gemv_raw.comp — fused dequantize + GEMV straight from the stored (GGUF) block bytes, for the formats
// without a split device layout: Y[j][r] = sum_c X[j][c] * W[r][c], f32 accumulation. The weights are one
// uint buffer holding the rows back to back as they are stored (blocks at any 2-byte offset), read through
// helpers that fetch a u16 or runs of words at any byte offset (load_words). FORMAT (a specialization
// constant, the lowbit format id) selects the decoder; specialization folds the others away.
//
// A row is walked in groups of 32 elements (a whole legacy block, one 32-element sub-block of a 256-element
// super-block, or 32 BF16 values): dequant32() decodes one group into 8 vec4 in registers (element order of
// the reference: docs/formats.md §3) and every activation row takes its dot product; what
// the groups of a block share (scales, mins, d, high-bit planes) is read once per block (block_header).
// CPU_LAYOUT=1: each invocation walks ROWS whole rows (first + k*wg) one after the other, except Q4_K/Q5_K/
// Q6_K at BATCH 1, whose rows advance together (packed_cpu_rows); 0: a workgroup shares a row and reduces it
// in workgroup_sum.glsl (shared memory, or subgroupAdd in the *_subgroups module). X is f32 or f16
// (activations.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#ifndef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#endif
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;
layout(constant_id = LOWBIT_VK_SPEC_ROWS) const uint ROWS = 1;    // rows per workgroup (GPU) / per invocation (CPU)
layout(constant_id = LOWBIT_VK_SPEC_CPU_LAYOUT) const uint CPU_LAYOUT = 0;
layout(constant_id = LOWBIT_VK_SPEC_BATCH) const uint BATCH = 1;   // activation rows handled by one dispatch (1..8)
layout(constant_id = LOWBIT_VK_SPEC_FORMAT) const uint FORMAT = 3; // lowbit_format id

layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer Raw { uint raw[]; };
#if LOWBIT_TEXEL_WEIGHTS
// the same words as R32UI (RGBA32UI) texels
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHT_TEXELS) uniform usamplerBuffer raw_texels;
#endif
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { LOWBIT_VK_GEMV_PUSH_FIELDS(uint) } p;

#include "activations.glsl"
#include "decode_raw.glsl"
#include "workgroup_sum.glsl"
#include "decode_int.glsl"

vec4 x_at(uint index) { return load_x4(index); }

// Adds group s of the block at `block` (header h), the row's group t, times every activation row j to acc[j].
void group_accumulate(uint block, uint s, uint h[16], uint t, inout float acc[BATCH])
{
    vec4 w[8];
    dequant32(block, s, h, 32u * t, w);
    // quads past the padded activation row (BF16's last group) are skipped: their weights are 0 and X
    // there belongs to the next activation row or to nothing
    uint quads = FORMAT == F_BF16 ? min(8u, p.x_stride / 4u - 8u * t) : 8u;
    [[unroll]] for (uint j = 0; j < BATCH; ++j) {
        uint xb = (p.x_offset + j * p.x_stride) / 4u + 8u * t;
        float sum = 0.0;
        [[unroll]] for (uint i = 0; i < 8u; ++i)
            if (i < quads) sum += dot(w[i], x_at(xb + i));
        acc[j] += sum;
    }
}

// Q4_K / Q5_K / Q6_K, CPU layout, one activation row (decode): the invocation's ROWS rows advance together,
// block by block, so every activation quad is loaded (and pre-scaled) once for all of them. Quants stay in
// place in their bytes (masked, not shifted: q * 256^i converts exactly) and x is scaled by 256^-i instead;
// offsets (mins, the Q6_K 32) are applied once per 16 elements as offset * sum(x).
void packed_cpu_rows(uint first, uint row_bytes, uint blocks)
{
    if (first >= p.rows) return;
    const vec4 byte_scale = vec4(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0);
    const ivec4 byte_mask = ivec4(0x3F, 0x3F00, 0x3F0000, 0x3F000000);
    float acc[ROWS];
    [[unroll]] for (uint k = 0; k < ROWS; ++k) acc[k] = 0.0;
    uint xrow = p.x_offset / 4u;
    for (uint b = 0; b < blocks; ++b) {
        uint block[ROWS];
        uint h[ROWS][16];
        [[unroll]] for (uint k = 0; k < ROWS; ++k) {
            block[k] = min(first + k * gl_WorkGroupSize.x, p.rows - 1u) * row_bytes + b * block_bytes();
            block_header(block[k], h[k]);
        }
        [[unroll]] for (uint s = 0; s < 8u; ++s) {
            vec4 x[8];
            vec4 sum_a = vec4(0.0), sum_b = vec4(0.0);
            [[unroll]] for (uint i = 0; i < 8u; ++i) {
                x[i] = x_at(xrow + b * 64u + s * 8u + i);
                if (i < 4u)
                    sum_a += x[i];
                else
                    sum_b += x[i];
                x[i] *= byte_scale;
            }
            vec2 sums = vec2(dot(sum_a, vec4(1.0)), dot(sum_b, vec4(1.0)));
            [[unroll]] for (uint k = 0; k < ROWS; ++k) {
                uint q[8];
                vec4 so;
                packed_sub(block[k], s, h[k], q, so);
                vec2 dots = vec2(0.0);
                [[unroll]] for (uint i = 0; i < 8u; ++i) {
                    float d = dot(vec4(ivec4(int(q[i])) & byte_mask), x[i]);
                    if (i < 4u)
                        dots.x += d;
                    else
                        dots.y += d;
                }
                acc[k] += dot(so.xy, dots) - dot(so.zw, sums);
            }
        }
    }
    [[unroll]] for (uint k = 0; k < ROWS; ++k) {
        uint row = first + k * gl_WorkGroupSize.x;
        if (row < p.rows) y[p.y_offset + row] = acc[k];
    }
}

void main()
{
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupSize.x;
    uint row_bytes = p.cols / block_elems() * block_bytes();
    uint groups = (p.cols + 31u) / 32u;                               // 32-element groups per row
    uint per_block = FORMAT == F_BF16 ? 1u : block_elems() / 32u;     // groups per block
    uint blocks = FORMAT == F_BF16 ? groups : p.cols / block_elems(); // (BF16: a group is a "block")
    if (CPU_LAYOUT != 0u && BATCH == 1u && (FORMAT == F_Q4_K || FORMAT == F_Q5_K || FORMAT == F_Q6_K)) {
        packed_cpu_rows(group * ROWS * wg + lid, row_bytes, blocks);
        return;
    }
    if (CPU_LAYOUT != 0u) {
        // each invocation walks its ROWS rows (first + k*wg) one after the other, block by block, reading a
        // block's header once; the row loop stays a loop so the code does not grow with ROWS
        uint first = group * ROWS * wg + lid;
        for (uint k = 0; k < ROWS; ++k) {
            uint row = first + k * wg;
            if (row >= p.rows) break;
            float a[BATCH];
            [[unroll]] for (uint j = 0; j < BATCH; ++j) a[j] = 0.0;
            for (uint b = 0; b < blocks; ++b) {
                uint block = row * row_bytes + (FORMAT == F_BF16 ? 0u : b * block_bytes());
                uint h[16];
                block_header(block, h);
                // unrolled: with s a constant every header field is a fixed register, not an indexed array
                [[unroll]] for (uint s = 0; s < 8u; ++s)
                    if (s < per_block) group_accumulate(block, s, h, b * per_block + s, a);
            }
            [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = a[j];
        }
        return;
    }
    // GPU: the workgroup's invocations take a row's groups in turn (coalesced), each reading its header
    [[unroll]] for (uint k = 0; k < ROWS; ++k) {
        uint row = group * ROWS + k;
        float acc[BATCH];
        [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] = 0.0;
        if (row < p.rows)
            for (uint t = lid; t < groups; t += wg) {
                uint block = row * row_bytes + (FORMAT == F_BF16 ? 0u : (t / per_block) * block_bytes());
                uint h[16];
                block_header(block, h);
                group_accumulate(block, t % per_block, h, t, acc);
            }
        workgroup_sum(acc);
        if (lid == 0u && row < p.rows)
            [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = acc[j];
    }
}
