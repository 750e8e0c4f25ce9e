/* lowbit-eval — what a quantization costs: KL divergence, top-1 agreement and perplexity change of a candidate
 * model against its reference over a text, both run through the pinned llama.cpp engine; see --help. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/tool_util.h"
#include "tools/engine/engine_session.h"
#include "tools/engine/eval_math.h"
#include "tools/engine/eval_options.h"
#include "tools/engine/eval_reference.h"
#include "tools/engine/eval_report.h"

/* Everything one run holds; released by run_free whatever happened. */
typedef struct eval_run {
    engine_session *reference, *candidate;
    eval_reference_reader *reader;
    eval_reference_writer *writer;
    int32_t *text_tokens, *chunk_tokens; /* the whole text; the chunks evaluated (chunks × n_ctx) */
    size_t text_token_count;
    double *reference_log_probs; /* one token's, from the reference file */
    eval_totals totals;
} eval_run;

static void run_free(eval_run *run)
{
    engine_close(run->candidate);
    engine_close(run->reference);
    eval_reference_reader_close(run->reader);
    eval_reference_writer_abort(run->writer);
    free(run->text_tokens);
    free(run->chunk_tokens);
    free(run->reference_log_probs);
    eval_totals_free(&run->totals);
}

static int open_model(const eval_options *options, const char *path, int n_ctx, engine_session **out, char *error,
                      size_t error_size)
{
    engine_options engine = {0};
    engine.model_path = path;
    engine.n_ctx = n_ctx;
    engine.threads = options->threads;
    engine.n_gpu_layers = options->n_gpu_layers;
    engine.verbose = options->verbose;
    return engine_open(&engine, out, error, error_size);
}

/* Cuts chunks [skip, skip + chunks) of n_ctx tokens out of the text, the first token of each replaced by BOS when
 * the model starts its sequences with one. *chunks 0: all that fit. */
static int cut_chunks(const int32_t *tokens, size_t count, const char *text, int n_ctx, int skip, int *chunks,
                      int32_t bos, int32_t **out, char *error, size_t error_size)
{
    const size_t available = count / (size_t)n_ctx;
    if (available == 0) {
        snprintf(error, error_size,
                 "text '%s' is %zu tokens; one chunk of --ctx %d needs %d (a longer text or a "
                 "smaller --ctx)",
                 text, count, n_ctx, n_ctx);
        return -1;
    }
    if ((size_t)skip >= available) {
        snprintf(error, error_size, "text '%s' is %zu tokens: %zu chunk%s of %d, all skipped by --skip-chunks %d", text,
                 count, available, available == 1 ? "" : "s", n_ctx, skip);
        return -1;
    }
    const size_t left = available - (size_t)skip;
    if (*chunks == 0) *chunks = left > (size_t)INT32_MAX ? INT32_MAX : (int)left;
    if ((size_t)*chunks > left) {
        snprintf(error, error_size, "text '%s' is %zu tokens: %zu chunk%s of %d after skipping %d, not --chunks %d",
                 text, count, left, left == 1 ? "" : "s", n_ctx, skip, *chunks);
        return -1;
    }
    const size_t total = (size_t)*chunks * (size_t)n_ctx;
    *out = malloc(total * sizeof **out);
    if (!*out) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    memcpy(*out, tokens + (size_t)skip * (size_t)n_ctx, total * sizeof **out);
    for (int c = 0; bos >= 0 && c < *chunks; ++c)
        (*out)[(size_t)c * (size_t)n_ctx] = bos;
    return 0;
}

static int check_vocabularies(int reference, const char *what, int candidate, char *error, size_t error_size)
{
    if (reference == candidate) return 0;
    snprintf(error, error_size,
             "vocabularies differ: %s has %d tokens, the candidate %d; KL divergence needs the "
             "same vocabulary",
             what, reference, candidate);
    return -1;
}

/* Models and tokens in place: the reference (model or file), the candidate, and the chunks both see. */
static int prepare(const eval_options *options, eval_run *run, eval_summary *summary, char *error, size_t error_size)
{
    int n_ctx = options->n_ctx, skip = options->skip_chunks, chunks = options->chunks;
    if (options->reference_logits) {
        if (eval_reference_reader_open(options->reference_logits, &run->reader, error, error_size) != 0) return -1;
        const eval_reference_header *h = eval_reference_reader_header(run->reader);
        if ((options->ctx_given && (uint32_t)n_ctx != h->n_ctx) ||
            (options->skip_given && (uint32_t)skip != h->skip_chunks) ||
            (options->chunks_given && (uint32_t)chunks > h->chunk_count)) {
            snprintf(error, error_size,
                     "--reference-logits '%s' holds --ctx %u --skip-chunks %u --chunks %u; the "
                     "options given ask for another context or more chunks",
                     options->reference_logits, h->n_ctx, h->skip_chunks, h->chunk_count);
            return -1;
        }
        n_ctx = (int)h->n_ctx;
        skip = (int)h->skip_chunks;
        if (!options->chunks_given) chunks = (int)h->chunk_count;
        run->reference_log_probs = malloc((size_t)h->n_vocab * sizeof *run->reference_log_probs);
        if (!run->reference_log_probs) {
            snprintf(error, error_size, "out of memory");
            return -1;
        }
    }
    if (options->reference && open_model(options, options->reference, n_ctx, &run->reference, error, error_size) != 0)
        return -1;
    if (options->model && open_model(options, options->model, n_ctx, &run->candidate, error, error_size) != 0)
        return -1;
    const int n_vocab = engine_n_vocab(run->reference ? run->reference : run->candidate);
    if (run->reference && run->candidate &&
        check_vocabularies(n_vocab, "the reference", engine_n_vocab(run->candidate), error, error_size) != 0)
        return -1;
    if (run->reader) {
        const eval_reference_header *h = eval_reference_reader_header(run->reader);
        char what[64];
        snprintf(what, sizeof what, "the reference file");
        if (check_vocabularies((int)h->n_vocab, what, n_vocab, error, error_size) != 0) return -1;
    }

    engine_session *tokenizer = run->reference ? run->reference : run->candidate;
    if (options->text) {
        if (engine_tokenize_file(tokenizer, options->text, &run->text_tokens, &run->text_token_count, error,
                                 error_size) != 0)
            return -1;
        if (run->reference && run->candidate) {
            int32_t *other = NULL;
            size_t other_count = 0;
            if (engine_tokenize_file(run->candidate, options->text, &other, &other_count, error, error_size) != 0)
                return -1;
            const int same = other_count == run->text_token_count &&
                             memcmp(other, run->text_tokens, other_count * sizeof *other) == 0 &&
                             engine_bos_token(run->reference) == engine_bos_token(run->candidate);
            free(other);
            if (!same) {
                snprintf(error, error_size, "the two models tokenize '%s' differently: their tokenizers differ",
                         options->text);
                return -1;
            }
        }
        if (cut_chunks(run->text_tokens, run->text_token_count, options->text, n_ctx, skip, &chunks,
                       engine_bos_token(tokenizer), &run->chunk_tokens, error, error_size) != 0)
            return -1;
    }
    if (run->reader) {
        const size_t total = (size_t)chunks * (size_t)n_ctx;
        const int32_t *saved = eval_reference_reader_tokens(run->reader);
        if (run->chunk_tokens && memcmp(run->chunk_tokens, saved, total * sizeof *saved) != 0) {
            snprintf(error, error_size,
                     "the tokens of '%s' (--ctx %d, --skip-chunks %d) are not those the reference "
                     "file '%s' was made from",
                     options->text, n_ctx, skip, options->reference_logits);
            return -1;
        }
        if (!run->chunk_tokens) {
            run->chunk_tokens = malloc(total * sizeof *run->chunk_tokens);
            if (!run->chunk_tokens) {
                snprintf(error, error_size, "out of memory");
                return -1;
            }
            memcpy(run->chunk_tokens, saved, total * sizeof *saved);
        }
    }
    if (options->save_reference) {
        eval_reference_header header;
        eval_reference_header_init(&header, (uint32_t)n_vocab, (uint32_t)n_ctx, (uint32_t)skip, (uint32_t)chunks);
        if (eval_reference_writer_open(options->save_reference, &header, run->chunk_tokens, &run->writer, error,
                                       error_size) != 0)
            return -1;
    }
    run->totals.has_candidate = run->candidate != NULL;
    summary->n_ctx = n_ctx;
    summary->skip_chunks = skip;
    summary->chunks = chunks;
    summary->n_vocab = n_vocab;
    summary->text_tokens = run->text_token_count;
    return 0;
}

/* Scores positions first .. n_ctx − 2 of the chunk just evaluated (the logits at j predict token j + 1). */
static int score_chunk(eval_run *run, const int32_t *chunk, int n_ctx, int n_vocab, double *kld_sum, char *error,
                       size_t error_size)
{
    for (int j = n_ctx / 2; j < n_ctx - 1; ++j) {
        const int32_t next = chunk[j + 1];
        const float *reference = run->reference ? engine_logits(run->reference, j) : NULL;
        const float *candidate = run->candidate ? engine_logits(run->candidate, j) : NULL;
        eval_token_score score = {0};
        int rc = 0;
        if (run->writer && eval_reference_writer_add(run->writer, reference, next, error, error_size) != 0) return -1;
        if (run->reader) {
            eval_reference_record record;
            if (eval_reference_reader_next(run->reader, &record, run->reference_log_probs, error, error_size) != 0)
                return -1;
            rc = eval_score_log_probs(run->reference_log_probs, (int32_t)record.top, record.nll, candidate, n_vocab,
                                      next, &score);
        } else if (candidate) {
            rc = eval_score_logits(reference, candidate, n_vocab, next, &score);
        } else {
            double log_sum_exp;
            rc = eval_log_sum_exp(reference, n_vocab, &log_sum_exp, &score.top_reference);
            score.nll_reference = log_sum_exp - (double)reference[next];
        }
        if (rc != 0) {
            snprintf(error, error_size, "position %d: a model produced NaN or infinite logits", j);
            return -1;
        }
        if (eval_totals_add(&run->totals, &score) != 0) {
            snprintf(error, error_size, "out of memory");
            return -1;
        }
        *kld_sum += score.kld;
    }
    return 0;
}

static int evaluate(eval_run *run, eval_summary *summary, char *error, size_t error_size)
{
    const int n_ctx = summary->n_ctx, first = n_ctx / 2;
    eval_progress progress;
    eval_progress_start(&progress, stderr, 1, summary->chunks);
    double kld_sum = 0.0;
    int rc = 0;
    for (int c = 0; rc == 0 && c < summary->chunks; ++c) {
        const int32_t *chunk = run->chunk_tokens + (size_t)c * (size_t)n_ctx;
        if (run->reference) {
            eval_progress_phase(&progress, "reference");
            const double start = tool_now_seconds();
            rc = engine_eval_chunk(run->reference, chunk, n_ctx, first, error, error_size);
            summary->reference_seconds += tool_now_seconds() - start;
        }
        if (rc == 0 && run->candidate) {
            eval_progress_phase(&progress, "candidate");
            const double start = tool_now_seconds();
            rc = engine_eval_chunk(run->candidate, chunk, n_ctx, first, error, error_size);
            summary->candidate_seconds += tool_now_seconds() - start;
        }
        if (rc == 0) rc = score_chunk(run, chunk, n_ctx, summary->n_vocab, &kld_sum, error, error_size);
        if (rc == 0) {
            const eval_totals *t = &run->totals;
            eval_progress_chunk(&progress, kld_sum / (double)t->count,
                                run->candidate ? 100.0 * (double)t->same_top / (double)t->count : -1.0,
                                exp(t->sum_nll_reference / (double)t->count));
        }
    }
    eval_progress_finish(&progress);
    if (rc != 0) return -1;
    if (run->writer) {
        eval_reference_writer *writer = run->writer;
        run->writer = NULL; /* commit frees it */
        if (eval_reference_writer_commit(writer, error, error_size) != 0) return -1;
    }
    summary->results = eval_totals_finish(&run->totals);
    return 0;
}

int main(int argc, char **argv)
{
    eval_options options;
    char error[2048] = "";
    if (eval_options_parse(argc, argv, &options, error, sizeof error) != 0) {
        fprintf(stderr, "lowbit-eval: %s\n", error);
        fprintf(stderr, "run 'lowbit-eval --help' for usage\n");
        return 2;
    }
    if (options.help) {
        eval_options_usage(stdout);
        return 0;
    }
    const double start = tool_now_seconds();
    eval_run run;
    memset(&run, 0, sizeof run);
    eval_summary summary;
    memset(&summary, 0, sizeof summary);
    summary.reference = options.reference;
    summary.reference_logits = options.reference_logits;
    summary.model = options.model;
    summary.text = options.text;
    summary.saved_reference = options.save_reference;
    summary.threads = options.threads;
    summary.n_gpu_layers = options.n_gpu_layers;
    int rc = prepare(&options, &run, &summary, error, sizeof error);
    if (rc == 0) rc = evaluate(&run, &summary, error, sizeof error);
    run_free(&run);
    if (rc != 0) {
        fprintf(stderr, "lowbit-eval: %s\n", error);
        return 1;
    }
    summary.seconds = tool_now_seconds() - start;
    if (options.json)
        eval_report_json(stdout, &summary);
    else
        eval_report_text(stdout, &summary);
    return 0;
}
