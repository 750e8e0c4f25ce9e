/* repack.c — stored GGUF rows → split device layout (quants as words, f16 scales apart). */
#include "repack.h"

#include <string.h>

#include "../../shaders/common/lowbit_blocks.h"

typedef struct split_geometry {
    size_t block_elems, block_bytes, scale_bytes, quant_bytes; /* per block */
} split_geometry;

static int split_geometry_of(lowbit_format format, split_geometry *g)
{
    switch (format) {
    case LOWBIT_FORMAT_Q4_0:
        *g = (split_geometry){LOWBIT_QK4_0, LOWBIT_Q4_0_BYTES, 2, LOWBIT_Q4_0_QS_WORDS * 4};
        return 0;
    case LOWBIT_FORMAT_Q8_0:
        *g = (split_geometry){LOWBIT_QK8_0, LOWBIT_Q8_0_BYTES, 2, LOWBIT_Q8_0_QS_WORDS * 4};
        return 0;
    default:
        return -1;
    }
}

static size_t round_up4(size_t bytes) { return (bytes + 3u) & ~(size_t)3u; }

int lowbit_repack_sizes(lowbit_format format, size_t rows, size_t cols, size_t *quant_bytes,
                        size_t *scale_bytes)
{
    if (format == LOWBIT_FORMAT_F32 || format == LOWBIT_FORMAT_F16) {
        size_t elem = format == LOWBIT_FORMAT_F32 ? 4u : 2u;
        if (cols != 0 && rows > SIZE_MAX / cols / elem) return -1;
        *quant_bytes = round_up4(rows * cols * elem);
        *scale_bytes = 0;
        return 0;
    }
    split_geometry g;
    if (split_geometry_of(format, &g) != 0 || cols % g.block_elems != 0) return -1;
    size_t blocks_per_row = cols / g.block_elems;
    if (blocks_per_row != 0 && rows > SIZE_MAX / blocks_per_row / g.quant_bytes) return -1;
    size_t blocks = rows * blocks_per_row;
    *quant_bytes = blocks * g.quant_bytes;
    *scale_bytes = round_up4(blocks * g.scale_bytes);
    return 0;
}

int lowbit_repack_split(lowbit_format format, size_t cols, const void *src, size_t row_begin, size_t row_end,
                        void *quant_dst, void *scale_dst)
{
    const unsigned char *in = src;
    unsigned char *quants = quant_dst;
    unsigned char *scales = scale_dst;
    if (format == LOWBIT_FORMAT_F32 || format == LOWBIT_FORMAT_F16) {
        size_t elem = format == LOWBIT_FORMAT_F32 ? 4u : 2u;
        size_t bytes = (row_end - row_begin) * cols * elem;
        memcpy(quants, in + row_begin * cols * elem, bytes);
        memset(quants + bytes, 0, round_up4(bytes) - bytes);
        return 0;
    }
    split_geometry g;
    if (split_geometry_of(format, &g) != 0) return -1;
    size_t blocks_per_row = cols / g.block_elems;
    size_t first = row_begin * blocks_per_row, count = (row_end - row_begin) * blocks_per_row;
    for (size_t b = 0; b < count; ++b) {
        const unsigned char *block = in + (first + b) * g.block_bytes;
        memcpy(scales + b * g.scale_bytes, block, g.scale_bytes); /* d is the block's first member */
        memcpy(quants + b * g.quant_bytes, block + g.scale_bytes, g.quant_bytes);
    }
    size_t written = count * g.scale_bytes;
    memset(scales + written, 0, round_up4(written) - written);
    return 0;
}
