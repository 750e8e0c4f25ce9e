/* test_grid_checks.h — checks of a grid format's lattice (host/format/grid_search.h) shared by the white-box tests
 * of the grid quantizers, tests/test_format_iq1_quant.c, test_format_iq2_quant.c and test_format_iq3_quant.c. They
 * read the lattice a test compiled in with its quantizer and call nothing of the library's internals. */
#ifndef LOWBIT_TEST_GRID_CHECKS_H
#define LOWBIT_TEST_GRID_CHECKS_H

#include <stddef.h>

#include "host/format/grid_search.h"
#include "lowbit/lowbit.h"

/* The map and neighbour lists against their definition: entry 0 is level 0 everywhere (where the scale sweep
 * starts); every entry is a point of the lattice that maps to itself; every other point, decoded from its key
 * here, lists exactly the entries at its `shells` smallest distinct squared level distances, nearest first and by
 * index among equals, with nothing as near left out; the lists lie back to back in key order and, a count word
 * each, fill `pool_words` (counted independently from lowbit_grids.h). */
void test_check_grid_lattice(const lowbit_grid_lattice *lattice, int entries, int shells, size_t pool_words);

/* Without the neighbour pool (as after a failed allocation) each lookup rebuilds the list it needs: `row`, the
 * test's copy of the row quantizer of `format` on `lattice`, gives the same bytes for `cols` values as with it,
 * without an importance vector and with `importance`. */
void test_check_grid_rebuilt_lists(lowbit_grid_lattice *lattice, lowbit_format format,
                                   void (*row)(const float *, void *, size_t, const float *), const float *x,
                                   size_t cols, const float *importance);

/* The 512 golden values of the IQ2 and IQ3 tests (their ggml hashes depend on them): two blocks of exactly
 * computed values (the second scaled by 1, 2 or 3 in turn), an all-zero 32-element stretch (64..95), one scaled
 * by 1e-9 (160..191) and an outlier (x[300] = 90). */
void test_grid_golden_row(float *x);

#endif
