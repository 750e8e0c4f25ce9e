/* test_format_q1q2.c — host/format/q1q2.c: Q1_0 and Q2_0 known-answer blocks built by hand from the layout
 * (docs/formats.md §3.6) in both directions, then the shared format checks with ggml's limits for these
 * formats (the engine's libggml checks the bytes on random data: tests/oracle/ggml_format_oracle.py). */
#include "test_format_checks.h"

static void put_half(unsigned char *p, uint16_t h)
{
    p[0] = (unsigned char)(h & 0xFF);
    p[1] = (unsigned char)(h >> 8);
}

/* d = 1 (f16 0x3C00), every qs byte 0x55: even elements +1, odd −1. Quantizing those values gives d = mean
 * |x| = 1 and the same bits; 0 and −0 both count as non-negative (+d). */
static void test_q1_0_known_block(void **state)
{
    (void)state;
    unsigned char block[18], out[18];
    float expected[128], y[128];
    put_half(block, 0x3C00);
    memset(block + 2, 0x55, 16);
    for (int j = 0; j < 128; ++j)
        expected[j] = j % 2 ? -1.0f : 1.0f;
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q1_0, block, sizeof block, 1, 128, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 128);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q1_0, expected, 1, 128, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, block, sizeof block);
    expected[1] = 0.0f;
    expected[3] = -0.0f;
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q1_0, expected, 1, 128, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_int_equal(out[2], 0x5F); /* bits 1 and 3 now set as well */
}

/* d = 2 (0x4000), every qs byte 0xE4 = codes 0, 1, 2, 3 from the low bits up: element j is (j % 4 − 1)·2. */
static void test_q2_0_known_block(void **state)
{
    (void)state;
    unsigned char block[18];
    float y[64];
    put_half(block, 0x4000);
    memset(block + 2, 0xE4, 16);
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q2_0, block, sizeof block, 1, 64, y), LOWBIT_OK);
    for (int j = 0; j < 64; ++j)
        assert_true(y[j] == (float)(j % 4 - 1) * 2.0f);
}

/* {−4, 0, 4, 2} repeated: d = amax = 4, x/d = −1, 0, 1, 0.5 → codes 0, 1, 2 and round(0.5) + 1 = 2 (half away
 * from zero): each byte 0 | 1 << 2 | 2 << 4 | 2 << 6 = 0xA4. Code 3 (+2d) is reached only by rounding, so the
 * maximum itself stays on +d. */
static void test_q2_0_quantize_known(void **state)
{
    (void)state;
    const float pattern[4] = {-4.0f, 0.0f, 4.0f, 2.0f};
    float x[64];
    unsigned char out[18], expected[18];
    for (int j = 0; j < 64; ++j)
        x[j] = pattern[j % 4];
    put_half(expected, 0x4400);
    memset(expected + 2, 0xA4, 16);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q2_0, x, 1, 64, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, expected, sizeof out);
}

/* Q1_0 keeps only signs and the mean magnitude: ggml's binary limit (0.025); constants survive (d = |c|), an
 * outlier does not (it only raises the mean), so the outlier check is Q1_0's own: signs kept, the clean
 * half of the row untouched. */
static void test_q1_0_checks(void **state)
{
    (void)state;
    fmt_check_rmse(LOWBIT_FORMAT_Q1_0, 0.025);
    fmt_check_zero_and_constant(LOWBIT_FORMAT_Q1_0, 1e-3);
    float x[512], y[512];
    test_fill_random(x, 512, 7, 0.05f);
    x[100] = 40.0f;
    free(fmt_roundtrip(LOWBIT_FORMAT_Q1_0, x, 1, 512, y, NULL, 1));
    for (size_t i = 0; i < 512; ++i)
        assert_true((x[i] >= 0.0f) == (y[i] > 0.0f));
    fmt_check_nonfinite(LOWBIT_FORMAT_Q1_0);
    fmt_check_threads(LOWBIT_FORMAT_Q1_0);
    fmt_check_argument_errors(LOWBIT_FORMAT_Q1_0, 1);
}

/* Q2_0: ggml's limit for it (the ternary one, 0.01); d = amax keeps constants and outliers. */
static void test_q2_0_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q2_0, 0.01, 1e-3, 1e-3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q1_0_known_block),    cmocka_unit_test(test_q2_0_known_block),
        cmocka_unit_test(test_q2_0_quantize_known), cmocka_unit_test(test_q1_0_checks),
        cmocka_unit_test(test_q2_0_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
