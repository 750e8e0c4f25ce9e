/* calib_stats.c — activation statistics for lowbit-calibrate: shared-input accumulators of Σx·xᵀ (upper
 * triangle, f64, threaded over rows of the matrix), and the imatrix and Hessian GGUF writers. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "tools/engine/calib_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "lowbit/lowbit_io.h"
#include "backends/cpu/cpu_simd.h" /* LOWBIT_MULTIVERSION, LOWBIT_ALWAYS_INLINE */
#include "tools/common/tool_util.h"
#include "tools/quantize/quantize_hessian.h"

typedef struct calib_input {
    char *name;
    size_t cols;
    double *sums;  /* cols × cols (upper triangle used) with the Hessian, else cols (Σx²) */
    float *absmax; /* cols: max |x| per channel (SmoothQuant's statistic) */
    uint64_t rows;
} calib_input;

typedef struct calib_weight {
    char *name;
    size_t input;
    int feeds; /* the first weight seen reading its input: only it accumulates */
} calib_weight;

struct calib_stats {
    int want_hessian, threads;
    calib_input *inputs;
    size_t n_inputs;
    calib_weight *weights;
    size_t n_weights;
    float *xt; /* cols × n transposed activations of one call */
    size_t xt_size;
};

calib_stats *calib_stats_create(int want_hessian, int threads)
{
    calib_stats *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->want_hessian = want_hessian;
    s->threads = tool_thread_count(threads);
    return s;
}

void calib_stats_free(calib_stats *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_inputs; ++i)
        free(s->inputs[i].name), free(s->inputs[i].sums), free(s->inputs[i].absmax);
    for (size_t i = 0; i < s->n_weights; ++i)
        free(s->weights[i].name);
    free(s->inputs), free(s->weights), free(s->xt);
    free(s);
}

static int message(char *error, size_t error_size, const char *text, const char *name)
{
    snprintf(error, error_size, "%s%s%s", text, name ? ": " : "", name ? name : "");
    return -1;
}

/* Finds or makes the input accumulator and the weight's entry; *feeds says whether this weight feeds it. */
static int lookup(calib_stats *s, const char *weight, const char *input, size_t cols, size_t *slot, int *feeds,
                  char *error, size_t error_size)
{
    for (size_t i = 0; i < s->n_weights; ++i)
        if (strcmp(s->weights[i].name, weight) == 0) {
            if (s->inputs[s->weights[i].input].cols != cols)
                return message(error, error_size, "a weight's input changed its row length", weight);
            *slot = s->weights[i].input;
            *feeds = s->weights[i].feeds;
            return 0;
        }
    size_t in = s->n_inputs;
    for (size_t i = 0; i < s->n_inputs; ++i)
        if (strcmp(s->inputs[i].name, input) == 0 && s->inputs[i].cols == cols) in = i;
    int new_input = in == s->n_inputs;
    if (new_input) {
        calib_input *grown = realloc(s->inputs, (s->n_inputs + 1) * sizeof *grown);
        if (!grown) return message(error, error_size, "out of memory", NULL);
        s->inputs = grown;
        calib_input *c = &s->inputs[s->n_inputs];
        c->name = strdup(input);
        c->cols = cols;
        c->rows = 0;
        c->sums = calloc(s->want_hessian ? cols * cols : cols, sizeof *c->sums);
        c->absmax = calloc(cols, sizeof *c->absmax);
        if (!c->name || !c->sums || !c->absmax) {
            free(c->name), free(c->sums), free(c->absmax);
            return message(error, error_size, "out of memory for the statistics of", input);
        }
        s->n_inputs++;
    }
    calib_weight *grown = realloc(s->weights, (s->n_weights + 1) * sizeof *grown);
    if (!grown) return message(error, error_size, "out of memory", NULL);
    s->weights = grown;
    calib_weight *w = &s->weights[s->n_weights];
    w->name = strdup(weight);
    if (!w->name) return message(error, error_size, "out of memory", NULL);
    w->input = in;
    w->feeds = new_input;
    s->n_weights++;
    *slot = in;
    *feeds = new_input;
    return 0;
}

typedef struct outer_job {
    const float *xt; /* cols × n */
    size_t cols, n;
    double *sums;
    size_t i0, i1; /* rows of the sum matrix this worker owns */
} outer_job;

/* Σ_t a[t]·b[t] over n floats with eight partial sums (vectorizable; the grouping is fixed, so the result is
 * too). */
static double dot(const float *a, const float *b, size_t n)
{
    float acc[8] = {0};
    size_t t = 0;
    for (; t + 8 <= n; t += 8)
        for (int u = 0; u < 8; ++u)
            acc[u] += a[t + u] * b[t + u];
    double s = 0.0;
    for (int u = 0; u < 8; ++u)
        s += acc[u];
    for (; t < n; ++t)
        s += (double)a[t] * b[t];
    return s;
}

/* Dots of 2 rows a0, a1 against 4 rows b0..b3 (n floats each) at once, each with the eight partial sums of
 * dot(): every product pair's sum is grouped exactly as dot() groups it, so the result does not depend on
 * the tiling; the tile only loads each row once per eight products. */
LOWBIT_ALWAYS_INLINE void dot2x4(const float *a0, const float *a1, const float *b, size_t n, double *out0, double *out1)
{
    const float *b0 = b, *b1 = b + n, *b2 = b + 2 * n, *b3 = b + 3 * n;
    float acc[8][8] = {{0}};
    size_t t = 0;
    for (; t + 8 <= n; t += 8)
        for (int u = 0; u < 8; ++u) {
            const float x = a0[t + u], y = a1[t + u];
            const float c0 = b0[t + u], c1 = b1[t + u], c2 = b2[t + u], c3 = b3[t + u];
            acc[0][u] += x * c0;
            acc[1][u] += x * c1;
            acc[2][u] += x * c2;
            acc[3][u] += x * c3;
            acc[4][u] += y * c0;
            acc[5][u] += y * c1;
            acc[6][u] += y * c2;
            acc[7][u] += y * c3;
        }
    for (int r = 0; r < 8; ++r) {
        const float *a = r < 4 ? a0 : a1, *br = b + (size_t)(r % 4) * n;
        double sum = 0.0;
        for (int u = 0; u < 8; ++u)
            sum += acc[r][u];
        for (size_t k = t; k < n; ++k)
            sum += (double)a[k] * br[k];
        (r < 4 ? out0 : out1)[r % 4] += sum;
    }
}

/* Rows [i0, i1) of the upper triangle, two at a time (the pair's second row also gets the one entry left of
 * the diagonal, never read); a row left over, and the columns past the last group of four, go one by one.
 * Cloned for AVX2 and AVX-512 (the same float operations in the same order, so the same sums). */
LOWBIT_MULTIVERSION static void outer_rows(const float *xt, size_t cols, size_t n, double *sums, size_t i0, size_t i1)
{
    size_t i = i0;
    for (; i + 2 <= i1; i += 2) {
        size_t k = i;
        for (; k + 4 <= cols; k += 4)
            dot2x4(xt + i * n, xt + (i + 1) * n, xt + k * n, n, sums + i * cols + k, sums + (i + 1) * cols + k);
        for (; k < cols; ++k) {
            sums[i * cols + k] += dot(xt + i * n, xt + k * n, n);
            sums[(i + 1) * cols + k] += dot(xt + (i + 1) * n, xt + k * n, n);
        }
    }
    for (; i < i1; ++i)
        for (size_t k = i; k < cols; ++k)
            sums[i * cols + k] += dot(xt + i * n, xt + k * n, n);
}

static void *outer_worker(void *arg)
{
    const outer_job *j = arg;
    outer_rows(j->xt, j->cols, j->n, j->sums, j->i0, j->i1);
    return NULL;
}

int calib_stats_add(calib_stats *s, const char *weight, const char *input, const float *x, size_t n, size_t cols,
                    size_t stride, char *error, size_t error_size)
{
    size_t slot = 0;
    int feeds = 0;
    if (!weight || !x || cols == 0 || stride < cols) return message(error, error_size, "bad activation", weight);
    if (lookup(s, weight, input && input[0] ? input : weight, cols, &slot, &feeds, error, error_size) != 0) return -1;
    if (!feeds || n == 0) return 0;
    calib_input *c = &s->inputs[slot];
    c->rows += n;
    for (size_t t = 0; t < n; ++t)
        for (size_t i = 0; i < cols; ++i) {
            const float a = fabsf(x[t * stride + i]);
            if (a > c->absmax[i] && a <= 3.4e38f) c->absmax[i] = a; /* NaN and ±Inf are left out */
        }
    if (!s->want_hessian) {
        for (size_t t = 0; t < n; ++t)
            for (size_t i = 0; i < cols; ++i)
                c->sums[i] += (double)x[t * stride + i] * x[t * stride + i];
        return 0;
    }
    if (s->xt_size < cols * n) {
        float *grown = realloc(s->xt, cols * n * sizeof *grown);
        if (!grown) return message(error, error_size, "out of memory for an activation batch", weight);
        s->xt = grown;
        s->xt_size = cols * n;
    }
    for (size_t t = 0; t < n; ++t)
        for (size_t i = 0; i < cols; ++i)
            s->xt[i * n + t] = x[t * stride + i];
    /* rows of the upper triangle split so each worker gets about the same number of products */
    int threads = s->threads;
    if ((size_t)threads > cols) threads = (int)cols;
    outer_job jobs[TOOL_MAX_THREADS];
    const double total = (double)cols * (double)(cols + 1) / 2.0;
    size_t i0 = 0;
    for (int t = 0; t < threads; ++t) {
        size_t i1 = i0;
        const double target = total * (double)(t + 1) / (double)threads;
        while (i1 < cols && ((double)cols * (double)i1 - (double)i1 * (double)(i1 - 1) / 2.0) < target)
            ++i1;
        if (t == threads - 1) i1 = cols;
        jobs[t] = (outer_job){s->xt, cols, n, c->sums, i0, i1};
        i0 = i1;
    }
    tool_parallel(threads, outer_worker, jobs, sizeof jobs[0]);
    return 0;
}

size_t calib_stats_weight_count(const calib_stats *s) { return s->n_weights; }
size_t calib_stats_input_count(const calib_stats *s) { return s->n_inputs; }

uint64_t calib_stats_bytes(const calib_stats *s)
{
    uint64_t bytes = (uint64_t)s->xt_size * sizeof(float);
    for (size_t i = 0; i < s->n_inputs; ++i)
        bytes += (uint64_t)(s->want_hessian ? s->inputs[i].cols * s->inputs[i].cols : s->inputs[i].cols) * 8u +
                 (uint64_t)s->inputs[i].cols * sizeof(float);
    return bytes;
}

static double diag(const calib_input *c, size_t i, int hessian)
{
    return hessian ? c->sums[i * c->cols + i] : c->sums[i];
}

static int write_failed(char *error, size_t error_size, const char *path)
{
    snprintf(error, error_size, "cannot write %s: %s", path, lowbit_last_error());
    return -1;
}

int calib_stats_write_imatrix(const calib_stats *s, const char *path, const calib_meta *meta, char *error,
                              size_t error_size)
{
    lowbit_gguf_writer *writer = NULL;
    float **buffers = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *buffers);
    float *counts = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *counts);
    int rc = -1;
    if (!buffers || !counts || lowbit_gguf_writer_create(&writer) != LOWBIT_OK) {
        message(error, error_size, "out of memory", NULL);
        goto done;
    }
    const char *datasets[1] = {meta->dataset ? meta->dataset : ""};
    const lowbit_gguf_array dataset_array = {LOWBIT_GGUF_STRING, 1, datasets};
    if (lowbit_gguf_writer_set_string(writer, "general.type", "imatrix") != LOWBIT_OK ||
        lowbit_gguf_writer_set_array(writer, "imatrix.datasets", &dataset_array) != LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "imatrix.chunk_count", LOWBIT_GGUF_UINT32, meta->chunk_count) !=
            LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "imatrix.chunk_size", LOWBIT_GGUF_UINT32, meta->chunk_size) != LOWBIT_OK) {
        write_failed(error, error_size, path);
        goto done;
    }
    for (size_t i = 0; i < s->n_inputs; ++i) {
        const calib_input *c = &s->inputs[i];
        buffers[i] = malloc(c->cols * sizeof **buffers);
        if (!buffers[i]) {
            message(error, error_size, "out of memory", NULL);
            goto done;
        }
        for (size_t k = 0; k < c->cols; ++k)
            buffers[i][k] = (float)diag(c, k, s->want_hessian);
        counts[i] = (float)c->rows;
    }
    for (size_t w = 0; w < s->n_weights; ++w) {
        const calib_input *c = &s->inputs[s->weights[w].input];
        char name[512];
        if (c->rows == 0) continue; /* never reached (see the Hessian writer) */
        const uint64_t ne_sum[2] = {c->cols, 1}, ne_count[2] = {1, 1};
        snprintf(name, sizeof name, "%s.in_sum2", s->weights[w].name);
        if (lowbit_gguf_writer_add_tensor(writer, name, LOWBIT_FORMAT_F32, 2, ne_sum, buffers[s->weights[w].input],
                                          c->cols * sizeof(float)) != LOWBIT_OK) {
            write_failed(error, error_size, path);
            goto done;
        }
        snprintf(name, sizeof name, "%s.counts", s->weights[w].name);
        if (lowbit_gguf_writer_add_tensor(writer, name, LOWBIT_FORMAT_F32, 2, ne_count, &counts[s->weights[w].input],
                                          sizeof(float)) != LOWBIT_OK) {
            write_failed(error, error_size, path);
            goto done;
        }
    }
    if (lowbit_gguf_writer_write(writer, path) != LOWBIT_OK) {
        write_failed(error, error_size, path);
        goto done;
    }
    rc = 0;
done:
    lowbit_gguf_writer_destroy(writer);
    for (size_t i = 0; buffers && i < s->n_inputs; ++i)
        free(buffers[i]);
    free(buffers), free(counts);
    return rc;
}

/* The tensor producer of one Hessian: E[x·xᵀ] as f32, the lower triangle mirrored from the upper. */
typedef struct hessian_source {
    const calib_input *input;
} hessian_source;

static lowbit_status produce_hessian(void *user_data, const char *name, size_t size, lowbit_gguf_write_fn write,
                                     void *sink)
{
    (void)name;
    const calib_input *c = ((const hessian_source *)user_data)->input;
    const size_t n = c->cols;
    if (size != n * n * sizeof(float)) return LOWBIT_ERROR_INTERNAL;
    float *row = malloc(n * sizeof *row);
    if (!row) return LOWBIT_ERROR_OUT_OF_MEMORY;
    const double scale = c->rows ? 1.0 / (double)c->rows : 0.0;
    lowbit_status status = LOWBIT_OK;
    for (size_t i = 0; i < n && status == LOWBIT_OK; ++i) {
        for (size_t k = 0; k < n; ++k)
            row[k] = (float)((k >= i ? c->sums[i * n + k] : c->sums[k * n + i]) * scale);
        status = write(sink, row, n * sizeof *row);
    }
    free(row);
    return status;
}

int calib_stats_write_hessian(const calib_stats *s, const char *path, const calib_meta *meta, char *error,
                              size_t error_size)
{
    if (!s->want_hessian) return message(error, error_size, "internal: no Hessians were collected", NULL);
    lowbit_gguf_writer *writer = NULL;
    const char **names = calloc(s->n_weights ? s->n_weights : 1, sizeof *names);
    const char **input_names = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *input_names);
    uint32_t *inputs = calloc(s->n_weights ? s->n_weights : 1, sizeof *inputs);
    uint64_t *tokens = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *tokens);
    hessian_source *sources = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *sources);
    int rc = -1;
    if (!names || !input_names || !inputs || !tokens || !sources || lowbit_gguf_writer_create(&writer) != LOWBIT_OK) {
        message(error, error_size, "out of memory", NULL);
        goto done;
    }
    /* inputs that saw no rows are left out, with the weights that read them */
    size_t n_out = 0, w_out = 0;
    uint32_t *index_of = calloc(s->n_inputs ? s->n_inputs : 1, sizeof *index_of);
    if (!index_of) {
        message(error, error_size, "out of memory", NULL);
        goto done;
    }
    for (size_t i = 0; i < s->n_inputs; ++i)
        if (s->inputs[i].rows) {
            index_of[i] = (uint32_t)n_out;
            input_names[n_out] = s->inputs[i].name, tokens[n_out] = s->inputs[i].rows;
            sources[n_out++].input = &s->inputs[i];
        }
    for (size_t w = 0; w < s->n_weights; ++w)
        if (s->inputs[s->weights[w].input].rows)
            names[w_out] = s->weights[w].name, inputs[w_out++] = index_of[s->weights[w].input];
    free(index_of);
    if (n_out == 0) {
        message(error, error_size, "no activation rows were collected", NULL);
        goto done;
    }
    const lowbit_gguf_array a_names = {LOWBIT_GGUF_STRING, w_out, names},
                            a_inputs = {LOWBIT_GGUF_UINT32, w_out, inputs},
                            a_tokens = {LOWBIT_GGUF_UINT64, n_out, tokens},
                            a_input_names = {LOWBIT_GGUF_STRING, n_out, input_names};
    if (lowbit_gguf_writer_set_string(writer, "general.type", QUANTIZE_HESSIAN_TYPE) != LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "lowbit.hessian.version", LOWBIT_GGUF_UINT32, QUANTIZE_HESSIAN_VERSION) !=
            LOWBIT_OK ||
        lowbit_gguf_writer_set_array(writer, "lowbit.hessian.weights", &a_names) != LOWBIT_OK ||
        lowbit_gguf_writer_set_array(writer, "lowbit.hessian.inputs", &a_inputs) != LOWBIT_OK ||
        lowbit_gguf_writer_set_array(writer, "lowbit.hessian.tokens", &a_tokens) != LOWBIT_OK ||
        lowbit_gguf_writer_set_array(writer, "lowbit.hessian.input_names", &a_input_names) != LOWBIT_OK ||
        lowbit_gguf_writer_set_string(writer, "lowbit.calibrate.dataset", meta->dataset ? meta->dataset : "") !=
            LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "lowbit.calibrate.chunk_count", LOWBIT_GGUF_UINT32, meta->chunk_count) !=
            LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "lowbit.calibrate.chunk_size", LOWBIT_GGUF_UINT32, meta->chunk_size) !=
            LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "lowbit.calibrate.text_hash", LOWBIT_GGUF_UINT64, meta->text_hash) !=
            LOWBIT_OK) {
        write_failed(error, error_size, path);
        goto done;
    }
    for (size_t i = 0; i < n_out; ++i) {
        char name[64];
        const uint64_t ne[2] = {sources[i].input->cols, sources[i].input->cols};
        snprintf(name, sizeof name, "hessian.%zu", i);
        if (lowbit_gguf_writer_add_tensor_stream(writer, name, LOWBIT_FORMAT_F32, 2, ne, produce_hessian,
                                                 &sources[i]) != LOWBIT_OK) {
            write_failed(error, error_size, path);
            goto done;
        }
    }
    for (size_t i = 0; i < n_out; ++i) {
        char name[64];
        const uint64_t ne[1] = {sources[i].input->cols};
        snprintf(name, sizeof name, "absmax.%zu", i);
        if (lowbit_gguf_writer_add_tensor(writer, name, LOWBIT_FORMAT_F32, 1, ne, sources[i].input->absmax,
                                          sources[i].input->cols * sizeof(float)) != LOWBIT_OK) {
            write_failed(error, error_size, path);
            goto done;
        }
    }
    if (lowbit_gguf_writer_write(writer, path) != LOWBIT_OK) {
        write_failed(error, error_size, path);
        goto done;
    }
    rc = 0;
done:
    lowbit_gguf_writer_destroy(writer);
    free(names), free(input_names), free(inputs), free(tokens), free(sources);
    return rc;
}

int calib_stats_resume(calib_stats *s, const char *path, calib_meta *meta, char *error, size_t error_size)
{
    if (!s->want_hessian || s->n_inputs || s->n_weights)
        return message(error, error_size, "internal: resume needs empty Hessian statistics", NULL);
    quantize_hessians *h = NULL;
    if (quantize_hessians_load(path, &h, error, error_size) != 0) return -1;
    lowbit_gguf *g = NULL;
    int rc = -1;
    if (lowbit_gguf_open(path, &g) != LOWBIT_OK) {
        message(error, error_size, "cannot reopen", path);
        goto done;
    }
    const lowbit_gguf_value *v = NULL, *names = NULL, *tokens = NULL;
    uint64_t chunks = 0, chunk_size = 0, hash = 0;
    if (lowbit_gguf_kv_find(g, "lowbit.calibrate.chunk_count", &v) != LOWBIT_OK || !v ||
        lowbit_gguf_value_get_uint(v, &chunks) != LOWBIT_OK ||
        lowbit_gguf_kv_find(g, "lowbit.calibrate.chunk_size", &v) != LOWBIT_OK || !v ||
        lowbit_gguf_value_get_uint(v, &chunk_size) != LOWBIT_OK ||
        lowbit_gguf_kv_find(g, "lowbit.calibrate.text_hash", &v) != LOWBIT_OK || !v ||
        lowbit_gguf_value_get_uint(v, &hash) != LOWBIT_OK ||
        lowbit_gguf_kv_find(g, "lowbit.hessian.input_names", &names) != LOWBIT_OK || !names ||
        lowbit_gguf_kv_find(g, "lowbit.hessian.tokens", &tokens) != LOWBIT_OK || !tokens ||
        lowbit_gguf_kv_find(g, "lowbit.hessian.weights", &v) != LOWBIT_OK || !v) {
        message(error, error_size, "no lowbit-calibrate progress keys (not resumable)", path);
        goto done;
    }
    size_t n_weights = quantize_hessians_weight_count(h), n_names = 0;
    lowbit_gguf_type type;
    if (lowbit_gguf_value_get_array(names, &type, &n_names) != LOWBIT_OK || type != LOWBIT_GGUF_STRING) {
        message(error, error_size, "lowbit.hessian.input_names is not a string array", path);
        goto done;
    }
    /* weights in file order: their Hessian decides the input; the first weight of each input feeds it */
    for (size_t w = 0; w < n_weights; ++w) {
        const lowbit_gguf_value *e = NULL;
        const char *weight = NULL, *input_name = NULL;
        size_t cols = 0, index = 0;
        if (lowbit_gguf_value_get_element(v, w, &e) != LOWBIT_OK ||
            lowbit_gguf_value_get_string(e, &weight, NULL) != LOWBIT_OK)
            goto corrupt;
        const float *m = quantize_hessians_find(h, weight, &cols, &index);
        if (!m || index >= n_names || lowbit_gguf_value_get_element(names, index, &e) != LOWBIT_OK ||
            lowbit_gguf_value_get_string(e, &input_name, NULL) != LOWBIT_OK)
            goto corrupt;
        size_t slot = 0;
        int feeds = 0;
        if (lookup(s, weight, input_name, cols, &slot, &feeds, error, error_size) != 0) goto done;
        if (feeds) {
            uint64_t rows = 0;
            if (lowbit_gguf_array_get_uint(tokens, index, &rows) != LOWBIT_OK) goto corrupt;
            calib_input *c = &s->inputs[slot];
            const float *absmax = quantize_hessians_absmax(h, index);
            if (!absmax) {
                message(error, error_size,
                        "no activation maxima (absmax.*): written by an older lowbit-calibrate, "
                        "start over without --resume",
                        path);
                goto done;
            }
            memcpy(c->absmax, absmax, cols * sizeof *absmax);
            c->rows = rows;
            for (size_t i = 0; i < cols; ++i)
                for (size_t k = 0; k < cols; ++k)
                    c->sums[i * cols + k] = (double)m[i * cols + k] * (double)rows;
        }
    }
    meta->dataset = NULL;
    meta->chunk_count = (uint32_t)chunks;
    meta->chunk_size = (uint32_t)chunk_size;
    meta->text_hash = hash;
    rc = 0;
    goto done;
corrupt:
    message(error, error_size, "inconsistent weight/Hessian tables", path);
done:
    lowbit_gguf_close(g);
    quantize_hessians_free(h);
    return rc;
}
