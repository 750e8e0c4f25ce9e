/* eval_report.h — what lowbit-eval tells people and machines: progress per chunk on stderr (a redrawn bar on a
 * terminal, one line per chunk otherwise, as lowbit-quantize does), and the closing table or JSON object. */
#ifndef LOWBIT_EVAL_REPORT_H
#define LOWBIT_EVAL_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "tools/engine/eval_math.h"

typedef struct eval_progress {
    FILE *out;
    int tty, enabled;
    int total_chunks, done_chunks;
    double start;
    double kld_mean, top1_percent; /* running, shown on the bar; top1_percent < 0: no candidate */
} eval_progress;

void eval_progress_start(eval_progress *progress, FILE *out, int enabled, int total_chunks);
/* Before a chunk's `phase` ("reference", "candidate") runs: redraws the bar on a terminal. */
void eval_progress_phase(eval_progress *progress, const char *phase);
/* After a chunk: the running mean KLD and top-1 agreement (negative: no candidate) and the reference's PPL. */
void eval_progress_chunk(eval_progress *progress, double kld_mean, double top1_percent, double ppl_reference);
void eval_progress_finish(eval_progress *progress);

typedef struct eval_summary {
    const char *reference;        /* the reference model, or NULL with reference_logits */
    const char *reference_logits; /* the reference file read, or NULL */
    const char *model;            /* the candidate, or NULL (a --save-reference run without one) */
    const char *text;             /* or NULL (tokens from the reference file) */
    const char *saved_reference;  /* the reference file written, or NULL */
    int n_ctx, chunks, skip_chunks, n_vocab, threads, n_gpu_layers;
    size_t text_tokens; /* tokens of the whole text; 0 when the tokens came from the reference file */
    eval_results results;
    double seconds, reference_seconds, candidate_seconds;
} eval_summary;

void eval_report_text(FILE *out, const eval_summary *summary);
void eval_report_json(FILE *out, const eval_summary *summary);

#endif
