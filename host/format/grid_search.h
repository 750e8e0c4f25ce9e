/* grid_search.h — the pieces the grid-format quantizers share (iq1_quant.c, iq2_quant.c, iq3_quant.c; docs/formats.md
 * §4.7): a codebook of shaders/common/lowbit_grids.h as a lattice with its point → entry map and neighbour lists,
 * the weighted neighbour search that puts an off-grid group on the grid, the scale sweep of the IQ2 and IQ3
 * formats, their sign handling, element weights and super-block scales. Every float operation is ggml's, in
 * ggml's order, so each format's bytes stay equal to the pinned ggml's. */
#ifndef LOWBIT_GRID_SEARCH_H
#define LOWBIT_GRID_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOWBIT_GRID_BLOCK 256                                /* elements per super-block, every grid format */
#define LOWBIT_GRID_MAX_DIMS 8                               /* elements per entry: 8 (IQ1, IQ2) or 4 (IQ3) */
#define LOWBIT_GRID_MAX_LEVELS 8                             /* levels per element: 3 (IQ1, IQ2) or 8 (IQ3) */
#define LOWBIT_GRID_MAX_ENTRIES 2048                         /* IQ1_S / IQ1_M */
#define LOWBIT_GRID_MAX_KEYS 6561                            /* 3^8 (IQ1, IQ2); IQ3's 8^4 = 4096 fits */
#define LOWBIT_GRID_MAX_SUB 32                               /* elements per sub-block the sweep takes */
#define LOWBIT_GRID_MAX_GROUPS (LOWBIT_GRID_MAX_SUB / 4)     /* groups per sub-block: IQ3's 8 quads */
#define LOWBIT_GRID_MAX_DIST2 (LOWBIT_GRID_MAX_DIMS * 7 * 7) /* squared level distance between two points */

/* A codebook on its lattice. A point is one level 0..levels−1 per element; its key is the base-`levels` number
 * with element 0 least significant (IQ3: the 3-bit fields of its grid code). The format fills the first six
 * fields; lowbit_grid_lattice_build the rest. */
typedef struct lowbit_grid_lattice {
    const uint32_t *words; /* lowbit_grids.h: entry e is the 16-bit code in half e % 2 of words[e / 2] */
    int entries;
    int dims;   /* elements per entry */
    int levels; /* levels per element */
    int bits;   /* bits per element in a code: element k's level is (code >> bits·k) & (2^bits − 1) */
    int shells; /* neighbour lists hold the entries at this many smallest distinct distances */
    int keys;   /* levels^dims */
    int8_t level[LOWBIT_GRID_MAX_ENTRIES][LOWBIT_GRID_MAX_DIMS]; /* entry e, element k */
    int32_t slot[LOWBIT_GRID_MAX_KEYS]; /* per key: ≥ 0 its entry; < 0: −1 − the offset of its list */
    uint16_t *neighbours;   /* per off-grid key a count, then its entries; NULL if the allocation failed, and each
                               lookup then rebuilds the list it needs (same answers, slower) */
    size_t neighbour_words; /* the lists' total length, counts included */
} lowbit_grid_lattice;

/* Decodes the codebook and fills the map and the lists: every entry at one of the `shells` smallest squared
 * level distances from the point, nearest first and by index within one distance (the order in which the
 * neighbour search meets them, which decides its ties). Run once per lattice (the formats use pthread_once). */
void lowbit_grid_lattice_build(lowbit_grid_lattice *lattice);

/* The key of a point; levels outside 0..levels−1 are clamped, so any input indexes the map safely. */
static inline int lowbit_grid_key(const lowbit_grid_lattice *lattice, const int8_t *levels)
{
    int key = 0;
    for (int k = lattice->dims - 1; k >= 0; --k) {
        const int l = levels[k] < 0 ? 0 : (levels[k] >= lattice->levels ? lattice->levels - 1 : levels[k]);
        key = lattice->levels * key + l;
    }
    return key;
}

/* Puts the group x (dims elements, weights w) on the grid: when `levels` is an entry it stays; otherwise the
 * neighbour with the least Σ w·(scale·value[l] − x)² replaces it (strictly less wins, so the first of equals
 * stays; when no distance compares, as with NaN input, the first neighbour, where ggml aborts). Returns the
 * entry; *on_grid says whether `levels` already was one. */
int lowbit_grid_snap(const lowbit_grid_lattice *lattice, const float *x, const float *w, float scale,
                     const float *value, int8_t *levels, int *on_grid);

/* The entry of a finished point: its own; for a point off the grid (the quantizers pass none: every point they
 * finish was put on the grid) the first of its neighbours rather than an out-of-range read. */
int lowbit_grid_entry(const lowbit_grid_lattice *lattice, const int8_t *levels);

/* ggml's nearest_int: adding 1.5·2^23 rounds to an integer (half to even) and the low mantissa bits hold it.
 * Exact for |v| < 2^22; beyond that (and for NaN or Inf) it returns the same wrapped value as the reference,
 * with integer operations only, never an undefined conversion. Callers clamp the result. */
static inline int lowbit_grid_nearest_int(float v)
{
    const float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007FFFFF) - 0x00400000;
}

static inline int lowbit_grid_clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* ggml's MAX(a, b) = a > b ? a : b, kept as written (it decides which operand survives a NaN). */
static inline float lowbit_grid_max_of(float a, float b) { return a > b ? a : b; }

/* The largest of v[0..n), folded with lowbit_grid_max_of from v[0]. */
float lowbit_grid_largest(const float *v, int n);

/* Σx² over n elements, in element order. */
float lowbit_grid_sum_squares(const float *x, int n);

/* The weights without an importance vector. */
typedef enum lowbit_grid_plain_weights {
    LOWBIT_GRID_WEIGHTS_X2,         /* x²: ggml's own (IQ1_M, IQ3_XXS, IQ3_S) */
    LOWBIT_GRID_WEIGHTS_UNIT,       /* √(σ² + x²): an all-ones importance vector (IQ1_S, IQ2_XXS, IQ2_XS) */
    LOWBIT_GRID_WEIGHTS_QUARTER_SIG /* σ²/4 + x²: ggml's own (IQ2_S) */
} lowbit_grid_plain_weights;

/* Weights of n elements: importance[i]·√(σ² + x²) with an importance vector, else by `plain`; and, unless
 * w_sqrt is NULL, their square roots (the neighbour search's weights in IQ2 and IQ3). */
void lowbit_grid_weights(const float *x, int n, const float *importance, float sigma2, lowbit_grid_plain_weights plain,
                         float *w, float *w_sqrt);

/* Magnitudes of a group of 8 and its sign mask (bit k: element k negative, NaN counting as negative). With
 * `even_parity` (the ksigns formats, whose 8th sign bit is the parity of the other 7) an odd count of negatives
 * is made even by flipping the element with the smallest w·x² (the first such): its magnitude becomes
 * negative, so the fit sees the value the stored sign will produce. */
unsigned lowbit_grid_group_signs(const float *x, const float *w, float *xval, bool even_parity);

/* How an IQ2 or IQ3 format sweeps the scale of a sub-block of magnitudes on its lattice of odd levels 2l + 1. */
typedef struct lowbit_grid_sweep {
    const lowbit_grid_lattice *lattice;
    float top;          /* trial inverse scales (top + step·i)/max, i = −steps..steps; top is the largest level */
    float step;         /* 0.1 (IQ2) or 0.2 (IQ3) */
    int steps;          /* 6 (IQ2_XXS), 9 (IQ2_XS, IQ2_S, IQ3_S) or 15 (IQ3_XXS) */
    bool start_on_grid; /* the groups' state when no trial wins: on the grid, or off (IQ3_S) */
    bool refit_always;  /* re-round after the sweep even when the winner's groups were all on the grid (IQ2_XXS) */
    bool refit_all;     /* re-round every group, not only those that had to take a neighbour (IQ2_XXS, IQ3_S) */
} lowbit_grid_sweep;

/* The sweep over one sub-block of n magnitudes xval (largest `max`, > 0; weights w and their roots w_sqrt),
 * starting from `scale`: per trial every group is rounded to the lattice, l = nearest_int(0.5·(id·x − 1)), and
 * put on the grid at the trial's scale; the trial's least-squares scale Σwxq/Σwq² is scored by (Σwxq)²/Σwq².
 * The winner's groups are then re-rounded at its scale as the sweep says and the scale refitted. L receives
 * the levels, every group a grid entry (level 0 everywhere, entry 0, when no trial wins, until a refit); returns
 * the scale. */
float lowbit_grid_sweep_scale(const lowbit_grid_sweep *sweep, int n, const float *xval, const float *w,
                              const float *w_sqrt, float max, float scale, int8_t *L);

/* The super-block scale d = max_scale/divisor and each of the n sub-block scales' codes
 * clamp(nearest_int(0.5·(scale/d − 1)), 0, max_code), so scale ≈ d·(2c + 1); returns d, unrounded. */
float lowbit_grid_sub_scales(const float *scales, int n, float max_scale, float divisor, int max_code, int *codes);

/* One row: `block` on each 256-element super-block (importance offset alike, or NULL), block_bytes apart. */
typedef void (*lowbit_grid_block_fn)(const float *x, const float *importance, unsigned char *out);
void lowbit_grid_quantize_blocks(const float *src, void *dst, size_t cols, const float *importance, size_t block_bytes,
                                 lowbit_grid_block_fn block);

#endif
