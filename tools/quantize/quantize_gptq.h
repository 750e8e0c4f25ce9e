/* quantize_gptq.h — GPTQ (optimal brain quantization, column by column with error feedback through the
 * inverse Hessian of the layer input) over lowbit's GGUF block formats.
 *
 * The Hessian of one weight matrix W (rows × cols, y = W·x) is H = E[x·xᵀ] over calibration
 * activations (cols × cols; lowbit-calibrate writes it). GPTQ quantizes the columns of W in order; the
 * rounding error of column j, divided by the j-th diagonal of the upper Cholesky factor U of H⁻¹, is
 * pushed onto the later columns through row j of U, which keeps the layer output W·x closest to the
 * original under H. Rows are independent, so any set of rows can be done alone (and in parallel).
 *
 * The format's own block structure is kept: at the start of each block (32 or 256 columns) the block's
 * scales (and mins) are chosen by the format's ordinary quantizer on the error-updated weights, weighted
 * by diag(H) (or a given importance vector); the columns of the block are then rounded one by one to the
 * values those scales allow. Formats whose values are not an affine (or fixed-table) function of
 * per-element codes — the lattice grids IQ1/IQ2/IQ3 — keep the whole block as the quantizer returned it
 * and still pass its error on to the later blocks. */
#ifndef LOWBIT_QUANTIZE_GPTQ_H
#define LOWBIT_QUANTIZE_GPTQ_H

#include <stddef.h>

#include "lowbit/lowbit_format.h"

typedef struct quantize_gptq_factor {
    size_t cols;
    float *u;            /* cols × cols, upper triangle of the Cholesky factor of (H + λI)⁻¹ (row-major) */
    float *importance;   /* diag(H), the format search's weights when no imatrix is given */
    unsigned char *dead; /* columns never active in the calibration data (H_jj = 0): quantized as zero input */
    double damp;         /* λ actually used (relative damping × mean diagonal, raised until H + λI factored) */
    size_t *order;       /* activation order (u is then of the permuted Hessian): order[p] = column; NULL: natural */
} quantize_gptq_factor;

/* Factors H (cols × cols, symmetric, row-major) with relative damping `damp_fraction` (0.01 is GPTQ's
 * default) of the mean diagonal. Returns 0, or -1 with a message (non-finite values, not positive
 * semi-definite even with 1000× the damping, out of memory). */
int quantize_gptq_prepare(const float *hessian, size_t cols, double damp_fraction, quantize_gptq_factor *out,
                          char *error, size_t error_size);
/* The same with act_order: columns by decreasing diag(H) (GPTQ's act_order, with static groups — see
 * quantize_gptq_rows). */
int quantize_gptq_prepare_ordered(const float *hessian, size_t cols, double damp_fraction, int act_order,
                                  quantize_gptq_factor *out, char *error, size_t error_size);
void quantize_gptq_factor_free(quantize_gptq_factor *factor);

/* Whether GPTQ rounds this format column by column (1), or keeps its blocks whole (0). */
int quantize_gptq_per_column(lowbit_format format);
/* Whether quantize_gptq_rows takes the format: the column-rounded ones and the lattice grids IQ1_S, IQ1_M,
 * IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S. The ternary, 1/2-bit and FP4 formats are not taken: with their
 * whole blocks fixed at once, the error fed forward is large enough to make the layer worse than plain
 * rounding (measured on synthetic layers), so they stay with the importance-weighted search. */
int quantize_gptq_supports(lowbit_format format);

/* Quantizes rows × cols f32 weights (cols == factor->cols, a multiple of the format's block size) into dst
 * (rows × lowbit_format_row_size bytes). With an ordered factor, every block's scales are chosen first on the
 * unquantized row ("static groups": GGUF has no column permutation, so a block's scales cannot wait for its
 * columns scattered through the order), then the columns are rounded in activation order; only the formats
 * rounded per column take an ordered factor. `importance` (cols values) replaces diag(H) as the block search's
 * weights when given. n_threads 0 = all cores; the output does not depend on it. Returns a lowbit_status
 * (LOWBIT_ERROR_UNSUPPORTED for a format quantize_gptq_supports refuses). */
int quantize_gptq_rows(const quantize_gptq_factor *factor, lowbit_format format, const float *w, size_t rows,
                       size_t cols, const float *importance, void *dst, size_t dst_size, int n_threads);

/* The per-element view used for column rounding (exposed for the tests): for element e of one packed
 * block, its value is a·level + b with level from the format's code set. Returns 0 when the format has such
 * a view, -1 otherwise. */
typedef struct quantize_gptq_grid {
    int kind;   /* 1: uniform levels lo..hi, 2: a 16-entry table */
    int lo, hi; /* uniform level range */
    const signed char *table;
} quantize_gptq_grid;
int quantize_gptq_grid_of(lowbit_format format, quantize_gptq_grid *grid);
/* a and b of element e of a packed block */
void quantize_gptq_element(lowbit_format format, const unsigned char *block, int e, float *a, float *b);
/* Stores `level` as element e's code in a packed block (the scales are left as they are). */
void quantize_gptq_put_level(lowbit_format format, unsigned char *block, int e, int level);
/* The super-block formats' sub-blocks (Q2_K, Q3_K, Q6_K: 16; Q4_K, Q5_K, IQ4_XS: 32; others 0). When the
 * column loop reaches sub-block j (> 0) of a block, it re-chooses that sub-block's integer scale (and min)
 * within ±4 of the present fields for the sub-block's error-updated weights x (weighted by imp), keeping the
 * block's super-scales: the block's search ran before the earlier sub-blocks' errors reached this one. */
int quantize_gptq_sub_block(lowbit_format format);
void quantize_gptq_refit(lowbit_format format, unsigned char *block, int j, const float *x, const float *imp);

#endif
