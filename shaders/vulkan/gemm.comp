// gemm.comp — tiled GEMM for prefill (n ≥ the kernel table's threshold): Y[j][r] = sum_c X[j][c] * W[r][c],
// f32 accumulation. A workgroup owns a BM (weight rows) × BN (activation rows) tile of Y and walks the depth
// BK elements at a time: the weights of the step are dequantized (32-element groups, the GEMV decoders of
// decode_split.glsl / decode_raw.glsl) straight into shared memory, never into device memory, the
// activations copied beside them; then every invocation accumulates its TM × TN block of outputs in
// registers. FORMAT (the lowbit format id) selects the decoder; specialization folds the others away.
// Ragged edges: rows past the end are decoded clamped and never stored, activation rows past p.batch read
// as 0, groups past the row end weigh 0.
// Every format: the split layout's four through decode_split.glsl, the others from their stored bytes through
// decode_raw.glsl; X is f32 or f16 (activations.glsl), widened while it is copied into shared memory.
#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
// one module serves both build variants: weights are always read as storage buffers here
#undef LOWBIT_TEXEL_WEIGHTS
#define LOWBIT_TEXEL_WEIGHTS 0
#include "lowbit_vk_interface.h"

layout(local_size_x_id = LOWBIT_VK_SPEC_WORKGROUP_SIZE) in;    // (BM / TM) * (BN / TN), set by the host
layout(constant_id = LOWBIT_VK_SPEC_FORMAT) const uint FORMAT = 2u; // lowbit_format id
layout(constant_id = LOWBIT_VK_SPEC_GEMM_BM) const uint BM = 64u;   // weight rows per workgroup tile
layout(constant_id = LOWBIT_VK_SPEC_GEMM_BN) const uint BN = 32u;   // activation rows per workgroup tile
layout(constant_id = LOWBIT_VK_SPEC_GEMM_BK) const uint BK = 32u;   // depth per step (a multiple of 32)
layout(constant_id = LOWBIT_VK_SPEC_GEMM_TM) const uint TM = 4u;    // weight rows per invocation
layout(constant_id = LOWBIT_VK_SPEC_GEMM_TN) const uint TN = 4u;    // activation rows per invocation

// The weights' binding as stored bytes (decode_raw.glsl), split-layout words and quads (decode_split.glsl).
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer Raw { uint raw[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer SplitWords {
    uint split_words[];
};
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_WEIGHTS) readonly buffer SplitQuads {
    uvec4 split_quads[];
};
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_SCALES) readonly buffer SplitScales {
    uint split_scales[];
};
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_Y) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { LOWBIT_VK_GEMM_PUSH_FIELDS(uint) } p;

#include "activations.glsl"
#include "decode_raw.glsl"
#include "decode_split.glsl"

// Tiles as vec4 of 4 consecutive weight rows / activation rows, so an invocation's TM × TN block (TM, TN
// multiples of 4, its rows and activation rows contiguous) reads a depth step in TM/4 + TN/4 loads: a
// CPU driver turns every shared load into a per-invocation access, so fewer and wider loads matter there.
shared vec4 ws4[BK * (BM / 4u)]; // [k][row / 4]
shared vec4 xs4[BK * (BN / 4u)]; // [k][activation row / 4]

// The split device layout (vulkan_memory.c) holds F32, F16, Q4_0 and Q8_0; every other format is read from its
// stored (GGUF) block bytes, as gemv_raw.comp reads them.
bool is_raw() { return FORMAT != F_F32 && FORMAT != F_F16 && FORMAT != F_Q4_0 && FORMAT != F_Q8_0; }

// Group g of `row` (any format this shader runs) into w.
void dequant_group(uint row, uint g, out vec4 w[8])
{
    if (is_raw()) {
        // BF16 is element-addressed (block_elems() == 1): the "block" is the row and dequant32 takes the
        // group's first element c0; the other formats hold block_elems() / 32 groups per block
        uint row_bytes = p.cols / block_elems() * block_bytes();
        uint per_block = FORMAT == F_BF16 ? 1u : block_elems() / 32u;
        uint block = row * row_bytes + (FORMAT == F_BF16 ? 0u : (g / per_block) * block_bytes());
        uint h[16];
        block_header(block, h);
        dequant32(block, g % per_block, h, 32u * g, w);
    } else {
        split_dequant32(row, g, p.cols, w);
    }
}

void main()
{
    const uint threads_m = BM / TM, threads = (BM / TM) * (BN / TN), bm4 = BM / 4u, bn4 = BN / 4u;
    uint lid = gl_LocalInvocationID.x;
    // TN == BN: every invocation covers all the tile's activation rows, so their shared loads are uniform
    // (a CPU driver then issues one load for all invocations instead of one per invocation)
    uint tm = lid % threads_m, tn = TN == BN ? 0u : lid / threads_m;
    uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
    uint groups = (p.cols + 31u) / 32u;
    uint x_quads = p.x_stride / 4u;

    vec4 acc[TN * (TM / 4u)]; // [activation row j][weight rows 4i..4i+3]
    [[unroll]] for (uint i = 0; i < TN * (TM / 4u); ++i) acc[i] = vec4(0.0);

    for (uint k0 = 0; k0 < p.cols; k0 += BK) {
        // weights: BM/4 row quads × BK/32 groups; a task decodes one group of 4 rows (rows past the end are
        // clamped: computed, never stored; groups past the row end weigh 0)
        for (uint t = lid; t < bm4 * (BK / 32u); t += threads) {
            uint rq = t % bm4, g = t / bm4, group = k0 / 32u + g;
            vec4 w[4][8];
            [[unroll]] for (uint r = 0; r < 4u; ++r) {
                if (group < groups)
                    dequant_group(min(row0 + 4u * rq + r, p.rows - 1u), group, w[r]);
                else
                    [[unroll]] for (uint i = 0; i < 8u; ++i) w[r][i] = vec4(0.0);
            }
            [[unroll]] for (uint i = 0; i < 8u; ++i)
                [[unroll]] for (uint e = 0; e < 4u; ++e)
                    ws4[(32u * g + 4u * i + e) * bm4 + rq] = vec4(w[0][i][e], w[1][i][e], w[2][i][e], w[3][i][e]);
        }
        // activations: BN/4 row quads × BK/4 depth quads, transposed (zero past the chunk's rows and the
        // padded row end)
        for (uint t = lid; t < bn4 * (BK / 4u); t += threads) {
            uint q = t % (BK / 4u), jq = t / (BK / 4u), quad = k0 / 4u + q;
            vec4 v[4];
            [[unroll]] for (uint r = 0; r < 4u; ++r) {
                uint j = col0 + 4u * jq + r;
                v[r] = j < p.batch && quad < x_quads ? load_x4(p.x_offset / 4u + j * x_quads + quad) : vec4(0.0);
            }
            [[unroll]] for (uint e = 0; e < 4u; ++e) xs4[(4u * q + e) * bn4 + jq] = vec4(v[0][e], v[1][e], v[2][e], v[3][e]);
        }
        barrier();
        for (uint k = 0; k < BK; ++k) {
            vec4 a[TM / 4u], b[TN / 4u];
            [[unroll]] for (uint i = 0; i < TM / 4u; ++i) a[i] = ws4[k * bm4 + tm * (TM / 4u) + i];
            [[unroll]] for (uint j = 0; j < TN / 4u; ++j) b[j] = xs4[k * bn4 + tn * (TN / 4u) + j];
            [[unroll]] for (uint j = 0; j < TN; ++j)
                [[unroll]] for (uint i = 0; i < TM / 4u; ++i) acc[j * (TM / 4u) + i] += a[i] * b[j / 4u][j % 4u];
        }
        barrier();
    }
    [[unroll]] for (uint j = 0; j < TN; ++j) {
        uint col = col0 + tn * TN + j;
        [[unroll]] for (uint i = 0; i < TM / 4u; ++i)
            [[unroll]] for (uint c = 0; c < 4u; ++c) {
                uint row = row0 + tm * TM + 4u * i + c;
                if (row < p.rows && col < p.batch) y[p.y_offset + col * p.y_stride + row] = acc[j * (TM / 4u) + i][c];
            }
    }
}
