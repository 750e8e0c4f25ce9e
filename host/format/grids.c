/* grids.c — the reference dequantizers of the grid (codebook) formats IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S,
 * IQ1_S and IQ1_M: rows of grid_decode.h's block decoders, bit-exact with ggml's (docs/formats.md §3.7). Their
 * quantizers live in iq2_quant.c, iq3_quant.c and iq1_quant.c. */
#include "block_decode.h"
#include "format_internal.h"

/* One dequantizer per format: the row is cols / 256 blocks back to back. */
#define GRID_DEQUANTIZE_ROW(F, f)                                                                                      \
    void lowbit_dequantize_row_##f(const void *src, float *dst, size_t cols)                                           \
    {                                                                                                                  \
        const unsigned char *in = src;                                                                                 \
        for (size_t b = 0; b < cols / LOWBIT_##F##_BLOCK; ++b)                                                         \
            lowbit_decode_##f(in + b * LOWBIT_##F##_BYTES, dst + b * LOWBIT_##F##_BLOCK);                              \
    }

GRID_DEQUANTIZE_ROW(IQ2_XXS, iq2_xxs)
GRID_DEQUANTIZE_ROW(IQ2_XS, iq2_xs)
GRID_DEQUANTIZE_ROW(IQ2_S, iq2_s)
GRID_DEQUANTIZE_ROW(IQ3_XXS, iq3_xxs)
GRID_DEQUANTIZE_ROW(IQ3_S, iq3_s)
GRID_DEQUANTIZE_ROW(IQ1_S, iq1_s)
GRID_DEQUANTIZE_ROW(IQ1_M, iq1_m)
