/* kquants.c — the 256-element super-block formats Q2_K..Q6_K (weighted scale/min search, 4/6-bit
 * sub-block scales; with an importance vector, a search over the stored integers themselves) and the Q8_K
 * activation type; dequantizers repeat the layout's float ops in order. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "block_decode.h"
#include "format_internal.h"

#define QK_K 256

/* Round half to even and clamp; NaN goes to `lo`, so bad input never reaches an undefined cast. */
static int clamp_round(float v, int lo, int hi)
{
    if (!(v >= (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    /* v is now a small in-range value: adding 1.5·2^23 rounds it to an integer (half to even) in the
     * FPU's default mode, several times faster than an lrintf call in the search loops */
    return (int)((v + 12582912.0f) - 12582912.0f);
}

/* Stores v as f16 rounded away from zero, and returns the stored value. The super-block scale is
 * rounded up in magnitude so that the largest sub-block scale, divided by it, never needs more than
 * the 4/6/8 bits it has; the sub-block scales are then re-derived against the stored value, which
 * matters when d is tiny and f16 (subnormal) rounding is coarse. */
static float store_half_at_least(unsigned char *p, float v)
{
    uint16_t h = lowbit_fp32_to_fp16(v);
    const float stored = lowbit_fp16_to_fp32(h);
    if (fabsf(stored) < fabsf(v) && (h & 0x7FFFu) < 0x7BFFu) ++h; /* next magnitude, same sign */
    lowbit_store_u16le(p, h);
    return lowbit_fp16_to_fp32(h);
}

/* Per-element weights of one sub-block without importance: av_x + |x| (av_x = RMS of the sub-block), which
 * favours getting large weights right. */
static void element_weights(const float *x, int n, float *w)
{
    float sum_x2 = 0.0f;
    for (int i = 0; i < n; ++i)
        sum_x2 += x[i] * x[i];
    const float av_x = sqrtf(sum_x2 / (float)n);
    for (int i = 0; i < n; ++i)
        w[i] = av_x + fabsf(x[i]);
}

/* Asymmetric search: x ≈ scale·L − neg_min with L ∈ 0..nmax and the offset ≤ 0 (a min above zero buys
 * nothing the scale cannot). Starts from the min/max fit, then tries nstep+1 inverse scales
 * (nmax + rmin + rdelta·k)/(max − min), solving the weighted least-squares (scale, min) for each
 * rounding and keeping the lowest weighted error. */
static float search_scale_min(int n, int nmax, const float *x, const float *w, unsigned char *L, float *neg_min,
                              float rmin, float rdelta, int nstep)
{
    unsigned char Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0.0f) min = 0.0f;
    if (!(max > min)) { /* constant (or NaN) sub-block: all of it goes into the offset */
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    double sum_wx2 = 0.0;
    for (int i = 0; i < n; ++i)
        sum_wx2 += (double)w[i] * x[i] * x[i];
    float iscale = (float)nmax / (max - min), scale = 1.0f / iscale, best_error = 0.0f;
    for (int i = 0; i < n; ++i) {
        L[i] = (unsigned char)clamp_round(iscale * (x[i] - min), 0, nmax);
        const float diff = scale * (float)L[i] + min - x[i];
        best_error += w[i] * diff * diff;
    }
    for (int step = 0; step <= nstep; ++step) {
        iscale = (rmin + rdelta * (float)step + (float)nmax) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_round(iscale * (x[i] - min), 0, nmax);
            Laux[i] = (unsigned char)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)(l * l);
            sum_xl += w[i] * (float)l * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0.0f)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0.0f) {
            this_min = 0.0f;
            this_scale = sum_xl / sum_l2;
        }
        /* Σw(s·l + m − x)² expanded, so each candidate costs one pass over the elements, not two */
        const double s_ = this_scale, m_ = this_min;
        const float error = (float)(s_ * s_ * sum_l2 + m_ * m_ * sum_w + sum_wx2 + 2.0 * s_ * m_ * sum_l -
                                    2.0 * s_ * sum_xl - 2.0 * m_ * sum_x);
        if (error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/* Symmetric weighted search (make_qx-style): x ≈ scale·(L − nmax), L ∈ 0..2·nmax−1. The sign of the
 * scale follows the largest-magnitude element so that it lands on −nmax, the level with no partner;
 * 18 neighbouring inverse scales are tried and the least-squares scale of the best rounding kept.
 * w NULL means w = x². */
static float search_scale_symmetric(int n, int nmax, const float *x, const float *w, unsigned char *L)
{
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (!(amax >= 1e-15f)) {
        memset(L, nmax, (size_t)n); /* the level that decodes to zero */
        return 0.0f;
    }
    float best_scale = 0.0f, best = -1.0f;
    for (int step = 0; step <= 18; ++step) {
        /* step 0 is the plain max-based scale; then ±0.1..±0.9 around it */
        const int k = step == 0 ? 0 : (step <= 9 ? -step : step - 9);
        const float iscale = -((float)nmax + 0.1f * (float)k) / max;
        float sum_lx = 0.0f, sum_l2 = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_round(iscale * x[i], -nmax, nmax - 1);
            const float wi = w ? w[i] : x[i] * x[i];
            sum_lx += wi * x[i] * (float)l;
            sum_l2 += wi * (float)(l * l);
        }
        if (sum_l2 > 0.0f && (best < 0.0f || sum_lx * sum_lx > best * sum_l2)) {
            for (int i = 0; i < n; ++i)
                L[i] = (unsigned char)(clamp_round(iscale * x[i], -nmax, nmax - 1) + nmax);
            best_scale = sum_lx / sum_l2;
            best = best_scale * sum_lx;
        }
    }
    if (best < 0.0f) {
        /* all weights zero (an imatrix that ignores these columns): fit them unweighted rather than
         * zeroing them */
        if (w) return search_scale_symmetric(n, nmax, x, NULL, L);
        memset(L, nmax, (size_t)n);
        return 0.0f;
    }
    return best_scale;
}

/* make_q3-style: the symmetric start, then coordinate descent that moves one quant at a time to its
 * least-squares level while the weighted fit (Σwxl)²/Σwl² improves (w = x²). */
static float refine_scale_symmetric(int n, int nmax, const float *x, unsigned char *L)
{
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (!(amax >= 1e-15f)) {
        memset(L, nmax, (size_t)n);
        return 0.0f;
    }
    const float iscale = -(float)nmax / max;
    int l[32];
    float sum_lx = 0.0f, sum_l2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        l[i] = clamp_round(iscale * x[i], -nmax, nmax - 1);
        const float w = x[i] * x[i];
        sum_lx += w * x[i] * (float)l[i];
        sum_l2 += w * (float)(l[i] * l[i]);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sum_lx - w * x[i] * (float)l[i];
            if (!(slx > 0.0f)) continue;
            float sl2 = sum_l2 - w * (float)(l[i] * l[i]);
            const int new_l = clamp_round(x[i] * sl2 / slx, -nmax, nmax - 1);
            if (new_l == l[i]) continue;
            slx += w * x[i] * (float)new_l;
            sl2 += w * (float)(new_l * new_l);
            if (sl2 > 0.0f && slx * slx * sum_l2 > sum_lx * sum_lx * sl2) {
                l[i] = new_l;
                sum_lx = slx;
                sum_l2 = sl2;
                ++changed;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = (unsigned char)(l[i] + nmax);
    return sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
}

/* --- the importance path ------------------------------------------------------------------------------
 * With an importance vector (an imatrix: the mean square of each input column's activations) the target is
 * Σ imp·(x − x̂)², the expected squared error of the layer's output under a diagonal approximation, over what
 * the decoder will really produce. The plain path fits each sub-block in floats and then rounds its scale
 * (and min) to the 4 or 6 bits the format keeps, against the super-block maximum and blind to how much each
 * sub-block matters; at these widths that rounding is a large share of the error, and for Q4_K/Q5_K most of
 * it. Here the stored integers are chosen against the weighted error itself: every sub-block tries the
 * integer scales (and mins) around its float fit and keeps those whose re-rounded quants fit best, then the
 * super-block d (and dmin) are refitted by weighted least squares for those integers and quants, and the
 * two steps repeat around the new solution while the error falls.
 *
 * The weights are the importance alone, the error the imatrix actually estimates. ggml multiplies it by
 * √(σ² + x²); measured on SmolLM2-135M (KL divergence against the unquantized model) the importance alone did
 * better for Q2_K, Q4_K and Q6_K, and as well within the noise for Q3_K. When an imatrix is very uneven, one
 * column can outweigh its whole sub-block, and the best scale then fits that element and clips the rest: the
 * searches below therefore also try much narrower ranges than the sub-block's span, which is where most of
 * the gain over ggml's Q3_K and Q6_K comes from. */

/* Importance weights of one sub-block; one whose importance is all zero (columns the calibration never
 * exercised) gets the plain weights instead, so it is still fitted rather than left to chance. */
static void importance_weights(const float *x, int n, const float *imp, float *w)
{
    float sum = 0.0f;
    for (int i = 0; i < n; ++i)
        sum += (w[i] = imp[i]);
    if (!(sum > 0.0f)) element_weights(x, n, w);
}

static float half_round(float v) { return lowbit_fp16_to_fp32(lowbit_fp32_to_fp16(v)); }

/* Σ w·(dl·l − ml − x)² over n elements (a multiple of 8), l = (x + ml)·inv rounded and clamped to lo..hi:
 * a sub-block's weighted error under candidate integers, the searches' inner loop. Written to vectorize:
 * branch-free clamps (NaN goes to lo, as in clamp_round) and eight interleaved partial sums added in a fixed
 * order, so the result does not depend on how the compiler lays the loop out. */
static float level_error(const float *x, const float *w, int n, float inv, float dl, float ml, float lo, float hi)
{
    float part[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; i += 8)
        for (int k = 0; k < 8; ++k) {
            float v = (x[i + k] + ml) * inv;
            v = v > lo ? v : lo;
            v = v < hi ? v : hi;
            const float l = (v + 12582912.0f) - 12582912.0f;
            const float diff = dl * l - ml - x[i + k];
            part[k] += w[i + k] * diff * diff;
        }
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/* search_scale_min only tries ranges that span the whole sub-block. With the weight on a few elements the
 * best fit may clip the others, so this also tries ranges of 1/1.5..1/4 of the span, anchored at either
 * end, each fitted by weighted least squares, and keeps whichever fits best (L, *neg_min, the scale). */
static float widen_scale_min(int n, int nmax, const float *x, const float *w, unsigned char *L, float *neg_min,
                             float scale)
{
    static const float spans[] = {1.5f, 2.0f, 3.0f, 4.0f};
    unsigned char Laux[32];
    float min = x[0], max = x[0];
    double sum_w = 0.0, sum_x = 0.0, sum_x2 = 0.0, best = 0.0;
    for (int i = 0; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += (double)w[i] * x[i];
        sum_x2 += (double)w[i] * x[i] * x[i];
        const double diff = (double)scale * L[i] - *neg_min - x[i];
        best += w[i] * diff * diff;
    }
    if (!(max > min)) return scale;
    for (int k = 0; k < 8; ++k) {
        const float iscale = spans[k / 2] * (float)nmax / (max - min);
        double sum_l = 0.0, sum_l2 = 0.0, sum_xl = 0.0;
        for (int i = 0; i < n; ++i) {
            const int l = k % 2 ? clamp_round((x[i] - min) * iscale, 0, nmax)
                                : nmax - clamp_round((max - x[i]) * iscale, 0, nmax);
            Laux[i] = (unsigned char)l;
            sum_l += (double)w[i] * l;
            sum_l2 += (double)w[i] * l * l;
            sum_xl += (double)w[i] * l * x[i];
        }
        const double det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0.0)) continue;
        double s = (sum_w * sum_xl - sum_x * sum_l) / det, m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (m > 0.0) { /* the offset may only subtract */
            m = 0.0;
            s = sum_xl / sum_l2;
        }
        const double error =
            s * s * sum_l2 + m * m * sum_w + sum_x2 + 2.0 * s * m * sum_l - 2.0 * s * sum_xl - 2.0 * m * sum_x;
        if (s > 0.0 && error < best) {
            best = error;
            scale = (float)s;
            *neg_min = (float)-m;
            memcpy(L, Laux, (size_t)n);
        }
    }
    return scale;
}

/* An asymmetric K format (x ≈ d·ls·l − dmin·lm): n_sub sub-blocks of len elements, quants 0..nmax, stored
 * sub-block scales and mins 0..smax, and how far around its target each sub-block's search goes. */
typedef struct asym_shape {
    int n_sub, len, nmax, smax, radius;
} asym_shape;

/* For a given (d, dmin): each sub-block keeps the integer (scale, min) within the radius of its targets'
 * rounding that gives the lowest weighted error, and its quants under them (L). Returns the total error. */
static float asym_pick(const asym_shape *g, const float *x, const float *w, const float *scale_target,
                       const float *min_target, float d, float dmin, int *ls, int *lm, unsigned char *L)
{
    const float nmax = (float)g->nmax;
    float total = 0.0f;
    for (int j = 0; j < g->n_sub; ++j) {
        const float *xj = x + g->len * j, *wj = w + g->len * j;
        const int s0 = d > 0.0f ? clamp_round(scale_target[j] / d, 0, g->smax) : 0;
        const int m0 = dmin > 0.0f ? clamp_round(min_target[j] / dmin, 0, g->smax) : 0;
        /* the rounded pair first, so that ties keep it */
        float best = level_error(xj, wj, g->len, s0 > 0 ? 1.0f / (d * (float)s0) : 0.0f, d * (float)s0,
                                 dmin * (float)m0, 0.0f, nmax);
        ls[j] = s0;
        lm[j] = m0;
        for (int s = s0 - g->radius; s <= s0 + g->radius; ++s) {
            if (s < 0 || s > g->smax) continue;
            const float dl = d * (float)s, inv = s > 0 ? 1.0f / dl : 0.0f;
            for (int m = m0 - g->radius; m <= m0 + g->radius; ++m) {
                if (m < 0 || m > g->smax || (s == s0 && m == m0)) continue;
                const float error = level_error(xj, wj, g->len, inv, dl, dmin * (float)m, 0.0f, nmax);
                if (error < best) {
                    best = error;
                    ls[j] = s;
                    lm[j] = m;
                }
                if (dmin <= 0.0f) break; /* every min decodes the same */
            }
        }
        const float dl = d * (float)ls[j], ml = dmin * (float)lm[j], inv = dl != 0.0f ? 1.0f / dl : 0.0f;
        for (int i = 0; i < g->len; ++i)
            L[g->len * j + i] = (unsigned char)clamp_round((xj[i] + ml) * inv, 0, g->nmax);
        total += best;
    }
    return total;
}

/* Weighted least squares for d and dmin with the integers and quants held: x ≈ d·(ls·l) − dmin·lm. Leaves
 * them as they are when the fit wants a scale ≤ 0; a negative dmin is refitted as 0. */
static void asym_refit(const asym_shape *g, const float *x, const float *w, const int *ls, const int *lm,
                       const unsigned char *L, float *d, float *dmin)
{
    double saa = 0.0, sab = 0.0, sbb = 0.0, sax = 0.0, sbx = 0.0;
    for (int e = 0; e < g->n_sub * g->len; ++e) {
        const double a = (double)(ls[e / g->len] * L[e]), b = (double)lm[e / g->len];
        saa += w[e] * a * a;
        sab += w[e] * a * b;
        sbb += w[e] * b * b;
        sax += w[e] * a * x[e];
        sbx += w[e] * b * x[e];
    }
    const double det = saa * sbb - sab * sab;
    double new_d = saa > 0.0 ? sax / saa : 0.0, new_dmin = *dmin;
    if (det > 1e-12 * saa * sbb) {
        new_d = (sbb * sax - sab * sbx) / det;
        new_dmin = (sab * sax - saa * sbx) / det;
    }
    if (new_dmin < 0.0) {
        new_dmin = 0.0;
        new_d = saa > 0.0 ? sax / saa : 0.0;
    }
    if (!(new_d > 0.0)) return;
    *d = half_round((float)new_d);
    *dmin = half_round((float)new_dmin);
}

/* The stored integers and super-block scales of an asymmetric format, from the sub-block float fits: start
 * from the plain path's d = max scale / smax (and dmin likewise), then alternate asym_pick and asym_refit,
 * each pick searching around the previous solution, while the error falls (three rounds at most). */
static void asym_superblock(const asym_shape *g, const float *x, const float *w, const float *scales, const float *mins,
                            float *d_out, float *dmin_out, int *ls, int *lm)
{
    float max_scale = 0.0f, max_min = 0.0f, scale_target[QK_K / 16], min_target[QK_K / 16];
    for (int j = 0; j < g->n_sub; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
        scale_target[j] = scales[j];
        min_target[j] = mins[j];
    }
    unsigned char L[QK_K];
    int try_ls[QK_K / 16], try_lm[QK_K / 16];
    float d = half_round(max_scale / (float)g->smax), dmin = half_round(max_min / (float)g->smax), best = -1.0f;
    for (int round = 0; round < 3; ++round) {
        const float error = asym_pick(g, x, w, scale_target, min_target, d, dmin, try_ls, try_lm, L);
        if (best >= 0.0f && !(error < best)) break;
        best = error;
        *d_out = d;
        *dmin_out = dmin;
        memcpy(ls, try_ls, sizeof(int) * (size_t)g->n_sub);
        memcpy(lm, try_lm, sizeof(int) * (size_t)g->n_sub);
        for (int j = 0; j < g->n_sub; ++j) {
            scale_target[j] = d * (float)try_ls[j];
            min_target[j] = dmin * (float)try_lm[j];
        }
        asym_refit(g, x, w, try_ls, try_lm, L, &d, &dmin);
    }
}

/* The importance path's sub-block fits of an asymmetric format: weights, search_scale_min, then
 * widen_scale_min; then the super-block search. */
static void asym_quantize(const asym_shape *g, const float *x, const float *imp, float *d, float *dmin, int *ls,
                          int *lm)
{
    float w[QK_K], scales[QK_K / 16], mins[QK_K / 16];
    unsigned char L[32];
    for (int j = 0; j < g->n_sub; ++j) {
        const float *xj = x + g->len * j;
        float *wj = w + g->len * j;
        importance_weights(xj, g->len, imp + g->len * j, wj);
        scales[j] = search_scale_min(g->len, g->nmax, xj, wj, L, &mins[j], -1.0f, 0.1f, 20);
        scales[j] = widen_scale_min(g->len, g->nmax, xj, wj, L, &mins[j], scales[j]);
    }
    asym_superblock(g, x, w, scales, mins, d, dmin, ls, lm);
}

/* Coordinate descent on a symmetric sub-block's quants (L offset by nmax), refine_scale_symmetric's with
 * weights and from a given start: each quant moves to its least-squares level while the weighted fit
 * (Σwxl)²/Σwl² improves. Returns the fitted scale. */
static float refine_levels_weighted(int n, int nmax, const float *x, const float *w, unsigned char *L)
{
    int l[32];
    float sum_lx = 0.0f, sum_l2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        l[i] = (int)L[i] - nmax;
        sum_lx += w[i] * x[i] * (float)l[i];
        sum_l2 += w[i] * (float)(l[i] * l[i]);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            float slx = sum_lx - w[i] * x[i] * (float)l[i], sl2 = sum_l2 - w[i] * (float)(l[i] * l[i]);
            if (!(slx * x[i] != 0.0f) || !(sl2 > 0.0f)) continue;
            const int new_l = clamp_round(x[i] * sl2 / slx, -nmax, nmax - 1);
            if (new_l == l[i]) continue;
            slx += w[i] * x[i] * (float)new_l;
            sl2 += w[i] * (float)(new_l * new_l);
            if (slx * slx * sum_l2 > sum_lx * sum_lx * sl2) {
                l[i] = new_l;
                sum_lx = slx;
                sum_l2 = sl2;
                ++changed;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = (unsigned char)(l[i] + nmax);
    return sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
}

/* A symmetric K format (x ≈ d·sc·l; both, Q3_K and Q6_K, have 16 sub-blocks of 16): quants −nmax..nmax−1,
 * stored sub-block scales −smin..smin−1, and how far around its target each sub-block's search goes. */
typedef struct sym_shape {
    int nmax, smin, radius;
} sym_shape;

/* asym_pick for the symmetric formats: each sub-block keeps the integer scale of the lowest weighted error
 * within the radius of its target's rounding, or (`down`) anywhere from there to the smallest scale of the
 * same sign, for the fits that clip. */
static float sym_pick(const sym_shape *g, const float *x, const float *w, const float *target, float d, int down,
                      int *sc, unsigned char *L)
{
    const float lo = (float)-g->nmax, hi = (float)(g->nmax - 1);
    float total = 0.0f;
    for (int j = 0; j < 16; ++j) {
        const float *xj = x + 16 * j, *wj = w + 16 * j;
        const int s0 = d != 0.0f ? clamp_round(target[j] / d, -g->smin, g->smin - 1) : 0;
        int first = s0 - g->radius, last = s0 + g->radius;
        if (down && s0 > 0) first = 1;
        if (down && s0 < 0) last = -1;
        /* the rounded scale first, so that ties keep it */
        float best = level_error(xj, wj, 16, s0 != 0 ? 1.0f / (d * (float)s0) : 0.0f, d * (float)s0, 0.0f, lo, hi);
        sc[j] = s0;
        for (int s = first; s <= last; ++s) {
            if (s == s0 || s < -g->smin || s > g->smin - 1) continue;
            const float dl = d * (float)s;
            const float error = level_error(xj, wj, 16, s != 0 ? 1.0f / dl : 0.0f, dl, 0.0f, lo, hi);
            if (error < best) {
                best = error;
                sc[j] = s;
            }
        }
        const float dl = d * (float)sc[j], inv = dl != 0.0f ? 1.0f / dl : 0.0f;
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = (unsigned char)(clamp_round(xj[i] * inv, -g->nmax, g->nmax - 1) + g->nmax);
        total += best;
    }
    return total;
}

/* The importance path of a symmetric format: sub-block fits (search_scale_symmetric, then
 * refine_levels_weighted), then the stored integer scales and super-block d: start with the largest scale
 * on −smin (the level without a positive partner, as the plain path does), then alternate sym_pick (the
 * first one scanning down to the smallest scales) with the weighted least-squares d for the chosen integers
 * and quants, while the error falls (three rounds at most). */
static void sym_quantize(const sym_shape *g, const float *x, const float *imp, float *d_out, int *sc)
{
    float w[QK_K], target[16], max_scale = 0.0f, amax = 0.0f;
    unsigned char L[QK_K];
    for (int j = 0; j < 16; ++j) {
        const float *xj = x + 16 * j;
        float *wj = w + 16 * j;
        importance_weights(xj, 16, imp + 16 * j, wj);
        search_scale_symmetric(16, g->nmax, xj, wj, L + 16 * j);
        target[j] = refine_levels_weighted(16, g->nmax, xj, wj, L + 16 * j);
        if (fabsf(target[j]) > amax) {
            amax = fabsf(target[j]);
            max_scale = target[j];
        }
    }
    int try_sc[16];
    float d = half_round(amax > 0.0f ? max_scale / -(float)g->smin : 0.0f), best = -1.0f;
    for (int round = 0; round < 3; ++round) {
        const float error = sym_pick(g, x, w, target, d, round == 0, try_sc, L);
        if (best >= 0.0f && !(error < best)) break;
        best = error;
        *d_out = d;
        memcpy(sc, try_sc, sizeof try_sc);
        double saa = 0.0, sax = 0.0;
        for (int e = 0; e < QK_K; ++e) {
            const double a = (double)(try_sc[e / 16] * ((int)L[e] - g->nmax));
            saa += w[e] * a * a;
            sax += w[e] * a * x[e];
        }
        for (int j = 0; j < 16; ++j)
            target[j] = d * (float)try_sc[j];
        if (!(saa > 0.0)) break;
        d = half_round((float)(sax / saa));
    }
}

/* --- Q2_K: scales[16] (scale | min<<4), qs[64], f16 d, f16 dmin; x = d·sc·q − dmin·m ---------- */
#define Q2_K_BYTES 84

/* Low 2-bit planes as Q2_K/Q3_K store them: shift 2k of byte 32h + l → element 128h + 32k + l. */
static void pack_2bit_planes(const unsigned char *L, unsigned char *qs)
{
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const unsigned char *e = L + 128 * h + l;
            qs[32 * h + l] = (unsigned char)((e[0] & 3) | ((e[32] & 3) << 2) | ((e[64] & 3) << 4) | ((e[96] & 3) << 6));
        }
}

static void quantize_block_q2_k(const float *x, const float *imp, unsigned char *out)
{
    unsigned char L[QK_K];
    float w[16], scales[16], mins[16], max_scale = 0.0f, max_min = 0.0f, d, dmin;
    if (imp) {
        static const asym_shape shape = {16, 16, 3, 15, 3};
        int ls[16], lm[16];
        asym_quantize(&shape, x, imp, &d, &dmin, ls, lm);
        lowbit_store_u16le(out + 80, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 82, lowbit_fp32_to_fp16(dmin));
        for (int j = 0; j < 16; ++j)
            out[j] = (unsigned char)(ls[j] | (lm[j] << 4));
    } else {
        for (int j = 0; j < 16; ++j) {
            element_weights(x + 16 * j, 16, w);
            scales[j] = search_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        /* 4-bit sub-block scales and mins against the super-block maxima */
        d = store_half_at_least(out + 80, max_scale / 15.0f);
        dmin = store_half_at_least(out + 82, max_min / 15.0f);
        const float inv_scale = d > 0.0f ? 1.0f / d : 0.0f, inv_min = dmin > 0.0f ? 1.0f / dmin : 0.0f;
        for (int j = 0; j < 16; ++j)
            out[j] = (unsigned char)(clamp_round(inv_scale * scales[j], 0, 15) |
                                     (clamp_round(inv_min * mins[j], 0, 15) << 4));
    }
    /* requantize against the scales the decoder will actually see */
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)(out[j] & 0xF), ml = dmin * (float)(out[j] >> 4);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = dl != 0.0f ? (unsigned char)clamp_round((x[16 * j + i] + ml) / dl, 0, 3) : 0;
    }
    pack_2bit_planes(L, out + 16);
}

void lowbit_quantize_row_q2_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_q2_k(src + b * QK_K, importance ? importance + b * QK_K : NULL,
                            (unsigned char *)dst + b * Q2_K_BYTES);
}

void lowbit_dequantize_row_q2_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_q2_k((const unsigned char *)src + b * 84, dst + b * 256);
}

/* --- Q3_K: hmask[32], qs[64], scales[12] (16 × 6-bit, −32), f16 d; x = d·(sc−32)·(q_lo − 4·!hbit) */
#define Q3_K_BYTES 110

static int q3_k_scale(const unsigned char *s, int j)
{
    const int lo = (s[j % 8] >> (4 * (j / 8))) & 0xF;
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

static void quantize_block_q3_k(const float *x, const float *imp, unsigned char *out)
{
    unsigned char L[QK_K];
    float scales[16], max_scale = 0.0f, amax = 0.0f, d;
    int sc[16];
    if (imp) {
        static const sym_shape shape = {4, 32, 2};
        sym_quantize(&shape, x, imp, &d, sc);
        lowbit_store_u16le(out + 108, lowbit_fp32_to_fp16(d));
    } else {
        for (int j = 0; j < 16; ++j) {
            scales[j] = refine_scale_symmetric(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        /* the largest scale maps to −32, the level without a positive partner */
        d = store_half_at_least(out + 108, amax > 0.0f ? max_scale / -32.0f : 0.0f);
        const float iscale = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; ++j)
            sc[j] = clamp_round(iscale * scales[j], -32, 31);
    }
    memset(out, 0, 108);
    unsigned char *s = out + 96;
    for (int j = 0; j < 16; ++j) {
        const int l = sc[j] + 32;
        s[j % 8] |= (unsigned char)((l & 0xF) << (4 * (j / 8)));
        s[8 + j % 4] |= (unsigned char)((l >> 4) << (2 * (j / 4)));
    }
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)q3_k_scale(s, j);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = dl != 0.0f ? (unsigned char)(clamp_round(x[16 * j + i] / dl, -4, 3) + 4) : 4;
    }
    /* the high bit is stored set for q ≥ 4 (i.e. "do not subtract 4"); bit i of hmask[l] ↔ 32i + l */
    for (int e = 0; e < QK_K; ++e) {
        if (L[e] > 3) {
            out[e % 32] |= (unsigned char)(1u << (e / 32));
            L[e] -= 4;
        }
    }
    pack_2bit_planes(L, out + 32);
}

void lowbit_quantize_row_q3_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_q3_k(src + b * QK_K, importance ? importance + b * QK_K : NULL,
                            (unsigned char *)dst + b * Q3_K_BYTES);
}

void lowbit_dequantize_row_q3_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_q3_k((const unsigned char *)src + b * 110, dst + b * 256);
}

/* --- Q4_K / Q5_K: f16 d, f16 dmin, scales[12] (8 × 6-bit scale + 8 × 6-bit min), [qh[32]], qs[128] */
#define Q4_K_BYTES 144
#define Q5_K_BYTES 176

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales and L (0..nmax). */
static void quantize_block_k4(const float *x, const float *imp, int nmax, unsigned char *out, unsigned char *L)
{
    float w[32], scales[8], mins[8], max_scale = 0.0f, max_min = 0.0f, d, dmin;
    int ls[8], lm[8];
    if (imp) {
        const asym_shape shape = {8, 32, nmax, 63, 3};
        asym_quantize(&shape, x, imp, &d, &dmin, ls, lm);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(d));
        lowbit_store_u16le(out + 2, lowbit_fp32_to_fp16(dmin));
    } else {
        for (int j = 0; j < 8; ++j) {
            element_weights(x + 32 * j, 32, w);
            scales[j] = search_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        d = store_half_at_least(out, max_scale / 63.0f);
        dmin = store_half_at_least(out + 2, max_min / 63.0f);
        const float inv_scale = d > 0.0f ? 1.0f / d : 0.0f, inv_min = dmin > 0.0f ? 1.0f / dmin : 0.0f;
        for (int j = 0; j < 8; ++j) {
            ls[j] = clamp_round(inv_scale * scales[j], 0, 63);
            lm[j] = clamp_round(inv_min * mins[j], 0, 63);
        }
    }
    unsigned char *s = out + 4;
    for (int j = 0; j < 4; ++j) {
        s[j] = (unsigned char)(ls[j] | ((ls[j + 4] >> 4) << 6));
        s[j + 4] = (unsigned char)(lm[j] | ((lm[j + 4] >> 4) << 6));
        s[j + 8] = (unsigned char)((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        lowbit_decode_k4_scale_min(s, j, &sc, &m);
        const float dl = d * (float)sc, ml = dmin * (float)m;
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = dl != 0.0f ? (unsigned char)clamp_round((x[32 * j + i] + ml) / dl, 0, nmax) : 0;
    }
}

/* Nibbles: chunk c of 32 bytes, low nibble → element 64c + l, high nibble → 64c + 32 + l. */
static void pack_k4_nibbles(const unsigned char *L, unsigned char *qs)
{
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l)
            qs[32 * c + l] = (unsigned char)((L[64 * c + l] & 0xF) | ((L[64 * c + 32 + l] & 0xF) << 4));
}

void lowbit_quantize_row_q4_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b) {
        unsigned char L[QK_K], *out = (unsigned char *)dst + b * Q4_K_BYTES;
        quantize_block_k4(src + b * QK_K, importance ? importance + b * QK_K : NULL, 15, out, L);
        pack_k4_nibbles(L, out + 16);
    }
}

void lowbit_quantize_row_q5_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b) {
        unsigned char L[QK_K], *out = (unsigned char *)dst + b * Q5_K_BYTES;
        quantize_block_k4(src + b * QK_K, importance ? importance + b * QK_K : NULL, 31, out, L);
        memset(out + 16, 0, 32);
        for (int e = 0; e < QK_K; ++e)
            out[16 + e % 32] |= (unsigned char)(((L[e] >> 4) & 1) << (e / 32));
        pack_k4_nibbles(L, out + 48);
    }
}

void lowbit_dequantize_row_q4_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_k4((const unsigned char *)src + b * 144, dst + b * 256, 0);
}

void lowbit_dequantize_row_q5_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_k4((const unsigned char *)src + b * 176, dst + b * 256, 1);
}

/* --- Q6_K: ql[128], qh[64], int8 scales[16], f16 d; x = d·sc·(q − 32) ------------------------- */
#define Q6_K_BYTES 210

static void quantize_block_q6_k(const float *x, const float *imp, unsigned char *out)
{
    unsigned char L[QK_K];
    float scales[16], max_scale = 0.0f, amax = 0.0f, d;
    signed char *sc = (signed char *)(out + 192);
    if (imp) {
        static const sym_shape shape = {32, 128, 16};
        int isc[16];
        sym_quantize(&shape, x, imp, &d, isc);
        lowbit_store_u16le(out + 208, lowbit_fp32_to_fp16(d));
        for (int j = 0; j < 16; ++j)
            sc[j] = (signed char)isc[j];
    } else {
        for (int j = 0; j < 16; ++j) {
            scales[j] = search_scale_symmetric(16, 32, x + 16 * j, NULL, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        /* the largest scale maps to −128, the int8 end without a positive partner */
        d = store_half_at_least(out + 208, amax > 0.0f ? max_scale / -128.0f : 0.0f);
        const float iscale = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; ++j)
            sc[j] = (signed char)clamp_round(iscale * scales[j], -128, 127);
    }
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)sc[j];
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = dl != 0.0f ? (unsigned char)(clamp_round(x[16 * j + i] / dl, -32, 31) + 32) : 32;
    }
    /* half h: ql[64h + l] low/high nibble → 128h + l / 128h + 64 + l (l < 64);
     * qh[32h + l] shift 2k → high 2 bits of 128h + 32k + l */
    for (int h = 0; h < 2; ++h) {
        for (int l = 0; l < 64; ++l)
            out[64 * h + l] = (unsigned char)((L[128 * h + l] & 0xF) | ((L[128 * h + 64 + l] & 0xF) << 4));
        for (int l = 0; l < 32; ++l) {
            const unsigned char *e = L + 128 * h + l;
            out[128 + 32 * h + l] =
                (unsigned char)((e[0] >> 4) | ((e[32] >> 4) << 2) | ((e[64] >> 4) << 4) | ((e[96] >> 4) << 6));
        }
    }
}

void lowbit_quantize_row_q6_k(const float *src, void *dst, size_t cols, const float *importance)
{
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_q6_k(src + b * QK_K, importance ? importance + b * QK_K : NULL,
                            (unsigned char *)dst + b * Q6_K_BYTES);
}

void lowbit_dequantize_row_q6_k(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_q6_k((const unsigned char *)src + b * 210, dst + b * 256);
}

/* --- Q8_K (activations only): f32 d, int8 qs[256], int16 bsums[16] (sum of each 16 quants) ---- */
#define Q8_K_BYTES 292

void lowbit_quantize_row_q8_k(const float *src, void *dst, size_t cols, const float *importance)
{
    (void)importance;
    for (size_t b = 0; b < cols / QK_K; ++b) {
        const float *x = src + b * QK_K;
        unsigned char *out = (unsigned char *)dst + b * Q8_K_BYTES;
        float max = 0.0f, amax = 0.0f;
        for (int i = 0; i < QK_K; ++i) {
            if (fabsf(x[i]) > amax) {
                amax = fabsf(x[i]);
                max = x[i];
            }
        }
        memset(out, 0, Q8_K_BYTES);
        if (!(amax > 0.0f) || isinf(amax)) continue; /* zero (or unrepresentable) block: d = 0, all quants 0 */
        const float iscale = -127.0f / max;
        int q[QK_K];
        for (int i = 0; i < QK_K; ++i) {
            q[i] = clamp_round(iscale * x[i], -127, 127);
            out[4 + i] = (unsigned char)(signed char)q[i];
        }
        const float d = 1.0f / iscale;
        memcpy(out, &d, sizeof d); /* little-endian hosts only, like every other layout here */
        for (int j = 0; j < 16; ++j) {
            int sum = 0;
            for (int i = 0; i < 16; ++i)
                sum += q[16 * j + i];
            lowbit_store_u16le(out + 260 + 2 * j, (unsigned)(uint16_t)(int16_t)sum);
        }
    }
}
