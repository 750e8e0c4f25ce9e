/* opencl_kernels.h — the table of OpenCL kernels, their compile-time parameters and per-device-class
 * defaults (the single place a tuner reads and overrides), and how a configuration becomes build options. */
#ifndef LOWBIT_OPENCL_KERNELS_H
#define LOWBIT_OPENCL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "backends/common/params.h"
#include "lowbit/lowbit_format.h"

typedef enum opencl_device_class {
    OPENCL_DEVICE_CPU = 0, /* PoCL and other CPU-backed drivers */
    OPENCL_DEVICE_GPU = 1,
    OPENCL_DEVICE_CLASS_COUNT
} opencl_device_class;

typedef enum opencl_layout {
    OPENCL_LAYOUT_ROW = 0, /* each work-item streams whole rows: contiguous reads (CPU devices) */
    OPENCL_LAYOUT_COOP = 1 /* a workgroup shares each row: coalesced strided reads, local reduction (GPUs) */
} opencl_layout;

/* Dispatches with one activation row (GEMV, decode) and with several (up to OPENCL_MAX_ACTIVATION_ROWS)
 * want different shapes: several rows reuse each weight block, so a work-item takes more weight rows to
 * load each activation block once for all of them. */
typedef enum opencl_batch_class {
    OPENCL_BATCH_SINGLE = 0,
    OPENCL_BATCH_MULTI = 1,
    OPENCL_BATCH_CLASS_COUNT
} opencl_batch_class;

/* How the cooperative layout reduces its partial sums (gemv_coop_reduce.cl). */
typedef enum opencl_subgroups {
    OPENCL_SUBGROUPS_OFF = 0,    /* through local memory only (portable) */
    OPENCL_SUBGROUPS_AUTO = 1,   /* within subgroups first where the device has them, else OFF */
    OPENCL_SUBGROUPS_FORCE = 2,  /* LOWBIT_OPENCL_PARAMS subgroups=1: an error on a device without them */
    OPENCL_SUBGROUPS_EMULATE = 3 /* subgroups=emulate, a test hook: the subgroup reduction with one-work-item
                                  * subgroups, so its source compiles and runs on devices without them */
} opencl_subgroups;

typedef struct opencl_kernel_params {
    uint32_t wg_size;     /* WG_SIZE: work-items per workgroup */
    uint32_t rows_per_wg; /* ROWS_PER_WG: weight rows per workgroup (LAYOUT_ROW: a multiple of wg_size) */
    opencl_layout layout;
    opencl_subgroups subgroups; /* LAYOUT_COOP's reduction; the row layout has none */
} opencl_kernel_params;

/* The tiled GEMM (gemm.cl) for prefill: a workgroup computes tile_rows weight rows × tile_n activation
 * rows, each work-item an item_rows × item_n block in registers, tile_k 32-element chunks per tile load. */
typedef struct opencl_gemm_params {
    uint32_t tile_rows; /* TILE_ROWS */
    uint32_t tile_n;    /* TILE_N */
    uint32_t item_rows; /* ITEM_ROWS */
    uint32_t item_n;    /* ITEM_N */
    uint32_t tile_k;    /* TILE_K */
    uint32_t min_n;     /* the GEMM runs for n ≥ min_n, the looped GEMV below; 0: never */
    uint32_t stream;    /* GEMM_STREAM: no local tiles, each work-item streams its item_rows rows against
                         * the tile's activation rows, item_n at a time (CPU-class devices); the
                         * workgroup is tile_rows/item_rows work-items */
} opencl_gemm_params;

typedef struct opencl_kernel_spec {
    const char *name; /* kernel function in the source */
    lowbit_format format;
    const char *define; /* build option selecting the kernel inside its family's source */
    const char *source; /* the embedded family source (lowbit_blocks.h + the .cl file) */
    const unsigned long *source_size;
    int block_sums;    /* can take X_BLOCK_SUMS (Σx per block from the host) in the single-row row layout */
    int stored_layout; /* reads the stored (GGUF) bytes as uploaded, not the split layout of lowbit_blocks.h */
    opencl_kernel_params defaults[OPENCL_DEVICE_CLASS_COUNT][OPENCL_BATCH_CLASS_COUNT];
    const char *gemm_name; /* the GEMM kernel over the same decode, or NULL (looped GEMV for every n) */
    opencl_gemm_params gemm_defaults[OPENCL_DEVICE_CLASS_COUNT];
    int dot_int; /* the GEMV also builds as the integer-dot kernel (gemv_int.cl, -DLOWBIT_DOT_INT) */
} opencl_kernel_spec;

/* Everything a program is compiled from; also the program-cache key. */
typedef struct opencl_kernel_config {
    const opencl_kernel_spec *spec;
    opencl_kernel_params params;
    uint32_t activation_rows; /* N_MAX: activation rows one dispatch computes (1, 2, 4 or 8) */
    uint32_t block_sums;      /* X_BLOCK_SUMS: the dispatch reads x's per-block sums (see gemv.cl) */
    uint32_t gemm;            /* the tiled GEMM (gemm_params), not the GEMV (params, activation_rows) */
    opencl_gemm_params gemm_params;
    uint32_t x_f16;     /* X_F16: x holds IEEE halves (read with vload_half*, accumulated in f32) */
    uint32_t subgroups; /* LOWBIT_SUBGROUPS: 0 off, 1 the device's subgroups, 2 emulated (test hook) */
    uint32_t cl_std;    /* -cl-std: 12 (CL1.2), or 20 / 30 where the subgroup built-ins need it */
    uint32_t dot_int;   /* LOWBIT_DOT_INT: the integer-dot GEMV on x quantized by x_quantize.cl (x_f16 and
                         * block_sums are then 0: x and x_sums carry the 8-bit blocks and their scales) */
} opencl_kernel_config;

/* Activation rows one dispatch handles at most; larger n loops over chunks. */
#define OPENCL_MAX_ACTIVATION_ROWS 8u
/* Activation rows one GEMM dispatch handles at most (bounds the x and y scratch buffers). */
#define OPENCL_MAX_GEMM_ROWS 1024u

const opencl_kernel_spec *opencl_kernel_table(size_t *count);
/* dot=auto: 1 when `format` with `n` activation rows runs the integer-dot path by default on a device class, 0 for
 * the float path. One small table in opencl_kernels.c, set from measurements. */
int opencl_dot_default(lowbit_format format, size_t n, opencl_device_class device_class);
/* The GEMV kernel for a weight format, or NULL when this backend has none. */
const opencl_kernel_spec *opencl_kernel_for_format(lowbit_format format);

/* Picks the configuration for `n` activation rows (n ≤ OPENCL_MAX_ACTIVATION_ROWS) of f32 (x_f16 0) or f16
 * (x_f16 1) activations on a device class: the table's defaults, then `params` (the tuning database's entry with
 * the context's parameters over it: layout, wg, rows, sums, subgroups), then the deprecated LOWBIT_OPENCL_PARAMS
 * ("layout=row|coop,wg=N,rows=N,sums=0|1,subgroups=0|1|emulate", any subset) when set; and checks it against the
 * device's max workgroup size and local memory. `subgroup_std` is the -cl-std (20 or 30) under which the device
 * compiles the subgroup built-ins, 0 when it has none. Returns 0, or -1 with `why` filled. */
int opencl_kernel_choose(const opencl_kernel_spec *spec, opencl_device_class device_class, const lowbit_params *params,
                         size_t n, int x_f16, uint32_t subgroup_std, uint32_t max_workgroup_size, uint64_t local_memory,
                         opencl_kernel_config *config, char *why, size_t why_size);

/* Whether `n` activation rows of a rows×cols matrix run the tiled GEMM: 1 with `config` filled, 0 when
 * the looped GEMV should run (no GEMM for the format, n below the table's threshold, F32/F16/BF16 cols not
 * a multiple of 32), -1 with `why` filled when the parameters (the table's, then `params`' gemm, gemm_min,
 * tile_rows, tile_n, tile_k, item_rows, item_n, stream, then the deprecated LOWBIT_OPENCL_PARAMS's) do not fit the
 * device. */
int opencl_kernel_choose_gemm(const opencl_kernel_spec *spec, opencl_device_class device_class,
                              const lowbit_params *params, size_t n, size_t cols, int x_f16,
                              uint32_t max_workgroup_size, uint64_t local_memory, opencl_kernel_config *config,
                              char *why, size_t why_size);

/* opencl_settings.c: the GEMV keys (layout, wg, rows, subgroups, sums) and the GEMM keys (gemm, gemm_min, tile_rows,
 * tile_n, tile_k in elements, item_rows, item_n, stream) of `params` (may be NULL) over a configuration, and the
 * deprecated LOWBIT_OPENCL_PARAMS text over that (`gemm` NULL: its GEMM keys are checked, not applied; tile_k there
 * counts 32-element chunks). The override returns 0, or -1 with `why` naming what it could not read. */
void opencl_settings_apply(const lowbit_params *params, opencl_kernel_params *kernel, int *block_sums);
void opencl_settings_apply_gemm(const lowbit_params *params, opencl_gemm_params *gemm);
int opencl_settings_override(const char *text, opencl_kernel_params *params, int *block_sums, opencl_gemm_params *gemm,
                             char *why, size_t why_size);

int opencl_kernel_config_equal(const opencl_kernel_config *a, const opencl_kernel_config *b);
/* "-DLOWBIT_GEMV_Q4_0 -DWG_SIZE=8 ..." */
void opencl_kernel_build_options(const opencl_kernel_config *config, char *options, size_t size);
/* "gemv_q4_0 wg=8 rows=16 n=1 row-layout" (" x=f16" for f16 activations, " x=q8" on the integer-dot path): what
 * lowbit_last_run reports. */
void opencl_kernel_describe(const opencl_kernel_config *config, char *text, size_t size);
/* Rows of the matrix one workgroup covers, and the global size for `rows` weight rows. */
size_t opencl_kernel_global_size(const opencl_kernel_config *config, size_t rows);
/* The GEMM's 2-D global and local sizes for `rows` weight rows and `n` activation rows. */
void opencl_kernel_gemm_sizes(const opencl_kernel_config *config, size_t rows, size_t n, size_t global[2],
                              size_t local[2]);

#endif
