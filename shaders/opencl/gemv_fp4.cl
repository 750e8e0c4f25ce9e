/* gemv_fp4.cl — the FP4 microscaling formats read in their stored layout: MXFP4 (32 elements, one E8M0
 * exponent) and NVFP4 (64 elements, a UE4M3 scale per 16). One build option selects the kernel
 * (LOWBIT_GEMV_MXFP4 | _NVFP4); gemv_stored.cl, embedded after this file, is the GEMV frame. Layouts:
 * docs/formats.md §3.5; offsets from lowbit_formats.h (embedded first). The E2M1 values are the
 * reference's doubled integers and the scales are decoded at half their value, so every weight is the
 * reference dequantizer's exactly. Both formats also have load_chunk_int, the integer decode for the integer-dot
 * frame gemv_int.cl (LOWBIT_DOT_INT): the doubled E2M1 values are integers in [−12, 12] and the scales the same
 * halved ones, so it needs no offset. */

#define GEMV_HAS_TAIL 0

/* The doubled E2M1 value of each nibble: magnitude code m = q & 7 → {0, 1, 2, 3, 4, 6, 8, 12}, i.e. m
 * below 2, else (2 + (m & 1)) << ((m − 2) >> 1); bit 3 is the sign. Integer vector code (CPU drivers
 * turn a 16-entry table lookup into lane-by-lane loads). */
GEMV_INLINE int16 fp4_level_ints(uchar16 q)
{
    const int16 code = convert_int16(q);
    const int16 m = code & (int16)7;
    const int16 large = ((int16)2 + (m & (int16)1)) << ((m - (int16)2) >> (int16)1);
    const int16 magnitude = select(large, m, m < (int16)2);
    return select(magnitude, -magnitude, (code & (int16)8) != (int16)0);
}
GEMV_INLINE float16 fp4_levels(uchar16 q)
{
    return convert_float16(fp4_level_ints(q));
}

#if defined(LOWBIT_GEMV_MXFP4)
#define GEMV_KERNEL gemv_mxfp4
#define BLOCK_ELEMS LOWBIT_MXFP4_BLOCK
#define BLOCK_BYTES LOWBIT_MXFP4_BYTES /* 17: blocks sit at any byte offset, so only byte loads */
/* e → 2^(e − 128): x = level · scale (the level doubled, the scale halved). */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    (void)chunk;
    const uint e = block[LOWBIT_MXFP4_E];
    const float d = as_float(e < 2u ? 0x00200000u << e : (e - 1u) << 23);
    const uchar16 q = vload16(0, block + LOWBIT_MXFP4_QS);
    *w0 = fp4_levels(q & (uchar16)15) * d;
    *w1 = fp4_levels(q >> (uchar16)4) * d;
}
/* Integer dot (gemv_int.cl): the doubled levels, scale 2^(e − 128) as above. */
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    (void)chunk;
    const uint e = block[LOWBIT_MXFP4_E];
    const uchar16 q = vload16(0, block + LOWBIT_MXFP4_QS);
    *q0 = convert_char16(fp4_level_ints(q & (uchar16)15));
    *q1 = convert_char16(fp4_level_ints(q >> (uchar16)4));
    *scale = (float2)as_float(e < 2u ? 0x00200000u << e : (e - 1u) << 23);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_NVFP4)
#define GEMV_KERNEL gemv_nvfp4
#define BLOCK_ELEMS LOWBIT_NVFP4_BLOCK
#define BLOCK_BYTES LOWBIT_NVFP4_BYTES
/* Unsigned E4M3 (bias 7) at half its value; bytes 0 and 0x7F are 0. */
GEMV_INLINE float ue4m3_half(uint x)
{
    const uint exponent = (x >> 3) & 15u, mantissa = x & 7u;
    const float value = exponent == 0u ? (float)mantissa * 0x1.0p-10f
                                       : as_float(((exponent + 119u) << 23) | (mantissa << 20));
    return x == 0u || x == 0x7Fu ? 0.0f : value;
}
/* Chunk c is sub-blocks 2c and 2c + 1: qs[8s..8s+7], low nibbles elements 16s + 0..7, high 16s + 8..15. */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const uchar8 b0 = vload8(0, block + LOWBIT_NVFP4_QS + 16 * chunk);
    const uchar8 b1 = vload8(0, block + LOWBIT_NVFP4_QS + 16 * chunk + 8);
    *w0 = fp4_levels((uchar16)(b0 & (uchar8)15, b0 >> (uchar8)4)) * ue4m3_half(block[LOWBIT_NVFP4_D + 2 * chunk]);
    *w1 = fp4_levels((uchar16)(b1 & (uchar8)15, b1 >> (uchar8)4)) * ue4m3_half(block[LOWBIT_NVFP4_D + 2 * chunk + 1]);
}
/* Integer dot (gemv_int.cl): the doubled levels, one halved UE4M3 scale per 16-element half. */
#define INT_OFFSET 0
#define INT_HALF_SCALES 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    const uchar8 b0 = vload8(0, block + LOWBIT_NVFP4_QS + 16 * chunk);
    const uchar8 b1 = vload8(0, block + LOWBIT_NVFP4_QS + 16 * chunk + 8);
    *q0 = convert_char16(fp4_level_ints((uchar16)(b0 & (uchar8)15, b0 >> (uchar8)4)));
    *q1 = convert_char16(fp4_level_ints((uchar16)(b1 & (uchar8)15, b1 >> (uchar8)4)));
    *scale = (float2)(ue4m3_half(block[LOWBIT_NVFP4_D + 2 * chunk]), ue4m3_half(block[LOWBIT_NVFP4_D + 2 * chunk + 1]));
    *offset = (float2)0.0f;
}

#else
#error "gemv_fp4.cl: define one of LOWBIT_GEMV_MXFP4, _NVFP4"
#endif

#define ROW_BYTES(cols) ((size_t)(cols) / BLOCK_ELEMS * BLOCK_BYTES)
