/* tune_space.c — the candidates lowbit-tune tries: per backend and kernel family, the axes (a params.h key and the
 * values worth trying), their product, and the constraints a candidate must meet on the device (workgroup size,
 * local memory, whole work-item blocks) so that no context is spent on one the backend would refuse. The keys,
 * their ranges and syntax come from params.h's table; --space narrows or replaces an axis. */
#include <stdio.h>
#include <string.h>

#include "tune.h"

typedef struct axis {
    lowbit_param_id key;
    uint32_t values[TUNE_MAX_VALUES];
    size_t count;
} axis;

typedef struct subspace {
    axis axes[TUNE_MAX_AXES];
    size_t count;
} subspace;

/* WORD values are index + 1, as params.h stores them. */
enum { ROW = 1, COOP = 2, OFF = 1, ON = 2 };

static const subspace opencl_gemv[] = {
    {{{LOWBIT_KEY_LAYOUT, {ROW}, 1},
      {LOWBIT_KEY_WG, {4, 8, 16, 32, 64, 128}, 6},
      {LOWBIT_KEY_ROWS, {4, 8, 16, 32, 64, 128, 256, 512}, 8}},
     3},
    {{{LOWBIT_KEY_LAYOUT, {COOP}, 1}, {LOWBIT_KEY_WG, {16, 32, 64, 128, 256}, 5}, {LOWBIT_KEY_ROWS, {1, 2, 4}, 3}}, 3},
};
static const subspace opencl_gemm[] = {
    {{{LOWBIT_KEY_GEMM, {ON}, 1},
      {LOWBIT_KEY_STREAM, {ON}, 1},
      {LOWBIT_KEY_TILE_ROWS, {8, 16, 32, 64}, 4},
      {LOWBIT_KEY_TILE_N, {16, 32, 64}, 3},
      {LOWBIT_KEY_ITEM_ROWS, {1, 2, 4}, 3},
      {LOWBIT_KEY_ITEM_N, {2, 4, 8}, 3}},
     6},
    {{{LOWBIT_KEY_GEMM, {ON}, 1},
      {LOWBIT_KEY_STREAM, {OFF}, 1},
      {LOWBIT_KEY_TILE_ROWS, {32, 64}, 2},
      {LOWBIT_KEY_TILE_N, {32, 64}, 2},
      {LOWBIT_KEY_ITEM_ROWS, {2, 4, 8}, 3},
      {LOWBIT_KEY_ITEM_N, {2, 4, 8}, 3},
      {LOWBIT_KEY_TILE_K, {32, 64, 128}, 3}},
     7},
};
static const subspace vulkan_gemv[] = {
    {{{LOWBIT_KEY_LAYOUT, {ROW}, 1}, {LOWBIT_KEY_WG, {4, 8, 16, 32, 64}, 5}, {LOWBIT_KEY_ROWS, {4, 8, 16, 32}, 4}}, 3},
    {{{LOWBIT_KEY_LAYOUT, {COOP}, 1}, {LOWBIT_KEY_WG, {32, 64, 128, 256}, 4}, {LOWBIT_KEY_ROWS, {1, 2, 4, 8}, 4}}, 3},
};
static const subspace vulkan_gemm[] = {
    {{{LOWBIT_KEY_GEMM, {ON}, 1},
      {LOWBIT_KEY_TILE_ROWS, {32, 64, 128}, 3},
      {LOWBIT_KEY_TILE_N, {16, 32, 64}, 3},
      {LOWBIT_KEY_TILE_K, {32, 64}, 2},
      {LOWBIT_KEY_ITEM_ROWS, {4, 8}, 2},
      {LOWBIT_KEY_ITEM_N, {4, 8}, 2}},
     6},
};

const char *tune_scope(const lowbit_device_info *info)
{
    return info->api == LOWBIT_API_OPENCL ? "opencl" : info->api == LOWBIT_API_VULKAN ? "vulkan" : "cpu";
}

static unsigned scope_bit(const lowbit_device_info *info)
{
    return info->api == LOWBIT_API_OPENCL   ? LOWBIT_PARAM_OPENCL
           : info->api == LOWBIT_API_VULKAN ? LOWBIT_PARAM_VULKAN
                                            : LOWBIT_PARAM_CPU;
}

/* The CPU backend's one axis: threads, powers of two up to the cores and the core count itself. */
static subspace cpu_space(const lowbit_device_info *info)
{
    subspace space = {{{LOWBIT_KEY_THREADS, {0}, 0}}, 1};
    uint32_t cores = info->compute_units ? info->compute_units : 1;
    if (cores > 64) cores = 64;
    axis *threads = &space.axes[0];
    for (uint32_t t = 1; t < cores && threads->count < TUNE_MAX_VALUES - 1; t *= 2)
        threads->values[threads->count++] = t;
    threads->values[threads->count++] = cores;
    return space;
}

static void append_value(char *text, size_t size, lowbit_param_id key, uint32_t value)
{
    const lowbit_param_key *k = &lowbit_param_keys[key];
    size_t used = strlen(text);
    if (k->kind == LOWBIT_PARAM_WORD)
        snprintf(text + used, size - used, "%s%s=%s", used ? "," : "", k->name, k->words[value - 1]);
    else
        snprintf(text + used, size - used, "%s%s=%u", used ? "," : "", k->name, value);
}

/* Whether the device can run the candidate (the backends' own checks, so none of their refusals costs a context). */
static int fits(const lowbit_device_info *info, size_t n, const lowbit_params *p)
{
    const uint32_t *v = p->values;
    uint32_t wg = v[LOWBIT_KEY_WG], rows = v[LOWBIT_KEY_ROWS];
    uint64_t local = info->local_memory;
    if (wg && wg > info->max_workgroup_size) return 0;
    if (info->api == LOWBIT_API_OPENCL && !v[LOWBIT_KEY_GEMM]) {
        uint32_t n_max = 1;
        while (n_max < n && n_max < 8)
            n_max *= 2;
        if (v[LOWBIT_KEY_LAYOUT] == ROW && (rows % wg != 0 || rows / wg > 4)) return 0;
        if (v[LOWBIT_KEY_LAYOUT] == COOP && local && (uint64_t)wg * rows * n_max * 4 > local) return 0;
    }
    if (v[LOWBIT_KEY_GEMM]) {
        uint32_t tr = v[LOWBIT_KEY_TILE_ROWS], tn = v[LOWBIT_KEY_TILE_N], ir = v[LOWBIT_KEY_ITEM_ROWS],
                 in = v[LOWBIT_KEY_ITEM_N], tk = v[LOWBIT_KEY_TILE_K] ? v[LOWBIT_KEY_TILE_K] : 32;
        if (!tr || !tn || !ir || !in || tr % ir || tn % in) return 0;
        int stream = v[LOWBIT_KEY_STREAM] == ON;
        uint64_t items = (uint64_t)(tr / ir) * (stream ? 1 : tn / in);
        if (items > info->max_workgroup_size) return 0;
        if (!stream && local && (uint64_t)tk * (tr + tn) * 4 > local) return 0;
        if (info->api == LOWBIT_API_VULKAN && (ir % 4 || in % 4)) return 0;
    }
    return 1;
}

/* --space over a subspace: an axis's values replaced (a key the subspace lacks is added); a WORD key the subspace
 * fixes (layout=row in the coop subspace) filters instead: 0 when the subspace is not wanted at all. */
static int apply_overrides(subspace *space, const tune_options *options, unsigned scope)
{
    for (size_t o = 0; o < options->space_count; ++o) {
        const tune_axis_override *override = &options->space[o];
        if (!(lowbit_param_keys[override->key].backends & scope)) continue;
        axis *target = NULL;
        for (size_t a = 0; a < space->count; ++a)
            if (space->axes[a].key == override->key) target = &space->axes[a];
        if (target && target->count == 1 && lowbit_param_keys[override->key].kind == LOWBIT_PARAM_WORD) {
            int wanted = 0;
            for (size_t v = 0; v < override->count; ++v)
                wanted |= override->values[v] == target->values[0];
            if (!wanted) return 0;
            continue;
        }
        if (!target && space->count < TUNE_MAX_AXES) target = &space->axes[space->count++];
        if (!target) continue;
        target->key = override->key;
        target->count = override->count;
        memcpy(target->values, override->values, override->count * sizeof override->values[0]);
    }
    return 1;
}

static size_t enumerate(const subspace *space, const lowbit_device_info *info, size_t n, tune_candidate *out,
                        size_t count, size_t capacity)
{
    size_t index[TUNE_MAX_AXES] = {0};
    for (size_t a = 0; a < space->count; ++a)
        if (space->axes[a].count == 0) return count;
    for (;;) {
        tune_candidate candidate = {""};
        for (size_t a = 0; a < space->count; ++a)
            append_value(candidate.params, sizeof candidate.params, space->axes[a].key,
                         space->axes[a].values[index[a]]);
        lowbit_params parsed;
        char why[160];
        int duplicate = 0;
        for (size_t c = 0; c < count && !duplicate; ++c)
            duplicate = strcmp(out[c].params, candidate.params) == 0;
        if (!duplicate && count < capacity && lowbit_params_parse(candidate.params, &parsed, why, sizeof why) == 0 &&
            fits(info, n, &parsed))
            out[count++] = candidate;
        size_t a = 0;
        while (a < space->count && ++index[a] == space->axes[a].count)
            index[a++] = 0;
        if (a == space->count) return count;
    }
}

size_t tune_space_build(const lowbit_device_info *info, size_t n, const tune_options *options,
                        tune_candidate *candidates, size_t capacity)
{
    const subspace *spaces = NULL;
    size_t space_count = 0;
    subspace cpu = cpu_space(info);
    int gemm = n > 8;
    if (info->api == LOWBIT_API_OPENCL) {
        spaces = gemm ? opencl_gemm : opencl_gemv;
        space_count = gemm ? sizeof opencl_gemm / sizeof opencl_gemm[0] : sizeof opencl_gemv / sizeof opencl_gemv[0];
    } else if (info->api == LOWBIT_API_VULKAN) {
        spaces = gemm ? vulkan_gemm : vulkan_gemv;
        space_count = gemm ? sizeof vulkan_gemm / sizeof vulkan_gemm[0] : sizeof vulkan_gemv / sizeof vulkan_gemv[0];
    } else {
        spaces = &cpu;
        space_count = 1;
    }
    size_t count = 0;
    for (size_t s = 0; s < space_count; ++s) {
        subspace space = spaces[s];
        if (apply_overrides(&space, options, scope_bit(info)))
            count = enumerate(&space, info, n, candidates, count, capacity);
    }
    return count;
}

size_t tune_candidate_distance(const tune_candidate *a, const tune_candidate *b)
{
    lowbit_params pa, pb;
    char why[160];
    if (lowbit_params_parse(a->params, &pa, why, sizeof why) != 0 ||
        lowbit_params_parse(b->params, &pb, why, sizeof why) != 0)
        return LOWBIT_KEY_COUNT;
    size_t distance = 0;
    for (size_t k = 0; k < LOWBIT_KEY_COUNT; ++k)
        distance += pa.values[k] != pb.values[k];
    return distance;
}
