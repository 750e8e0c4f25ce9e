/* quantize_hessian.h — reads the layer-input Hessians that lowbit-calibrate writes, for GPTQ.
 *
 * The file is a GGUF (general.type "lowbit-hessian", lowbit.hessian.version 1):
 *   lowbit.hessian.weights  string array: the weight tensors that have a Hessian ("blk.0.attn_q.weight")
 *   lowbit.hessian.inputs   uint32 array, same length: which Hessian each weight uses (weights that read the
 *                           same activation — q/k/v, gate/up — share one)
 *   lowbit.hessian.tokens   uint64 array, one per Hessian: activation rows accumulated
 *   lowbit.hessian.input_names  string array, one per Hessian (optional): the engine's name of the activation
 *   tensors "hessian.<i>"   F32, cols × cols: E[x·xᵀ] of that input (the sum over rows divided by tokens)
 *   tensors "absmax.<i>"    F32, cols (optional, all or none): max |x| of each input channel, for SmoothQuant
 * Everything is validated on load; the tensors stay mapped. */
#ifndef LOWBIT_QUANTIZE_HESSIAN_H
#define LOWBIT_QUANTIZE_HESSIAN_H

#include <stddef.h>
#include <stdint.h>

#define QUANTIZE_HESSIAN_TYPE "lowbit-hessian"
#define QUANTIZE_HESSIAN_VERSION 1

typedef struct quantize_hessians quantize_hessians;

/* Returns 0, or -1 with a message naming what is wrong. */
int quantize_hessians_load(const char *path, quantize_hessians **out, char *error, size_t error_size);
/* The Hessian of weight `name` (cols × cols floats, mapped), its index among the file's Hessians (weights
 * with the same index share it), or NULL when the file has none for that weight. */
const float *quantize_hessians_find(const quantize_hessians *h, const char *name, size_t *cols, size_t *index);
size_t quantize_hessians_weight_count(const quantize_hessians *h);
/* The engine's name of the activation Hessian `index` was collected from ("attn_norm-3", "ffn_norm-3",
 * "ffn_swiglu-3"; lowbit.hessian.input_names, optional), or NULL. */
const char *quantize_hessians_input_name(const quantize_hessians *h, size_t index);
/* The per-channel maximum |x| of Hessian `index` (cols floats, mapped), or NULL when the file has none. */
const float *quantize_hessians_absmax(const quantize_hessians *h, size_t index);
void quantize_hessians_free(quantize_hessians *h);

#endif
