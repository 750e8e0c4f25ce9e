/* calib_stats.h — what lowbit-calibrate collects from a model's own activations: per weight-matrix input,
 * the sum of x·xᵀ over every activation row (GPTQ's Hessian; its diagonal is the importance vector) and the
 * row count. Weights that read the same activation (q/k/v after attn_norm, gate/up after ffn_norm) share one
 * accumulator: it is fed once per activation, by the first weight seen reading it.
 *
 * Outputs: llama.cpp's GGUF imatrix (`<weight>.in_sum2` = Σx², `<weight>.counts` = rows; llama-quantize
 * --imatrix and lowbit-quantize --imatrix read it) and lowbit's Hessian file (tools/quantize/quantize_hessian.h:
 * E[x·xᵀ] per shared input). Sums are kept in f64; the accumulation order is fixed, so results do not depend
 * on the thread count. */
#ifndef LOWBIT_CALIB_STATS_H
#define LOWBIT_CALIB_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct calib_stats calib_stats;

/* want_hessian 0 keeps only the diagonal (imatrix only: K values per input instead of K²). threads: 0 =
 * every online core. */
calib_stats *calib_stats_create(int want_hessian, int threads);
void calib_stats_free(calib_stats *s);

/* Accumulates n activation rows (cols floats each, rows `stride` floats apart) read by weight `weight`
 * through the activation named `input`. Returns 0, or -1 with a message (a weight seen before with another
 * row length, out of memory). */
int calib_stats_add(calib_stats *s, const char *weight, const char *input, const float *x, size_t n, size_t cols,
                    size_t stride, char *error, size_t error_size);

size_t calib_stats_weight_count(const calib_stats *s);
size_t calib_stats_input_count(const calib_stats *s);
uint64_t calib_stats_bytes(const calib_stats *s); /* accumulator memory */

/* Metadata written with the files. */
typedef struct calib_meta {
    const char *dataset;  /* the text file */
    uint32_t chunk_count; /* chunks evaluated */
    uint32_t chunk_size;  /* tokens per chunk */
    uint64_t text_hash;   /* of the token sequence and chunking, for --resume */
} calib_meta;

/* Both writers replace `path` atomically. Return 0, or -1 with a message. */
int calib_stats_write_imatrix(const calib_stats *s, const char *path, const calib_meta *meta, char *error,
                              size_t error_size);
int calib_stats_write_hessian(const calib_stats *s, const char *path, const calib_meta *meta, char *error,
                              size_t error_size);
/* Loads the sums of a Hessian file written by calib_stats_write_hessian (for --resume): the stats must be
 * empty and want the Hessian. Returns 0 with *meta filled (its dataset points into nothing: NULL), or -1. */
int calib_stats_resume(calib_stats *s, const char *path, calib_meta *meta, char *error, size_t error_size);

#endif
