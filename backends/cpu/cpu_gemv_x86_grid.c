/* cpu_gemv_x86_grid.c — AVX2 integer-dot kernels for the codebook formats (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S,
 * IQ1_S, IQ1_M). Every grid value is an integer, so each 32-element chunk of a block becomes 32 signed bytes and
 * one float factor per 16-element half, and the dot product runs as for the other formats (cpu_x86_int.h):
 * - IQ2: 2-bit codes (8 to a grid entry) → magnitudes 8, 25, 43 through a byte shuffle, signs applied as
 *   (m ^ s) − s with s = 0xFF for a set sign bit;
 * - IQ3: 3-bit codes (4 to an entry) → 4 + 8c (62 for c = 7) or 1 + 2c, built byte by byte;
 * - IQ1: codes c → 8·(c − 1) ± 1, i.e. eight times (v ± δ) with δ = 1/8, and the factor divided by 8 (exact). */
#include "cpu_gemv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "cpu_x86_int.h"

typedef struct grid_chunk {
    __m256i q;    /* the 32 quants */
    __m256 scale; /* the factor of elements 0..15 in lanes 0..3, of 16..31 in lanes 4..7 */
} grid_chunk;

X86_TARGET static inline __m256 half_scales(float first, float second)
{
    return _mm256_set_m128(_mm_set1_ps(second), _mm_set1_ps(first));
}

X86_TARGET static inline __m256i with_signs(__m256i magnitudes, uint32_t sign_bytes)
{
    const __m256i negate = bits_to_bytes(sign_bytes);
    return _mm256_sub_epi8(_mm256_xor_si256(magnitudes, negate), negate);
}

/* Four grid entries of 2-bit codes (8 elements each) → 32 IQ2 magnitudes. */
X86_TARGET static inline __m256i iq2_magnitudes(const uint32_t *grid, const uint32_t index[4])
{
    uint64_t word = 0;
    for (int l = 0; l < 4; ++l)
        word |= (uint64_t)lowbit_grid_code(grid, index[l]) << (16 * l);
    const __m256i table = _mm256_setr_epi8(8, 25, 43, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 25, 43, 60, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0, 0, 0);
    return _mm256_shuffle_epi8(table, expand_2bit(word));
}

/* Eight IQ3 grid entries (two per 8-element group, 3-bit codes) → 32 magnitudes. */
X86_TARGET static inline __m256i iq3_magnitudes(const uint32_t *grid, const uint32_t index[8], int xxs)
{
    unsigned char bytes[32];
    for (int e = 0; e < 8; ++e) {
        const uint32_t code = lowbit_grid_code(grid, index[e]);
        for (int k = 0; k < 4; ++k) {
            const uint32_t c = (code >> (3 * k)) & 7u;
            bytes[4 * e + k] = (unsigned char)(xxs ? lowbit_grid_iq3xxs_value(c) : 1u + 2u * c);
        }
    }
    return _mm256_loadu_si256((const __m256i *)(const void *)bytes);
}

/* Four IQ1 grid entries → 8·(c − 1) for 32 elements (the ±1 of δ is added by the caller). */
X86_TARGET static inline __m256i iq1_eighths(const uint32_t index[4])
{
    uint64_t word = 0;
    for (int l = 0; l < 4; ++l)
        word |= (uint64_t)lowbit_grid_code(lowbit_grid_iq1s, index[l]) << (16 * l);
    const __m256i table = _mm256_setr_epi8(-8, 0, 8, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -8, 0, 8, 16, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0, 0, 0);
    return _mm256_shuffle_epi8(table, expand_2bit(word));
}

/* Chunk b (elements 32b..32b+31) of one block; `d` is the block's f16 scale (IQ1_M: rebuilt from its scales). */
X86_TARGET __attribute__((always_inline)) static inline grid_chunk grid_decode(lowbit_format format,
                                                                               const unsigned char *in, int b, float d)
{
    grid_chunk chunk;
    uint32_t index[8], signs = 0;
    switch (format) {
    case LOWBIT_FORMAT_IQ2_XXS: {
        const unsigned char *q = in + LOWBIT_IQ2_XXS_QS + 8 * b;
        const uint32_t w0 = lowbit_decode_u32(q), w1 = lowbit_decode_u32(q + 4);
        for (int l = 0; l < 4; ++l) {
            index[l] = (w0 >> (8 * l)) & 0xFFu;
            signs |= lowbit_ksigns((w1 >> (7 * l)) & 0x7Fu) << (8 * l);
        }
        const float db = d * (0.5f + (float)(w1 >> 28)) * 0.25f;
        chunk.q = with_signs(iq2_magnitudes(lowbit_grid_iq2xxs, index), signs);
        chunk.scale = _mm256_set1_ps(db);
        break;
    }
    case LOWBIT_FORMAT_IQ2_XS:
    case LOWBIT_FORMAT_IQ2_S: {
        const int xs = format == LOWBIT_FORMAT_IQ2_XS;
        const unsigned sc = in[(xs ? LOWBIT_IQ2_XS_SCALES : LOWBIT_IQ2_S_SCALES) + b];
        for (int l = 0; l < 4; ++l) {
            if (xs) {
                const uint32_t q = lowbit_decode_u16(in + LOWBIT_IQ2_XS_QS + 2 * (4 * b + l));
                index[l] = q & 0x1FFu;
                signs |= lowbit_ksigns(q >> 9) << (8 * l);
            } else {
                index[l] = in[LOWBIT_IQ2_S_QS + 4 * b + l] | (((in[LOWBIT_IQ2_S_QH + b] >> (2 * l)) & 3u) << 8);
                signs |= (uint32_t)in[LOWBIT_IQ2_S_QS + 32 + 4 * b + l] << (8 * l);
            }
        }
        chunk.q = with_signs(iq2_magnitudes(xs ? lowbit_grid_iq2xs : lowbit_grid_iq2s, index), signs);
        chunk.scale = half_scales(d * (0.5f + (float)(sc & 0xFu)) * 0.25f, d * (0.5f + (float)(sc >> 4)) * 0.25f);
        break;
    }
    case LOWBIT_FORMAT_IQ3_XXS: {
        const unsigned char *qs = in + LOWBIT_IQ3_XXS_QS;
        const uint32_t aux = lowbit_decode_u32(qs + 64 + 4 * b);
        for (int e = 0; e < 8; ++e)
            index[e] = qs[8 * b + e];
        for (int l = 0; l < 4; ++l)
            signs |= lowbit_ksigns((aux >> (7 * l)) & 0x7Fu) << (8 * l);
        chunk.q = with_signs(iq3_magnitudes(lowbit_grid_iq3xxs, index, 1), signs);
        chunk.scale = _mm256_set1_ps(d * (0.5f + (float)(aux >> 28)) * 0.5f);
        break;
    }
    case LOWBIT_FORMAT_IQ3_S: {
        const unsigned qh = in[LOWBIT_IQ3_S_QH + b];
        for (int e = 0; e < 8; ++e)
            index[e] = in[LOWBIT_IQ3_S_QS + 8 * b + e] | (((qh >> e) & 1u) << 8);
        signs = lowbit_decode_u32(in + LOWBIT_IQ3_S_SIGNS + 4 * b);
        const int s = (in[LOWBIT_IQ3_S_SCALES + b / 2] >> (4 * (b % 2))) & 0xF;
        chunk.q = with_signs(iq3_magnitudes(lowbit_grid_iq3s, index, 0), signs);
        chunk.scale = _mm256_set1_ps(d * (float)(1 + 2 * s));
        break;
    }
    case LOWBIT_FORMAT_IQ1_S: {
        const uint32_t qh = lowbit_decode_u16(in + LOWBIT_IQ1_S_QH + 2 * b);
        for (int l = 0; l < 4; ++l)
            index[l] = in[LOWBIT_IQ1_S_QS + 4 * b + l] | (((qh >> (3 * l)) & 7u) << 8);
        chunk.q = _mm256_add_epi8(iq1_eighths(index), _mm256_set1_epi8((qh & 0x8000u) ? -1 : 1));
        chunk.scale = _mm256_set1_ps(d * (float)(2 * (int)((qh >> 12) & 7u) + 1) * 0.125f);
        break;
    }
    default: { /* IQ1_M: δ's sign per 8-element group, a factor per 16 */
        const uint32_t w = lowbit_decode_u16(in + LOWBIT_IQ1_M_SCALES + 2 * (b / 2)) >> (6 * (b % 2));
        uint32_t negative = 0;
        for (int l = 0; l < 4; ++l) {
            const uint32_t nibble = (uint32_t)(in[LOWBIT_IQ1_M_QH + 2 * b + l / 2] >> (4 * (l % 2))) & 0xFu;
            index[l] = in[LOWBIT_IQ1_M_QS + 4 * b + l] | ((nibble & 7u) << 8);
            negative |= (nibble & 8u) ? 0xFFu << (8 * l) : 0u;
        }
        /* bits_to_bytes of whole 0xFF bytes: 0xFF over the group's 8 elements */
        const __m256i delta = _mm256_or_si256(bits_to_bytes(negative), _mm256_set1_epi8(1));
        chunk.q = _mm256_add_epi8(iq1_eighths(index), delta);
        chunk.scale = half_scales(d * (float)(2 * (int)(w & 7u) + 1) * 0.125f,
                                  d * (float)(2 * (int)((w >> 3) & 7u) + 1) * 0.125f);
        break;
    }
    }
    return chunk;
}

/* IQ1_M keeps its f16 scale in the top nibbles of its four scale words. */
static inline float iq1_m_scale(const unsigned char *in)
{
    uint32_t sc[4];
    for (int i = 0; i < 4; ++i)
        sc[i] = lowbit_decode_u16(in + LOWBIT_IQ1_M_SCALES + 2 * i);
    const uint32_t bits = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0u) | ((sc[2] >> 4) & 0x0F00u) | (sc[3] & 0xF000u);
    return lowbit_fp16_to_fp32((uint16_t)bits);
}

X86_TARGET __attribute__((always_inline)) static inline void gemv_grid_int(lowbit_format format, size_t block_bytes,
                                                                           const unsigned char *w, const q8_rows *x,
                                                                           size_t n, float *y, size_t rows,
                                                                           size_t row_begin, size_t row_end)
{
    const size_t blocks = x->cols / 256;
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
                const float d = format == LOWBIT_FORMAT_IQ1_M ? iq1_m_scale(in) : load_half(in);
                for (int j = 0; j < 8; ++j) {
                    const grid_chunk chunk = grid_decode(format, in, j, d);
                    const __m256i abs_q = _mm256_sign_epi8(chunk.q, chunk.q);
                    const size_t xb = b * 8 + (size_t)j;
#define GRID_INT_ROW(i)                                                                                                \
    if (count > i) {                                                                                                   \
        const size_t xr = i0 + i;                                                                                      \
        const __m256i sum = dot_signed(abs_q, chunk.q, load_q8(x, xr, xb * 32), pairs);                                \
        acc[i][xb & 1] =                                                                                               \
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum),                                                                   \
                            _mm256_mul_ps(chunk.scale, _mm256_set1_ps(x->d[xr * x->blocks + xb])), acc[i][xb & 1]);    \
    }
                    GRID_INT_ROW(0) GRID_INT_ROW(1) GRID_INT_ROW(2) GRID_INT_ROW(3)
#undef GRID_INT_ROW
                }
            }
            store_rows(x, y, rows, r, i0, count, acc, none);
        }
    }
}

#define GRID_INT_KERNEL(name, format, bytes)                                                                           \
    X86_TARGET void name(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows, size_t row_begin,  \
                         size_t row_end)                                                                               \
    {                                                                                                                  \
        gemv_grid_int(format, bytes, w, x, n, y, rows, row_begin, row_end);                                            \
    }
GRID_INT_KERNEL(lowbit_cpu_gemv_iq2_xxs_int, LOWBIT_FORMAT_IQ2_XXS, LOWBIT_IQ2_XXS_BYTES)
GRID_INT_KERNEL(lowbit_cpu_gemv_iq2_xs_int, LOWBIT_FORMAT_IQ2_XS, LOWBIT_IQ2_XS_BYTES)
GRID_INT_KERNEL(lowbit_cpu_gemv_iq2_s_int, LOWBIT_FORMAT_IQ2_S, LOWBIT_IQ2_S_BYTES)
GRID_INT_KERNEL(lowbit_cpu_gemv_iq3_xxs_int, LOWBIT_FORMAT_IQ3_XXS, LOWBIT_IQ3_XXS_BYTES)
GRID_INT_KERNEL(lowbit_cpu_gemv_iq3_s_int, LOWBIT_FORMAT_IQ3_S, LOWBIT_IQ3_S_BYTES)
GRID_INT_KERNEL(lowbit_cpu_gemv_iq1_s_int, LOWBIT_FORMAT_IQ1_S, LOWBIT_IQ1_S_BYTES)
GRID_INT_KERNEL(lowbit_cpu_gemv_iq1_m_int, LOWBIT_FORMAT_IQ1_M, LOWBIT_IQ1_M_BYTES)
#undef GRID_INT_KERNEL

#else
typedef int lowbit_cpu_gemv_x86_grid_unused; /* ISO C: a translation unit is never empty */
#endif
