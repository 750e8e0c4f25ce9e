// gemv_q8.comp — the integer-dot GEMV: Y[j][r] = Σ over 32-element groups of d_x·(scale·Σ q_w·q_x − offset·s_x),
// where X was quantized to 8-bit blocks by quantize_q8.comp in the same command buffer (its layout is described
// there; binding X holds it here) and the weights' quants stay integer (decode_int.glsl: int_group for the stored
// block formats, the split layout of Q4_0 / Q8_0 below). Σ q_w·q_x is integer arithmetic on words of 4 int8:
// OpSDot (SPV_KHR_integer_dot_product) in the modules built with LOWBIT_INT_DOT=1, for devices that enable
// shaderIntegerDotProduct, sign-extended multiply-adds otherwise. FORMAT selects the weights' decoder.
// CPU_LAYOUT=1: each invocation walks ROWS rows (first + k·wg) block by block, together at BATCH 1 (sharing each
// activation load), one after the other for batches; 0: a workgroup shares a row and reduces it in workgroup_sum.glsl.
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#ifndef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#endif
#ifndef LOWBIT_INT_DOT
#define LOWBIT_INT_DOT 0
#endif
#if LOWBIT_INT_DOT
#extension GL_EXT_spirv_intrinsics : require
#endif
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;
layout(constant_id = LOWBIT_VK_SPEC_ROWS) const uint ROWS = 1;
layout(constant_id = LOWBIT_VK_SPEC_CPU_LAYOUT) const uint CPU_LAYOUT = 0;
layout(constant_id = LOWBIT_VK_SPEC_BATCH) const uint BATCH = 1;
layout(constant_id = LOWBIT_VK_SPEC_FORMAT) const uint FORMAT = 2;

layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer Raw { uint raw[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer SplitWords { uint split_words[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer SplitQuads { uvec4 split_quads[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_SCALES) readonly buffer SplitScales { uint split_scales[]; };
#if LOWBIT_TEXEL_WEIGHTS
// the weights as texels: RGBA32UI for Q4_0 / Q8_0 / Q4_K / Q5_K, R32UI for the other stored formats
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHT_TEXELS) uniform usamplerBuffer raw_texels;
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_SCALE_TEXELS) uniform usamplerBuffer scale_texels;
#endif
#if LOWBIT_TEXEL_WEIGHTS
// the quantized X again as RGBA32UI texels (CPU drivers gather texels across invocations, storage loads they issue
// one invocation at a time)
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X_TEXELS) uniform usamplerBuffer x_texels;
#endif
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X) readonly buffer XQuants { uvec4 xq4[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X) readonly buffer XScales { uvec2 xds[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { LOWBIT_VK_GEMV_PUSH_FIELDS(uint) } p;

#include "decode_raw.glsl"
#include "decode_int.glsl"
#include "decode_split.glsl"
#include "workgroup_sum.glsl"

#if LOWBIT_INT_DOT
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot_packed(int a, int b, spirv_literal int packed_vector_format); // OpSDot, PackedVectorFormat4x8Bit = 0
int dot4(uint a, uint b) { return sdot_packed(int(a), int(b), 0); }
#else
int dot4(uint a, uint b)
{
    ivec4 va = ivec4(int(a) << 24, int(a) << 16, int(a) << 8, int(a)) >> 24;
    ivec4 vb = ivec4(int(b) << 24, int(b) << 16, int(b) << 8, int(b)) >> 24;
    return va.x * vb.x + va.y * vb.y + va.z * vb.z + va.w * vb.w;
}
#endif

bool split_format() { return FORMAT == F_Q4_0 || FORMAT == F_Q8_0; }

uvec4 split_quad(uint index)
{
#if LOWBIT_TEXEL_WEIGHTS
    return texelFetch(raw_texels, int(index));
#else
    return split_quads[index];
#endif
}

// Group b of `row` of the split layout (Q4_0: quants 0..15 offset by 8; Q8_0: int8 as stored), as int_group.
void split_group(uint row, uint b, out uint q[8], out vec4 so)
{
    uint block = row * (p.cols / 32u) + b;
#if LOWBIT_TEXEL_WEIGHTS
    float d = unpackHalf2x16(texelFetch(scale_texels, int(block >> 1)).x >> ((block & 1u) * 16u)).x;
#else
    float d = split_scale(block);
#endif
    if (FORMAT == F_Q4_0) {
        uvec4 w = split_quad(block); // byte i: element i (low nibble), element 16 + i (high nibble)
        [[unroll]] for (uint i = 0; i < 4u; ++i) {
            q[i] = w[i] & 0x0F0F0F0Fu;
            q[4u + i] = (w[i] >> 4) & 0x0F0F0F0Fu;
        }
        so = vec4(d, d, 8.0 * d, 8.0 * d);
    } else {
        uvec4 lo = split_quad(2u * block), hi = split_quad(2u * block + 1u);
        [[unroll]] for (uint i = 0; i < 4u; ++i) q[i] = lo[i], q[4u + i] = hi[i];
        so = vec4(d, d, 0.0, 0.0);
    }
}

// Activation row j's quantized group t: its 32 quants (x0: elements 0..15, x1: 16..31) and (d bits, s).
void x_group(uint j, uint t, out uvec4 x0, out uvec4 x1, out uvec2 ds)
{
    uint row = p.x_offset + j * p.x_stride; // in words, a multiple of 4
#if LOWBIT_TEXEL_WEIGHTS
    x0 = texelFetch(x_texels, int(row / 4u + 2u * t));
    x1 = texelFetch(x_texels, int(row / 4u + 2u * t + 1u));
    uvec4 pair = texelFetch(x_texels, int((row + 8u * (p.cols / 32u)) / 4u + t / 2u)); // groups t & ~1, t | 1
    ds = (t & 1u) != 0u ? pair.zw : pair.xy;
#else
    x0 = xq4[row / 4u + 2u * t];
    x1 = xq4[row / 4u + 2u * t + 1u];
    ds = xds[(row + 8u * (p.cols / 32u)) / 2u + t];
#endif
}

// One group's contribution: d_x·(so.x·Σ₀¹⁵ q_w·q_x + so.y·Σ₁₆³¹ q_w·q_x − so.z·Σ₀¹⁵ q_x − so.w·Σ₁₆³¹ q_x), from
// s_x = Σ q_x where both offsets are one (every format but Q2_K).
float group_dot(uint q[8], vec4 so, uvec4 x0, uvec4 x1, uvec2 ds)
{
    int lo = dot4(q[0], x0.x) + dot4(q[1], x0.y) + dot4(q[2], x0.z) + dot4(q[3], x0.w);
    int hi = dot4(q[4], x1.x) + dot4(q[5], x1.y) + dot4(q[6], x1.z) + dot4(q[7], x1.w);
    float offsets = so.z * float(int(ds.y));
    if (FORMAT == F_Q2_K) {
        const uint ones = 0x01010101u;
        int s_lo = dot4(ones, x0.x) + dot4(ones, x0.y) + dot4(ones, x0.z) + dot4(ones, x0.w);
        offsets = so.z * float(s_lo) + so.w * float(int(ds.y) - s_lo);
    }
    return uintBitsToFloat(ds.x) * (so.x * float(lo) + so.y * float(hi) - offsets);
}

// Adds group t (of the row's 32-element groups) of the weights (q, so) times activation row j's to acc[j].
void group_accumulate(uint q[8], vec4 so, uint t, inout float acc[BATCH])
{
    [[unroll]] for (uint j = 0; j < BATCH; ++j) {
        uvec4 x0, x1;
        uvec2 ds;
        x_group(j, t, x0, x1, ds);
        acc[j] += group_dot(q, so, x0, x1, ds);
    }
}

// Group s of block b of `row` (header h, read by the caller once per block) as integers (int_group's form).
void weight_group(uint row, uint row_bytes, uint b, uint s, uint h[16], out uint q[8], out vec4 so)
{
    if (split_format())
        split_group(row, b, q, so);
    else
        int_group(row * row_bytes + b * block_bytes(), s, h, q, so);
}

void row_header(uint row, uint row_bytes, uint b, out uint h[16])
{
    if (split_format())
        [[unroll]] for (uint i = 0; i < 16u; ++i) h[i] = 0u;
    else
        block_header(row * row_bytes + b * block_bytes(), h);
}

// CPU layout, one activation row (decode): the invocation's ROWS rows advance together, block by block, so each
// quantized activation group is loaded once for all of them. Rows past the end are clamped (computed, not stored).
void cpu_rows_together(uint first, uint row_bytes, uint blocks, uint per_block)
{
    if (first >= p.rows) return;
    uint wg = gl_WorkGroupSize.x;
    float acc[ROWS];
    [[unroll]] for (uint k = 0; k < ROWS; ++k) acc[k] = 0.0;
    for (uint b = 0; b < blocks; ++b) {
        uint h[ROWS][16];
        [[unroll]] for (uint k = 0; k < ROWS; ++k) row_header(min(first + k * wg, p.rows - 1u), row_bytes, b, h[k]);
        [[unroll]] for (uint s = 0; s < 8u; ++s) {
            if (s < per_block) {
                uvec4 x0, x1;
                uvec2 ds;
                x_group(0u, b * per_block + s, x0, x1, ds);
                [[unroll]] for (uint k = 0; k < ROWS; ++k) {
                    uint q[8];
                    vec4 so;
                    weight_group(min(first + k * wg, p.rows - 1u), row_bytes, b, s, h[k], q, so);
                    acc[k] += group_dot(q, so, x0, x1, ds);
                }
            }
        }
    }
    [[unroll]] for (uint k = 0; k < ROWS; ++k) {
        uint row = first + k * wg;
        if (row < p.rows) y[p.y_offset + row] = acc[k];
    }
}

void main()
{
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupSize.x;
    uint elems = split_format() ? 32u : block_elems();
    uint row_bytes = split_format() ? 0u : p.cols / elems * block_bytes();
    uint per_block = elems / 32u, blocks = p.cols / elems;
    if (CPU_LAYOUT != 0u && BATCH == 1u) {
        cpu_rows_together(group * ROWS * wg + lid, row_bytes, blocks, per_block);
        return;
    }
    if (CPU_LAYOUT != 0u) {
        uint first = group * ROWS * wg + lid;
        for (uint k = 0; k < ROWS; ++k) {
            uint row = first + k * wg;
            if (row >= p.rows) break;
            float a[BATCH];
            [[unroll]] for (uint j = 0; j < BATCH; ++j) a[j] = 0.0;
            for (uint b = 0; b < blocks; ++b) {
                uint h[16];
                row_header(row, row_bytes, b, h);
                [[unroll]] for (uint s = 0; s < 8u; ++s) {
                    if (s < per_block) {
                        uint q[8];
                        vec4 so;
                        weight_group(row, row_bytes, b, s, h, q, so);
                        group_accumulate(q, so, b * per_block + s, a);
                    }
                }
            }
            [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = a[j];
        }
        return;
    }
    [[unroll]] for (uint k = 0; k < ROWS; ++k) {
        uint row = group * ROWS + k;
        float acc[BATCH];
        [[unroll]] for (uint j = 0; j < BATCH; ++j) acc[j] = 0.0;
        if (row < p.rows)
            for (uint t = lid; t < blocks * per_block; t += wg) {
                uint h[16];
                row_header(row, row_bytes, t / per_block, h);
                uint q[8];
                vec4 so;
                weight_group(row, row_bytes, t / per_block, t % per_block, h, q, so);
                group_accumulate(q, so, t, acc);
            }
        workgroup_sum(acc);
        if (lid == 0u && row < p.rows)
            [[unroll]] for (uint j = 0; j < BATCH; ++j) y[p.y_offset + j * p.y_stride + row] = acc[j];
    }
}
