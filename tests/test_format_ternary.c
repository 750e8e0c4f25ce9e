/* test_format_ternary.c — host/format/ternary.c: TQ1_0 and TQ2_0 known-answer blocks built by hand from
 * the layout tables (both directions), then the shared format checks with the ternary RMSE limit. */
#include "test_format_checks.h"

static void put_half(unsigned char *p, uint16_t h)
{
    p[0] = (unsigned char)(h & 0xFF);
    p[1] = (unsigned char)(h >> 8);
}

/* TQ2_0 {every qs byte = 2 | 0 << 2 | 1 << 4 | 2 << 6 = 146, d = 2}: element 128c + 32k + l has trit
 * (2, 0, 1, 2)[k], i.e. x = 2·(trit − 1) = (2, −2, 0, 2)[k]. d = amax = 2, so those floats give the bytes. */
static void test_tq2_0_known_block(void **state)
{
    (void)state;
    unsigned char block[66], out[66];
    float expected[256], y[256];
    const float by_k[4] = {2.0f, -2.0f, 0.0f, 2.0f};
    memset(block, 146, 64);
    put_half(block + 64, 0x4000);
    for (int e = 0; e < 256; ++e)
        expected[e] = by_k[(e % 128) / 32];
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_TQ2_0, block, sizeof block, 1, 256, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 256);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_TQ2_0, expected, 1, 256, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, block, sizeof block);
}

/* TQ1_0: a byte holds trits (t0..t4) as ceil(Σ t_p·3^(4−p)·256/243). Trits (2,1,0,1,2): Σ = 194,
 * 194·256/243 = 204.4 → 205. The qh trits (0,2,1,1) and a zero fifth: Σ = 66 → 69.5 → 70. With d = 0.5:
 * elements 32p + l and 160 + 16p + l decode to 0.5·((2,1,0,1,2)[p] − 1); 240 + 4p + l to 0.5·((0,2,1,1)[p] − 1). */
static void test_tq1_0_known_block(void **state)
{
    (void)state;
    unsigned char block[54], out[54];
    float expected[256], y[256];
    const float qs_values[5] = {0.5f, 0.0f, -0.5f, 0.0f, 0.5f};
    const float qh_values[4] = {-0.5f, 0.5f, 0.0f, 0.0f};
    memset(block, 205, 48);
    memset(block + 48, 70, 4);
    put_half(block + 52, 0x3800);
    for (int p = 0; p < 5; ++p) {
        for (int l = 0; l < 32; ++l)
            expected[32 * p + l] = qs_values[p];
        for (int l = 0; l < 16; ++l)
            expected[160 + 16 * p + l] = qs_values[p];
    }
    for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 4; ++l)
            expected[240 + 4 * p + l] = qh_values[p];
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_TQ1_0, block, sizeof block, 1, 256, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 256);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_TQ1_0, expected, 1, 256, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, block, sizeof block);
}

/* Values between the levels round half away from zero against d = amax: 0.5·amax → +1, −0.49·amax → 0. */
static void test_ternary_rounding(void **state)
{
    (void)state;
    float x[256] = {0}, y[256];
    x[0] = 4.0f;
    x[1] = 2.0f;
    x[2] = -1.96f;
    x[3] = -2.0f;
    free(fmt_roundtrip(LOWBIT_FORMAT_TQ2_0, x, 1, 256, y, NULL, 1));
    assert_true(y[0] == 4.0f && y[1] == 4.0f && y[2] == 0.0f && y[3] == -4.0f);
    free(fmt_roundtrip(LOWBIT_FORMAT_TQ1_0, x, 1, 256, y, NULL, 1));
    assert_true(y[0] == 4.0f && y[1] == 4.0f && y[2] == 0.0f && y[3] == -4.0f);
}

/* A constant row is ±amax and an outlier sets d = amax, so both survive exactly (up to d's f16 rounding);
 * the small values around the outlier round to 0. */
static void test_tq1_0_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_TQ1_0, 0.01, 1e-3, 1e-3);
}

static void test_tq2_0_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_TQ2_0, 0.01, 1e-3, 1e-3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tq2_0_known_block), cmocka_unit_test(test_tq1_0_known_block),
        cmocka_unit_test(test_ternary_rounding),  cmocka_unit_test(test_tq1_0_checks),
        cmocka_unit_test(test_tq2_0_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
