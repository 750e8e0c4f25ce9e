/* lowbit-calibrate — runs a model over calibration text through the pinned engine and collects, per
 * weight-matrix input, the statistics calibrated quantization needs: the importance vector (llama.cpp's GGUF
 * imatrix, read by llama-quantize and lowbit-quantize --imatrix) and the full Σx·xᵀ (GPTQ's Hessian, for
 * lowbit-quantize --method gptq --hessian). See --help. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggml-backend.h"
#include "ggml.h"
#include "tools/common/tool_util.h"
#include "tools/engine/calib_stats.h"
#include "tools/engine/engine_session.h"

typedef struct calib_options {
    const char *model, *text, *imatrix, *hessian;
    int ctx, chunks, threads, ngl, save_every, resume, verbose, json, output;
} calib_options;

static void usage(FILE *out)
{
    fprintf(out, "usage: lowbit-calibrate --model MODEL.gguf --text FILE [--imatrix OUT] [--hessian OUT] [options]\n"
                 "  Runs the model over the text (consecutive chunks of --ctx tokens, each from an empty context) and\n"
                 "  collects the inputs of every weight matrix of the blocks (blk.*):\n"
                 "  --imatrix OUT     importance matrix: per input channel Σx² and the row count, as llama.cpp's GGUF\n"
                 "                    imatrix (llama-quantize --imatrix and lowbit-quantize --imatrix read it)\n"
                 "  --hessian OUT     GPTQ's Hessians E[x·xᵀ], one per distinct input (q/k/v share one, gate/up share\n"
                 "                    one), for lowbit-quantize --method gptq --hessian OUT\n"
                 "  (at least one of the two; with --hessian the imatrix is its diagonal)\n"
                 "options:\n"
                 "  --ctx N           tokens per chunk (default 512, 16..65536)\n"
                 "  --chunks N        chunks to use (default: every whole chunk of the text)\n"
                 "  --output-weight   also collect output.weight's input (the output head)\n"
                 "  --save-every N    rewrite the outputs every N chunks (default 8), so --resume can continue\n"
                 "  --resume          continue from the chunks an earlier run saved in --hessian OUT (same model,\n"
                 "                    text, --ctx; checked by a hash of the tokens)\n"
                 "  --threads N       CPU threads (default: every core)\n"
                 "  --ngl N           layers the engine offloads to a GPU-type device (default 0)\n"
                 "  --json            one JSON summary on stdout\n"
                 "  --verbose         the engine's own log on stderr\n"
                 "  -h, --help        this text\n"
                 "Memory: with --hessian, 8·K² bytes per distinct input of K channels (SmolLM2-135M: about 0.8 GB).\n");
}

static int parse_int(const char *option, const char *value, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    const long v = value ? strtol(value, &end, 10) : 0;
    if (!value || !end || *end != '\0' || end == value || errno || v < lo || v > hi) {
        fprintf(stderr, "lowbit-calibrate: %s wants a whole number from %d to %d, got '%s'\n", option, lo, hi,
                value ? value : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, calib_options *o)
{
    memset(o, 0, sizeof *o);
    o->ctx = 512;
    o->save_every = 8;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--text"))
            o->text = v;
        else if (!strcmp(a, "--imatrix"))
            o->imatrix = v;
        else if (!strcmp(a, "--hessian"))
            o->hessian = v;
        else if (!strcmp(a, "--ctx")) {
            if (parse_int(a, v, 16, 65536, &o->ctx)) return -1;
        } else if (!strcmp(a, "--chunks")) {
            if (parse_int(a, v, 1, 1 << 24, &o->chunks)) return -1;
        } else if (!strcmp(a, "--save-every")) {
            if (parse_int(a, v, 1, 1 << 24, &o->save_every)) return -1;
        } else if (!strcmp(a, "--threads")) {
            if (parse_int(a, v, 1, 1024, &o->threads)) return -1;
        } else if (!strcmp(a, "--ngl")) {
            if (parse_int(a, v, 0, 100000, &o->ngl)) return -1;
        } else {
            takes = 0;
            if (!strcmp(a, "--resume"))
                o->resume = 1;
            else if (!strcmp(a, "--verbose"))
                o->verbose = 1;
            else if (!strcmp(a, "--json"))
                o->json = 1;
            else if (!strcmp(a, "--output-weight"))
                o->output = 1;
            else {
                fprintf(stderr, "lowbit-calibrate: unknown argument '%s'\n", a);
                return -1;
            }
        }
        if (takes) {
            if (!v) {
                fprintf(stderr, "lowbit-calibrate: %s needs a value\n", a);
                return -1;
            }
            ++i;
        }
    }
    const char *missing = !o->model ? "--model MODEL.gguf" : !o->text ? "--text FILE" : NULL;
    if (missing) {
        fprintf(stderr, "lowbit-calibrate: %s is required\n", missing);
        return -1;
    }
    if (!o->imatrix && !o->hessian) {
        fprintf(stderr, "lowbit-calibrate: nothing to write: give --imatrix OUT and/or --hessian OUT\n");
        return -1;
    }
    if (o->resume && !o->hessian) {
        fprintf(stderr, "lowbit-calibrate: --resume continues from the --hessian file, so it needs --hessian\n");
        return -1;
    }
    return 0;
}

/* --- the engine's graph callback ------------------------------------------------------------------ */

typedef struct collector {
    calib_stats *stats;
    int output;
    float *copy; /* activations of a device buffer, copied to the host */
    size_t copy_size;
    uint64_t skipped; /* matrix products of tracked weights whose input could not be read (not f32) */
    int failed;
    char error[512];
} collector;

static int tracked(const collector *c, const struct ggml_tensor *w)
{
    if (!w || !w->name[0]) return 0;
    if (strncmp(w->name, "blk.", 4) == 0) return 1;
    return c->output && strcmp(w->name, "output.weight") == 0;
}

static bool collect(struct ggml_tensor *t, bool ask, void *user_data)
{
    collector *c = user_data;
    if (t->op != GGML_OP_MUL_MAT || !tracked(c, t->src[0])) return ask ? false : true;
    if (ask) return true;
    if (c->failed) return false;
    const struct ggml_tensor *w = t->src[0], *x = t->src[1];
    if (!x || x->type != GGML_TYPE_F32 || x->nb[0] != sizeof(float) || x->ne[0] != w->ne[0] ||
        x->nb[2] != x->nb[1] * (size_t)x->ne[1] || x->nb[3] != x->nb[2] * (size_t)x->ne[2]) {
        c->skipped++;
        return true;
    }
    const size_t rows = (size_t)(x->ne[1] * x->ne[2] * x->ne[3]), stride = x->nb[1] / sizeof(float);
    const float *data = x->data;
    if (!x->buffer || !ggml_backend_buffer_is_host(x->buffer)) {
        const size_t bytes = ggml_nbytes(x);
        if (c->copy_size < bytes) {
            float *grown = realloc(c->copy, bytes);
            if (!grown) {
                snprintf(c->error, sizeof c->error, "out of memory copying the input of %s", w->name);
                c->failed = 1;
                return false;
            }
            c->copy = grown;
            c->copy_size = bytes;
        }
        ggml_backend_tensor_get(x, c->copy, 0, bytes);
        data = c->copy;
    }
    if (calib_stats_add(c->stats, w->name, x->name, data, rows, (size_t)x->ne[0], stride, c->error, sizeof c->error) !=
        0) {
        c->failed = 1;
        return false;
    }
    return true;
}

/* --- progress ---------------------------------------------------------------------------------------- */

static void progress(int done, int total, double started, int tty, int last)
{
    const double elapsed = tool_now_seconds() - started;
    const double eta = done > 0 ? elapsed / done * (total - done) : 0.0;
    if (tty)
        fprintf(stderr, "\rlowbit-calibrate: chunk %d/%d (%.0f %%)  %.0f s  ETA %.0f s   ", done, total,
                100.0 * done / total, elapsed, eta);
    else if (last || done % 8 == 0)
        fprintf(stderr, "lowbit-calibrate: chunk %d/%d, %.0f s, ETA %.0f s\n", done, total, elapsed, eta);
    if (tty && last) fputc('\n', stderr);
}

/* FNV-1a over the chunk length and the tokens the run uses */
static uint64_t token_hash(const int32_t *tokens, size_t count, int ctx)
{
    uint64_t h = 1469598103934665603ull;
    const uint32_t c = (uint32_t)ctx;
    for (int i = 0; i < 4; ++i)
        h = (h ^ ((c >> (8 * i)) & 0xFF)) * 1099511628211ull;
    for (size_t t = 0; t < count; ++t)
        for (int i = 0; i < 4; ++i)
            h = (h ^ (((uint32_t)tokens[t] >> (8 * i)) & 0xFF)) * 1099511628211ull;
    return h;
}

static int save(const calib_stats *stats, const calib_options *o, const calib_meta *meta, char *error, size_t size)
{
    if (o->hessian && calib_stats_write_hessian(stats, o->hessian, meta, error, size) != 0) return -1;
    if (o->imatrix && calib_stats_write_imatrix(stats, o->imatrix, meta, error, size) != 0) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    calib_options o;
    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr, "run 'lowbit-calibrate --help' for usage\n");
        return 2;
    }
    char error[1024] = "";
    collector col = {0};
    col.output = o.output;
    col.stats = calib_stats_create(o.hessian != NULL, o.threads);
    engine_session *session = NULL;
    int32_t *tokens = NULL;
    size_t count = 0;
    int rc = 1;
    const double started = tool_now_seconds();
    if (!col.stats) {
        fprintf(stderr, "lowbit-calibrate: out of memory\n");
        return 1;
    }
    engine_options eo = {o.model, o.ctx, o.threads, o.ngl, collect, &col, o.verbose};
    if (engine_open(&eo, &session, error, sizeof error) != 0 ||
        engine_tokenize_file(session, o.text, &tokens, &count, error, sizeof error) != 0)
        goto done;
    const size_t available = count / (size_t)o.ctx;
    if (available == 0) {
        snprintf(error, sizeof error, "%s has %zu tokens, fewer than one chunk of --ctx %d", o.text, count, o.ctx);
        goto done;
    }
    const int chunks = o.chunks && (size_t)o.chunks < available ? o.chunks : (int)available;
    if (o.chunks && (size_t)o.chunks > available)
        fprintf(stderr, "lowbit-calibrate: the text holds %zu chunks of %d tokens; using all of them, not %d\n",
                available, o.ctx, o.chunks);
    calib_meta meta = {o.text, 0, (uint32_t)o.ctx, 0};
    int first = 0;
    if (o.resume && access(o.hessian, F_OK) == 0) {
        calib_meta saved;
        if (calib_stats_resume(col.stats, o.hessian, &saved, error, sizeof error) != 0) goto done;
        /* the saved hash covers the chunks done so far: the same text and --ctx give the same prefix, and a
         * later run may ask for more chunks than the interrupted one */
        if (saved.chunk_size != (uint32_t)o.ctx || saved.chunk_count > (uint32_t)chunks ||
            saved.text_hash != token_hash(tokens, (size_t)saved.chunk_count * (size_t)o.ctx, o.ctx)) {
            snprintf(error, sizeof error,
                     "%s was made from other text or --ctx, or holds more chunks than asked (%u chunks of %u tokens "
                     "saved); remove it or run without --resume",
                     o.hessian, saved.chunk_count, saved.chunk_size);
            goto done;
        }
        meta.chunk_count = saved.chunk_count;
        meta.text_hash = saved.text_hash;
        first = (int)saved.chunk_count;
        fprintf(stderr, "lowbit-calibrate: resuming after chunk %d of %d\n", first, chunks);
    }
    int32_t *chunk = malloc((size_t)o.ctx * sizeof *chunk);
    if (!chunk) {
        snprintf(error, sizeof error, "out of memory");
        goto done;
    }
    const int32_t bos = engine_bos_token(session);
    const int tty = isatty(fileno(stderr));
    for (int c = first; c < chunks; ++c) {
        memcpy(chunk, tokens + (size_t)c * (size_t)o.ctx, (size_t)o.ctx * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        /* logits for every position: the engine computes the last block only for the rows whose output is
         * wanted, so asking for none would leave that block without statistics */
        if (engine_eval_chunk(session, chunk, o.ctx, 0, error, sizeof error) != 0 || col.failed) {
            if (col.failed) snprintf(error, sizeof error, "%s", col.error);
            free(chunk);
            goto done;
        }
        meta.chunk_count = (uint32_t)(c + 1);
        meta.text_hash = token_hash(tokens, (size_t)(c + 1) * (size_t)o.ctx, o.ctx);
        if (calib_stats_weight_count(col.stats) == 0) {
            snprintf(error, sizeof error,
                     "the model has no blk.* weight matrices whose inputs the engine reports (is it a transformer "
                     "GGUF?)");
            free(chunk);
            goto done;
        }
        if (o.hessian && (c + 1) % o.save_every == 0 && c + 1 < chunks &&
            save(col.stats, &o, &meta, error, sizeof error) != 0) {
            free(chunk);
            goto done;
        }
        progress(c + 1 - first, chunks - first, started, tty, c + 1 == chunks);
    }
    free(chunk);
    if (save(col.stats, &o, &meta, error, sizeof error) != 0) goto done;
    const double seconds = tool_now_seconds() - started;
    const double mib = (double)calib_stats_bytes(col.stats) / (1024.0 * 1024.0);
    if (o.json) {
        printf("{\"model\": ");
        tool_json_string(stdout, o.model);
        printf(", \"text\": ");
        tool_json_string(stdout, o.text);
        printf(", \"chunks\": %d, \"ctx\": %d, \"tokens\": %llu, \"weights\": %zu, \"inputs\": %zu, "
               "\"statistics_mib\": %.1f, \"skipped_products\": %llu, \"seconds\": %.2f}\n",
               chunks, o.ctx, (unsigned long long)chunks * (unsigned long long)o.ctx,
               calib_stats_weight_count(col.stats), calib_stats_input_count(col.stats), mib,
               (unsigned long long)col.skipped, seconds);
    } else {
        printf("lowbit-calibrate: %d chunks of %d tokens from %s\n", chunks, o.ctx, o.text);
        printf("  %zu weight matrices, %zu distinct inputs; statistics %.1f MiB in memory\n",
               calib_stats_weight_count(col.stats), calib_stats_input_count(col.stats), mib);
        if (o.imatrix) printf("  imatrix  -> %s\n", o.imatrix);
        if (o.hessian) printf("  Hessians -> %s\n", o.hessian);
        printf("  %.1f s\n", seconds);
    }
    if (col.skipped)
        fprintf(stderr,
                "lowbit-calibrate: warning: %llu matrix products had inputs that are not plain f32 rows and "
                "were left out\n",
                (unsigned long long)col.skipped);
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "lowbit-calibrate: %s\n", error);
    free(tokens);
    free(col.copy);
    engine_close(session);
    calib_stats_free(col.stats);
    return rc;
}
