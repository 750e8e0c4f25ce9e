/* cpu_gemv_x86.c — x86-64 SIMD kernels for the CPU backend, chosen at run time by what the CPU has: AVX2/FMA/F16C
 * and AVX-512 versions of every 32-element block format (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL), Q4_K and Q6_K, and
 * AVX2 F16/F32. Both widths share the byte-domain unpacking; four activation rows share each unpacked block, with
 * accumulators in registers; the portable kernels (cpu_gemv.c, cpu_gemv_blocks.c) remain the fallback and the
 * reference. */
#include "cpu_gemv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#include "cpu_x86_decode.h"

/* AVX-512, the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): a block's 32 quants are two
 * 16-lane vectors. Zero points, fifth bits and IQ4_NL's level table are applied in the byte domain (one
 * operation per 16 quants instead of one per 8 after widening), the scale once per block, and the affine
 * formats' offset m once per block through Σx: Σ(d·q + m)·x = d·Σq·x + m·Σx. These kernels are bound by
 * this unpacking, not by memory, on CPUs. Four activation rows share each unpacked block. */
#define X86_TARGET_512 __attribute__((target("avx512f,avx2,fma,f16c")))

/* The block's 32 quants as two 16-lane float vectors. */
X86_TARGET_512 static inline void unpack_512(lowbit_format format, const unsigned char *block, __m512 w[2])
{
    __m128i lo, hi;
    unpack_bytes(format, block, &lo, &hi);
    w[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo));
    w[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi));
}

/* Inlined into one function per format (below), so `format` is a constant and its branches fold away. */
X86_TARGET_512 __attribute__((always_inline)) static inline void
gemv_block32_512(lowbit_format format, const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                 size_t rows, size_t row_begin, size_t row_end)
{
    const block32_kind kind = block32_of(format);
    const size_t blocks = cols / 32;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * kind.bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m512 acc[4], offsets[4];
            for (int i = 0; i < 4; ++i)
                acc[i] = offsets[i] = _mm512_setzero_ps();
            for (size_t b = 0; b < blocks; ++b) {
                __m512 v[2];
                const unsigned char *block = row + b * kind.bytes;
                const __m512 d = _mm512_set1_ps(load_half(block));
                const __m512 m = _mm512_set1_ps(kind.affine ? load_half(block + 2) : 0.0f);
                unpack_512(format, block, v);
                /* constant row indices (not a loop to `count`) keep the accumulators in registers */
#define BLOCK32_ROW(i)                                                                                                 \
    if (count > i) {                                                                                                   \
        const float *xb = x0 + i * cols + b * 32;                                                                      \
        const __m512 xa = _mm512_loadu_ps(xb), xc = _mm512_loadu_ps(xb + 16);                                          \
        acc[i] = _mm512_fmadd_ps(d, _mm512_fmadd_ps(v[1], xc, _mm512_mul_ps(v[0], xa)), acc[i]);                       \
        if (kind.affine) offsets[i] = _mm512_fmadd_ps(m, _mm512_add_ps(xa, xc), offsets[i]);                           \
    }
                BLOCK32_ROW(0) BLOCK32_ROW(1) BLOCK32_ROW(2) BLOCK32_ROW(3)
#undef BLOCK32_ROW
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] =
                    _mm512_reduce_add_ps(acc[i]) + (kind.affine ? _mm512_reduce_add_ps(offsets[i]) : 0.0f);
        }
    }
}

#define BLOCK32_512_KERNEL(name, format)                                                                               \
    X86_TARGET_512 static void name(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,           \
                                    size_t rows, size_t row_begin, size_t row_end)                                     \
    {                                                                                                                  \
        gemv_block32_512(format, w, cols, x, n, y, rows, row_begin, row_end);                                          \
    }
BLOCK32_512_KERNEL(gemv_q4_0_512, LOWBIT_FORMAT_Q4_0)
BLOCK32_512_KERNEL(gemv_q4_1_512, LOWBIT_FORMAT_Q4_1)
BLOCK32_512_KERNEL(gemv_q5_0_512, LOWBIT_FORMAT_Q5_0)
BLOCK32_512_KERNEL(gemv_q5_1_512, LOWBIT_FORMAT_Q5_1)
BLOCK32_512_KERNEL(gemv_q8_0_512, LOWBIT_FORMAT_Q8_0)
BLOCK32_512_KERNEL(gemv_iq4_nl_512, LOWBIT_FORMAT_IQ4_NL)
#undef BLOCK32_512_KERNEL

/* The 32 bytes at p as two 16-lane float vectors (unsigned or signed bytes). */
X86_TARGET_512 static inline void widen32_512(__m256i bytes, int is_signed, __m512 w[2])
{
    const __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
    w[0] = _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(lo) : _mm512_cvtepu8_epi32(lo));
    w[1] = _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(hi) : _mm512_cvtepu8_epi32(hi));
}

/* Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) pairs, qs[128]. Sub-block j (32 elements) is nibble
 * plane j % 2 of qs[32·(j/2)..]; x = d·sc·q − dmin·m, summed as d·sc·Σq·x − dmin·m·Σx so a sub-block's
 * scale and min are applied once per activation row, not once per element. */
X86_TARGET_512 static void gemv_q4_k_512(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                                         size_t rows, size_t row_begin, size_t row_end)
{
    const size_t blocks = cols / 256, block_bytes = 144;
    const __m256i mask = _mm256_set1_epi8(0x0F);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m512 acc[4], mins[4];
            for (int i = 0; i < 4; ++i)
                acc[i] = mins[i] = _mm512_setzero_ps();
            for (size_t b = 0; b < blocks; ++b) {
                const unsigned char *in = row + b * block_bytes, *s = in + 4;
                const float d = load_half(in), dmin = load_half(in + 2);
                for (int pair = 0; pair < 4; ++pair) {
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(in + 16 + 32 * pair));
                    const __m256i planes[2] = {_mm256_and_si256(q, mask),
                                               _mm256_and_si256(_mm256_srli_epi16(q, 4), mask)};
                    for (int plane = 0; plane < 2; ++plane) {
                        const int j = 2 * pair + plane;
                        int sc, m;
                        lowbit_decode_k4_scale_min(s, j, &sc, &m);
                        const __m512 dl = _mm512_set1_ps(d * (float)sc), ml = _mm512_set1_ps(dmin * (float)m);
                        __m512 v[2];
                        widen32_512(planes[plane], 0, v);
                        /* constant row indices (not a loop to `count`) keep acc and mins in registers */
#define Q4_K_ROW(i)                                                                                                    \
    if (count > i) {                                                                                                   \
        const float *xs = x0 + i * cols + b * 256 + 32 * j;                                                            \
        const __m512 xa = _mm512_loadu_ps(xs), xb = _mm512_loadu_ps(xs + 16);                                          \
        acc[i] = _mm512_fmadd_ps(dl, _mm512_fmadd_ps(v[1], xb, _mm512_mul_ps(v[0], xa)), acc[i]);                      \
        mins[i] = _mm512_fmadd_ps(ml, _mm512_add_ps(xa, xb), mins[i]);                                                 \
    }
                        Q4_K_ROW(0) Q4_K_ROW(1) Q4_K_ROW(2) Q4_K_ROW(3)
#undef Q4_K_ROW
                    }
                }
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = _mm512_reduce_add_ps(acc[i]) - _mm512_reduce_add_ps(mins[i]);
        }
    }
}

/* Q6_K: ql[128], qh[64], int8 scales[16], f16 d. Element 128h + 32k + l: low nibble plane k / 2 of
 * ql[64h + 32·(k%2) + l], high bits 2k of qh[32h + l]; q − 32 formed in the byte domain, then each
 * 16-element half scaled once by d·sc before the activation rows use it. */
X86_TARGET_512 static void gemv_q6_k_512(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                                         size_t rows, size_t row_begin, size_t row_end)
{
    const size_t blocks = cols / 256, block_bytes = 210;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m512 acc[4];
            for (int i = 0; i < 4; ++i)
                acc[i] = _mm512_setzero_ps();
            for (size_t b = 0; b < blocks; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in + 208);
                for (int h = 0; h < 2; ++h) {
                    const __m256i ql[2] = {_mm256_loadu_si256((const __m256i *)(in + 64 * h)),
                                           _mm256_loadu_si256((const __m256i *)(in + 64 * h + 32))};
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(in + 128 + 32 * h));
                    for (int k = 0; k < 4; ++k) {
                        const __m256i q = q6_k_bytes(ql, qh, k);
                        const int j = 8 * h + 2 * k;
                        __m512 v[2];
                        widen32_512(q, 1, v);
                        v[0] = _mm512_mul_ps(v[0], _mm512_set1_ps(d * (float)(signed char)in[192 + j]));
                        v[1] = _mm512_mul_ps(v[1], _mm512_set1_ps(d * (float)(signed char)in[192 + j + 1]));
#define Q6_K_ROW(i)                                                                                                    \
    if (count > i) {                                                                                                   \
        const float *xs = x0 + i * cols + b * 256 + 128 * h + 32 * k;                                                  \
        acc[i] = _mm512_fmadd_ps(v[1], _mm512_loadu_ps(xs + 16), _mm512_fmadd_ps(v[0], _mm512_loadu_ps(xs), acc[i]));  \
    }
                        Q6_K_ROW(0) Q6_K_ROW(1) Q6_K_ROW(2) Q6_K_ROW(3)
#undef Q6_K_ROW
                    }
                }
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = _mm512_reduce_add_ps(acc[i]);
        }
    }
}

/* The AVX2 kernels: the same schemes as the AVX-512 ones above, each 16 quants as two 8-lane vectors. */

/* 16 signed bytes as two 8-lane float vectors. */
X86_TARGET static inline void widen16(__m128i bytes, __m256 w[2])
{
    w[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
    w[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(bytes, 8)));
}

/* Σ v[k]·x[8k..8k+7] over the four vectors of 32 quants. */
X86_TARGET static inline __m256 dot32(const __m256 v[4], const float *x)
{
    __m256 sum = _mm256_mul_ps(v[0], _mm256_loadu_ps(x));
    for (int k = 1; k < 4; ++k)
        sum = _mm256_fmadd_ps(v[k], _mm256_loadu_ps(x + 8 * k), sum);
    return sum;
}

X86_TARGET static inline __m256 sum32(const float *x)
{
    return _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
                         _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
}

X86_TARGET __attribute__((always_inline)) static inline void
gemv_block32_256(lowbit_format format, const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                 size_t rows, size_t row_begin, size_t row_end)
{
    const block32_kind kind = block32_of(format);
    const size_t blocks = cols / 32;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * kind.bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m256 acc[4], offsets[4];
            for (int i = 0; i < 4; ++i)
                acc[i] = offsets[i] = _mm256_setzero_ps();
            for (size_t b = 0; b < blocks; ++b) {
                const unsigned char *block = row + b * kind.bytes;
                const __m256 d = _mm256_set1_ps(load_half(block));
                __m128i lo, hi;
                unpack_bytes(format, block, &lo, &hi);
                __m256 v[4];
                widen16(lo, v);
                widen16(hi, v + 2);
#define BLOCK32_ROW(i)                                                                                                 \
    if (count > i) {                                                                                                   \
        const float *xb = x0 + i * cols + b * 32;                                                                      \
        acc[i] = _mm256_fmadd_ps(d, dot32(v, xb), acc[i]);                                                             \
        if (kind.affine) offsets[i] = _mm256_fmadd_ps(_mm256_set1_ps(load_half(block + 2)), sum32(xb), offsets[i]);    \
    }
                BLOCK32_ROW(0) BLOCK32_ROW(1) BLOCK32_ROW(2) BLOCK32_ROW(3)
#undef BLOCK32_ROW
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = horizontal_sum(acc[i]) + (kind.affine ? horizontal_sum(offsets[i]) : 0.0f);
        }
    }
}

#define BLOCK32_256_KERNEL(name, format)                                                                               \
    X86_TARGET static void name(const unsigned char *w, size_t cols, const float *x, size_t n, float *y, size_t rows,  \
                                size_t row_begin, size_t row_end)                                                      \
    {                                                                                                                  \
        gemv_block32_256(format, w, cols, x, n, y, rows, row_begin, row_end);                                          \
    }
BLOCK32_256_KERNEL(gemv_q4_0_256, LOWBIT_FORMAT_Q4_0)
BLOCK32_256_KERNEL(gemv_q4_1_256, LOWBIT_FORMAT_Q4_1)
BLOCK32_256_KERNEL(gemv_q5_0_256, LOWBIT_FORMAT_Q5_0)
BLOCK32_256_KERNEL(gemv_q5_1_256, LOWBIT_FORMAT_Q5_1)
BLOCK32_256_KERNEL(gemv_q8_0_256, LOWBIT_FORMAT_Q8_0)
BLOCK32_256_KERNEL(gemv_iq4_nl_256, LOWBIT_FORMAT_IQ4_NL)
#undef BLOCK32_256_KERNEL

/* Q4_K as gemv_q4_k_512: per 32-element sub-block, d·sc·Σq·x − dmin·m·Σx. */
X86_TARGET static void gemv_q4_k_256(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                                     size_t rows, size_t row_begin, size_t row_end)
{
    const size_t blocks = cols / 256, block_bytes = 144;
    const __m128i mask = _mm_set1_epi8(0x0F);
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m256 acc[4], mins[4];
            for (int i = 0; i < 4; ++i)
                acc[i] = mins[i] = _mm256_setzero_ps();
            for (size_t b = 0; b < blocks; ++b) {
                const unsigned char *in = row + b * block_bytes, *s = in + 4;
                const float d = load_half(in), dmin = load_half(in + 2);
                for (int j = 0; j < 8; ++j) {
                    /* sub-block j: nibble plane j % 2 of qs[32·(j/2)..+32] */
                    const unsigned char *qs = in + 16 + 32 * (j / 2);
                    __m128i lo = _mm_loadu_si128((const __m128i *)qs), hi = _mm_loadu_si128((const __m128i *)(qs + 16));
                    if (j % 2) {
                        lo = _mm_srli_epi16(lo, 4);
                        hi = _mm_srli_epi16(hi, 4);
                    }
                    lo = _mm_and_si128(lo, mask);
                    hi = _mm_and_si128(hi, mask);
                    int sc, m;
                    lowbit_decode_k4_scale_min(s, j, &sc, &m);
                    const __m256 dl = _mm256_set1_ps(d * (float)sc), ml = _mm256_set1_ps(dmin * (float)m);
                    __m256 v[4];
                    widen16(lo, v);
                    widen16(hi, v + 2);
#define Q4_K_ROW(i)                                                                                                    \
    if (count > i) {                                                                                                   \
        const float *xs = x0 + i * cols + b * 256 + 32 * j;                                                            \
        acc[i] = _mm256_fmadd_ps(dl, dot32(v, xs), acc[i]);                                                            \
        mins[i] = _mm256_fmadd_ps(ml, sum32(xs), mins[i]);                                                             \
    }
                    Q4_K_ROW(0) Q4_K_ROW(1) Q4_K_ROW(2) Q4_K_ROW(3)
#undef Q4_K_ROW
                }
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = horizontal_sum(acc[i]) - horizontal_sum(mins[i]);
        }
    }
}

/* Q6_K as gemv_q6_k_512: q − 32 formed in the byte domain, each 16-element half scaled by d·sc. */
X86_TARGET static void gemv_q6_k_256(const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                                     size_t rows, size_t row_begin, size_t row_end)
{
    const size_t blocks = cols / 256, block_bytes = 210;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m256 acc[4];
            for (int i = 0; i < 4; ++i)
                acc[i] = _mm256_setzero_ps();
            for (size_t b = 0; b < blocks; ++b) {
                const unsigned char *in = row + b * block_bytes;
                const float d = load_half(in + 208);
                for (int h = 0; h < 2; ++h) {
                    const __m256i ql[2] = {_mm256_loadu_si256((const __m256i *)(in + 64 * h)),
                                           _mm256_loadu_si256((const __m256i *)(in + 64 * h + 32))};
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(in + 128 + 32 * h));
                    for (int k = 0; k < 4; ++k) {
                        const __m256i q = q6_k_bytes(ql, qh, k);
                        const int j = 8 * h + 2 * k;
                        const __m256 s0 = _mm256_set1_ps(d * (float)(signed char)in[192 + j]);
                        const __m256 s1 = _mm256_set1_ps(d * (float)(signed char)in[192 + j + 1]);
                        __m256 v[4];
                        widen16(_mm256_castsi256_si128(q), v);
                        widen16(_mm256_extracti128_si256(q, 1), v + 2);
                        v[0] = _mm256_mul_ps(v[0], s0);
                        v[1] = _mm256_mul_ps(v[1], s0);
                        v[2] = _mm256_mul_ps(v[2], s1);
                        v[3] = _mm256_mul_ps(v[3], s1);
#define Q6_K_ROW(i)                                                                                                    \
    if (count > i) acc[i] = _mm256_add_ps(acc[i], dot32(v, x0 + i * cols + b * 256 + 128 * h + 32 * k));
                        Q6_K_ROW(0) Q6_K_ROW(1) Q6_K_ROW(2) Q6_K_ROW(3)
#undef Q6_K_ROW
                    }
                }
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = horizontal_sum(acc[i]);
        }
    }
}

/* F32 / F16 rows (F16 widened eight at a time by F16C), four activation rows per pass, scalar tail. */
X86_TARGET static inline __m256 load_weights(int is_f16, const unsigned char *row, size_t c)
{
    if (is_f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * c)));
    return _mm256_loadu_ps((const float *)(const void *)(row + 4 * c));
}

X86_TARGET static inline float load_weight(int is_f16, const unsigned char *row, size_t c)
{
    if (is_f16) return load_half(row + 2 * c);
    float value;
    memcpy(&value, row + 4 * c, sizeof value);
    return value;
}

X86_TARGET static void gemv_float(int is_f16, const unsigned char *w, size_t cols, const float *x, size_t n, float *y,
                                  size_t rows, size_t row_begin, size_t row_end)
{
    const size_t element = is_f16 ? 2 : 4, body = cols - cols % 8;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * cols * element;
        for (size_t i0 = 0; i0 < n; i0 += 4) {
            const size_t count = n - i0 < 4 ? n - i0 : 4;
            const float *x0 = x + i0 * cols;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t c = 0; c < body; c += 8) {
                __m256 v = load_weights(is_f16, row, c);
                a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x0 + c), a0);
                if (count > 1) a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x0 + cols + c), a1);
                if (count > 2) a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x0 + 2 * cols + c), a2);
                if (count > 3) a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x0 + 3 * cols + c), a3);
            }
            __m256 sums[4] = {a0, a1, a2, a3};
            for (size_t i = 0; i < count; ++i) {
                float sum = horizontal_sum(sums[i]);
                for (size_t c = body; c < cols; ++c)
                    sum += load_weight(is_f16, row, c) * x0[i * cols + c];
                y[(i0 + i) * rows + r] = sum;
            }
        }
    }
}

/* F16C straight from CPUID (leaf 1, ECX bit 29): clang's __builtin_cpu_supports does not know "f16c". The OS
 * saving the YMM state is what __builtin_cpu_supports("avx2") already checks. */
static int cpu_has_f16c(void)
{
    unsigned eax, ebx, ecx, edx;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
}

int lowbit_cpu_gemv_x86_level(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !cpu_has_f16c()) return 0;
    return __builtin_cpu_supports("avx512f") ? 2 : 1;
}

typedef void x86_kernel_fn(const unsigned char *w, size_t cols, const float *x, size_t n, float *y, size_t rows,
                           size_t row_begin, size_t row_end);

static const struct {
    lowbit_format format;
    x86_kernel_fn *run;
    const char *name;
} avx512_kernels[] =
    {
        {LOWBIT_FORMAT_Q4_0, gemv_q4_0_512, "cpu_gemv_q4_0 avx512"},
        {LOWBIT_FORMAT_Q4_1, gemv_q4_1_512, "cpu_gemv_q4_1 avx512"},
        {LOWBIT_FORMAT_Q5_0, gemv_q5_0_512, "cpu_gemv_q5_0 avx512"},
        {LOWBIT_FORMAT_Q5_1, gemv_q5_1_512, "cpu_gemv_q5_1 avx512"},
        {LOWBIT_FORMAT_Q8_0, gemv_q8_0_512, "cpu_gemv_q8_0 avx512"},
        {LOWBIT_FORMAT_IQ4_NL, gemv_iq4_nl_512, "cpu_gemv_iq4_nl avx512"},
        {LOWBIT_FORMAT_Q4_K, gemv_q4_k_512, "cpu_gemv_q4_k avx512"},
        {LOWBIT_FORMAT_Q6_K, gemv_q6_k_512, "cpu_gemv_q6_k avx512"},
},
  avx2_kernels[] = {
      {LOWBIT_FORMAT_Q4_0, gemv_q4_0_256, "cpu_gemv_q4_0 avx2"},
      {LOWBIT_FORMAT_Q4_1, gemv_q4_1_256, "cpu_gemv_q4_1 avx2"},
      {LOWBIT_FORMAT_Q5_0, gemv_q5_0_256, "cpu_gemv_q5_0 avx2"},
      {LOWBIT_FORMAT_Q5_1, gemv_q5_1_256, "cpu_gemv_q5_1 avx2"},
      {LOWBIT_FORMAT_Q8_0, gemv_q8_0_256, "cpu_gemv_q8_0 avx2"},
      {LOWBIT_FORMAT_IQ4_NL, gemv_iq4_nl_256, "cpu_gemv_iq4_nl avx2"},
      {LOWBIT_FORMAT_Q4_K, gemv_q4_k_256, "cpu_gemv_q4_k avx2"},
      {LOWBIT_FORMAT_Q6_K, gemv_q6_k_256, "cpu_gemv_q6_k avx2"},
};

const char *lowbit_cpu_gemv_x86(int level, lowbit_format format, const void *weights, size_t cols, const float *x,
                                size_t n, float *y, size_t rows, size_t row_begin, size_t row_end)
{
    for (size_t k = 0; level >= 2 && k < sizeof avx512_kernels / sizeof avx512_kernels[0]; ++k)
        if (avx512_kernels[k].format == format) {
            avx512_kernels[k].run(weights, cols, x, n, y, rows, row_begin, row_end);
            return avx512_kernels[k].name;
        }
    for (size_t k = 0; k < sizeof avx2_kernels / sizeof avx2_kernels[0]; ++k)
        if (avx2_kernels[k].format == format) {
            avx2_kernels[k].run(weights, cols, x, n, y, rows, row_begin, row_end);
            return avx2_kernels[k].name;
        }
    switch (format) {
    case LOWBIT_FORMAT_F16:
    case LOWBIT_FORMAT_F32:
        gemv_float(format == LOWBIT_FORMAT_F16, weights, cols, x, n, y, rows, row_begin, row_end);
        return format == LOWBIT_FORMAT_F16 ? "cpu_gemv_f16 avx2" : "cpu_gemv_f32 avx2";
    default: return NULL;
    }
}

#else
int lowbit_cpu_gemv_x86_level(void) { return 0; }

const char *lowbit_cpu_gemv_x86(int level, lowbit_format format, const void *weights, size_t cols, const float *x,
                                size_t n, float *y, size_t rows, size_t row_begin, size_t row_end)
{
    (void)level, (void)format, (void)weights, (void)cols, (void)x, (void)n, (void)y, (void)rows, (void)row_begin,
        (void)row_end;
    return NULL;
}
#endif
