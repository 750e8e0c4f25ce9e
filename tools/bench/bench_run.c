/* bench_run.c — lowbit-bench's measurement loop: bandwidth probe per device, then every format × shape ×
 * n timed with a warm-up and repeats (median and spread), kernel time separated from host overhead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "bench.h"
#include "tools/common/llc.h"
#include "tools/common/tool_util.h"

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int device_selected(const bench_options *o, const char *id)
{
    if (!o->device_count) return 1;
    for (size_t i = 0; i < o->device_count; ++i)
        if (strcmp(o->devices[i], id) == 0) return 1;
    return 0;
}

size_t bench_weight_copies(uint64_t matrix_bytes, uint64_t cache_bytes, uint64_t budget_bytes, int *capped)
{
    *capped = 0;
    if (matrix_bytes == 0) return 1;
    uint64_t goal = cache_bytes > UINT64_MAX / BENCH_CACHE_MULTIPLE ? UINT64_MAX : cache_bytes * BENCH_CACHE_MULTIPLE;
    uint64_t wanted = goal / matrix_bytes + (goal % matrix_bytes != 0);
    uint64_t copies = wanted ? wanted : 1;
    if (copies > BENCH_MAX_COPIES) copies = BENCH_MAX_COPIES;
    if (budget_bytes > 0 && copies > budget_bytes / matrix_bytes)
        copies = budget_bytes / matrix_bytes ? budget_bytes / matrix_bytes : 1;
    *capped = copies < wanted;
    return (size_t)copies;
}

/* Host memory in bytes (0 when unknown). */
static uint64_t host_memory_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
}

/* What one device may hold of the rotation: half its memory (else half its largest allocation) shared by the
 * contexts, and half the host's memory for the host copies; 0 when neither is known. */
static uint64_t copies_budget(const lowbit_device_info *info, size_t context_count)
{
    uint64_t device = info->global_memory ? info->global_memory : info->max_allocation;
    uint64_t budget = device / 2 / (context_count ? context_count : 1), host = host_memory_bytes() / 2;
    if (host && (!budget || host < budget)) budget = host;
    return budget;
}

/* Times one (device, format, shape, n) over `copies` uploads of the same matrix: a warm-up call on every copy
 * (kernels built, pages and descriptors touched), then each timed repeat on the next copy in rotation, so no
 * call reads weights the one before it left in the cache. Returns 0 on success. */
static int measure(lowbit_context *context, lowbit_weights *const *weights, size_t copies, const float *x, float *y,
                   size_t n, size_t repeat, bench_measurement *m)
{
    double *device_times = malloc(repeat * sizeof(double)), *wall_times = malloc(repeat * sizeof(double));
    if (!device_times || !wall_times) {
        free(device_times);
        free(wall_times);
        return -1;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < copies; ++i) /* warm-up; ends on the last copy, so repeat 0 reads copy 0 */
        ok = lowbit_matmul(context, weights[i], x, y, n) == LOWBIT_OK;
    int on_device = 1;
    lowbit_run_info run = {.struct_size = sizeof run};
    for (size_t r = 0; ok && r < repeat; ++r) {
        ok = lowbit_matmul(context, weights[r % copies], x, y, n) == LOWBIT_OK &&
             lowbit_last_run(context, &run) == LOWBIT_OK;
        device_times[r] = run.device_seconds;
        wall_times[r] = run.wall_seconds;
        on_device &= run.device_seconds > 0.0;
    }
    if (ok) {
        qsort(device_times, repeat, sizeof(double), compare_doubles);
        qsort(wall_times, repeat, sizeof(double), compare_doubles);
        const double *times = on_device ? device_times : wall_times;
        m->seconds = times[repeat / 2];
        m->spread = m->seconds > 0.0 ? (times[repeat - 1] - times[0]) / m->seconds : 0.0;
        m->host_seconds = on_device ? fmax(0.0, wall_times[repeat / 2] - m->seconds) : 0.0;
        m->timed_on_device = on_device;
        snprintf(m->kernel, sizeof m->kernel, "%s", run.kernel);
        m->fell_back = run.fell_back;
    }
    free(device_times);
    free(wall_times);
    return ok ? 0 : -1;
}

/* The probe's buffer for a device: >= BENCH_CACHE_MULTIPLE x its cache and no less than the library's default
 * of 256 MiB, within the device's allocation, binding range and half its memory. */
static uint64_t probe_size(const lowbit_device_info *info, uint64_t cache)
{
    uint64_t bytes = cache > UINT64_MAX / BENCH_CACHE_MULTIPLE ? UINT64_MAX : cache * BENCH_CACHE_MULTIPLE;
    if (bytes < (uint64_t)256 << 20) bytes = (uint64_t)256 << 20;
    if (info->max_allocation && bytes > info->max_allocation) bytes = info->max_allocation;
    if (info->max_buffer_range && bytes > info->max_buffer_range) bytes = info->max_buffer_range;
    if (info->global_memory && bytes > info->global_memory / 2) bytes = info->global_memory / 2;
    if (bytes > SIZE_MAX) bytes = SIZE_MAX;
    return bytes & ~(uint64_t)4095;
}

static void compute_ratios(bench_measurement *m, size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        for (size_t j = 0; j < count; ++j) {
            if (strcmp(m[i].device_id, m[j].device_id) != 0 || m[i].rows != m[j].rows || m[i].cols != m[j].cols ||
                m[i].n != m[j].n || m[i].seconds <= 0.0)
                continue;
            if (strcmp(m[i].dot, m[j].dot) == 0) {
                if (m[j].format == LOWBIT_FORMAT_F32) m[i].ratio_to_f32 = m[j].seconds / m[i].seconds;
                if (m[j].format == LOWBIT_FORMAT_F16) m[i].ratio_to_f16 = m[j].seconds / m[i].seconds;
            }
            if (m[j].format == m[i].format && (strcmp(m[j].dot, "float") == 0 || strcmp(m[j].dot, "default") == 0))
                m[i].ratio_to_float = m[j].seconds / m[i].seconds;
        }
    }
}

/* Uploads *copies copies of packed (size bytes) to device d in every context: weights[c * copies + i] is copy i in
 * context c. Each copy has a host copy of its own (hosts[0] is packed itself), borrowed by every context, so the
 * CPU backend, and any CPU fallback, reads separate memory too. When memory runs out after the first copy, the
 * copies made are kept and *capped is set. Returns 0, or -1 with the error printed and nothing left allocated. */
static int upload_copies(lowbit_context *const *contexts, size_t context_count, size_t d,
                         const lowbit_device_info *info, lowbit_format format, bench_shape shape, const void *packed,
                         size_t size, size_t *copies, int *capped, const void ***hosts_out,
                         lowbit_weights ***weights_out)
{
    size_t wanted = *copies, made = 0;
    const void **hosts = calloc(wanted, sizeof *hosts);
    lowbit_weights **weights = calloc(wanted * context_count, sizeof *weights);
    if (!hosts || !weights) {
        fprintf(stderr, "lowbit-bench: out of memory for %zu copies of %s %zux%zu\n", wanted,
                lowbit_format_name(format), shape.rows, shape.cols);
        free(hosts), free(weights);
        return -1;
    }
    for (; made < wanted; ++made) {
        void *copy = made ? malloc(size) : NULL;
        if (made && !copy) break;
        if (copy) memcpy(copy, packed, size);
        hosts[made] = made ? copy : packed;
        int uploaded = 1;
        for (size_t c = 0; c < context_count && uploaded; ++c)
            uploaded = lowbit_weights_upload(contexts[c], d, format, shape.rows, shape.cols, hosts[made], size,
                                             LOWBIT_UPLOAD_BORROW_HOST, &weights[c * wanted + made]) == LOWBIT_OK;
        if (uploaded) continue;
        fprintf(stderr, "lowbit-bench: %s %s copy %zu: %s\n", info->id, lowbit_format_name(format), made + 1,
                lowbit_last_error());
        for (size_t c = 0; c < context_count; ++c) {
            lowbit_weights_destroy(weights[c * wanted + made]);
            weights[c * wanted + made] = NULL;
        }
        free(copy);
        break;
    }
    if (made == 0) {
        free(hosts), free(weights);
        return -1;
    }
    if (made < wanted) {
        *capped = 1;
        for (size_t c = 1; c < context_count; ++c) /* pack each context's copies together: c * made + i */
            memmove(&weights[c * made], &weights[c * wanted], made * sizeof *weights);
        *copies = made;
    }
    *hosts_out = hosts;
    *weights_out = weights;
    return 0;
}

static void release_copies(size_t context_count, size_t copies, const void *packed, const void **hosts,
                           lowbit_weights **weights)
{
    for (size_t i = 0; i < context_count * copies; ++i)
        lowbit_weights_destroy(weights[i]);
    for (size_t i = 0; i < copies; ++i)
        if (hosts[i] != packed) free((void *)hosts[i]);
    free(hosts), free(weights);
}

int bench_model(lowbit_context *context, const bench_options *o);

int bench_run(lowbit_context *const *contexts, const char *const *dots, size_t context_count, const bench_options *o)
{
    lowbit_context *context = contexts[0]; /* devices, probes and --model */
    if (o->model) return bench_model(context, o);
    size_t device_count = 0;
    if (lowbit_device_count(context, &device_count) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-bench: %s\n", lowbit_last_error());
        return 1;
    }
    for (size_t i = 0; i < o->device_count; ++i) {
        size_t index;
        if (lowbit_device_find(context, o->devices[i], &index) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-bench: %s\n", lowbit_last_error());
            return 2;
        }
    }
    lowbit_device_info *infos = calloc(device_count, sizeof *infos);
    double *bandwidth = calloc(device_count, sizeof *bandwidth);
    uint64_t *cache = calloc(device_count, sizeof *cache), *probe_bytes = calloc(device_count, sizeof *probe_bytes);
    const char **cache_source = calloc(device_count, sizeof *cache_source);
    size_t capacity = device_count * o->format_count * o->shape_count * o->n_count * context_count;
    bench_measurement *results = calloc(capacity ? capacity : 1, sizeof *results);
    if (!infos || !bandwidth || !cache || !probe_bytes || !cache_source || !results) {
        fprintf(stderr, "lowbit-bench: out of memory\n");
        free(infos), free(bandwidth), free(cache), free(probe_bytes), free(cache_source), free(results);
        return 1;
    }
    for (size_t d = 0; d < device_count; ++d) {
        infos[d].struct_size = sizeof infos[d];
        lowbit_device_get_info(context, d, &infos[d]);
        if (!device_selected(o, infos[d].id)) continue;
        cache[d] = tool_device_cache_bytes(&infos[d], &cache_source[d]);
        probe_bytes[d] = probe_size(&infos[d], cache[d]);
        char human[32];
        fprintf(stderr, "lowbit-bench: probing %s memory bandwidth (%s buffer)...\n", infos[d].id,
                tool_human_bytes(probe_bytes[d], human, sizeof human));
        if (lowbit_device_measure_bandwidth(context, d, (size_t)probe_bytes[d], &bandwidth[d]) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-bench: %s: no bandwidth probe (%s)\n", infos[d].id, lowbit_last_error());
            bandwidth[d] = 0.0;
            probe_bytes[d] = 0;
        }
    }
    size_t count = 0;
    int failures = 0;
    for (size_t s = 0; s < o->shape_count; ++s) {
        const bench_shape shape = o->shapes[s];
        size_t max_n = 0;
        for (size_t k = 0; k < o->n_count; ++k)
            max_n = o->ns[k] > max_n ? o->ns[k] : max_n;
        float *values = malloc(shape.rows * shape.cols * sizeof(float));
        float *x = malloc(max_n * shape.cols * sizeof(float));
        float *y = malloc(max_n * shape.rows * sizeof(float));
        if (!values || !x || !y) return 1;
        for (size_t i = 0; i < shape.rows * shape.cols; ++i)
            values[i] = 0.02f * sinf((float)i * 0.731f);
        for (size_t i = 0; i < max_n * shape.cols; ++i)
            x[i] = cosf((float)i * 0.013f);
        for (size_t f = 0; f < o->format_count; ++f) {
            lowbit_format format = o->formats[f];
            size_t row_bytes = lowbit_format_row_size(format, shape.cols);
            if (!row_bytes) {
                fprintf(stderr, "lowbit-bench: %s needs cols to be a multiple of its block; skipping %zux%zu\n",
                        lowbit_format_name(format), shape.rows, shape.cols);
                continue;
            }
            size_t size = shape.rows * row_bytes;
            void *packed = malloc(size);
            fprintf(stderr, "lowbit-bench: quantizing %zux%zu to %s...\n", shape.rows, shape.cols,
                    lowbit_format_name(format));
            if (!packed ||
                lowbit_quantize(format, values, shape.rows, shape.cols, packed, size, NULL, 0) != LOWBIT_OK) {
                fprintf(stderr, "lowbit-bench: %s\n", lowbit_last_error());
                free(packed);
                ++failures;
                continue;
            }
            for (size_t d = 0; d < device_count; ++d) {
                if (!device_selected(o, infos[d].id)) continue;
                int capped = 0;
                size_t copies = bench_weight_copies(size, cache[d], copies_budget(&infos[d], context_count), &capped);
                lowbit_weights **weights = NULL;
                const void **hosts = NULL;
                if (upload_copies(contexts, context_count, d, &infos[d], format, shape, packed, size, &copies, &capped,
                                  &hosts, &weights) != 0) {
                    ++failures;
                    continue;
                }
                char human[32], cache_text[32];
                uint64_t rotation = (uint64_t)copies * size;
                if (capped)
                    fprintf(stderr,
                            "lowbit-bench: %s %s %zux%zu: capped at %zu copies (%s), less than %d x the %s cache: "
                            "its GB/s may include cache hits\n",
                            infos[d].id, lowbit_format_name(format), shape.rows, shape.cols, copies,
                            tool_human_bytes(rotation, human, sizeof human), BENCH_CACHE_MULTIPLE,
                            tool_human_bytes(cache[d], cache_text, sizeof cache_text));
                /* each n then runs in every context in turn, so the paths see the same machine state */
                for (size_t k = 0; k < o->n_count; ++k) {
                    for (size_t c = 0; c < context_count; ++c) {
                        size_t n = o->ns[k];
                        bench_measurement *m = &results[count];
                        memset(m, 0, sizeof *m);
                        snprintf(m->device_id, sizeof m->device_id, "%s", infos[d].id);
                        snprintf(m->device_name, sizeof m->device_name, "%s", infos[d].name);
                        snprintf(m->dot, sizeof m->dot, "%s", dots ? dots[c] : "");
                        m->device_bandwidth = bandwidth[d];
                        m->format = format, m->rows = shape.rows, m->cols = shape.cols, m->n = n;
                        m->cache_bytes = cache[d];
                        snprintf(m->cache_source, sizeof m->cache_source, "%s", cache_source[d]);
                        m->copies = copies, m->rotation_bytes = rotation, m->copies_capped = capped;
                        m->probe_bytes = probe_bytes[d];
                        fprintf(stderr, "lowbit-bench: %s %s %zux%zu n=%zu%s%s (%zu copies)\n", infos[d].id,
                                lowbit_format_name(format), shape.rows, shape.cols, n, dots ? " dot=" : "",
                                dots ? dots[c] : "", copies);
                        if (measure(contexts[c], weights + c * copies, copies, x, y, n, o->repeat, m) != 0) {
                            fprintf(stderr, "lowbit-bench: %s %s n=%zu failed: %s\n", infos[d].id,
                                    lowbit_format_name(format), n, lowbit_last_error());
                            ++failures;
                            continue;
                        }
                        double bytes = (double)size + (double)(n * shape.cols * 4) + (double)(n * shape.rows * 4);
                        m->gbps = bytes / m->seconds / 1e9;
                        m->percent_of_bandwidth = bandwidth[d] > 0.0 ? 100.0 * bytes / m->seconds / bandwidth[d] : 0.0;
                        m->gflops = 2.0 * (double)shape.rows * (double)shape.cols * (double)n / m->seconds / 1e9;
                        ++count;
                    }
                }
                release_copies(context_count, copies, packed, hosts, weights);
            }
            free(packed);
        }
        free(values), free(x), free(y);
    }
    compute_ratios(results, count);
    printf("\nmeasured bandwidth (streaming-read probe of a buffer >= %d x the device's cache, so it reads DRAM):\n",
           BENCH_CACHE_MULTIPLE);
    for (size_t d = 0; d < device_count; ++d)
        if (device_selected(o, infos[d].id)) {
            char probe_text[32] = "-", cache_text[32];
            if (probe_bytes[d]) tool_human_bytes(probe_bytes[d], probe_text, sizeof probe_text);
            int short_probe = probe_bytes[d] && probe_bytes[d] / BENCH_CACHE_MULTIPLE < cache[d];
            printf("  %-10s %8.2f GB/s  probe %s%s, cache %s (%s)  %s\n", infos[d].id, bandwidth[d] / 1e9, probe_text,
                   short_probe ? " (allocation limit: < 4 x cache)" : "",
                   tool_human_bytes(cache[d], cache_text, sizeof cache_text), cache_source[d], infos[d].name);
        }
    bench_print_table(results, count);
    if (o->json && bench_write_json(o->json, results, count) != 0) {
        fprintf(stderr, "lowbit-bench: cannot write %s\n", o->json);
        ++failures;
    }
    if (o->plot && bench_write_plot(o->plot, results, count) != 0) {
        fprintf(stderr, "lowbit-bench: cannot plot %s (is gnuplot installed?)\n", o->plot);
        ++failures;
    }
    free(infos), free(bandwidth), free(cache), free(probe_bytes), free(cache_source), free(results);
    return failures ? 1 : 0;
}
