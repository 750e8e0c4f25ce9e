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
 * d·1.125, IQ1_M refits d over the whole super-block and stores it ·1.1125 (ggml's fudge factors).
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
#include <stdlib.h>
#include <string.h>

#include "../../shaders/common/lowbit_formats.h"
#include "../../shaders/common/lowbit_grids.h"
#include "format_internal.h"

#define QK_K 256
#define GROUP 8                               /* elements one grid index covers */
#define GRID_ENTRIES LOWBIT_GRID_IQ1S_ENTRIES /* 2048 */
#define KEY_COUNT 6561                        /* 3^8: every group of 8 levels, read as a base-3 number */
#define MAX_DISTANCE (4 * GROUP)              /* squared level distance between two groups: 0..32 */
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
typedef struct iq1_grid {
    unsigned char level[GRID_ENTRIES][GROUP]; /* entry e, element k: level 0..2 (value −1, 0, +1) */
    int16_t entry_of_key[KEY_COUNT];          /* the entry holding exactly these levels, or −1 */
    uint32_t list_at[KEY_COUNT];              /* an off-grid key's neighbour list: lists[list_at .. + list_len) */
    uint16_t list_len[KEY_COUNT];
    uint16_t *lists; /* NULL when the allocation failed: lists are then rebuilt where they are needed */
} iq1_grid;

static iq1_grid grid;
static pthread_once_t grid_once = PTHREAD_ONCE_INIT;

static int key_of_levels(const unsigned char *levels)
{
    int key = 0;
    for (int k = GROUP - 1; k >= 0; --k)
        key = 3 * key + levels[k];
    return key;
}

/* The neighbours of an off-grid key, in ggml's order: every entry whose squared level distance is one of the
 * three smallest that occur, nearest first and by entry index within a distance. (ggml measures distance on
 * its 2l+1 encoding, four times ours; the order is the same.) Writes them to `out` unless it is NULL; returns
 * how many there are. */
static int collect_neighbours(int key, uint16_t *out)
{
    unsigned char want[GROUP], distance[GRID_ENTRIES];
    int count[MAX_DISTANCE + 1] = {0};
    for (int k = 0; k < GROUP; ++k, key /= 3)
        want[k] = (unsigned char)(key % 3);
    for (int e = 0; e < GRID_ENTRIES; ++e) {
        int d2 = 0;
        for (int k = 0; k < GROUP; ++k) {
            const int diff = (int)grid.level[e][k] - (int)want[k];
            d2 += diff * diff;
        }
        distance[e] = (unsigned char)d2;
        ++count[d2];
    }
    int n = 0, distances = 0;
    for (int d2 = 0; d2 <= MAX_DISTANCE && distances < NEIGHBOUR_DISTANCES; ++d2) {
        if (!count[d2]) continue;
        ++distances;
        if (!out) {
            n += count[d2];
            continue;
        }
        for (int e = 0; e < GRID_ENTRIES; ++e)
            if (distance[e] == d2) out[n++] = (uint16_t)e;
    }
    return n;
}

static void grid_build(void)
{
    static const uint32_t words[] = {LOWBIT_GRID_IQ1S_WORDS};
    for (int key = 0; key < KEY_COUNT; ++key)
        grid.entry_of_key[key] = -1;
    for (int e = 0; e < GRID_ENTRIES; ++e) {
        const unsigned code = (words[e / 2] >> (16 * (e % 2))) & 0xFFFFu; /* element k: bits 2k, level = value + 1 */
        for (int k = 0; k < GROUP; ++k)
            grid.level[e][k] = (unsigned char)((code >> (2 * k)) & 3u);
        grid.entry_of_key[key_of_levels(grid.level[e])] = (int16_t)e;
    }
    /* Two passes: count (327,721 neighbours over the 4513 off-grid keys), then fill one allocation. */
    size_t total = 0;
    for (int key = 0; key < KEY_COUNT; ++key) {
        if (grid.entry_of_key[key] >= 0) continue;
        grid.list_at[key] = (uint32_t)total;
        grid.list_len[key] = (uint16_t)collect_neighbours(key, NULL);
        total += grid.list_len[key];
    }
    grid.lists = malloc(total * sizeof *grid.lists);
    if (!grid.lists) return;
    for (int key = 0; key < KEY_COUNT; ++key)
        if (grid.entry_of_key[key] < 0) collect_neighbours(key, grid.lists + grid.list_at[key]);
}

/* --- shared steps ----------------------------------------------------------------------------------- */

/* ggml's nearest_int: the float sum puts the rounded integer in the low mantissa bits (ties to even); exact
 * for |v| < 2^22, and always some integer otherwise (the callers clamp it). */
static int round_to_int(float v)
{
    const float biased = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &biased, sizeof bits);
    return (bits & 0x007FFFFF) - 0x00400000;
}

static float sum_of_squares(const float *x)
{
    float sum = 0.0f;
    for (int i = 0; i < QK_K; ++i)
        sum += x[i] * x[i];
    return sum;
}

/* w = imp·√(σ² + x²) with an importance vector; without one, `fallback_x2` picks x² (IQ1_M) or √(σ² + x²). */
static void sub_block_weights(const float *x, const float *imp, float sigma2, int n, int fallback_x2, float *w)
{
    for (int i = 0; i < n; ++i) {
        if (imp)
            w[i] = imp[i] * sqrtf(sigma2 + x[i] * x[i]);
        else
            w[i] = fallback_x2 ? x[i] * x[i] : sqrtf(sigma2 + x[i] * x[i]);
    }
}

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

/* Levels from the cuts of the sorted order: below cut1 → 0, below cut2 → 1, the rest → 2. */
static void levels_from_cuts(const int *order, int n, int cut1, int cut2, unsigned char *L)
{
    for (int j = 0; j < n; ++j)
        L[order[j]] = (unsigned char)(j < cut1 ? 0 : j < cut2 ? 1 : 2);
}

/* The grid entry for the group's levels L (8 of them). An off-grid group takes the neighbour with the least
 * Σ w·(scale·v − x)², the first on a tie, and L becomes that entry's levels. *on_grid says which happened. */
static int group_entry(const float *x, const float *w, float scale, const float *value, unsigned char *L, int *on_grid)
{
    const int key = key_of_levels(L);
    int entry = grid.entry_of_key[key];
    *on_grid = entry >= 0;
    if (entry >= 0) return entry;
    uint16_t rebuilt[GRID_ENTRIES];
    const uint16_t *list = grid.lists ? grid.lists + grid.list_at[key] : rebuilt;
    const int n = grid.lists ? grid.list_len[key] : collect_neighbours(key, rebuilt);
    float best = FLT_MAX;
    for (int c = 0; c < n; ++c) {
        const unsigned char *levels = grid.level[list[c]];
        float d2 = 0.0f;
        for (int i = 0; i < GROUP; ++i) {
            const float diff = scale * value[levels[i]] - x[i];
            d2 += w[i] * diff * diff;
        }
        if (d2 < best) {
            best = d2;
            entry = list[c];
        }
    }
    if (entry < 0) entry = list[0]; /* no finite distance: ggml scans beyond the group here and aborts */
    memcpy(L, grid.level[entry], GROUP);
    return entry;
}

/* The weighted least-squares scale of the chosen entries, Σwqx/Σwq², group g using values[g]. */
static float refit_scale(const float *x, const float *w, const int *entry, const float *const *values, int groups,
                         float scale)
{
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int g = 0; g < groups; ++g) {
        const unsigned char *levels = grid.level[entry[g]];
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
    float best = -FLT_MAX, scale = 0.0f;
    int cut1 = -1, cut2 = -1, down = 0;
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            for (int s = 0; s < 2; ++s) { /* +δ, then −δ */
                const float *v = s ? shifted_down : shifted_up;
                const float sumqx = (sum_wx[i1] - sum_wx[0]) * v[0] + (sum_wx[i2] - sum_wx[i1]) * v[1] +
                                    (sum_wx[n] - sum_wx[i2]) * v[2];
                const float sumq2 = (sum_w[i1] - sum_w[0]) * v[0] * v[0] + (sum_w[i2] - sum_w[i1]) * v[1] * v[1] +
                                    (sum_w[n] - sum_w[i2]) * v[2] * v[2];
                if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    cut1 = i1;
                    cut2 = i2;
                    down = s;
                }
            }
        }
    }
    if (cut1 < 0 || !isfinite(scale)) return 0.0f;
    unsigned char L[IQ1_S_SUB];
    levels_from_cuts(order, n, cut1, cut2, L);
    if (scale < 0.0f) { /* mirror: levels 0 ↔ 2 and the shift's sign */
        for (int j = 0; j < n; ++j)
            L[j] = (unsigned char)(2 - L[j]);
        scale = -scale;
        down = !down;
    }
    const float *value = down ? shifted_down : shifted_up;
    const float *values[IQ1_S_SUB / GROUP];
    int all_on_grid = 1;
    for (int g = 0; g < IQ1_S_SUB / GROUP; ++g) {
        int on_grid;
        entry[g] = group_entry(x + GROUP * g, w + GROUP * g, scale, value, L + GROUP * g, &on_grid);
        all_on_grid &= on_grid;
        values[g] = value;
    }
    if (!all_on_grid) scale = refit_scale(x, w, entry, values, IQ1_S_SUB / GROUP, scale);
    *negative = down;
    return scale;
}

static void quantize_block_iq1_s(const float *x, const float *imp, unsigned char *out)
{
    unsigned char *qs = out + LOWBIT_IQ1_S_QS;
    unsigned qh[QK_K / IQ1_S_SUB] = {0};
    float scales[QK_K / IQ1_S_SUB];
    int negative[QK_K / IQ1_S_SUB];
    memset(out, 0, LOWBIT_IQ1_S_BYTES);

    const float sigma2 = 2 * sum_of_squares(x) / QK_K;
    float max_scale = 0.0f;
    for (int ib = 0; ib < QK_K / IQ1_S_SUB; ++ib) {
        const float *xb = x + IQ1_S_SUB * ib;
        float w[IQ1_S_SUB];
        int entry[IQ1_S_SUB / GROUP] = {0};
        sub_block_weights(xb, imp ? imp + IQ1_S_SUB * ib : NULL, sigma2, IQ1_S_SUB, 0, w);
        scales[ib] = fit_iq1_s(xb, w, entry, &negative[ib]); /* unfitted: scale 0, entries 0, +δ */
        for (int g = 0; g < IQ1_S_SUB / GROUP; ++g) {
            qs[4 * ib + g] = (unsigned char)(entry[g] & 0xFF);
            qh[ib] |= (unsigned)(entry[g] >> 8) << (3 * g);
        }
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
    }
    if (max_scale != 0.0f) {
        const float d = max_scale / 15;
        lowbit_store_u16le(out + LOWBIT_IQ1_S_D, lowbit_fp32_to_fp16(d * 1.125f));
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / IQ1_S_SUB; ++ib) {
            int l = round_to_int(0.5f * (id * scales[ib] - 1));
            l = l < 0 ? 0 : l > 7 ? 7 : l;
            qh[ib] |= (unsigned)(l | (negative[ib] ? 8 : 0)) << 12;
        }
    }
    for (int ib = 0; ib < QK_K / IQ1_S_SUB; ++ib)
        lowbit_store_u16le(out + LOWBIT_IQ1_S_QH + 2 * ib, qh[ib]);
}

void lowbit_quantize_row_iq1_s(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&grid_once, grid_build);
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_iq1_s(src + b * QK_K, importance ? importance + b * QK_K : NULL, out + b * LOWBIT_IQ1_S_BYTES);
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
    float best = -FLT_MAX, scale = 0.0f;
    int cut1 = -1, cut2 = -1, best_signs = -1;
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
                if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    cut1 = i1;
                    cut2 = i2;
                    best_signs = k;
                }
            }
        }
    }
    if (cut1 < 0 || !isfinite(scale)) return 0.0f;
    unsigned char L[IQ1_M_SUB];
    levels_from_cuts(order, n, cut1, cut2, L);
    if (scale < 0.0f) { /* mirror: levels 0 ↔ 2 and both shifts' signs */
        for (int j = 0; j < n; ++j)
            L[j] = (unsigned char)(2 - L[j]);
        scale = -scale;
        best_signs = 3 - best_signs;
    }
    const float *values[2] = {best_signs & 2 ? shifted_down : shifted_up, best_signs & 1 ? shifted_down : shifted_up};
    int all_on_grid = 1;
    for (int g = 0; g < 2; ++g) {
        int on_grid;
        entry[g] = group_entry(x + GROUP * g, w + GROUP * g, scale, values[g], L + GROUP * g, &on_grid);
        all_on_grid &= on_grid;
    }
    if (!all_on_grid) scale = refit_scale(x, w, entry, values, 2, scale);
    *signs = best_signs;
    return scale;
}

static void quantize_block_iq1_m(const float *x, const float *imp, unsigned char *out)
{
    enum { SUBS = QK_K / IQ1_M_SUB };
    unsigned char *qs = out + LOWBIT_IQ1_M_QS, *qh = out + LOWBIT_IQ1_M_QH;
    float w[QK_K], scales[SUBS];
    int entry[SUBS][2], signs[SUBS];
    memset(out, 0, LOWBIT_IQ1_M_BYTES);

    const float sigma2 = 2 * sum_of_squares(x) / QK_K;
    float max_scale = 0.0f;
    for (int ib = 0; ib < SUBS; ++ib) {
        const float *xb = x + IQ1_M_SUB * ib;
        float *wb = w + IQ1_M_SUB * ib;
        entry[ib][0] = entry[ib][1] = 0;
        sub_block_weights(xb, imp ? imp + IQ1_M_SUB * ib : NULL, sigma2, IQ1_M_SUB, 1, wb);
        scales[ib] = fit_iq1_m(xb, wb, entry[ib], &signs[ib]); /* unfitted: scale 0, entries 0, +δ +δ */
        qs[2 * ib] = (unsigned char)(entry[ib][0] & 0xFF);
        qs[2 * ib + 1] = (unsigned char)(entry[ib][1] & 0xFF);
        qh[ib] = (unsigned char)((entry[ib][0] >> 8) | ((entry[ib][1] >> 8) << 4));
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
    }
    if (max_scale == 0.0f) return;

    /* 3-bit sub-scales against d = max/15, then d refitted by least squares over the whole super-block with
     * the codes as stored (unfitted sub-blocks included, as entry 0 at scale 1). */
    unsigned sc[4] = {0};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int ib = 0; ib < SUBS; ++ib) {
        int l = round_to_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 7 ? 7 : l;
        sc[ib / 4] |= (unsigned)l << (3 * (ib % 4));
        qh[ib] |= (unsigned char)((signs[ib] & 2 ? 0x08 : 0) | (signs[ib] & 1 ? 0x80 : 0));
        const float factor = (float)(2 * l + 1);
        for (int g = 0; g < 2; ++g) {
            const float *value = (signs[ib] >> (1 - g)) & 1 ? shifted_down : shifted_up;
            const unsigned char *levels = grid.level[entry[ib][g]];
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
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_iq1_m(src + b * QK_K, importance ? importance + b * QK_K : NULL, out + b * LOWBIT_IQ1_M_BYTES);
}
