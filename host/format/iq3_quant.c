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
 * IQ3_S), and each sub-scale is nearest_int(0.5·(scale/d − 1)) clamped to 0..15. The lattices (built once, under
 * pthread_once, from lowbit_grids.h), the neighbour search and the sweep are grid_search.c's, shared with the IQ1
 * and IQ2 quantizers.
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
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "format_internal.h"
#include "grid_search.h"

#include "../../shaders/common/lowbit_formats.h"
#include "../../shaders/common/lowbit_grids.h"

#define QK_K LOWBIT_GRID_BLOCK
#define SUB 32          /* elements per sub-block (one sub-scale) */
#define QUADS (SUB / 4) /* grid entries per sub-block */

static const uint32_t iq3xxs_words[] = {LOWBIT_GRID_IQ3XXS_WORDS};
static const uint32_t iq3s_words[] = {LOWBIT_GRID_IQ3S_WORDS};

/* Quads of 3-bit levels (level l is the odd magnitude 2l + 1); the neighbour lists keep the entries at the two
 * (IQ3_XXS) or three (IQ3_S) smallest distances. */
static lowbit_grid_lattice iq3xxs_lattice = {
    .words = iq3xxs_words, .entries = LOWBIT_GRID_IQ3XXS_ENTRIES, .dims = 4, .levels = 8, .bits = 3, .shells = 2};
static lowbit_grid_lattice iq3s_lattice = {
    .words = iq3s_words, .entries = LOWBIT_GRID_IQ3S_ENTRIES, .dims = 4, .levels = 8, .bits = 3, .shells = 3};
static pthread_once_t iq3xxs_once = PTHREAD_ONCE_INIT, iq3s_once = PTHREAD_ONCE_INIT;
static void iq3xxs_lattice_init(void) { lowbit_grid_lattice_build(&iq3xxs_lattice); }
static void iq3s_lattice_init(void) { lowbit_grid_lattice_build(&iq3s_lattice); }

/* The two formats' sweeps: inverse scales (15 + 0.2·i)/max for i = −15..15 (XXS) or −9..9 (S); when no trial
 * wins the quads count as on the grid (XXS, so no refit) or off it (S); the refit redoes only the quads off the
 * grid (XXS) or every quad (S). */
static const lowbit_grid_sweep iq3xxs_sweep = {&iq3xxs_lattice, 15.0f, 0.2f, 15, true, false, false};
static const lowbit_grid_sweep iq3s_sweep = {&iq3s_lattice, 15.0f, 0.2f, 9, false, false, true};

/* The f16 super-scale (d·fudge) and the 4-bit sub-scales, nearest_int(0.5·(scale/d − 1)), d unrounded. */
static uint16_t super_scale(const float *scales, float max_scale, float fudge, int *sub_scales)
{
    const float d = lowbit_grid_sub_scales(scales, QK_K / SUB, max_scale, 31.0f, 15, sub_scales);
    return lowbit_fp32_to_fp16(d * fudge);
}

/* One 32-element sub-block xb of IQ3_XXS (`xxs`: sign masks of even parity per 8, unfitted below a largest
 * magnitude of 1e-8) or IQ3_S (any signs, unfitted only when all zero): the sign mask of each 8 elements and,
 * unless unfitted (false: nothing is stored), the scale and the 8 quads' grid entries. A negative fit (not expected,
 * importance ≥ 0) is stored as the reference does, |scale| with every sign flipped. */
static bool fit_sub_block(const lowbit_grid_sweep *sweep, bool xxs, const float *xb, const float *importance,
                          float sigma2, unsigned masks[SUB / 8], int entries[QUADS], float *scale)
{
    float weight[SUB], wroot[SUB], xval[SUB];
    int8_t L[SUB];
    lowbit_grid_weights(xb, SUB, importance, sigma2, LOWBIT_GRID_WEIGHTS_X2, weight, wroot);
    for (int g = 0; g < SUB / 8; ++g)
        masks[g] = lowbit_grid_group_signs(xb + 8 * g, weight + 8 * g, xval + 8 * g, xxs);
    const float max = lowbit_grid_largest(xval, SUB);
    if (xxs ? max < 1e-8f : max == 0.0f) return false;
    *scale = lowbit_grid_sweep_scale(sweep, SUB, xval, weight, wroot, max, max / 15.0f, L);
    if (*scale < 0.0f) {
        *scale = -*scale;
        for (int g = 0; g < SUB / 8; ++g)
            masks[g] = ~masks[g];
    }
    for (int k = 0; k < QUADS; ++k)
        entries[k] = lowbit_grid_entry(sweep->lattice, L + 4 * k);
    return true;
}

/* IQ3_XXS block: d, 64 grid indices (qs[8b + k]), then per sub-block a u32 of four 7-bit sign indices
 * (bits 7g..7g+6) and the 4-bit sub-scale (bits 28-31). An unfitted sub-block keeps index 0, no signs and
 * sub-scale 0. */
static void quantize_block_iq3_xxs(const float *x, const float *importance, unsigned char *out)
{
    unsigned char *grid_index = out + LOWBIT_IQ3_XXS_QS;
    unsigned char *sign_words = grid_index + QK_K / 4;
    memset(out, 0, LOWBIT_IQ3_XXS_BYTES);
    const float sigma2 = 2.0f * lowbit_grid_sum_squares(x, QK_K) / (float)QK_K;
    float scales[QK_K / SUB] = {0}, max_scale = 0.0f;
    uint32_t signs[QK_K / SUB] = {0};
    for (int ib = 0; ib < QK_K / SUB; ++ib) {
        unsigned masks[SUB / 8];
        int entries[QUADS];
        if (!fit_sub_block(&iq3xxs_sweep, true, x + SUB * ib, importance ? importance + SUB * ib : NULL, sigma2, masks,
                           entries, &scales[ib]))
            continue;
        for (int k = 0; k < QUADS; ++k)
            grid_index[QUADS * ib + k] = (unsigned char)entries[k];
        for (int g = 0; g < SUB / 8; ++g)
            signs[ib] |= (uint32_t)(masks[g] & 127u) << (7 * g);
        max_scale = lowbit_grid_max_of(max_scale, scales[ib]);
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
    unsigned char *qs = out + LOWBIT_IQ3_S_QS, *qh = out + LOWBIT_IQ3_S_QH, *sign_bytes = out + LOWBIT_IQ3_S_SIGNS;
    memset(out, 0, LOWBIT_IQ3_S_BYTES);
    const float sigma2 = 2.0f * lowbit_grid_sum_squares(x, QK_K) / (float)QK_K;
    float scales[QK_K / SUB] = {0}, max_scale = 0.0f;
    int written = 0; /* sub-blocks whose indices and signs are stored (the reference's cursor, see above) */
    for (int ib = 0; ib < QK_K / SUB; ++ib) {
        unsigned masks[SUB / 8];
        int entries[QUADS];
        if (!fit_sub_block(&iq3s_sweep, false, x + SUB * ib, importance ? importance + SUB * ib : NULL, sigma2, masks,
                           entries, &scales[ib]))
            continue;
        for (int k = 0; k < QUADS; ++k) {
            qs[QUADS * written + k] = (unsigned char)(entries[k] & 255);
            qh[ib] |= (unsigned char)((entries[k] >> 8) << k);
        }
        for (int g = 0; g < SUB / 8; ++g)
            sign_bytes[(SUB / 8) * written + g] = (unsigned char)masks[g];
        ++written;
        max_scale = lowbit_grid_max_of(max_scale, scales[ib]);
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
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ3_XXS_BYTES, quantize_block_iq3_xxs);
}

void lowbit_quantize_row_iq3_s(const float *src, void *dst, size_t cols, const float *importance)
{
    pthread_once(&iq3s_once, iq3s_lattice_init);
    lowbit_grid_quantize_blocks(src, dst, cols, importance, LOWBIT_IQ3_S_BYTES, quantize_block_iq3_s);
}
