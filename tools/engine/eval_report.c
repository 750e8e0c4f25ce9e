/* eval_report.c — progress display and the closing report (text table or JSON) of lowbit-eval. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "tools/engine/eval_report.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "tools/common/tool_util.h"

void eval_progress_start(eval_progress *progress, FILE *out, int enabled, int total_chunks)
{
    memset(progress, 0, sizeof *progress);
    progress->out = out;
    progress->enabled = enabled && out;
    progress->tty = progress->enabled && isatty(fileno(out));
    progress->total_chunks = total_chunks;
    progress->start = tool_now_seconds();
}

static double eta_seconds(const eval_progress *progress, double elapsed)
{
    if (progress->done_chunks == 0) return 0.0;
    return elapsed / progress->done_chunks * (progress->total_chunks - progress->done_chunks);
}

static void draw_bar(eval_progress *progress, const char *phase)
{
    const int width = 24;
    const double fraction =
        progress->total_chunks ? (double)progress->done_chunks / (double)progress->total_chunks : 1.0;
    const double elapsed = tool_now_seconds() - progress->start;
    const int filled = (int)(fraction * width + 0.5);
    char bar[32];
    for (int i = 0; i < width; ++i)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(progress->out, "\r\033[K[%s] %3.0f%% chunk %d/%d %-9s", bar, fraction * 100.0,
            progress->done_chunks + (phase ? 1 : 0), progress->total_chunks, phase ? phase : "");
    if (progress->done_chunks > 0 && progress->top1_percent >= 0.0)
        fprintf(progress->out, "  KLD %.6f top-1 %.2f %%", progress->kld_mean, progress->top1_percent);
    fprintf(progress->out, "  %.1fs ETA %.1fs", elapsed, eta_seconds(progress, elapsed));
    fflush(progress->out);
}

void eval_progress_phase(eval_progress *progress, const char *phase)
{
    if (progress->enabled && progress->tty) draw_bar(progress, phase);
}

void eval_progress_chunk(eval_progress *progress, double kld_mean, double top1_percent, double ppl_reference)
{
    progress->done_chunks++;
    progress->kld_mean = kld_mean;
    progress->top1_percent = top1_percent;
    if (!progress->enabled) return;
    if (progress->tty) {
        draw_bar(progress, NULL);
        return;
    }
    const double elapsed = tool_now_seconds() - progress->start;
    if (top1_percent >= 0.0)
        fprintf(progress->out, "[%d/%d] mean KLD %.6f  top-1 %.2f %%  reference PPL %.4f  %.1fs ETA %.1fs\n",
                progress->done_chunks, progress->total_chunks, kld_mean, top1_percent, ppl_reference, elapsed,
                eta_seconds(progress, elapsed));
    else
        fprintf(progress->out, "[%d/%d] reference PPL %.4f  %.1fs ETA %.1fs\n", progress->done_chunks,
                progress->total_chunks, ppl_reference, elapsed, eta_seconds(progress, elapsed));
    fflush(progress->out);
}

void eval_progress_finish(eval_progress *progress)
{
    if (progress->enabled && progress->tty) {
        fputc('\n', progress->out);
        fflush(progress->out);
    }
}

void eval_report_text(FILE *out, const eval_summary *summary)
{
    const eval_results *r = &summary->results;
    fprintf(out, "\nreference: %s%s\n", summary->reference ? summary->reference : summary->reference_logits,
            summary->reference ? "" : " (saved log-probabilities)");
    if (summary->model) fprintf(out, "candidate: %s\n", summary->model);
    if (summary->text) fprintf(out, "text:      %s (%zu tokens)\n", summary->text, summary->text_tokens);
    fprintf(out, "scored:    %zu tokens: %d chunk%s of %d (second half of each scored), %d skipped; vocabulary %d\n",
            r->tokens, summary->chunks, summary->chunks == 1 ? "" : "s", summary->n_ctx, summary->skip_chunks,
            summary->n_vocab);
    if (summary->saved_reference) fprintf(out, "saved:     %s\n", summary->saved_reference);
    fputc('\n', out);
    if (!r->has_candidate) {
        fprintf(out, "perplexity (reference)  %.4f\n", r->ppl_reference);
    } else {
        fprintf(out, "%-24s %12s %12s %12s\n", "", "reference", "candidate", "change");
        fprintf(out, "%-24s %12.4f %12.4f %+12.4f (%+.3f %%)\n", "perplexity", r->ppl_reference, r->ppl_candidate,
                r->delta_ppl, r->delta_ppl_percent);
        fprintf(out, "%-24s %.6f ± %.6f\n", "KL divergence, mean", r->kld_mean, r->kld_standard_error);
        fprintf(out, "%-24s %.6f\n", "KL divergence, median", r->kld_median);
        fprintf(out, "%-24s %.6f\n", "KL divergence, 99 %", r->kld_p99);
        fprintf(out, "%-24s %.6f\n", "KL divergence, max", r->kld_max);
        fprintf(out, "%-24s %.3f %%\n", "top-1 agreement", r->top1_percent);
    }
    fprintf(out, "time: %.2f s", summary->seconds);
    if (summary->reference) fprintf(out, " (reference %.2f s", summary->reference_seconds);
    if (summary->model)
        fprintf(out, "%scandidate %.2f s", summary->reference ? ", " : " (", summary->candidate_seconds);
    fprintf(out, "%s\n", summary->reference || summary->model ? ")" : "");
}

/* JSON has no NaN or infinity: those (an infinite KLD, where the candidate gives probability 0 to a token the
 * reference does not) are written as null. */
static void json_number(FILE *out, double value)
{
    if (isfinite(value))
        fprintf(out, "%.17g", value);
    else
        fprintf(out, "null");
}

static void json_path(FILE *out, const char *key, const char *path, int last)
{
    fprintf(out, "  \"%s\": ", key);
    if (path)
        tool_json_string(out, path);
    else
        fprintf(out, "null");
    fprintf(out, "%s\n", last ? "" : ",");
}

void eval_report_json(FILE *out, const eval_summary *summary)
{
    const eval_results *r = &summary->results;
    fprintf(out, "{\n");
    json_path(out, "reference", summary->reference, 0);
    json_path(out, "reference_logits", summary->reference_logits, 0);
    json_path(out, "model", summary->model, 0);
    json_path(out, "text", summary->text, 0);
    json_path(out, "saved_reference", summary->saved_reference, 0);
    fprintf(out,
            "  \"ctx\": %d,\n  \"chunks\": %d,\n  \"skip_chunks\": %d,\n  \"n_vocab\": %d,\n  \"threads\": %d,\n"
            "  \"ngl\": %d,\n  \"text_tokens\": %zu,\n  \"tokens_scored\": %zu,\n  \"ppl_reference\": ",
            summary->n_ctx, summary->chunks, summary->skip_chunks, summary->n_vocab, summary->threads,
            summary->n_gpu_layers, summary->text_tokens, r->tokens);
    json_number(out, r->ppl_reference);
    {
        /* without a candidate (a --save-reference run) its fields are null, so the keys are always there */
        const double none = r->has_candidate ? 0.0 : NAN;
        const struct {
            const char *key;
            double value;
        } fields[] = {{"ppl_candidate", r->ppl_candidate + none},
                      {"delta_ppl", r->delta_ppl + none},
                      {"delta_ppl_percent", r->delta_ppl_percent + none},
                      {"kld_mean", r->kld_mean + none},
                      {"kld_standard_error", r->kld_standard_error + none},
                      {"kld_median", r->kld_median + none},
                      {"kld_p99", r->kld_p99 + none},
                      {"kld_max", r->kld_max + none},
                      {"top1_percent", r->top1_percent + none}};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) {
            fprintf(out, ",\n  \"%s\": ", fields[i].key);
            json_number(out, fields[i].value);
        }
    }
    fprintf(out, ",\n  \"seconds\": %.3f,\n  \"reference_seconds\": %.3f,\n  \"candidate_seconds\": %.3f\n}\n",
            summary->seconds, summary->reference_seconds, summary->candidate_seconds);
}
