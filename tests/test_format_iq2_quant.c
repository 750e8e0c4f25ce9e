/* test_format_iq2_quant.c — host/format/iq2_quant.c, the IQ2_XXS, IQ2_XS and IQ2_S reference quantizers.
 * White-box: the source file and grid_search.c are compiled into this test (as test_format_iq3_quant.c does), so
 * its lattice tables and rows are checked directly, while lowbit_quantize answers with liblowbit's own copy of the
 * same code. Checked: the lattice maps and neighbour lists against their definition (and the lists rebuilt per
 * lookup when the pool cannot be allocated), bytes against the pinned ggml's (hashes of ggml_quantize_chunk output;
 * tests/oracle/ggml_format_oracle.py compares random rows when the engine is built), the fallback without an
 * importance vector, the reference's zero-sub-block rules and sign parity, determinism and threads, and the
 * round trip within ggml's 2-bit limit (MAX_QUANTIZATION_TOTAL_ERROR_2BITS, 0.0075). */
#include "host/format/iq2_quant.c"
#include "host/format/grid_search.c"

#include "test_format_checks.h"
#include "test_grid_checks.h"

static const lowbit_format formats[3] = {LOWBIT_FORMAT_IQ2_XXS, LOWBIT_FORMAT_IQ2_XS, LOWBIT_FORMAT_IQ2_S};
static const lowbit_quantize_row_fn rows_of[3] = {lowbit_quantize_row_iq2_xxs, lowbit_quantize_row_iq2_xs,
                                                  lowbit_quantize_row_iq2_s};

/* --- the lattice ----------------------------------------------------------------------------------- */

/* 8 codes of 3 levels per point; the pools as the grids in lowbit_grids.h make them. */
static void test_lattices(void **state)
{
    (void)state;
    pthread_once(&once_xxs, build_xxs);
    pthread_once(&once_xs, build_xs);
    pthread_once(&once_s, build_s);
    test_check_grid_lattice(&lattice_xxs, 256, 2, 6305 + 113157);
    test_check_grid_lattice(&lattice_xs, 512, 2, 6049 + 181721);
    test_check_grid_lattice(&lattice_s, 1024, 1, 5537 + 44716);
    /* the grids' entries as ggml's tables have them: entry 0 all magnitudes 8 (code 0), then element 0 at 43 */
    static const int8_t second[GROUP] = {2, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(lattice_s.level[1], second, GROUP);
}

/* --- bytes ------------------------------------------------------------------------------------------- */

/* test_grid_golden_row, and an importance vector in which one column in 7 has 0.001: IQ2_XXS's first scale
 * estimate then sees a flipped (negative) magnitude rounding below 0, whose code the reference keeps as an
 * unsigned byte — the bytes below depend on repeating that. (IQ2_S's 1e-8 threshold cuts the 1e-9 stretch.) */
static void golden_input(float *x, float *importance)
{
    test_grid_golden_row(x);
    for (int i = 0; i < 512; ++i)
        importance[i] = (i % 7 == 3) ? 0.001f : 0.5f + (float)(i % 5);
}

/* FNV-1a of ggml_quantize_chunk's bytes for golden_input (the pinned libggml-base, ggml 0.25.3). ggml cannot
 * quantize IQ2_XXS / IQ2_XS without an importance vector; lowbit's NULL is compared with ggml given all ones. */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const fmt_golden cases[] = {
        {0, 0, 0x0712507E64272200ull},                                /* ggml with an all-ones imatrix */
        {0, 1, 0x39020F0DA55B9BDDull}, {1, 0, 0x258D7306E353D47Bull}, /* all ones */
        {1, 1, 0x5665A79C42ED05E4ull}, {2, 0, 0x3C8031AD0841904Full}, /* ggml without imatrix */
        {2, 1, 0x83B59D8052563029ull},
    };
    float x[512], importance[512];
    golden_input(x, importance);
    fmt_check_golden(formats, rows_of, cases, sizeof cases / sizeof cases[0], x, importance, 512);
}

/* Without the neighbour pool (an allocation failure at build time) the lists are rebuilt per lookup: the same
 * bytes. */
static void test_rebuilt_neighbour_lists(void **state)
{
    (void)state;
    lowbit_grid_lattice *lattices[3] = {&lattice_xxs, &lattice_xs, &lattice_s};
    float x[512], importance[512];
    golden_input(x, importance);
    for (int f = 0; f < 3; ++f)
        test_check_grid_rebuilt_lists(lattices[f], formats[f], rows_of[f], x, 512, importance);
}

/* The reference's zero rules: a 32-element sub-block of zeros (IQ2_XXS) or a 16-element half below 1e-15
 * (IQ2_XS) / 1e-8 (IQ2_S) stores grid entry 0, no signs and sub-scale 0; an all-zero block is all zero. */
static void test_zero_sub_blocks(void **state)
{
    (void)state;
    float x[256];
    unsigned char out[LOWBIT_IQ2_S_BYTES], zero[LOWBIT_IQ2_S_BYTES] = {0};

    test_fill_random(x, 256, 5, 1.0f);
    memset(x + 96, 0, 32 * sizeof(float)); /* IQ2_XXS sub-block 3 */
    lowbit_quantize_row_iq2_xxs(x, out, 256, NULL);
    assert_int_not_equal(lowbit_load_u16le(out), 0);
    assert_memory_equal(out + LOWBIT_IQ2_XXS_QS + 8 * 3, zero, 8);

    test_fill_random(x, 256, 6, 1.0f);
    for (int i = 48; i < 64; ++i)
        x[i] *= 1e-20f; /* IQ2_XS half 3: below 1e-15 */
    lowbit_quantize_row_iq2_xs(x, out, 256, NULL);
    assert_memory_equal(out + LOWBIT_IQ2_XS_QS + 2 * 6, zero, 4);
    assert_int_equal(out[LOWBIT_IQ2_XS_SCALES + 1] >> 4, 0);

    test_fill_random(x, 256, 7, 1.0f);
    for (int i = 48; i < 64; ++i)
        x[i] *= 1e-9f; /* IQ2_S half 3: below 1e-8 */
    lowbit_quantize_row_iq2_s(x, out, 256, NULL);
    assert_memory_equal(out + LOWBIT_IQ2_S_QS + 6, zero, 2);
    assert_memory_equal(out + LOWBIT_IQ2_S_QS + 32 + 6, zero, 2);
    assert_int_equal(out[LOWBIT_IQ2_S_QH + 1] & 0xF0, 0);
    assert_int_equal(out[LOWBIT_IQ2_S_SCALES + 1] >> 4, 0);

    memset(x, 0, sizeof x);
    for (int f = 0; f < 3; ++f) {
        for (int pass = 0; pass < 2; ++pass) {
            float importance[256];
            for (int i = 0; i < 256; ++i)
                importance[i] = 1.0f + (float)(i % 3);
            memset(out, 0xA5, sizeof out);
            rows_of[f](x, out, 256, pass ? importance : NULL);
            assert_memory_equal(out, zero, lowbit_format_row_size(formats[f], 256));
        }
    }
}

/* Signs: IQ2_S keeps every element's; the ksigns formats (an even count of negatives per group of 8) change
 * at most one element per group, and only where the rest keep theirs. */
static void test_signs(void **state)
{
    (void)state;
    const size_t cols = 1024;
    float x[1024], y[1024];
    test_fill_random(x, cols, 17, 2.0f);
    for (int f = 0; f < 3; ++f) {
        free(fmt_roundtrip(formats[f], x, 1, cols, y, NULL, 1));
        for (size_t g = 0; g < cols / GROUP; ++g) {
            int flipped = 0;
            for (size_t k = 0; k < GROUP; ++k) {
                const size_t i = GROUP * g + k;
                flipped += y[i] != 0.0f && (x[i] < 0.0f) != (y[i] < 0.0f);
            }
            assert_true(flipped <= (f == 2 ? 0 : 1));
        }
    }
}

/* --- through lowbit_quantize -------------------------------------------------------------------------- */

/* The lattices are built under pthread_once while the first quantization's threads race. */
static void test_threads_and_determinism(void **state)
{
    (void)state;
    fmt_check_threads_and_importance(formats, 3, 21, 3.0f);
}

/* The fallback without importance: IQ2_XXS and IQ2_XS weigh as an all-ones vector would (the same bytes);
 * IQ2_S keeps ggml's built-in weights, which differ from that. */
static void test_null_importance(void **state)
{
    (void)state;
    for (int f = 0; f < 3; ++f)
        fmt_check_unit_importance(formats[f], 31, f < 2);
}

/* ggml's test-quantize-fns signal and metric (fmt_check_rmse_limits, with a limit per pass). Its 2-bit limit
 * MAX_QUANTIZATION_TOTAL_ERROR_2BITS = 0.0075 is the one it names for IQ2_S, and holds IQ2_XS as well. IQ2_XXS
 * (2.06 bits per weight) has no limit there — no quantize function without an imatrix — and its importance
 * pass gives 0.00781, exactly as ggml's own bytes do (an uneven importance trades plain error for weighted
 * error), so that pass is held to 0.0080; its plain pass meets 0.0075. */
static void test_roundtrip_rmse(void **state)
{
    (void)state;
    fmt_check_rmse_limits(LOWBIT_FORMAT_IQ2_XXS, 0.0075, 0.0080);
    fmt_check_rmse_limits(LOWBIT_FORMAT_IQ2_XS, 0.0075, 0.0075);
    fmt_check_rmse_limits(LOWBIT_FORMAT_IQ2_S, 0.0075, 0.0075);
}

/* Tolerances from ggml's own bytes: a constant row is the worst case of IQ2_XXS's 256-entry grid, which has no
 * all-equal group but level 1's (ggml decodes a constant to within 70% of it; IQ2_XS 7.5%, IQ2_S 6.3%); an
 * outlier survives within 0.2% (IQ2_XXS), 3.6% (IQ2_XS) and 6.1% (IQ2_S). NaN, infinite and overflowing rows,
 * where ggml's reference aborts or reads out of bounds, quantize without crashing (fmt_check_quantizer). */
static void test_shared_checks(void **state)
{
    (void)state;
    const double constant_tol[3] = {0.75, 0.10, 0.10};
    for (int f = 0; f < 3; ++f)
        fmt_check_quantizer(formats[f], constant_tol[f], 0.10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_determinism), /* first: the lattices are built under contention */
        cmocka_unit_test(test_lattices),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_rebuilt_neighbour_lists),
        cmocka_unit_test(test_zero_sub_blocks),
        cmocka_unit_test(test_signs),
        cmocka_unit_test(test_null_importance),
        cmocka_unit_test(test_roundtrip_rmse),
        cmocka_unit_test(test_shared_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
