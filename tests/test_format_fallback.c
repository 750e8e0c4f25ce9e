/* test_format_fallback.c — host/format/fallback.c: llama.cpp's shape-fallback table (rows that the wanted
 * format's block does not divide get a 32-element format, or F16 when 32 does not divide either). */
#include "test_support.h"

static void test_fits_keeps_format(void **state)
{
    (void)state;
    const lowbit_format formats[] = {
        LOWBIT_FORMAT_Q2_K,   LOWBIT_FORMAT_Q3_K,  LOWBIT_FORMAT_Q4_K,  LOWBIT_FORMAT_Q5_K, LOWBIT_FORMAT_Q6_K,
        LOWBIT_FORMAT_IQ4_XS, LOWBIT_FORMAT_TQ1_0, LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0,
        LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_Q5_1,  LOWBIT_FORMAT_F16,   LOWBIT_FORMAT_BF16};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; ++i) {
        assert_int_equal(lowbit_format_fallback(formats[i], 4096), formats[i]);
        assert_int_equal(lowbit_format_fallback(formats[i], 256), formats[i]);
    }
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_F32, 7), LOWBIT_FORMAT_F32);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_F16, 1), LOWBIT_FORMAT_F16);
}

/* 11008 = 43·256: fits; 4128 = 129·32: a multiple of 32 but not of 256. */
static void test_not_multiple_of_256(void **state)
{
    (void)state;
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q4_K, 11008), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_IQ4_XS, 4128), LOWBIT_FORMAT_IQ4_NL);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q2_K, 4128), LOWBIT_FORMAT_Q4_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q3_K, 4128), LOWBIT_FORMAT_Q4_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_TQ1_0, 4128), LOWBIT_FORMAT_Q4_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_TQ2_0, 4128), LOWBIT_FORMAT_Q4_0);
    /* the grid formats fall back like IQ4_XS; Q2_0 (64-element blocks) like the other 2-bit formats */
    const lowbit_format grids[] = {LOWBIT_FORMAT_IQ1_S,  LOWBIT_FORMAT_IQ1_M, LOWBIT_FORMAT_IQ2_XXS,
                                   LOWBIT_FORMAT_IQ2_XS, LOWBIT_FORMAT_IQ2_S, LOWBIT_FORMAT_IQ3_XXS,
                                   LOWBIT_FORMAT_IQ3_S};
    for (size_t i = 0; i < sizeof grids / sizeof grids[0]; ++i) {
        assert_int_equal(lowbit_format_fallback(grids[i], 4096), grids[i]);
        assert_int_equal(lowbit_format_fallback(grids[i], 4128), LOWBIT_FORMAT_IQ4_NL);
    }
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q2_0, 4128), LOWBIT_FORMAT_Q4_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q2_0, 4160), LOWBIT_FORMAT_Q2_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q4_K, 4128), LOWBIT_FORMAT_Q5_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q5_K, 4128), LOWBIT_FORMAT_Q5_1);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q6_K, 4128), LOWBIT_FORMAT_Q8_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q8_K, 4128), LOWBIT_FORMAT_Q8_0);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q4_K, 32), LOWBIT_FORMAT_Q5_0);
}

/* Neither 256 nor 32 divides: F16, for every quantized format, 32- or 256-element. */
static void test_not_multiple_of_32(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q2_K,  LOWBIT_FORMAT_Q4_K,  LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_IQ4_XS,
                                     LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_Q4_0,  LOWBIT_FORMAT_Q4_1, LOWBIT_FORMAT_Q5_0,
                                     LOWBIT_FORMAT_Q8_0,  LOWBIT_FORMAT_IQ4_NL};
    const size_t shapes[] = {1, 31, 33, 100, 4100};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; ++i)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
            assert_int_equal(lowbit_format_fallback(formats[i], shapes[s]), LOWBIT_FORMAT_F16);
}

/* Unknown ids and zero columns have no block to fit: F16, the format every row fits. */
static void test_unknown_and_zero(void **state)
{
    (void)state;
    assert_int_equal(lowbit_format_fallback((lowbit_format)5, 256), LOWBIT_FORMAT_F16);
    assert_int_equal(lowbit_format_fallback((lowbit_format)999, 256), LOWBIT_FORMAT_F16);
    assert_int_equal(lowbit_format_fallback(LOWBIT_FORMAT_Q4_K, 0), LOWBIT_FORMAT_F16);
}

/* Whatever comes back really fits: its row size is non-zero. */
static void test_result_always_fits(void **state)
{
    (void)state;
    for (int id = 0; id < LOWBIT_FORMAT_COUNT; ++id) {
        if (!lowbit_format_get(id)) continue;
        for (size_t cols = 1; cols <= 1024; cols += 7)
            assert_true(lowbit_format_row_size(lowbit_format_fallback((lowbit_format)id, cols), cols) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_keeps_format),  cmocka_unit_test(test_not_multiple_of_256),
        cmocka_unit_test(test_not_multiple_of_32), cmocka_unit_test(test_unknown_and_zero),
        cmocka_unit_test(test_result_always_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
