/* iq1_quant.c — the reference quantizers of the 1.56/1.75-bit grid formats IQ1_S and IQ1_M (docs/formats.md
 * §3.7, §4.7), byte-identical with the pinned ggml's quantize_iq1_s / quantize_iq1_m (importance vector given;
 * IQ1_M also without one), repeating its float operations in the same order.
 *
 * Per sub-block (IQ1_S: 32 elements, IQ1_M: 16) each element gets a level {−1, 0, +1}, shifted by ±δ (δ = 1/8):
 * the elements are sorted, and every pair of cut points of the sorted order (low | middle | high) is scored with
 * both δ signs (IQ1_M: one sign per group of 8, four combinations) by weighted least squares, keeping the best
 * (Σwxq)²/Σwq². Each group of 8 levels must then be one of the 2048 grid entries; a group that is not takes the
 * entry, among its precomputed neighbours, with the least weighted squared error at the fitted scale, and the
 * scale is refitted. Scales are quantized to 3 bits against the super-block scale d = max/15: IQ1_S stores
 * d·1.125, IQ1_M refits d over the whole super-block and stores it ·1.1125 (ggml's fudge factors). The grid's
 * key map and neighbour lists (built once, under pthread_once) and the neighbour search are grid_search.c's,
 * shared with the IQ2 and IQ3 quantizers.
 *
 * Weights: with an importance vector imp, w = imp·√(σ² + x²), σ² = 2·mean(x²) over the 256-element super-block.
 * Without one, IQ1_M uses ggml's own w = x². ggml has no IQ1_S path without an importance vector (it aborts);
 * lowbit then quantizes as if the vector were all ones, w = √(σ² + x²), so "no importance" and "importance all
 * ones" give the same bytes (and ggml's bytes for the latter). It was chosen over IQ1_M's x² by round-trip error:
 * relative RMSE 0.486 vs 0.635 on 256 rows of 4096 normal values, 0.614 vs 0.705 on heavy-tailed rows (x³), and
 * 0.00976 vs 0.01272 in ggml's metric on test-quantize-fns' cosine signal. With only three levels the small
 * elements decide where the zero band lies; x² gives them almost no weight, σ² keeps them in the fit.
 *
 * Where ggml aborts or reads out of bounds, lowbit does neither: a sub-block whose fitted scale is not finite
 * (Inf inputs, or squares that overflow f32) is stored unfitted (scale 0, entry 0), and a group none of whose
 * neighbours has a finite distance takes its first (nearest) neighbour. Finite inputs of ordinary magnitude
 * take neither path. Elements with equal values keep their index order in the sort, as glibc's qsort (a stable
 * merge sort at these sizes) leaves them in the pinned engine. A NaN makes its sub-block's sums NaN (IQ1_S and
 * any importance vector: its whole super-block's), which then fits nothing, as in ggml. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "../../shaders/common/lowbit_formats.h"
#include "../../shaders/common/lowbit_grids.h"
#include "format_internal.h"
#include "grid_search.h"

#define QK_K LOWBIT_GRID_BLOCK
#define GROUP 8                               /* elements one grid index covers */
#define GRID_ENTRIES LOWBIT_GRID_IQ1S_ENTRIES /* 2048 */
#define NEIGHBOUR_DISTANCES 3                 /* a neighbour list holds every entry at the 3 nearest */
#define IQ1_S_SUB 32                          /* IQ1_S elements per sub-scale */
#define IQ1_M_SUB 16                          /* IQ1_M elements per sub-scale */
#define IQ1_S_EPS 1e-12f                      /* below this max |x| a sub-block is left unfitted */
#define IQ1_M_EPS 1e-7f
#define DELTA 0.125f

/* Element values of levels 0, 1, 2 with the shift +δ and −δ. */
static const float shifted_up[3] = {-1.0f + DELTA, DELTA, 1.0f + DELTA};
static const float shifted_down[3] = {-1.0f - DELTA, -DELTA, 1.0f - DELTA};

/* --- the grid, its key map and neighbour lists (built once) ---------------------------------------- */

/* Entry e holds a level 0..2 (value −1, 0, +1) per element, 2 bits each. The neighbour lists are ggml's: every
 * entry at one of the three smallest squared level distances (ggml measures them on its 2l + 1 encoding, four
 * times ours; the order is the same). */
static const uint32_t grid_words[] = {LOWBIT_GRID_IQ1S_WORDS};
static lowbit_grid_lattice grid = {
    .words = grid_words, .entries = GRID_ENTRIES, .dims = GROUP, .levels = 3, .bits = 2, .shells = NEIGHBOUR_DISTANCES};
static pthread_once_t grid_once = PTHREAD_ONCE_INIT;
static void grid_build(void) { lowbit_grid_lattice_build(&grid); }

/* --- shared steps ----------------------------------------------------------------------------------- */

/* max |x| as ggml's MAX macro folds it (a NaN can be kept or dropped; either way the sub-block fits nothing). */
static float abs_max(const float *x, int n)
{
    float max = fabsf(x[0]);
    for (int i = 1; i < n; ++i)
        max = max > fabsf(x[i]) ? max : fabsf(x[i]);
    return max;
}

/* order = the indices 0..n−1 by ascending x; equal values keep index order. */
static void sort_by_value(const float *x, int n, int *order)
{
    for (int i = 0; i < n; ++i) {
        int j = i;
        while (j > 0 && x[order[j - 1]] > x[i]) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = i;
    }
}

/* The best pair of cuts so far and its δ signs, by ggml's score (Σwxq)²/Σwq², compared as (Σwxq)² > best·Σwq². */
typedef struct cut_fit {
    float best, scale;
    int cut1, cut2, signs;
} cut_fit;

static void keep_best(cut_fit *fit, float sumqx, float sumq2, int cut1, int cut2, int signs)
{
    if (sumq2 > 0.0f && sumqx * sumqx > fit->best * sumq2) {
        fit->scale = sumqx / sumq2;
        fit->best = fit->scale * sumqx;
        fit->cut1 = cut1;
        fit->cut2 = cut2;
        fit->signs = signs;
    }
}

/* The levels of a fit from the cuts of the sorted order: below cut1 → 0, below cut2 → 1, the rest → 2; 0 when no
 * cut fitted, or the scale is not finite. A negative fit is mirrored: levels 0 ↔ 2, the scale made positive and
 * every δ sign flipped (`all_signs`, one bit per shift). */
static int fitted_levels(const int *order, int n, cut_fit *fit, int all_signs, int8_t *L)
{
    if (fit->cut1 < 0 || !isfinite(fit->scale)) return 0;
    for (int j = 0; j < n; ++j)
        L[order[j]] = (int8_t)(j < fit->cut1 ? 0 : j < fit->cut2 ? 1 : 2);
    if (fit->scale < 0.0f) {
        for (int j = 0; j < n; ++j)
            L[j] = (int8_t)(2 - L[j]);
        fit->scale = -fit->scale;
        fit->signs ^= all_signs;
    }
    return 1;
}

/* Puts each group of 8 levels on the grid (group g's element values values[g]): an off-grid group takes the
 * neighbour with the least Σ w·(scale·v − x)² and its levels. Writes the entries; when any group had to move,
 * returns the weighted least-squares scale of the chosen entries, Σwqx/Σwq², else `scale`. */
static float place_groups(const float *x, const float *w, int groups, const float *const *values, float scale,
                          int8_t *L, int *entry)
{
    int all_on_grid = 1;
    for (int g = 0; g < groups; ++g) {
        int on_grid;
        entry[g] = lowbit_grid_snap(&grid, x + GROUP * g, w + GROUP * g, scale, values[g], L + GROUP * g, &on_grid);
        all_on_grid &= on_grid;
    }
    if (all_on_grid) return scale;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int g = 0; g < groups; ++g) {
        const int8_t *levels = grid.level[entry[g]];
        for (int j = 0; j < GROUP; ++j) {
            const float wi = w[GROUP * g + j], q = values[g][levels[j]];
            sumqx += wi * q * x[GROUP * g + j];
            sumq2 += wi * q * q;
        }
    }
    return sumqx > 0.0f && sumq2 > 0.0f ? sumqx / sumq2 : scale;
}

/* --- IQ1_S: 8 sub-blocks of 32, one δ sign and a 3-bit scale each --------------------------------- */

/* Fits one 32-element sub-block: writes its 4 grid entries and returns its scale (0: unfitted), with
 * *negative set when the shift is −δ. */
static float fit_iq1_s(const float *x, const float *w, int *entry, int *negative)
{
    *negative = 0;
    if (abs_max(x, IQ1_S_SUB) < IQ1_S_EPS) return 0.0f;
    int order[IQ1_S_SUB];
    sort_by_value(x, IQ1_S_SUB, order);
    float sum_wx[IQ1_S_SUB + 1], sum_w[IQ1_S_SUB + 1]; /* prefix sums in sorted order */
    sum_wx[0] = sum_w[0] = 0.0f;
    for (int j = 0; j < IQ1_S_SUB; ++j) {
        const int i = order[j];
        sum_wx[j + 1] = sum_wx[j] + w[i] * x[i];
        sum_w[j + 1] = sum_w[j] + w[i];
    }
    const int n = IQ1_S_SUB;
    cut_fit fit = {-FLT_MAX, 0.0f, -1, -1, 0};
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            for (int s = 0; s < 2; ++s) { /* +δ, then −δ */
                const float *v = s ? shifted_down : shifted_up;
                const float sumqx = (sum_wx[i1] - sum_wx[0]) * v[0] + (sum_wx[i2] - sum_wx[i1]) * v[1] +
                                    (sum_wx[n] - sum_wx[i2]) * v[2];
                const float sumq2 = (sum_w[i1] - sum_w[0]) * v[0] * v[0] + (sum_w[i2] - sum_w[i1]) * v[1] * v[1] +
                                    (sum_w[n] - sum_w[i2]) * v[2] * v[2];
                keep_best(&fit, sumqx, sumq2, i1, i2, s);
            }
        }
    }
    int8_t L[IQ1_S_SUB];
    if (!fitted_levels(order, n, &fit, 1, L)) return 0.0f;
    const float *value = fit.signs ? shifted_down : shifted_up;
    const float *values[IQ1_S_SUB / GROUP] = {value, value, value, value};
    *negative = fit.signs;
    return place_groups(x, w, IQ1_S_SUB / GROUP, values, fit.scale, L, entry);
}

static void quantize_block_iq1_s(const float *x, const float *imp, unsigned char *out)
{
    unsigned char *qs = out + LOWBIT_IQ1_S_QS;
    unsigned qh[QK_K / IQ1_S_SUB] = {0};
    float scales[QK_K / IQ1_S_SUB];
    int negative[QK_K / IQ1_S_SUB];
    memset(out, 0, LOWBIT_IQ1_S_BYTES);

    const float sigma2 = 2.0f * lowbit_grid_sum_squares(x, QK_K) / (float)QK_K;
    float max_scale = 0.0f;
    for (int ib = 0; ib < QK_K / IQ1_S_SUB; ++ib) {
        const float *xb = x + IQ1_S_SUB * ib;
        float w[IQ1_S_SUB];
        int entry[IQ1_S_SUB / GROUP] = {0};
        lowbit_grid_weights(xb, IQ1_S_SUB, imp ? imp + IQ1_S_SUB * ib : NULL, sigma2, LOWBIT_GRID_WEIGHTS_UNIT, w,
                            NULL);
        scales[ib] = fit_iq1_s(xb, w, entry, &negative[ib]); /* unfitted: scale 0, entries 0, +δ */
        for (int g = 0; g < IQ1_S_SUB / GROUP; ++g) {
            qs[4 * ib + g] = (unsigned char)(entry[g] & 0xFF);
            qh[ib] |= (unsigned)(entry[g] >> 8) << (3 * g);
        }
        max_scale = lowbit_grid_max_of(max_scale, scales[ib]);
    }
    if (max_scale != 0.0f) {
        int codes[QK_K / IQ1_S_SUB];
        const float d = lowbit_grid_sub_scales(scales, QK_K / IQ1_S_SUB, max_scale, 15.0f, 7, codes);
        lowbit_store_u16le(out + LOWBIT_IQ1_S_D, lowbit_fp32_to_fp16(d * 1.125f));
        for (int ib = 0; ib < QK_K / IQ1_S_SUB; ++ib)
            qh[ib] |= (unsigned)(codes[ib] | (negative[ib] ? 8 : 0)) << 12;
    }
    for (int ib = 0; ib < QK_K / IQ1_S_SUB; ++ib)
        lowbit_store_u16le(out + LOWBIT_IQ1_S_QH + 2 * ib, qh[ib]);
}

void lowbit_quantize_row_iq1_s(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&grid_once, grid_build);
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ1_S_BYTES, quantize_block_iq1_s);
}

/* --- IQ1_M: 16 sub-blocks of 16, a δ sign per group of 8 and a 3-bit scale each -------------------- */

/* Fits one 16-element sub-block: writes its 2 grid entries and returns its scale (0: unfitted), with *signs
 * bit 1 set when group 0 is shifted by −δ and bit 0 when group 1 is (ggml's order of the four combinations). */
static float fit_iq1_m(const float *x, const float *w, int *entry, int *signs)
{
    *signs = 0;
    if (abs_max(x, IQ1_M_SUB) < IQ1_M_EPS) return 0.0f;
    int order[IQ1_M_SUB];
    sort_by_value(x, IQ1_M_SUB, order);
    /* Prefix sums in sorted order, kept per group (half) since each group has its own shift. With
     * v0 − v1 = v1 − v2 = −1, a group's Σwxv over the cuts is T·v2 − S(cut1) − S(cut2). */
    float sum_wx[2][IQ1_M_SUB + 1], sum_w[2][IQ1_M_SUB + 1];
    sum_wx[0][0] = sum_wx[1][0] = 0.0f;
    sum_w[0][0] = sum_w[1][0] = 0.0f;
    for (int j = 0; j < IQ1_M_SUB; ++j) {
        const int i = order[j], h = i < GROUP ? 0 : 1;
        sum_wx[h][j + 1] = sum_wx[h][j] + w[i] * x[i];
        sum_wx[1 - h][j + 1] = sum_wx[1 - h][j];
        sum_w[h][j + 1] = sum_w[h][j] + w[i];
        sum_w[1 - h][j + 1] = sum_w[1 - h][j];
    }
    const int n = IQ1_M_SUB;
    const float total_wx[2] = {sum_wx[0][n], sum_wx[1][n]}, total_w[2] = {sum_w[0][n], sum_w[1][n]};
    const float up2 = shifted_up[2], down2 = shifted_down[2];
    const float up_c1 = shifted_up[0] * shifted_up[0] - shifted_up[1] * shifted_up[1];
    const float up_c2 = shifted_up[1] * shifted_up[1] - shifted_up[2] * shifted_up[2];
    const float down_c1 = shifted_down[0] * shifted_down[0] - shifted_down[1] * shifted_down[1];
    const float down_c2 = shifted_down[1] * shifted_down[1] - shifted_down[2] * shifted_down[2];
    cut_fit fit = {-FLT_MAX, 0.0f, -1, -1, 0};
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            float qx[2][2], q2[2][2]; /* [group][0: +δ, 1: −δ] */
            for (int h = 0; h < 2; ++h) {
                const float sx = sum_wx[h][i1] + sum_wx[h][i2];
                qx[h][0] = total_wx[h] * up2 - sx;
                qx[h][1] = total_wx[h] * down2 - sx;
                q2[h][0] = total_w[h] * up2 * up2 + sum_w[h][i1] * up_c1 + sum_w[h][i2] * up_c2;
                q2[h][1] = total_w[h] * down2 * down2 + sum_w[h][i1] * down_c1 + sum_w[h][i2] * down_c2;
            }
            for (int k = 0; k < 4; ++k) {
                const float sumqx = qx[0][k >> 1] + qx[1][k & 1], sumq2 = q2[0][k >> 1] + q2[1][k & 1];
                keep_best(&fit, sumqx, sumq2, i1, i2, k);
            }
        }
    }
    int8_t L[IQ1_M_SUB];
    if (!fitted_levels(order, n, &fit, 3, L)) return 0.0f;
    const float *values[2] = {fit.signs & 2 ? shifted_down : shifted_up, fit.signs & 1 ? shifted_down : shifted_up};
    *signs = fit.signs;
    return place_groups(x, w, 2, values, fit.scale, L, entry);
}

static void quantize_block_iq1_m(const float *x, const float *imp, unsigned char *out)
{
    enum { SUBS = QK_K / IQ1_M_SUB };
    unsigned char *qs = out + LOWBIT_IQ1_M_QS, *qh = out + LOWBIT_IQ1_M_QH;
    float w[QK_K], scales[SUBS];
    int entry[SUBS][2], signs[SUBS];
    memset(out, 0, LOWBIT_IQ1_M_BYTES);

    const float sigma2 = 2.0f * lowbit_grid_sum_squares(x, QK_K) / (float)QK_K;
    float max_scale = 0.0f;
    for (int ib = 0; ib < SUBS; ++ib) {
        const float *xb = x + IQ1_M_SUB * ib;
        float *wb = w + IQ1_M_SUB * ib;
        entry[ib][0] = entry[ib][1] = 0;
        lowbit_grid_weights(xb, IQ1_M_SUB, imp ? imp + IQ1_M_SUB * ib : NULL, sigma2, LOWBIT_GRID_WEIGHTS_X2, wb, NULL);
        scales[ib] = fit_iq1_m(xb, wb, entry[ib], &signs[ib]); /* unfitted: scale 0, entries 0, +δ +δ */
        qs[2 * ib] = (unsigned char)(entry[ib][0] & 0xFF);
        qs[2 * ib + 1] = (unsigned char)(entry[ib][1] & 0xFF);
        qh[ib] = (unsigned char)((entry[ib][0] >> 8) | ((entry[ib][1] >> 8) << 4));
        max_scale = lowbit_grid_max_of(max_scale, scales[ib]);
    }
    if (max_scale == 0.0f) return;

    /* 3-bit sub-scales against d = max/15, then d refitted by least squares over the whole super-block with
     * the codes as stored (unfitted sub-blocks included, as entry 0 at scale 1). */
    unsigned sc[4] = {0};
    int codes[SUBS];
    float d = lowbit_grid_sub_scales(scales, SUBS, max_scale, 15.0f, 7, codes);
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int ib = 0; ib < SUBS; ++ib) {
        const int l = codes[ib];
        sc[ib / 4] |= (unsigned)l << (3 * (ib % 4));
        qh[ib] |= (unsigned char)((signs[ib] & 2 ? 0x08 : 0) | (signs[ib] & 1 ? 0x80 : 0));
        const float factor = (float)(2 * l + 1);
        for (int g = 0; g < 2; ++g) {
            const float *value = (signs[ib] >> (1 - g)) & 1 ? shifted_down : shifted_up;
            const int8_t *levels = grid.level[entry[ib][g]];
            for (int j = 0; j < GROUP; ++j) {
                const int i = IQ1_M_SUB * ib + GROUP * g + j;
                const float q = value[levels[j]] * factor;
                sumqx += w[i] * q * x[i];
                sumq2 += w[i] * q * q;
            }
        }
    }
    if (sumq2 > 0.0f) d = sumqx / sumq2;
    const unsigned d16 = lowbit_fp32_to_fp16(d * 1.1125f); /* its nibbles go to the top of the 4 scale words */
    for (int k = 0; k < 4; ++k)
        lowbit_store_u16le(out + LOWBIT_IQ1_M_SCALES + 2 * k, sc[k] | ((d16 >> (4 * k)) & 0xFu) << 12);
}

void lowbit_quantize_row_iq1_m(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&grid_once, grid_build);
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ1_M_BYTES, quantize_block_iq1_m);
}
