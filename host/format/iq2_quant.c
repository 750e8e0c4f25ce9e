/* iq2_quant.c — reference quantizers of the 2-bit grid formats IQ2_XXS, IQ2_XS and IQ2_S (docs/formats.md §3.7,
 * §4.7): a weighted search of sub-block scales over the codebooks of shaders/common/lowbit_grids.h, producing the
 * same bytes as the pinned ggml's quantize_iq2_xxs / quantize_iq2_xs / quantize_iq2_s, with an importance vector
 * and (IQ2_S) without one.
 *
 * Every element is quantized on the lattice {1, 3, 5} (code c ∈ {0, 1, 2} means 2c + 1 scale units); a group of
 * 8 codes must be one of the grid's entries. A group that rounds to a point off the grid takes the nearest grid
 * entries instead — those at the two smallest squared code distances (one for IQ2_S), the candidates ggml keeps
 * — whichever fits the group best under the scale being tried. The point → entry map and these neighbour lists
 * are built once per format (pthread_once) from lowbit_grids.h, for the 3^8 points the rounding can produce.
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
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format_internal.h"

#include "../../shaders/common/lowbit_formats.h"
#include "../../shaders/common/lowbit_grids.h"

#define QK_K 256
#define GROUP 8               /* elements one grid entry covers */
#define LATTICE_POINTS 6561   /* 3^8 groups of codes in {0, 1, 2} */
#define MAX_GRID_ENTRIES 1024 /* IQ2_S */
#define TOP_LEVEL 5.0f        /* 2·kMaxQ − 1: the largest lattice level, 2·2 + 1 */

/* ---- the lattice of one codebook -------------------------------------------------------------------------- */

typedef struct iq2_lattice {
    const uint32_t *words; /* lowbit_grids.h: entry e in half (e & 1) of words[e / 2] */
    int entries;
    int shells;             /* neighbour lists keep the entries at this many smallest distances */
    int8_t (*codes)[GROUP]; /* the entries decoded to one code per element, filled by the build */
    int32_t *slot;          /* per point: ≥ 0 its grid entry; < 0: −1 − offset of its list in `neighbours` */
    uint16_t *neighbours;   /* lists: a count, then entry indices by (distance, index) */
} iq2_lattice;

static const uint32_t grid_iq2xxs[] = {LOWBIT_GRID_IQ2XXS_WORDS};
static const uint32_t grid_iq2xs[] = {LOWBIT_GRID_IQ2XS_WORDS};
static const uint32_t grid_iq2s[] = {LOWBIT_GRID_IQ2S_WORDS};

_Static_assert(sizeof grid_iq2xxs / sizeof grid_iq2xxs[0] * 2 == LOWBIT_GRID_IQ2XXS_ENTRIES, "IQ2_XXS grid size");
_Static_assert(sizeof grid_iq2xs / sizeof grid_iq2xs[0] * 2 == LOWBIT_GRID_IQ2XS_ENTRIES, "IQ2_XS grid size");
_Static_assert(sizeof grid_iq2s / sizeof grid_iq2s[0] * 2 == LOWBIT_GRID_IQ2S_ENTRIES, "IQ2_S grid size");
_Static_assert(LOWBIT_GRID_IQ2S_ENTRIES <= MAX_GRID_ENTRIES, "scan buffers");

static int8_t codes_xxs[LOWBIT_GRID_IQ2XXS_ENTRIES][GROUP];
static int8_t codes_xs[LOWBIT_GRID_IQ2XS_ENTRIES][GROUP];
static int8_t codes_s[LOWBIT_GRID_IQ2S_ENTRIES][GROUP];

static iq2_lattice lattice_xxs = {grid_iq2xxs, LOWBIT_GRID_IQ2XXS_ENTRIES, 2, codes_xxs, NULL, NULL};
static iq2_lattice lattice_xs = {grid_iq2xs, LOWBIT_GRID_IQ2XS_ENTRIES, 2, codes_xs, NULL, NULL};
static iq2_lattice lattice_s = {grid_iq2s, LOWBIT_GRID_IQ2S_ENTRIES, 1, codes_s, NULL, NULL};

/* Base-3 key of a group of codes (each clamped to the lattice, so any input indexes the tables safely). */
static int point_key(const int8_t *codes)
{
    int key = 0;
    for (int k = GROUP - 1; k >= 0; --k) {
        const int c = codes[k] < 0 ? 0 : (codes[k] > 2 ? 2 : codes[k]);
        key = 3 * key + c;
    }
    return key;
}

static void key_codes(int key, int8_t *codes)
{
    for (int k = 0; k < GROUP; ++k, key /= 3)
        codes[k] = (int8_t)(key % 3);
}

/* Where the point `codes` sits: returns its grid entry when on the grid (≥ 0), else −1 after writing its
 * neighbour list to `list` (a count, then the entries at the `shells` smallest squared distances, nearer first
 * and by index within one distance — the order in which the best-fit search meets them, which decides ties). */
static int lattice_scan(const iq2_lattice *lat, const int8_t *codes, uint16_t *list)
{
    int dist[MAX_GRID_ENTRIES];
    int nearest[2] = {INT32_MAX, INT32_MAX}; /* the smallest distinct distances */
    for (int e = 0; e < lat->entries; ++e) {
        int d2 = 0;
        for (int k = 0; k < GROUP; ++k) {
            const int diff = lat->codes[e][k] - codes[k];
            d2 += diff * diff;
        }
        if (d2 == 0) return e;
        dist[e] = d2;
        if (d2 < nearest[0]) {
            nearest[1] = nearest[0];
            nearest[0] = d2;
        } else if (d2 > nearest[0] && d2 < nearest[1]) {
            nearest[1] = d2;
        }
    }
    int count = 0;
    for (int shell = 0; shell < lat->shells; ++shell)
        for (int e = 0; e < lat->entries; ++e)
            if (dist[e] == nearest[shell]) list[1 + count++] = (uint16_t)e;
    list[0] = (uint16_t)count;
    return -1;
}

/* Decodes the grid, then two passes over the 3^8 points: count the list lengths, then fill one allocation. On
 * an allocation failure the tables stay NULL and every lookup scans the grid instead (same answers, slower). */
static void lattice_build(iq2_lattice *lat)
{
    for (int e = 0; e < lat->entries; ++e) {
        const uint32_t packed = (lat->words[e >> 1] >> (16 * (e & 1))) & 0xFFFFu;
        for (int k = 0; k < GROUP; ++k)
            lat->codes[e][k] = (int8_t)((packed >> (2 * k)) & 3u);
    }
    uint16_t list[1 + MAX_GRID_ENTRIES];
    int8_t codes[GROUP];
    int32_t *slot = malloc(LATTICE_POINTS * sizeof *slot);
    if (!slot) return;
    size_t total = 0;
    for (int key = 0; key < LATTICE_POINTS; ++key) {
        key_codes(key, codes);
        const int entry = lattice_scan(lat, codes, list);
        slot[key] = entry >= 0 ? entry : -1;
        if (entry < 0) total += 1u + list[0];
    }
    uint16_t *neighbours = malloc(total * sizeof *neighbours);
    if (!neighbours) {
        free(slot);
        return;
    }
    size_t offset = 0;
    for (int key = 0; key < LATTICE_POINTS; ++key) {
        if (slot[key] >= 0) continue;
        key_codes(key, codes);
        lattice_scan(lat, codes, neighbours + offset);
        slot[key] = -1 - (int32_t)offset;
        offset += 1u + neighbours[offset];
    }
    lat->neighbours = neighbours;
    lat->slot = slot;
}

static pthread_once_t once_xxs = PTHREAD_ONCE_INIT, once_xs = PTHREAD_ONCE_INIT, once_s = PTHREAD_ONCE_INIT;
static void build_xxs(void) { lattice_build(&lattice_xxs); }
static void build_xs(void) { lattice_build(&lattice_xs); }
static void build_s(void) { lattice_build(&lattice_s); }

/* Grid entry of the point `codes`, or −1 with *list pointing at its neighbour list (from the tables, or scanned
 * into `scratch` when they could not be allocated). */
static int lattice_find(const iq2_lattice *lat, const int8_t *codes, const uint16_t **list, uint16_t *scratch)
{
    if (!lat->slot) {
        *list = scratch;
        return lattice_scan(lat, codes, scratch);
    }
    const int32_t slot = lat->slot[point_key(codes)];
    if (slot >= 0) return slot;
    *list = lat->neighbours + (-1 - slot);
    return -1;
}

/* ---- the search --------------------------------------------------------------------------------------------- */

/* ggml's nearest_int: adding 1.5·2^23 rounds to an integer (half to even) and the low mantissa bits hold it.
 * Exact for |v| < 2^22; beyond that it returns the same wrapped value as the reference (integer ops only, so
 * no undefined conversion even for NaN or Inf). */
static int round_half_even(float v)
{
    const float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007FFFFF) - 0x00400000;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* The neighbour whose levels, at `scale`, come closest to the group (distance weighted by w_sqrt); its codes go
 * to `codes`. Strictly smaller wins, so the first of equal candidates stays. When no distance compares (NaN
 * input) the first candidate is taken, where ggml aborts. */
static int best_neighbour(const iq2_lattice *lat, const uint16_t *list, const float *xval, const float *w_sqrt,
                          float scale, int8_t *codes)
{
    float best_d2 = FLT_MAX;
    int best = list[1];
    for (int j = 1; j <= list[0]; ++j) {
        float d2 = 0.0f;
        for (int k = 0; k < GROUP; ++k) {
            const float level = (float)(2 * lat->codes[list[j]][k] + 1);
            const float diff = scale * level - xval[k];
            const float wd = w_sqrt[k] * diff;
            d2 += wd * diff;
        }
        if (d2 < best_d2) {
            best_d2 = d2;
            best = list[j];
        }
    }
    memcpy(codes, lat->codes[best], GROUP);
    return best;
}

/* Rounds a group at inverse scale id to the lattice (clamped to {0, 1, 2}) and, off the grid, replaces it with
 * the best neighbour at `scale`. Writes the codes; returns the grid entry and whether the rounding was on it. */
static int snap_group(const iq2_lattice *lat, const float *xval, const float *w_sqrt, float id, float scale,
                      int8_t *codes, int *on_grid)
{
    uint16_t scratch[1 + MAX_GRID_ENTRIES];
    const uint16_t *list = NULL;
    for (int k = 0; k < GROUP; ++k) {
        const float half_level = 0.5f * (id * xval[k] - 1.0f);
        codes[k] = (int8_t)clamp_int(round_half_even(half_level), 0, 2);
    }
    int entry = lattice_find(lat, codes, &list, scratch);
    *on_grid = entry >= 0;
    if (entry < 0) entry = best_neighbour(lat, list, xval, w_sqrt, scale, codes);
    return entry;
}

/* The stored entry of a finished group: its codes are on the grid except after non-finite input, where the
 * nearest candidate stands in (ggml aborts there). */
static int group_entry(const iq2_lattice *lat, const int8_t *codes)
{
    uint16_t scratch[1 + MAX_GRID_ENTRIES];
    const uint16_t *list = NULL;
    const int entry = lattice_find(lat, codes, &list, scratch);
    return entry >= 0 ? entry : list[1];
}

/* Σw·x·q and Σw·q² over n elements, q = 2c + 1, each product rounded in the reference's order. */
static void level_sums(int n, const float *w, const float *xval, const int8_t *codes, float *sum_qx, float *sum_q2)
{
    float qx = 0.0f, q2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float q = (float)(2 * codes[i] + 1);
        const float wx = w[i] * xval[i];
        const float wq = w[i] * q;
        qx += wx * q;
        q2 += wq * q;
    }
    *sum_qx = qx;
    *sum_q2 = q2;
}

/* Magnitudes of one group and its sign mask (bit k: element k negative). With `even_parity` (the ksigns
 * formats, whose 8th sign bit is the parity of the other 7) an odd count of negatives is made even by flipping
 * the element with the smallest w·x² (the first such): its magnitude becomes negative, so the fit sees the
 * value the stored sign will actually produce. */
static unsigned group_signs(const float *x, const float *w, float *xval, int even_parity)
{
    unsigned mask = 0;
    int negatives = 0;
    for (int k = 0; k < GROUP; ++k) {
        if (x[k] >= 0.0f) {
            xval[k] = x[k];
        } else {
            xval[k] = -x[k];
            mask |= 1u << k;
            ++negatives;
        }
    }
    if (even_parity && negatives % 2) {
        int smallest = 0;
        float smallest_wx2 = w[0] * x[0] * x[0];
        for (int k = 1; k < GROUP; ++k) {
            const float wx2 = w[k] * x[k] * x[k];
            if (wx2 < smallest_wx2) {
                smallest_wx2 = wx2;
                smallest = k;
            }
        }
        xval[smallest] = -xval[smallest];
        mask ^= 1u << smallest;
    }
    return mask;
}

/* ggml's MAX(a, b) = a > b ? a : b, kept as written (it decides which operand survives a NaN). */
static float max_of(float a, float b) { return a > b ? a : b; }

static float largest(const float *v, int n)
{
    float m = v[0];
    for (int i = 1; i < n; ++i)
        m = max_of(m, v[i]);
    return m;
}

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
        max = max_of(max, x[i]);
    if (max < 1e-15f) return 0.0f;
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; ++i)
        L[i] = (unsigned char)round_half_even(iscale * x[i]);
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
            int l = round_half_even(trial_iscale * x[i]);
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
        int l = round_half_even(iscale * x[i]);
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
            int l = round_half_even(xs / slx);
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

/* Per-element weights of one sub-block, and their square roots (the neighbour search's weights). With
 * importance: imp·sqrt(σ² + x²), each format with its own σ². Without: IQ2_S's built-in σ²/4 + x² where
 * `builtin` is set, else sqrt(σ² + x²), an all-ones importance (the file comment says why). */
static void subblock_weights(const float *x, int n, const float *imp, float sigma2, int builtin, float *w,
                             float *w_sqrt)
{
    for (int i = 0; i < n; ++i) {
        if (imp)
            w[i] = imp[i] * sqrtf(sigma2 + x[i] * x[i]);
        else if (builtin)
            w[i] = 0.25f * sigma2 + x[i] * x[i];
        else
            w[i] = sqrtf(sigma2 + x[i] * x[i]);
    }
    for (int i = 0; i < n; ++i)
        w_sqrt[i] = sqrtf(w[i]);
}

static float sum_squares(const float *x)
{
    float sum = 0.0f;
    for (int i = 0; i < QK_K; ++i)
        sum += x[i] * x[i];
    return sum;
}

/* Sub-scale nibbles against the super-scale d = max_scale/31: s = clamp(round(0.5·(scale/d − 1)), 0, 15), so
 * scale ≈ d·(2s + 1). */
static int subscale_code(float id, float scale)
{
    return clamp_int(round_half_even(0.5f * (id * scale - 1.0f)), 0, 15);
}

/* ---- IQ2_XXS: 32-element sub-blocks, 256-entry grid, ksigns ------------------------------------------------- */

/* One 32-element sub-block: its scale (0 when nothing is stored) and its two words (grid bytes; ksigns). */
static float iq2_xxs_subblock(const iq2_lattice *lat, const float *x, const float *w, const float *w_sqrt,
                              uint32_t *grid_word, uint32_t *sign_word)
{
    float xval[32];
    int8_t L[32], trial[32];
    unsigned signs[4];
    int on_grid;
    for (int g = 0; g < 4; ++g)
        signs[g] = group_signs(x + GROUP * g, w + GROUP * g, xval + GROUP * g, 1) & 127u;
    if (largest(xval, 32) < 1e-15f) return 0.0f;
    float scale = first_scale_estimate(xval, w, 32);
    const float eff_max = scale * 3.0f;
    if (eff_max <= 0.0f) return 0.0f;
    memset(L, 0, sizeof L); /* kept only if no trial fits (NaN input) */
    float best = 0.0f;
    for (int step = -6; step <= 6; ++step) {
        const float id = (TOP_LEVEL + (float)step * 0.1f) / eff_max;
        const float trial_scale = 1.0f / id;
        for (int g = 0; g < 4; ++g)
            snap_group(lat, xval + GROUP * g, w_sqrt + GROUP * g, id, trial_scale, trial + GROUP * g, &on_grid);
        float sum_qx, sum_q2;
        level_sums(32, w, xval, trial, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f && sum_qx * sum_qx > best * sum_q2) {
            scale = sum_qx / sum_q2;
            best = scale * sum_qx;
            memcpy(L, trial, sizeof L);
        }
    }
    if (scale > 0.0f) { /* re-round every group at the fitted scale and fit once more */
        const float id = 1.0f / scale;
        for (int g = 0; g < 4; ++g)
            snap_group(lat, xval + GROUP * g, w_sqrt + GROUP * g, id, scale, L + GROUP * g, &on_grid);
        float sum_qx, sum_q2;
        level_sums(32, w, xval, L, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f) scale = sum_qx / sum_q2;
    }
    if (scale < 0.0f) { /* a negative fit: store |scale| with every sign flipped */
        scale = -scale;
        for (int g = 0; g < 4; ++g)
            signs[g] = ~signs[g] & 127u;
    }
    for (int g = 0; g < 4; ++g) {
        *grid_word |= (uint32_t)group_entry(lat, L + GROUP * g) << (8 * g);
        *sign_word |= (uint32_t)signs[g] << (7 * g);
    }
    return scale;
}

void lowbit_quantize_row_iq2_xxs(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&once_xxs, build_xxs);
    for (size_t b = 0; b < cols / QK_K; ++b) {
        const float *x = src + b * QK_K;
        const float *imp = importance ? importance + b * QK_K : NULL;
        unsigned char *out = (unsigned char *)dst + b * LOWBIT_IQ2_XXS_BYTES;
        uint32_t words[16] = {0}; /* per sub-block: grid bytes, then ksigns | scale << 28 */
        float scales[8], max_scale = 0.0f, w[32], w_sqrt[32];
        const float sigma2 = sum_squares(x) / (float)QK_K;
        for (int ib = 0; ib < 8; ++ib) {
            subblock_weights(x + 32 * ib, 32, imp ? imp + 32 * ib : NULL, sigma2, 0, w, w_sqrt);
            scales[ib] = iq2_xxs_subblock(&lattice_xxs, x + 32 * ib, w, w_sqrt, &words[2 * ib], &words[2 * ib + 1]);
            max_scale = max_of(max_scale, scales[ib]);
        }
        memset(out, 0, LOWBIT_IQ2_XXS_BYTES);
        if (max_scale == 0.0f) continue;
        const float d = max_scale / 31.0f;
        lowbit_store_u16le(out + LOWBIT_IQ2_XXS_D, lowbit_fp32_to_fp16(d));
        const float id = 1.0f / d;
        for (int ib = 0; ib < 8; ++ib)
            words[2 * ib + 1] |= (uint32_t)subscale_code(id, scales[ib]) << 28;
        for (int i = 0; i < 16; ++i)
            for (int byte = 0; byte < 4; ++byte)
                out[LOWBIT_IQ2_XXS_QS + 4 * i + byte] = (unsigned char)(words[i] >> (8 * byte));
    }
}

/* ---- IQ2_XS and IQ2_S: 16-element sub-blocks (two groups) ---------------------------------------------------- */

/* One 16-element sub-block of IQ2_XS (ksigns, 512-entry grid) or IQ2_S (full sign bytes, 1024 entries): its scale
 * (0 when nothing is stored), the two groups' grid entries and sign masks. The trials try (5 + 0.1·i)/max,
 * i = −9..9; only groups that had to take a neighbour are re-rounded at the fitted scale. */
static float iq2_pair_subblock(const iq2_lattice *lat, const float *x, const float *w, const float *w_sqrt, int ksigns,
                               float eps, int entries[2], unsigned signs[2])
{
    float xval[16];
    int8_t L[16], trial[16];
    int on_grid[2] = {1, 1}, trial_on_grid[2];
    for (int g = 0; g < 2; ++g) {
        signs[g] = group_signs(x + GROUP * g, w + GROUP * g, xval + GROUP * g, ksigns);
        if (ksigns) signs[g] &= 127u;
    }
    memset(L, 0, sizeof L);
    const float max = largest(xval, 16);
    if (max < eps) { /* nothing stored: entry 0, no signs, scale 0 */
        entries[0] = entries[1] = 0;
        signs[0] = signs[1] = 0;
        return 0.0f;
    }
    float best = 0.0f;
    float scale = max / TOP_LEVEL;
    for (int step = -9; step <= 9; ++step) {
        const float id = (TOP_LEVEL + (float)step * 0.1f) / max;
        const float trial_scale = 1.0f / id;
        for (int g = 0; g < 2; ++g)
            snap_group(lat, xval + GROUP * g, w_sqrt + GROUP * g, id, trial_scale, trial + GROUP * g,
                       &trial_on_grid[g]);
        float sum_qx, sum_q2;
        level_sums(16, w, xval, trial, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f && sum_qx * sum_qx > best * sum_q2) {
            scale = sum_qx / sum_q2;
            best = scale * sum_qx;
            memcpy(L, trial, sizeof L);
            on_grid[0] = trial_on_grid[0];
            on_grid[1] = trial_on_grid[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0.0f) {
        const float id = 1.0f / scale;
        int unused;
        for (int g = 0; g < 2; ++g)
            if (!on_grid[g]) snap_group(lat, xval + GROUP * g, w_sqrt + GROUP * g, id, scale, L + GROUP * g, &unused);
        float sum_qx, sum_q2;
        level_sums(16, w, xval, L, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f) scale = sum_qx / sum_q2;
    }
    if (scale < 0.0f) { /* a negative fit: store |scale| with every sign flipped */
        scale = -scale;
        for (int g = 0; g < 2; ++g)
            signs[g] = ~signs[g] & (ksigns ? 127u : 255u);
    }
    for (int g = 0; g < 2; ++g)
        entries[g] = group_entry(lat, L + GROUP * g);
    return scale;
}

void lowbit_quantize_row_iq2_xs(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&once_xs, build_xs);
    for (size_t b = 0; b < cols / QK_K; ++b) {
        const float *x = src + b * QK_K;
        const float *imp = importance ? importance + b * QK_K : NULL;
        unsigned char *out = (unsigned char *)dst + b * LOWBIT_IQ2_XS_BYTES;
        unsigned qs[32] = {0}; /* per group: grid entry | ksigns << 9 */
        float scales[16], max_scale = 0.0f, w[16], w_sqrt[16];
        const float sigma2 = sum_squares(x) / (float)QK_K;
        for (int ib = 0; ib < 16; ++ib) {
            int entries[2];
            unsigned signs[2];
            subblock_weights(x + 16 * ib, 16, imp ? imp + 16 * ib : NULL, sigma2, 0, w, w_sqrt);
            scales[ib] = iq2_pair_subblock(&lattice_xs, x + 16 * ib, w, w_sqrt, 1, 1e-15f, entries, signs);
            for (int g = 0; g < 2; ++g)
                qs[2 * ib + g] = (unsigned)entries[g] | signs[g] << 9;
            max_scale = max_of(max_scale, scales[ib]);
        }
        memset(out, 0, LOWBIT_IQ2_XS_BYTES);
        if (max_scale == 0.0f) continue;
        const float d = max_scale / 31.0f;
        lowbit_store_u16le(out + LOWBIT_IQ2_XS_D, lowbit_fp32_to_fp16(d));
        const float id = 1.0f / d;
        for (int ib = 0; ib < 16; ++ib)
            out[LOWBIT_IQ2_XS_SCALES + ib / 2] |= (unsigned char)(subscale_code(id, scales[ib]) << (4 * (ib % 2)));
        for (int g = 0; g < 32; ++g)
            lowbit_store_u16le(out + LOWBIT_IQ2_XS_QS + 2 * g, qs[g]);
    }
}

void lowbit_quantize_row_iq2_s(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&once_s, build_s);
    for (size_t b = 0; b < cols / QK_K; ++b) {
        const float *x = src + b * QK_K;
        const float *imp = importance ? importance + b * QK_K : NULL;
        unsigned char *out = (unsigned char *)dst + b * LOWBIT_IQ2_S_BYTES;
        float scales[16], max_scale = 0.0f, w[16], w_sqrt[16];
        memset(out, 0, LOWBIT_IQ2_S_BYTES);
        const float sigma2 = 2.0f * sum_squares(x) / (float)QK_K; /* twice IQ2_XXS/XS's σ², both forms */
        for (int ib = 0; ib < 16; ++ib) {
            int entries[2];
            unsigned signs[2];
            subblock_weights(x + 16 * ib, 16, imp ? imp + 16 * ib : NULL, sigma2, 1, w, w_sqrt);
            scales[ib] = iq2_pair_subblock(&lattice_s, x + 16 * ib, w, w_sqrt, 0, 1e-8f, entries, signs);
            for (int g = 0; g < 2; ++g) {
                const int group = 2 * ib + g;
                out[LOWBIT_IQ2_S_QS + group] = (unsigned char)(entries[g] & 255);
                out[LOWBIT_IQ2_S_QH + group / 4] |= (unsigned char)((entries[g] >> 8) << (2 * (group % 4)));
                out[LOWBIT_IQ2_S_QS + QK_K / 8 + group] = (unsigned char)signs[g];
            }
            max_scale = max_of(max_scale, scales[ib]);
        }
        if (max_scale == 0.0f) continue;
        const float d = max_scale / 31.0f;
        /* stored 1.25 % small (the reference's fudge factor); the nibbles are computed against the unscaled d */
        lowbit_store_u16le(out + LOWBIT_IQ2_S_D, lowbit_fp32_to_fp16(d * 0.9875f));
        const float id = 1.0f / d;
        for (int ib = 0; ib < 16; ++ib)
            out[LOWBIT_IQ2_S_SCALES + ib / 2] |= (unsigned char)(subscale_code(id, scales[ib]) << (4 * (ib % 2)));
    }
}
