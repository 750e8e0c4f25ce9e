/* lowbit_vk_interface.h — the interface between the Vulkan plugin and its shaders: specialization-constant
 * ids, descriptor bindings and push-constant layouts, defined once. Only #defines: the plugin's C
 * (backends/vulkan) and the GLSL shaders (shaders/vulkan, through glslc's #include) both read it as is. */
#ifndef LOWBIT_VK_INTERFACE_H
#define LOWBIT_VK_INTERFACE_H

/* Specialization constants. The host passes every id, 0 .. COUNT-1, to every pipeline (a module ignores the
 * ones it does not declare), the value of id i at word i of its array. */
#define LOWBIT_VK_SPEC_WORKGROUP_SIZE 0 /* local_size_x */
#define LOWBIT_VK_SPEC_ROWS 1           /* rows per workgroup (GPU layout) / per invocation (CPU layout) */
#define LOWBIT_VK_SPEC_CPU_LAYOUT 2     /* 1: CPU layout (contiguous row walks), 0: GPU layout */
#define LOWBIT_VK_SPEC_BATCH 3          /* activation rows one GEMV dispatch handles */
#define LOWBIT_VK_SPEC_FORMAT 4         /* lowbit_format id (gemv_raw.comp, gemm.comp) */
#define LOWBIT_VK_SPEC_GEMM_BM 5        /* gemm.comp's tile: weight rows per workgroup */
#define LOWBIT_VK_SPEC_GEMM_BN 6        /* activation rows per workgroup */
#define LOWBIT_VK_SPEC_GEMM_BK 7        /* depth per step */
#define LOWBIT_VK_SPEC_GEMM_TM 8        /* weight rows per invocation */
#define LOWBIT_VK_SPEC_GEMM_TN 9        /* activation rows per invocation */
#define LOWBIT_VK_SPEC_X_F16 10         /* X holds f16 bits (activations.glsl) */
#define LOWBIT_VK_SPEC_USE_SUBGROUPS 11 /* reduce through subgroupAdd (workgroup_sum.glsl, *_subgroups modules) */
#define LOWBIT_VK_SPEC_COUNT 12

/* Descriptor set 0, the only one: bindings below LOWBIT_VK_STORAGE_BINDING_COUNT are storage buffers, the
 * rest uniform texel buffers (read by the LOWBIT_TEXEL_WEIGHTS=1 modules). */
#define LOWBIT_VK_SET 0
#define LOWBIT_VK_BINDING_WEIGHTS 0       /* quants, F32/F16 rows or stored bytes; stream_read's source */
#define LOWBIT_VK_BINDING_SCALES 1        /* f16 scales of the split layout (F32/F16: the weights again) */
#define LOWBIT_VK_BINDING_X 2             /* the dispatch's activation rows */
#define LOWBIT_VK_BINDING_Y 3             /* its outputs; stream_read's sink */
#define LOWBIT_VK_BINDING_WEIGHT_TEXELS 4 /* binding 0 as texels */
#define LOWBIT_VK_BINDING_SCALE_TEXELS 5  /* binding 1 as texels */
#define LOWBIT_VK_BINDING_X_TEXELS 6      /* binding 2 as texels */
#define LOWBIT_VK_STORAGE_BINDING_COUNT 4
#define LOWBIT_VK_BINDING_COUNT 7

/* Push constants: field lists of 32-bit words, declared with the language's own word type as in
 * `layout(push_constant) uniform Params { LOWBIT_VK_GEMV_PUSH_FIELDS(uint) } p;` (GLSL) or
 * `struct { LOWBIT_VK_GEMV_PUSH_FIELDS(uint32_t) }` (C). *_WORDS counts each list's fields.
 * The GEMV shaders: rows and cols of the weights (part); X's first element and row stride, Y's likewise. */
#define LOWBIT_VK_GEMV_PUSH_FIELDS(word)                                                                               \
    word rows;                                                                                                         \
    word cols;                                                                                                         \
    word x_offset;                                                                                                     \
    word x_stride;                                                                                                     \
    word y_offset;                                                                                                     \
    word y_stride;
#define LOWBIT_VK_GEMV_PUSH_WORDS 6
/* gemm.comp: the GEMV fields, then the activation rows of the dispatch's chunk. */
#define LOWBIT_VK_GEMM_PUSH_FIELDS(word) LOWBIT_VK_GEMV_PUSH_FIELDS(word) word batch;
#define LOWBIT_VK_GEMM_PUSH_WORDS 7
/* stream_read.comp: uvec4 to read, per invocation (CPU layout), and the value the fold is compared with;
 * padded to the GEMV block's size. */
#define LOWBIT_VK_STREAM_PUSH_FIELDS(word)                                                                             \
    word count;                                                                                                        \
    word per_invocation;                                                                                               \
    word magic;                                                                                                        \
    word unused0;                                                                                                      \
    word unused1;                                                                                                      \
    word unused2;
#define LOWBIT_VK_STREAM_PUSH_WORDS 6

#endif
