/* vulkan_internal.h — state shared by the Vulkan plugin's files: function tables, backend, device,
 * weights and kernel records. Nothing here crosses the plugin boundary. */
#ifndef LOWBIT_VULKAN_INTERNAL_H
#define LOWBIT_VULKAN_INTERNAL_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/common/params.h"
#include "lowbit/lowbit_backend.h"
#include "shaders/common/lowbit_vk_interface.h"
#include "vulkan_suballoc.h"

/* Functions resolved through vkGetInstanceProcAddr with a NULL instance. */
#define LOWBIT_VK_GLOBAL_FUNCTIONS(X)                                                                                  \
    X(vkCreateInstance)                                                                                                \
    X(vkEnumerateInstanceLayerProperties)                                                                              \
    X(vkEnumerateInstanceExtensionProperties)

/* Instance functions; the debug-utils pair is optional (NULL without the extension). */
#define LOWBIT_VK_INSTANCE_FUNCTIONS(X)                                                                                \
    X(vkDestroyInstance)                                                                                               \
    X(vkEnumeratePhysicalDevices)                                                                                      \
    X(vkGetPhysicalDeviceProperties)                                                                                   \
    X(vkGetPhysicalDeviceProperties2)                                                                                  \
    X(vkGetPhysicalDeviceFeatures2)                                                                                    \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                                        \
    X(vkGetPhysicalDeviceMemoryProperties)                                                                             \
    X(vkEnumerateDeviceExtensionProperties)                                                                            \
    X(vkCreateDevice)                                                                                                  \
    X(vkGetDeviceProcAddr)
#define LOWBIT_VK_INSTANCE_OPTIONAL_FUNCTIONS(X)                                                                       \
    X(vkCreateDebugUtilsMessengerEXT)                                                                                  \
    X(vkDestroyDebugUtilsMessengerEXT)

#define LOWBIT_VK_DEVICE_FUNCTIONS(X)                                                                                  \
    X(vkDestroyDevice)                                                                                                 \
    X(vkGetDeviceQueue)                                                                                                \
    X(vkCreateBuffer)                                                                                                  \
    X(vkDestroyBuffer)                                                                                                 \
    X(vkCreateBufferView)                                                                                              \
    X(vkDestroyBufferView)                                                                                             \
    X(vkGetBufferMemoryRequirements)                                                                                   \
    X(vkAllocateMemory)                                                                                                \
    X(vkFreeMemory)                                                                                                    \
    X(vkBindBufferMemory)                                                                                              \
    X(vkMapMemory)                                                                                                     \
    X(vkUnmapMemory)                                                                                                   \
    X(vkFlushMappedMemoryRanges)                                                                                       \
    X(vkInvalidateMappedMemoryRanges)                                                                                  \
    X(vkCreateShaderModule)                                                                                            \
    X(vkDestroyShaderModule)                                                                                           \
    X(vkCreateDescriptorSetLayout)                                                                                     \
    X(vkDestroyDescriptorSetLayout)                                                                                    \
    X(vkCreatePipelineLayout)                                                                                          \
    X(vkDestroyPipelineLayout)                                                                                         \
    X(vkCreatePipelineCache)                                                                                           \
    X(vkDestroyPipelineCache)                                                                                          \
    X(vkGetPipelineCacheData)                                                                                          \
    X(vkCreateComputePipelines)                                                                                        \
    X(vkDestroyPipeline)                                                                                               \
    X(vkCreateDescriptorPool)                                                                                          \
    X(vkDestroyDescriptorPool)                                                                                         \
    X(vkResetDescriptorPool)                                                                                           \
    X(vkAllocateDescriptorSets)                                                                                        \
    X(vkUpdateDescriptorSets)                                                                                          \
    X(vkCreateCommandPool)                                                                                             \
    X(vkDestroyCommandPool)                                                                                            \
    X(vkAllocateCommandBuffers)                                                                                        \
    X(vkResetCommandBuffer)                                                                                            \
    X(vkBeginCommandBuffer)                                                                                            \
    X(vkEndCommandBuffer)                                                                                              \
    X(vkCmdBindPipeline)                                                                                               \
    X(vkCmdBindDescriptorSets)                                                                                         \
    X(vkCmdPushConstants)                                                                                              \
    X(vkCmdDispatch)                                                                                                   \
    X(vkCmdCopyBuffer)                                                                                                 \
    X(vkCmdFillBuffer)                                                                                                 \
    X(vkCmdPipelineBarrier)                                                                                            \
    X(vkCreateFence)                                                                                                   \
    X(vkDestroyFence)                                                                                                  \
    X(vkResetFences)                                                                                                   \
    X(vkWaitForFences)                                                                                                 \
    X(vkGetFenceStatus)                                                                                                \
    X(vkFreeCommandBuffers)                                                                                            \
    X(vkQueueSubmit)                                                                                                   \
    X(vkDeviceWaitIdle)                                                                                                \
    X(vkCreateQueryPool)                                                                                               \
    X(vkDestroyQueryPool)                                                                                              \
    X(vkCmdResetQueryPool)                                                                                             \
    X(vkCmdWriteTimestamp)                                                                                             \
    X(vkGetQueryPoolResults)

#define LOWBIT_VK_DECLARE(name) PFN_##name name;
typedef struct vk_global_table {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion; /* NULL on a 1.0 loader */
    LOWBIT_VK_GLOBAL_FUNCTIONS(LOWBIT_VK_DECLARE)
} vk_global_table;
typedef struct vk_instance_table {
    LOWBIT_VK_INSTANCE_FUNCTIONS(LOWBIT_VK_DECLARE)
    LOWBIT_VK_INSTANCE_OPTIONAL_FUNCTIONS(LOWBIT_VK_DECLARE)
} vk_instance_table;
typedef struct vk_device_table {
    LOWBIT_VK_DEVICE_FUNCTIONS(LOWBIT_VK_DECLARE)
} vk_device_table;
#undef LOWBIT_VK_DECLARE

/* Kernel layouts: how invocations map onto rows (see shaders/vulkan/gemv_*.comp). */
typedef enum vk_layout { LOWBIT_VK_LAYOUT_GPU = 0, LOWBIT_VK_LAYOUT_CPU = 1 } vk_layout;
enum { LOWBIT_VK_CLASS_GPU = 0, LOWBIT_VK_CLASS_CPU = 1, LOWBIT_VK_CLASS_COUNT = 2 };
enum { LOWBIT_VK_MAX_BATCH = 8 }; /* activation rows one dispatch handles */

/* Specialization of one kernel: what a tuner may vary. */
typedef struct vk_kernel_params {
    uint32_t workgroup_size; /* local_size_x (power of two) */
    uint32_t rows;           /* rows per workgroup (GPU layout) / per invocation (CPU layout) */
    vk_layout layout;
    int texel_weights; /* module variant: weights through texel views (chosen per matmul) */
    /* GEMM kernels (gemm.comp) only, LOWBIT_VK_SPEC_GEMM_BM..TN: tile of BM weight rows × BN activation
     * rows × BK depth, TM × TN outputs per invocation (workgroup_size = BM/TM · BN/TN); min_n: the smallest
     * n that runs the GEMM instead of looping GEMV dispatches (0: never on this device class). */
    uint32_t bm, bn, bk, tm, tn, min_n;
    /* Chosen per matmul, not tuned: X holds f16 bits (LOWBIT_VK_SPEC_X_F16), and the GPU layout reduces with
     * subgroupAdd (LOWBIT_VK_SPEC_USE_SUBGROUPS; the kernel's *_subgroups module). */
    uint32_t x_f16, subgroups;
} vk_kernel_params;

typedef struct vk_kernel {
    const char *name; /* "gemv_q4_0" */
    lowbit_format format;
    const unsigned char *spirv, *spirv_texel; /* storage-buffer module; LOWBIT_TEXEL_WEIGHTS=1 module */
    const unsigned long *spirv_size, *spirv_texel_size;
    vk_kernel_params defaults[LOWBIT_VK_CLASS_COUNT];
    /* Raw kernels (gemv_raw.comp) read the stored GGUF bytes as they are, one uint buffer without a split
     * layout; the format id is their LOWBIT_VK_SPEC_FORMAT. */
    int raw;
    uint32_t block_elems, block_bytes;
    /* The LOWBIT_SUBGROUPS=1 module (GEMV kernels only; NULL: this kernel has no subgroup reduction). */
    const unsigned char *spirv_subgroups;
    const unsigned long *spirv_subgroups_size;
} vk_kernel;

/* A pipeline built for one (kernel, params, batch) on one device. */
typedef struct vk_pipeline {
    const vk_kernel *kernel;
    vk_kernel_params params;
    uint32_t batch;
    VkPipeline pipeline;
    struct vk_pipeline *next;
} vk_pipeline;

typedef struct vk_buffer {
    VkBuffer buffer;
    vk_allocation allocation; /* its range of a memory block (vulkan_suballoc.c) */
    VkDeviceSize size;
    void *mapped; /* non-NULL for host-visible buffers the host writes directly */
    int coherent;
} vk_buffer;

typedef struct vk_backend vk_backend;

/* One physical device and, once used, its logical device. */
typedef struct vk_device {
    vk_backend *backend;
    size_t index;
    VkPhysicalDevice physical;
    VkPhysicalDeviceProperties properties;
    VkPhysicalDeviceMemoryProperties memory;
    uint32_t queue_family;
    uint32_t timestamp_bits;                    /* timestampValidBits of the queue family; 0: no kernel timing */
    lowbit_device_info info;                    /* filled at probe time */
    int device_class;                           /* LOWBIT_VK_CLASS_* */
    int texel_weights;                          /* CPU layout reads weights through texel views (*_texel modules) */
    int subgroup_reduce;                        /* GPU layout sums through subgroupAdd (LOWBIT_VULKAN_SUBGROUPS) */
    int int_dot;                                /* shaderIntegerDotProduct on: gemv_q8_dot (OpSDot) modules */
    uint64_t max_storage_range, max_allocation; /* clamped by LOWBIT_MAX_ALLOC */
    char setting_error[256]; /* a malformed variable read at probe time (LOWBIT_VULKAN_SUBGROUPS): matmuls refused */

    pthread_mutex_t mutex; /* guards everything below: creation, pipelines, scratch, submission */
    int created;
    VkDevice device;
    vk_device_table vk;
    VkQueue queue;
    VkCommandPool command_pool;
    VkCommandBuffer command_buffer;
    VkFence fence;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipeline_layout;
    VkDescriptorPool descriptor_pool;
    uint32_t descriptor_sets; /* capacity of descriptor_pool: one set per weight part of a matmul */
    VkPipelineCache pipeline_cache;
    vk_pipeline *pipelines;
    vk_buffer scratch;          /* host-visible X and Y, grown on demand */
    VkQueryPool timestamps;     /* two timestamp queries around a submission's dispatches; NULL without */
    vk_memory_pool memory_pool; /* blocks every buffer's memory comes from */
    vk_buffer probe;            /* measure_bandwidth's source buffer (only during a probe) */
    vk_buffer probe_sink;       /* and its tiny output */
} vk_device;

struct vk_backend {
    const lowbit_host_api *host;
    lowbit_params params; /* the context's parameters (host->params, parsed once): dot=auto|float|int */
    lowbit_backend vtable;
    pthread_mutex_t mutex; /* guards probing, and settings_reported */
    int probed, probing;
    void *library; /* dlopen handle of libvulkan.so.1 */
    vk_global_table global;
    vk_instance_table vk;
    VkInstance instance;
    uint32_t instance_api;
    int validation;
    VkDebugUtilsMessengerEXT messenger;
    unsigned long validation_errors;
    vk_device *devices;
    size_t device_count;
    char probe_failure[512];     /* why probing found no devices (the last error while probing) */
    char settings_reported[512]; /* the last malformed-setting message logged (vk_settings_refuse) */
};

/* A band of rows with its own buffers: quants (or the F32/F16 rows) and f16 scales in the split layout.
 * Matrices larger than one allocation or binding range are cut into several parts. */
typedef struct vk_weight_part {
    size_t row_begin, rows;
    vk_buffer quants;
    vk_buffer scales; /* empty for F32/F16: the quant buffer is bound in its place */
    /* Texel views of quants (RGBA32UI) and scales (R32UI) for the CPU-class modules, which read
     * weights through texel fetches (vector gathers) instead of per-invocation storage loads. */
    VkBufferView quant_texels, scale_texels;
} vk_weight_part;

typedef struct vk_weights {
    vk_device *device;
    const vk_kernel *kernel;
    size_t rows, cols;
    size_t part_count;
    vk_weight_part *parts;
} vk_weights;

/* vulkan_loader.c */
lowbit_status vk_loader_open(vk_backend *backend, const char **why);
lowbit_status vk_loader_load_instance(vk_backend *backend);
lowbit_status vk_loader_load_device(vk_backend *backend, VkDevice device, vk_device_table *table);
void vk_loader_close(vk_backend *backend);

/* vulkan_device.c */
void vk_log(vk_backend *backend, lowbit_log_level level, const char *format, ...) __attribute__((format(printf, 3, 4)));
lowbit_status vk_fail(vk_backend *backend, const char *call, VkResult result);
/* vk_fail that also keeps its message in message[size] (errors a queue reports again later). */
lowbit_status vk_fail_kept(vk_backend *backend, const char *call, VkResult result, char *message, size_t size);
lowbit_status vk_error(vk_backend *backend, lowbit_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
const char *vk_result_name(VkResult result);
lowbit_status vk_instance_create(vk_backend *backend);
lowbit_status vk_device_ensure(vk_device *device); /* caller holds device->mutex */
void vk_device_destroy(vk_device *device);
/* Records with `record`, submits, waits. Caller holds device->mutex. */
lowbit_status vk_device_submit(vk_device *device, lowbit_status (*record)(vk_device *, VkCommandBuffer, void *),
                               void *user);
/* Kernel timing: write_timestamp(…, 0) before the dispatches and (…, 1) after them while recording;
 * timestamps_read after the submission gives the seconds between them (0 when the queue cannot tell). */
void vk_timestamp_write(vk_device *device, VkCommandBuffer cb, uint32_t index);
double vk_timestamps_read(vk_device *device);

/* vulkan_probe.c */
lowbit_status vk_probe_devices(vk_backend *backend);

/* vulkan_suballoc.c; the caller holds device->mutex. allocate places `requirements` in a block of memory type
 * `type` (a new block when none has room): VK_SUCCESS, VK_ERROR_TOO_MANY_OBJECTS at the pool's
 * allocation_limit, or what vkAllocateMemory / vkMapMemory returned. */
VkResult vk_memory_allocate(vk_device *device, const VkMemoryRequirements *requirements, uint32_t type,
                            vk_allocation *out);
void vk_memory_free(vk_device *device, vk_allocation *allocation); /* frees the block once it is empty */
/* Flushes (or invalidates) the allocation's range when its memory is mapped and not host-coherent. */
VkResult vk_memory_flush(vk_device *device, const vk_allocation *allocation, int invalidate);
void vk_memory_pool_release(vk_device *device); /* every block, before the device goes */

/* vulkan_memory.c */
typedef enum vk_memory_kind {
    LOWBIT_VK_MEMORY_DEVICE,     /* device-local preferred; mapped when host-visible (not under FORCE_STAGING) */
    LOWBIT_VK_MEMORY_HOST,       /* host-visible required (scratch, staging), coherent preferred */
    LOWBIT_VK_MEMORY_HOST_SHARED /* host-visible and coherent required, device-local preferred: buffers the
                                    host maps (LOWBIT_BUFFER_HOST_VISIBLE); LOWBIT_ERROR_UNSUPPORTED if none */
} vk_memory_kind;
lowbit_status vk_buffer_create(vk_device *device, VkDeviceSize size, vk_memory_kind kind, vk_buffer *out);
void vk_buffer_destroy(vk_device *device, vk_buffer *buffer);
/* Host writes to a mapped buffer made visible to the device (flush), or device writes to the host
 * (invalidate); nothing for coherent memory. */
lowbit_status vk_buffer_flush(vk_device *device, vk_buffer *buffer, int invalidate);
lowbit_status vk_scratch_reserve(vk_device *device, VkDeviceSize size);
lowbit_status vk_weights_upload(void *self, size_t device, const lowbit_backend_tensor *tensor, void **out);
void vk_weights_release(void *self, void *weights);

/* vulkan_kernels.c */
const vk_kernel *vk_kernel_for_format(lowbit_format format);
const vk_kernel *vk_gemm_kernel_for_format(lowbit_format format); /* NULL: looped GEMV for every n */
size_t vk_kernel_count(void);
const vk_kernel *vk_kernel_at(size_t index);
const vk_kernel *vk_stream_kernel(void); /* stream_read.comp, the bandwidth probe (in no format's table) */
/* The integer-dot GEMV of `format` (gemv_q8.comp; its OpSDot module when int_dot), NULL where it has none. */
const vk_kernel *vk_int_kernel_for_format(lowbit_format format, int int_dot);
const vk_kernel *vk_quantize_kernel(void); /* quantize_q8.comp, X into 8-bit blocks */
/* dot=auto's choice for a matmul of n activation rows of `format` weights on `device`: LOWBIT_DOT_FLOAT or
 * LOWBIT_DOT_INT (the int path then runs where the format has an integer kernel). */
lowbit_dot_path vulkan_dot_default(lowbit_format format, size_t n, const vk_device *device);
lowbit_status vk_pipeline_get(vk_device *device, const vk_kernel *kernel, const vk_kernel_params *params,
                              uint32_t batch, VkPipeline *out);
void vk_pipelines_destroy(vk_device *device);
lowbit_status vk_layouts_create(vk_device *device);
/* Makes the descriptor pool hold at least `sets` sets (recreating it; caller holds device->mutex). */
lowbit_status vk_descriptor_pool_reserve(vk_device *device, uint32_t sets);
/* A pool of `sets` matmul descriptor sets (every binding of the set layout each). */
lowbit_status vk_descriptor_pool_create(vk_device *device, uint32_t sets, VkDescriptorPool *out);

/* vulkan_settings.c: the parameters of one matmul: the tuning database's entry and the context's parameters
 * (params.h: layout, wg, rows, gemm, gemm_min, tile_rows, tile_n, tile_k, item_rows, item_n), then the deprecated
 * LOWBIT_VULKAN_PARAMS and LOWBIT_VULKAN_GEMM over them. */
typedef enum vk_gemm_setting {
    LOWBIT_VK_GEMM_TABLE, /* unset: the kernel table decides */
    LOWBIT_VK_GEMM_OFF,   /* the looped GEMV for every n */
    LOWBIT_VK_GEMM_CLASS, /* gemm_class's table tile from n = 9 up */
    LOWBIT_VK_GEMM_TILE   /* bm..tn, from min_n up */
} vk_gemm_setting;
typedef struct vk_settings {
    int params; /* LOWBIT_VULKAN_PARAMS given: workgroup_size, rows, layout (and the GEMV for every n) */
    uint32_t workgroup_size, rows; /* 0: the table's */
    int has_layout;
    vk_layout layout;
    vk_gemm_setting gemm;
    int gemm_class;
    uint32_t bm, bn, bk, tm, tn, min_n; /* TILE: all set; TABLE: the ones set (non-zero) replace the table's */
    int gemm_on;                        /* gemm=1: the table's tile from min_n (default 9) even where it has none */
    int subgroups;                      /* subgroups=0|1: 1 off, 2 on (the coop layout's reduction); 0 unset */
} vk_settings;
/* `params` (may be NULL) with the deprecated variables over them. LOWBIT_OK, or LOWBIT_ERROR_UNSUPPORTED after
 * reporting a malformed value (or one `device` cannot run). */
lowbit_status vk_settings_read(vk_device *device, const lowbit_params *params, vk_settings *out);
/* Refuses a tile the device cannot run (too many invocations or too much shared memory), naming `source`. */
lowbit_status vk_settings_tile_check(vk_device *device, const vk_kernel_params *tile, const char *source);
/* Logs the message at error level (once per distinct message) and returns LOWBIT_ERROR_UNSUPPORTED with it. */
lowbit_status vk_settings_refuse(vk_backend *backend, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* LOWBIT_VULKAN_SUBGROUPS at probe time: 0 or 1, -1 when unset or malformed (then device->setting_error). */
int vk_settings_probe_subgroups(vk_device *device);

/* vulkan_matmul.c: how one matmul runs, shared by the synchronous matmul and the queued one (vulkan_queue.c).
 * Activation rows are cut into chunks of `batch` rows; chunk c has an X region at c·chunk_bytes of a scratch
 * buffer (rows of x_stride elements, zero-padded past cols) and its Y region y_region bytes further (rows of
 * `weights->rows` floats); one dispatch per (weight part, chunk). */
typedef struct vk_matmul_plan {
    vk_weights *weights;
    const vk_kernel *kernel;          /* the format's GEMV kernel, or its GEMM kernel (gemm.comp) for prefill */
    int gemm;                         /* one tiled GEMM per (part, chunk); chunks then hold as many rows as fit */
    vk_kernel_params params;          /* the table's (or LOWBIT_VULKAN_PARAMS') parameters, tuned for n = 1 */
    char tuned[16];                   /* the tuning database's level that chose the parameters, "" for none */
    vk_kernel_params chunk_params[2]; /* what full chunks and the remainder chunk run with */
    size_t n, batch, chunks;          /* chunks of `batch` (≤ LOWBIT_VK_MAX_BATCH) activation rows */
    int x_f16;                        /* X uploaded as the caller's f16 bits (activations.glsl widens it) */
    size_t x_element;                 /* bytes per activation element in the scratch: 4, or 2 for f16 X */
    uint32_t x_stride;                /* elements per activation row in the scratch (cols rounded up to 4) */
    VkDeviceSize chunk_bytes;         /* scratch bytes per chunk: X region, then Y region, both aligned */
    VkDeviceSize y_region;            /* offset of Y within a chunk's bytes */
    VkDeviceSize alignment;           /* of every region: storage and texel offset alignments */
    VkPipeline pipelines[2];          /* full chunks of LOWBIT_VK_MAX_BATCH, then the remainder */
    VkDescriptorSet *sets;            /* [part * chunks + chunk] */
    VkBufferView *x_views;            /* [chunk]: X as RGBA32UI (f16 X: RG32UI) texels for the texel modules */
    /* The integer-dot path (q8 = 1; the OpSDot modules where device->int_dot, which the probe sets where the device
     * has shaderIntegerDotProduct unless LOWBIT_VULKAN_INT_DOT=0, and the multiply-add modules elsewhere): per chunk,
     * quantize_q8.comp turns the X region into 8-bit blocks in the chunk's Q8 region (after Y; layout in
     * shaders/vulkan/quantize_q8.comp), then `kernel` (gemv_q8.comp) reads them through binding X. Its sets follow the
     * GEMV's in `sets`: [part_count * chunks + chunk]. */
    int q8;
    const vk_kernel *quantize;
    VkPipeline quantize_pipeline;
    vk_kernel_params quantize_params;
    VkDeviceSize q8_region; /* offset of the Q8 region within a chunk's bytes */
    uint32_t q8_row_words;  /* words per quantized activation row (a multiple of 4) */
    size_t set_count;       /* descriptor sets the plan needs: one per (part, chunk), + chunks with q8 */
    double device_seconds;  /* between the timestamps around the dispatches (synchronous path) */
} vk_matmul_plan;
lowbit_status vk_matmul(void *self, lowbit_backend_matmul_args *args);
/* Kernel, parameters and chunking for n rows of x_type; allocates the sets / views arrays (plan_release). */
lowbit_status vk_matmul_plan_init(vk_weights *weights, lowbit_activation x_type, size_t n, vk_matmul_plan *plan);
void vk_matmul_plan_release(vk_matmul_plan *plan);
size_t vk_matmul_chunk_rows(const vk_matmul_plan *plan, size_t chunk);
/* The plan's pipelines (built on first use); caller holds device->mutex. */
lowbit_status vk_matmul_pipelines_get(vk_device *device, vk_matmul_plan *plan);
/* Allocates part_count · chunks sets from `pool` (which must have room) and X views into `scratch` from `base`
 * (plan->x_views: the caller destroys them after the work). */
lowbit_status vk_matmul_descriptors_write(vk_device *device, vk_matmul_plan *plan, VkDescriptorPool pool,
                                          VkBuffer scratch, VkDeviceSize base);
/* Refuses a plan whose dispatches exceed the device's workgroup counts; dispatches_record then cannot fail. */
lowbit_status vk_matmul_dispatches_check(vk_device *device, const vk_matmul_plan *plan);
void vk_matmul_dispatches_record(vk_device *device, VkCommandBuffer cb, const vk_matmul_plan *plan);
/* The description lowbit_run_info shows ("gemv_q4_0 wg=64 rows=2 batch=1 gpu-layout"). */
void vk_matmul_describe(const vk_matmul_plan *plan, char *kernel, size_t size);

/* vulkan_queue.c: ABI 1.2, device buffers and in-order queues (lowbit_backend.h). */
lowbit_status vk_queue_buffer_create(void *self, size_t device, size_t size, unsigned flags, void **buffer,
                                     void **host_pointer);
void vk_queue_buffer_release(void *self, void *buffer);
lowbit_status vk_queue_create(void *self, size_t device, void **queue);
void vk_queue_release(void *self, void *queue);
lowbit_status vk_enqueue_write(void *self, void *queue, lowbit_backend_copy_args *args);
lowbit_status vk_enqueue_read(void *self, void *queue, lowbit_backend_copy_args *args);
lowbit_status vk_enqueue_matmul(void *self, void *queue, lowbit_backend_queued_matmul_args *args);
lowbit_status vk_queue_flush(void *self, void *queue);
lowbit_status vk_queue_finish(void *self, void *queue);
lowbit_status vk_event_wait(void *self, void *event);
lowbit_status vk_event_query(void *self, void *event, int *complete);
void vk_event_release(void *self, void *event);

/* vulkan_bandwidth.c */
lowbit_status vk_measure_bandwidth(void *self, size_t device, size_t bytes, double *bytes_per_second);

/* Push constants, declared from the shaders' own field lists (shaders/common/lowbit_vk_interface.h). Every
 * matmul dispatch pushes gemm.comp's block, which is the GEMV shaders' block and `batch` (read by gemm.comp
 * alone); the bandwidth probe pushes stream_read.comp's. The pipeline layout's range is the larger. */
typedef struct vk_matmul_push {
    LOWBIT_VK_GEMM_PUSH_FIELDS(uint32_t)
} vk_matmul_push;
typedef struct vk_stream_push {
    LOWBIT_VK_STREAM_PUSH_FIELDS(uint32_t)
} vk_stream_push;
_Static_assert(sizeof(vk_matmul_push) == LOWBIT_VK_GEMM_PUSH_WORDS * sizeof(uint32_t),
               "LOWBIT_VK_GEMM_PUSH_WORDS counts LOWBIT_VK_GEMM_PUSH_FIELDS");
_Static_assert(offsetof(vk_matmul_push, batch) == LOWBIT_VK_GEMV_PUSH_WORDS * sizeof(uint32_t),
               "LOWBIT_VK_GEMV_PUSH_WORDS counts LOWBIT_VK_GEMV_PUSH_FIELDS, the GEMM block's leading words");
_Static_assert(sizeof(vk_stream_push) == LOWBIT_VK_STREAM_PUSH_WORDS * sizeof(uint32_t),
               "LOWBIT_VK_STREAM_PUSH_WORDS counts LOWBIT_VK_STREAM_PUSH_FIELDS");
_Static_assert(sizeof(vk_stream_push) <= sizeof(vk_matmul_push), "the pipeline layout's push range covers both");

#endif
