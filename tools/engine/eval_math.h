/* eval_math.h — what lowbit-eval measures per scored token (KL divergence of the candidate from the
 * reference over the whole vocabulary, top-1 agreement, each model's negative log-likelihood of the actual
 * next token) and the statistics over all of them. Double precision throughout; every quantity is computed
 * the same way for both models, so identical logits give exact zeros. */
#ifndef LOWBIT_EVAL_MATH_H
#define LOWBIT_EVAL_MATH_H

#include <stddef.h>
#include <stdint.h>

/* log Σ exp(x_i) over n logits (max + log Σ exp(x_i − max)) and the first index of the maximum. Returns -1 when a
 * logit is NaN or +inf, or all are -inf (no distribution); -inf entries are probability zero. */
int eval_log_sum_exp(const float *logits, int n, double *log_sum_exp, int32_t *argmax);

typedef struct eval_token_score {
    double kld;                          /* KL(P_ref || P_cand) in nats; +inf when P_cand is 0 where P_ref is not */
    double nll_reference, nll_candidate; /* −log p(next token) */
    int32_t top_reference, top_candidate;
} eval_token_score;

/* One position from both models' raw logits: log-softmax of each in double, then
 * KL = Σ_i p_i (log p_i − log q_i) over the i with p_i > 0. Returns -1 on invalid logits or `next`. */
int eval_score_logits(const float *reference, const float *candidate, int n_vocab, int32_t next,
                      eval_token_score *score);
/* The same against a reference given as log-probabilities (normalized; -inf for probability zero), its top
 * token and its NLL of `next` (what a reference file holds). */
int eval_score_log_probs(const double *reference_log_probs, int32_t reference_top, double reference_nll,
                         const float *candidate, int n_vocab, int32_t next, eval_token_score *score);

/* The q-quantile (0 <= q <= 1) of n >= 1 sorted values, interpolating linearly between the two nearest ranks
 * (position q·(n−1)); q = 0.5 is the median (the mean of the middle two for even n). */
double eval_percentile(const double *sorted, size_t n, double q);

/* Everything scored so far. Zero-initialize; eval_totals_free releases it. */
typedef struct eval_totals {
    double *kld; /* per scored token, in order (sorted by eval_totals_finish) */
    size_t count, capacity;
    size_t same_top;
    double sum_nll_reference, sum_nll_candidate;
    int has_candidate; /* 0: only the reference was run (a --save-reference run without --model) */
} eval_totals;

/* Adds one token; `score->kld`, `top_candidate` and `nll_candidate` are ignored when !has_candidate. Returns -1
 * when out of memory. */
int eval_totals_add(eval_totals *totals, const eval_token_score *score);
void eval_totals_free(eval_totals *totals);

typedef struct eval_results {
    size_t tokens;
    int has_candidate;
    double kld_mean, kld_standard_error, kld_median, kld_p99, kld_max;
    double top1_percent;
    double ppl_reference, ppl_candidate, delta_ppl, delta_ppl_percent; /* ppl = exp(mean NLL) */
} eval_results;

/* The summary (sorts totals->kld). Standard error: sample standard deviation / √n (0 for n < 2). */
eval_results eval_totals_finish(eval_totals *totals);

#endif
