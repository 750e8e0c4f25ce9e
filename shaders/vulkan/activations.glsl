// activations.glsl — how every shader reads X (LOWBIT_VK_BINDING_X): f32, or, with X_F16, the IEEE-half bits that
// lowbit_matmul_ex received, uploaded as they are (half the bytes to write and read) and widened in
// registers; accumulation stays f32 either way. Indices count elements (load_x1) or quads of 4 elements
// (load_x4) in both cases, so p.x_offset and p.x_stride are in elements. The includer defines
// LOWBIT_TEXEL_WEIGHTS.
#ifndef LOWBIT_ACTIVATIONS_GLSL
#define LOWBIT_ACTIVATIONS_GLSL
#include "lowbit_vk_interface.h"

layout(constant_id = LOWBIT_VK_SPEC_X_F16) const uint X_F16 = 0u; // X holds f16 bits (set per call by the host)

layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X) readonly buffer X { vec4 x4[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X) readonly buffer XScalar { float x1[]; };
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X) readonly buffer XHalf4 { uvec2 xh4[]; }; // 4 halves
layout(std430, set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X) readonly buffer XHalf2 { uint xh2[]; };  // 2 halves
#if LOWBIT_TEXEL_WEIGHTS
// The chunk's X as integer texels: an RGBA32UI view of f32 X, an RG32UI view (4 halves a texel) of f16 X.
// Integer views for both: lavapipe fetches them as plain vector gathers, while a converting RGBA16F view
// made f16 X up to 2x slower than f32 there (n = 64, Q4_0 4096x4096).
layout(set = LOWBIT_VK_SET, binding = LOWBIT_VK_BINDING_X_TEXELS) uniform usamplerBuffer x_texels;
#endif

// Elements 4·quad .. 4·quad+3 of the chunk's X (texel modules: through the texel view).
vec4 load_x4(uint quad)
{
#if LOWBIT_TEXEL_WEIGHTS
    uvec4 t = texelFetch(x_texels, int(quad));
    if (X_F16 != 0u) return vec4(unpackHalf2x16(t.x), unpackHalf2x16(t.y));
    return uintBitsToFloat(t);
#else
    if (X_F16 != 0u) {
        uvec2 h = xh4[quad];
        return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
    }
    return x4[quad];
#endif
}

// Element `index` of the chunk's X, through the storage binding (rows of any length).
float load_x1(uint index)
{
    if (X_F16 != 0u) return unpackHalf2x16(xh2[index >> 1] >> ((index & 1u) * 16u)).x;
    return x1[index];
}

#endif
