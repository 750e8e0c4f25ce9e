/* repack.h — converts stored (GGUF) weight rows into the device layout of shaders/common/lowbit_blocks.h.
 * Shared by the OpenCL and Vulkan plugins so both read identical device buffers. */
#ifndef LOWBIT_REPACK_H
#define LOWBIT_REPACK_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit/lowbit_format.h"

/* Sizes in bytes of the two device buffers for a rows×cols matrix in `format`. For F32/F16 the whole
 * matrix is the quant buffer (padded to a multiple of 4 bytes) and the scale buffer is empty.
 * Returns 0 on success, -1 for a format without a split layout or a shape that does not fit. */
int lowbit_repack_sizes(lowbit_format format, size_t rows, size_t cols, size_t *quant_bytes,
                        size_t *scale_bytes);

/* Writes rows [row_begin, row_end) of the stored matrix `src` into `quant_dst` / `scale_dst` (buffers of
 * the sizes above for row_end - row_begin rows; the first row written is row 0 of the destination).
 * Returns 0, or -1 on an unsupported format. */
int lowbit_repack_split(lowbit_format format, size_t cols, const void *src, size_t row_begin, size_t row_end,
                        void *quant_dst, void *scale_dst);

#endif
