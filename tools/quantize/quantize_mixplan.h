/* quantize_mixplan.h — lowbit-quantize's mixed-precision planner (--plan, --plan-file, --explain).
 *
 * --plan gives every eligible matrix (2-D, quantized by the TYPE rules, not pinned by --tensor-type,
 * --output-tensor-type or --token-embedding-type) one format from the candidates. Per matrix and candidate it
 * quantizes the weights, dequantizes them and measures the relative layer-output error
 *     e = tr(ΔW·H·ΔWᵀ) / tr(W·H·Wᵀ),   ΔW = W − Ŵ,   H = E[x·xᵀ] from --hessian
 * (with --imatrix only: H's diagonal; with neither: H = I). With --device it also times each candidate's GEMV on
 * that device at the matrix's shape (tuned parameters, weights rotated past the cache). It then solves the
 * multiple-choice knapsack "smallest Σ e under the byte (and time) budget" by the Lagrangian greedy on each
 * matrix's lower convex hull, then spends what is left on the best single upgrades that still fit.
 *
 * The plan is JSON ("lowbit-quantize plan", version 1): the budget, the prediction, and per tensor its format,
 * bytes, error, time and the candidates measured. --plan-file applies any such file (only "name" and "format"
 * of each tensor are read), so a plan can be edited by hand and re-applied. */
#ifndef LOWBIT_QUANTIZE_MIXPLAN_H
#define LOWBIT_QUANTIZE_MIXPLAN_H

#include <stddef.h>
#include <stdio.h>

#include "tools/quantize/quantize_hessian.h"
#include "tools/quantize/quantize_imatrix.h"
#include "tools/quantize/quantize_options.h"
#include "tools/quantize/quantize_report.h"

#define QUANTIZE_PLAN_KIND "lowbit-quantize plan"
#define QUANTIZE_PLAN_VERSION 1

/* What the planner reads besides the options: the source of each tensor as f32 (malloc'd rows × cols, NULL on
 * failure) and the calibration statistics (either may be NULL). */
typedef struct quantize_mixplan_source {
    void *user;
    float *(*load)(void *user, size_t index);
    const quantize_hessians *hessians;
    const quantize_imatrix *imatrix;
} quantize_mixplan_source;

/* Plans (--plan) or applies a plan file (--plan-file) over the summary's tensors, whose target formats the TYPE
 * rules set: the chosen ones get their new format, reason "plan" and target bytes. Writes the plan file (--plan,
 * also under --dry-run) and, with --explain, the table to `out`. `progress` (stderr or NULL) gets one line per
 * tensor measured. Returns 0, or -1 with a message. */
int quantize_mixplan_run(const quantize_options *options, quantize_summary *summary,
                         const quantize_mixplan_source *source, FILE *out, FILE *progress, char *error,
                         size_t error_size);

/* Solver, exposed for the tests: `count` items, item i has choices[i][0..sizes[i]) of (bytes, seconds, error);
 * picks one per item so that Σ error is smallest (greedy on the convex hulls, then the best fitting single
 * upgrades) with Σ bytes ≤ byte_budget (0: none) and Σ seconds ≤ time_budget (0: none). picks[i] gets the
 * index; returns 0, or -1 when even the cheapest choices exceed a budget. */
typedef struct quantize_mix_choice {
    double bytes, seconds, error;
} quantize_mix_choice;
int quantize_mix_solve(const quantize_mix_choice *const *choices, const size_t *sizes, size_t count, double byte_budget,
                       double time_budget, size_t *picks);

#endif
