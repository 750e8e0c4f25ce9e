/* quantize_imatrix.h — loads llama.cpp importance matrices (GGUF `<name>.in_sum2`/`.counts` and the
 * legacy .dat form) into per-tensor importance vectors, validating every length. */
#ifndef LOWBIT_QUANTIZE_IMATRIX_H
#define LOWBIT_QUANTIZE_IMATRIX_H

#include <stddef.h>

typedef struct quantize_imatrix_entry {
    char *name;    /* tensor name, "blk.0.attn_q.weight" */
    float *values; /* count importances (per input column, per expert for 3-D tensors) */
    size_t count;
} quantize_imatrix_entry;

typedef struct quantize_imatrix {
    quantize_imatrix_entry *entries;
    size_t count;
} quantize_imatrix;

/* Reads a file of either form (told apart by the "GGUF" magic). Returns 0, or -1 with a message. */
int quantize_imatrix_load(const char *path, quantize_imatrix *out, char *error, size_t error_size);
/* The legacy form from memory: int32 n_entries, then per entry int32 name_len, name, int32 ncall,
 * int32 nval, nval float32; importance = value / ncall (as is when ncall is 0). Trailing bytes (the
 * last-call and dataset fields newer writers append) are ignored. */
int quantize_imatrix_parse_dat(const void *data, size_t size, quantize_imatrix *out, char *error, size_t error_size);
/* The GGUF form from memory. */
int quantize_imatrix_parse_gguf(const void *data, size_t size, quantize_imatrix *out, char *error, size_t error_size);
const quantize_imatrix_entry *quantize_imatrix_find(const quantize_imatrix *imatrix, const char *name);
void quantize_imatrix_free(quantize_imatrix *imatrix);

#endif
