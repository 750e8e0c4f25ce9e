/* gemv_kquants.cl — 256-element super-block formats read in their stored layout: Q2_K, Q3_K, Q4_K,
 * Q5_K, Q6_K, IQ4_XS, TQ1_0, TQ2_0. One build option selects the kernel (LOWBIT_GEMV_Q4_K, ...);
 * gemv_stored.cl, embedded after this file, is the GEMV frame and asks for one 32-element chunk
 * (0..7) of a block at a time, fully dequantized. Every format also has load_chunk_int, the integer decode the
 * integer-dot frame gemv_int.cl reads (LOWBIT_DOT_INT). Element orders follow the reference
 * (docs/formats.md §3); "element 32c + l" is lane l of chunk c. */

#define GEMV_HAS_TAIL 0
#define BLOCK_ELEMS LOWBIT_QK_K
#define ROW_BYTES(cols) ((size_t)(cols) / BLOCK_ELEMS * BLOCK_BYTES)

/* Two bits at shift 2k of 32 bytes (Q2_K, Q3_K, TQ2_0): byte l of group h holds element 128h + 32k + l,
 * so chunk c reads group c/4 at shift 2·(c%4). */
GEMV_INLINE void two_bit_chunk(__global const uchar *groups, uint chunk, uchar16 *q0, uchar16 *q1)
{
    __global const uchar *group = groups + 32 * (chunk / 4);
    const uchar16 shift = (uchar16)(uchar)(2 * (chunk % 4));
    *q0 = (load_bytes16(group) >> shift) & (uchar16)3;
    *q1 = (load_bytes16(group + 16) >> shift) & (uchar16)3;
}

/* Q4_K / Q5_K: 4-bit values in 4 groups of 32 bytes; chunk c is group c/2, low nibbles for even c. */
GEMV_INLINE void nibble_chunk(__global const uchar *qs, uint chunk, uchar16 *q0, uchar16 *q1)
{
    __global const uchar *group = qs + 32 * (chunk / 2);
    const uchar16 shift = (uchar16)(uchar)(4 * (chunk % 2));
    *q0 = (load_bytes16(group) >> shift) & (uchar16)15;
    *q1 = (load_bytes16(group + 16) >> shift) & (uchar16)15;
}

/* Q4_K / Q5_K: the 6-bit scale and min of sub-block j from the 12 packed bytes. */
GEMV_INLINE void scale_min(__global const uchar *s, uint j, float *scale, float *min)
{
    uint sc, m;
    if (j < 4) {
        sc = s[j] & 63u;
        m = s[j + 4] & 63u;
    } else {
        sc = (s[j + 4] & 15u) | ((uint)(s[j - 4] >> 6) << 4);
        m = (uint)(s[j + 4] >> 4) | ((uint)(s[j] >> 6) << 4);
    }
    *scale = (float)sc;
    *min = (float)m;
}

#if defined(LOWBIT_GEMV_Q2_K)
#define GEMV_KERNEL gemv_q2_k
#define BLOCK_BYTES LOWBIT_Q2_K_BYTES /* scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin */
/* x = d·sc·q − dmin·m, one (sc, m) byte per 16 elements */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float d = load_f16(block + 80), dmin = load_f16(block + 82);
    const uint s0 = block[2 * chunk], s1 = block[2 * chunk + 1];
    uchar16 q0, q1;
    two_bit_chunk(block + 16, chunk, &q0, &q1);
    *w0 = convert_float16(q0) * (d * (float)(s0 & 15u)) - dmin * (float)(s0 >> 4);
    *w1 = convert_float16(q1) * (d * (float)(s1 & 15u)) - dmin * (float)(s1 >> 4);
}
/* Integer dot: a scale and a min per 16 elements, the min applied through sums of each half of the quantized x. */
#define INT_OFFSET 2
#define INT_HALF_SCALES 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    const float d = load_f16(block + 80), dmin = load_f16(block + 82);
    const uint s0 = block[2 * chunk], s1 = block[2 * chunk + 1];
    uchar16 u0, u1;
    two_bit_chunk(block + 16, chunk, &u0, &u1);
    *q0 = as_char16(u0);
    *q1 = as_char16(u1);
    *scale = (float2)(d * (float)(s0 & 15u), d * (float)(s1 & 15u));
    *offset = (float2)(dmin * (float)(s0 >> 4), dmin * (float)(s1 >> 4));
}

#elif defined(LOWBIT_GEMV_Q3_K)
#define GEMV_KERNEL gemv_q3_k
#define BLOCK_BYTES LOWBIT_Q3_K_BYTES /* hmask[32], qs[64], scales[12], f16 d */
/* 6-bit scale j (one per 16 elements) minus 32: low 4 bits in bytes 0..7 (low nibble for j < 8, high
 * for j ≥ 8), high 2 bits in byte 8 + j%4 at shift 2·(j/4). */
GEMV_INLINE float q3_scale(__global const uchar *s, uint j)
{
    const uint low = j < 8 ? s[j] & 15u : (uint)(s[j - 8] >> 4);
    const uint high = ((uint)s[8 + j % 4] >> (2 * (j / 4))) & 3u;
    return (float)(int)((low | (high << 4)) - 32u);
}
/* q = low 2 bits − 4 where bit c of hmask[l] is clear: (low | hbit << 2) − 4. x = d·sc·q */
GEMV_INLINE void q3_k_values(__global const uchar *block, uint chunk, uchar16 *q0, uchar16 *q1)
{
    two_bit_chunk(block + 32, chunk, q0, q1);
    *q0 |= bit_plane(load_bytes16(block), chunk) << (uchar16)2;
    *q1 |= bit_plane(load_bytes16(block + 16), chunk) << (uchar16)2;
}
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float d = load_f16(block + 108);
    uchar16 q0, q1;
    q3_k_values(block, chunk, &q0, &q1);
    *w0 = convert_float16(as_char16(q0 - (uchar16)4)) * (d * q3_scale(block + 96, 2 * chunk));
    *w1 = convert_float16(as_char16(q1 - (uchar16)4)) * (d * q3_scale(block + 96, 2 * chunk + 1));
}
#define INT_OFFSET 0
#define INT_HALF_SCALES 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    const float d = load_f16(block + 108);
    uchar16 u0, u1;
    q3_k_values(block, chunk, &u0, &u1);
    *q0 = as_char16(u0 - (uchar16)4);
    *q1 = as_char16(u1 - (uchar16)4);
    *scale = (float2)(d * q3_scale(block + 96, 2 * chunk), d * q3_scale(block + 96, 2 * chunk + 1));
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_Q4_K) || defined(LOWBIT_GEMV_Q5_K)
#define GEMV_AFFINE 1
#if defined(LOWBIT_GEMV_Q4_K)
#define GEMV_KERNEL gemv_q4_k
#define BLOCK_BYTES LOWBIT_Q4_K_BYTES /* f16 d, f16 dmin, scales[12], qs[128] */
#else
#define GEMV_KERNEL gemv_q5_k
#define BLOCK_BYTES LOWBIT_Q5_K_BYTES /* f16 d, f16 dmin, scales[12], qh[32], qs[128]; bit c of qh[l] the 5th bit */
#endif
/* x = d·sc·q − dmin·m, one (sc, m) per 32-element chunk: the chunk's q with scale d·sc, offset dmin·m */
GEMV_INLINE void k_affine_values(__global const uchar *block, uint chunk, uchar16 *q0, uchar16 *q1, float *scale,
                                 float *offset)
{
    float sc, m;
    scale_min(block + 4, chunk, &sc, &m);
    *scale = load_f16(block) * sc;
    *offset = load_f16(block + 2) * m;
#if defined(LOWBIT_GEMV_Q4_K)
    nibble_chunk(block + 16, chunk, q0, q1);
#else
    nibble_chunk(block + 48, chunk, q0, q1);
    *q0 |= bit_plane(load_bytes16(block + 16), chunk) << (uchar16)4;
    *q1 |= bit_plane(load_bytes16(block + 16 + 16), chunk) << (uchar16)4;
#endif
}
GEMV_INLINE void load_chunk_affine(__global const uchar *block, uint chunk, float16 *w0, float16 *w1, float *scale,
                                   float *offset)
{
    uchar16 q0, q1;
    k_affine_values(block, chunk, &q0, &q1, scale, offset);
    *w0 = convert_float16(q0);
    *w1 = convert_float16(q1);
}
/* Integer dot: the min through the quantized block sum of x. */
#define INT_OFFSET 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    uchar16 u0, u1;
    float s, m;
    k_affine_values(block, chunk, &u0, &u1, &s, &m);
    *q0 = as_char16(u0);
    *q1 = as_char16(u1);
    *scale = (float2)s;
    *offset = (float2)m;
}
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    float scale, offset;
    load_chunk_affine(block, chunk, w0, w1, &scale, &offset);
    *w0 = *w0 * scale - offset;
    *w1 = *w1 * scale - offset;
}

#elif defined(LOWBIT_GEMV_Q6_K)
#define GEMV_KERNEL gemv_q6_k
#define BLOCK_BYTES LOWBIT_Q6_K_BYTES /* ql[128], qh[64], int8 scales[16], f16 d */
/* Half h = c/4, k = c%4: low 4 bits from ql[64h + 32·(k%2) + l] (low nibble for k < 2), high 2 bits
 * from qh[32h + l] at shift 2k. x = d·sc·(q − 32), one int8 scale per 16 elements. */
/* q − 32 of elements 0..15 and 16..31 of chunk c, in the byte lanes (a signed byte converts as cheaply as
 * an unsigned one). */
GEMV_INLINE void q6_k_values(__global const uchar *block, uint chunk, char16 *q0, char16 *q1)
{
    const uint h = chunk / 4, k = chunk % 4;
    __global const uchar *ql = block + 64 * h + 32 * (k % 2);
    __global const uchar *qh = block + 128 + 32 * h;
    const uchar16 low_shift = (uchar16)(uchar)(4 * (k / 2)), high_shift = (uchar16)(uchar)(2 * k);
    const uchar16 u0 = ((load_bytes16(ql) >> low_shift) & (uchar16)15) |
                       (((load_bytes16(qh) >> high_shift) & (uchar16)3) << (uchar16)4);
    const uchar16 u1 = ((load_bytes16(ql + 16) >> low_shift) & (uchar16)15) |
                       (((load_bytes16(qh + 16) >> high_shift) & (uchar16)3) << (uchar16)4);
    *q0 = as_char16(u0 - (uchar16)32);
    *q1 = as_char16(u1 - (uchar16)32);
}
/* d·sc of the two 16-element halves of chunk c. */
GEMV_INLINE float2 q6_k_scales(__global const uchar *block, uint chunk)
{
    const float d = load_f16(block + 208);
    const __global char *scales = (const __global char *)(block + 192);
    return (float2)(d * (float)scales[2 * chunk], d * (float)scales[2 * chunk + 1]);
}
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    char16 q0, q1;
    q6_k_values(block, chunk, &q0, &q1);
    const float2 scale = q6_k_scales(block, chunk);
    *w0 = convert_float16(q0) * scale.s0;
    *w1 = convert_float16(q1) * scale.s1;
}
#define INT_OFFSET 0
#define INT_HALF_SCALES 1
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    q6_k_values(block, chunk, q0, q1);
    *scale = q6_k_scales(block, chunk);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_IQ4_XS)
#define GEMV_KERNEL gemv_iq4_xs
#define BLOCK_BYTES LOWBIT_IQ4_XS_BYTES /* f16 d, u16 scales_h, scales_l[4], qs[128] */
/* Chunk c: qs[16c..16c+15], low nibble → element j, high → j + 16; 6-bit scale = nibble c of scales_l
 * | 2 bits c of scales_h << 4; x = d·(ls − 32)·level[q] */
GEMV_INLINE float iq4_xs_scale(__global const uchar *block, uint chunk)
{
    const float d = load_f16(block);
    const uint high = (load_u16(block + 2) >> (2 * chunk)) & 3u;
    const uint low = ((uint)block[4 + chunk / 2] >> (4 * (chunk % 2))) & 15u;
    return d * (float)((int)(low | (high << 4)) - 32);
}
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    const uchar16 q = load_bytes16(block + 8 + 16 * chunk);
    *q0 = convert_char16(iq4_level_ints(q & (uchar16)15));
    *q1 = convert_char16(iq4_level_ints(q >> (uchar16)4));
    *scale = (float2)iq4_xs_scale(block, chunk);
    *offset = (float2)0.0f;
}
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float scale = iq4_xs_scale(block, chunk);
    const uchar16 q = load_bytes16(block + 8 + 16 * chunk);
    *w0 = iq4_levels(q & (uchar16)15) * scale;
    *w1 = iq4_levels(q >> (uchar16)4) * scale;
}

#elif defined(LOWBIT_GEMV_TQ2_0)
#define GEMV_KERNEL gemv_tq2_0
#define BLOCK_BYTES LOWBIT_TQ2_0_BYTES /* qs[64], f16 d last */
/* x = d·(q − 1) */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float d = load_f16(block + 64);
    uchar16 q0, q1;
    two_bit_chunk(block, chunk, &q0, &q1);
    *w0 = convert_float16(as_char16(q0 - (uchar16)1)) * d;
    *w1 = convert_float16(as_char16(q1 - (uchar16)1)) * d;
}
/* Integer dot: q − 1 ∈ {−1, 0, 1}, scale d. */
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    uchar16 u0, u1;
    two_bit_chunk(block, chunk, &u0, &u1);
    *q0 = as_char16(u0 - (uchar16)1);
    *q1 = as_char16(u1 - (uchar16)1);
    *scale = (float2)load_f16(block + 64);
    *offset = (float2)0.0f;
}

#elif defined(LOWBIT_GEMV_TQ1_0)
#define GEMV_KERNEL gemv_tq1_0
#define BLOCK_BYTES LOWBIT_TQ1_0_BYTES /* qs[48] (5 trits a byte), qh[4] (4 trits a byte), f16 d last */
/* Trit p of a byte: ((byte·3^p mod 256)·3) >> 8, lane by lane. */
GEMV_INLINE uchar16 trits(uchar16 bytes, uchar16 power)
{
    return convert_uchar16((convert_ushort16(bytes * power) * (ushort16)3) >> (ushort16)8);
}
/* The trits t (0..2) of chunk c, elements 0..15 and 16..31. Bytes 0..31: trit p of byte l is element 32p + l
 * (chunks 0..4). Bytes 32..47: element 160 + 16p + l. qh[0..3]: element 240 + 4p + l. */
GEMV_INLINE void trit_chunk(__global const uchar *block, uint chunk, uchar16 *t0, uchar16 *t1)
{
    if (chunk < 5) {
        const uchar16 power = (uchar16)(uchar)(chunk == 0 ? 1 : chunk == 1 ? 3 : chunk == 2 ? 9 : chunk == 3 ? 27 : 81);
        *t0 = trits(load_bytes16(block), power);
        *t1 = trits(load_bytes16(block + 16), power);
    } else {
        const uchar16 middle = load_bytes16(block + 32);
        if (chunk == 5) {
            *t0 = trits(middle, (uchar16)1);
            *t1 = trits(middle, (uchar16)3);
        } else if (chunk == 6) {
            *t0 = trits(middle, (uchar16)9);
            *t1 = trits(middle, (uchar16)27);
        } else {
            *t0 = trits(middle, (uchar16)81);
            const uchar4 qh = vload4(0, block + 48);
            *t1 = trits((uchar16)(qh, qh, qh, qh),
                        (uchar16)(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27));
        }
    }
}
/* x = d·(t − 1) */
GEMV_INLINE void load_chunk(__global const uchar *block, uint chunk, float16 *w0, float16 *w1)
{
    const float d = load_f16(block + 52);
    uchar16 t0, t1;
    trit_chunk(block, chunk, &t0, &t1);
    *w0 = (convert_float16(t0) - 1.0f) * d;
    *w1 = (convert_float16(t1) - 1.0f) * d;
}
/* Integer dot: the same trits as integers, t − 1 ∈ {−1, 0, 1}, scale d. */
#define INT_OFFSET 0
GEMV_INLINE void load_chunk_int(__global const uchar *block, uint chunk, char16 *q0, char16 *q1, float2 *scale,
                                float2 *offset)
{
    uchar16 t0, t1;
    trit_chunk(block, chunk, &t0, &t1);
    *q0 = as_char16(t0 - (uchar16)1);
    *q1 = as_char16(t1 - (uchar16)1);
    *scale = (float2)load_f16(block + 52);
    *offset = (float2)0.0f;
}

#else
#error "gemv_kquants.cl: define one of LOWBIT_GEMV_Q2_K, _Q3_K, _Q4_K, _Q5_K, _Q6_K, _IQ4_XS, _TQ1_0, _TQ2_0"
#endif
