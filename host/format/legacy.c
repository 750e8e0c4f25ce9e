/* legacy.c — the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, and Q8_1 for activations):
 * reference quantizers whose bytes match ggml's, an importance-weighted fit for Q4_0, Q4_1, Q5_0 and Q5_1
 * when an importance vector is given, and dequantizers that repeat the layout's float operations in order.
 *
 * Bit-exactness relies on every product being rounded before the following add (x·id + 8.5, d·q + m):
 * the build is ISO C11, where GCC does not contract into FMAs, and each product sits in its own
 * statement, which clang's default contraction respects. A build with -std=gnu11 and -mfma would
 * move rare round-half ties by one step (see tests/oracle/format_oracle.py, which counts them). */
#include <math.h>
#include <stdint.h>

#include "../../shaders/common/lowbit_blocks.h"
#include "block_decode.h"
#include "format_internal.h"

/* --- the importance path --------------------------------------------------------------------------------
 * With an importance vector imp (an imatrix: each input column's mean square activation) a block is fitted to
 * Σ imp·(x − x̂)², the layer-output error the vector estimates, rather than by its largest element. Inverse
 * scales around the plain fit's are tried (both signs for the symmetric formats, whose levels are lopsided),
 * each rounded and followed by a weighted least-squares scale (and offset), a few rounds of re-rounding under
 * the new scale, and finally a re-rounding under the scale as fp16 will store it (for a fixed scale, nearest is
 * optimal). Blocks with non-finite values or no importance take the plain path. The weights are the
 * importance alone, as in kquants.c. */
#define QK_LEGACY 32
#define LEGACY_STEPS 12 /* inverse scales tried on each side of the plain fit's, 0.1 level apart */

static float half_round(float v) { return lowbit_fp16_to_fp32(lowbit_fp32_to_fp16(v)); }

static int weighted_block_usable(const float *x, const float *imp)
{
    float sum = 0.0f;
    for (int j = 0; j < QK_LEGACY; ++j) {
        if (!isfinite(x[j]) || !(imp[j] >= 0.0f) || !isfinite(imp[j])) return 0;
        sum += imp[j];
    }
    return sum > 0.0f;
}

static int round_clamp(float v, int lo, int hi)
{
    const float r = nearbyintf(v);
    return r < (float)lo ? lo : r > (float)hi ? hi : (int)r;
}

/* Weighted error of x ≈ d·q + m for fixed q. */
static double block_error(const float *x, const float *w, const int *q, double d, double m)
{
    double e = 0.0;
    for (int j = 0; j < QK_LEGACY; ++j) {
        const double diff = d * q[j] + m - x[j];
        e += w[j] * diff * diff;
    }
    return e;
}

/* Least-squares d (and m when `with_offset`) for fixed q; returns the weighted error. */
static double fit_scale(const float *x, const float *w, const int *q, int with_offset, double *d, double *m)
{
    double sw = 0.0, sq = 0.0, sqq = 0.0, sx = 0.0, sxq = 0.0;
    for (int j = 0; j < QK_LEGACY; ++j) {
        sw += w[j], sq += (double)w[j] * q[j], sqq += (double)w[j] * q[j] * q[j];
        sx += (double)w[j] * x[j], sxq += (double)w[j] * x[j] * q[j];
    }
    *m = 0.0;
    if (with_offset) {
        const double det = sw * sqq - sq * sq;
        if (det > 0.0) {
            *d = (sw * sxq - sx * sq) / det;
            *m = (sqq * sx - sq * sxq) / det;
        } else {
            *d = 0.0;
            *m = sw > 0.0 ? sx / sw : 0.0;
        }
    } else
        *d = sqq > 0.0 ? sxq / sqq : 0.0;
    return block_error(x, w, q, *d, *m);
}

/* Fits x ≈ d·q + m, q ∈ lo..hi (m = 0 unless with_offset); writes q, *d_out and *m_out already rounded to
 * fp16 values. */
static void fit_weighted_block(const float *x, const float *w, int lo, int hi, int with_offset, int q[QK_LEGACY],
                               float *d_out, float *m_out)
{
    float min = x[0], max = x[0], amax = 0.0f, signed_max = 0.0f;
    for (int j = 0; j < QK_LEGACY; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), signed_max = x[j];
    }
    int cand[QK_LEGACY];
    double best = INFINITY, best_d = 0.0, best_m = 0.0;
    for (int j = 0; j < QK_LEGACY; ++j)
        q[j] = 0;
    if (with_offset ? !(max > min) : amax == 0.0f) {
        best_m = with_offset ? min : 0.0;
    } else {
        for (int side = 0; side < (with_offset ? 1 : 2); ++side)
            for (int k = -LEGACY_STEPS; k <= LEGACY_STEPS; ++k) {
                /* symmetric: the largest |x| on the negative end (lo), then on the positive end (hi) */
                const float levels = (with_offset ? (float)hi : side == 0 ? (float)-lo : (float)hi) + 0.1f * k;
                if (levels <= 0.5f) continue;
                const float inv = with_offset ? levels / (max - min) : (side == 0 ? -levels : levels) / signed_max;
                double d = 0.0, m = 0.0;
                for (int j = 0; j < QK_LEGACY; ++j)
                    cand[j] = round_clamp((x[j] - (with_offset ? min : 0.0f)) * inv, lo, hi);
                double e = fit_scale(x, w, cand, with_offset, &d, &m);
                for (int round = 0; round < 3 && d != 0.0; ++round) { /* re-round under the fitted scale */
                    int next[QK_LEGACY];
                    double d2 = 0.0, m2 = 0.0;
                    for (int j = 0; j < QK_LEGACY; ++j)
                        next[j] = round_clamp((float)((x[j] - m) / d), lo, hi);
                    const double e2 = fit_scale(x, w, next, with_offset, &d2, &m2);
                    if (!(e2 < e)) break;
                    e = e2, d = d2, m = m2;
                    for (int j = 0; j < QK_LEGACY; ++j)
                        cand[j] = next[j];
                }
                if (e < best) {
                    best = e, best_d = d, best_m = m;
                    for (int j = 0; j < QK_LEGACY; ++j)
                        q[j] = cand[j];
                }
            }
    }
    const float d = half_round((float)best_d), m = half_round((float)best_m);
    if (d != 0.0f) /* nearest levels under the stored scale, kept when they fit at least as well */
    {
        int near[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY; ++j)
            near[j] = round_clamp((x[j] - m) / d, lo, hi);
        if (block_error(x, w, near, d, m) <= block_error(x, w, q, d, m))
            for (int j = 0; j < QK_LEGACY; ++j)
                q[j] = near[j];
    }
    *d_out = d;
    *m_out = m;
}

static void store_nibbles(unsigned char *qs, const int q[QK_LEGACY]);
static void store_high_bits(unsigned char *qh, const int q[QK_LEGACY]);

/* One block of Q4_0 (bias 8, 4 bits) or Q5_0 (bias 16, 5 bits) on the importance path. */
static void weighted_symmetric(const float *x, const float *imp, int bias, unsigned char *out)
{
    int q[QK_LEGACY];
    float d, m;
    fit_weighted_block(x, imp, -bias, bias - 1, 0, q, &d, &m);
    lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
    for (int j = 0; j < QK_LEGACY; ++j)
        q[j] += bias;
    if (bias == 16) store_high_bits(out + 2, q);
    store_nibbles(out + (bias == 16 ? 6 : 2), q);
}

/* One block of Q4_1 (levels 15) or Q5_1 (levels 31) on the importance path. */
static void weighted_offset(const float *x, const float *imp, int levels, unsigned char *out)
{
    int q[QK_LEGACY];
    float d, m;
    fit_weighted_block(x, imp, 0, levels, 1, q, &d, &m);
    lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
    lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(m));
    if (levels == 31) store_high_bits(out + 4, q);
    store_nibbles(out + (levels == 31 ? 8 : 4), q);
}

void lowbit_quantize_row_q4_0(const float *src, void *dst, size_t cols, const float *importance)
{
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_QK4_0; ++b, out += LOWBIT_Q4_0_BYTES) {
        const float *x = src + b * LOWBIT_QK4_0;
        if (importance && weighted_block_usable(x, importance + b * LOWBIT_QK4_0)) {
            weighted_symmetric(x, importance + b * LOWBIT_QK4_0, 8, out);
            continue;
        }
        float amax = 0.0f, max = 0.0f; /* the signed value of largest magnitude */
        for (int j = 0; j < LOWBIT_QK4_0; ++j) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        for (int j = 0; j < LOWBIT_QK4_0 / 2; ++j) {
            const float x0 = x[j] * id, x1 = x[j + LOWBIT_QK4_0 / 2] * id;
            /* NaN (and anything a float→int cast would make undefined) becomes 0, what x86 gives */
            const float v0 = x0 + 8.5f, v1 = x1 + 8.5f;
            int q0 = v0 >= 0.0f && v0 < 64.0f ? (int)v0 : 0, q1 = v1 >= 0.0f && v1 < 64.0f ? (int)v1 : 0;
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            out[2 + j] = (unsigned char)(q0 | (q1 << 4));
        }
    }
}

void lowbit_dequantize_row_q4_0(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_QK4_0; ++b, in += LOWBIT_Q4_0_BYTES) {
        const float d = lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(in));
        float *y = dst + b * LOWBIT_QK4_0;
        for (int j = 0; j < LOWBIT_QK4_0 / 2; ++j) {
            y[j] = d * (float)((int)(in[2 + j] & 0x0F) - 8);
            y[j + LOWBIT_QK4_0 / 2] = d * (float)((int)(in[2 + j] >> 4) - 8);
        }
    }
}

void lowbit_quantize_row_q8_0(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_QK8_0; ++b, out += LOWBIT_Q8_0_BYTES) {
        const float *x = src + b * LOWBIT_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < LOWBIT_QK8_0; ++j)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        for (int j = 0; j < LOWBIT_QK8_0; ++j) {
            const float v = roundf(x[j] * id);
            out[2 + j] = (unsigned char)(int8_t)(v >= -127.0f && v <= 127.0f ? (int)v : 0); /* NaN → 0 */
        }
    }
}

void lowbit_dequantize_row_q8_0(const void *src, float *dst, size_t cols)
{
    const unsigned char *in = src;
    for (size_t b = 0; b < cols / LOWBIT_QK8_0; ++b, in += LOWBIT_Q8_0_BYTES) {
        const float d = lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(in));
        for (int j = 0; j < LOWBIT_QK8_0; ++j)
            dst[b * LOWBIT_QK8_0 + j] = d * (float)(int8_t)in[2 + j];
    }
}

/* --- Q4_1 / Q5_1: asymmetric blocks {f16 d, f16 m, [qh], qs} with x = d·q + m ------------------ */

static void block_min_max(const float *x, float *min_out, float *max_out)
{
    /* Strict comparisons from ±FLT_MAX: a NaN never becomes the min or max, as in ggml's reference. */
    float min = INFINITY, max = -INFINITY;
    for (int j = 0; j < QK_LEGACY; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *min_out = min;
    *max_out = max;
}

/* q = trunc((x − min)·id + 0.5), clamped to 0..levels; shared by Q4_1 and Q5_1. */
static void quantize_block_min(const float *x, int levels, float *d_out, float *min_out, int q[QK_LEGACY])
{
    float min, max;
    block_min_max(x, &min, &max);
    const float d = (max - min) / (float)levels;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK_LEGACY; ++j) {
        const float scaled = (x[j] - min) * id;
        const float v = scaled + 0.5f;
        /* v >= 0.5 for finite inputs; NaN or out-of-range saturates instead of invoking UB in the cast */
        int l = v >= 0.0f && v < 64.0f ? (int)v : 0;
        q[j] = l > levels ? levels : l;
    }
    *d_out = d;
    *min_out = min;
}

static void store_nibbles(unsigned char *qs, const int q[QK_LEGACY])
{
    for (int j = 0; j < QK_LEGACY / 2; ++j)
        qs[j] = (unsigned char)((q[j] & 0x0F) | ((q[j + QK_LEGACY / 2] & 0x0F) << 4));
}

/* The 5th bits of all 32 quants as one little-endian uint32, bit j for element j. */
static void store_high_bits(unsigned char *qh, const int q[QK_LEGACY])
{
    uint32_t bits = 0;
    for (int j = 0; j < QK_LEGACY; ++j)
        bits |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; ++k)
        qh[k] = (unsigned char)(bits >> (8 * k));
}

void lowbit_quantize_row_q4_1(const float *src, void *dst, size_t cols, const float *importance)
{
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 20) {
        if (importance && weighted_block_usable(src + b * QK_LEGACY, importance + b * QK_LEGACY)) {
            weighted_offset(src + b * QK_LEGACY, importance + b * QK_LEGACY, 15, out);
            continue;
        }
        int q[QK_LEGACY];
        float d, min;
        quantize_block_min(src + b * QK_LEGACY, 15, &d, &min, q);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(min));
        store_nibbles(out + 4, q);
    }
}

void lowbit_dequantize_row_q4_1(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b)
        lowbit_decode_q4_1((const unsigned char *)src + b * 20, dst + b * 32);
}

void lowbit_quantize_row_q5_1(const float *src, void *dst, size_t cols, const float *importance)
{
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 24) {
        if (importance && weighted_block_usable(src + b * QK_LEGACY, importance + b * QK_LEGACY)) {
            weighted_offset(src + b * QK_LEGACY, importance + b * QK_LEGACY, 31, out);
            continue;
        }
        int q[QK_LEGACY];
        float d, min;
        quantize_block_min(src + b * QK_LEGACY, 31, &d, &min, q);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(min));
        store_high_bits(out + 4, q);
        store_nibbles(out + 8, q);
    }
}

void lowbit_dequantize_row_q5_1(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b)
        lowbit_decode_q5((const unsigned char *)src + b * 24, dst + b * 32, 1);
}

/* --- Q5_0: symmetric, x = d·(q − 16) ---------------------------------------------------------- */
void lowbit_quantize_row_q5_0(const float *src, void *dst, size_t cols, const float *importance)
{
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 22) {
        const float *x = src + b * QK_LEGACY;
        if (importance && weighted_block_usable(x, importance + b * QK_LEGACY)) {
            weighted_symmetric(x, importance + b * QK_LEGACY, 16, out);
            continue;
        }
        float amax = 0.0f, max = 0.0f; /* the signed value of largest magnitude, first one on ties */
        for (int j = 0; j < QK_LEGACY; ++j) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY; ++j) {
            const float scaled = x[j] * id; /* rounded before the add, as gguf-py does */
            const float v = scaled + 16.5f;
            const int l = v >= 0.0f && v < 64.0f ? (int)v : 0;
            q[j] = l > 31 ? 31 : l;
        }
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        store_high_bits(out + 2, q);
        store_nibbles(out + 6, q);
    }
}

void lowbit_dequantize_row_q5_0(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b)
        lowbit_decode_q5((const unsigned char *)src + b * 22, dst + b * 32, 0);
}

/* --- Q8_1: the activation partner of Q4_1/Q5_1; s = d·Σq lets a dot product fold in the weight's m */
void lowbit_quantize_row_q8_1(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_LEGACY; ++b, out += 36) {
        const float *x = src + b * QK_LEGACY;
        float amax = 0.0f;
        for (int j = 0; j < QK_LEGACY; ++j)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK_LEGACY; ++j) {
            const float v = roundf(x[j] * id);
            const int q = v >= -127.0f && v <= 127.0f ? (int)v : 0; /* NaN → 0 */
            out[4 + j] = (unsigned char)(int8_t)q;
            sum += q;
        }
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16((float)sum * d));
    }
}
