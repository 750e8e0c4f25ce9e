/* kquants_search.c — the K-quant formats' weighted scale searches (kquants_search.h): the plain sub-block
 * fits (weighted scale/min search, make_qx/make_q3-style symmetric fits) and the importance path. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "format_internal.h"
#include "kquants_search.h"

/* Per-element weights of one sub-block without importance: av_x + |x| (av_x = RMS of the sub-block), which
 * favours getting large weights right. */
void lowbit_kq_element_weights(const float *x, int n, float *w)
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
float lowbit_kq_search_scale_min(int n, int nmax, const float *x, const float *w, unsigned char *L, float *neg_min,
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
float lowbit_kq_search_scale_symmetric(int n, int nmax, const float *x, const float *w, unsigned char *L)
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
        if (w) return lowbit_kq_search_scale_symmetric(n, nmax, x, NULL, L);
        memset(L, nmax, (size_t)n);
        return 0.0f;
    }
    return best_scale;
}

/* make_q3-style: the symmetric start, then coordinate descent that moves one quant at a time to its
 * least-squares level while the weighted fit (Σwxl)²/Σwl² improves (w = x²). */
float lowbit_kq_refine_scale_symmetric(int n, int nmax, const float *x, unsigned char *L)
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
    if (!(sum > 0.0f)) lowbit_kq_element_weights(x, n, w);
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

/* lowbit_kq_search_scale_min only tries ranges that span the whole sub-block. With the weight on a few elements the
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

/* For a given (d, dmin): each sub-block keeps the integer (scale, min) within the radius of its targets'
 * rounding that gives the lowest weighted error, and its quants under them (L). Returns the total error. */
static float asym_pick(const lowbit_kq_asym_shape *g, const float *x, const float *w, const float *scale_target,
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
static void asym_refit(const lowbit_kq_asym_shape *g, const float *x, const float *w, const int *ls, const int *lm,
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
static void asym_superblock(const lowbit_kq_asym_shape *g, const float *x, const float *w, const float *scales,
                            const float *mins, float *d_out, float *dmin_out, int *ls, int *lm)
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

/* The importance path's sub-block fits of an asymmetric format: weights, lowbit_kq_search_scale_min, then
 * widen_scale_min; then the super-block search. */
void lowbit_kq_asym_quantize(const lowbit_kq_asym_shape *g, const float *x, const float *imp, float *d, float *dmin,
                             int *ls, int *lm)
{
    float w[QK_K], scales[QK_K / 16], mins[QK_K / 16];
    unsigned char L[32];
    for (int j = 0; j < g->n_sub; ++j) {
        const float *xj = x + g->len * j;
        float *wj = w + g->len * j;
        importance_weights(xj, g->len, imp + g->len * j, wj);
        scales[j] = lowbit_kq_search_scale_min(g->len, g->nmax, xj, wj, L, &mins[j], -1.0f, 0.1f, 20);
        scales[j] = widen_scale_min(g->len, g->nmax, xj, wj, L, &mins[j], scales[j]);
    }
    asym_superblock(g, x, w, scales, mins, d, dmin, ls, lm);
}

/* Coordinate descent on a symmetric sub-block's quants (L offset by nmax), lowbit_kq_refine_scale_symmetric's with
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

/* asym_pick for the symmetric formats: each sub-block keeps the integer scale of the lowest weighted error
 * within the radius of its target's rounding, or (`down`) anywhere from there to the smallest scale of the
 * same sign, for the fits that clip. */
static float sym_pick(const lowbit_kq_sym_shape *g, const float *x, const float *w, const float *target, float d,
                      int down, int *sc, unsigned char *L)
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

/* The importance path of a symmetric format: sub-block fits (lowbit_kq_search_scale_symmetric, then
 * refine_levels_weighted), then the stored integer scales and super-block d: start with the largest scale
 * on −smin (the level without a positive partner, as the plain path does), then alternate sym_pick (the
 * first one scanning down to the smallest scales) with the weighted least-squares d for the chosen integers
 * and quants, while the error falls (three rounds at most). */
void lowbit_kq_sym_quantize(const lowbit_kq_sym_shape *g, const float *x, const float *imp, float *d_out, int *sc)
{
    float w[QK_K], target[16], max_scale = 0.0f, amax = 0.0f;
    unsigned char L[QK_K];
    for (int j = 0; j < 16; ++j) {
        const float *xj = x + 16 * j;
        float *wj = w + 16 * j;
        importance_weights(xj, 16, imp + 16 * j, wj);
        lowbit_kq_search_scale_symmetric(16, g->nmax, xj, wj, L + 16 * j);
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
