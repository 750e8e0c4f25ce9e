/* iq3_quant.c — reference quantizers for the 3-bit grid formats IQ3_XXS (256-entry grid, 7-bit sign
 * indices of even parity) and IQ3_S (512-entry grid, full sign bytes), docs/formats.md §3.7 and §4.7. Their
 * bytes equal the pinned ggml's (quantize_iq3_xxs, quantize_iq3_s in ggml-quants.c), with an importance
 * vector and without one: every float operation below runs in the reference's order, unfused.
 *
 * The algorithm, per 32-element sub-block: signs are set aside and the magnitudes fitted on the lattice of
 * odd levels {1, 3, ..., 15}, four elements ("quad") at a time. Only the quads listed in the grid are
 * storable; for any other point of the 8^4 lattice a neighbour list (the grid entries at the two (IQ3_XXS)
 * or three (IQ3_S) smallest lattice distances, nearest first, ties by index) is searched for the entry of
 * least weighted distance. IQ3_XXS stores an even number of minus signs per 8 elements: with an odd count the
 * element of least w·x² gives up its sign (its magnitude becomes −|x|). A ladder of inverse scales is tried, each
 * trial's least-squares scale scored by (Σwxq)²/Σwq²; quads that had to leave the lattice are refitted once against the
 * winning scale. The super-scale is d = max_scale/31, stored times the reference's fudge factor (1.0125 IQ3_XXS, 1.033
 * IQ3_S), and each sub-scale is nearest_int(0.5·(scale/d − 1)) clamped to 0..15.
 *
 * Without an importance vector (importance == NULL) both formats use the reference's own rule, weights x²
 * (ggml_quantize_chunk accepts NULL for both; only the llama-quantize tool refuses IQ3_XXS without an
 * imatrix), so lowbit never needs a fallback of its own and its bytes still match ggml's. With one, the
 * weight of column j is importance[j]·sqrt(σ² + x²), σ² = 2·mean(x²) over the 256-element block.
 *
 * Where the reference does something odd, lowbit repeats it, because the bytes are the contract:
 *  - IQ3_XXS: a sub-block whose largest magnitude is < 1e-8 keeps grid index 0, no signs and sub-scale 0, so
 *    it decodes to +d (grid value 4 times d·0.5·0.5), not to 0; a block with every sub-scale 0 is all zero.
 *  - IQ3_S: a sub-block whose magnitudes are all exactly 0 is skipped without advancing the qs and signs
 *    write positions (qh and scales are indexed by sub-block), so later sub-blocks' indices and signs land
 *    earlier in the block and decode under the wrong sub-block's high bits and scale. Blocks without an
 *    all-zero sub-block are not affected.
 * Where the reference would abort (every neighbour's distance NaN, from NaN or overflowing inputs), lowbit
 * takes the nearest neighbour by lattice distance and carries on: no input makes it crash. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format_internal.h"

#include "../../shaders/common/lowbit_formats.h"
#include "../../shaders/common/lowbit_grids.h"

#define QK_K 256
#define SUB 32                /* elements per sub-block (one sub-scale) */
#define QUADS (SUB / 4)       /* grid entries per sub-block */
#define LEVELS 8              /* 3-bit levels; level l is the odd magnitude 2l + 1 */
#define LATTICE_POINTS 4096   /* four 3-bit levels packed as l0 | l1 << 3 | l2 << 6 | l3 << 9 */
#define MAX_LATTICE_DIST2 197 /* 4·7² + 1: squared level distances between two lattice points */

/* The neighbour lists' total lengths (one count plus the entries, per off-grid point), fixed by the grids in
 * lowbit_grids.h and the number of distances kept; lattice_build checks them. */
#define IQ3XXS_NEIGHBOUR_WORDS 22825
#define IQ3S_NEIGHBOUR_WORDS 28317

typedef struct iq3_lattice {
    int entries;                  /* 256 (IQ3_XXS) or 512 (IQ3_S) */
    uint16_t code[512];           /* entry → its lattice point (lowbit_grids.h's 16-bit code) */
    int32_t slot[LATTICE_POINTS]; /* point → its entry (≥ 0), or −1 − the offset of its neighbour list */
    uint16_t *neighbours;         /* per off-grid point: n, then n entries */
    size_t neighbour_words;       /* the lists' total length */
} iq3_lattice;

static const uint32_t iq3xxs_words[] = {LOWBIT_GRID_IQ3XXS_WORDS};
static const uint32_t iq3s_words[] = {LOWBIT_GRID_IQ3S_WORDS};

static iq3_lattice iq3xxs_lattice, iq3s_lattice;
static uint16_t iq3xxs_neighbours[IQ3XXS_NEIGHBOUR_WORDS], iq3s_neighbours[IQ3S_NEIGHBOUR_WORDS];
static pthread_once_t iq3xxs_once = PTHREAD_ONCE_INIT, iq3s_once = PTHREAD_ONCE_INIT;

static int point_level(unsigned point, int k) { return (int)((point >> (3 * k)) & 7u); }

/* Squared distance between two lattice points in level units (the reference measures odd magnitudes, 2l + 1,
 * which is 4× this for every pair, so the order is the same). */
static int lattice_dist2(unsigned a, unsigned b)
{
    int d2 = 0;
    for (int k = 0; k < 4; ++k) {
        const int d = point_level(a, k) - point_level(b, k);
        d2 += d * d;
    }
    return d2;
}

/* Fills the point → entry map and the neighbour lists of every point not in the grid: the entries at the
 * `kept` smallest distinct distances, in order of distance, then of index (the order the search breaks
 * ties in). */
static void lattice_build(iq3_lattice *lattice, const uint32_t *words, int entries, int kept, uint16_t *pool,
                          size_t pool_words)
{
    lattice->entries = entries;
    lattice->neighbours = pool;
    for (unsigned p = 0; p < LATTICE_POINTS; ++p)
        lattice->slot[p] = -1;
    for (int e = 0; e < entries; ++e) {
        lattice->code[e] = (uint16_t)((words[e / 2] >> (16 * (e % 2))) & 0xFFFFu);
        lattice->slot[lattice->code[e]] = e;
    }
    size_t used = 0;
    for (unsigned p = 0; p < LATTICE_POINTS; ++p) {
        if (lattice->slot[p] >= 0) continue;
        unsigned char dist2[512];
        int population[MAX_LATTICE_DIST2] = {0};
        for (int e = 0; e < entries; ++e) {
            dist2[e] = (unsigned char)lattice_dist2(p, lattice->code[e]);
            ++population[dist2[e]];
        }
        int chosen[3], nchosen = 0, n = 0;
        for (int d = 0; d < MAX_LATTICE_DIST2 && nchosen < kept; ++d)
            if (population[d]) {
                chosen[nchosen++] = d;
                n += population[d];
            }
        /* The grids are constants, so the pool sizes are too; running out means they no longer agree. */
        if (used + 1 + (size_t)n > pool_words) abort();
        lattice->slot[p] = -1 - (int32_t)used;
        pool[used++] = (uint16_t)n;
        for (int c = 0; c < nchosen; ++c)
            for (int e = 0; e < entries; ++e)
                if (dist2[e] == chosen[c]) pool[used++] = (uint16_t)e;
    }
    lattice->neighbour_words = used;
}

static void iq3xxs_lattice_init(void)
{
    lattice_build(&iq3xxs_lattice, iq3xxs_words, LOWBIT_GRID_IQ3XXS_ENTRIES, 2, iq3xxs_neighbours,
                  IQ3XXS_NEIGHBOUR_WORDS);
}

static void iq3s_lattice_init(void)
{
    lattice_build(&iq3s_lattice, iq3s_words, LOWBIT_GRID_IQ3S_ENTRIES, 3, iq3s_neighbours, IQ3S_NEIGHBOUR_WORDS);
}

/* nearest_int of docs/formats.md §1.3, bit for bit: adding 1.5·2^23 leaves round-half-even(v) + 2^22 in the
 * low mantissa bits. Outside |v| < 2^22 (and for NaN) it returns the same wrapped value the reference gets;
 * every caller clamps the result. */
static int nearest_int(float v)
{
    const float shifted = v + 12582912.0f;
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (int)(bits & 0x7FFFFFu) - 0x400000;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* The reference's MAX(a, b) = a > b ? a : b, NaN handling included (a NaN b wins, a NaN a loses). */
static float max_of(float a, float b) { return a > b ? a : b; }

/* The level of magnitude x at inverse scale id: the odd magnitude 2l + 1 nearest id·x. */
static int8_t level_at(float id, float x)
{
    return (int8_t)clamp_int(nearest_int(0.5f * (id * x - 1.0f)), 0, LEVELS - 1);
}

static unsigned quad_point(const int8_t *levels)
{
    return (unsigned)levels[0] | (unsigned)levels[1] << 3 | (unsigned)levels[2] << 6 | (unsigned)levels[3] << 9;
}

static void entry_levels(const iq3_lattice *lattice, int entry, int8_t *levels)
{
    for (int k = 0; k < 4; ++k)
        levels[k] = (int8_t)point_level(lattice->code[entry], k);
}

/* The entry of an off-grid point's neighbour list closest to the quad x at `scale`, by Σ w·(scale·q − x)²
 * (w: the square roots of the weights); the first of equal distances wins. Its levels go to `levels`. */
static int best_neighbour(const iq3_lattice *lattice, int32_t slot, const float *x, const float *w, float scale,
                          int8_t *levels)
{
    const uint16_t *list = lattice->neighbours + (-1 - slot);
    float best_d2 = FLT_MAX;
    int best = list[1]; /* every distance NaN: the nearest on the lattice (the reference aborts here) */
    for (int j = 1; j <= list[0]; ++j) {
        float d2 = 0.0f;
        for (int k = 0; k < 4; ++k) {
            const float q = (float)(2 * point_level(lattice->code[list[j]], k) + 1);
            const float diff = scale * q - x[k];
            d2 += w[k] * diff * diff;
        }
        if (d2 < best_d2) {
            best_d2 = d2;
            best = list[j];
        }
    }
    entry_levels(lattice, best, levels);
    return best;
}

/* How the two formats' searches differ. */
typedef struct iq3_rules {
    const iq3_lattice *lattice;
    int steps;          /* inverse scales (15 + 0.2·i)/max for i = −steps..steps: 15 (XXS), 9 (S) */
    bool start_on_grid; /* the quads' state when no trial wins: on grid (XXS, so no refit) or off (S) */
    bool refit_all;     /* the refit redoes every quad (S) or only those off the grid (XXS) */
} iq3_rules;

/* Weighted sums Σw·x·q and Σw·q² of a sub-block at levels L (q = 2l + 1), in element order. */
static void weighted_sums(const float *xval, const float *weight, const int8_t *L, float *sum_qx, float *sum_q2)
{
    float qx = 0.0f, q2 = 0.0f;
    for (int i = 0; i < SUB; ++i) {
        const float q = (float)(2 * L[i] + 1);
        qx += weight[i] * xval[i] * q;
        q2 += weight[i] * q * q;
    }
    *sum_qx = qx;
    *sum_q2 = q2;
}

/* The scale search of one sub-block of magnitudes xval (largest `max`, > 0); L receives levels whose quads
 * are all grid entries. Returns the scale. */
static float search_sub_block(const iq3_rules *rules, const float *xval, const float *weight, const float *wroot,
                              float max, int8_t *L)
{
    const iq3_lattice *lattice = rules->lattice;
    float best = 0.0f, scale = max / 15.0f;
    bool on_grid[QUADS];
    memset(L, 0, SUB); /* level 0 on every element: a grid entry (index 0) in both grids */
    for (int k = 0; k < QUADS; ++k)
        on_grid[k] = rules->start_on_grid;
    for (int step = -rules->steps; step <= rules->steps; ++step) {
        const float id = (15.0f + (float)step * 0.2f) / max;
        const float trial_scale = 1.0f / id;
        int8_t trial[SUB];
        bool trial_on_grid[QUADS];
        for (int k = 0; k < QUADS; ++k) {
            for (int i = 0; i < 4; ++i)
                trial[4 * k + i] = level_at(id, xval[4 * k + i]);
            const int32_t slot = lattice->slot[quad_point(trial + 4 * k)];
            trial_on_grid[k] = slot >= 0;
            if (slot < 0) best_neighbour(lattice, slot, xval + 4 * k, wroot + 4 * k, trial_scale, trial + 4 * k);
        }
        float sum_qx, sum_q2;
        weighted_sums(xval, weight, trial, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f && sum_qx * sum_qx > best * sum_q2) {
            scale = sum_qx / sum_q2;
            best = scale * sum_qx;
            memcpy(L, trial, SUB);
            memcpy(on_grid, trial_on_grid, sizeof on_grid);
        }
    }
    int off_grid = 0;
    for (int k = 0; k < QUADS; ++k)
        off_grid += !on_grid[k];
    if (off_grid > 0 && scale > 0.0f) {
        /* Quads that left the lattice were matched to a neighbour at their trial's scale; match them
         * again at the winning one, then refit the scale. */
        const float id = 1.0f / scale;
        for (int k = 0; k < QUADS; ++k) {
            if (on_grid[k] && !rules->refit_all) continue;
            int8_t levels[4];
            for (int i = 0; i < 4; ++i)
                levels[i] = level_at(id, xval[4 * k + i]);
            const int32_t slot = lattice->slot[quad_point(levels)];
            if (slot >= 0)
                memcpy(L + 4 * k, levels, 4);
            else
                best_neighbour(lattice, slot, xval + 4 * k, wroot + 4 * k, scale, L + 4 * k);
        }
        float sum_qx, sum_q2;
        weighted_sums(xval, weight, L, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f) scale = sum_qx / sum_q2;
    }
    return scale;
}

/* Grid entry of quad k of L (always on the grid: the search only keeps grid entries). */
static int quad_entry(const iq3_lattice *lattice, const int8_t *L, int k)
{
    const int32_t slot = lattice->slot[quad_point(L + 4 * k)];
    return slot >= 0 ? (int)slot : 0;
}

/* σ² = 2·mean(x²) of the block, the importance weights' floor. */
static float block_sigma2(const float *x)
{
    float sum_x2 = 0.0f;
    for (int i = 0; i < QK_K; ++i)
        sum_x2 += x[i] * x[i];
    return 2.0f * sum_x2 / (float)QK_K;
}

/* Weights of one sub-block, and their square roots (the neighbour search's weights). */
static void sub_block_weights(const float *x, const float *importance, float sigma2, float *weight, float *wroot)
{
    for (int i = 0; i < SUB; ++i)
        weight[i] = importance ? importance[i] * sqrtf(sigma2 + x[i] * x[i]) : x[i] * x[i];
    for (int i = 0; i < SUB; ++i)
        wroot[i] = sqrtf(weight[i]);
}

/* The magnitudes of 8 elements and their sign mask (bit i: element i negative). */
static unsigned split_signs(const float *x, float *xval)
{
    unsigned mask = 0;
    for (int i = 0; i < 8; ++i) {
        if (x[i] >= 0.0f) {
            xval[i] = x[i];
        } else {
            xval[i] = -x[i];
            mask |= 1u << i;
        }
    }
    return mask;
}

static bool odd_count(unsigned mask)
{
    bool odd = false;
    for (; mask; mask &= mask - 1)
        odd = !odd;
    return odd;
}

static float largest(const float *xval)
{
    float max = xval[0];
    for (int i = 1; i < SUB; ++i)
        max = max_of(max, xval[i]);
    return max;
}

/* The f16 super-scale (d·fudge) and the 4-bit sub-scales, nearest_int(0.5·(scale/d − 1)), d unrounded. */
static uint16_t super_scale(const float *scales, float max_scale, float fudge, int *sub_scales)
{
    const float d = max_scale / 31.0f;
    const float id = 1.0f / d;
    for (int ib = 0; ib < QK_K / SUB; ++ib)
        sub_scales[ib] = clamp_int(nearest_int(0.5f * (id * scales[ib] - 1.0f)), 0, 15);
    return lowbit_fp32_to_fp16(d * fudge);
}

/* IQ3_XXS block: d, 64 grid indices (qs[8b + k]), then per sub-block a u32 of four 7-bit sign indices
 * (bits 7g..7g+6) and the 4-bit sub-scale (bits 28-31). */
static void quantize_block_iq3_xxs(const float *x, const float *importance, unsigned char *out)
{
    static const iq3_rules rules = {&iq3xxs_lattice, 15, true, false};
    unsigned char *grid_index = out + LOWBIT_IQ3_XXS_QS;
    unsigned char *sign_words = grid_index + QK_K / 4;
    memset(out, 0, LOWBIT_IQ3_XXS_BYTES);
    const float sigma2 = block_sigma2(x);
    float scales[QK_K / SUB], max_scale = 0.0f;
    uint32_t signs[QK_K / SUB] = {0};
    for (int ib = 0; ib < QK_K / SUB; ++ib) {
        const float *xb = x + SUB * ib;
        float weight[SUB], wroot[SUB], xval[SUB];
        sub_block_weights(xb, importance ? importance + SUB * ib : NULL, sigma2, weight, wroot);
        uint32_t sub_signs = 0;
        for (int g = 0; g < SUB / 8; ++g) {
            unsigned mask = split_signs(xb + 8 * g, xval + 8 * g);
            /* Only an even count of minus signs is storable: an odd one gives up the sign of the element
             * that matters least (smallest w·x², the first of equals), whose magnitude becomes −|x|. */
            if (odd_count(mask)) {
                const float *wg = weight + 8 * g, *xg = xb + 8 * g;
                int imin = 0;
                float min = wg[0] * xg[0] * xg[0];
                for (int i = 1; i < 8; ++i) {
                    const float v = wg[i] * xg[i] * xg[i];
                    if (v < min) {
                        min = v;
                        imin = i;
                    }
                }
                xval[8 * g + imin] = -xval[8 * g + imin];
                mask ^= 1u << imin;
            }
            sub_signs |= (uint32_t)(mask & 127u) << (7 * g);
        }
        const float max = largest(xval);
        if (max < 1e-8f) { /* nothing to fit: index 0, no signs, sub-scale 0 */
            scales[ib] = 0.0f;
            continue;
        }
        int8_t L[SUB];
        float scale = search_sub_block(&rules, xval, weight, wroot, max, L);
        if (scale < 0.0f) { /* not expected (importance ≥ 0); handled as the reference does */
            scale = -scale;
            sub_signs = ~sub_signs & 0x0FFFFFFFu;
        }
        for (int k = 0; k < QUADS; ++k)
            grid_index[QUADS * ib + k] = (unsigned char)quad_entry(&iq3xxs_lattice, L, k);
        signs[ib] = sub_signs;
        scales[ib] = scale;
        max_scale = max_of(max_scale, scale);
    }
    if (max_scale == 0.0f) {
        memset(out, 0, LOWBIT_IQ3_XXS_BYTES);
        return;
    }
    int sub_scales[QK_K / SUB];
    lowbit_store_u16le(out + LOWBIT_IQ3_XXS_D, super_scale(scales, max_scale, 1.0125f, sub_scales));
    for (int ib = 0; ib < QK_K / SUB; ++ib) {
        const uint32_t word = signs[ib] | (uint32_t)sub_scales[ib] << 28;
        lowbit_store_u16le(sign_words + 4 * ib, word & 0xFFFFu);
        lowbit_store_u16le(sign_words + 4 * ib + 2, word >> 16);
    }
}

/* IQ3_S block: d, qs[64] (low 8 index bits), qh[8] (bit k of qh[b]: bit 8 of quad k's index), signs[32]
 * (one byte per 8 elements), scales[4] (two 4-bit sub-scales per byte, low nibble first). */
static void quantize_block_iq3_s(const float *x, const float *importance, unsigned char *out)
{
    static const iq3_rules rules = {&iq3s_lattice, 9, false, true};
    unsigned char *qs = out + LOWBIT_IQ3_S_QS, *qh = out + LOWBIT_IQ3_S_QH, *sign_bytes = out + LOWBIT_IQ3_S_SIGNS;
    memset(out, 0, LOWBIT_IQ3_S_BYTES);
    const float sigma2 = block_sigma2(x);
    float scales[QK_K / SUB], max_scale = 0.0f;
    int written = 0; /* sub-blocks whose indices and signs are stored (the reference's cursor, see above) */
    for (int ib = 0; ib < QK_K / SUB; ++ib) {
        const float *xb = x + SUB * ib;
        float weight[SUB], wroot[SUB], xval[SUB];
        sub_block_weights(xb, importance ? importance + SUB * ib : NULL, sigma2, weight, wroot);
        unsigned char masks[SUB / 8];
        for (int g = 0; g < SUB / 8; ++g)
            masks[g] = (unsigned char)split_signs(xb + 8 * g, xval + 8 * g);
        const float max = largest(xval);
        if (max == 0.0f) {
            scales[ib] = 0.0f;
            continue;
        }
        int8_t L[SUB];
        float scale = search_sub_block(&rules, xval, weight, wroot, max, L);
        if (scale < 0.0f) { /* not expected (importance ≥ 0); handled as the reference does */
            scale = -scale;
            for (int g = 0; g < SUB / 8; ++g)
                masks[g] = (unsigned char)~masks[g];
        }
        for (int k = 0; k < QUADS; ++k) {
            const int entry = quad_entry(&iq3s_lattice, L, k);
            qs[QUADS * written + k] = (unsigned char)(entry & 255);
            qh[ib] |= (unsigned char)((entry >> 8) << k);
        }
        memcpy(sign_bytes + (SUB / 8) * written, masks, sizeof masks);
        ++written;
        scales[ib] = scale;
        max_scale = max_of(max_scale, scale);
    }
    if (max_scale == 0.0f) return; /* d = 0; whatever was stored decodes to zeros */
    int sub_scales[QK_K / SUB];
    lowbit_store_u16le(out + LOWBIT_IQ3_S_D, super_scale(scales, max_scale, 1.033f, sub_scales));
    for (int ib = 0; ib < QK_K / SUB; ib += 2)
        out[LOWBIT_IQ3_S_SCALES + ib / 2] = (unsigned char)(sub_scales[ib] | sub_scales[ib + 1] << 4);
}

void lowbit_quantize_row_iq3_xxs(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&iq3xxs_once, iq3xxs_lattice_init);
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_iq3_xxs(src + QK_K * b, importance ? importance + QK_K * b : NULL,
                               out + LOWBIT_IQ3_XXS_BYTES * b);
}

void lowbit_quantize_row_iq3_s(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&iq3s_once, iq3s_lattice_init);
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK_K; ++b)
        quantize_block_iq3_s(src + QK_K * b, importance ? importance + QK_K * b : NULL, out + LOWBIT_IQ3_S_BYTES * b);
}
