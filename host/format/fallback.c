/* fallback.c — llama.cpp's shape-fallback rule: the format to use when a row length does not fit the
 * wanted format's block (256 for K/IQ/ternary, 64 for Q2_0, 32 for the legacy formats); docs/formats.md §4.9. Q1_0,
 * NVFP4 and MXFP4 have no replacement in that rule (llama-quantize stops there); lowbit answers F16. */
#include "lowbit/lowbit_format.h"

lowbit_format lowbit_format_fallback(lowbit_format wanted, size_t cols)
{
    const lowbit_format_traits *traits = lowbit_format_get((int)wanted);
    if (!traits || cols == 0) return LOWBIT_FORMAT_F16;
    if (cols % traits->block_size == 0) return wanted;
    lowbit_format next;
    switch (wanted) {
    case LOWBIT_FORMAT_IQ1_S:
    case LOWBIT_FORMAT_IQ1_M:
    case LOWBIT_FORMAT_IQ2_XXS:
    case LOWBIT_FORMAT_IQ2_XS:
    case LOWBIT_FORMAT_IQ2_S:
    case LOWBIT_FORMAT_IQ3_XXS:
    case LOWBIT_FORMAT_IQ3_S:
    case LOWBIT_FORMAT_IQ4_XS: next = LOWBIT_FORMAT_IQ4_NL; break;
    case LOWBIT_FORMAT_Q2_K:
    case LOWBIT_FORMAT_Q3_K:
    case LOWBIT_FORMAT_TQ1_0:
    case LOWBIT_FORMAT_TQ2_0:
    case LOWBIT_FORMAT_Q2_0: next = LOWBIT_FORMAT_Q4_0; break;
    case LOWBIT_FORMAT_Q4_K: next = LOWBIT_FORMAT_Q5_0; break;
    case LOWBIT_FORMAT_Q5_K: next = LOWBIT_FORMAT_Q5_1; break;
    case LOWBIT_FORMAT_Q6_K: next = LOWBIT_FORMAT_Q8_0; break;
    case LOWBIT_FORMAT_Q8_K: next = LOWBIT_FORMAT_Q8_0; break; /* activations: the same 8-bit grid per 32 */
    default: return LOWBIT_FORMAT_F16;                         /* a 32-element format that 32 does not divide */
    }
    /* every replacement has 32-element blocks: if 32 does not divide either, only F16 is left */
    return cols % 32 == 0 ? next : LOWBIT_FORMAT_F16;
}
