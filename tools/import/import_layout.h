/* import_layout.h — reading the packed integer layouts of GPTQ (v1/v2) and AWQ (GEMM) checkpoints one
 * element at a time, their dequantized f32 values, and the blocks that carry them into ggml formats
 * without loss (Q4_1 for up to 4 bits, Q8_0 for 8 bits). */
#ifndef LOWBIT_IMPORT_LAYOUT_H
#define LOWBIT_IMPORT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum import_packing {
    IMPORT_PACKING_GPTQ, /* qweight [K·bits/32, N] packed along K, qzeros [groups, N·bits/32] along N */
    IMPORT_PACKING_AWQ   /* qweight [K, N/8] and qzeros [groups, N/8] packed along N, nibbles interleaved */
} import_packing;

/* One quantized linear layer as stored: W[n][k] = scale[g][n] · (q[k][n] − zero[g][n]) with g = g_idx[k].
 * Every pointer is into the mapped checkpoint (little-endian, possibly unaligned). */
typedef struct import_layer {
    import_packing packing;
    int bits;           /* 2, 3, 4 or 8 (AWQ: 4) */
    size_t rows;        /* N: output features */
    size_t cols;        /* K: input features */
    size_t group_size;  /* K for one group per channel */
    size_t group_count; /* ceil(K / group_size) */
    const unsigned char *qweight;
    const unsigned char *qzeros; /* NULL: every zero is 2^(bits−1) (AWQ without zero point) */
    const unsigned char *scales;
    int scales_format;          /* LOWBIT_FORMAT_F16, _BF16 or _F32 */
    const unsigned char *g_idx; /* NULL: group k / group_size */
    uint32_t zero_offset;       /* added to every stored zero: 1 for GPTQ v1 ("zero − 1" stored), else 0 */
} import_layer;

uint32_t import_layer_code(const import_layer *layer, size_t row, size_t col);
/* The zero as the dequantization uses it (stored value plus zero_offset). */
uint32_t import_layer_zero(const import_layer *layer, size_t group, size_t row);
/* The stored zero field itself, before zero_offset. */
uint32_t import_layer_stored_zero(const import_layer *layer, size_t group, size_t row);
float import_layer_scale(const import_layer *layer, size_t group, size_t row);
/* The raw IEEE half bits of a scale when the scales are F16, else its f32 value rounded to half. */
uint16_t import_layer_scale_half(const import_layer *layer, size_t group, size_t row);
/* g_idx[col] read as stored (may be out of range: validate with import_layer_check_groups). */
int64_t import_layer_group_raw(const import_layer *layer, size_t col);
size_t import_layer_group(const import_layer *layer, size_t col);

/* 0 when every g_idx entry lies in [0, group_count); else -1 and *bad_col names the first that does not. */
int import_layer_check_groups(const import_layer *layer, size_t *bad_col, int64_t *bad_value);
/* 1 when g_idx is absent or equal to col / group_size everywhere (no activation order). */
int import_layer_groups_are_sequential(const import_layer *layer);
/* 0 when every scale is finite; else -1 and the group and row of the first that is not. */
int import_layer_check_scales(const import_layer *layer, size_t *bad_group, size_t *bad_row);

/* Rows [row0, row0 + count) of the dequantized matrix, f32, count × cols. The product scale·(q − zero)
 * of a half scale and a small integer is exact in f32, so these are the checkpoint's values exactly. */
void import_layer_dequantize(const import_layer *layer, size_t row0, size_t count, float *out);

/* Q4_1 blocks (d = scale, m = −scale·zero, q as stored) for the rows: needs bits ≤ 4, sequential groups and
 * group_size % 32 == 0 (cols % 32 == 0). dst holds count × cols / 32 blocks of 20 bytes. */
void import_layer_blocks_q4_1(const import_layer *layer, size_t row0, size_t count, unsigned char *dst);
/* Q8_0 blocks (d = scale, q − zero as int8): needs sequential groups, group_size % 32 == 0 and every
 * q − zero in [−128, 127] (see import_layer_fits_int8). */
void import_layer_blocks_q8_0(const import_layer *layer, size_t row0, size_t count, unsigned char *dst);
/* 1 when every q − zero of the layer lies in [−128, 127]. */
int import_layer_fits_int8(const import_layer *layer);

#endif
