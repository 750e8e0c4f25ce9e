/* bench_model.c — lowbit-bench --model: one decode step of a real model per device, i.e. every 2-D
 * weight matrix of the GGUF multiplied once by a vector (n = 1). Reports time per token, the tokens/s
 * upper bound that implies, and which tensors fell back to the CPU (and why). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "lowbit/lowbit_io.h"

typedef struct model_matrix {
    const char *name;
    lowbit_format format;
    size_t rows, cols, size;
    const void *data;
    lowbit_weights *weights;
    double seconds;
    int fell_back;
    char reason[256];
} model_matrix;

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every 2-D tensor whose format the CPU reference can read: those a decode step multiplies. */
static model_matrix *collect_matrices(lowbit_gguf *gguf, size_t *count, size_t *skipped, uint64_t *bytes)
{
    size_t tensors = 0;
    *count = *skipped = 0;
    *bytes = 0;
    if (lowbit_gguf_tensor_count(gguf, &tensors) != LOWBIT_OK) return NULL;
    model_matrix *matrices = calloc(tensors ? tensors : 1, sizeof *matrices);
    if (!matrices) return NULL;
    for (size_t i = 0; i < tensors; ++i) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_gguf_tensor_get(gguf, i, &info) != LOWBIT_OK) continue;
        const lowbit_format_traits *traits = lowbit_format_get(info.type);
        int is_matrix = info.n_dims == 2 || (info.n_dims > 2 && info.ne[2] == 1 && (info.n_dims < 4 || info.ne[3] == 1));
        if (!is_matrix || !traits || !traits->can_dequantize || traits->is_activation_only) {
            if (is_matrix) ++*skipped;
            continue;
        }
        model_matrix *m = &matrices[(*count)++];
        m->name = info.name;
        m->format = (lowbit_format)info.type;
        m->cols = (size_t)info.ne[0];
        m->rows = (size_t)info.ne[1];
        m->size = (size_t)info.size;
        m->data = info.data;
        *bytes += info.size;
    }
    return matrices;
}

int bench_model(lowbit_context *context, const bench_options *o);
int bench_model(lowbit_context *context, const bench_options *o)
{
    lowbit_gguf *gguf = NULL;
    if (lowbit_gguf_open(o->model, &gguf) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-bench: %s\n", lowbit_last_error());
        return 1;
    }
    size_t count = 0, skipped = 0, device_count = 0, max_cols = 0, max_rows = 0;
    uint64_t bytes = 0;
    model_matrix *matrices = collect_matrices(gguf, &count, &skipped, &bytes);
    if (!matrices || count == 0 || lowbit_device_count(context, &device_count) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-bench: %s has no weight matrices lowbit can run\n", o->model);
        free(matrices);
        lowbit_gguf_close(gguf);
        return 1;
    }
    for (size_t i = 0; i < count; ++i) {
        max_cols = matrices[i].cols > max_cols ? matrices[i].cols : max_cols;
        max_rows = matrices[i].rows > max_rows ? matrices[i].rows : max_rows;
    }
    float *x = malloc(max_cols * sizeof(float)), *y = malloc(max_rows * sizeof(float));
    double *steps = malloc(o->repeat * sizeof(double));
    if (!x || !y || !steps) return 1;
    for (size_t i = 0; i < max_cols; ++i) x[i] = 0.01f * (float)((int)(i % 17) - 8);
    printf("model %s: %zu weight matrices, %.1f MiB packed%s\n", o->model, count, (double)bytes / 1048576.0,
           skipped ? " (some matrices have formats lowbit cannot read yet: skipped)" : "");
    printf("\n%-10s %12s %12s %14s %10s  %s\n", "device", "ms/token", "host ms", "tokens/s (max)", "GB/s",
           "fell back");
    int failures = 0;
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_device_info info = {.struct_size = sizeof info};
        lowbit_device_get_info(context, d, &info);
        int selected = !o->device_count;
        for (size_t k = 0; k < o->device_count; ++k) selected |= strcmp(o->devices[k], info.id) == 0;
        if (!selected) continue;
        fprintf(stderr, "lowbit-bench: uploading %zu matrices to %s...\n", count, info.id);
        int ok = 1;
        for (size_t i = 0; i < count && ok; ++i) {
            model_matrix *m = &matrices[i];
            ok = lowbit_weights_upload(context, d, m->format, m->rows, m->cols, m->data, m->size,
                                       LOWBIT_UPLOAD_BORROW_HOST, &m->weights) == LOWBIT_OK;
            if (!ok) fprintf(stderr, "lowbit-bench: %s %s: %s\n", info.id, m->name, lowbit_last_error());
        }
        double device_step = 0.0, wall_step = 0.0;
        size_t fallbacks = 0;
        for (size_t r = 0; ok && r <= o->repeat; ++r) { /* r = 0 is the warm-up */
            double step_device = 0.0, step_wall = 0.0;
            for (size_t i = 0; i < count && ok; ++i) {
                model_matrix *m = &matrices[i];
                lowbit_run_info run = {.struct_size = sizeof run};
                ok = lowbit_matmul(context, m->weights, x, y, 1) == LOWBIT_OK && lowbit_last_run(context, &run) == LOWBIT_OK;
                step_device += run.device_seconds > 0.0 ? run.device_seconds : run.wall_seconds;
                step_wall += run.wall_seconds;
                if (r == 0) {
                    m->fell_back = run.fell_back;
                    snprintf(m->reason, sizeof m->reason, "%s", run.fallback_reason);
                    fallbacks += (size_t)run.fell_back;
                }
            }
            if (r > 0) steps[r - 1] = step_device, wall_step += step_wall / (double)o->repeat;
        }
        if (ok) {
            qsort(steps, o->repeat, sizeof(double), compare_doubles);
            device_step = steps[o->repeat / 2];
            printf("%-10s %12.3f %12.3f %14.1f %10.2f  %zu of %zu\n", info.id, device_step * 1e3,
                   fmax(0.0, wall_step - device_step) * 1e3, 1.0 / wall_step, (double)bytes / device_step / 1e9,
                   fallbacks, count);
            for (size_t i = 0, shown = 0; i < count && shown < 8; ++i)
                if (matrices[i].fell_back) {
                    printf("%10s %s (%s): %s\n", "", matrices[i].name, lowbit_format_name(matrices[i].format),
                           matrices[i].reason);
                    ++shown;
                }
        } else {
            printf("%-10s failed: %s\n", info.id, lowbit_last_error());
            ++failures;
        }
        for (size_t i = 0; i < count; ++i) {
            lowbit_weights_destroy(matrices[i].weights);
            matrices[i].weights = NULL;
        }
    }
    printf("\nms/token: median over %zu decode steps of summed kernel time; host ms: the rest of the wall time;\n"
           "tokens/s (max): 1 / wall time per step, an upper bound (attention and other ops not counted).\n",
           o->repeat);
    free(x), free(y), free(steps), free(matrices);
    lowbit_gguf_close(gguf);
    return failures ? 1 : 0;
}
