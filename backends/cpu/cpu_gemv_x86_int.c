/* cpu_gemv_x86_int.c — AVX2 integer-dot kernels: the weights' quants (as bytes, cpu_x86_decode.h) times activations
 * quantized per call to 8-bit blocks (lowbit_cpu_quantize_q8), multiplied in integers with pmaddubsw/pmaddwd, and one
 * float multiply-add per 32 elements for the two scales. Signed weights go through pmaddubsw's unsigned operand as
 * |w| with w's sign moved onto x; unsigned ones (Q4_1, Q5_1, Q4_K, Q5_K) go in directly. No pair sum can overflow
 * 16 bits: |w| ≤ 128 and |x| ≤ 127 give at most 32512.
 *
 * Activation blocks are 32 elements, so a K-quant's sub-block (32, or two 16-element halves for Q6_K) meets
 * exactly one activation scale; formats with a zero point or min apply it through the block's d·Σq. Four
 * activation rows share each unpacked weight block, as in the float kernels. */
#include "cpu_gemv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "cpu_x86_int.h"

/* A 32-element block's quants as one vector of bytes (signed, or unsigned for the affine formats). Nibble formats
 * unpack at full width: the 16 packed bytes and their copy shifted by 4 fill both lanes, one mask takes both
 * nibble planes. */
X86_TARGET static inline __m256i block32_bytes(lowbit_format format, const unsigned char *block)
{
    if (format == LOWBIT_FORMAT_Q8_0) return _mm256_loadu_si256((const __m256i *)(block + 2));
    if (format == LOWBIT_FORMAT_Q5_0 || format == LOWBIT_FORMAT_Q5_1) {
        __m128i lo, hi;
        unpack_bytes(format, block, &lo, &hi);
        return _mm256_set_m128i(hi, lo);
    }
    const size_t qs = format == LOWBIT_FORMAT_Q4_1 ? 4 : format == LOWBIT_FORMAT_MXFP4 ? LOWBIT_MXFP4_QS : 2;
    const __m128i packed = _mm_loadu_si128((const __m128i *)(block + qs));
    const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
    if (format == LOWBIT_FORMAT_Q4_0) return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
    if (format == LOWBIT_FORMAT_Q4_1) return q;
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(level_table(format)), q);
}

/* The 32-element {f16 d[, f16 m]; quants} formats, and MXFP4 (an E8M0 scale at half its value, doubled E2M1 codes).
 * Affine ones (x = d·q + m) add m·(d_x·Σq_x) per block. */
X86_TARGET __attribute__((always_inline)) static inline void gemv_block32_int(lowbit_format format,
                                                                              const unsigned char *w, const q8_rows *x,
                                                                              size_t n, float *y, size_t rows,
                                                                              size_t row_begin, size_t row_end)
{
    const block32_kind kind = block32_of(format);
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * x->blocks * kind.bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            float offset[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 32; b < x->k_end / 32; ++b) {
                const unsigned char *block = row + b * kind.bytes;
                const float dw = format == LOWBIT_FORMAT_MXFP4 ? lowbit_decode_e8m0_half(block[LOWBIT_MXFP4_E])
                                                               : load_half(block),
                            m = kind.affine ? load_half(block + 2) : 0.0f;
                const __m256i q = block32_bytes(format, block), abs_q = _mm256_sign_epi8(q, q);
                const size_t xb = b;
#define BLOCK32_INT_ROW(i)                                                                                             \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i xq = load_q8(x, xr, b * 32);                                                                     \
        const __m256i sum = kind.affine ? dot_unsigned(q, xq, ones) : dot_signed(abs_q, q, xq, ones);                  \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(dw * x->d[xr * x->blocks + b]), acc[i][xb & 1]);   \
        if (kind.affine) offset[i] += m * x->s[xr * x->blocks + b];                                                    \
    }
                BLOCK32_INT_ROW(0) BLOCK32_INT_ROW(1) BLOCK32_INT_ROW(2) BLOCK32_INT_ROW(3)
#undef BLOCK32_INT_ROW
            }
            store_rows(x, y, rows, r, i0, count, acc, offset);
        }
    }
}

#define BLOCK32_INT_KERNEL(name, format)                                                                               \
    X86_TARGET static void name(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,             \
                                size_t row_begin, size_t row_end)                                                      \
    {                                                                                                                  \
        gemv_block32_int(format, w, x, n, y, rows, row_begin, row_end);                                                \
    }
BLOCK32_INT_KERNEL(gemv_q4_0_int, LOWBIT_FORMAT_Q4_0)
BLOCK32_INT_KERNEL(gemv_q4_1_int, LOWBIT_FORMAT_Q4_1)
BLOCK32_INT_KERNEL(gemv_q5_0_int, LOWBIT_FORMAT_Q5_0)
BLOCK32_INT_KERNEL(gemv_q5_1_int, LOWBIT_FORMAT_Q5_1)
BLOCK32_INT_KERNEL(gemv_q8_0_int, LOWBIT_FORMAT_Q8_0)
BLOCK32_INT_KERNEL(gemv_iq4_nl_int, LOWBIT_FORMAT_IQ4_NL)
BLOCK32_INT_KERNEL(gemv_mxfp4_int, LOWBIT_FORMAT_MXFP4)
#undef BLOCK32_INT_KERNEL

/* The eight 6-bit scales and mins of a Q4_K/Q5_K block, four at a time in 32-bit words (the packing of
 * lowbit_decode_k4_scale_min: sub-blocks 0–3 in the low 6 bits of bytes 0–3 and 4–7, sub-blocks 4–7 from the
 * nibbles of bytes 8–11 with their top 2 bits from bytes 0–3 and 4–7). */
static inline void k4_scales_mins(const unsigned char *s, unsigned char sc[8], unsigned char mn[8])
{
    uint32_t a, b, c;
    memcpy(&a, s, 4), memcpy(&b, s + 4, 4), memcpy(&c, s + 8, 4);
    const uint32_t low6 = 0x3F3F3F3Fu, nibbles = 0x0F0F0F0Fu, top2 = 0x03030303u;
    const uint32_t words[4] = {a & low6, (c & nibbles) | (((a >> 6) & top2) << 4), b & low6,
                               ((c >> 4) & nibbles) | (((b >> 6) & top2) << 4)};
    memcpy(sc, words, 8);
    memcpy(mn, words + 2, 8);
}

/* Q4_K and Q5_K against per-256 activation blocks (Q8_K's rule): the 6-bit sub-block scales multiply the 16-bit pair
 * sums inside pmaddwd and the eight sub-blocks add up in 32-bit integers, so one conversion and one multiply-add
 * per 256 elements remain; the mins use the activation's exact per-32 sums: d·d_x·Σ sc_j·Σq·x_q −
 * dmin·d_x·Σ m_j·Σx_q. Q5_K's fifth bit of element l is bit j of qh[l]. */
X86_TARGET __attribute__((always_inline)) static inline void gemv_k45_int(int five_bits, const unsigned char *w,
                                                                          const q8_rows *x, size_t n, float *y,
                                                                          size_t rows, size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = five_bits ? 176 : 144;
    const __m256i mask = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            float mins[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes, *s = in + 4, *qs = in + (five_bits ? 48 : 16);
                const float d = load_half(in), dmin = load_half(in + 2);
                const __m256i qh = five_bits ? _mm256_loadu_si256((const __m256i *)(in + 16)) : _mm256_setzero_si256();
                __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                   _mm256_setzero_si256()};
                int min_sums[4] = {0, 0, 0, 0};
                unsigned char sc[8], mn[8];
                k4_scales_mins(s, sc, mn);
                for (int j = 0; j < 8; ++j) {
                    __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * (j / 2)));
                    if (j % 2) q = _mm256_srli_epi16(q, 4);
                    q = _mm256_and_si256(q, mask);
                    if (five_bits)
                        q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), one), 4));
                    const __m256i scale = _mm256_set1_epi16((short)sc[j]);
                    const int m = mn[j];
                    const size_t xb = b * 8 + (size_t)j;
#define K45_INT_ROW(i)                                                                                                 \
    if (count > i) {                                                                                                   \
        sums[i] = _mm256_add_epi32(sums[i], dot_unsigned(q, load_q8(x, i0 + i, xb * 32), scale));                      \
        min_sums[i] += m * x->sum32[(i0 + i) * x->blocks + xb];                                                        \
    }
                    K45_INT_ROW(0) K45_INT_ROW(1) K45_INT_ROW(2) K45_INT_ROW(3)
#undef K45_INT_ROW
                }
                for (size_t i = 0; i < count; ++i) {
                    const float dx = x->d256[(i0 + i) * blocks + b];
                    acc[i][b & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[i]), _mm256_set1_ps(d * dx), acc[i][b & 1]);
                    mins[i] -= dmin * dx * (float)min_sums[i];
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, mins);
        }
    }
}

X86_TARGET static void gemv_q4_k_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    gemv_k45_int(0, w, x, n, y, rows, row_begin, row_end);
}

X86_TARGET static void gemv_q5_k_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    gemv_k45_int(1, w, x, n, y, rows, row_begin, row_end);
}

/* Q6_K against per-256 activation blocks: q − 32 formed in the byte domain (signed); the two 16-element halves of
 * each 32 quants carry their own int8 scale, applied by pmaddwd (low 128-bit lane: elements 0..15, high lane:
 * 16..31), and the sixteen halves add up in 32-bit integers. */
X86_TARGET static void gemv_q6_k_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = 210;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in + 208);
                __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                   _mm256_setzero_si256()};
                for (int h = 0; h < 2; ++h) {
                    const __m256i ql[2] = {_mm256_loadu_si256((const __m256i *)(in + 64 * h)),
                                           _mm256_loadu_si256((const __m256i *)(in + 64 * h + 32))};
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(in + 128 + 32 * h));
                    for (int k = 0; k < 4; ++k) {
                        const __m256i q = q6_k_bytes(ql, qh, k), abs_q = _mm256_sign_epi8(q, q);
                        const int j = 8 * h + 2 * k;
                        const __m256i scales = _mm256_set_m128i(_mm_set1_epi16((short)(signed char)in[192 + j + 1]),
                                                                _mm_set1_epi16((short)(signed char)in[192 + j]));
                        const size_t xb = b * 8 + (size_t)(4 * h + k);
#define Q6_K_INT_ROW(i)                                                                                                \
    if (count > i) sums[i] = _mm256_add_epi32(sums[i], dot_signed(abs_q, q, load_q8(x, i0 + i, xb * 32), scales));
                        Q6_K_INT_ROW(0) Q6_K_INT_ROW(1) Q6_K_INT_ROW(2) Q6_K_INT_ROW(3)
#undef Q6_K_INT_ROW
                    }
                }
                for (size_t i = 0; i < count; ++i)
                    acc[i][b & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[i]),
                                                    _mm256_set1_ps(d * x->d256[(i0 + i) * blocks + b]), acc[i][b & 1]);
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

/* IQ4_XS: eight 32-element sub-blocks shaped like IQ4_NL blocks (16 bytes of level indices) under one f16 d and
 * 6-bit scales ls: x = d·(ls − 32)·level. */
X86_TARGET static void gemv_iq4_xs_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                       size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = 136;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in);
                const unsigned scales_h = (unsigned)in[2] | ((unsigned)in[3] << 8);
                for (int j = 0; j < 8; ++j) {
                    const int ls = ((in[4 + j / 2] >> (4 * (j % 2))) & 0xF) | (int)(((scales_h >> (2 * j)) & 3u) << 4);
                    const float dl = d * (float)(ls - 32);
                    /* an IQ4_NL block's level indices, which block32_bytes reads at offset 2 */
                    const __m256i q = block32_bytes(LOWBIT_FORMAT_IQ4_NL, in + 8 + 16 * j - 2),
                                  abs_q = _mm256_sign_epi8(q, q);
                    const size_t xb = b * 8 + (size_t)j;
#define IQ4_XS_INT_ROW(i)                                                                                              \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, q, load_q8(x, xr, xb * 32), ones);                                       \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(dl * x->d[xr * x->blocks + xb]), acc[i][xb & 1]);  \
    }
                    IQ4_XS_INT_ROW(0) IQ4_XS_INT_ROW(1) IQ4_XS_INT_ROW(2) IQ4_XS_INT_ROW(3)
#undef IQ4_XS_INT_ROW
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

/* Q2_K: 2-bit q (0..3) in 16-element sub-blocks with 4-bit scale and min; element 128h + 32k + l is bits 2k of
 * qs[32h + l]. Per 32 activations: d·Σ sc·q·x_q and dmin·Σ m·x_q (the activation's per-16 sums from pmaddubsw
 * with ones), both scaled by d_x. */
X86_TARGET static void gemv_q2_k_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = 84;
    const __m256i three = _mm256_set1_epi8(3), ones = _mm256_set1_epi8(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2], mins[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = mins[i][0] = mins[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in + 80), dmin = load_half(in + 82);
                for (int h = 0; h < 2; ++h) {
                    const __m256i qs = _mm256_loadu_si256((const __m256i *)(in + 16 + 32 * h));
                    for (int k = 0; k < 4; ++k) {
                        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), three);
                        const int j = 8 * h + 2 * k;
                        const __m256i scales = _mm256_set_m128i(_mm_set1_epi16((short)(in[j + 1] & 0xF)),
                                                                _mm_set1_epi16((short)(in[j] & 0xF)));
                        const __m256i min_scales = _mm256_set_m128i(_mm_set1_epi16((short)(in[j + 1] >> 4)),
                                                                    _mm_set1_epi16((short)(in[j] >> 4)));
                        const size_t xb = b * 8 + (size_t)(4 * h + k);
#define Q2_K_INT_ROW(i)                                                                                                \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i xq = load_q8(x, xr, xb * 32);                                                                    \
        const float dx = x->d[xr * x->blocks + xb];                                                                    \
        const __m256i sum = dot_unsigned(q, xq, scales), sum_x = dot_unsigned(ones, xq, min_scales);                   \
        acc[i][xb & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(d * dx), acc[i][xb & 1]);             \
        mins[i][xb & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_x), _mm256_set1_ps(dmin * dx), mins[i][xb & 1]);      \
    }
                        Q2_K_INT_ROW(0) Q2_K_INT_ROW(1) Q2_K_INT_ROW(2) Q2_K_INT_ROW(3)
#undef Q2_K_INT_ROW
                    }
                }
            }
            for (int i = 0; i < 4; ++i)
                for (int p = 0; p < 2; ++p)
                    acc[i][p] = _mm256_sub_ps(acc[i][p], mins[i][p]);
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

/* Q3_K: q = (2 low bits) − 4·(high bit clear), −4..3, in 16-element sub-blocks with 6-bit scales − 32; element
 * 128h + 32k + l: bits 2k of qs[32h + l], bit 4h + k of hmask[l]. */
X86_TARGET static void gemv_q3_k_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = 110;
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes, *s = in + 96;
                const float d = load_half(in + 108);
                const __m256i hmask = _mm256_loadu_si256((const __m256i *)in);
                int sc[16];
                for (int j = 0; j < 16; ++j)
                    sc[j] = (((s[j % 8] >> (4 * (j / 8))) & 0xF) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
                for (int h = 0; h < 2; ++h) {
                    const __m256i qs = _mm256_loadu_si256((const __m256i *)(in + 32 + 32 * h));
                    for (int k = 0; k < 4; ++k) {
                        const __m256i low = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), three);
                        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(hmask, 4 * h + k), one);
                        const __m256i q = _mm256_sub_epi8(
                            low, _mm256_and_si256(_mm256_cmpeq_epi8(high, _mm256_setzero_si256()), four));
                        const __m256i abs_q = _mm256_sign_epi8(q, q);
                        const int j = 8 * h + 2 * k;
                        const __m256i scales =
                            _mm256_set_m128i(_mm_set1_epi16((short)sc[j + 1]), _mm_set1_epi16((short)sc[j]));
                        const size_t xb = b * 8 + (size_t)(4 * h + k);
#define Q3_K_INT_ROW(i)                                                                                                \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, q, load_q8(x, xr, xb * 32), scales);                                     \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(d * x->d[xr * x->blocks + xb]), acc[i][xb & 1]);   \
    }
                        Q3_K_INT_ROW(0) Q3_K_INT_ROW(1) Q3_K_INT_ROW(2) Q3_K_INT_ROW(3)
#undef Q3_K_INT_ROW
                    }
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

/* TQ2_0: ternary q − 1 from 2-bit digits, one f16 d per 256; element 128c + 32k + l is bits 2k of qs[32c + l]. */
X86_TARGET static void gemv_tq2_0_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                      size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = 66;
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), pairs = _mm256_set1_epi16(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in + 64);
                for (int c = 0; c < 2; ++c) {
                    const __m256i qs = _mm256_loadu_si256((const __m256i *)(in + 32 * c));
                    for (int k = 0; k < 4; ++k) {
                        const __m256i q = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), three), one);
                        const __m256i abs_q = _mm256_sign_epi8(q, q);
                        const size_t xb = b * 8 + (size_t)(4 * c + k);
#define TQ2_0_INT_ROW(i)                                                                                               \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, q, load_q8(x, xr, xb * 32), pairs);                                      \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(d * x->d[xr * x->blocks + xb]), acc[i][xb & 1]);   \
    }
                        TQ2_0_INT_ROW(0) TQ2_0_INT_ROW(1) TQ2_0_INT_ROW(2) TQ2_0_INT_ROW(3)
#undef TQ2_0_INT_ROW
                    }
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

/* TQ1_0: ternary digits, five per byte of qs[0..47] and four per byte of qh (qs[48..51]); digit p of byte b is
 * ((b·3^p mod 256)·3) >> 8, i.e. 0, 1 or 2 as (b·3^p mod 256) reaches 86 and 171. b·3^p mod 256 is p byte-wise
 * triplings (adds wrap mod 256). Elements 32p + l come from qs[l], 160 + 16p + l from qs[32 + l], 240 + 4p + l
 * from qh[l]. */
X86_TARGET static inline __m256i trits(__m256i scaled)
{
    const __m256i ge86 = _mm256_cmpeq_epi8(_mm256_max_epu8(scaled, _mm256_set1_epi8(86)), scaled);
    const __m256i ge171 = _mm256_cmpeq_epi8(_mm256_max_epu8(scaled, _mm256_set1_epi8((char)171)), scaled);
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_set1_epi8(-1), ge86), ge171); /* digit − 1 */
}

X86_TARGET static inline __m256i triple(__m256i v) { return _mm256_add_epi8(v, _mm256_add_epi8(v, v)); }

X86_TARGET static void gemv_tq1_0_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                      size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256, block_bytes = 54;
    const __m256i pairs = _mm256_set1_epi16(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 256; b < x->k_end / 256; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in + 52);
                __m256i q[8];
                __m256i v = _mm256_loadu_si256((const __m256i *)in);
                for (int p = 0; p < 5; ++p, v = triple(v))
                    q[p] = trits(v);
                /* qs[32..47]: digit p of its 16 bytes are elements 160 + 16p .. + 15 */
                __m256i u = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(in + 32))), half[5];
                for (int p = 0; p < 5; ++p, u = triple(u))
                    half[p] = trits(u);
                q[5] = _mm256_permute2x128_si256(half[0], half[1], 0x20);
                q[6] = _mm256_permute2x128_si256(half[2], half[3], 0x20);
                unsigned char tail[16]; /* qh: elements 240 + 4p + l */
                for (int p = 0, power = 1; p < 4; ++p, power *= 3)
                    for (int l = 0; l < 4; ++l)
                        tail[4 * p + l] = (unsigned char)(in[48 + l] * power);
                const __m256i tail_trits = trits(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)tail)));
                q[7] = _mm256_permute2x128_si256(half[4], tail_trits, 0x20);
                for (int k = 0; k < 8; ++k) {
                    const __m256i abs_q = _mm256_sign_epi8(q[k], q[k]);
                    const size_t xb = b * 8 + (size_t)k;
#define TQ1_0_INT_ROW(i)                                                                                               \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, q[k], load_q8(x, xr, xb * 32), pairs);                                   \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(d * x->d[xr * x->blocks + xb]), acc[i][xb & 1]);   \
    }
                    TQ1_0_INT_ROW(0) TQ1_0_INT_ROW(1) TQ1_0_INT_ROW(2) TQ1_0_INT_ROW(3)
#undef TQ1_0_INT_ROW
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

/* The 32 quants of a Q1_0 chunk (±1 from 4 bytes of sign bits) or a Q2_0 chunk (q − 1 from 2-bit fields). */
X86_TARGET static inline __m256i q1_0_signs(const unsigned char *bits)
{
    uint32_t word;
    memcpy(&word, bits, sizeof word);
    /* a set bit: −1 ^ −1 = 0, | 1 = 1; a clear one: 0 ^ −1 = −1, | 1 = −1 */
    return _mm256_or_si256(_mm256_xor_si256(bits_to_bytes(word), _mm256_set1_epi8(-1)), _mm256_set1_epi8(1));
}

X86_TARGET static inline __m256i q2_0_values(const unsigned char *fields)
{
    uint64_t word;
    memcpy(&word, fields, sizeof word);
    return _mm256_sub_epi8(expand_2bit(word), _mm256_set1_epi8(1));
}

/* Q1_0 (128 elements, ±d) and Q2_0 (64 elements, (q − 1)·d): one f16 d per block, 32-element chunks. */
X86_TARGET __attribute__((always_inline)) static inline void gemv_q12_int(int two_bits, const unsigned char *w,
                                                                          const q8_rows *x, size_t n, float *y,
                                                                          size_t rows, size_t row_begin, size_t row_end)
{
    const size_t block = two_bits ? 64 : 128, chunks = block / 32, blocks = x->cols / block;
    const __m256i pairs = _mm256_set1_epi16(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * 18;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / block; b < x->k_end / block; ++b) {
                const unsigned char *in = row + b * 18;
                const float d = load_half(in);
                for (size_t c = 0; c < chunks; ++c) {
                    const __m256i q = two_bits ? q2_0_values(in + 2 + 8 * c) : q1_0_signs(in + 2 + 4 * c);
                    const __m256i abs_q = _mm256_sign_epi8(q, q);
                    const size_t xb = b * chunks + c;
#define Q12_INT_ROW(i)                                                                                                 \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, q, load_q8(x, xr, xb * 32), pairs);                                      \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(d * x->d[xr * x->blocks + xb]), acc[i][xb & 1]);   \
    }
                    Q12_INT_ROW(0) Q12_INT_ROW(1) Q12_INT_ROW(2) Q12_INT_ROW(3)
#undef Q12_INT_ROW
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

X86_TARGET static void gemv_q1_0_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    gemv_q12_int(0, w, x, n, y, rows, row_begin, row_end);
}

X86_TARGET static void gemv_q2_0_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                     size_t row_begin, size_t row_end)
{
    gemv_q12_int(1, w, x, n, y, rows, row_begin, row_end);
}

/* NVFP4: 64 elements, a UE4M3 scale (decoded at half its value) per 16 and doubled E2M1 codes; element 16s + j
 * is the low nibble of qs[8s + j] (j < 8), 16s + j + 8 its high nibble. The two 16-element halves of a
 * 32-element chunk keep their own float scale, one per 128-bit lane. */
X86_TARGET static void gemv_nvfp4_int(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                                      size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 64, block_bytes = LOWBIT_NVFP4_BYTES;
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m256i levels = _mm256_broadcastsi128_si256(level_table(LOWBIT_FORMAT_MXFP4)), pairs = _mm256_set1_epi16(1);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            __m256 acc[4][2];
            const float none[4] = {0};
            for (int i = 0; i < 4; ++i)
                acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (size_t b = x->k_begin / 64; b < x->k_end / 64; ++b) {
                const unsigned char *in = row + b * block_bytes;
                for (int t = 0; t < 2; ++t) {
                    const __m128i packed = _mm_loadu_si128((const __m128i *)(in + LOWBIT_NVFP4_QS + 16 * t));
                    const __m128i lo = _mm_and_si128(packed, mask), hi = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
                    const __m256i q = _mm256_shuffle_epi8(
                        levels, _mm256_set_m128i(_mm_unpackhi_epi64(lo, hi), _mm_unpacklo_epi64(lo, hi)));
                    const __m256i abs_q = _mm256_sign_epi8(q, q);
                    const __m256 scales = _mm256_set_m128(_mm_set1_ps(lowbit_decode_ue4m3_half(in[2 * t + 1])),
                                                          _mm_set1_ps(lowbit_decode_ue4m3_half(in[2 * t])));
                    const size_t xb = b * 2 + (size_t)t;
#define NVFP4_INT_ROW(i)                                                                                               \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, q, load_q8(x, xr, xb * 32), pairs);                                      \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(scales, _mm256_set1_ps(x->d[xr * x->blocks + xb])), \
                            acc[i][xb & 1]);                                                                           \
    }
                    NVFP4_INT_ROW(0) NVFP4_INT_ROW(1) NVFP4_INT_ROW(2) NVFP4_INT_ROW(3)
#undef NVFP4_INT_ROW
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

static const struct {
    lowbit_format format;
    x86_int_kernel_fn *run;
    const char *name;
    int superblock; /* reads Q8_K activations (lowbit_cpu_quantize_q8_k) instead of Q8_1-rule blocks of 32 */
} int_kernels[] = {
    {LOWBIT_FORMAT_Q4_0, gemv_q4_0_int, "cpu_gemv_q4_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q4_1, gemv_q4_1_int, "cpu_gemv_q4_1 avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q5_0, gemv_q5_0_int, "cpu_gemv_q5_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q5_1, gemv_q5_1_int, "cpu_gemv_q5_1 avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q8_0, gemv_q8_0_int, "cpu_gemv_q8_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ4_NL, gemv_iq4_nl_int, "cpu_gemv_iq4_nl avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q4_K, gemv_q4_k_int, "cpu_gemv_q4_k avx2 x=q8", 1},
    {LOWBIT_FORMAT_Q5_K, gemv_q5_k_int, "cpu_gemv_q5_k avx2 x=q8", 1},
    {LOWBIT_FORMAT_Q6_K, gemv_q6_k_int, "cpu_gemv_q6_k avx2 x=q8", 1},
    {LOWBIT_FORMAT_IQ4_XS, gemv_iq4_xs_int, "cpu_gemv_iq4_xs avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q2_K, gemv_q2_k_int, "cpu_gemv_q2_k avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q3_K, gemv_q3_k_int, "cpu_gemv_q3_k avx2 x=q8", 0},
    {LOWBIT_FORMAT_TQ2_0, gemv_tq2_0_int, "cpu_gemv_tq2_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_MXFP4, gemv_mxfp4_int, "cpu_gemv_mxfp4 avx2 x=q8", 0},
    {LOWBIT_FORMAT_TQ1_0, gemv_tq1_0_int, "cpu_gemv_tq1_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q1_0, gemv_q1_0_int, "cpu_gemv_q1_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_Q2_0, gemv_q2_0_int, "cpu_gemv_q2_0 avx2 x=q8", 0},
    {LOWBIT_FORMAT_NVFP4, gemv_nvfp4_int, "cpu_gemv_nvfp4 avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ2_XXS, lowbit_cpu_gemv_iq2_xxs_int, "cpu_gemv_iq2_xxs avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ2_XS, lowbit_cpu_gemv_iq2_xs_int, "cpu_gemv_iq2_xs avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ2_S, lowbit_cpu_gemv_iq2_s_int, "cpu_gemv_iq2_s avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ3_XXS, lowbit_cpu_gemv_iq3_xxs_int, "cpu_gemv_iq3_xxs avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ3_S, lowbit_cpu_gemv_iq3_s_int, "cpu_gemv_iq3_s avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ1_S, lowbit_cpu_gemv_iq1_s_int, "cpu_gemv_iq1_s avx2 x=q8", 0},
    {LOWBIT_FORMAT_IQ1_M, lowbit_cpu_gemv_iq1_m_int, "cpu_gemv_iq1_m avx2 x=q8", 0},
};

static int int_kernel_index(lowbit_format format)
{
    for (size_t k = 0; k < sizeof int_kernels / sizeof int_kernels[0]; ++k)
        if (int_kernels[k].format == format) return (int)k;
    return -1;
}

int lowbit_cpu_gemv_x86_int_kind(lowbit_format format)
{
    const int k = int_kernel_index(format);
    return k < 0 ? 0 : int_kernels[k].superblock ? 2 : 1;
}

/* lowbit_cpu_quantize_q8 at 8 lanes, with the same result bit for bit: max|x| by exact max, d and 1/d as scalars,
 * and round-half-away-from-zero without an addition that could round (t = trunc(v), then ±1 when |v − t| ≥ 0.5,
 * v − t being exact). Returns 0 for a block with NaN or Inf (the caller writes the non-finite result). */
X86_TARGET static int quantize_block_q8(const float *v, int8_t *q, float *d_out, float *s_out)
{
    const __m256 sign_bit = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(__builtin_inff());
    __m256 x[4], amax = _mm256_setzero_ps(), finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int k = 0; k < 4; ++k) {
        x[k] = _mm256_loadu_ps(v + 8 * k);
        const __m256 a = _mm256_andnot_ps(sign_bit, x[k]);
        finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, inf, _CMP_LT_OQ)); /* false for NaN and Inf */
        amax = _mm256_max_ps(amax, a);
    }
    if (_mm256_movemask_ps(finite) != 0xFF) return 0;
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256i values[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 scaled = _mm256_mul_ps(x[k], _mm256_set1_ps(id));
        const __m256 t = _mm256_round_ps(scaled, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256 half_or_more =
            _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_sub_ps(scaled, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
        const __m256 step = _mm256_or_ps(_mm256_and_ps(scaled, sign_bit), _mm256_set1_ps(1.0f)); /* ±1 */
        values[k] = _mm256_cvtps_epi32(_mm256_add_ps(t, _mm256_and_ps(half_or_more, step)));
    }
    /* int32 → int8 in element order: packs work per 128-bit lane, a final permute restores the order */
    const __m256i words = _mm256_packs_epi32(values[0], values[1]), words2 = _mm256_packs_epi32(values[2], values[3]);
    const __m256i bytes =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words2), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(void *)q, bytes);
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(values[0], values[1]), _mm256_add_epi32(values[2], values[3]));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    *d_out = d;
    *s_out = d * (float)_mm_cvtsi128_si32(s);
    return 1;
}

int lowbit_cpu_quantize_q8_x86(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out)
{
    const size_t blocks = cols / 32;
    for (size_t i = 0; i < n; ++i)
        for (size_t b = 0; b < blocks; ++b) {
            const size_t k = i * blocks + b;
            if (!quantize_block_q8(x + i * cols + b * 32, out->q + i * cols + b * 32, &out->d[k], &out->s[k])) {
                memset(out->q + i * cols + b * 32, 0, 32);
                out->d[k] = out->s[k] = __builtin_nanf("");
            }
        }
    return 1;
}

/* Batches beyond 4 rows run the columns in slices whose activations (n·slice bytes) stay in L2 while every weight
 * row of the range passes over them: without it each weight row streamed all of X from L3 again (n = 64,
 * K = 14336: 0.9 MB per row). Weights are still read once. */
#define X86_INT_SLICE_BYTES (128u * 1024u)

const char *lowbit_cpu_gemv_x86_int(lowbit_format format, const void *weights, size_t cols, const lowbit_cpu_q8 *x,
                                    size_t n, float *y, size_t rows, size_t row_begin, size_t row_end)
{
    const int k = int_kernel_index(format);
    if (k < 0) return NULL;
    size_t slice = n <= 4 ? cols : X86_INT_SLICE_BYTES / n / 256 * 256;
    if (slice < 256) slice = 256;
    q8_rows pass = {x->q, x->d, x->s, x->d256, x->sum32, cols, cols / 32, 0, 0, 0};
    for (size_t begin = 0; begin < cols; begin += slice) {
        pass.k_begin = begin;
        pass.k_end = cols - begin <= slice ? cols : begin + slice;
        pass.accumulate = begin > 0;
        int_kernels[k].run(weights, &pass, n, y, rows, row_begin, row_end);
    }
    return int_kernels[k].name;
}

#else
int lowbit_cpu_gemv_x86_int_kind(lowbit_format format)
{
    (void)format;
    return 0;
}

int lowbit_cpu_quantize_q8_x86(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out)
{
    (void)x, (void)n, (void)cols, (void)out;
    return 0;
}

const char *lowbit_cpu_gemv_x86_int(lowbit_format format, const void *weights, size_t cols, const lowbit_cpu_q8 *x,
                                    size_t n, float *y, size_t rows, size_t row_begin, size_t row_end)
{
    (void)format, (void)weights, (void)cols, (void)x, (void)n, (void)y, (void)rows, (void)row_begin, (void)row_end;
    return NULL;
}
#endif
