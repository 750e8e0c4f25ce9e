/* test_format_iq3_quant.c — host/format/iq3_quant.c, the IQ3_XXS and IQ3_S reference quantizers. White-box:
 * the source file and grid_search.c are compiled into this test, so its lattice tables and its rows are checked
 * directly, while lowbit_quantize answers with liblowbit's own copy of the same code. Checked: the lattice maps
 * and neighbour lists against their definition (and the lists rebuilt per lookup when the pool cannot be
 * allocated), grid_search.h's rounding, bytes against the pinned ggml's (hashes of ggml_quantize_chunk output,
 * with and without an importance vector; tests/oracle/ggml_format_oracle.py compares random rows when the engine
 * is built), the reference's zero-sub-block rules, determinism and threads, and the round trip within ggml's
 * test-quantize-fns limits (0.0050 IQ3_XXS, 0.0040 IQ3_S). */
#include "host/format/iq3_quant.c"
#include "host/format/grid_search.c"

#include "test_format_checks.h"
#include "test_grid_checks.h"

static const lowbit_format formats[2] = {LOWBIT_FORMAT_IQ3_XXS, LOWBIT_FORMAT_IQ3_S};
static const lowbit_quantize_row_fn rows_of[2] = {lowbit_quantize_row_iq3_xxs, lowbit_quantize_row_iq3_s};

/* --- the lattice ----------------------------------------------------------------------------------- */

/* Quads of 3-bit levels; the pools as the grids in lowbit_grids.h make them. */
static void test_lattices(void **state)
{
    (void)state;
    pthread_once(&iq3xxs_once, iq3xxs_lattice_init);
    pthread_once(&iq3s_once, iq3s_lattice_init);
    test_check_grid_lattice(&iq3xxs_lattice, 256, 2, 22825);
    test_check_grid_lattice(&iq3s_lattice, 512, 3, 28317);
}

/* nearest_int rounds half to even and returns the reference's wrapped value outside its range, which the
 * callers clamp to the lattice's levels. */
static void test_nearest_int(void **state)
{
    (void)state;
    assert_int_equal(lowbit_grid_nearest_int(0.5f), 0);
    assert_int_equal(lowbit_grid_nearest_int(1.5f), 2);
    assert_int_equal(lowbit_grid_nearest_int(2.5f), 2);
    assert_int_equal(lowbit_grid_nearest_int(-0.5f), 0); /* a zero sub-scale: 0.5·(0 − 1) */
    assert_int_equal(lowbit_grid_nearest_int(-2.5f), -2);
    assert_int_equal(lowbit_grid_nearest_int(2.49f), 2);
    assert_int_equal(lowbit_grid_nearest_int(6.49f), 6);
    assert_int_equal(lowbit_grid_nearest_int(7.0f), 7);
    assert_int_equal(lowbit_grid_nearest_int(4194303.0f), 4194303);
    assert_int_equal(lowbit_grid_nearest_int(NAN), 0);
    const int wrapped = lowbit_grid_clamp(lowbit_grid_nearest_int(0.5f * (1e30f - 1.0f)), 0, 7);
    assert_true(wrapped >= 0 && wrapped < 8);
    assert_int_equal(lowbit_grid_clamp(lowbit_grid_nearest_int(0.5f * (1e6f - 1.0f)), 0, 7), 7);
}

/* --- bytes ------------------------------------------------------------------------------------------- */

/* test_grid_golden_row (its all-zero stretch is sub-block 2, its 1e-9 one sub-block 5, below IQ3_XXS's 1e-8
 * threshold) and an importance vector of 9 distinct values. */
static void golden_input(float *x, float *importance)
{
    test_grid_golden_row(x);
    for (int i = 0; i < 512; ++i)
        importance[i] = 0.25f + (float)(i % 9) * 0.5f;
}

/* FNV-1a of ggml_quantize_chunk's bytes for golden_input (the pinned libggml-base, ggml 0.25.3). */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const fmt_golden cases[] = {
        {0, 0, 0x0B75C4AD7769143Aull},
        {0, 1, 0x229393AB89721B1Cull},
        {1, 0, 0xCC3CED1DC84F3B7Full},
        {1, 1, 0xCF20D24918A1033Dull},
    };
    float x[512], importance[512];
    golden_input(x, importance);
    fmt_check_golden(formats, rows_of, cases, sizeof cases / sizeof cases[0], x, importance, 512);
}

/* Without the neighbour pool the lists are rebuilt per lookup: the same bytes. */
static void test_rebuilt_neighbour_lists(void **state)
{
    (void)state;
    lowbit_grid_lattice *lattices[2] = {&iq3xxs_lattice, &iq3s_lattice};
    float x[512], importance[512];
    golden_input(x, importance);
    for (int f = 0; f < 2; ++f)
        test_check_grid_rebuilt_lists(lattices[f], formats[f], rows_of[f], x, 512, importance);
}

/* IQ3_XXS: a sub-block below 1e-8 keeps index 0, no signs and sub-scale 0; an all-zero block is all zero. */
static void test_iq3_xxs_tiny_sub_block(void **state)
{
    (void)state;
    float x[256];
    unsigned char out[LOWBIT_IQ3_XXS_BYTES], zero[LOWBIT_IQ3_XXS_BYTES] = {0};
    test_fill_random(x, 256, 5, 1.0f);
    for (int i = 96; i < 128; ++i)
        x[i] *= 1e-9f;
    lowbit_quantize_row_iq3_xxs(x, out, 256, NULL);
    assert_int_not_equal(lowbit_load_u16le(out), 0);
    for (int k = 0; k < 8; ++k)
        assert_int_equal(out[LOWBIT_IQ3_XXS_QS + 8 * 3 + k], 0);
    for (int b = 0; b < 4; ++b)
        assert_int_equal(out[LOWBIT_IQ3_XXS_QS + 64 + 4 * 3 + b], 0);
    memset(x, 0, sizeof x);
    lowbit_quantize_row_iq3_xxs(x, out, 256, NULL);
    assert_memory_equal(out, zero, sizeof out);
}

/* IQ3_S: an all-zero sub-block does not advance the qs/signs write position (the reference's behaviour):
 * with sub-block 0 zero, sub-blocks 1..7 land where 0..6 would, and qs[56..63], signs[28..31] stay 0. Without
 * importance the other sub-blocks' codes do not depend on sub-block 0, so they must equal a normal block's. */
static void test_iq3_s_zero_sub_block(void **state)
{
    (void)state;
    float x[256];
    unsigned char normal[LOWBIT_IQ3_S_BYTES], skipped[LOWBIT_IQ3_S_BYTES];
    test_fill_random(x, 256, 9, 1.0f);
    lowbit_quantize_row_iq3_s(x, normal, 256, NULL);
    memset(x, 0, 32 * sizeof(float));
    lowbit_quantize_row_iq3_s(x, skipped, 256, NULL);
    const unsigned char *qs_n = normal + LOWBIT_IQ3_S_QS, *qs_s = skipped + LOWBIT_IQ3_S_QS;
    const unsigned char *signs_n = normal + LOWBIT_IQ3_S_SIGNS, *signs_s = skipped + LOWBIT_IQ3_S_SIGNS;
    assert_memory_equal(qs_s, qs_n + 8, 56);
    assert_memory_equal(signs_s, signs_n + 4, 28);
    for (int i = 0; i < 8; ++i)
        assert_int_equal(qs_s[56 + i], 0);
    for (int i = 0; i < 4; ++i)
        assert_int_equal(signs_s[28 + i], 0);
    assert_int_equal(skipped[LOWBIT_IQ3_S_QH], 0);
    assert_memory_equal(skipped + LOWBIT_IQ3_S_QH + 1, normal + LOWBIT_IQ3_S_QH + 1, 7);
    assert_int_equal(skipped[LOWBIT_IQ3_S_SCALES] & 0x0F, 0);
    memset(x, 0, sizeof x);
    lowbit_quantize_row_iq3_s(x, skipped, 256, NULL);
    memset(normal, 0, sizeof normal);
    assert_memory_equal(skipped, normal, sizeof normal);
}

/* --- through lowbit_quantize -------------------------------------------------------------------------- */

/* The lattices are built under pthread_once while the first quantization's threads race. */
static void test_threads_and_determinism(void **state)
{
    (void)state;
    fmt_check_threads_and_importance(formats, 2, 21, 3.0f);
}

/* ggml's test-quantize-fns limits (MAX_QUANTIZATION_TOTAL_ERROR_3BITS_XXS, _3BITS), its signal, its metric. */
static void test_roundtrip_rmse(void **state)
{
    (void)state;
    fmt_check_rmse(LOWBIT_FORMAT_IQ3_XXS, 0.0050);
    fmt_check_rmse(LOWBIT_FORMAT_IQ3_S, 0.0040);
}

/* A constant is no grid point of either lattice, and the 4-bit sub-scales are coarse: ggml's own bytes decode a
 * constant row to within 32% (IQ3_XXS) and 25% (IQ3_S) of it. NaN, infinite and overflowing rows, where ggml's
 * reference aborts, quantize without crashing (fmt_check_quantizer). */
static void test_shared_checks(void **state)
{
    (void)state;
    for (int f = 0; f < 2; ++f)
        fmt_check_quantizer(formats[f], 0.35, 0.15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_determinism), /* first: the lattices are built under contention */
        cmocka_unit_test(test_lattices),
        cmocka_unit_test(test_nearest_int),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_rebuilt_neighbour_lists),
        cmocka_unit_test(test_iq3_xxs_tiny_sub_block),
        cmocka_unit_test(test_iq3_s_zero_sub_block),
        cmocka_unit_test(test_roundtrip_rmse),
        cmocka_unit_test(test_shared_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
