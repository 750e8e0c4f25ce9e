/* cpu_x86_decode.h — the AVX2 byte-domain block unpacking shared by the float kernels (cpu_gemv_x86.c) and the
 * integer-dot kernels (cpu_gemv_x86_int.c): a block's quants as signed or unsigned bytes, before any widening. */
#ifndef LOWBIT_CPU_X86_DECODE_H
#define LOWBIT_CPU_X86_DECODE_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "../../host/format/block_decode.h"
#include "../../shaders/common/lowbit_blocks.h"
#include "lowbit/lowbit_format.h"

#define X86_TARGET __attribute__((target("avx2,fma,f16c")))

X86_TARGET static inline float horizontal_sum(__m256 v)
{
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
}

X86_TARGET static inline float load_half(const unsigned char *p)
{
    uint16_t bits;
    memcpy(&bits, p, sizeof bits);
    return _cvtsh_ss(bits);
}

/* The 16 bits of `bits` as bytes of 0x10 (set) or 0 (clear), element j from bit j. */
X86_TARGET static inline __m128i fifth_bits(uint32_t bits)
{
    const __m128i spread = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m128i bit = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    const __m128i v = _mm_and_si128(_mm_shuffle_epi8(_mm_cvtsi32_si128((int)bits), spread), bit);
    return _mm_and_si128(_mm_cmpeq_epi8(v, bit), _mm_set1_epi8(0x10));
}

typedef struct block32_kind {
    size_t bytes; /* block size */
    int affine;   /* x = d·q + m (an f16 m after d) instead of x = d·q */
} block32_kind;

static inline block32_kind block32_of(lowbit_format format)
{
    switch (format) {
    case LOWBIT_FORMAT_Q4_0: return (block32_kind){LOWBIT_Q4_0_BYTES, 0};
    case LOWBIT_FORMAT_Q4_1: return (block32_kind){20, 1};
    case LOWBIT_FORMAT_Q5_0: return (block32_kind){22, 0};
    case LOWBIT_FORMAT_Q5_1: return (block32_kind){24, 1};
    case LOWBIT_FORMAT_IQ4_NL: return (block32_kind){18, 0};
    case LOWBIT_FORMAT_MXFP4: return (block32_kind){LOWBIT_MXFP4_BYTES, 0}; /* the integer kernel only */
    default: return (block32_kind){LOWBIT_Q8_0_BYTES, 0};                   /* Q8_0 */
    }
}

/* The 16 values a 4-bit code stands for, as bytes: IQ4_NL's (and IQ4_XS's) levels, or MXFP4's E2M1 values
 * doubled (integers −12..12; the scale is decoded at half its value). */
X86_TARGET static inline __m128i level_table(lowbit_format format)
{
    const signed char *table = format == LOWBIT_FORMAT_MXFP4 ? lowbit_fp4_levels : lowbit_iq4_levels;
    return _mm_loadu_si128((const __m128i *)(const void *)table);
}

/* Elements 0..15 (*lo) and 16..31 (*hi) of a block as signed bytes: the quant less its zero point, IQ4_NL's
 * level, or the unsigned q of the affine formats (every one fits a signed byte). */
X86_TARGET static inline void unpack_bytes(lowbit_format format, const unsigned char *block, __m128i *out_lo,
                                           __m128i *out_hi)
{
    const __m128i mask = _mm_set1_epi8(0x0F);
    __m128i lo, hi;
    if (format == LOWBIT_FORMAT_Q8_0) {
        lo = _mm_loadu_si128((const __m128i *)(block + 2));
        hi = _mm_loadu_si128((const __m128i *)(block + 18));
    } else {
        const size_t qs = format == LOWBIT_FORMAT_Q4_1   ? 4
                          : format == LOWBIT_FORMAT_Q5_0 ? 6
                          : format == LOWBIT_FORMAT_Q5_1 ? 8
                                                         : 2;
        const __m128i q = _mm_loadu_si128((const __m128i *)(block + qs));
        lo = _mm_and_si128(q, mask);
        hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
        if (format == LOWBIT_FORMAT_Q5_0 || format == LOWBIT_FORMAT_Q5_1) {
            uint32_t qh;
            memcpy(&qh, block + qs - 4, sizeof qh);
            lo = _mm_or_si128(lo, fifth_bits(qh & 0xFFFFu));
            hi = _mm_or_si128(hi, fifth_bits(qh >> 16));
        }
        if (format == LOWBIT_FORMAT_IQ4_NL) {
            const __m128i levels = level_table(format);
            lo = _mm_shuffle_epi8(levels, lo);
            hi = _mm_shuffle_epi8(levels, hi);
        } else if (format == LOWBIT_FORMAT_Q4_0 || format == LOWBIT_FORMAT_Q5_0) {
            const __m128i zero = _mm_set1_epi8(format == LOWBIT_FORMAT_Q4_0 ? 8 : 16);
            lo = _mm_sub_epi8(lo, zero);
            hi = _mm_sub_epi8(hi, zero);
        }
    }
    *out_lo = lo;
    *out_hi = hi;
}

/* Q6_K's 32 quants k (0..3) of a 128-element half as signed bytes q − 32: low nibble plane k / 2 of ql[k % 2],
 * high bits 2k of qh. Shared by the AVX2 and AVX-512 kernels. */
X86_TARGET static inline __m256i q6_k_bytes(const __m256i ql[2], __m256i qh, int k)
{
    __m256i low = ql[k % 2];
    if (k >= 2) low = _mm256_srli_epi16(low, 4);
    low = _mm256_and_si256(low, _mm256_set1_epi8(0x0F));
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(0x03));
    return _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), _mm256_set1_epi8(32));
}

#endif
#endif
