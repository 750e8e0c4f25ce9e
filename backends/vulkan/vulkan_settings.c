/* vulkan_settings.c — the Vulkan tuning variables read strictly (LOWBIT_VULKAN_PARAMS, LOWBIT_VULKAN_GEMM; and
 * LOWBIT_VULKAN_SUBGROUPS, read at probe time): a malformed value, or one the device cannot run, is logged at
 * error level with the variable and its text and the matmul refused, so the CPU answers, as OpenCL does with
 * LOWBIT_OPENCL_PARAMS; never silently replaced by the kernel table's defaults. */
#include "vulkan_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FIELDS = 6 };

lowbit_status vk_settings_refuse(vk_backend *backend, const char *format, ...)
{
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    /* every matmul is refused with the message; the error log says it once per distinct message, not once per
     * matrix of every token */
    pthread_mutex_lock(&backend->mutex);
    int repeated = strcmp(backend->settings_reported, message) == 0;
    if (!repeated) snprintf(backend->settings_reported, sizeof backend->settings_reported, "%s", message);
    pthread_mutex_unlock(&backend->mutex);
    if (!repeated) vk_log(backend, LOWBIT_LOG_ERROR, "%s", message);
    return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "%s", message);
}

/* Splits `text` at commas: the number of fields, or -1 for more than `most`. An empty text is one empty field. */
static int split_fields(const char *text, const char **fields, size_t *lengths, int most)
{
    int count = 0;
    for (;;) {
        if (count == most) return -1;
        const char *comma = strchr(text, ',');
        fields[count] = text;
        lengths[count] = comma ? (size_t)(comma - text) : strlen(text);
        count++;
        if (!comma) return count;
        text = comma + 1;
    }
}

/* Digits only (no sign, space, or suffix), a value in [1, max]: 0, or -1. */
static int parse_count(const char *text, size_t length, uint32_t max, uint32_t *out)
{
    if (length == 0 || length > 10) return -1;
    uint64_t value = 0;
    for (size_t i = 0; i < length; ++i) {
        if (text[i] < '0' || text[i] > '9') return -1;
        value = value * 10 + (uint64_t)(text[i] - '0');
    }
    if (value == 0 || value > max) return -1;
    *out = (uint32_t)value;
    return 0;
}

static int field_is(const char *field, size_t length, const char *word)
{
    return length == strlen(word) && memcmp(field, word, length) == 0;
}

/* "wg,rows,cpu|gpu": wg a power of two, rows 1..64. */
static int parse_params(const char *text, vk_settings *out)
{
    const char *fields[MAX_FIELDS];
    size_t lengths[MAX_FIELDS];
    if (split_fields(text, fields, lengths, 3) != 3) return -1;
    if (parse_count(fields[0], lengths[0], 65536, &out->workgroup_size) != 0 ||
        (out->workgroup_size & (out->workgroup_size - 1)) != 0 ||
        parse_count(fields[1], lengths[1], 64, &out->rows) != 0)
        return -1;
    out->has_layout = 1;
    if (field_is(fields[2], lengths[2], "cpu"))
        out->layout = LOWBIT_VK_LAYOUT_CPU;
    else if (field_is(fields[2], lengths[2], "gpu"))
        out->layout = LOWBIT_VK_LAYOUT_GPU;
    else
        return -1;
    out->params = 1;
    return 0;
}

/* "off", "gpu", "cpu", or "bm,bn,bk,tm,tn[,min_n]": tm and tn multiples of 4 dividing bm and bn, bk a multiple
 * of 32, none past 1024; min_n (default 9) at least 1. */
static int parse_gemm(const char *text, vk_settings *out)
{
    if (strcmp(text, "off") == 0) {
        out->gemm = LOWBIT_VK_GEMM_OFF;
        return 0;
    }
    if (strcmp(text, "gpu") == 0 || strcmp(text, "cpu") == 0) {
        out->gemm = LOWBIT_VK_GEMM_CLASS;
        out->gemm_class = text[0] == 'g' ? LOWBIT_VK_CLASS_GPU : LOWBIT_VK_CLASS_CPU;
        return 0;
    }
    const char *fields[MAX_FIELDS];
    size_t lengths[MAX_FIELDS];
    int count = split_fields(text, fields, lengths, 6);
    if (count < 5) return -1;
    uint32_t *targets[6] = {&out->bm, &out->bn, &out->bk, &out->tm, &out->tn, &out->min_n};
    out->min_n = LOWBIT_VK_MAX_BATCH + 1;
    for (int i = 0; i < count; ++i)
        if (parse_count(fields[i], lengths[i], i < 5 ? 1024 : UINT32_MAX, targets[i]) != 0) return -1;
    if (out->tm % 4 || out->tn % 4 || out->bm % out->tm || out->bn % out->tn || out->bk % 32) return -1;
    out->gemm = LOWBIT_VK_GEMM_TILE;
    return 0;
}

lowbit_status vk_settings_tile_check(vk_device *d, const vk_kernel_params *tile, const char *source)
{
    const VkPhysicalDeviceLimits *limits = &d->properties.limits;
    uint32_t workgroup = (tile->bm / tile->tm) * (tile->bn / tile->tn);
    uint64_t shared_bytes = (uint64_t)tile->bk * (tile->bm + tile->bn) * sizeof(float);
    if (workgroup > d->info.max_workgroup_size || workgroup > limits->maxComputeWorkGroupInvocations ||
        workgroup > limits->maxComputeWorkGroupSize[0])
        return vk_settings_refuse(d->backend,
                                  "vulkan: %s: a %ux%u tile of %ux%u outputs per invocation needs %u invocations, "
                                  "more than %s has",
                                  source, tile->bm, tile->bn, tile->tm, tile->tn, workgroup, d->info.id);
    if (shared_bytes > limits->maxComputeSharedMemorySize)
        return vk_settings_refuse(
            d->backend, "vulkan: %s: a %ux%ux%u tile needs %llu bytes of shared memory, %s has %u", source, tile->bm,
            tile->bn, tile->bk, (unsigned long long)shared_bytes, d->info.id, limits->maxComputeSharedMemorySize);
    return LOWBIT_OK;
}

/* The keys of the one vocabulary (params.h) that the Vulkan kernels take. */
static lowbit_status apply_params(vk_device *d, const lowbit_params *params, vk_settings *out)
{
    if (params == NULL) return LOWBIT_OK;
    const uint32_t *v = params->values;
    if (v[LOWBIT_KEY_WG] > d->info.max_workgroup_size)
        return vk_settings_refuse(d->backend, "vulkan: parameter wg=%u exceeds %s's %u invocations", v[LOWBIT_KEY_WG],
                                  d->info.id, d->info.max_workgroup_size);
    if (v[LOWBIT_KEY_ROWS] > 64)
        return vk_settings_refuse(d->backend, "vulkan: parameter rows=%u: the Vulkan GEMV takes 1..64 rows",
                                  v[LOWBIT_KEY_ROWS]);
    if (v[LOWBIT_KEY_SUBGROUPS] == 3)
        return vk_settings_refuse(d->backend, "vulkan: parameter subgroups=emulate is an OpenCL test hook; use 0 or 1");
    if (v[LOWBIT_KEY_SUBGROUPS] == 2 && !d->info.subgroups)
        return vk_settings_refuse(
            d->backend, "vulkan: parameter subgroups=1, but %s has no subgroup arithmetic in compute", d->info.id);
    out->subgroups = (int)v[LOWBIT_KEY_SUBGROUPS];
    out->workgroup_size = v[LOWBIT_KEY_WG];
    out->rows = v[LOWBIT_KEY_ROWS];
    if (v[LOWBIT_KEY_LAYOUT]) {
        out->has_layout = 1;
        out->layout = v[LOWBIT_KEY_LAYOUT] == 1 ? LOWBIT_VK_LAYOUT_CPU : LOWBIT_VK_LAYOUT_GPU;
    }
    if (v[LOWBIT_KEY_GEMM] == 1) out->gemm = LOWBIT_VK_GEMM_OFF;
    out->gemm_on = v[LOWBIT_KEY_GEMM] == 2;
    out->bm = v[LOWBIT_KEY_TILE_ROWS], out->bn = v[LOWBIT_KEY_TILE_N], out->bk = v[LOWBIT_KEY_TILE_K];
    out->tm = v[LOWBIT_KEY_ITEM_ROWS], out->tn = v[LOWBIT_KEY_ITEM_N], out->min_n = v[LOWBIT_KEY_GEMM_MIN];
    return LOWBIT_OK;
}

lowbit_status vk_settings_read(vk_device *d, const lowbit_params *params, vk_settings *out)
{
    vk_backend *backend = d->backend;
    memset(out, 0, sizeof *out);
    out->gemm = LOWBIT_VK_GEMM_TABLE;
    if (d->setting_error[0]) return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "%s", d->setting_error);
    lowbit_status applied = apply_params(d, params, out);
    if (applied != LOWBIT_OK) return applied;
    const char *variable = getenv("LOWBIT_VULKAN_PARAMS");
    if (variable && parse_params(variable, out) != 0)
        return vk_settings_refuse(backend,
                                  "vulkan: LOWBIT_VULKAN_PARAMS='%.100s' is malformed (expected wg,rows,cpu|gpu: wg a "
                                  "power of two, rows 1..64); the Vulkan matmul is refused",
                                  variable);
    if (out->params && out->workgroup_size > d->info.max_workgroup_size)
        return vk_settings_refuse(backend, "vulkan: LOWBIT_VULKAN_PARAMS='%.100s': wg %u exceeds %s's %u invocations",
                                  variable, out->workgroup_size, d->info.id, d->info.max_workgroup_size);
    const char *gemm = getenv("LOWBIT_VULKAN_GEMM");
    if (gemm && parse_gemm(gemm, out) != 0)
        return vk_settings_refuse(backend,
                                  "vulkan: LOWBIT_VULKAN_GEMM='%.100s' is malformed (expected off|gpu|cpu|bm,bn,bk,tm,"
                                  "tn[,min_n]: tm, tn multiples of 4 dividing bm, bn; bk a multiple of 32; tiles "
                                  "1..1024; min_n >= 1); the Vulkan matmul is refused",
                                  gemm);
    if (out->gemm == LOWBIT_VK_GEMM_TILE) {
        vk_kernel_params tile = {.bm = out->bm, .bn = out->bn, .bk = out->bk, .tm = out->tm, .tn = out->tn};
        char source[160];
        snprintf(source, sizeof source, "LOWBIT_VULKAN_GEMM='%.100s'", gemm);
        return vk_settings_tile_check(d, &tile, source);
    }
    return LOWBIT_OK;
}

int vk_settings_probe_subgroups(vk_device *d)
{
    const char *value = getenv("LOWBIT_VULKAN_SUBGROUPS");
    if (!value) return -1;
    if (strcmp(value, "0") == 0 || strcmp(value, "1") == 0) return value[0] - '0';
    snprintf(d->setting_error, sizeof d->setting_error,
             "vulkan: LOWBIT_VULKAN_SUBGROUPS='%.100s' is malformed (expected 0 or 1); %s refuses every matmul", value,
             d->info.id);
    vk_log(d->backend, LOWBIT_LOG_ERROR, "%s", d->setting_error);
    return -1;
}
