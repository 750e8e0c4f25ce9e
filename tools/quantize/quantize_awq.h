/* quantize_awq.h — activation-aware scaling (AWQ) of the weight matrices that read one activation.
 *
 * For an input x with per-channel scales s, W·x = (W·diag(s))·(diag(s)⁻¹·x): the weights' columns are
 * multiplied by s and the activation divided by it, which lowbit-quantize folds into the RMS norm that
 * produces x (or, for the FFN down projection, into the rows of the up projection), so the file stays an
 * ordinary GGUF of the same architecture. Channels that carry large activations get finer quantization steps.
 * The scales are s_j = rms_j^α (rms_j = √H_jj, normalized so that max·min = 1); α is searched on a grid over
 * [0, 1] to minimize the layer-output error tr(Δ·H·Δᵀ), Δ = W − Q(W·diag(s))·diag(s)⁻¹, summed over the
 * matrices of the group (a subset of rows of each). α = 0 is plain quantization, so the search never picks
 * scales that do worse than it on this measure. */
#ifndef LOWBIT_QUANTIZE_AWQ_H
#define LOWBIT_QUANTIZE_AWQ_H

#include <stddef.h>

#include "lowbit/lowbit_format.h"

#define QUANTIZE_AWQ_GRID 20 /* α = 0, 1/20, …, 1 */

typedef struct quantize_awq_matrix {
    const float *w; /* rows × cols, f32 */
    size_t rows;
    lowbit_format format; /* what the matrix will be quantized to */
} quantize_awq_matrix;

typedef struct quantize_awq_result {
    double alpha;        /* chosen exponent */
    double error_plain;  /* layer-output error at α = 0 (the sampled rows) */
    double error_scaled; /* at the chosen α */
} quantize_awq_result;

/* Fills scales[cols] for the group. forced_alpha ≥ 0 skips the search (scales from that α). Returns 0, or -1
 * with a message. */
/* SmoothQuant's migration scales: s_j = a_j^α / w_j^(1−α), a_j = max |x_j| over the calibration text (absmax),
 * w_j = max |W_ij| over every row of the group's matrices; a channel where either is zero keeps s_j = 1, and s is
 * kept in [1e-4, 1e4]. Dividing x by s flattens the activation outliers that per-block int8 activations
 * round badly, at the cost of steeper weight columns. Returns 0, or -1 with a message. */
int quantize_smooth_scales(const quantize_awq_matrix *matrices, size_t count, size_t cols, const float *absmax,
                           double alpha, float *scales, char *error, size_t error_size);

int quantize_awq_search(const quantize_awq_matrix *matrices, size_t count, size_t cols, const float *hessian,
                        double forced_alpha, int n_threads, float *scales, quantize_awq_result *result, char *error,
                        size_t error_size);

#endif
