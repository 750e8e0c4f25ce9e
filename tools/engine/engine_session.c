/* engine_session.c — a model of the pinned llama.cpp opened through libllama's C API for scoring text:
 * backend set-up shared by every session of the process, quiet logging that still keeps the engine's last
 * error for our messages, whole-file tokenization, and chunk evaluation from an empty KV memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include "tools/engine/engine_session.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llama.h"
#include "tools/common/tool_util.h"
#include "tools/engine/eval_text.h"

struct engine_session {
    struct llama_model *model;
    struct llama_context *context;
    const struct llama_vocab *vocab;
    struct llama_batch batch;
    int n_ctx, n_batch, n_vocab, verbose;
    /* the last chunk: its length, first position with logits, and (when it took several decode calls, whose
     * outputs the engine does not keep together) a copy of its logits */
    int last_n, last_first;
    float *logits;
    size_t logits_capacity;
    int logits_copied;
};

/* Process-wide engine state: backends initialized while any session is open; the out-of-tree backend loaded
 * once (ggml keeps it registered for the life of the process). */
static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;
static int open_sessions, verbose_sessions, backend_path_loaded;
static char last_engine_error[512];

static void engine_log(enum ggml_log_level level, const char *text, void *user_data)
{
    (void)user_data;
    pthread_mutex_lock(&engine_lock);
    const int verbose = verbose_sessions > 0;
    if (level == GGML_LOG_LEVEL_ERROR && text) {
        snprintf(last_engine_error, sizeof last_engine_error, "%s", text);
        size_t length = strlen(last_engine_error);
        while (length && (last_engine_error[length - 1] == '\n' || last_engine_error[length - 1] == ' '))
            last_engine_error[--length] = '\0';
    }
    pthread_mutex_unlock(&engine_lock);
    if (verbose && text) fputs(text, stderr);
}

/* ": <the engine's last error>" or "" (for the end of our own message) */
static const char *engine_error_suffix(char *buffer, size_t size)
{
    pthread_mutex_lock(&engine_lock);
    if (last_engine_error[0])
        snprintf(buffer, size, ": %s", last_engine_error);
    else
        snprintf(buffer, size, " (--verbose shows the engine's log)");
    last_engine_error[0] = '\0';
    pthread_mutex_unlock(&engine_lock);
    return buffer;
}

/* GGML_BACKEND_PATH names an out-of-tree backend (lowbit's adapter); llama.cpp's tools load it through
 * ggml_backend_load_all, which llama_backend_init skips when the CPU backend is linked in. ggml_backend_load
 * lives in libggml, which libllama brings in but this program does not link directly. */
static int load_backend_path(char *error, size_t error_size)
{
    const char *path = getenv("GGML_BACKEND_PATH");
    if (!path || !*path || backend_path_loaded) return 0;
    void *symbol = dlsym(RTLD_DEFAULT, "ggml_backend_load");
    ggml_backend_reg_t (*load)(const char *) = NULL;
    if (symbol) memcpy(&load, &symbol, sizeof load);
    if (!load || !load(path)) {
        char detail[600];
        snprintf(error, error_size, "GGML_BACKEND_PATH=%s: the engine could not load it%s", path,
                 load ? engine_error_suffix(detail, sizeof detail) : " (no ggml_backend_load in the engine)");
        return -1;
    }
    backend_path_loaded = 1;
    return 0;
}

static int engine_acquire(int verbose, char *error, size_t error_size)
{
    pthread_mutex_lock(&engine_lock);
    const int first = open_sessions == 0;
    open_sessions++;
    verbose_sessions += verbose != 0;
    pthread_mutex_unlock(&engine_lock);
    if (first) {
        llama_log_set(engine_log, NULL);
        llama_backend_init();
        if (load_backend_path(error, error_size) != 0) return -1;
    }
    return 0;
}

static void engine_release(int verbose)
{
    pthread_mutex_lock(&engine_lock);
    const int last = --open_sessions == 0;
    verbose_sessions -= verbose != 0;
    pthread_mutex_unlock(&engine_lock);
    if (last) llama_backend_free();
}

void engine_close(engine_session *s)
{
    if (!s) return;
    if (s->batch.token) llama_batch_free(s->batch);
    if (s->context) llama_free(s->context);
    if (s->model) llama_model_free(s->model);
    free(s->logits);
    engine_release(s->verbose);
    free(s);
}

int engine_open(const engine_options *o, engine_session **out, char *error, size_t error_size)
{
    *out = NULL;
    if (!o || !o->model_path || !*o->model_path) {
        snprintf(error, error_size, "engine_open: no model path");
        return -1;
    }
    if (o->n_ctx < 1 || o->threads < 0) {
        snprintf(error, error_size, "engine_open: context %d or threads %d out of range", o->n_ctx, o->threads);
        return -1;
    }
    struct stat st;
    if (stat(o->model_path, &st) != 0) {
        snprintf(error, error_size, "model '%s': %s", o->model_path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(error, error_size, "model '%s' is not a regular file", o->model_path);
        return -1;
    }
    engine_session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    s->verbose = o->verbose != 0;
    if (engine_acquire(s->verbose, error, error_size) != 0) {
        engine_close(s);
        return -1;
    }
    char detail[600];
    struct llama_model_params model_params = llama_model_default_params();
    model_params.n_gpu_layers = o->n_gpu_layers;
    s->model = llama_model_load_from_file(o->model_path, model_params);
    if (!s->model) {
        snprintf(error, error_size, "cannot load model '%s'%s", o->model_path,
                 engine_error_suffix(detail, sizeof detail));
        engine_close(s);
        return -1;
    }
    if (llama_model_has_encoder(s->model)) {
        snprintf(error, error_size, "model '%s' has an encoder; only decoder-only models are scored", o->model_path);
        engine_close(s);
        return -1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int threads = o->threads ? o->threads : cores > 0 ? (int)(cores < 512 ? cores : 512) : 1;
    struct llama_context_params context_params = llama_context_default_params();
    context_params.n_ctx = (uint32_t)o->n_ctx;
    /* one decode call per chunk: all its logits stay in the engine's output buffer */
    context_params.n_batch = (uint32_t)o->n_ctx;
    context_params.n_ubatch = (uint32_t)(o->n_ctx < 512 ? o->n_ctx : 512);
    context_params.n_seq_max = 1;
    context_params.n_threads = threads;
    context_params.n_threads_batch = threads;
    context_params.cb_eval = o->cb_eval;
    context_params.cb_eval_user_data = o->cb_user_data;
    context_params.no_perf = true;
    s->context = llama_init_from_model(s->model, context_params);
    if (!s->context) {
        snprintf(error, error_size, "cannot make a context of %d tokens for '%s'%s", o->n_ctx, o->model_path,
                 engine_error_suffix(detail, sizeof detail));
        engine_close(s);
        return -1;
    }
    s->vocab = llama_model_get_vocab(s->model);
    s->n_vocab = llama_vocab_n_tokens(s->vocab);
    s->n_ctx = o->n_ctx;
    s->n_batch = (int)llama_n_batch(s->context);
    if (s->n_batch < 1 || s->n_batch > o->n_ctx) s->n_batch = o->n_ctx;
    if (s->n_vocab < 1) {
        snprintf(error, error_size, "model '%s' has no vocabulary", o->model_path);
        engine_close(s);
        return -1;
    }
    s->batch = llama_batch_init(s->n_batch, 0, 1);
    if (!s->batch.token) {
        snprintf(error, error_size, "out of memory");
        engine_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

int engine_n_vocab(const engine_session *s) { return s->n_vocab; }

int engine_n_ctx(const engine_session *s) { return s->n_ctx; }

int32_t engine_bos_token(const engine_session *s)
{
    return llama_vocab_get_add_bos(s->vocab) ? llama_vocab_bos(s->vocab) : -1;
}

int engine_tokenize_file(engine_session *s, const char *path, int32_t **tokens, size_t *count, char *error,
                         size_t error_size)
{
    *tokens = NULL;
    *count = 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uintmax_t)st.st_size > ENGINE_TEXT_MAX_BYTES) {
        snprintf(error, error_size, "text '%s' is %llu bytes; at most %u are read", path,
                 (unsigned long long)st.st_size, ENGINE_TEXT_MAX_BYTES);
        return -1;
    }
    unsigned char *text = NULL;
    size_t size = 0;
    if (tool_read_regular_file(path, "text", &text, &size, error, error_size) != 0) return -1;
    if (size == 0 || size > ENGINE_TEXT_MAX_BYTES) {
        snprintf(error, error_size, "text '%s' is %s", path, size ? "too large" : "empty");
        free(text);
        return -1;
    }
    const size_t bad = eval_text_utf8_invalid_at(text, size);
    if (bad != size) {
        snprintf(error, error_size, "text '%s' is not UTF-8 (byte %zu: 0x%02x)", path, bad, text[bad]);
        free(text);
        return -1;
    }
    /* a token covers at least one byte; the margin is for BOS/EOS and a leading-space marker */
    int32_t capacity = (int32_t)size + 16;
    int32_t *buffer = NULL;
    int32_t n = 0;
    for (int attempt = 0; attempt < 2; ++attempt) {
        int32_t *grown = realloc(buffer, (size_t)capacity * sizeof *buffer);
        if (!grown) {
            free(buffer);
            free(text);
            snprintf(error, error_size, "out of memory tokenizing '%s'", path);
            return -1;
        }
        buffer = grown;
        n = llama_tokenize(s->vocab, (const char *)text, (int32_t)size, buffer, capacity, true, false);
        if (n >= 0 || n == INT32_MIN) break;
        capacity = -n;
    }
    free(text);
    if (n <= 0) {
        free(buffer);
        snprintf(error, error_size, "text '%s': %s", path, n == 0 ? "no tokens" : "the tokenizer failed");
        return -1;
    }
    *tokens = buffer;
    *count = (size_t)n;
    return 0;
}

static int decode_error(int rc, char *error, size_t error_size)
{
    const char *why = rc == 1    ? "no room in the KV memory"
                      : rc == 2  ? "aborted"
                      : rc == -1 ? "invalid batch"
                                 : "engine failure";
    char detail[600];
    snprintf(error, error_size, "llama_decode failed (%d, %s)%s", rc, why, engine_error_suffix(detail, sizeof detail));
    return -1;
}

int engine_eval_chunk(engine_session *s, const int32_t *tokens, int n, int first_logit, char *error, size_t error_size)
{
    s->last_n = s->last_first = 0;
    if (n < 1 || n > s->n_ctx || first_logit < 0 || first_logit > n) {
        snprintf(error, error_size, "engine_eval_chunk: %d tokens (context %d), logits from %d: out of range", n,
                 s->n_ctx, first_logit);
        return -1;
    }
    for (int i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= s->n_vocab) {
            snprintf(error, error_size, "engine_eval_chunk: token %d at %d is outside the vocabulary (%d)",
                     (int)tokens[i], i, s->n_vocab);
            return -1;
        }
    const int pieces = (n + s->n_batch - 1) / s->n_batch;
    const size_t outputs = (size_t)(n - first_logit);
    s->logits_copied = pieces > 1 && outputs > 0;
    if (s->logits_copied && outputs * (size_t)s->n_vocab > s->logits_capacity) {
        float *grown = realloc(s->logits, outputs * (size_t)s->n_vocab * sizeof *grown);
        if (!grown) {
            snprintf(error, error_size, "out of memory for %zu positions of logits", outputs);
            return -1;
        }
        s->logits = grown;
        s->logits_capacity = outputs * (size_t)s->n_vocab;
    }
    llama_memory_clear(llama_get_memory(s->context), true);
    for (int start = 0; start < n; start += s->n_batch) {
        const int length = n - start < s->n_batch ? n - start : s->n_batch;
        s->batch.n_tokens = length;
        for (int k = 0; k < length; ++k) {
            s->batch.token[k] = tokens[start + k];
            s->batch.pos[k] = start + k;
            s->batch.n_seq_id[k] = 1;
            s->batch.seq_id[k][0] = 0;
            s->batch.logits[k] = start + k >= first_logit;
        }
        const int rc = llama_decode(s->context, s->batch);
        if (rc != 0) return decode_error(rc, error, error_size);
        for (int k = 0; s->logits_copied && k < length; ++k) {
            if (start + k < first_logit) continue;
            const float *row = llama_get_logits_ith(s->context, k);
            if (!row) {
                snprintf(error, error_size, "the engine returned no logits for position %d", start + k);
                return -1;
            }
            memcpy(s->logits + (size_t)(start + k - first_logit) * (size_t)s->n_vocab, row,
                   (size_t)s->n_vocab * sizeof *row);
        }
    }
    s->last_n = n;
    s->last_first = first_logit;
    return 0;
}

const float *engine_logits(engine_session *s, int i)
{
    if (i < s->last_first || i >= s->last_n) return NULL;
    if (s->logits_copied) return s->logits + (size_t)(i - s->last_first) * (size_t)s->n_vocab;
    return llama_get_logits_ith(s->context, i);
}
