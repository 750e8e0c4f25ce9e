/* quantize_gptq.c — GPTQ over GGUF block formats: the inverse-Hessian factor, the per-element value
 * view of the affine and table formats (so a block's columns can be rounded one at a time under the
 * scales chosen at the block's start), and the threaded column loop. */
#include "tools/quantize/quantize_gptq.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "tools/common/tool_util.h"

/* The 16 levels of IQ4_NL and IQ4_XS (a format fact: code c stands for scale × level[c]). */
static const signed char iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static int fail_msg(char *error, size_t error_size, const char *message)
{
    if (error && error_size) snprintf(error, error_size, "%s", message);
    return -1;
}

/* --- the factor: U with (H + λI)⁻¹ = UᵀU, U upper triangular ------------------------------------------ */

/* In-place lower Cholesky of the n × n row-major matrix a (a = L·Lᵀ). Returns 0, or -1 when a pivot is
 * not positive. Rows are contiguous, so both inner products run along rows. */
static int cholesky_lower(double *a, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        double *ri = a + i * n;
        for (size_t j = 0; j <= i; ++j) {
            const double *rj = a + j * n;
            double s = ri[j];
            for (size_t k = 0; k < j; ++k)
                s -= ri[k] * rj[k];
            if (i == j) {
                if (!(s > 0.0)) return -1;
                ri[i] = sqrt(s);
            } else {
                ri[j] = s / rj[j];
            }
        }
        for (size_t j = i + 1; j < n; ++j)
            ri[j] = 0.0;
    }
    return 0;
}

/* x = l⁻¹ for lower-triangular l, stored transposed (xt[j][i] = x[i][j]) so that the substitution reads
 * rows of both. */
static void invert_lower_transposed(const double *l, size_t n, double *xt)
{
    memset(xt, 0, n * n * sizeof *xt);
    for (size_t j = 0; j < n; ++j) {
        double *col = xt + j * n; /* column j of x */
        col[j] = 1.0 / l[j * n + j];
        for (size_t i = j + 1; i < n; ++i) {
            const double *li = l + i * n;
            double s = 0.0;
            for (size_t k = j; k < i; ++k)
                s += li[k] * col[k];
            col[i] = -s / li[i];
        }
    }
}

/* With J the order reversal: Cholesky of J·H·J = M·Mᵀ gives H = R·Rᵀ with R = J·M·J upper triangular, so
 * H⁻¹ = (R⁻¹)ᵀ·R⁻¹ and U = R⁻¹ = J·M⁻¹·J — one factorization and one triangular inverse, no full inverse. */
static int factor_upper_inverse(const double *h, size_t n, double lambda, double *work, double *inv, float *u)
{
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            work[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)] + (i == j ? lambda : 0.0);
    if (cholesky_lower(work, n) != 0) return -1;
    invert_lower_transposed(work, n, inv); /* inv[j][i] = (M⁻¹)[i][j] */
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
            /* U[i][j] = (M⁻¹)[n-1-i][n-1-j], zero below the diagonal */
            const double v = j >= i ? inv[(n - 1 - j) * n + (n - 1 - i)] : 0.0;
            if (!isfinite(v)) return -1;
            u[i * n + j] = (float)v;
        }
    return 0;
}

/* The activation order: columns by decreasing diag(H), ties by index, dead columns last. */
static size_t *activation_order(const float *diag, const unsigned char *dead, size_t n)
{
    size_t *order = malloc(n * sizeof *order);
    if (!order) return NULL;
    for (size_t i = 0; i < n; ++i)
        order[i] = i;
    /* insertion sort on runs would be quadratic for 8192 columns: a merge sort with a scratch copy */
    size_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        free(order);
        return NULL;
    }
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            const size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi) {
                const size_t x = order[a], y = order[b];
                /* y goes first only when strictly ahead: alive before dead, then a larger diagonal */
                const int y_first = dead[x] != dead[y] ? dead[x] > dead[y] : diag[y] > diag[x];
                tmp[k++] = y_first ? order[b++] : order[a++];
            }
            while (a < mid)
                tmp[k++] = order[a++];
            while (b < hi)
                tmp[k++] = order[b++];
        }
        memcpy(order, tmp, n * sizeof *order);
    }
    free(tmp);
    return order;
}

int quantize_gptq_prepare(const float *hessian, size_t cols, double damp_fraction, quantize_gptq_factor *out,
                          char *error, size_t error_size)
{
    return quantize_gptq_prepare_ordered(hessian, cols, damp_fraction, 0, out, error, error_size);
}

int quantize_gptq_prepare_ordered(const float *hessian, size_t cols, double damp_fraction, int act_order,
                                  quantize_gptq_factor *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    if (!hessian || cols == 0) return fail_msg(error, error_size, "GPTQ: empty Hessian");
    if (!(damp_fraction > 0.0) || damp_fraction > 10.0)
        return fail_msg(error, error_size, "GPTQ: the damping must be in (0, 10]");
    const size_t n = cols;
    double *h = malloc(n * n * sizeof *h), *work = malloc(n * n * sizeof *work), *inv = malloc(n * n * sizeof *inv);
    out->u = malloc(n * n * sizeof *out->u);
    out->importance = malloc(n * sizeof *out->importance);
    out->dead = calloc(n, 1);
    if (!h || !work || !inv || !out->u || !out->importance || !out->dead) {
        free(h), free(work), free(inv);
        quantize_gptq_factor_free(out);
        return fail_msg(error, error_size, "GPTQ: out of memory for the Hessian factor");
    }
    double mean_diag = 0.0;
    int bad = 0;
    for (size_t i = 0; i < n && !bad; ++i)
        for (size_t j = 0; j < n; ++j) {
            const float v = hessian[i * n + j];
            if (!isfinite(v)) bad = 1;
            /* symmetrize (sums of outer products in floating point are symmetric only up to rounding) */
            h[i * n + j] = 0.5 * ((double)v + (double)hessian[j * n + i]);
        }
    for (size_t i = 0; i < n && !bad; ++i) {
        const double d = h[i * n + i];
        if (d < 0.0) bad = 1;
        out->importance[i] = (float)d;
        if (!(d > 0.0)) { /* an input that was always zero: any weight there is free, so it is quantized as 0 */
            out->dead[i] = 1;
            for (size_t j = 0; j < n; ++j)
                h[i * n + j] = h[j * n + i] = 0.0;
            h[i * n + i] = 1.0;
        }
        mean_diag += h[i * n + i];
    }
    if (bad) {
        free(h), free(work), free(inv);
        quantize_gptq_factor_free(out);
        return fail_msg(error, error_size, "GPTQ: the Hessian has non-finite or negative diagonal values");
    }
    mean_diag /= (double)n;
    if (act_order) { /* factor the Hessian of the permuted columns: H'[a][b] = H[order[a]][order[b]] */
        out->order = activation_order(out->importance, out->dead, n);
        if (!out->order) {
            free(h), free(work), free(inv);
            quantize_gptq_factor_free(out);
            return fail_msg(error, error_size, "GPTQ: out of memory for the activation order");
        }
        for (size_t a = 0; a < n; ++a)
            for (size_t b = 0; b < n; ++b)
                work[a * n + b] = h[out->order[a] * n + out->order[b]];
        memcpy(h, work, n * n * sizeof *h);
    }
    double lambda = damp_fraction * mean_diag;
    int ok = -1;
    for (int attempt = 0; attempt < 4 && ok != 0; ++attempt, lambda *= 10.0)
        ok = factor_upper_inverse(h, n, lambda, work, inv, out->u);
    free(h), free(work), free(inv);
    if (ok != 0) {
        quantize_gptq_factor_free(out);
        return fail_msg(error, error_size, "GPTQ: the Hessian is not positive semi-definite (even with 1000x damping)");
    }
    out->cols = n;
    out->damp = lambda / 10.0;
    return 0;
}

void quantize_gptq_factor_free(quantize_gptq_factor *factor)
{
    if (!factor) return;
    free(factor->u);
    free(factor->importance);
    free(factor->dead);
    free(factor->order);
    memset(factor, 0, sizeof *factor);
}

/* --- per-element view of the block formats ---------------------------------------------------------- */

static float half_at(const unsigned char *p) { return lowbit_fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8))); }

static void put_bits(unsigned char *p, int shift, int bits, int value)
{
    const unsigned mask = (1u << bits) - 1u;
    *p = (unsigned char)((*p & ~(mask << shift)) | (((unsigned)value & mask) << shift));
}

/* Q4_K / Q5_K: sub-block j's 6-bit scale and min from the 12 packed bytes */
static void k4_scale_min(const unsigned char *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Q3_K: sub-block i's signed 6-bit scale (low nibbles in bytes 0..7, 2-bit high parts in bytes 8..11) */
static int q3k_scale(const unsigned char *s, int i)
{
    const int low = i < 8 ? s[i] & 0xF : s[i - 8] >> 4;
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (low | (high << 4)) - 32;
}

int quantize_gptq_grid_of(lowbit_format format, quantize_gptq_grid *grid)
{
    grid->kind = 1;
    grid->table = NULL;
    switch (format) {
    case LOWBIT_FORMAT_Q4_0: grid->lo = -8, grid->hi = 7; return 0;
    case LOWBIT_FORMAT_Q4_1: grid->lo = 0, grid->hi = 15; return 0;
    case LOWBIT_FORMAT_Q5_0: grid->lo = -16, grid->hi = 15; return 0;
    case LOWBIT_FORMAT_Q5_1: grid->lo = 0, grid->hi = 31; return 0;
    case LOWBIT_FORMAT_Q8_0: grid->lo = -128, grid->hi = 127; return 0;
    case LOWBIT_FORMAT_Q2_K: grid->lo = 0, grid->hi = 3; return 0;
    case LOWBIT_FORMAT_Q3_K: grid->lo = -4, grid->hi = 3; return 0;
    case LOWBIT_FORMAT_Q4_K: grid->lo = 0, grid->hi = 15; return 0;
    case LOWBIT_FORMAT_Q5_K: grid->lo = 0, grid->hi = 31; return 0;
    case LOWBIT_FORMAT_Q6_K: grid->lo = -32, grid->hi = 31; return 0;
    case LOWBIT_FORMAT_IQ4_NL:
    case LOWBIT_FORMAT_IQ4_XS: grid->kind = 2, grid->lo = 0, grid->hi = 15, grid->table = iq4_levels; return 0;
    default: grid->kind = 0; return -1;
    }
}

int quantize_gptq_per_column(lowbit_format format)
{
    quantize_gptq_grid grid;
    return quantize_gptq_grid_of(format, &grid) == 0;
}

void quantize_gptq_element(lowbit_format format, const unsigned char *x, int e, float *a, float *b)
{
    *b = 0.0f;
    switch (format) {
    case LOWBIT_FORMAT_Q4_0:
    case LOWBIT_FORMAT_Q5_0:
    case LOWBIT_FORMAT_Q8_0:
    case LOWBIT_FORMAT_IQ4_NL: *a = half_at(x); return;
    case LOWBIT_FORMAT_Q4_1:
    case LOWBIT_FORMAT_Q5_1:
        *a = half_at(x);
        *b = half_at(x + 2);
        return;
    case LOWBIT_FORMAT_Q2_K: { /* scales[16], qs[64], d, dmin; sub-blocks of 16 */
        const int sc = x[e / 16];
        *a = half_at(x + 80) * (float)(sc & 0xF);
        *b = -(half_at(x + 82) * (float)(sc >> 4));
        return;
    }
    case LOWBIT_FORMAT_Q3_K: /* hmask[32], qs[64], scales[12], d */
        *a = half_at(x + 108) * (float)q3k_scale(x + 96, e / 16);
        return;
    case LOWBIT_FORMAT_Q4_K:
    case LOWBIT_FORMAT_Q5_K: { /* d, dmin, scales[12], ...; sub-blocks of 32 */
        int sc, m;
        k4_scale_min(x + 4, e / 32, &sc, &m);
        *a = half_at(x) * (float)sc;
        *b = -(half_at(x + 2) * (float)m);
        return;
    }
    case LOWBIT_FORMAT_Q6_K: /* ql[128], qh[64], scales[16] (int8), d */
        *a = half_at(x + 208) * (float)(signed char)x[192 + e / 16];
        return;
    case LOWBIT_FORMAT_IQ4_XS: { /* d, scales_h (u16), scales_l[4], qs[128] */
        const int ib = e / 32, scales_h = x[2] | (x[3] << 8);
        const int ls = ((x[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
        *a = half_at(x) * (float)(ls - 32);
        return;
    }
    default: *a = 0.0f; return;
    }
}

void quantize_gptq_put_level(lowbit_format format, unsigned char *x, int e, int level)
{
    switch (format) {
    case LOWBIT_FORMAT_Q4_0: put_bits(x + 2 + e % 16, 4 * (e / 16), 4, level + 8); return;
    case LOWBIT_FORMAT_IQ4_NL: put_bits(x + 2 + e % 16, 4 * (e / 16), 4, level); return;
    case LOWBIT_FORMAT_Q4_1: put_bits(x + 4 + e % 16, 4 * (e / 16), 4, level); return;
    case LOWBIT_FORMAT_Q5_0:
    case LOWBIT_FORMAT_Q5_1: { /* qh: bit e of a little-endian u32, then the nibbles */
        const int code = format == LOWBIT_FORMAT_Q5_0 ? level + 16 : level;
        const int qh = format == LOWBIT_FORMAT_Q5_0 ? 2 : 4;
        put_bits(x + qh + e / 8, e % 8, 1, code >> 4);
        put_bits(x + qh + 4 + e % 16, 4 * (e / 16), 4, code);
        return;
    }
    case LOWBIT_FORMAT_Q8_0: x[2 + e] = (unsigned char)(signed char)level; return;
    case LOWBIT_FORMAT_Q2_K: put_bits(x + 16 + 32 * (e / 128) + e % 32, 2 * ((e % 128) / 32), 2, level); return;
    case LOWBIT_FORMAT_Q3_K: {
        const int n = e / 128, j = (e % 128) / 32, l = e % 32, code = level + 4;
        put_bits(x + 32 + 32 * n + l, 2 * j, 2, code);
        put_bits(x + l, 4 * n + j, 1, code >> 2); /* hmask bit set: no −4 */
        return;
    }
    case LOWBIT_FORMAT_Q4_K: put_bits(x + 16 + 32 * (e / 64) + e % 32, 4 * ((e % 64) / 32), 4, level); return;
    case LOWBIT_FORMAT_Q5_K:
        put_bits(x + 16 + e % 32, e / 32, 1, level >> 4);
        put_bits(x + 48 + 32 * (e / 64) + e % 32, 4 * ((e % 64) / 32), 4, level);
        return;
    case LOWBIT_FORMAT_Q6_K: {
        const int n = e / 128, k = (e % 128) / 32, l = e % 32, code = level + 32;
        put_bits(x + 64 * n + l + 32 * (k & 1), 4 * (k >> 1), 4, code);
        put_bits(x + 128 + 32 * n + l, 2 * k, 2, code >> 4);
        return;
    }
    case LOWBIT_FORMAT_IQ4_XS: put_bits(x + 8 + 16 * (e / 32) + e % 16, 4 * ((e % 32) / 16), 4, level); return;
    default: return;
    }
}

int quantize_gptq_supports(lowbit_format format)
{
    switch (format) {
    case LOWBIT_FORMAT_IQ1_S:
    case LOWBIT_FORMAT_IQ1_M:
    case LOWBIT_FORMAT_IQ2_XXS:
    case LOWBIT_FORMAT_IQ2_XS:
    case LOWBIT_FORMAT_IQ2_S:
    case LOWBIT_FORMAT_IQ3_XXS:
    case LOWBIT_FORMAT_IQ3_S: return 1;
    default: return quantize_gptq_per_column(format);
    }
}

/* The level nearest to x among a·level + b, and its value. */
static int round_to_grid(const quantize_gptq_grid *g, float a, float b, float x, float *value)
{
    int best = g->kind == 1 ? (g->lo > 0 ? g->lo : (g->hi < 0 ? g->hi : 0)) : 0;
    if (a != 0.0f) {
        if (g->kind == 1) {
            const float t = (x - b) / a;
            if (!(t > (float)g->lo))
                best = g->lo;
            else if (t >= (float)g->hi)
                best = g->hi;
            else
                best = (int)lrintf(t);
        } else {
            float best_error = INFINITY;
            for (int c = 0; c < 16; ++c) {
                const float err = fabsf(a * (float)g->table[c] + b - x);
                if (err < best_error) best_error = err, best = c;
            }
        }
    }
    *value = a * (float)(g->kind == 1 ? best : g->table[best]) + b;
    return best;
}

/* --- sub-block scales refitted inside the column loop ---------------------------------------------------- */

/* Sub-block length of the super-block formats whose sub-block scales lowbit refits as GPTQ reaches each
 * sub-block (0: none). Their super-block fields (d, dmin) stay as the block's search chose them. */
int quantize_gptq_sub_block(lowbit_format format)
{
    switch (format) {
    case LOWBIT_FORMAT_Q2_K:
    case LOWBIT_FORMAT_Q3_K:
    case LOWBIT_FORMAT_Q6_K: return 16;
    case LOWBIT_FORMAT_Q4_K:
    case LOWBIT_FORMAT_Q5_K:
    case LOWBIT_FORMAT_IQ4_XS: return 32;
    default: return 0;
    }
}

/* Reads (s, m) of sub-block j: the integer scale and min fields (m is 0 where the format has none). */
static void get_sub(lowbit_format format, const unsigned char *x, int j, int *s, int *m)
{
    *m = 0;
    switch (format) {
    case LOWBIT_FORMAT_Q2_K: *s = x[j] & 0xF, *m = x[j] >> 4; return;
    case LOWBIT_FORMAT_Q3_K: *s = q3k_scale(x + 96, j); return;
    case LOWBIT_FORMAT_Q4_K:
    case LOWBIT_FORMAT_Q5_K: k4_scale_min(x + 4, j, s, m); return;
    case LOWBIT_FORMAT_Q6_K: *s = (signed char)x[192 + j]; return;
    case LOWBIT_FORMAT_IQ4_XS: {
        const int scales_h = x[2] | (x[3] << 8);
        *s = (((x[4 + j / 2] >> (4 * (j % 2))) & 0xF) | (((scales_h >> (2 * j)) & 3) << 4)) - 32;
        return;
    }
    default: *s = 0; return;
    }
}

/* Writes (s, m) of sub-block j in the format's packing; the range of each is the format's (see sub_range). */
static void set_sub(lowbit_format format, unsigned char *x, int j, int s, int m)
{
    switch (format) {
    case LOWBIT_FORMAT_Q2_K: x[j] = (unsigned char)(s | (m << 4)); return;
    case LOWBIT_FORMAT_Q3_K: { /* low nibble in bytes 0..7 (j ≥ 8: the high half), 2 high bits in 8..11 */
        const int v = s + 32;
        put_bits(x + 96 + j % 8, 4 * (j / 8), 4, v);
        put_bits(x + 96 + 8 + j % 4, 2 * (j / 4), 2, v >> 4);
        return;
    }
    case LOWBIT_FORMAT_Q4_K:
    case LOWBIT_FORMAT_Q5_K: {
        unsigned char *p = x + 4;
        if (j < 4) {
            put_bits(p + j, 0, 6, s);
            put_bits(p + j + 4, 0, 6, m);
        } else {
            put_bits(p + j + 4, 0, 4, s);
            put_bits(p + j + 4, 4, 4, m);
            put_bits(p + j - 4, 6, 2, s >> 4);
            put_bits(p + j, 6, 2, m >> 4);
        }
        return;
    }
    case LOWBIT_FORMAT_Q6_K: x[192 + j] = (unsigned char)(signed char)s; return;
    case LOWBIT_FORMAT_IQ4_XS: {
        const int v = s + 32;
        put_bits(x + 4 + j / 2, 4 * (j % 2), 4, v);
        put_bits(x + 2 + (2 * j) / 8, (2 * j) % 8, 2, v >> 4);
        return;
    }
    default: return;
    }
}

static void sub_range(lowbit_format format, int *s_lo, int *s_hi, int *m_hi)
{
    *s_lo = 0, *m_hi = 0;
    switch (format) {
    case LOWBIT_FORMAT_Q2_K: *s_hi = 15, *m_hi = 15; return;
    case LOWBIT_FORMAT_Q4_K:
    case LOWBIT_FORMAT_Q5_K: *s_hi = 63, *m_hi = 63; return;
    case LOWBIT_FORMAT_Q6_K: *s_lo = -128, *s_hi = 127; return;
    default: *s_lo = -32, *s_hi = 31; return; /* Q3_K, IQ4_XS */
    }
}

/* Re-chooses sub-block j's integer scale (and min) for its current, error-updated values x[0..n) with the
 * weights imp: the candidates within ±4 of the present fields, each scored by the weighted error of rounding x
 * under it; the present fields win ties. */
void quantize_gptq_refit(lowbit_format format, unsigned char *blk, int j, const float *x, const float *imp)
{
    const int n = quantize_gptq_sub_block(format);
    quantize_gptq_grid g;
    if (n == 0 || quantize_gptq_grid_of(format, &g) != 0) return;
    const quantize_gptq_grid *grid = &g;
    int s0, m0, s_lo, s_hi, m_hi;
    get_sub(format, blk, j, &s0, &m0);
    sub_range(format, &s_lo, &s_hi, &m_hi);
    double best = INFINITY;
    int best_s = s0, best_m = m0;
    for (int pass = 0; pass < 2; ++pass) /* pass 0: the present fields, so that they win ties */
        for (int s = pass ? s0 - 4 : s0; s <= (pass ? s0 + 4 : s0); ++s)
            for (int m = pass ? m0 - 4 : m0; m <= (pass ? m0 + 4 : m0); ++m) {
                if (s < s_lo || s > s_hi || m < 0 || m > m_hi || (pass && s == s0 && m == m0)) continue;
                set_sub(format, blk, j, s, m);
                float a, b;
                quantize_gptq_element(format, blk, j * n, &a, &b);
                double e = 0.0;
                for (int i = 0; i < n; ++i) {
                    float v;
                    round_to_grid(grid, a, b, x[i], &v);
                    e += (double)imp[i] * (double)(x[i] - v) * (double)(x[i] - v);
                }
                if (e < best) best = e, best_s = s, best_m = m;
            }
    set_sub(format, blk, j, best_s, best_m);
}

/* --- the column loop --------------------------------------------------------------------------------- */

#define GPTQ_GROUP_ROWS 8 /* rows that share one pass over U's rows in the lazy update */

typedef struct gptq_job {
    const quantize_gptq_factor *f;
    lowbit_format format;
    const float *w, *importance;
    size_t rows, cols, block, block_bytes, row_bytes;
    unsigned char *dst;
} gptq_job;

typedef struct gptq_worker {
    gptq_job *job;
    size_t row0, row1;
    int status;
} gptq_worker;

/* The lazy batch update: the errors err (nr rows × B) of columns b0..b0+B, pushed onto the columns after them
 * through U's rows. */
static void lazy_update(float *w, const float *err, const float *u, size_t nr, size_t cols, size_t b0, size_t B)
{
    const size_t rest = b0 + B;
    if (rest >= cols) return;
    for (size_t c = 0; c < B; ++c) {
        const float *urow = u + (b0 + c) * cols;
        for (size_t r = 0; r < nr; ++r) {
            const float e = err[r * B + c];
            if (e == 0.0f) continue;
            float *wr = w + r * cols;
            for (size_t k = rest; k < cols; ++k)
                wr[k] -= e * urow[k];
        }
    }
}

/* GPTQ in activation order with static groups, on rows [row0, row1): every block's scales are first chosen by
 * the format's search on the unquantized row; the columns are then rounded in the factor's order (the U of the
 * permuted Hessian), each to the values its own block's scales allow, with the error fed forward in that
 * order. The packed layout is untouched: only the order of rounding changes. */
static int gptq_rows_ordered(const gptq_job *j, size_t row0, size_t row1)
{
    const size_t cols = j->cols, B = j->block;
    const size_t *order = j->f->order;
    const float *u = j->f->u;
    const float *imp = j->importance ? j->importance : j->f->importance;
    quantize_gptq_grid grid;
    if (quantize_gptq_grid_of(j->format, &grid) != 0) return LOWBIT_ERROR_UNSUPPORTED;
    float *w = malloc(GPTQ_GROUP_ROWS * cols * sizeof *w), *err = malloc(GPTQ_GROUP_ROWS * B * sizeof *err);
    float *row = malloc(cols * sizeof *row);
    if (!w || !err || !row) {
        free(w), free(err), free(row);
        return LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    int status = LOWBIT_OK;
    for (size_t g0 = row0; g0 < row1 && status == LOWBIT_OK; g0 += GPTQ_GROUP_ROWS) {
        const size_t nr = row1 - g0 < GPTQ_GROUP_ROWS ? row1 - g0 : GPTQ_GROUP_ROWS;
        for (size_t r = 0; r < nr && status == LOWBIT_OK; ++r) {
            for (size_t c = 0; c < cols; ++c)
                row[c] = j->f->dead[c] ? 0.0f : j->w[(g0 + r) * cols + c];
            status = lowbit_quantize(j->format, row, 1, cols, j->dst + (g0 + r) * j->row_bytes, j->row_bytes, imp, 1);
            for (size_t p = 0; p < cols; ++p)
                w[r * cols + p] = row[order[p]];
        }
        for (size_t b0 = 0; b0 < cols && status == LOWBIT_OK; b0 += B) {
            for (size_t r = 0; r < nr; ++r) {
                float *wr = w + r * cols + b0;
                unsigned char *dst_row = j->dst + (g0 + r) * j->row_bytes;
                for (size_t c = 0; c < B; ++c) {
                    const size_t e = order[b0 + c];
                    unsigned char *blk = dst_row + (e / B) * j->block_bytes;
                    float a, b, v;
                    quantize_gptq_element(j->format, blk, (int)(e % B), &a, &b);
                    quantize_gptq_put_level(j->format, blk, (int)(e % B), round_to_grid(&grid, a, b, wr[c], &v));
                    const float *urow = u + (b0 + c) * cols + b0;
                    const float delta = (wr[c] - v) / urow[c];
                    err[r * B + c] = delta;
                    for (size_t k = c + 1; k < B; ++k)
                        wr[k] -= delta * urow[k];
                }
            }
            lazy_update(w, err, u, nr, cols, b0, B);
        }
    }
    free(w), free(err), free(row);
    return status;
}

/* GPTQ on rows [row0, row1) in groups of GPTQ_GROUP_ROWS. */
static int gptq_rows(const gptq_job *j, size_t row0, size_t row1)
{
    if (j->f->order) return gptq_rows_ordered(j, row0, row1);
    const size_t cols = j->cols, B = j->block;
    const float *u = j->f->u;
    const float *imp = j->importance ? j->importance : j->f->importance;
    quantize_gptq_grid grid;
    const int per_column = quantize_gptq_grid_of(j->format, &grid) == 0;
    float *w = malloc(GPTQ_GROUP_ROWS * cols * sizeof *w), *err = malloc(GPTQ_GROUP_ROWS * B * sizeof *err);
    float *deq = malloc(B * sizeof *deq);
    if (!w || !err || !deq) {
        free(w), free(err), free(deq);
        return LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    int status = LOWBIT_OK;
    for (size_t g0 = row0; g0 < row1 && status == LOWBIT_OK; g0 += GPTQ_GROUP_ROWS) {
        const size_t nr = row1 - g0 < GPTQ_GROUP_ROWS ? row1 - g0 : GPTQ_GROUP_ROWS;
        memcpy(w, j->w + g0 * cols, nr * cols * sizeof *w);
        for (size_t r = 0; r < nr; ++r)
            for (size_t c = 0; c < cols; ++c)
                if (j->f->dead[c]) w[r * cols + c] = 0.0f;
        for (size_t b0 = 0; b0 < cols && status == LOWBIT_OK; b0 += B) {
            for (size_t r = 0; r < nr; ++r) {
                float *wr = w + r * cols + b0;
                unsigned char *blk = j->dst + (g0 + r) * j->row_bytes + (b0 / B) * j->block_bytes;
                /* the block's scales: the format's own search on the error-updated weights */
                status = lowbit_quantize(j->format, wr, 1, B, blk, j->block_bytes, imp + b0, 1);
                if (status != LOWBIT_OK) break;
                if (!per_column) status = lowbit_dequantize(j->format, blk, j->block_bytes, 1, B, deq);
                if (status != LOWBIT_OK) break;
                const int sub = per_column ? quantize_gptq_sub_block(j->format) : 0;
                for (size_t c = 0; c < B; ++c) {
                    float v;
                    if (sub && c > 0 && c % (size_t)sub == 0) /* the sub-block's scale, for its updated weights */
                        quantize_gptq_refit(j->format, blk, (int)(c / (size_t)sub), wr + c, imp + b0 + c);
                    if (per_column) {
                        float a, b;
                        quantize_gptq_element(j->format, blk, (int)c, &a, &b);
                        const int level = round_to_grid(&grid, a, b, wr[c], &v);
                        quantize_gptq_put_level(j->format, blk, (int)c, level);
                    } else {
                        v = deq[c];
                    }
                    const float *urow = u + (b0 + c) * cols + b0;
                    const float e = (wr[c] - v) / urow[c];
                    err[r * B + c] = e;
                    for (size_t k = c + 1; k < B; ++k)
                        wr[k] -= e * urow[k];
                }
            }
            if (status == LOWBIT_OK) lazy_update(w, err, u, nr, cols, b0, B);
        }
    }
    free(w), free(err), free(deq);
    return status;
}

static void *gptq_thread(void *arg)
{
    gptq_worker *worker = arg;
    worker->status = gptq_rows(worker->job, worker->row0, worker->row1);
    return NULL;
}

int quantize_gptq_rows(const quantize_gptq_factor *factor, lowbit_format format, const float *w, size_t rows,
                       size_t cols, const float *importance, void *dst, size_t dst_size, int n_threads)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    if (!quantize_gptq_supports(format)) return LOWBIT_ERROR_UNSUPPORTED;
    if (factor && factor->order && !quantize_gptq_per_column(format)) return LOWBIT_ERROR_UNSUPPORTED;
    if (!factor || !factor->u || !w || !dst || !traits || !traits->can_quantize || traits->block_size < 2 ||
        cols != factor->cols || cols % traits->block_size != 0)
        return LOWBIT_ERROR_INVALID_ARGUMENT;
    const size_t row_bytes = lowbit_format_row_size(format, cols);
    if (row_bytes == 0 || dst_size != rows * row_bytes) return LOWBIT_ERROR_INVALID_ARGUMENT;
    gptq_job job = {factor, format, w, importance, rows, cols, traits->block_size, traits->type_size, row_bytes, dst};
    n_threads = tool_thread_count(n_threads);
    size_t groups = (rows + GPTQ_GROUP_ROWS - 1) / GPTQ_GROUP_ROWS;
    if ((size_t)n_threads > groups) n_threads = (int)(groups ? groups : 1);
    gptq_worker workers[TOOL_MAX_THREADS];
    for (int t = 0; t < n_threads; ++t) {
        /* whole groups per thread, so the row grouping (and the output) does not depend on the count */
        workers[t].job = &job;
        workers[t].row0 = groups * (size_t)t / (size_t)n_threads * GPTQ_GROUP_ROWS;
        workers[t].row1 = groups * (size_t)(t + 1) / (size_t)n_threads * GPTQ_GROUP_ROWS;
        if (workers[t].row1 > rows) workers[t].row1 = rows;
        workers[t].status = LOWBIT_OK;
    }
    tool_parallel(n_threads, gptq_thread, workers, sizeof workers[0]);
    for (int t = 0; t < n_threads; ++t)
        if (workers[t].status != LOWBIT_OK) return workers[t].status;
    return LOWBIT_OK;
}
