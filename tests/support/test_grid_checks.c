/* test_grid_checks.c — the lattice checks of the grid quantizers' tests (test_grid_checks.h). */
#include "test_grid_checks.h"

#include <stdlib.h>

#include "test_support.h"

static int point_dist2(const int8_t *a, const int8_t *b, int dims)
{
    int d2 = 0;
    for (int k = 0; k < dims; ++k)
        d2 += (a[k] - b[k]) * (a[k] - b[k]);
    return d2;
}

/* The key of a point: its levels as a base-`levels` number, element 0 least significant. */
static int point_key(const lowbit_grid_lattice *lattice, const int8_t *point)
{
    int key = 0;
    for (int k = lattice->dims - 1; k >= 0; --k)
        key = lattice->levels * key + point[k];
    return key;
}

void test_check_grid_lattice(const lowbit_grid_lattice *lattice, int entries, int shells, size_t pool_words)
{
    assert_int_equal(lattice->entries, entries);
    assert_int_equal(lattice->shells, shells);
    assert_non_null(lattice->neighbours);
    const int dims = lattice->dims;
    int keys = 1;
    for (int k = 0; k < dims; ++k)
        keys *= lattice->levels;
    assert_int_equal(lattice->keys, keys);
    for (int k = 0; k < dims; ++k)
        assert_int_equal(lattice->level[0][k], 0);
    for (int e = 0; e < entries; ++e) {
        for (int k = 0; k < dims; ++k)
            assert_true(lattice->level[e][k] >= 0 && lattice->level[e][k] < lattice->levels);
        assert_int_equal(lattice->slot[point_key(lattice, lattice->level[e])], e);
    }
    size_t on_grid = 0, words = 0;
    for (int key = 0; key < keys; ++key) {
        if (lattice->slot[key] >= 0) {
            ++on_grid;
            continue;
        }
        int8_t point[LOWBIT_GRID_MAX_DIMS];
        for (int k = 0, rest = key; k < dims; ++k, rest /= lattice->levels)
            point[k] = (int8_t)(rest % lattice->levels);
        assert_int_equal(point_key(lattice, point), key);
        assert_int_equal((size_t)(-1 - lattice->slot[key]), words);
        const uint16_t *list = lattice->neighbours + words;
        const int n = list[0];
        assert_true(n >= 1);
        words += 1 + (size_t)n;
        int distinct = 1;
        for (int j = 1; j <= n; ++j) {
            assert_true(list[j] < entries);
            if (j > 1) {
                const int before = point_dist2(point, lattice->level[list[j - 1]], dims);
                const int now = point_dist2(point, lattice->level[list[j]], dims);
                assert_true(before < now || (before == now && list[j - 1] < list[j]));
                distinct += now != before;
            }
        }
        assert_int_equal(distinct, shells);
        /* nothing left out: every entry not listed is farther than the last one listed */
        const int last = point_dist2(point, lattice->level[list[n]], dims);
        int closer = 0;
        for (int e = 0; e < entries; ++e)
            closer += point_dist2(point, lattice->level[e], dims) <= last;
        assert_int_equal(closer, n);
    }
    assert_int_equal(on_grid, (size_t)entries);
    assert_int_equal(words, pool_words);
    assert_int_equal(lattice->neighbour_words, pool_words);
}

void test_check_grid_rebuilt_lists(lowbit_grid_lattice *lattice, lowbit_format format,
                                   void (*row)(const float *, void *, size_t, const float *), const float *x,
                                   size_t cols, const float *importance)
{
    const size_t bytes = lowbit_format_row_size(format, cols);
    unsigned char *pooled = malloc(bytes), *rebuilt = malloc(bytes);
    assert_non_null(pooled);
    assert_non_null(rebuilt);
    for (int pass = 0; pass < 2; ++pass) {
        const float *imp = pass ? importance : NULL;
        row(x, pooled, cols, imp); /* builds the lattice if no test has yet */
        uint16_t *pool = lattice->neighbours;
        assert_non_null(pool);
        lattice->neighbours = NULL;
        row(x, rebuilt, cols, imp);
        lattice->neighbours = pool;
        assert_memory_equal(pooled, rebuilt, bytes);
    }
    free(pooled);
    free(rebuilt);
}

void test_grid_golden_row(float *x)
{
    for (int i = 0; i < 512; ++i) {
        x[i] = (float)((i * 37 + 11) % 61 - 30) / 7.0f;
        if (i >= 256) x[i] *= (float)(1 + i % 3);
        if (i >= 64 && i < 96) x[i] = 0.0f;
        if (i >= 160 && i < 192) x[i] *= 1e-9f;
    }
    x[300] = 90.0f;
}
