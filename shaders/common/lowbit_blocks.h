/* lowbit_blocks.h — the device ("split") layout of Q4_0 and Q8_0, defined once for the host (C), the
 * OpenCL kernels and the Vulkan shaders. Only #defines: every language includes it as is.
 *
 * Stored layout (GGUF): rows of blocks, each block {f16 d; quants}. Device layout ("split"): the
 * quants of every block in one buffer of 32-bit words, the f16 scales in a second buffer, so kernels
 * read aligned words and never unaligned 18- or 34-byte structs:
 *   quant words of block b of row r: LOWBIT_SPLIT_QWORD(r, b, nb, QS_WORDS) .. + QS_WORDS - 1
 *     (the block's quant bytes in order, little-endian within each word)
 *   scale (f16 bits) of block b of row r: half index r*nb + b of the scale buffer
 *     (two halves per 32-bit word, the lower index in the low 16 bits). */
#ifndef LOWBIT_BLOCKS_H
#define LOWBIT_BLOCKS_H

/* The formats' facts (OpenCL embeds lowbit_formats.h ahead of this file: its compiler has no include path). */
#ifndef __OPENCL_VERSION__
#include "lowbit_formats.h"
#endif

#define LOWBIT_QK4_0 LOWBIT_Q4_0_BLOCK
#define LOWBIT_Q4_0_QS_WORDS 4 /* element j in low nibble of byte j, element j+16 in its high nibble */

#define LOWBIT_QK8_0 LOWBIT_Q8_0_BLOCK
#define LOWBIT_Q8_0_QS_WORDS 8

#define LOWBIT_SPLIT_QWORD(row, block, blocks_per_row, qs_words) (((row) * (blocks_per_row) + (block)) * (qs_words))
#define LOWBIT_SPLIT_SCALE(row, block, blocks_per_row) ((row) * (blocks_per_row) + (block))

#endif
