/* test_format_iq1_quant.c — host/format/iq1_quant.c, the IQ1_S and IQ1_M reference quantizers. White-box: the
 * source file and grid_search.c are compiled into this test, so its grid map and neighbour lists are checked
 * directly, while lowbit_quantize answers with liblowbit's own copy of the same code. Checked: the tables against
 * their definition (and the lists rebuilt per lookup when the pool cannot be allocated), bytes against the pinned
 * ggml's (hashes of ggml_quantize_chunk output with an importance vector, with an all-ones one for IQ1_S's
 * documented fallback, and without one for IQ1_M; tests/oracle/ggml_format_oracle.py compares random rows when the
 * engine is built), unfitted sub-blocks, determinism and threads, non-finite rows, and the round trip. ggml's
 * test-quantize-fns skips IQ1_S/IQ1_M (no from_float), so the RMSE limits are the reference's own results on its
 * signal, measured with ggml. */
#include "host/format/iq1_quant.c"
#include "host/format/grid_search.c"

#include "test_format_checks.h"
#include "test_grid_checks.h"

static const lowbit_format formats[2] = {LOWBIT_FORMAT_IQ1_S, LOWBIT_FORMAT_IQ1_M};
static const lowbit_quantize_row_fn rows_of[2] = {lowbit_quantize_row_iq1_s, lowbit_quantize_row_iq1_m};

/* The grid tables are built under pthread_once while the first quantization's threads race. */
static void test_threads_and_determinism(void **state)
{
    (void)state;
    fmt_check_threads_and_importance(formats, 2, 31, 2.0f);
}

/* --- the grid tables --------------------------------------------------------------------------------- */

/* Entry 0 is all −1; each of the 3^8 − 2048 = 4513 other keys lists the entries at its three smallest distances
 * (327,721 in all). */
static void test_grid_tables(void **state)
{
    (void)state;
    pthread_once(&grid_once, grid_build);
    test_check_grid_lattice(&grid, GRID_ENTRIES, NEIGHBOUR_DISTANCES, 4513 + 327721);
}

/* --- bytes ------------------------------------------------------------------------------------------- */

/* Two blocks: small integers (many equal values, so the sort's tie order matters) with an all-zero 32-element
 * sub-block (64..95), one at 1e-9 (160..191: IQ1_M leaves it unfitted, IQ1_S fits it) and one at 1e-14
 * (192..223: below IQ1_S's threshold too); then spread values with an outlier. 9 distinct importance values. */
static void golden_input(float *x, float *importance)
{
    for (int i = 0; i < 512; ++i) {
        if (i < 256)
            x[i] = (float)((i * 37 + 11) % 9 - 4);
        else
            x[i] = (float)((i * 53 + 7) % 101 - 50) / 13.0f * (float)(1 + i % 3);
        if (i >= 64 && i < 96) x[i] = 0.0f;
        if (i >= 160 && i < 192) x[i] *= 1e-9f;
        if (i >= 192 && i < 224) x[i] *= 1e-14f;
        importance[i] = 0.25f + (float)(i % 9) * 0.5f;
    }
    x[300] = 90.0f;
}

/* FNV-1a of ggml_quantize_chunk's bytes for golden_input (the pinned libggml-base, ggml 0.25.3). IQ1_S without
 * importance is ggml's IQ1_S with an importance vector of ones (ggml itself refuses NULL for IQ1_S). */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const fmt_golden cases[] = {
        {0, 1, 0x37B48F2FA786D751ull},
        {0, 0, 0x3739C8039CED8905ull}, /* ggml: importance all 1 */
        {1, 1, 0xE10F8A011A464C7Aull},
        {1, 0, 0x99F580A03C945A67ull},
    };
    float x[512], importance[512];
    golden_input(x, importance);
    fmt_check_golden(formats, rows_of, cases, sizeof cases / sizeof cases[0], x, importance, 512);
}

/* IQ1_S's fallback is exactly "importance all ones"; IQ1_M's is ggml's x², which is not. */
static void test_without_importance(void **state)
{
    (void)state;
    fmt_check_unit_importance(LOWBIT_FORMAT_IQ1_S, 17, 1);
    fmt_check_unit_importance(LOWBIT_FORMAT_IQ1_M, 17, 0);
}

/* Where the neighbour pool could not be allocated the lists are rebuilt per lookup; the bytes are the same. */
static void test_rebuilt_neighbour_lists(void **state)
{
    (void)state;
    enum { COLS = 2048 };
    float x[COLS], importance[COLS];
    test_fill_random(x, COLS, 23, 1.0f);
    for (int i = 0; i < COLS; ++i)
        importance[i] = 0.5f + (float)(i % 7);
    for (int f = 0; f < 2; ++f)
        test_check_grid_rebuilt_lists(&grid, formats[f], rows_of[f], x, COLS, importance);
}

/* A neighbour search in which no distance is finite takes the first (nearest) neighbour. */
static void test_group_without_finite_distance(void **state)
{
    (void)state;
    pthread_once(&grid_once, grid_build);
    const float x[GROUP] = {1, 1, 1, 1, 1, 1, 1, 1}, w[GROUP] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    int8_t L[GROUP] = {2, 2, 2, 2, 2, 2, 2, 2};
    if (grid.slot[lowbit_grid_key(&grid, L)] >= 0) L[0] = 1; /* make sure the group is off the grid */
    const int32_t slot = grid.slot[lowbit_grid_key(&grid, L)];
    assert_true(slot < 0);
    int on_grid = 1;
    const int entry = lowbit_grid_snap(&grid, x, w, 1.0f, shifted_up, L, &on_grid);
    assert_false(on_grid);
    assert_int_equal(entry, grid.neighbours[-1 - slot + 1]); /* the list's first entry, after its count */
    assert_memory_equal(L, grid.level[entry], GROUP);
}

/* Unfitted sub-blocks (all zero, or max |x| below the threshold: IQ1_S 1e-12, IQ1_M 1e-7) keep entry 0, +δ
 * and sub-scale 0; an all-zero block is all zero bytes. */
static void test_unfitted_sub_blocks(void **state)
{
    (void)state;
    float x[256];
    unsigned char s[LOWBIT_IQ1_S_BYTES], m[LOWBIT_IQ1_M_BYTES], zero[LOWBIT_IQ1_M_BYTES] = {0};
    test_fill_random(x, 256, 5, 1.0f);
    for (int i = 96; i < 128; ++i) /* IQ1_S sub-block 3, IQ1_M sub-blocks 6 and 7 */
        x[i] *= 1e-13f;
    lowbit_quantize_row_iq1_s(x, s, 256, NULL);
    assert_int_not_equal(lowbit_load_u16le(s + LOWBIT_IQ1_S_D), 0);
    for (int g = 0; g < 4; ++g)
        assert_int_equal(s[LOWBIT_IQ1_S_QS + 4 * 3 + g], 0);
    assert_int_equal(lowbit_load_u16le(s + LOWBIT_IQ1_S_QH + 2 * 3), 0);
    lowbit_quantize_row_iq1_m(x, m, 256, NULL);
    for (int ib = 6; ib < 8; ++ib) {
        assert_int_equal(m[LOWBIT_IQ1_M_QS + 2 * ib], 0);
        assert_int_equal(m[LOWBIT_IQ1_M_QS + 2 * ib + 1], 0);
        assert_int_equal(m[LOWBIT_IQ1_M_QH + ib], 0);
        assert_int_equal((lowbit_load_u16le(m + LOWBIT_IQ1_M_SCALES + 2 * (ib / 4)) >> (3 * (ib % 4))) & 7, 0);
    }
    memset(x, 0, sizeof x);
    lowbit_quantize_row_iq1_s(x, s, 256, NULL);
    assert_memory_equal(s, zero, sizeof s);
    lowbit_quantize_row_iq1_m(x, m, 256, NULL);
    assert_memory_equal(m, zero, sizeof m);
}

/* --- through lowbit_quantize -------------------------------------------------------------------------- */

/* ggml's signal and metric (test-quantize-fns). The reference itself gives, on the plain / importance passes,
 * IQ1_S 0.00976 (importance all ones) / 0.01064 and IQ1_M 0.01220 / 0.01061; lowbit's bytes are the same. */
static void test_roundtrip_rmse(void **state)
{
    (void)state;
    fmt_check_rmse(LOWBIT_FORMAT_IQ1_S, 0.0110);
    fmt_check_rmse(LOWBIT_FORMAT_IQ1_M, 0.0125);
}

/* A constant or a lone outlier decodes about 12.5% (IQ1_S) or 11.1% (IQ1_M) large: ggml's fudge factors 1.125
 * and 1.1125 on d, which a least-squares fit on one value cannot absorb. NaN, infinite and overflowing rows, where
 * ggml's reference aborts or reads out of bounds, quantize without crashing (fmt_check_quantizer). */
static void test_shared_checks(void **state)
{
    (void)state;
    for (int f = 0; f < 2; ++f)
        fmt_check_quantizer(formats[f], 0.13, 0.15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_determinism), /* first: the tables are built under contention */
        cmocka_unit_test(test_grid_tables),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_without_importance),
        cmocka_unit_test(test_rebuilt_neighbour_lists),
        cmocka_unit_test(test_group_without_finite_distance),
        cmocka_unit_test(test_unfitted_sub_blocks),
        cmocka_unit_test(test_roundtrip_rmse),
        cmocka_unit_test(test_shared_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
