/* cpu_x86_int.h — what the AVX2 integer-dot kernels share (cpu_gemv_x86_int.c, cpu_gemv_x86_grid.c): the quantized
 * activations of a call, the byte dot products, bit and field expansion to bytes, and the grid kernels' entry
 * points. */
#ifndef LOWBIT_CPU_X86_INT_H
#define LOWBIT_CPU_X86_INT_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <stdint.h>

#include "cpu_x86_decode.h"

/* The quantized activations of one call, and the column range [k_begin, k_end) a kernel pass covers (multiples of
 * 256, or k_end = cols); `accumulate`: add to Y (a later column range) instead of storing. */
typedef struct q8_rows {
    const int8_t *q;
    const float *d, *s;   /* per 32 (lowbit_cpu_q8.d, .s) */
    const float *d256;    /* per 256, for the K-quant kernels (lowbit_cpu_q8.d256) */
    const int32_t *sum32; /* per 32: Σq, with d256 */
    size_t cols, blocks;  /* blocks = cols / 32 */
    size_t k_begin, k_end;
    int accumulate;
} q8_rows;

/* Σ w·x over pairs as 8 × int32, w signed (passed as |w| and w), x signed. */
X86_TARGET static inline __m256i dot_signed(__m256i abs_w, __m256i w, __m256i x, __m256i pair_weights)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(x, w)), pair_weights);
}

/* Σ w·x over pairs as 8 × int32, w unsigned (0..127). */
X86_TARGET static inline __m256i dot_unsigned(__m256i w, __m256i x, __m256i pair_weights)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), pair_weights);
}

X86_TARGET static inline __m256i load_q8(const q8_rows *x, size_t row, size_t element)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)(x->q + row * x->cols + element));
}

/* Y for rows i0..i0+count-1: Σ lanes of both accumulators plus the scalar offset term, stored or added
 * (x->accumulate). Each row keeps two accumulators, for even and odd activation blocks, so consecutive blocks'
 * multiply-adds do not wait on each other's latency. */
X86_TARGET static inline void store_rows(const q8_rows *x, float *y, size_t rows, size_t r, size_t i0, size_t count,
                                         __m256 acc[4][2], const float offset[4])
{
    for (size_t i = 0; i < count; ++i) {
        float *out = y + (i0 + i) * rows + r;
        *out = (x->accumulate ? *out : 0.0f) + (horizontal_sum(_mm256_add_ps(acc[i][0], acc[i][1])) + offset[i]);
    }
}

/* 32 bytes from the 32 bits of `word`: 0xFF where bit i (byte i / 8, bit i % 8) is set, else 0. */
X86_TARGET static inline __m256i bits_to_bytes(uint32_t word)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                                            3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)word), spread), bit), bit);
}

/* 32 bytes from the 2-bit fields of `word`: byte i is bits 2i..2i+1 (byte i / 4 of the word, shifted 2·(i % 4)). */
X86_TARGET static inline __m256i expand_2bit(uint64_t word)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6,
                                            6, 6, 6, 7, 7, 7, 7);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi64x((long long)word), spread), three = _mm256_set1_epi8(3);
    const __m256i position = _mm256_set1_epi32(0x03020100);
    __m256i q = _mm256_and_si256(v, three);
    for (int k = 1; k < 4; ++k) { /* each byte keeps its own field: the four shifts, blended by position */
        const __m256i shifted = _mm256_and_si256(_mm256_srli_epi16(v, 2 * k), three);
        q = _mm256_blendv_epi8(q, shifted, _mm256_cmpeq_epi8(position, _mm256_set1_epi8((char)k)));
    }
    return q;
}

typedef void x86_int_kernel_fn(const unsigned char *w, const q8_rows *x, size_t n, float *y, size_t rows,
                               size_t row_begin, size_t row_end);

/* cpu_gemv_x86_grid.c: the codebook formats */
x86_int_kernel_fn lowbit_cpu_gemv_iq2_xxs_int, lowbit_cpu_gemv_iq2_xs_int, lowbit_cpu_gemv_iq2_s_int,
    lowbit_cpu_gemv_iq3_xxs_int, lowbit_cpu_gemv_iq3_s_int, lowbit_cpu_gemv_iq1_s_int, lowbit_cpu_gemv_iq1_m_int;

#endif
#endif
