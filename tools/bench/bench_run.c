/* bench_run.c — lowbit-bench's measurement loop: bandwidth probe per device, then every format × shape ×
 * n timed with a warm-up and repeats (median and spread), kernel time separated from host overhead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
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

/* Times one (device, format, shape, n); returns 0 on success. */
static int measure(lowbit_context *context, size_t device, lowbit_weights *weights, const float *x, float *y, size_t n,
                   size_t repeat, bench_measurement *m)
{
    double *device_times = malloc(repeat * sizeof(double)), *wall_times = malloc(repeat * sizeof(double));
    if (!device_times || !wall_times) return -1;
    (void)device;
    int ok = lowbit_matmul(context, weights, x, y, n) == LOWBIT_OK; /* warm-up: kernels built, caches hot */
    int on_device = 1;
    lowbit_run_info run = {.struct_size = sizeof run};
    for (size_t r = 0; ok && r < repeat; ++r) {
        ok = lowbit_matmul(context, weights, x, y, n) == LOWBIT_OK && lowbit_last_run(context, &run) == LOWBIT_OK;
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
            if (m[j].format == m[i].format && strcmp(m[j].dot, "float") == 0)
                m[i].ratio_to_float = m[j].seconds / m[i].seconds;
        }
    }
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
    size_t capacity = device_count * o->format_count * o->shape_count * o->n_count * context_count;
    bench_measurement *results = calloc(capacity ? capacity : 1, sizeof *results);
    if (!infos || !bandwidth || !results) return 1;
    for (size_t d = 0; d < device_count; ++d) {
        infos[d].struct_size = sizeof infos[d];
        lowbit_device_get_info(context, d, &infos[d]);
        if (!device_selected(o, infos[d].id)) continue;
        fprintf(stderr, "lowbit-bench: probing %s memory bandwidth...\n", infos[d].id);
        if (lowbit_device_measure_bandwidth(context, d, 0, &bandwidth[d]) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-bench: %s: no bandwidth probe (%s)\n", infos[d].id, lowbit_last_error());
            bandwidth[d] = 0.0;
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
                /* one upload per context; each n then runs in every context in turn, so the paths see the same
                 * machine state */
                lowbit_weights *weights[3] = {NULL, NULL, NULL};
                int uploaded = 1;
                for (size_t c = 0; c < context_count && uploaded; ++c)
                    if (lowbit_weights_upload(contexts[c], d, format, shape.rows, shape.cols, packed, size,
                                              LOWBIT_UPLOAD_BORROW_HOST, &weights[c]) != LOWBIT_OK) {
                        fprintf(stderr, "lowbit-bench: %s %s: %s\n", infos[d].id, lowbit_format_name(format),
                                lowbit_last_error());
                        ++failures;
                        uploaded = 0;
                    }
                for (size_t k = 0; uploaded && k < o->n_count; ++k) {
                    for (size_t c = 0; c < context_count; ++c) {
                        size_t n = o->ns[k];
                        bench_measurement *m = &results[count];
                        memset(m, 0, sizeof *m);
                        snprintf(m->device_id, sizeof m->device_id, "%s", infos[d].id);
                        snprintf(m->device_name, sizeof m->device_name, "%s", infos[d].name);
                        snprintf(m->dot, sizeof m->dot, "%s", dots ? dots[c] : "");
                        m->device_bandwidth = bandwidth[d];
                        m->format = format, m->rows = shape.rows, m->cols = shape.cols, m->n = n;
                        fprintf(stderr, "lowbit-bench: %s %s %zux%zu n=%zu%s%s\n", infos[d].id,
                                lowbit_format_name(format), shape.rows, shape.cols, n, dots ? " dot=" : "",
                                dots ? dots[c] : "");
                        if (measure(contexts[c], d, weights[c], x, y, n, o->repeat, m) != 0) {
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
                for (size_t c = 0; c < context_count; ++c)
                    lowbit_weights_destroy(weights[c]);
            }
            free(packed);
        }
        free(values), free(x), free(y);
    }
    compute_ratios(results, count);
    printf("\nmeasured bandwidth (streaming-read probe):\n");
    for (size_t d = 0; d < device_count; ++d)
        if (device_selected(o, infos[d].id))
            printf("  %-10s %8.2f GB/s  %s\n", infos[d].id, bandwidth[d] / 1e9, infos[d].name);
    bench_print_table(results, count);
    if (o->json && bench_write_json(o->json, results, count) != 0) {
        fprintf(stderr, "lowbit-bench: cannot write %s\n", o->json);
        ++failures;
    }
    if (o->plot && bench_write_plot(o->plot, results, count) != 0) {
        fprintf(stderr, "lowbit-bench: cannot plot %s (is gnuplot installed?)\n", o->plot);
        ++failures;
    }
    free(infos), free(bandwidth), free(results);
    return failures ? 1 : 0;
}
