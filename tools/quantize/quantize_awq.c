/* quantize_awq.c — the AWQ scale search: candidate scales from the Hessian diagonal, each judged by the
 * layer-output error of quantizing a sample of the group's rows with them. */
#include "tools/quantize/quantize_awq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "tools/common/tool_util.h"

#define AWQ_SAMPLE_ROWS 64 /* rows of each matrix the search quantizes */

static void scales_for(const float *hessian, size_t cols, double alpha, float *s)
{
    double lo = INFINITY, hi = 0.0;
    for (size_t j = 0; j < cols; ++j) {
        const double rms = sqrt(fmax((double)hessian[j * cols + j], 1e-20));
        const double v = pow(rms, alpha);
        s[j] = (float)v;
        lo = fmin(lo, v), hi = fmax(hi, v);
    }
    const double norm = 1.0 / sqrt(lo * hi); /* so that the largest and smallest are reciprocal */
    for (size_t j = 0; j < cols; ++j)
        s[j] = (float)((double)s[j] * norm);
}

typedef struct awq_task {
    const quantize_awq_matrix *matrices;
    size_t count, cols;
    const float *hessian, *s;
    size_t first, step; /* sample rows of this worker: first, first + step, … over the concatenated samples */
    double *errors;     /* per sample row, summed in order afterwards (so the total does not depend on threads) */
    int status;
} awq_task;

/* δᵀ·H·δ for one row */
static double quadratic(const float *h, const double *d, size_t cols)
{
    double total = 0.0;
    for (size_t i = 0; i < cols; ++i) {
        if (d[i] == 0.0) continue;
        const float *row = h + i * cols;
        double s = 0.0;
        for (size_t j = 0; j < cols; ++j)
            s += (double)row[j] * d[j];
        total += d[i] * s;
    }
    return total;
}

static void *awq_worker(void *arg)
{
    awq_task *t = arg;
    const size_t cols = t->cols;
    float *scaled = malloc(cols * sizeof *scaled), *back = malloc(cols * sizeof *back);
    float *imp = malloc(cols * sizeof *imp);
    double *d = malloc(cols * sizeof *d);
    unsigned char *packed = malloc(lowbit_format_row_size(LOWBIT_FORMAT_F32, cols) + 64);
    t->status = scaled && back && imp && d && packed ? LOWBIT_OK : LOWBIT_ERROR_OUT_OF_MEMORY;
    for (size_t j = 0; j < cols && t->status == LOWBIT_OK; ++j)
        imp[j] = t->hessian[j * cols + j] / (t->s[j] * t->s[j]);
    size_t index = 0;
    for (size_t m = 0; m < t->count && t->status == LOWBIT_OK; ++m) {
        const quantize_awq_matrix *x = &t->matrices[m];
        const size_t samples = x->rows < AWQ_SAMPLE_ROWS ? x->rows : AWQ_SAMPLE_ROWS;
        const size_t row_bytes = lowbit_format_row_size(x->format, cols);
        for (size_t k = 0; k < samples && t->status == LOWBIT_OK; ++k, ++index) {
            if (index % t->step != t->first) continue;
            const float *w = x->w + (k * x->rows / samples) * cols;
            for (size_t j = 0; j < cols; ++j)
                scaled[j] = w[j] * t->s[j];
            t->status = lowbit_quantize(x->format, scaled, 1, cols, packed, row_bytes, imp, 1);
            if (t->status == LOWBIT_OK) t->status = lowbit_dequantize(x->format, packed, row_bytes, 1, cols, back);
            for (size_t j = 0; j < cols; ++j)
                d[j] = (double)w[j] - (double)back[j] / (double)t->s[j];
            t->errors[index] = quadratic(t->hessian, d, cols);
        }
    }
    free(scaled), free(back), free(imp), free(d), free(packed);
    return NULL;
}

/* The sampled layer-output error with scales s, over n_threads workers (fixed split, so deterministic). */
static int group_error(const quantize_awq_matrix *matrices, size_t count, size_t cols, const float *hessian,
                       const float *s, int n_threads, double *error)
{
    awq_task tasks[TOOL_MAX_THREADS];
    size_t samples = 0;
    for (size_t m = 0; m < count; ++m)
        samples += matrices[m].rows < AWQ_SAMPLE_ROWS ? matrices[m].rows : AWQ_SAMPLE_ROWS;
    double *errors = calloc(samples ? samples : 1, sizeof *errors);
    if (!errors) return LOWBIT_ERROR_OUT_OF_MEMORY;
    for (int i = 0; i < n_threads; ++i)
        tasks[i] = (awq_task){matrices, count, cols, hessian, s, (size_t)i, (size_t)n_threads, errors, LOWBIT_OK};
    tool_parallel(n_threads, awq_worker, tasks, sizeof tasks[0]);
    int status = LOWBIT_OK;
    for (int i = 0; i < n_threads; ++i)
        if (tasks[i].status != LOWBIT_OK) status = tasks[i].status;
    *error = 0.0;
    for (size_t k = 0; k < samples; ++k)
        *error += errors[k];
    free(errors);
    return status;
}

int quantize_smooth_scales(const quantize_awq_matrix *matrices, size_t count, size_t cols, const float *absmax,
                           double alpha, float *scales, char *error, size_t error_size)
{
    if (!matrices || count == 0 || cols == 0 || !absmax || !scales || !(alpha >= 0.0 && alpha <= 1.0)) {
        snprintf(error, error_size, "SmoothQuant: empty group, no activation maxima or alpha outside [0, 1]");
        return -1;
    }
    for (size_t j = 0; j < cols; ++j)
        scales[j] = 0.0f; /* the weight maxima first */
    for (size_t m = 0; m < count; ++m)
        for (size_t r = 0; r < matrices[m].rows; ++r) {
            const float *w = matrices[m].w + r * cols;
            for (size_t j = 0; j < cols; ++j)
                if (fabsf(w[j]) > scales[j]) scales[j] = fabsf(w[j]);
        }
    for (size_t j = 0; j < cols; ++j) {
        const double a = absmax[j], w = scales[j];
        double s = 1.0;
        if (a > 0.0 && w > 0.0 && isfinite(a) && isfinite(w)) s = pow(a, alpha) / pow(w, 1.0 - alpha);
        scales[j] = (float)fmin(fmax(s, 1e-4), 1e4);
    }
    return 0;
}

int quantize_awq_search(const quantize_awq_matrix *matrices, size_t count, size_t cols, const float *hessian,
                        double forced_alpha, int n_threads, float *scales, quantize_awq_result *result, char *error,
                        size_t error_size)
{
    if (!matrices || count == 0 || cols == 0 || !hessian || !scales) {
        snprintf(error, error_size, "AWQ: empty group");
        return -1;
    }
    for (size_t j = 0; j < cols; ++j)
        if (!(hessian[j * cols + j] >= 0.0f) || !isfinite(hessian[j * cols + j])) {
            snprintf(error, error_size, "AWQ: the Hessian diagonal has a negative or non-finite value");
            return -1;
        }
    n_threads = tool_thread_count(n_threads);
    memset(result, 0, sizeof *result);
    if (forced_alpha >= 0.0) {
        scales_for(hessian, cols, forced_alpha, scales);
        result->alpha = forced_alpha;
        result->error_plain = result->error_scaled = NAN;
        return 0;
    }
    float *candidate = malloc(cols * sizeof *candidate);
    if (!candidate) {
        snprintf(error, error_size, "AWQ: out of memory");
        return -1;
    }
    double best = INFINITY;
    for (int k = 0; k <= QUANTIZE_AWQ_GRID; ++k) {
        const double alpha = (double)k / QUANTIZE_AWQ_GRID;
        double e = 0.0;
        scales_for(hessian, cols, alpha, candidate);
        const int status = group_error(matrices, count, cols, hessian, candidate, n_threads, &e);
        if (status != LOWBIT_OK) {
            snprintf(error, error_size, "AWQ: quantizing the sample failed: %s", lowbit_last_error());
            free(candidate);
            return -1;
        }
        if (k == 0) result->error_plain = e;
        if (e < best) { /* strictly better: ties keep the smaller α (α = 0 is no scaling) */
            best = e;
            result->alpha = alpha;
            result->error_scaled = e;
            memcpy(scales, candidate, cols * sizeof *scales);
        }
    }
    free(candidate);
    return 0;
}
