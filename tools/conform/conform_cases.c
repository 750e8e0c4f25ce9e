/* conform_cases.c — builds the case list from what the context reports: every device, every stored
 * format the CPU reference can produce, both kernel kinds, and a shape set covering
 * the edges of every kernel (partial tiles, odd rows, batch sizes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conform.h"

const char *conform_kernel_name(conform_kernel kernel)
{
    static const char *const names[CONFORM_KERNEL_COUNT] = {"gemv", "gemm", "gemv-int", "gemm-int"};
    return names[kernel];
}

int conform_kernel_is_int(conform_kernel kernel)
{
    return kernel == CONFORM_KERNEL_GEMV_INT || kernel == CONFORM_KERNEL_GEMM_INT;
}

const char *conform_status_name(conform_status status)
{
    static const char *const names[] = {"PASS", "FAIL", "NOT SUPPORTED", "FALLBACK"};
    return names[status];
}

const char *conform_variant_name(conform_variant variant)
{
    static const char *const names[] = {"plain", "unaligned", "nan", "inf", "split", "outlier", "zero-block"};
    return names[variant];
}

double conform_tolerance(conform_kernel kernel, lowbit_activation activation)
{
    /* GEMV and GEMM share the f32 bound; the integer kinds quantize X to 8 bits per 32 elements (TARGETS: 5e-4) */
    if (conform_kernel_is_int(kernel)) return 5e-4;
    return activation == LOWBIT_ACTIVATION_F16 ? 1e-3 : 1e-6;
}

uint64_t conform_seed(const char *id)
{
    uint64_t hash = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; ++p)
        hash = (hash ^ *p) * 1099511628211ull;
    return hash;
}

typedef struct shape {
    size_t rows, cols_blocks; /* cols = cols_blocks × the format's block size (1 → one block) */
    size_t extra_cols;        /* added for legacy formats: K not a multiple of 256 */
    conform_kernel kernel;
    size_t n;
    conform_variant variant;
    int quick;
    lowbit_activation activation;
} shape;

/* rows 67 and 129 are not multiples of any workgroup size; 1 row is M = 1 */
static const shape shapes[] = {
    {1, 1, 0, CONFORM_KERNEL_GEMV, 1, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 1, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 2, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 3, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 4, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 5, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 6, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 7, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 8, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {129, 2, 0, CONFORM_KERNEL_GEMV, 1, CONFORM_VARIANT_UNALIGNED, 1, LOWBIT_ACTIVATION_F32},
    {33, 2, 0, CONFORM_KERNEL_GEMV, 2, CONFORM_VARIANT_NAN, 1, LOWBIT_ACTIVATION_F32},
    {33, 2, 0, CONFORM_KERNEL_GEMV, 1, CONFORM_VARIANT_INF, 1, LOWBIT_ACTIVATION_F32},
    {1024, 16, 0, CONFORM_KERNEL_GEMV, 1, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {257, 8, 0, CONFORM_KERNEL_GEMV, 2, CONFORM_VARIANT_SPLIT, 1,
     LOWBIT_ACTIVATION_F32}, /* > 16K in every format: several buffers */
    {67, 3, 32, CONFORM_KERNEL_GEMM, 9, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMM, 16, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {129, 4, 0, CONFORM_KERNEL_GEMM, 64, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {65, 2, 0, CONFORM_KERNEL_GEMM, 65, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV, 3, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F16},
    {67, 3, 32, CONFORM_KERNEL_GEMM, 16, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F16},
    /* the integer-dot kinds (integer weight formats only) */
    {16, 1, 0, CONFORM_KERNEL_GEMV_INT, 1, CONFORM_VARIANT_PLAIN, 1,
     LOWBIT_ACTIVATION_F32}, /* one block; 16 outputs, as one output's NMSE is noise */
    {67, 3, 32, CONFORM_KERNEL_GEMV_INT, 1, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV_INT, 3, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV_INT, 8, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {33, 2, 0, CONFORM_KERNEL_GEMV_INT, 2, CONFORM_VARIANT_NAN, 1, LOWBIT_ACTIVATION_F32},
    {33, 2, 0, CONFORM_KERNEL_GEMV_INT, 1, CONFORM_VARIANT_INF, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV_INT, 2, CONFORM_VARIANT_OUTLIER, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV_INT, 2, CONFORM_VARIANT_ZERO_BLOCK, 1, LOWBIT_ACTIVATION_F32},
    {1024, 16, 0, CONFORM_KERNEL_GEMV_INT, 1, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMM_INT, 9, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {129, 4, 0, CONFORM_KERNEL_GEMM_INT, 64, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F32},
    {65, 2, 0, CONFORM_KERNEL_GEMM_INT, 65, CONFORM_VARIANT_PLAIN, 1, LOWBIT_ACTIVATION_F32},
    {67, 3, 32, CONFORM_KERNEL_GEMV_INT, 3, CONFORM_VARIANT_PLAIN, 0, LOWBIT_ACTIVATION_F16},
};

static int matches(const char *wanted, const char *value) { return !wanted || strcasecmp(wanted, value) == 0; }

lowbit_status conform_cases_generate(lowbit_context *context, const conform_filter *filter, conform_case **cases,
                                     size_t *count)
{
    *cases = NULL;
    *count = 0;
    size_t devices = 0;
    lowbit_status status = lowbit_device_count(context, &devices);
    if (status != LOWBIT_OK) return status;
    size_t capacity = 0;
    conform_case *list = NULL;
    for (size_t d = 0; d < devices; ++d) {
        lowbit_device_info info = {.struct_size = sizeof info};
        if ((status = lowbit_device_get_info(context, d, &info)) != LOWBIT_OK) {
            free(list);
            return status;
        }
        if (!matches(filter->device, info.id)) continue;
        for (int f = 0; f < LOWBIT_FORMAT_COUNT; ++f) {
            const lowbit_format_traits *traits = lowbit_format_get(f);
            if (!traits || traits->is_activation_only || !traits->can_quantize || !traits->can_dequantize) continue;
            if (!matches(filter->format, traits->name)) continue;
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
                const shape *sh = &shapes[s];
                if (!filter->full && !sh->quick && !filter->case_id) continue;
                if (filter->kernel && strcasecmp(filter->kernel, conform_kernel_name(sh->kernel)) != 0) continue;
                if (conform_kernel_is_int(sh->kernel) && traits->block_size == 1) continue; /* float weights */
                conform_case c = {.device = d,
                                  .kernel = sh->kernel,
                                  .format = (lowbit_format)f,
                                  .activation = sh->activation,
                                  .rows = sh->rows,
                                  .n = sh->n,
                                  .variant = sh->variant};
                /* K not a multiple of 256 only where the block is 32; block-1 formats get odd widths */
                size_t block = traits->block_size == 1 ? 32 : traits->block_size;
                c.cols = sh->cols_blocks * block + (traits->block_size == 32 ? sh->extra_cols : 0) +
                         (traits->block_size == 1 ? 3 : 0);
                snprintf(c.device_id, sizeof c.device_id, "%s", info.id);
                snprintf(c.id, sizeof c.id, "%s/%s/%s/%s/%zux%zu/n%zu/%s", info.id, conform_kernel_name(c.kernel),
                         traits->name, c.activation == LOWBIT_ACTIVATION_F16 ? "f16" : "f32", c.rows, c.cols, c.n,
                         conform_variant_name(c.variant));
                if (filter->case_id && strcmp(filter->case_id, c.id) != 0) continue;
                c.seed = conform_seed(c.id);
                if (*count == capacity) {
                    capacity = capacity ? capacity * 2 : 64;
                    conform_case *grown = realloc(list, capacity * sizeof *grown);
                    if (!grown) {
                        free(list);
                        return LOWBIT_ERROR_OUT_OF_MEMORY;
                    }
                    list = grown;
                }
                list[(*count)++] = c;
            }
        }
    }
    *cases = list;
    return LOWBIT_OK;
}
