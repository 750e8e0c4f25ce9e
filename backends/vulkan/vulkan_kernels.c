/* vulkan_kernels.c — the one table of Vulkan kernels with their tunable parameters and per-device-class
 * defaults (plus the bandwidth probe stream_read.comp), the shared descriptor/pipeline layouts, and lazy
 * pipeline creation through the cache. */
#include "vulkan_internal.h"

#include <stdlib.h>
#include <string.h>

#include "shaders/common/lowbit_formats.h"
#include "vulkan_pipeline_cache.h"

/* SPIR-V of shaders/vulkan/gemv_*.comp, embedded at build time (cmake/embed.cmake). */
#define LOWBIT_VK_SPIRV(kernel)                                                                                        \
    extern const unsigned char lowbit_vk_##kernel##_spv[], lowbit_vk_##kernel##_texel_spv[];                           \
    extern const unsigned long lowbit_vk_##kernel##_spv_size, lowbit_vk_##kernel##_texel_spv_size;
LOWBIT_VK_SPIRV(gemv_f32)
LOWBIT_VK_SPIRV(gemv_f16)
LOWBIT_VK_SPIRV(gemv_q4_0)
LOWBIT_VK_SPIRV(gemv_q8_0)
LOWBIT_VK_SPIRV(stream_read)
LOWBIT_VK_SPIRV(gemv_raw)
LOWBIT_VK_SPIRV(gemv_raw_grid)
LOWBIT_VK_SPIRV(gemm)
LOWBIT_VK_SPIRV(gemm_grid)
LOWBIT_VK_SPIRV(gemv_q8)
LOWBIT_VK_SPIRV(gemv_q8_dot)
LOWBIT_VK_SPIRV(gemv_q8_grid)
LOWBIT_VK_SPIRV(gemv_q8_grid_dot)
LOWBIT_VK_SPIRV(quantize_q8)
#define SPIRV_OF(kernel)                                                                                               \
    lowbit_vk_##kernel##_spv, lowbit_vk_##kernel##_texel_spv, &lowbit_vk_##kernel##_spv_size,                          \
        &lowbit_vk_##kernel##_texel_spv_size
/* The GEMV shaders' third module, built with LOWBIT_SUBGROUPS=1 (the GPU layout's subgroupAdd reduction). */
#define LOWBIT_VK_SPIRV_SUBGROUPS(kernel)                                                                              \
    extern const unsigned char lowbit_vk_##kernel##_subgroups_spv[];                                                   \
    extern const unsigned long lowbit_vk_##kernel##_subgroups_spv_size;
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_f32)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_f16)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_q4_0)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_q8_0)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_raw)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_raw_grid)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_q8)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_q8_dot)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_q8_grid)
LOWBIT_VK_SPIRV_SUBGROUPS(gemv_q8_grid_dot)
#define SUBGROUPS_SPIRV_OF(kernel) lowbit_vk_##kernel##_subgroups_spv, &lowbit_vk_##kernel##_subgroups_spv_size

/* Every kernel and its defaults per device class (what a tuner reads and overrides). Parameters map to
 * specialization constants (LOWBIT_VK_SPEC_*, shaders/common/lowbit_vk_interface.h): workgroup size, rows,
 * layout (1 = CPU), batch (chosen per call), the format id (read by gemv_raw.comp and gemm.comp), the GEMM
 * tile (below); and, chosen per call rather than tuned, X_F16 (X holds f16 bits: the call's activation type,
 * every shader, activations.glsl) and USE_SUBGROUPS (the GPU layout's reduction through subgroupAdd,
 * workgroup_sum.glsl: on where the device reports subgroup arithmetic in compute, unless
 * LOWBIT_VULKAN_SUBGROUPS=0; only the *_subgroups modules read it).
 * CPU-class devices (lavapipe) get per-invocation contiguous row walks; GPUs a workgroup per row with
 * coalesced block loads and a workgroup reduction (subgroupAdd, then shared memory across subgroups, where
 * the device has subgroup arithmetic; a shared-memory tree elsewhere). */
/* designated, so the GEMM tile and the per-call members start at zero (clang's -Wmissing-field-initializers) */
#define VK_PARAMS(wg, per_group, layout_name)                                                                          \
    {                                                                                                                  \
        .workgroup_size = (wg), .rows = (per_group), .layout = LOWBIT_VK_LAYOUT_##layout_name                          \
    }
/* `module`: gemv_raw, or gemv_raw_grid for the grid formats (the same shader built with only their decoders) */
#define RAW_KERNEL_IN(module, name, format)                                                                            \
    {                                                                                                                  \
        name, LOWBIT_FORMAT_##format, SPIRV_OF(module),                                                                \
            {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(8, 4, CPU)}, 1,          \
            LOWBIT_##format##_BLOCK, LOWBIT_##format##_BYTES, SUBGROUPS_SPIRV_OF(module)                               \
    }
#define RAW_KERNEL(name, format) RAW_KERNEL_IN(gemv_raw, name, format)
/* The formats of LOWBIT_BLOCK_FORMATS (shaders/common/lowbit_formats.h), one row each, in the module its `vk`
 * column names (MODULE_* below expands it before SPIRV_OF pastes). */
#define GEMV_MODULE_raw gemv_raw
#define GEMV_MODULE_grid gemv_raw_grid
#define GEMM_MODULE_raw gemm
#define GEMM_MODULE_grid gemm_grid
#define KERNEL_IN_MODULE(KIND, module, ...) KIND(module, __VA_ARGS__)
#define VK_BLOCK_GEMV(F, f, cl, vk) KERNEL_IN_MODULE(RAW_KERNEL_IN, GEMV_MODULE_##vk, "gemv_" #f, F),

static const vk_kernel kernels[] = {
    {"gemv_f32",
     LOWBIT_FORMAT_F32,
     SPIRV_OF(gemv_f32),
     {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(8, 16, CPU)},
     .raw = 0,
     .spirv_subgroups = lowbit_vk_gemv_f32_subgroups_spv,
     .spirv_subgroups_size = &lowbit_vk_gemv_f32_subgroups_spv_size},
    {"gemv_f16",
     LOWBIT_FORMAT_F16,
     SPIRV_OF(gemv_f16),
     {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(8, 16, CPU)},
     .raw = 0,
     .spirv_subgroups = lowbit_vk_gemv_f16_subgroups_spv,
     .spirv_subgroups_size = &lowbit_vk_gemv_f16_subgroups_spv_size},
    {"gemv_q4_0",
     LOWBIT_FORMAT_Q4_0,
     SPIRV_OF(gemv_q4_0),
     {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(8, 16, CPU)},
     .raw = 0,
     .spirv_subgroups = lowbit_vk_gemv_q4_0_subgroups_spv,
     .spirv_subgroups_size = &lowbit_vk_gemv_q4_0_subgroups_spv_size},
    {"gemv_q8_0",
     LOWBIT_FORMAT_Q8_0,
     SPIRV_OF(gemv_q8_0),
     {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(8, 16, CPU)},
     .raw = 0,
     .spirv_subgroups = lowbit_vk_gemv_q8_0_subgroups_spv,
     .spirv_subgroups_size = &lowbit_vk_gemv_q8_0_subgroups_spv_size},
    /* gemv_raw.comp, one specialization per format over the stored block bytes: every invocation (CPU) or
     * workgroup (GPU) decodes 32-element groups into registers; on the CPU layout at n = 1, Q4_K/Q5_K/Q6_K
     * advance the invocation's rows together, sharing each activation load (the "packed" path). */
    LOWBIT_BLOCK_FORMATS(VK_BLOCK_GEMV) RAW_KERNEL("gemv_bf16", BF16),
};

/* CPU-class thresholds; 0: the looped GEMV stays for every n. Measured on lavapipe (llvmpipe, LLVM 15, 256-bit,
 * 2 cores, idle machine, 4096×4096, GFLOP/s GEMM with the CPU tile below / looped texel GEMV): Q4_0 n=64
 * 26.6 / 52.0, n=512 28.6 / 51.3; F16 n=64 19.7 / 29.9, n=512 19.9 / 30.0; Q4_K n=64 20.7 / 26.9. No tile
 * tried (BM 32-128, BN 8-64, TM/TN 4-16) won, so CPU-class devices keep the GEMV until a CPU-shaped GEMM does. */
#define LOWBIT_VK_GEMM_CPU_MIN_N_F32 0
#define LOWBIT_VK_GEMM_CPU_MIN_N_F16 0
#define LOWBIT_VK_GEMM_CPU_MIN_N_Q4_0 0
#define LOWBIT_VK_GEMM_CPU_MIN_N_Q8_0 0
#define LOWBIT_VK_GEMM_CPU_MIN_N_Q4_K 0
#define LOWBIT_VK_GEMM_CPU_MIN_N_Q6_K 0

/* Tiled GEMM (gemm.comp) for prefill, per format: (workgroup size = BM/TM · BN/TN, layout, BM, BN, BK, TM, TN,
 * min_n); TM and TN multiples of 4, BK of 32, BK·(BM+BN)·4 bytes of shared memory. GPUs take 64×64 tiles of
 * 4×4 blocks from n = 9 (LOWBIT_VK_MAX_BATCH + 1). CPU-class devices: the best tile measured on lavapipe
 * (128×64, 16×16 blocks, 32 invocations), switched off by min_n (above) while it loses to the GEMV. */
#define VK_GEMM_PARAMS(wg, layout_name, bm_, bn_, bk_, tm_, tn_, min_n_)                                               \
    {                                                                                                                  \
        .workgroup_size = (wg), .layout = LOWBIT_VK_LAYOUT_##layout_name, .bm = (bm_), .bn = (bn_), .bk = (bk_),       \
        .tm = (tm_), .tn = (tn_), .min_n = (min_n_)                                                                    \
    }
#define GEMM_KERNEL_IN(module, name, format, raw, cpu_min_n)                                                           \
    {                                                                                                                  \
        name, LOWBIT_FORMAT_##format, SPIRV_OF(module),                                                                \
            {[LOWBIT_VK_CLASS_GPU] = VK_GEMM_PARAMS(256, GPU, 64, 64, 32, 4, 4, 9),                                    \
             [LOWBIT_VK_CLASS_CPU] = VK_GEMM_PARAMS(32, CPU, 128, 64, 32, 16, 16, cpu_min_n)},                         \
            raw, LOWBIT_##format##_BLOCK, LOWBIT_##format##_BYTES, NULL, NULL                                          \
    }

#define GEMM_KERNEL(name, format, raw, cpu_min_n) GEMM_KERNEL_IN(gemm, name, format, raw, cpu_min_n)
/* Not measured on lavapipe: the raw formats decode at least as much per element as Q4_K, where the GEMV won. */
#define LOWBIT_VK_GEMM_CPU_MIN_N_RAW 0
/* The formats of LOWBIT_BLOCK_FORMATS, one row each (the grid formats: gemm.comp built with only their decoders,
 * gemm_grid); Q4_K and Q6_K have measured thresholds of their own. */
#define GEMM_CPU_MIN_N(F)                                                                                              \
    (LOWBIT_FORMAT_##F == LOWBIT_FORMAT_Q4_K   ? LOWBIT_VK_GEMM_CPU_MIN_N_Q4_K                                         \
     : LOWBIT_FORMAT_##F == LOWBIT_FORMAT_Q6_K ? LOWBIT_VK_GEMM_CPU_MIN_N_Q6_K                                         \
                                               : LOWBIT_VK_GEMM_CPU_MIN_N_RAW)
#define VK_BLOCK_GEMM(F, f, cl, vk)                                                                                    \
    KERNEL_IN_MODULE(GEMM_KERNEL_IN, GEMM_MODULE_##vk, "gemm_" #f, F, 1, GEMM_CPU_MIN_N(F)),

/* Every weight format; `raw` as in the GEMV table (the weights are uploaded for the GEMV kernel, so the GEMM
 * reads the same layout: split for F32/F16/Q4_0/Q8_0, the stored block bytes otherwise). */
static const vk_kernel gemm_kernels[] = {
    GEMM_KERNEL("gemm_f32", F32, 0, LOWBIT_VK_GEMM_CPU_MIN_N_F32),
    GEMM_KERNEL("gemm_f16", F16, 0, LOWBIT_VK_GEMM_CPU_MIN_N_F16),
    GEMM_KERNEL("gemm_q4_0", Q4_0, 0, LOWBIT_VK_GEMM_CPU_MIN_N_Q4_0),
    GEMM_KERNEL("gemm_q8_0", Q8_0, 0, LOWBIT_VK_GEMM_CPU_MIN_N_Q8_0),
    LOWBIT_BLOCK_FORMATS(VK_BLOCK_GEMM) GEMM_KERNEL("gemm_bf16", BF16, 1, LOWBIT_VK_GEMM_CPU_MIN_N_RAW),
};

const vk_kernel *vk_gemm_kernel_for_format(lowbit_format format)
{
    for (size_t i = 0; i < sizeof gemm_kernels / sizeof gemm_kernels[0]; ++i)
        if (gemm_kernels[i].format == format) return &gemm_kernels[i];
    return NULL;
}

/* The bandwidth probe: `rows` is unused, the layout says contiguous ranges (CPU) or grid-stride (GPU). */
static const vk_kernel stream_kernel = {
    "stream_read",
    LOWBIT_FORMAT_COUNT,
    SPIRV_OF(stream_read),
    {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(256, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(64, 1, CPU)},
    0,
    0,
    0,
    NULL,
    NULL};

const vk_kernel *vk_stream_kernel(void) { return &stream_kernel; }

/* The integer-dot path (dot=int, or dot=auto where vulkan_dot_default says int): X quantized to 8-bit blocks by
 * quantize_q8.comp, then gemv_q8.comp over the weights as uploaded for the float GEMV (`raw` as there: the split
 * layout for Q4_0 / Q8_0, the stored bytes otherwise). Per format one row, every weight format but F32 / F16 /
 * BF16; the grid formats in gemv_q8_grid (gemv_q8.comp built with only their decoders, as gemv_raw_grid); [1]:
 * the OpSDot modules. */
#define INT_KERNEL(module, F, raw_)                                                                                    \
    {                                                                                                                  \
        "gemv_q8:" #F, LOWBIT_FORMAT_##F, SPIRV_OF(module),                                                            \
            {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(8, 4, CPU)}, raw_,       \
            LOWBIT_##F##_BLOCK, LOWBIT_##F##_BYTES, SUBGROUPS_SPIRV_OF(module)                                         \
    }
#define INT_KERNELS(module, grid)                                                                                      \
    INT_KERNEL(module, Q4_0, 0), INT_KERNEL(module, Q8_0, 0), INT_KERNEL(module, Q4_K, 1),                             \
        INT_KERNEL(module, Q6_K, 1), INT_KERNEL(module, IQ4_XS, 1), INT_KERNEL(module, Q4_1, 1),                       \
        INT_KERNEL(module, Q5_0, 1), INT_KERNEL(module, Q5_1, 1), INT_KERNEL(module, IQ4_NL, 1),                       \
        INT_KERNEL(module, Q5_K, 1), INT_KERNEL(module, Q2_K, 1), INT_KERNEL(module, Q3_K, 1),                         \
        INT_KERNEL(module, TQ1_0, 1), INT_KERNEL(module, TQ2_0, 1), INT_KERNEL(module, MXFP4, 1),                      \
        INT_KERNEL(module, NVFP4, 1), INT_KERNEL(module, Q1_0, 1), INT_KERNEL(module, Q2_0, 1),                        \
        INT_KERNEL(grid, IQ2_XXS, 1), INT_KERNEL(grid, IQ2_XS, 1), INT_KERNEL(grid, IQ2_S, 1),                         \
        INT_KERNEL(grid, IQ3_XXS, 1), INT_KERNEL(grid, IQ3_S, 1), INT_KERNEL(grid, IQ1_S, 1),                          \
        INT_KERNEL(grid, IQ1_M, 1)
static const vk_kernel int_kernels[2][25] = {{INT_KERNELS(gemv_q8, gemv_q8_grid)},
                                             {INT_KERNELS(gemv_q8_dot, gemv_q8_grid_dot)}};

const vk_kernel *vk_int_kernel_for_format(lowbit_format format, int int_dot)
{
    const vk_kernel *table = int_kernels[int_dot ? 1 : 0];
    for (size_t i = 0; i < sizeof int_kernels[0] / sizeof int_kernels[0][0]; ++i)
        if (table[i].format == format) return &table[i];
    return NULL;
}

static const vk_kernel quantize_kernel = {
    "quantize_q8",
    LOWBIT_FORMAT_COUNT,
    SPIRV_OF(quantize_q8),
    {[LOWBIT_VK_CLASS_GPU] = VK_PARAMS(64, 1, GPU), [LOWBIT_VK_CLASS_CPU] = VK_PARAMS(16, 1, CPU)},
    0,
    32,
    0,
    NULL,
    NULL};

const vk_kernel *vk_quantize_kernel(void) { return &quantize_kernel; }

/* dot=auto: the path per (format, n, device). Float everywhere until the integer path is measured faster on a
 * quiet machine; the table is this one function. */
/* dot=auto's choice: the integer path where it won by 10 % or more on lavapipe (Mesa 22.3.6, 2-core AMD EPYC,
 * 4096×14336, lowbit-bench --dot float,int, int ÷ float speed at n = 1 / 8 / 64 in one run): Q4_K 1.19 / 1.26 /
 * 1.15, Q6_K 1.02 / 1.30 / 1.16, IQ4_XS 1.06 / 1.26 / 1.39; float kept for Q4_0 0.76 / 1.02 / 1.04, Q8_0 0.75 /
 * 0.92 / 0.99 and the unmeasured formats. GPU-class devices: unmeasured here, so float. */
lowbit_dot_path vulkan_dot_default(lowbit_format format, size_t n, const vk_device *device)
{
    if (device->device_class != LOWBIT_VK_CLASS_CPU) return LOWBIT_DOT_FLOAT;
    switch (format) {
    case LOWBIT_FORMAT_Q4_K: return LOWBIT_DOT_INT;
    case LOWBIT_FORMAT_Q6_K:
    case LOWBIT_FORMAT_IQ4_XS: return n > 1 ? LOWBIT_DOT_INT : LOWBIT_DOT_FLOAT;
    default: return LOWBIT_DOT_FLOAT;
    }
}

size_t vk_kernel_count(void) { return sizeof kernels / sizeof kernels[0]; }
const vk_kernel *vk_kernel_at(size_t index) { return index < vk_kernel_count() ? &kernels[index] : NULL; }

const vk_kernel *vk_kernel_for_format(lowbit_format format)
{
    for (size_t i = 0; i < vk_kernel_count(); ++i)
        if (kernels[i].format == format) return &kernels[i];
    return NULL;
}

lowbit_status vk_layouts_create(vk_device *d)
{
    vk_device_table *vk = &d->vk;
    /* weights, scales, X, Y as storage buffers; weights, scales, X again as texel buffers */
    VkDescriptorSetLayoutBinding bindings[LOWBIT_VK_BINDING_COUNT];
    for (uint32_t i = 0; i < LOWBIT_VK_BINDING_COUNT; ++i)
        bindings[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = i < LOWBIT_VK_STORAGE_BINDING_COUNT ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                                  : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = LOWBIT_VK_BINDING_COUNT,
        .pBindings = bindings,
    };
    VkResult result = vk->vkCreateDescriptorSetLayout(d->device, &set_info, NULL, &d->set_layout);
    if (result != VK_SUCCESS) return vk_fail(d->backend, "vkCreateDescriptorSetLayout", result);
    VkPushConstantRange push = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = sizeof(vk_matmul_push)};
    VkPipelineLayoutCreateInfo layout_info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &d->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &push,
    };
    result = vk->vkCreatePipelineLayout(d->device, &layout_info, NULL, &d->pipeline_layout);
    if (result != VK_SUCCESS) return vk_fail(d->backend, "vkCreatePipelineLayout", result);
    lowbit_status status = vk_descriptor_pool_reserve(d, 4);
    if (status != LOWBIT_OK) return status;
    return vk_pipeline_cache_open(d);
}

lowbit_status vk_descriptor_pool_create(vk_device *d, uint32_t sets, VkDescriptorPool *out)
{
    VkDescriptorPoolSize pool_sizes[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = LOWBIT_VK_STORAGE_BINDING_COUNT * sets},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
         .descriptorCount = (LOWBIT_VK_BINDING_COUNT - LOWBIT_VK_STORAGE_BINDING_COUNT) * sets},
    };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = sets,
        .poolSizeCount = 2,
        .pPoolSizes = pool_sizes,
    };
    VkResult result = d->vk.vkCreateDescriptorPool(d->device, &pool_info, NULL, out);
    if (result != VK_SUCCESS) {
        *out = VK_NULL_HANDLE;
        return vk_fail(d->backend, "vkCreateDescriptorPool", result);
    }
    return LOWBIT_OK;
}

lowbit_status vk_descriptor_pool_reserve(vk_device *d, uint32_t sets)
{
    if (d->descriptor_pool && d->descriptor_sets >= sets) return LOWBIT_OK;
    if (d->descriptor_pool) d->vk.vkDestroyDescriptorPool(d->device, d->descriptor_pool, NULL);
    d->descriptor_pool = VK_NULL_HANDLE;
    d->descriptor_sets = 0;
    /* One set per weight part of a matmul; the pool is reset after each matmul. */
    lowbit_status status = vk_descriptor_pool_create(d, sets, &d->descriptor_pool);
    if (status != LOWBIT_OK) return status;
    d->descriptor_sets = sets;
    return LOWBIT_OK;
}

static lowbit_status pipeline_create(vk_device *d, const vk_kernel *kernel, const vk_kernel_params *params,
                                     uint32_t batch, VkPipeline *out)
{
    vk_backend *backend = d->backend;
    vk_device_table *vk = &d->vk;
    if (backend->host->fault_injected && backend->host->fault_injected("vulkan.build"))
        return vk_error(backend, LOWBIT_ERROR_DEVICE,
                        "vulkan: vkCreateComputePipelines failed for %s (fault injected: vulkan.build)", kernel->name);
    /* vkCreateShaderModule wants 4-byte aligned words; the embedded array is only byte-aligned. The
     * subgroup module only for the storage-buffer GPU layout (the host sets `subgroups` nowhere else). */
    int texels = params->texel_weights, subgroups = params->subgroups && !texels && kernel->spirv_subgroups;
    size_t bytes = texels ? *kernel->spirv_texel_size : subgroups ? *kernel->spirv_subgroups_size : *kernel->spirv_size;
    const unsigned char *spirv = texels ? kernel->spirv_texel : subgroups ? kernel->spirv_subgroups : kernel->spirv;
    uint32_t *words = malloc(bytes);
    if (!words) return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "vulkan: out of host memory");
    memcpy(words, spirv, bytes);
    VkShaderModuleCreateInfo module_info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = bytes,
        .pCode = words,
    };
    VkShaderModule module = VK_NULL_HANDLE;
    VkResult result = vk->vkCreateShaderModule(d->device, &module_info, NULL, &module);
    free(words);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateShaderModule", result);

    /* every constant for every module (an entry for a constant a module does not declare is ignored) */
    uint32_t values[LOWBIT_VK_SPEC_COUNT] = {
        [LOWBIT_VK_SPEC_WORKGROUP_SIZE] = params->workgroup_size,
        [LOWBIT_VK_SPEC_ROWS] = params->rows,
        [LOWBIT_VK_SPEC_CPU_LAYOUT] = params->layout == LOWBIT_VK_LAYOUT_CPU,
        [LOWBIT_VK_SPEC_BATCH] = batch,
        [LOWBIT_VK_SPEC_FORMAT] = (uint32_t)kernel->format,
        [LOWBIT_VK_SPEC_GEMM_BM] = params->bm,
        [LOWBIT_VK_SPEC_GEMM_BN] = params->bn,
        [LOWBIT_VK_SPEC_GEMM_BK] = params->bk,
        [LOWBIT_VK_SPEC_GEMM_TM] = params->tm,
        [LOWBIT_VK_SPEC_GEMM_TN] = params->tn,
        [LOWBIT_VK_SPEC_X_F16] = params->x_f16 != 0,
        [LOWBIT_VK_SPEC_USE_SUBGROUPS] = (uint32_t)subgroups,
    };
    VkSpecializationMapEntry entries[LOWBIT_VK_SPEC_COUNT];
    for (uint32_t i = 0; i < LOWBIT_VK_SPEC_COUNT; ++i)
        entries[i] =
            (VkSpecializationMapEntry){.constantID = i, .offset = i * sizeof values[0], .size = sizeof values[0]};
    VkSpecializationInfo specialization = {
        .mapEntryCount = LOWBIT_VK_SPEC_COUNT,
        .pMapEntries = entries,
        .dataSize = sizeof values,
        .pData = values,
    };
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = &specialization,
            },
        .layout = d->pipeline_layout,
    };
    result = vk->vkCreateComputePipelines(d->device, d->pipeline_cache, 1, &info, NULL, out);
    vk->vkDestroyShaderModule(d->device, module, NULL);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateComputePipelines", result);
    vk_log(backend, LOWBIT_LOG_DEBUG, "vulkan: built %s wg=%u rows=%u batch=%u %s-layout%s%s%s bm=%u bn=%u bk=%u on %s",
           kernel->name, params->workgroup_size, params->rows, batch,
           params->layout == LOWBIT_VK_LAYOUT_CPU ? "cpu" : "gpu", texels ? " texel" : "", subgroups ? " sg" : "",
           params->x_f16 ? " x=f16" : "", params->bm, params->bn, params->bk, d->info.id);
    return LOWBIT_OK;
}

lowbit_status vk_pipeline_get(vk_device *d, const vk_kernel *kernel, const vk_kernel_params *params, uint32_t batch,
                              VkPipeline *out)
{
    for (vk_pipeline *p = d->pipelines; p; p = p->next) {
        if (p->kernel == kernel && p->batch == batch && p->params.workgroup_size == params->workgroup_size &&
            p->params.rows == params->rows && p->params.layout == params->layout &&
            p->params.texel_weights == params->texel_weights && p->params.bm == params->bm &&
            p->params.bn == params->bn && p->params.bk == params->bk && p->params.tm == params->tm &&
            p->params.tn == params->tn && p->params.x_f16 == params->x_f16 &&
            p->params.subgroups == params->subgroups) {
            *out = p->pipeline;
            return LOWBIT_OK;
        }
    }
    vk_pipeline *entry = calloc(1, sizeof *entry);
    if (!entry) return vk_error(d->backend, LOWBIT_ERROR_OUT_OF_MEMORY, "vulkan: out of host memory");
    lowbit_status status = pipeline_create(d, kernel, params, batch, &entry->pipeline);
    if (status != LOWBIT_OK) {
        free(entry);
        return status;
    }
    entry->kernel = kernel;
    entry->params = *params;
    entry->batch = batch;
    entry->next = d->pipelines;
    d->pipelines = entry;
    *out = entry->pipeline;
    return LOWBIT_OK;
}

void vk_pipelines_destroy(vk_device *d)
{
    while (d->pipelines) {
        vk_pipeline *next = d->pipelines->next;
        d->vk.vkDestroyPipeline(d->device, d->pipelines->pipeline, NULL);
        free(d->pipelines);
        d->pipelines = next;
    }
    vk_pipeline_cache_save(d);
}
