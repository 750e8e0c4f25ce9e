/* import_layout.c — element access into GPTQ/AWQ packed tensors and the lossless block builders. The
 * files are little-endian and the tensors may sit at any byte offset, so every word is assembled from
 * bytes. */
#include "tools/import/import_layout.h"

#include <math.h>
#include <string.h>

#include "lowbit/lowbit_format.h"

/* AWQ's GEMM packing puts logical column 8c + j in nibble slot awq_slot[j] of word c. */
static const unsigned awq_slot[8] = {0, 2, 4, 6, 1, 3, 5, 7};

static uint32_t load_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* `bits` bits starting at bit `bit` of a stream of 32-bit words that lie `stride` bytes apart; a value may
 * straddle two words (GPTQ's 3-bit packing). */
static uint32_t stream_bits(const unsigned char *base, size_t stride, size_t bit, int bits)
{
    const size_t word = bit / 32;
    const unsigned shift = (unsigned)(bit % 32);
    uint64_t v = load_u32(base + word * stride);
    if (shift + (unsigned)bits > 32) v |= (uint64_t)load_u32(base + (word + 1) * stride) << 32;
    return (uint32_t)(v >> shift) & ((1u << bits) - 1u);
}

uint32_t import_layer_code(const import_layer *layer, size_t row, size_t col)
{
    if (layer->packing == IMPORT_PACKING_AWQ) {
        const uint32_t word = load_u32(layer->qweight + (col * (layer->rows / 8) + row / 8) * 4);
        return (word >> (4 * awq_slot[row % 8])) & 15u;
    }
    return stream_bits(layer->qweight + row * 4, layer->rows * 4, (size_t)layer->bits * col, layer->bits);
}

uint32_t import_layer_stored_zero(const import_layer *layer, size_t group, size_t row)
{
    if (!layer->qzeros) return 1u << (layer->bits - 1);
    if (layer->packing == IMPORT_PACKING_AWQ) {
        const uint32_t word = load_u32(layer->qzeros + (group * (layer->rows / 8) + row / 8) * 4);
        return (word >> (4 * awq_slot[row % 8])) & 15u;
    }
    const size_t words_per_group = layer->rows * (size_t)layer->bits / 32;
    return stream_bits(layer->qzeros + group * words_per_group * 4, 4, (size_t)layer->bits * row, layer->bits);
}

uint32_t import_layer_zero(const import_layer *layer, size_t group, size_t row)
{
    return import_layer_stored_zero(layer, group, row) + (layer->qzeros ? layer->zero_offset : 0u);
}

float import_layer_scale(const import_layer *layer, size_t group, size_t row)
{
    const size_t index = group * layer->rows + row;
    if (layer->scales_format == LOWBIT_FORMAT_F32) {
        const uint32_t bits = load_u32(layer->scales + index * 4);
        float value;
        memcpy(&value, &bits, sizeof value);
        return value;
    }
    const unsigned char *p = layer->scales + index * 2;
    const uint16_t half = (uint16_t)(p[0] | p[1] << 8);
    return layer->scales_format == LOWBIT_FORMAT_BF16 ? lowbit_bf16_to_fp32(half) : lowbit_fp16_to_fp32(half);
}

uint16_t import_layer_scale_half(const import_layer *layer, size_t group, size_t row)
{
    if (layer->scales_format == LOWBIT_FORMAT_F16) {
        const unsigned char *p = layer->scales + (group * layer->rows + row) * 2;
        return (uint16_t)(p[0] | p[1] << 8);
    }
    return lowbit_fp32_to_fp16(import_layer_scale(layer, group, row));
}

int64_t import_layer_group_raw(const import_layer *layer, size_t col)
{
    if (!layer->g_idx) return (int64_t)(col / layer->group_size);
    return (int64_t)(int32_t)load_u32(layer->g_idx + col * 4);
}

size_t import_layer_group(const import_layer *layer, size_t col) { return (size_t)import_layer_group_raw(layer, col); }

int import_layer_check_groups(const import_layer *layer, size_t *bad_col, int64_t *bad_value)
{
    for (size_t k = 0; k < layer->cols; ++k) {
        const int64_t g = import_layer_group_raw(layer, k);
        if (g < 0 || (uint64_t)g >= layer->group_count) {
            *bad_col = k;
            *bad_value = g;
            return -1;
        }
    }
    return 0;
}

int import_layer_groups_are_sequential(const import_layer *layer)
{
    for (size_t k = 0; layer->g_idx && k < layer->cols; ++k)
        if (import_layer_group_raw(layer, k) != (int64_t)(k / layer->group_size)) return 0;
    return 1;
}

int import_layer_check_scales(const import_layer *layer, size_t *bad_group, size_t *bad_row)
{
    for (size_t g = 0; g < layer->group_count; ++g)
        for (size_t n = 0; n < layer->rows; ++n)
            if (!isfinite(import_layer_scale(layer, g, n))) {
                *bad_group = g;
                *bad_row = n;
                return -1;
            }
    return 0;
}

void import_layer_dequantize(const import_layer *layer, size_t row0, size_t count, float *out)
{
    for (size_t i = 0; i < count; ++i) {
        const size_t n = row0 + i;
        float *row = out + i * layer->cols;
        for (size_t k = 0; k < layer->cols; ++k) {
            const size_t g = import_layer_group(layer, k);
            const int64_t level = (int64_t)import_layer_code(layer, n, k) - (int64_t)import_layer_zero(layer, g, n);
            row[k] = import_layer_scale(layer, g, n) * (float)level;
        }
    }
}

static void store_half(unsigned char *p, uint16_t half)
{
    p[0] = (unsigned char)(half & 0xFF);
    p[1] = (unsigned char)(half >> 8);
}

void import_layer_blocks_q4_1(const import_layer *layer, size_t row0, size_t count, unsigned char *dst)
{
    const size_t blocks = layer->cols / 32;
    for (size_t i = 0; i < count; ++i) {
        const size_t n = row0 + i;
        for (size_t b = 0; b < blocks; ++b) {
            unsigned char *block = dst + (i * blocks + b) * 20;
            const size_t g = (b * 32) / layer->group_size;
            const uint16_t d = import_layer_scale_half(layer, g, n);
            /* the product of a half and a zero of at most 16 is exact in f32; only its rounding to half may lose */
            const float m = -(lowbit_fp16_to_fp32(d) * (float)import_layer_zero(layer, g, n));
            store_half(block, d);
            store_half(block + 2, lowbit_fp32_to_fp16(m));
            for (size_t j = 0; j < 16; ++j) {
                const uint32_t lo = import_layer_code(layer, n, b * 32 + j);
                const uint32_t hi = import_layer_code(layer, n, b * 32 + j + 16);
                block[4 + j] = (unsigned char)(lo | hi << 4);
            }
        }
    }
}

void import_layer_blocks_q8_0(const import_layer *layer, size_t row0, size_t count, unsigned char *dst)
{
    const size_t blocks = layer->cols / 32;
    for (size_t i = 0; i < count; ++i) {
        const size_t n = row0 + i;
        for (size_t b = 0; b < blocks; ++b) {
            unsigned char *block = dst + (i * blocks + b) * 34;
            const size_t g = (b * 32) / layer->group_size;
            const int64_t zero = import_layer_zero(layer, g, n);
            store_half(block, import_layer_scale_half(layer, g, n));
            for (size_t j = 0; j < 32; ++j) {
                const int8_t level = (int8_t)((int64_t)import_layer_code(layer, n, b * 32 + j) - zero);
                memcpy(block + 2 + j, &level, 1);
            }
        }
    }
}

int import_layer_fits_int8(const import_layer *layer)
{
    for (size_t n = 0; n < layer->rows; ++n)
        for (size_t k = 0; k < layer->cols; ++k) {
            const int64_t level = (int64_t)import_layer_code(layer, n, k) -
                                  (int64_t)import_layer_zero(layer, import_layer_group(layer, k), n);
            if (level < -128 || level > 127) return 0;
        }
    return 1;
}
