/* gemv_legacy.cl — 32-element block formats read in their stored layout: Q4_1, Q5_0, Q5_1, IQ4_NL,
 * and BF16 (rows of any length, a scalar tail past the last whole 32). One build option selects the
 * kernel (LOWBIT_GEMV_Q4_1 | _Q5_0 | _Q5_1 | _IQ4_NL | _BF16); gemv_stored.cl, embedded after this
 * file, is the GEMV frame. In every nibble format element j (j < 16) is the low nibble of qs[j] and
 * element j + 16 its high nibble. Every format but BF16 also has load_chunk_int, its integer decode for the
 * integer-dot frame gemv_int.cl (built with LOWBIT_DOT_INT). */

#define GEMV_HAS_TAIL 0

#if defined(LOWBIT_GEMV_Q4_1)
#define GEMV_KERNEL gemv_q4_1
#define BLOCK_ELEMS LOWBIT_Q4_1_BLOCK
#define BLOCK_BYTES LOWBIT_Q4_1_BYTES /* f16 d, f16 m, qs[16] */
/* x = d·q + m */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    (void)chunk;
    const float d = load_f16(block), m = load_f16(block + 2);
    const uchar16 q = load_bytes16(block + 4);
    *w0 = fma(convert_float16(q & (uchar16)15), (float16)d, (float16)m);
    *w1 = fma(convert_float16(q >> (uchar16)4), (float16)d, (float16)m);
}
/* Integer dot (gemv_int.cl): q as is, w = d·q − (−m) */
#define INT_OFFSET 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    (void)chunk;
    const uchar16 q = load_bytes16(block + 4);
    *q0 = as_char16(q & (uchar16)15);
    *q1 = as_char16(q >> (uchar16)4);
    *scale = (float2)load_f16(block);
    *offset = (float2)(-load_f16(block + 2));
}

#elif defined(LOWBIT_GEMV_Q5_0) || defined(LOWBIT_GEMV_Q5_1)
#define BLOCK_ELEMS LOWBIT_Q5_0_BLOCK
#if defined(LOWBIT_GEMV_Q5_0)
#define GEMV_KERNEL gemv_q5_0
#define BLOCK_BYTES LOWBIT_Q5_0_BYTES /* f16 d, qh[4], qs[16] */
#define QH_OFFSET 2
#else
#define GEMV_KERNEL gemv_q5_1
#define BLOCK_BYTES LOWBIT_Q5_1_BYTES /* f16 d, f16 m, qh[4], qs[16] */
#define QH_OFFSET 4
#endif
/* qh, a little-endian uint32, holds the 5th bit of element j at bit j. Q5_0: x = d·(q − 16);
 * Q5_1: x = d·q + m. */
/* The 5-bit values 0..31 of elements 0..15 and 16..31. */
GEMV_INLINE void q5_values(__global const uchar *block, uint16 *q0, uint16 *q1)
{
    const uint qh = load_u16(block + QH_OFFSET) | (load_u16(block + QH_OFFSET + 2) << 16);
    const uchar16 q = load_bytes16(block + QH_OFFSET + 4);
    const uint16 lanes = (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const uint16 high0 = (((uint16)qh >> lanes) & (uint16)1) << (uint16)4;
    const uint16 high1 = (((uint16)(qh >> 16) >> lanes) & (uint16)1) << (uint16)4;
    *q0 = convert_uint16(q & (uchar16)15) | high0;
    *q1 = convert_uint16(q >> (uchar16)4) | high1;
}
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    (void)chunk;
    const float d = load_f16(block);
    uint16 v0, v1;
    q5_values(block, &v0, &v1);
    const float16 q0 = convert_float16(v0);
    const float16 q1 = convert_float16(v1);
#if defined(LOWBIT_GEMV_Q5_0)
    *w0 = (q0 - 16.0f) * d;
    *w1 = (q1 - 16.0f) * d;
#else
    const float m = load_f16(block + 2);
    *w0 = fma(q0, (float16)d, (float16)m);
    *w1 = fma(q1, (float16)d, (float16)m);
#endif
}
/* Integer dot (gemv_int.cl): Q5_0 q − 16 with no offset; Q5_1 q with offset −m. */
#if defined(LOWBIT_GEMV_Q5_0)
#define INT_OFFSET 0
#else
#define INT_OFFSET 1
#endif
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    (void)chunk;
    uint16 v0, v1;
    q5_values(block, &v0, &v1);
    *q0 = convert_char16(v0);
    *q1 = convert_char16(v1);
    *scale = (float2)load_f16(block);
#if defined(LOWBIT_GEMV_Q5_0)
    *q0 -= (char16)16;
    *q1 -= (char16)16;
    *offset = (float2)0.0f;
#else
    *offset = (float2)(-load_f16(block + 2));
#endif
}

#elif defined(LOWBIT_GEMV_IQ4_NL)
#define GEMV_KERNEL gemv_iq4_nl
#define BLOCK_ELEMS LOWBIT_IQ4_NL_BLOCK
#define BLOCK_BYTES LOWBIT_IQ4_NL_BYTES /* f16 d, qs[16] */
/* x = d·level[q] */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    (void)chunk;
    const float d = load_f16(block);
    const uchar16 q = load_bytes16(block + 2);
    *w0 = iq4_levels(q & (uchar16)15) * d;
    *w1 = iq4_levels(q >> (uchar16)4) * d;
}
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    (void)chunk;
    const uchar16 q = load_bytes16(block + 2);
    *q0 = convert_char16(iq4_level_ints(q & (uchar16)15));
    *q1 = convert_char16(iq4_level_ints(q >> (uchar16)4));
    *scale = (float2)load_f16(block);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_BF16)
#define GEMV_KERNEL gemv_bf16
#define BLOCK_ELEMS 32 /* a chunk, not a format block: BF16 rows have any length */
#define BLOCK_BYTES 64
#define ROW_BYTES(cols) ((size_t)(cols) * 2)
#undef GEMV_HAS_TAIL
#define GEMV_HAS_TAIL 1
/* bfloat16 is the high half of an f32. */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    (void)chunk;
    const __global ushort *h = (const __global ushort *)block;
    *w0 = as_float16(convert_uint16(vload16(0, h)) << (uint16)16);
    *w1 = as_float16(convert_uint16(vload16(1, h)) << (uint16)16);
}
GEMV_INLINE float load_element(__global const uchar *row, size_t col)
{
    return as_float(load_u16(row + 2 * col) << 16);
}

#else
#error "gemv_legacy.cl: define one of LOWBIT_GEMV_Q4_1, _Q5_0, _Q5_1, _IQ4_NL, _BF16"
#endif

#ifndef ROW_BYTES
#define ROW_BYTES(cols) ((size_t)(cols) / BLOCK_ELEMS * BLOCK_BYTES)
#endif
