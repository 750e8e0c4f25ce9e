/* eval_math.c — log-softmax, KL divergence, top-1 and NLL per scored token, and the closing statistics of
 * lowbit-eval. The reference and the candidate go through the very same expressions (same order of
 * operations), so a candidate whose logits equal the reference's scores exactly 0 KLD and 0 ΔPPL. */
#include "tools/engine/eval_math.h"

#include <math.h>
#include <stdlib.h>

int eval_log_sum_exp(const float *logits, int n, double *log_sum_exp, int32_t *argmax)
{
    if (n < 1) return -1;
    int32_t top = 0;
    float max = logits[0];
    for (int i = 0; i < n; ++i) {
        if (isnan(logits[i]) || logits[i] == INFINITY) return -1;
        if (logits[i] > max) {
            max = logits[i];
            top = i;
        }
    }
    if (max == -INFINITY) return -1;
    double sum = 0.0;
    for (int i = 0; i < n; ++i)
        sum += exp((double)logits[i] - (double)max);
    /* sum >= 1 (the maximum contributes exp(0)), so the log is finite and >= 0 */
    *log_sum_exp = (double)max + log(sum);
    *argmax = top;
    return 0;
}

int eval_score_logits(const float *reference, const float *candidate, int n_vocab, int32_t next,
                      eval_token_score *score)
{
    double lse_reference, lse_candidate;
    if (next < 0 || next >= n_vocab) return -1;
    if (eval_log_sum_exp(reference, n_vocab, &lse_reference, &score->top_reference) != 0 ||
        eval_log_sum_exp(candidate, n_vocab, &lse_candidate, &score->top_candidate) != 0)
        return -1;
    double kld = 0.0;
    for (int i = 0; i < n_vocab; ++i) {
        if (reference[i] == -INFINITY) continue; /* p_i = 0 adds nothing */
        const double log_p = (double)reference[i] - lse_reference;
        const double log_q = (double)candidate[i] - lse_candidate;
        kld += exp(log_p) * (log_p - log_q);
    }
    score->kld = kld;
    score->nll_reference = lse_reference - (double)reference[next];
    score->nll_candidate = lse_candidate - (double)candidate[next];
    return 0;
}

int eval_score_log_probs(const double *reference_log_probs, int32_t reference_top, double reference_nll,
                         const float *candidate, int n_vocab, int32_t next, eval_token_score *score)
{
    double lse_candidate;
    if (next < 0 || next >= n_vocab || reference_top < 0 || reference_top >= n_vocab) return -1;
    if (eval_log_sum_exp(candidate, n_vocab, &lse_candidate, &score->top_candidate) != 0) return -1;
    double kld = 0.0;
    for (int i = 0; i < n_vocab; ++i) {
        const double log_p = reference_log_probs[i];
        if (log_p == -INFINITY) continue;
        kld += exp(log_p) * (log_p - ((double)candidate[i] - lse_candidate));
    }
    score->kld = kld;
    score->top_reference = reference_top;
    score->nll_reference = reference_nll;
    score->nll_candidate = lse_candidate - (double)candidate[next];
    return 0;
}

double eval_percentile(const double *sorted, size_t n, double q)
{
    if (n == 0) return 0.0;
    if (q <= 0.0) return sorted[0];
    if (q >= 1.0) return sorted[n - 1];
    const double position = q * (double)(n - 1);
    const size_t below = (size_t)position;
    const double fraction = position - (double)below;
    if (below + 1 >= n || fraction == 0.0) return sorted[below];
    return sorted[below] + fraction * (sorted[below + 1] - sorted[below]);
}

int eval_totals_add(eval_totals *totals, const eval_token_score *score)
{
    if (totals->has_candidate) {
        if (totals->count == totals->capacity) {
            size_t capacity = totals->capacity ? totals->capacity * 2 : 4096;
            double *grown = realloc(totals->kld, capacity * sizeof *grown);
            if (!grown) return -1;
            totals->kld = grown;
            totals->capacity = capacity;
        }
        totals->kld[totals->count] = score->kld;
        totals->same_top += score->top_reference == score->top_candidate;
        totals->sum_nll_candidate += score->nll_candidate;
    }
    totals->sum_nll_reference += score->nll_reference;
    totals->count++;
    return 0;
}

void eval_totals_free(eval_totals *totals)
{
    free(totals->kld);
    totals->kld = NULL;
    totals->count = totals->capacity = 0;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

eval_results eval_totals_finish(eval_totals *totals)
{
    eval_results results = {0};
    const size_t n = totals->count;
    results.tokens = n;
    results.has_candidate = totals->has_candidate;
    if (n == 0) return results;
    results.ppl_reference = exp(totals->sum_nll_reference / (double)n);
    if (!totals->has_candidate) return results;
    results.ppl_candidate = exp(totals->sum_nll_candidate / (double)n);
    results.delta_ppl = results.ppl_candidate - results.ppl_reference;
    results.delta_ppl_percent = 100.0 * results.delta_ppl / results.ppl_reference;
    results.top1_percent = 100.0 * (double)totals->same_top / (double)n;

    double sum = 0.0;
    for (size_t i = 0; i < n; ++i)
        sum += totals->kld[i];
    results.kld_mean = sum / (double)n;
    if (n > 1) {
        double squares = 0.0; /* two passes: no cancellation when the KLDs are all alike */
        for (size_t i = 0; i < n; ++i)
            squares += (totals->kld[i] - results.kld_mean) * (totals->kld[i] - results.kld_mean);
        results.kld_standard_error = sqrt(squares / (double)(n - 1) / (double)n);
    }
    qsort(totals->kld, n, sizeof *totals->kld, compare_doubles);
    results.kld_median = eval_percentile(totals->kld, n, 0.5);
    results.kld_p99 = eval_percentile(totals->kld, n, 0.99);
    results.kld_max = totals->kld[n - 1];
    return results;
}
