/* grid_search.c — the lattice, neighbour search, scale sweep and shared arithmetic of the grid-format quantizers
 * (grid_search.h says what each does; iq1_quant.c, iq2_quant.c and iq3_quant.c use them). */
#include "grid_search.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* The loops over a group's elements take its size (dims) and level count as arguments and are always inlined;
 * each public function calls them with the two shapes the formats use, 8 elements of 3 levels (IQ1, IQ2) and 4
 * of 8 (IQ3), as constants, so that the compiler unrolls them, and with the lattice's own values otherwise. */
#define HOT static inline __attribute__((always_inline))
#define SHAPE(lattice, d, l) ((lattice)->dims == (d) && (lattice)->levels == (l))

/* Level l's magnitude on the IQ2/IQ3 lattices, 2l + 1. */
static const float odd_level[LOWBIT_GRID_MAX_LEVELS] = {1.0f, 3.0f, 5.0f, 7.0f, 9.0f, 11.0f, 13.0f, 15.0f};

static void key_levels(const lowbit_grid_lattice *lattice, int key, int8_t *levels)
{
    for (int k = 0; k < lattice->dims; ++k, key /= lattice->levels)
        levels[k] = (int8_t)(key % lattice->levels);
}

HOT int collect_shape(const lowbit_grid_lattice *lattice, const int8_t *levels, uint16_t *out, int dims)
{
    uint16_t distance[LOWBIT_GRID_MAX_ENTRIES];
    int count[LOWBIT_GRID_MAX_DIST2 + 1] = {0};
    for (int e = 0; e < lattice->entries; ++e) {
        int d2 = 0;
        for (int k = 0; k < dims; ++k) {
            const int diff = lattice->level[e][k] - levels[k];
            d2 += diff * diff;
        }
        distance[e] = (uint16_t)d2;
        ++count[d2];
    }
    int n = 0, shells = 0;
    for (int d2 = 0; d2 <= LOWBIT_GRID_MAX_DIST2 && shells < lattice->shells; ++d2) {
        if (!count[d2]) continue;
        ++shells;
        if (!out) {
            n += count[d2];
            continue;
        }
        for (int e = 0; e < lattice->entries; ++e)
            if (distance[e] == d2) out[n++] = (uint16_t)e;
    }
    return n;
}

/* The neighbour list of the off-grid point `levels` (grid_search.h: lowbit_grid_lattice_build), written to `out`
 * unless it is NULL; returns its length. */
static int collect_neighbours(const lowbit_grid_lattice *lattice, const int8_t *levels, uint16_t *out)
{
    if (SHAPE(lattice, 8, 3)) return collect_shape(lattice, levels, out, 8);
    if (SHAPE(lattice, 4, 8)) return collect_shape(lattice, levels, out, 4);
    return collect_shape(lattice, levels, out, lattice->dims);
}

/* Two passes over the off-grid keys: count the lists (placing each), then fill one allocation. */
void lowbit_grid_lattice_build(lowbit_grid_lattice *lattice)
{
    const unsigned mask = (1u << lattice->bits) - 1u;
    lattice->keys = 1;
    for (int k = 0; k < lattice->dims; ++k)
        lattice->keys *= lattice->levels;
    for (int key = 0; key < lattice->keys; ++key)
        lattice->slot[key] = -1;
    for (int e = 0; e < lattice->entries; ++e) {
        const unsigned code = (lattice->words[e / 2] >> (16 * (e % 2))) & 0xFFFFu;
        for (int k = 0; k < lattice->dims; ++k)
            lattice->level[e][k] = (int8_t)((code >> (lattice->bits * k)) & mask);
        lattice->slot[lowbit_grid_key(lattice, lattice->level[e])] = e;
    }
    int8_t levels[LOWBIT_GRID_MAX_DIMS];
    size_t total = 0;
    for (int key = 0; key < lattice->keys; ++key) {
        if (lattice->slot[key] >= 0) continue;
        key_levels(lattice, key, levels);
        lattice->slot[key] = -1 - (int32_t)total;
        total += 1u + (size_t)collect_neighbours(lattice, levels, NULL);
    }
    lattice->neighbour_words = total;
    uint16_t *pool = malloc(total * sizeof *pool);
    if (!pool) return;
    for (int key = 0; key < lattice->keys; ++key) {
        if (lattice->slot[key] >= 0) continue;
        uint16_t *list = pool + (-1 - lattice->slot[key]);
        key_levels(lattice, key, levels);
        list[0] = (uint16_t)collect_neighbours(lattice, levels, list + 1);
    }
    lattice->neighbours = pool;
}

/* The off-grid point `levels` (its slot < 0) put on the grid: its neighbour, from the pool or rebuilt when there
 * is none, with the least Σ w·(scale·value[l] − x)² (grid_search.h: lowbit_grid_snap), whose levels it takes. */
HOT int nearest_neighbour(const lowbit_grid_lattice *lattice, int32_t slot, const float *x, const float *w, float scale,
                          const float *value, int8_t *levels, int dims)
{
    uint16_t scratch[1 + LOWBIT_GRID_MAX_ENTRIES];
    const uint16_t *list = scratch;
    if (lattice->neighbours)
        list = lattice->neighbours + (-1 - slot);
    else
        scratch[0] = (uint16_t)collect_neighbours(lattice, levels, scratch + 1);
    float best_d2 = FLT_MAX;
    int best = list[1];
    for (int j = 1; j <= list[0]; ++j) {
        const int8_t *candidate = lattice->level[list[j]];
        float d2 = 0.0f;
        for (int k = 0; k < dims; ++k) {
            const float diff = scale * value[candidate[k]] - x[k];
            d2 += w[k] * diff * diff;
        }
        if (d2 < best_d2) {
            best_d2 = d2;
            best = list[j];
        }
    }
    memcpy(levels, lattice->level[best], (size_t)dims);
    return best;
}

HOT int snap_shape(const lowbit_grid_lattice *lattice, const float *x, const float *w, float scale, const float *value,
                   int8_t *levels, int *on_grid, int dims)
{
    const int32_t slot = lattice->slot[lowbit_grid_key(lattice, levels)];
    *on_grid = slot >= 0;
    return slot >= 0 ? slot : nearest_neighbour(lattice, slot, x, w, scale, value, levels, dims);
}

int lowbit_grid_snap(const lowbit_grid_lattice *lattice, const float *x, const float *w, float scale,
                     const float *value, int8_t *levels, int *on_grid)
{
    if (SHAPE(lattice, 8, 3)) return snap_shape(lattice, x, w, scale, value, levels, on_grid, 8);
    if (SHAPE(lattice, 4, 8)) return snap_shape(lattice, x, w, scale, value, levels, on_grid, 4);
    return snap_shape(lattice, x, w, scale, value, levels, on_grid, lattice->dims);
}

int lowbit_grid_entry(const lowbit_grid_lattice *lattice, const int8_t *levels)
{
    const int32_t slot = lattice->slot[lowbit_grid_key(lattice, levels)];
    if (slot >= 0) return slot;
    if (lattice->neighbours) return lattice->neighbours[-1 - slot + 1]; /* after the list's count */
    uint16_t list[LOWBIT_GRID_MAX_ENTRIES];
    collect_neighbours(lattice, levels, list);
    return list[0];
}

float lowbit_grid_largest(const float *v, int n)
{
    float m = v[0];
    for (int i = 1; i < n; ++i)
        m = lowbit_grid_max_of(m, v[i]);
    return m;
}

float lowbit_grid_sum_squares(const float *x, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; ++i)
        sum += x[i] * x[i];
    return sum;
}

void lowbit_grid_weights(const float *x, int n, const float *importance, float sigma2, lowbit_grid_plain_weights plain,
                         float *w, float *w_sqrt)
{
    for (int i = 0; i < n; ++i) {
        if (importance)
            w[i] = importance[i] * sqrtf(sigma2 + x[i] * x[i]);
        else if (plain == LOWBIT_GRID_WEIGHTS_X2)
            w[i] = x[i] * x[i];
        else if (plain == LOWBIT_GRID_WEIGHTS_UNIT)
            w[i] = sqrtf(sigma2 + x[i] * x[i]);
        else
            w[i] = 0.25f * sigma2 + x[i] * x[i];
    }
    if (w_sqrt)
        for (int i = 0; i < n; ++i)
            w_sqrt[i] = sqrtf(w[i]);
}

unsigned lowbit_grid_group_signs(const float *x, const float *w, float *xval, bool even_parity)
{
    unsigned mask = 0;
    int negatives = 0;
    for (int k = 0; k < 8; ++k) {
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
        for (int k = 1; k < 8; ++k) {
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

/* Σw·x·q and Σw·q² over n elements, q = 2l + 1, each product rounded in the reference's order. */
static void level_sums(int n, const float *w, const float *xval, const int8_t *L, float *sum_qx, float *sum_q2)
{
    float qx = 0.0f, q2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float q = odd_level[L[i]];
        const float wx = w[i] * xval[i];
        const float wq = w[i] * q;
        qx += wx * q;
        q2 += wq * q;
    }
    *sum_qx = qx;
    *sum_q2 = q2;
}

/* Rounds one group at inverse scale id to the lattice and puts it on the grid at `scale`; 1 when the rounding
 * was an entry. */
HOT int round_group(const lowbit_grid_lattice *lattice, const float *xval, const float *w_sqrt, float id, float scale,
                    int8_t *levels, int dims, int nlevels)
{
    int key = 0, place = 1;
    for (int k = 0; k < dims; ++k, place *= nlevels) {
        const float half_level = 0.5f * (id * xval[k] - 1.0f);
        levels[k] = (int8_t)lowbit_grid_clamp(lowbit_grid_nearest_int(half_level), 0, nlevels - 1);
        key += place * levels[k];
    }
    const int32_t slot = lattice->slot[key];
    if (slot >= 0) return 1;
    nearest_neighbour(lattice, slot, xval, w_sqrt, scale, odd_level, levels, dims);
    return 0;
}

HOT float sweep_shape(const lowbit_grid_sweep *sweep, int n, const float *xval, const float *w, const float *w_sqrt,
                      float max, float scale, int8_t *L, int dims, int nlevels)
{
    const lowbit_grid_lattice *lattice = sweep->lattice;
    const int groups = n / dims;
    int8_t trial[LOWBIT_GRID_MAX_SUB];
    bool on_grid[LOWBIT_GRID_MAX_GROUPS], trial_on_grid[LOWBIT_GRID_MAX_GROUPS];
    float best = 0.0f;
    memset(L, 0, (size_t)n); /* level 0 everywhere: entry 0 of every grid */
    for (int g = 0; g < groups; ++g)
        on_grid[g] = sweep->start_on_grid;
    for (int step = -sweep->steps; step <= sweep->steps; ++step) {
        const float id = (sweep->top + (float)step * sweep->step) / max;
        const float trial_scale = 1.0f / id;
        for (int g = 0; g < groups; ++g)
            trial_on_grid[g] = round_group(lattice, xval + dims * g, w_sqrt + dims * g, id, trial_scale,
                                           trial + dims * g, dims, nlevels);
        float sum_qx, sum_q2;
        level_sums(n, w, xval, trial, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f && sum_qx * sum_qx > best * sum_q2) {
            scale = sum_qx / sum_q2;
            best = scale * sum_qx;
            memcpy(L, trial, (size_t)n);
            memcpy(on_grid, trial_on_grid, (size_t)groups * sizeof on_grid[0]);
        }
    }
    int off_grid = 0;
    for (int g = 0; g < groups; ++g)
        off_grid += !on_grid[g];
    if (scale > 0.0f && (sweep->refit_always || off_grid > 0)) {
        /* Groups that left the lattice took a neighbour at their trial's scale: match them again at the winning
         * one (every group, where the sweep says so), then refit the scale. */
        const float id = 1.0f / scale;
        for (int g = 0; g < groups; ++g)
            if (sweep->refit_all || !on_grid[g])
                round_group(lattice, xval + dims * g, w_sqrt + dims * g, id, scale, L + dims * g, dims, nlevels);
        float sum_qx, sum_q2;
        level_sums(n, w, xval, L, &sum_qx, &sum_q2);
        if (sum_q2 > 0.0f) scale = sum_qx / sum_q2;
    }
    return scale;
}

float lowbit_grid_sweep_scale(const lowbit_grid_sweep *sweep, int n, const float *xval, const float *w,
                              const float *w_sqrt, float max, float scale, int8_t *L)
{
    const lowbit_grid_lattice *lattice = sweep->lattice;
    if (SHAPE(lattice, 8, 3)) return sweep_shape(sweep, n, xval, w, w_sqrt, max, scale, L, 8, 3);
    if (SHAPE(lattice, 4, 8)) return sweep_shape(sweep, n, xval, w, w_sqrt, max, scale, L, 4, 8);
    return sweep_shape(sweep, n, xval, w, w_sqrt, max, scale, L, lattice->dims, lattice->levels);
}

float lowbit_grid_sub_scales(const float *scales, int n, float max_scale, float divisor, int max_code, int *codes)
{
    const float d = max_scale / divisor;
    const float id = 1.0f / d;
    for (int i = 0; i < n; ++i)
        codes[i] = lowbit_grid_clamp(lowbit_grid_nearest_int(0.5f * (id * scales[i] - 1.0f)), 0, max_code);
    return d;
}

void lowbit_grid_quantize_blocks(const float *src, void *dst, size_t cols, const float *importance, size_t block_bytes,
                                 lowbit_grid_block_fn block)
{
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / LOWBIT_GRID_BLOCK; ++b)
        block(src + b * LOWBIT_GRID_BLOCK, importance ? importance + b * LOWBIT_GRID_BLOCK : NULL,
              out + b * block_bytes);
}
