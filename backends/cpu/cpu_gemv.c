/* cpu_gemv.c — fused dequantize + dot kernels for the CPU backend. Each row is dequantized a block at
 * a time in registers and dotted with every activation row, so weights are read once per call.
 * Eight independent accumulators let the compiler vectorize without reassociating float sums. */
#include "cpu_gemv.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/error.h"
#include "../../host/format/format_internal.h"
#include "../../shaders/common/lowbit_blocks.h"
#include "cpu_simd.h"

/* restrict (and a separate function) lets GCC vectorize the nibble → float widening */
static inline void unpack_q4_0(const unsigned char *restrict qs, float *restrict q)
{
    for (int j = 0; j < 16; ++j)
        q[j] = (float)((int)(qs[j] & 0x0F) - 8);
    for (int j = 0; j < 16; ++j)
        q[j + 16] = (float)((int)(qs[j] >> 4) - 8);
}

static inline void unpack_q8_0(const unsigned char *restrict qs, float *restrict q)
{
    for (int j = 0; j < 32; ++j)
        q[j] = (float)(int8_t)qs[j];
}

/* The shared body of the 32-element {f16 d; quants} formats: each block is unpacked once and dotted
 * with up to 8 activation rows. Always inlined into a wrapper per format, so `format` is a constant. */
__attribute__((always_inline)) static inline void gemv_block32(lowbit_format format, const unsigned char *w,
                                                               size_t cols, const float *x, size_t n, float *y,
                                                               size_t rows, size_t row_begin, size_t row_end)
{
    const size_t block_bytes = format == LOWBIT_FORMAT_Q4_0 ? LOWBIT_Q4_0_BYTES : LOWBIT_Q8_0_BYTES;
    const size_t blocks = cols / 32;
    for (size_t r = row_begin; r < row_end; ++r) {
        const unsigned char *row = w + r * blocks * block_bytes;
        for (size_t i0 = 0; i0 < n; i0 += 8) {
            size_t count = n - i0 < 8 ? n - i0 : 8;
            float acc[8][LANES];
            memset(acc, 0, sizeof acc);
            for (size_t b = 0; b < blocks; ++b) {
                const unsigned char *block = row + b * block_bytes;
                const float d = lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(block));
                float q[32];
                if (format == LOWBIT_FORMAT_Q4_0)
                    unpack_q4_0(block + 2, q);
                else
                    unpack_q8_0(block + 2, q);
                for (size_t i = 0; i < count; ++i) {
                    float part[LANES] = {0};
                    dot_accumulate(part, q, x + (i0 + i) * cols + b * 32, 32);
                    for (int k = 0; k < LANES; ++k)
                        acc[i][k] += d * part[k];
                }
            }
            for (size_t i = 0; i < count; ++i)
                y[(i0 + i) * rows + r] = lanes_sum(acc[i]);
        }
    }
}

LOWBIT_MULTIVERSION
static void gemv_q4_0(const unsigned char *w, size_t cols, const float *x, size_t n, float *y, size_t rows,
                      size_t row_begin, size_t row_end)
{
    gemv_block32(LOWBIT_FORMAT_Q4_0, w, cols, x, n, y, rows, row_begin, row_end);
}

LOWBIT_MULTIVERSION
static void gemv_q8_0(const unsigned char *w, size_t cols, const float *x, size_t n, float *y, size_t rows,
                      size_t row_begin, size_t row_end)
{
    gemv_block32(LOWBIT_FORMAT_Q8_0, w, cols, x, n, y, rows, row_begin, row_end);
}

/* Exact half → float without branches on the element (selects only), so a loop of them vectorizes.
 * Normal numbers: rebias the exponent; Inf/NaN: push the exponent to all ones; subnormals: renormalize
 * with one exact float subtraction. */
static inline float half_to_float(uint16_t h)
{
    uint32_t bits = ((uint32_t)h & 0x7FFFu) << 13;
    uint32_t exponent = bits & 0x0F800000u;
    bits += (127u - 15u) << 23;
    bits += exponent == 0x0F800000u ? (128u - 16u) << 23 : 0u;
    uint32_t subnormal = exponent == 0 ? bits + (1u << 23) : 0u;
    float value, renormalized, magic;
    uint32_t magic_bits = 113u << 23;
    memcpy(&value, &bits, sizeof value);
    memcpy(&renormalized, &subnormal, sizeof renormalized);
    memcpy(&magic, &magic_bits, sizeof magic);
    value = exponent == 0 ? renormalized - magic : value;
    uint32_t out;
    memcpy(&out, &value, sizeof out);
    out |= ((uint32_t)h & 0x8000u) << 16;
    memcpy(&value, &out, sizeof value);
    return value;
}

static inline void unpack_f16(const unsigned char *restrict in, float *restrict out, size_t count)
{
    for (size_t j = 0; j < count; ++j)
        out[j] = half_to_float((uint16_t)(in[2 * j] | (in[2 * j + 1] << 8)));
}

/* Rows as f32 (F32 directly, every other format dequantized one row at a time into scratch). */
LOWBIT_MULTIVERSION
static void gemv_float_rows(const float *row, size_t cols, const float *x, size_t n, float *y, size_t rows, size_t r)
{
    size_t body = cols - cols % LANES;
    for (size_t i = 0; i < n; ++i) {
        const float *xi = x + i * cols;
        float acc[LANES] = {0};
        dot_accumulate(acc, row, xi, body);
        float sum = lanes_sum(acc);
        for (size_t c = body; c < cols; ++c)
            sum += row[c] * xi[c];
        y[i * rows + r] = sum;
    }
}

/* LOWBIT_CPU_ISA=portable|avx2|avx512 caps the instruction set the kernels use (the tests run each level this
 * CPU has); LOWBIT_CPU_PORTABLE=1 is the same as LOWBIT_CPU_ISA=portable. An unknown value is logged and ignored. */
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static int x86_level;

static void simd_choose(void)
{
    x86_level = lowbit_cpu_gemv_x86_level();
    const char *portable = getenv("LOWBIT_CPU_PORTABLE"), *isa = getenv("LOWBIT_CPU_ISA");
    int cap = 2;
    if (portable && strcmp(portable, "1") == 0) cap = 0;
    if (isa && strcmp(isa, "portable") == 0)
        cap = 0;
    else if (isa && strcmp(isa, "avx2") == 0)
        cap = 1;
    else if (isa && strcmp(isa, "avx512") != 0)
        lowbit_log(LOWBIT_LOG_WARN, "LOWBIT_CPU_ISA='%s' is not portable, avx2 or avx512: ignored", isa);
    if (x86_level > cap) x86_level = cap;
}

const char *lowbit_cpu_gemv_rows(lowbit_format format, const void *weights, size_t cols, const float *x, size_t n,
                                 float *y, size_t rows, size_t row_begin, size_t row_end, float *scratch)
{
    pthread_once(&simd_once, simd_choose);
    if (x86_level > 0) {
        const char *kernel = lowbit_cpu_gemv_x86(x86_level, format, weights, cols, x, n, y, rows, row_begin, row_end);
        if (kernel) return kernel;
    }
    switch (format) {
    case LOWBIT_FORMAT_Q4_0: gemv_q4_0(weights, cols, x, n, y, rows, row_begin, row_end); return "cpu_gemv_q4_0";
    case LOWBIT_FORMAT_Q8_0: gemv_q8_0(weights, cols, x, n, y, rows, row_begin, row_end); return "cpu_gemv_q8_0";
    case LOWBIT_FORMAT_F32:
        for (size_t r = row_begin; r < row_end; ++r)
            gemv_float_rows((const float *)weights + r * cols, cols, x, n, y, rows, r);
        return "cpu_gemv_f32";
    case LOWBIT_FORMAT_F16:
        for (size_t r = row_begin; r < row_end; ++r) {
            unpack_f16((const unsigned char *)weights + r * cols * 2, scratch, cols);
            gemv_float_rows(scratch, cols, x, n, y, rows, r);
        }
        return "cpu_gemv_f16";
    default: {
        const char *kernel = lowbit_cpu_gemv_blocks(format, weights, cols, x, n, y, rows, row_begin, row_end);
        if (kernel) return kernel;
        /* BF16 (rows of any length): dequantize a row (bit-exact reference) into scratch, then dot */
        const lowbit_format_ops *ops = lowbit_format_ops_get((int)format);
        size_t row_bytes = lowbit_format_row_size((int)format, cols);
        for (size_t r = row_begin; r < row_end; ++r) {
            ops->dequantize_row((const unsigned char *)weights + r * row_bytes, scratch, cols);
            gemv_float_rows(scratch, cols, x, n, y, rows, r);
        }
        return "cpu_gemv_dequant_row";
    }
    }
}

/* The reference rule of Q8_1 (host/format/legacy.c), element for element, so the quants are Q8_1's bytes. */
void lowbit_cpu_quantize_q8(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out)
{
    pthread_once(&simd_once, simd_choose);
    if (x86_level > 0 && lowbit_cpu_quantize_q8_x86(x, n, cols, out)) return;
    const size_t blocks = cols / 32;
    for (size_t i = 0; i < n; ++i)
        for (size_t b = 0; b < blocks; ++b) {
            const float *v = x + i * cols + b * 32;
            int8_t *q = out->q + i * cols + b * 32;
            float amax = 0.0f;
            int finite = 1;
            for (int j = 0; j < 32; ++j) {
                amax = fmaxf(amax, fabsf(v[j]));
                finite &= isfinite(v[j]) != 0;
            }
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            int sum = 0;
            for (int j = 0; j < 32; ++j) {
                const float r = finite ? roundf(v[j] * id) : 0.0f;
                q[j] = (int8_t)(r >= -127.0f && r <= 127.0f ? (int)r : 0);
                sum += q[j];
            }
            out->d[i * blocks + b] = finite ? d : NAN;
            out->s[i * blocks + b] = finite ? d * (float)sum : NAN;
        }
}

/* The reference Q8_K quantizer block by block (bit for bit its bytes), unpacked for the kernels; a non-finite block,
 * which the reference leaves at d = 0, becomes NaN so its rows do. */
void lowbit_cpu_quantize_q8_k(const float *x, size_t n, size_t cols, const lowbit_cpu_q8 *out)
{
    const size_t blocks = cols / 256;
    for (size_t i = 0; i < n; ++i)
        for (size_t b = 0; b < blocks; ++b) {
            const float *v = x + i * cols + b * 256;
            unsigned char block[LOWBIT_Q8_K_BYTES];
            lowbit_quantize_row_q8_k(v, block, 256, NULL);
            int finite = 1;
            for (int j = 0; j < 256; ++j)
                finite &= isfinite(v[j]) != 0;
            int8_t *q = out->q + i * cols + b * 256;
            int32_t *sums = out->sum32 + i * (cols / 32) + b * 8;
            memcpy(q, block + LOWBIT_Q8_K_QS, 256);
            float d;
            memcpy(&d, block + LOWBIT_Q8_K_D, sizeof d);
            if (!finite) memset(q, 0, 256), d = NAN;
            out->d256[i * blocks + b] = d;
            /* each 32's sum from the reference's two 16-element bsums */
            for (int k = 0; k < 8; ++k)
                sums[k] = finite ? (int16_t)lowbit_load_u16le(block + LOWBIT_Q8_K_BSUMS + 4 * k) +
                                       (int16_t)lowbit_load_u16le(block + LOWBIT_Q8_K_BSUMS + 4 * k + 2)
                                 : 0;
        }
}

int lowbit_cpu_gemv_int_superblock(lowbit_format format) { return lowbit_cpu_gemv_x86_int_kind(format) == 2; }

int lowbit_cpu_gemv_int_available(lowbit_format format)
{
    pthread_once(&simd_once, simd_choose);
    return x86_level > 0 && lowbit_cpu_gemv_x86_int_kind(format) != 0;
}

const char *lowbit_cpu_gemv_int_rows(lowbit_format format, const void *weights, size_t cols, const lowbit_cpu_q8 *x,
                                     size_t n, float *y, size_t rows, size_t row_begin, size_t row_end)
{
    if (!lowbit_cpu_gemv_int_available(format)) return NULL;
    return lowbit_cpu_gemv_x86_int(format, weights, cols, x, n, y, rows, row_begin, row_end);
}
