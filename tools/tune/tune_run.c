/* tune_run.c — measuring one candidate, and the journal that makes a tuning run resumable. A candidate runs in a
 * context of its own (its keys under the device's scope, tuning=0 so no database answers), on copies of the weights
 * that together exceed the device's cache, so every timed call reads its weights from memory; its first answer is
 * checked against the f64 reference before anything is timed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/tuning/json.h"
#include "tools/common/tool_util.h"
#include "tune.h"

const char *tune_status_name(tune_status status)
{
    switch (status) {
    case TUNE_OK: return "ok";
    case TUNE_WRONG: return "wrong";
    case TUNE_FAILED: return "failed";
    case TUNE_TIMEOUT: return "timeout";
    case TUNE_FELL_BACK: return "fell-back";
    }
    return "?";
}

static int status_from_name(const char *name, tune_status *out)
{
    for (int s = TUNE_OK; s <= TUNE_FELL_BACK; ++s)
        if (strcmp(tune_status_name((tune_status)s), name) == 0) {
            *out = (tune_status)s;
            return 0;
        }
    return -1;
}

/* --- journal ------------------------------------------------------------------------------------ */
typedef struct journal_line {
    char *key, *params;
    tune_result result;
} journal_line;

struct tune_journal {
    FILE *file;
    journal_line *lines;
    size_t count, capacity;
};

static int journal_keep(tune_journal *journal, const char *key, const char *params, const tune_result *result)
{
    if (journal->count == journal->capacity) {
        size_t capacity = journal->capacity ? journal->capacity * 2 : 64;
        journal_line *grown = realloc(journal->lines, capacity * sizeof *grown);
        if (!grown) return -1;
        journal->lines = grown;
        journal->capacity = capacity;
    }
    journal_line *line = &journal->lines[journal->count];
    line->key = strdup(key);
    line->params = strdup(params);
    line->result = *result;
    if (!line->key || !line->params) {
        free(line->key);
        free(line->params);
        return -1;
    }
    journal->count++;
    return 0;
}

static const char *string_member(const json_value *object, const char *key)
{
    const json_value *v = json_object_get(object, key);
    return v && v->type == JSON_STRING ? v->as.string.chars : NULL;
}

static double number_member(const json_value *object, const char *key)
{
    const json_value *v = json_object_get(object, key);
    return v && v->type == JSON_NUMBER ? v->as.number : -1.0;
}

/* One journal line: kept when it is a whole, well-formed record (an interrupted write leaves a torn last line,
 * which is skipped: that candidate is measured again). */
static int journal_read_line(tune_journal *journal, const char *text, size_t length)
{
    char why[256];
    json_document *document = json_parse(text, length, why, sizeof why);
    if (!document) return -1;
    const json_value *root = json_document_root(document);
    const char *key = string_member(root, "key"), *params = string_member(root, "params"),
               *status = string_member(root, "status");
    tune_result result;
    memset(&result, 0, sizeof result);
    int ok = key && params && status && status_from_name(status, &result.status) == 0;
    if (ok) {
        result.seconds = number_member(root, "seconds");
        result.spread = number_member(root, "spread");
        result.nmse = number_member(root, "nmse");
        const char *kernel = string_member(root, "kernel"), *reason = string_member(root, "why");
        snprintf(result.kernel, sizeof result.kernel, "%s", kernel ? kernel : "");
        snprintf(result.why, sizeof result.why, "%s", reason ? reason : "");
        ok = (result.status != TUNE_OK || result.seconds > 0.0) && journal_keep(journal, key, params, &result) == 0;
    }
    json_document_free(document);
    return ok ? 0 : -1;
}

tune_journal *tune_journal_open(const char *path)
{
    tune_journal *journal = calloc(1, sizeof *journal);
    if (!journal) return NULL;
    unsigned char *data = NULL;
    size_t size = 0;
    int torn = 0;
    char error[512];
    if (access(path, F_OK) == 0) {
        if (tool_read_regular_file(path, "journal", &data, &size, error, sizeof error) != 0) {
            fprintf(stderr, "lowbit-tune: %s\n", error);
            free(journal);
            return NULL;
        }
        size_t skipped = 0;
        for (size_t start = 0; start < size;) {
            const unsigned char *end = memchr(data + start, '\n', size - start);
            size_t length = end ? (size_t)(end - (data + start)) : size - start;
            if (length > 0 && journal_read_line(journal, (const char *)data + start, length) != 0) ++skipped;
            start += length + 1;
        }
        if (skipped)
            fprintf(stderr,
                    "lowbit-tune: %s: %zu unreadable line(s) skipped (an interrupted write?); they are "
                    "measured again\n",
                    path, skipped);
        torn = size > 0 && data[size - 1] != '\n';
        free(data);
    }
    journal->file = fopen(path, "a");
    if (!journal->file) {
        fprintf(stderr, "lowbit-tune: cannot append to the journal %s: %s\n", path, strerror(errno));
        tune_journal_close(journal);
        return NULL;
    }
    /* a torn last line must not glue itself to the next record */
    if (torn) fputc('\n', journal->file);
    return journal;
}

void tune_journal_close(tune_journal *journal)
{
    if (!journal) return;
    if (journal->file) fclose(journal->file);
    for (size_t i = 0; i < journal->count; ++i) {
        free(journal->lines[i].key);
        free(journal->lines[i].params);
    }
    free(journal->lines);
    free(journal);
}

int tune_journal_find(const tune_journal *journal, const char *key, const char *params, tune_result *out)
{
    for (size_t i = journal->count; i-- > 0;)
        if (strcmp(journal->lines[i].key, key) == 0 && strcmp(journal->lines[i].params, params) == 0) {
            *out = journal->lines[i].result;
            return 1;
        }
    return 0;
}

int tune_journal_add(tune_journal *journal, const char *key, const char *params, const tune_result *result)
{
    json_buffer line = {0};
    json_append(&line, "{\"key\":", 7);
    json_append_string(&line, key);
    json_append(&line, ",\"params\":", 10);
    json_append_string(&line, params);
    json_appendf(&line, ",\"status\":\"%s\"", tune_status_name(result->status));
    if (result->status == TUNE_OK) {
        json_append(&line, ",\"seconds\":", 11);
        json_append_number(&line, result->seconds);
        json_append(&line, ",\"spread\":", 10);
        json_append_number(&line, result->spread);
        json_append(&line, ",\"nmse\":", 8);
        json_append_number(&line, isfinite(result->nmse) ? result->nmse : -1.0);
    }
    json_append(&line, ",\"kernel\":", 10);
    json_append_string(&line, result->kernel);
    json_append(&line, ",\"why\":", 7);
    json_append_string(&line, result->why);
    json_append(&line, "}\n", 2);
    int ok = !line.failed && fwrite(line.data, 1, line.length, journal->file) == line.length &&
             fflush(journal->file) == 0 && fsync(fileno(journal->file)) == 0;
    json_buffer_free(&line);
    if (!ok) {
        fprintf(stderr, "lowbit-tune: cannot write the journal: %s\n", strerror(errno));
        return -1;
    }
    return journal_keep(journal, key, params, result);
}

/* --- data --------------------------------------------------------------------------------------- */
static float next_normal(uint64_t *state)
{
    float sum = 0.0f;
    for (int i = 0; i < 4; ++i) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        sum += (float)(*state >> 40) / (float)(1u << 24) - 0.5f;
    }
    return sum;
}

int tune_data_make(lowbit_format format, size_t rows, size_t cols, size_t n, unsigned seed, tune_data *data)
{
    memset(data, 0, sizeof *data);
    size_t row_size = lowbit_format_row_size(format, cols);
    if (row_size == 0) {
        fprintf(stderr, "lowbit-tune: %s cannot hold rows of %zu elements\n", lowbit_format_name(format), cols);
        return -1;
    }
    float *w = malloc(rows * cols * sizeof *w);
    data->packed_size = rows * row_size;
    data->packed = malloc(data->packed_size);
    data->x = malloc(n * cols * sizeof *data->x);
    data->reference = malloc(n * rows * sizeof *data->reference);
    if (!w || !data->packed || !data->x || !data->reference) {
        free(w);
        tune_data_free(data);
        fprintf(stderr, "lowbit-tune: out of memory for a %zux%zu matrix\n", rows, cols);
        return -1;
    }
    uint64_t state = 0x9e3779b97f4a7c15ull ^ seed;
    for (size_t i = 0; i < rows * cols; ++i)
        w[i] = next_normal(&state);
    for (size_t i = 0; i < n * cols; ++i)
        data->x[i] = next_normal(&state);
    int status = lowbit_quantize(format, w, rows, cols, data->packed, data->packed_size, NULL, 0);
    if (status == 0) status = lowbit_dequantize(format, data->packed, data->packed_size, rows, cols, w);
    if (status != 0) {
        fprintf(stderr, "lowbit-tune: %s: %s\n", lowbit_format_name(format), lowbit_last_error());
        free(w);
        tune_data_free(data);
        return -1;
    }
    tool_reference_matmul(w, rows, cols, data->x, n, data->reference);
    free(w);
    data->rows = rows, data->cols = cols, data->n = n, data->format = format;
    return 0;
}

void tune_data_free(tune_data *data)
{
    free(data->packed);
    free(data->x);
    free(data->reference);
    memset(data, 0, sizeof *data);
}

/* --- one candidate ------------------------------------------------------------------------------ */
static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "tuning=0,opencl.layout=row,opencl.wg=8": the candidate's keys under the scope, the database off. */
static void context_params(const char *scope, const char *params, char *out, size_t size)
{
    snprintf(out, size, "tuning=0");
    for (const char *p = params; *p;) {
        size_t length = strcspn(p, ",");
        size_t used = strlen(out);
        snprintf(out + used, size - used, ",%s.%.*s", scope, (int)length, p);
        p += length;
        if (*p == ',') ++p;
    }
}

static void fail(tune_result *result, tune_status status, const char *why)
{
    result->status = status;
    snprintf(result->why, sizeof result->why, "%.159s", why);
}

void tune_measure(const char *device_id, const char *scope, const tune_candidate *candidate, const tune_data *data,
                  uint64_t copies_goal, size_t repeat, double timeout, tune_result *result)
{
    memset(result, 0, sizeof *result);
    result->nmse = -1.0;
    char params[512];
    context_params(scope, candidate->params, params, sizeof params);
    lowbit_context_options options = {.struct_size = sizeof options, .params = params};
    lowbit_context *context = NULL;
    if (lowbit_context_create(&options, &context) != LOWBIT_OK) {
        fail(result, TUNE_FAILED, lowbit_last_error());
        return;
    }
    size_t device = 0;
    if (lowbit_device_find(context, device_id, &device) != LOWBIT_OK) {
        fail(result, TUNE_FAILED, lowbit_last_error());
        lowbit_context_destroy(context);
        return;
    }
    size_t copies = data->packed_size ? (size_t)(copies_goal / data->packed_size) + 1 : 1;
    if (copies > 64) copies = 64;
    lowbit_weights **weights = calloc(copies, sizeof *weights);
    float *y = malloc(data->n * data->rows * sizeof *y);
    double *times = malloc(repeat * sizeof *times);
    if (!weights || !y || !times) {
        fail(result, TUNE_FAILED, "out of host memory");
        goto done;
    }
    for (size_t c = 0; c < copies; ++c)
        if (lowbit_weights_upload(context, device, data->format, data->rows, data->cols, data->packed,
                                  data->packed_size, LOWBIT_UPLOAD_NO_FALLBACK, &weights[c]) != LOWBIT_OK) {
            fail(result, TUNE_FAILED, lowbit_last_error());
            goto done;
        }
    /* the first call builds the kernel; its answer is checked before anything is timed */
    lowbit_run_info run = {.struct_size = sizeof run};
    if (lowbit_matmul(context, weights[0], data->x, y, data->n) != LOWBIT_OK ||
        lowbit_last_run(context, &run) != LOWBIT_OK) {
        fail(result, TUNE_FAILED, lowbit_last_error());
        goto done;
    }
    snprintf(result->kernel, sizeof result->kernel, "%s", run.kernel);
    if (run.fell_back) {
        fail(result, TUNE_FELL_BACK, run.fallback_reason);
        goto done;
    }
    result->nmse = tool_nmse(y, data->reference, data->n * data->rows);
    double bound = run.activations_quantized ? 5e-4 : 1e-6;
    if (!(result->nmse <= bound)) {
        char why[160];
        snprintf(why, sizeof why, "NMSE %.3g against the f64 reference exceeds %.0e", result->nmse, bound);
        fail(result, TUNE_WRONG, why);
        goto done;
    }
    for (size_t c = 1; c < copies; ++c) { /* warm-up: every copy touched once; ends on the last */
        if (lowbit_matmul(context, weights[c], data->x, y, data->n) != LOWBIT_OK) {
            fail(result, TUNE_FAILED, lowbit_last_error());
            goto done;
        }
        if (lowbit_last_run(context, &run) == LOWBIT_OK && run.wall_seconds > timeout) {
            char why[160];
            snprintf(why, sizeof why, "one call took %.3f s, over the %.3g s limit", run.wall_seconds, timeout);
            fail(result, TUNE_TIMEOUT, why);
            goto done;
        }
    }
    int on_device = 1;
    for (size_t r = 0; r < repeat; ++r) {
        if (lowbit_matmul(context, weights[r % copies], data->x, y, data->n) != LOWBIT_OK ||
            lowbit_last_run(context, &run) != LOWBIT_OK) {
            fail(result, TUNE_FAILED, lowbit_last_error());
            goto done;
        }
        on_device &= run.device_seconds > 0.0;
        times[r] = run.device_seconds > 0.0 ? run.device_seconds : run.wall_seconds;
        if (run.wall_seconds > timeout) {
            char why[160];
            snprintf(why, sizeof why, "one call took %.3f s, over the %.3g s limit", run.wall_seconds, timeout);
            fail(result, TUNE_TIMEOUT, why);
            goto done;
        }
    }
    (void)on_device;
    qsort(times, repeat, sizeof *times, compare_doubles);
    result->seconds = times[repeat / 2];
    result->spread = result->seconds > 0.0 ? (times[repeat - 1] - times[0]) / result->seconds : 0.0;
    result->status = TUNE_OK;
done:
    if (weights)
        for (size_t c = 0; c < copies; ++c)
            lowbit_weights_destroy(weights[c]);
    free(weights);
    free(y);
    free(times);
    lowbit_context_destroy(context);
}
