/* iq2_quant.c — reference quantizers of the 2-bit grid formats IQ2_XXS, IQ2_XS and IQ2_S (docs/formats.md §3.7,
 * §4.7): a weighted search of sub-block scales over the codebooks of shaders/common/lowbit_grids.h, producing the
 * same bytes as the pinned ggml's quantize_iq2_xxs / quantize_iq2_xs / quantize_iq2_s, with an importance vector
 * and (IQ2_S) without one.
 *
 * Every element is quantized on the lattice {1, 3, 5} (code c ∈ {0, 1, 2} means 2c + 1 scale units); a group of
 * 8 codes must be one of the grid's entries. A group that rounds to a point off the grid takes the nearest grid
 * entries instead — those at the two smallest squared code distances (one for IQ2_S), the candidates ggml keeps
 * — whichever fits the group best under the scale being tried. The point → entry map and these neighbour lists
 * are built once per format (pthread_once) from lowbit_grids.h, for the 3^8 points the rounding can produce; they,
 * the neighbour search and the scale sweep are grid_search.c's, shared with the IQ1 and IQ3 quantizers.
 * Each float operation below is ggml's, in ggml's order; values with no finite reference result (NaN, Inf,
 * sums that overflow) still produce a valid block instead of the reference's abort.
 *
 * Without an importance vector (for the docs): ggml's IQ2_XXS and IQ2_XS require one (ggml_quantize_chunk
 * asserts, and llama-quantize refuses those tensors); its IQ2_S falls back to built-in weights σ²/4 + x² (σ² =
 * 2·mean(x²) over the 256-element super-block), which lowbit repeats, byte for byte. lowbit never aborts: with
 * importance == NULL, IQ2_XXS and IQ2_XS weigh each element as an all-ones importance vector would,
 * w = sqrt(σ² + x²) (σ² = mean(x²) of the super-block) — the formats' own weighting with every column taken
 * as equally important, which is all that is known without activations. So the output equals ggml's given an
 * all-ones imatrix (checkable, unlike a weighting ggml never uses). It also beats IQ2_S's built-in weights on
 * plain round-trip error: on ggml's test-quantize-fns data, 0.00741 against 0.00762 (IQ2_XXS; the 2-bit limit
 * is 0.0075) and 0.00651 against 0.00679 (IQ2_XS). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "format_internal.h"
#include "grid_search.h"

#include "../../shaders/common/lowbit_formats.h"
#include "../../shaders/common/lowbit_grids.h"

#define QK_K LOWBIT_GRID_BLOCK
#define GROUP 8        /* elements one grid entry covers */
#define TOP_LEVEL 5.0f /* 2·kMaxQ − 1: the largest lattice level, 2·2 + 1 */

/* ---- the lattices: 8 codes in {0, 1, 2} per entry -------------------------------------------------------- */

static const uint32_t grid_iq2xxs[] = {LOWBIT_GRID_IQ2XXS_WORDS};
static const uint32_t grid_iq2xs[] = {LOWBIT_GRID_IQ2XS_WORDS};
static const uint32_t grid_iq2s[] = {LOWBIT_GRID_IQ2S_WORDS};

_Static_assert(sizeof grid_iq2xxs / sizeof grid_iq2xxs[0] * 2 == LOWBIT_GRID_IQ2XXS_ENTRIES, "IQ2_XXS grid size");
_Static_assert(sizeof grid_iq2xs / sizeof grid_iq2xs[0] * 2 == LOWBIT_GRID_IQ2XS_ENTRIES, "IQ2_XS grid size");
_Static_assert(sizeof grid_iq2s / sizeof grid_iq2s[0] * 2 == LOWBIT_GRID_IQ2S_ENTRIES, "IQ2_S grid size");

/* The neighbour lists keep the entries at the two smallest distances (one for IQ2_S), as ggml's do. */
static lowbit_grid_lattice lattice_xxs = {
    .words = grid_iq2xxs, .entries = LOWBIT_GRID_IQ2XXS_ENTRIES, .dims = GROUP, .levels = 3, .bits = 2, .shells = 2};
static lowbit_grid_lattice lattice_xs = {
    .words = grid_iq2xs, .entries = LOWBIT_GRID_IQ2XS_ENTRIES, .dims = GROUP, .levels = 3, .bits = 2, .shells = 2};
static lowbit_grid_lattice lattice_s = {
    .words = grid_iq2s, .entries = LOWBIT_GRID_IQ2S_ENTRIES, .dims = GROUP, .levels = 3, .bits = 2, .shells = 1};

static pthread_once_t once_xxs = PTHREAD_ONCE_INIT, once_xs = PTHREAD_ONCE_INIT, once_s = PTHREAD_ONCE_INIT;
static void build_xxs(void) { lowbit_grid_lattice_build(&lattice_xxs); }
static void build_xs(void) { lowbit_grid_lattice_build(&lattice_xs); }
static void build_s(void) { lowbit_grid_lattice_build(&lattice_s); }

/* The sweeps: inverse scales (5 + 0.1·i)/max for i = −6..6 around IQ2_XXS's first estimate, every group
 * re-rounded at the winner's scale; i = −9..9 for IQ2_XS and IQ2_S, where only groups that had to take a
 * neighbour are re-rounded. */
static const lowbit_grid_sweep sweep_xxs = {&lattice_xxs, TOP_LEVEL, 0.1f, 6, true, true, true};
static const lowbit_grid_sweep sweep_xs = {&lattice_xs, TOP_LEVEL, 0.1f, 9, true, false, false};
static const lowbit_grid_sweep sweep_s = {&lattice_s, TOP_LEVEL, 0.1f, 9, true, false, false};

/* ---- IQ2_XXS: 32-element sub-blocks, 256-entry grid, ksigns ------------------------------------------------- */

/* IQ2_XXS's first scale estimate, ggml's make_qp_quants with nmax = 4 (docs/formats.md §4.1): start from
 * 4/max, try (4 ± 0.1·i)/max for i = 1..4, fit Σwxl/Σwl², then up to 5 passes of per-element descent. The codes
 * live in unsigned bytes as in the reference, so a flipped (negative) magnitude that rounds below 0 is stored
 * wrapped (−1 → 255) and weighs in as such wherever a stored code is re-read; the result depends on it. */
static float first_scale_estimate(const float *x, const float *w, int n)
{
    const int nmax = 4;
    unsigned char L[32];
    float max = 0.0f;
    for (int i = 0; i < n; ++i)
        max = lowbit_grid_max_of(max, x[i]);
    if (max < 1e-15f) return 0.0f;
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; ++i)
        L[i] = (unsigned char)lowbit_grid_nearest_int(iscale * x[i]);
    float best_mse = 0.0f;
    {
        const float scale = 1.0f / iscale;
        for (int i = 0; i < n; ++i) {
            const float diff = x[i] - scale * (float)L[i];
            const float wd = w[i] * diff;
            best_mse += wd * diff;
        }
    }
    for (int step = -4; step <= 4; ++step) {
        if (step == 0) continue;
        const float trial_iscale = (0.1f * (float)step + (float)nmax) / max;
        const float trial_scale = 1.0f / trial_iscale;
        float mse = 0.0f;
        for (int i = 0; i < n; ++i) {
            int l = lowbit_grid_nearest_int(trial_iscale * x[i]);
            if (l > nmax) l = nmax;
            const float diff = x[i] - trial_scale * (float)l;
            const float wd = w[i] * diff;
            mse += wd * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = trial_iscale;
        }
    }
    float sum_lx = 0.0f, sum_l2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        int l = lowbit_grid_nearest_int(iscale * x[i]);
        if (l > nmax) l = nmax;
        L[i] = (unsigned char)l;
        const float wx = w[i] * x[i];
        const float wl = w[i] * (float)l;
        sum_lx += wx * (float)l;
        sum_l2 += wl * (float)l;
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float stored = (float)L[i];
            const float wx = w[i] * x[i];
            const float ws = w[i] * stored;
            float slx = sum_lx - wx * stored;
            float sl2 = sum_l2 - ws * stored;
            if (!(slx > 0.0f && sl2 > 0.0f)) continue;
            const float xs = x[i] * sl2;
            int l = lowbit_grid_nearest_int(xs / slx);
            if (l > nmax) l = nmax;
            if (l == (int)L[i]) continue;
            const float wl = w[i] * (float)l;
            slx += wx * (float)l;
            sl2 += wl * (float)l;
            const float gain_new = slx * slx;
            const float gain_old = sum_lx * sum_lx;
            if (gain_new * sum_l2 > gain_old * sl2) {
                L[i] = (unsigned char)l;
                sum_lx = slx;
                sum_l2 = sl2;
                ++changed;
            }
        }
        if (!changed) break;
    }
    return sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
}

/* One 32-element sub-block: its scale (0 when nothing is stored) and its two words (grid bytes; ksigns). */
static float iq2_xxs_subblock(const float *x, const float *w, const float *w_sqrt, uint32_t *grid_word,
                              uint32_t *sign_word)
{
    float xval[32];
    int8_t L[32];
    unsigned signs[4];
    for (int g = 0; g < 4; ++g)
        signs[g] = lowbit_grid_group_signs(x + GROUP * g, w + GROUP * g, xval + GROUP * g, true) & 127u;
    if (lowbit_grid_largest(xval, 32) < 1e-15f) return 0.0f;
    const float estimate = first_scale_estimate(xval, w, 32);
    const float eff_max = estimate * 3.0f;
    if (eff_max <= 0.0f) return 0.0f;
    float scale = lowbit_grid_sweep_scale(&sweep_xxs, 32, xval, w, w_sqrt, eff_max, estimate, L);
    if (scale < 0.0f) { /* a negative fit: store |scale| with every sign flipped */
        scale = -scale;
        for (int g = 0; g < 4; ++g)
            signs[g] = ~signs[g] & 127u;
    }
    for (int g = 0; g < 4; ++g) {
        *grid_word |= (uint32_t)lowbit_grid_entry(&lattice_xxs, L + GROUP * g) << (8 * g);
        *sign_word |= (uint32_t)signs[g] << (7 * g);
    }
    return scale;
}

/* Without an importance vector: w = sqrt(σ² + x²), an all-ones importance (the file comment says why). */
static void quantize_block_iq2_xxs(const float *x, const float *imp, unsigned char *out)
{
    uint32_t words[16] = {0}; /* per sub-block: grid bytes, then ksigns | scale << 28 */
    float scales[8], max_scale = 0.0f, w[32], w_sqrt[32];
    const float sigma2 = lowbit_grid_sum_squares(x, QK_K) / (float)QK_K;
    for (int ib = 0; ib < 8; ++ib) {
        lowbit_grid_weights(x + 32 * ib, 32, imp ? imp + 32 * ib : NULL, sigma2, LOWBIT_GRID_WEIGHTS_UNIT, w, w_sqrt);
        scales[ib] = iq2_xxs_subblock(x + 32 * ib, w, w_sqrt, &words[2 * ib], &words[2 * ib + 1]);
        max_scale = lowbit_grid_max_of(max_scale, scales[ib]);
    }
    memset(out, 0, LOWBIT_IQ2_XXS_BYTES);
    if (max_scale == 0.0f) return;
    int codes[8];
    const float d = lowbit_grid_sub_scales(scales, 8, max_scale, 31.0f, 15, codes);
    lowbit_store_u16le(out + LOWBIT_IQ2_XXS_D, lowbit_fp32_to_fp16(d));
    for (int ib = 0; ib < 8; ++ib)
        words[2 * ib + 1] |= (uint32_t)codes[ib] << 28;
    for (int i = 0; i < 16; ++i)
        for (int byte = 0; byte < 4; ++byte)
            out[LOWBIT_IQ2_XXS_QS + 4 * i + byte] = (unsigned char)(words[i] >> (8 * byte));
}

void lowbit_quantize_row_iq2_xxs(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&once_xxs, build_xxs);
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ2_XXS_BYTES, quantize_block_iq2_xxs);
}

/* ---- IQ2_XS and IQ2_S: 16-element sub-blocks (two groups) ---------------------------------------------------- */

/* One 16-element sub-block of IQ2_XS (ksigns, 512-entry grid) or IQ2_S (full sign bytes, 1024 entries): its scale
 * (0 when nothing is stored), the two groups' grid entries and sign masks. */
static float iq2_pair_subblock(const lowbit_grid_sweep *sweep, const float *x, const float *w, const float *w_sqrt,
                               bool ksigns, float eps, int entries[2], unsigned signs[2])
{
    float xval[16];
    int8_t L[16];
    for (int g = 0; g < 2; ++g) {
        signs[g] = lowbit_grid_group_signs(x + GROUP * g, w + GROUP * g, xval + GROUP * g, ksigns);
        if (ksigns) signs[g] &= 127u;
    }
    const float max = lowbit_grid_largest(xval, 16);
    if (max < eps) { /* nothing stored: entry 0, no signs, scale 0 */
        entries[0] = entries[1] = 0;
        signs[0] = signs[1] = 0;
        return 0.0f;
    }
    float scale = lowbit_grid_sweep_scale(sweep, 16, xval, w, w_sqrt, max, max / TOP_LEVEL, L);
    if (scale < 0.0f) { /* a negative fit: store |scale| with every sign flipped */
        scale = -scale;
        for (int g = 0; g < 2; ++g)
            signs[g] = ~signs[g] & (ksigns ? 127u : 255u);
    }
    for (int g = 0; g < 2; ++g)
        entries[g] = lowbit_grid_entry(sweep->lattice, L + GROUP * g);
    return scale;
}

/* The 16 sub-blocks of an IQ2_XS or IQ2_S super-block: per group its grid entry and sign mask, per sub-block its
 * scale (weights as lowbit_grid_weights gives them for `plain`); returns the largest scale. */
static float iq2_pair_block(const lowbit_grid_sweep *sweep, const float *x, const float *imp, float sigma2,
                            lowbit_grid_plain_weights plain, bool ksigns, float eps, int entries[32],
                            unsigned signs[32], float scales[16])
{
    float max_scale = 0.0f, w[16], w_sqrt[16];
    for (int ib = 0; ib < 16; ++ib) {
        lowbit_grid_weights(x + 16 * ib, 16, imp ? imp + 16 * ib : NULL, sigma2, plain, w, w_sqrt);
        scales[ib] = iq2_pair_subblock(sweep, x + 16 * ib, w, w_sqrt, ksigns, eps, entries + 2 * ib, signs + 2 * ib);
        max_scale = lowbit_grid_max_of(max_scale, scales[ib]);
    }
    return max_scale;
}

/* Without an importance vector: w = sqrt(σ² + x²), an all-ones importance (the file comment says why). */
static void quantize_block_iq2_xs(const float *x, const float *imp, unsigned char *out)
{
    int entries[32], codes[16];
    unsigned signs[32];
    float scales[16];
    const float sigma2 = lowbit_grid_sum_squares(x, QK_K) / (float)QK_K;
    const float max_scale =
        iq2_pair_block(&sweep_xs, x, imp, sigma2, LOWBIT_GRID_WEIGHTS_UNIT, true, 1e-15f, entries, signs, scales);
    memset(out, 0, LOWBIT_IQ2_XS_BYTES);
    if (max_scale == 0.0f) return;
    const float d = lowbit_grid_sub_scales(scales, 16, max_scale, 31.0f, 15, codes);
    lowbit_store_u16le(out + LOWBIT_IQ2_XS_D, lowbit_fp32_to_fp16(d));
    for (int ib = 0; ib < 16; ++ib)
        out[LOWBIT_IQ2_XS_SCALES + ib / 2] |= (unsigned char)(codes[ib] << (4 * (ib % 2)));
    for (int g = 0; g < 32; ++g) /* grid entry | ksigns << 9 */
        lowbit_store_u16le(out + LOWBIT_IQ2_XS_QS + 2 * g, (unsigned)entries[g] | signs[g] << 9);
}

void lowbit_quantize_row_iq2_xs(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&once_xs, build_xs);
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ2_XS_BYTES, quantize_block_iq2_xs);
}

/* Without an importance vector: ggml's built-in σ²/4 + x². Entries and signs are stored even when every scale is
 * 0, as the reference does. */
static void quantize_block_iq2_s(const float *x, const float *imp, unsigned char *out)
{
    int entries[32], codes[16];
    unsigned signs[32];
    float scales[16];
    const float sigma2 = 2.0f * lowbit_grid_sum_squares(x, QK_K) / (float)QK_K; /* twice IQ2_XXS/XS's σ², both forms */
    const float max_scale =
        iq2_pair_block(&sweep_s, x, imp, sigma2, LOWBIT_GRID_WEIGHTS_QUARTER_SIG, false, 1e-8f, entries, signs, scales);
    memset(out, 0, LOWBIT_IQ2_S_BYTES);
    for (int group = 0; group < 32; ++group) {
        out[LOWBIT_IQ2_S_QS + group] = (unsigned char)(entries[group] & 255);
        out[LOWBIT_IQ2_S_QH + group / 4] |= (unsigned char)((entries[group] >> 8) << (2 * (group % 4)));
        out[LOWBIT_IQ2_S_QS + QK_K / 8 + group] = (unsigned char)signs[group];
    }
    if (max_scale == 0.0f) return;
    const float d = lowbit_grid_sub_scales(scales, 16, max_scale, 31.0f, 15, codes);
    /* stored 1.25 % small (the reference's fudge factor); the nibbles are computed against the unscaled d */
    lowbit_store_u16le(out + LOWBIT_IQ2_S_D, lowbit_fp32_to_fp16(d * 0.9875f));
    for (int ib = 0; ib < 16; ++ib)
        out[LOWBIT_IQ2_S_SCALES + ib / 2] |= (unsigned char)(codes[ib] << (4 * (ib % 2)));
}

void lowbit_quantize_row_iq2_s(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&once_s, build_s);
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ2_S_BYTES, quantize_block_iq2_s);
}
