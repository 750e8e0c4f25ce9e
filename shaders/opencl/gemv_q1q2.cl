/* gemv_q1q2.cl — the symmetric 1- and 2-bit formats read in their stored layout: Q1_0 (128 signs, one
 * f16 scale) and Q2_0 (64 two-bit codes). One build option selects the kernel (LOWBIT_GEMV_Q1_0 |
 * _Q2_0); gemv_stored.cl, embedded after this file, is the GEMV frame. Layouts: docs/formats.md §3.6;
 * offsets from lowbit_formats.h (embedded first). Both blocks are 18 bytes, so fields are 2-byte aligned. Both
 * formats also have load_chunk_int, the integer decode for the integer-dot frame gemv_int.cl (LOWBIT_DOT_INT):
 * q ∈ {−1, 1} (Q1_0) or {−1, 0, 1, 2} (Q2_0) with the block's d as the scale, no offset. */

#define GEMV_HAS_TAIL 0

/* The little-endian 32-bit word at an even offset. */
GEMV_INLINE uint load_u32_even(__global const uchar *p)
{
    return load_u16(p) | (load_u16(p + 2) << 16);
}

#if defined(LOWBIT_GEMV_Q1_0)
#define GEMV_KERNEL gemv_q1_0
#define BLOCK_ELEMS LOWBIT_Q1_0_BLOCK
#define BLOCK_BYTES LOWBIT_Q1_0_BYTES
/* Bits 0..15 of `bits` as ±1 (set: +1, clear: −1). */
GEMV_INLINE char16 signs16(uint bits)
{
    const uint16 lanes = (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return convert_char16((((uint16)bits >> lanes) & (uint16)1) << (uint16)1) - (char16)1;
}
/* Chunk c is qs[4c..4c+3]: element 32c + j is bit j of that little-endian word; set: +d, clear: −d. */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float d = load_f16(block + LOWBIT_Q1_0_D);
    const uint bits = load_u32_even(block + LOWBIT_Q1_0_QS + 4 * chunk);
    *w0 = convert_float16(signs16(bits)) * d;
    *w1 = convert_float16(signs16(bits >> 16)) * d;
}
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    const uint bits = load_u32_even(block + LOWBIT_Q1_0_QS + 4 * chunk);
    *q0 = signs16(bits);
    *q1 = signs16(bits >> 16);
    *scale = (float2)load_f16(block + LOWBIT_Q1_0_D);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_Q2_0)
#define GEMV_KERNEL gemv_q2_0
#define BLOCK_ELEMS LOWBIT_Q2_0_BLOCK
#define BLOCK_BYTES LOWBIT_Q2_0_BYTES
/* Chunk c is qs[8c..8c+7]: element 32c + j is bits 2·(j % 4) of byte j / 4, i.e. bits 2j of the two
 * little-endian words; x = (q − 1)·d. */
GEMV_INLINE char16 code_ints16(uint word)
{
    const uint16 shifts = (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return convert_char16(((uint16)word >> shifts) & (uint16)3) - (char16)1;
}
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float d = load_f16(block + LOWBIT_Q2_0_D);
    *w0 = convert_float16(code_ints16(load_u32_even(block + LOWBIT_Q2_0_QS + 8 * chunk))) * d;
    *w1 = convert_float16(code_ints16(load_u32_even(block + LOWBIT_Q2_0_QS + 8 * chunk + 4))) * d;
}
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    *q0 = code_ints16(load_u32_even(block + LOWBIT_Q2_0_QS + 8 * chunk));
    *q1 = code_ints16(load_u32_even(block + LOWBIT_Q2_0_QS + 8 * chunk + 4));
    *scale = (float2)load_f16(block + LOWBIT_Q2_0_D);
    *offset = (float2)0.0f;
}

#else
#error "gemv_q1q2.cl: define one of LOWBIT_GEMV_Q1_0, _Q2_0"
#endif

#define ROW_BYTES(cols) ((size_t)(cols) / BLOCK_ELEMS * BLOCK_BYTES)
