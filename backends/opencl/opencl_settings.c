/* opencl_settings.c — the parameters of one OpenCL matmul, as vulkan_settings.c is Vulkan's: the keys of the one
 * vocabulary (params.h; the tuning database's entry with the context's parameters over it) applied over the kernel
 * table's defaults, then the deprecated LOWBIT_OPENCL_PARAMS ("layout=coop,wg=64,rows=2", read strictly: a value
 * it cannot read makes the matmul refuse, so the CPU answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_kernels.h"

static int is_gemm_key(const char *const *keys, size_t count, const char *item)
{
    for (size_t i = 0; i < count; ++i)
        if (strcmp(keys[i], item) == 0) return 1;
    return 0;
}

int opencl_settings_override(const char *text, opencl_kernel_params *params, int *block_sums, opencl_gemm_params *gemm,
                             char *why, size_t why_size)
{
    static const char *const gemm_keys[] = {"tile_rows", "tile_n",   "item_rows", "item_n",
                                            "tile_k",    "gemm_min", "gemm",      "stream"};
    while (text != NULL && *text != '\0') {
        const char *end = strchr(text, ',');
        size_t length = end ? (size_t)(end - text) : strlen(text);
        char item[64];
        if (length >= sizeof item) length = sizeof item - 1;
        memcpy(item, text, length);
        item[length] = '\0';
        char *value = strchr(item, '=');
        if (value == NULL) goto bad;
        *value++ = '\0';
        if (strcmp(item, "layout") == 0) {
            if (strcmp(value, "row") == 0)
                params->layout = OPENCL_LAYOUT_ROW;
            else if (strcmp(value, "coop") == 0)
                params->layout = OPENCL_LAYOUT_COOP;
            else
                goto bad;
        } else if (strcmp(item, "subgroups") == 0) {
            if (strcmp(value, "0") == 0)
                params->subgroups = OPENCL_SUBGROUPS_OFF;
            else if (strcmp(value, "1") == 0)
                params->subgroups = OPENCL_SUBGROUPS_FORCE;
            else if (strcmp(value, "emulate") == 0)
                params->subgroups = OPENCL_SUBGROUPS_EMULATE;
            else
                goto bad;
        } else if (strcmp(item, "sums") == 0) {
            if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) goto bad;
            *block_sums = value[0] == '1';
        } else if (is_gemm_key(gemm_keys, sizeof gemm_keys / sizeof gemm_keys[0], item)) {
            char *tail = NULL;
            unsigned long number = strtoul(value, &tail, 10);
            if (tail == value || *tail != '\0' || number > 4096) goto bad;
            if ((strcmp(item, "gemm") == 0 || strcmp(item, "stream") == 0) && number > 1) goto bad;
            if (strcmp(item, "gemm") != 0 && strcmp(item, "gemm_min") != 0 && strcmp(item, "stream") != 0 &&
                number == 0)
                goto bad;
            uint32_t *target = NULL;
            if (gemm != NULL) {
                if (strcmp(item, "tile_rows") == 0) target = &gemm->tile_rows;
                if (strcmp(item, "tile_n") == 0) target = &gemm->tile_n;
                if (strcmp(item, "item_rows") == 0) target = &gemm->item_rows;
                if (strcmp(item, "item_n") == 0) target = &gemm->item_n;
                if (strcmp(item, "tile_k") == 0) target = &gemm->tile_k;
                if (strcmp(item, "gemm_min") == 0) target = &gemm->min_n;
                if (strcmp(item, "stream") == 0) target = &gemm->stream;
                /* gemm=0 switches the GEMM off, gemm=1 on (at the default threshold when the table has it off). */
                if (strcmp(item, "gemm") == 0) gemm->min_n = number == 0 ? 0 : gemm->min_n ? gemm->min_n : 9;
            }
            if (target != NULL) *target = (uint32_t)number;
        } else if (strcmp(item, "wg") == 0 || strcmp(item, "rows") == 0) {
            char *tail = NULL;
            unsigned long number = strtoul(value, &tail, 10);
            if (tail == value || *tail != '\0' || number == 0 || number > 4096) goto bad;
            if (item[0] == 'w')
                params->wg_size = (uint32_t)number;
            else
                params->rows_per_wg = (uint32_t)number;
        } else {
            goto bad;
        }
        text = end ? end + 1 : NULL;
        continue;
    bad:
        snprintf(why, why_size,
                 "LOWBIT_OPENCL_PARAMS: cannot read '%s' (expected layout=row|coop,wg=N,rows=N,sums=0|1,"
                 "subgroups=0|1|emulate,gemm=0|1,stream=0|1,tile_rows=N,tile_n=N,item_rows=N,item_n=N,tile_k=N,"
                 "gemm_min=N)",
                 item);
        return -1;
    }
    return 0;
}

/* The GEMV keys of the one parameter vocabulary (params.h) over the table's defaults. */
void opencl_settings_apply(const lowbit_params *params, opencl_kernel_params *kernel, int *block_sums)
{
    static const opencl_subgroups subgroup_modes[] = {OPENCL_SUBGROUPS_OFF, OPENCL_SUBGROUPS_FORCE,
                                                      OPENCL_SUBGROUPS_EMULATE};
    if (params == NULL) return;
    const uint32_t *v = params->values;
    if (v[LOWBIT_KEY_LAYOUT]) kernel->layout = v[LOWBIT_KEY_LAYOUT] == 1 ? OPENCL_LAYOUT_ROW : OPENCL_LAYOUT_COOP;
    if (v[LOWBIT_KEY_WG]) kernel->wg_size = v[LOWBIT_KEY_WG];
    if (v[LOWBIT_KEY_ROWS]) kernel->rows_per_wg = v[LOWBIT_KEY_ROWS];
    if (v[LOWBIT_KEY_SUBGROUPS]) kernel->subgroups = subgroup_modes[v[LOWBIT_KEY_SUBGROUPS] - 1];
    if (v[LOWBIT_KEY_SUMS]) *block_sums = v[LOWBIT_KEY_SUMS] == 2;
}

/* The GEMM keys: gemm=0|1, gemm_min, the tile (tile_k in elements here, in 32-element chunks in the kernel). */
void opencl_settings_apply_gemm(const lowbit_params *params, opencl_gemm_params *gemm)
{
    if (params == NULL) return;
    const uint32_t *v = params->values;
    if (v[LOWBIT_KEY_GEMM] == 1) gemm->min_n = 0;
    if (v[LOWBIT_KEY_GEMM] == 2 && gemm->min_n == 0) gemm->min_n = 9;
    if (v[LOWBIT_KEY_GEMM_MIN] && v[LOWBIT_KEY_GEMM] != 1) gemm->min_n = v[LOWBIT_KEY_GEMM_MIN];
    if (v[LOWBIT_KEY_TILE_ROWS]) gemm->tile_rows = v[LOWBIT_KEY_TILE_ROWS];
    if (v[LOWBIT_KEY_TILE_N]) gemm->tile_n = v[LOWBIT_KEY_TILE_N];
    if (v[LOWBIT_KEY_TILE_K]) gemm->tile_k = v[LOWBIT_KEY_TILE_K] / 32;
    if (v[LOWBIT_KEY_ITEM_ROWS]) gemm->item_rows = v[LOWBIT_KEY_ITEM_ROWS];
    if (v[LOWBIT_KEY_ITEM_N]) gemm->item_n = v[LOWBIT_KEY_ITEM_N];
    if (v[LOWBIT_KEY_STREAM]) gemm->stream = v[LOWBIT_KEY_STREAM] == 2;
}
