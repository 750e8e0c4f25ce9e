/* test_format_fp4.c — host/format/fp4.c: MXFP4 and NVFP4 known-answer blocks built by hand from the
 * layout (docs/formats.md §3.5) in both directions, the reference's tie and scale-encoding rules, then the
 * shared format checks with ggml's FP4 error limits (gguf-py and the engine's libggml check the bytes on
 * random data: tests/oracle). */
#include "test_format_checks.h"

/* The doubled E2M1 levels. */
static const float levels[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* e = 127 → scale 2^-1 (the doubled levels' half of 2^0); qs[j] = j | (15 − j) << 4 puts every code in both
 * halves: element j is levels[j]·0.5, element j + 16 levels[15 − j]·0.5. */
static void test_mxfp4_known_block(void **state)
{
    (void)state;
    unsigned char block[17];
    float y[32];
    block[0] = 127;
    for (int j = 0; j < 16; ++j)
        block[1 + j] = (unsigned char)(j | ((15 - j) << 4));
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_MXFP4, block, sizeof block, 1, 32, y), LOWBIT_OK);
    for (int j = 0; j < 16; ++j) {
        assert_true(y[j] == levels[j] * 0.5f);
        assert_true(y[j + 16] == levels[15 - j] * 0.5f);
    }
    /* e = 0 and 1: the f32 subnormals 2^-128 and 2^-127 (code 7 doubles: 12·2^-128 = 3·2^-126) */
    block[0] = 0;
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_MXFP4, block, sizeof block, 1, 32, y), LOWBIT_OK);
    assert_true(y[7] == 0x1.8p-125f);
    block[0] = 1;
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_MXFP4, block, sizeof block, 1, 32, y), LOWBIT_OK);
    assert_true(y[7] == 0x1.8p-124f);
}

/* amax 6 → e = floor(log2 6) − 2 + 127 = 127, scale 0.5: 6 is code 7 (12·0.5); −0.75 lies exactly between
 * −0.5 (code 9) and −1 (code 10), and the first of equal errors wins: code 9. 0 is code 0, never 8. */
static void test_mxfp4_quantize_known(void **state)
{
    (void)state;
    float x[32] = {0};
    unsigned char out[17], expected[17] = {127, 0x97};
    x[0] = 6.0f;
    x[16] = -0.75f;
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_MXFP4, x, 1, 32, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, expected, sizeof out);
    /* an all-zero block: e = 0, every code 0 */
    memset(x, 0, sizeof x);
    memset(expected, 0, sizeof expected);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_MXFP4, x, 1, 32, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, expected, sizeof out);
}

/* Scales 0x38 (UE4M3 1.0 → 0.5), 0x40 (2.0 → 1.0), 0x01 (the smallest subnormal, 2^-9 → 2^-10) and 0x7F (read
 * as 0); qs[8s + j] = (j + s) | (7 − j) << 4: element 16s + j is levels[j + s]·d_s, 16s + j + 8 levels[7 − j]·d_s. */
static void test_nvfp4_known_block(void **state)
{
    (void)state;
    const unsigned char scales[4] = {0x38, 0x40, 0x01, 0x7F};
    const float d[4] = {0.5f, 1.0f, 0x1p-10f, 0.0f};
    unsigned char block[36];
    float y[64];
    memcpy(block, scales, 4);
    for (int s = 0; s < 4; ++s)
        for (int j = 0; j < 8; ++j)
            block[4 + 8 * s + j] = (unsigned char)((j + s) | ((7 - j) << 4));
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_NVFP4, block, sizeof block, 1, 64, y), LOWBIT_OK);
    for (int s = 0; s < 4; ++s)
        for (int j = 0; j < 8; ++j) {
            assert_true(y[16 * s + j] == levels[j + s] * d[s]);
            assert_true(y[16 * s + j + 8] == levels[7 - j] * d[s]);
        }
    /* 0xFF has the 0x7F pattern plus the (ignored) top bit: 1.875·2^8, halved = 240, not 0 */
    block[0] = 0xFF;
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_NVFP4, block, sizeof block, 1, 64, y), LOWBIT_OK);
    assert_true(y[7] == 12.0f * 240.0f);
}

/* One sub-block {6, −3, 1.5, 0.5, 0...}: amax/6 = 1 → scale byte 0x38, d = 0.5; codes 7, 13, 3, 1. The other
 * sub-blocks are zero: scale byte 0. Then the scale encoder's rounding and clamping. */
static void test_nvfp4_quantize_known(void **state)
{
    (void)state;
    float x[64] = {6.0f, -3.0f, 1.5f, 0.5f};
    unsigned char out[36], expected[36] = {0x38, 0, 0, 0, 0x07, 0x0D, 0x03, 0x01};
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_NVFP4, x, 1, 64, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, expected, sizeof out);
    /* amax 6000 → 1000 > 448: clamped to 0x7E (448); amax 6·1.0625 → mantissa 0.5 rounds up: 0x39 (1.125) */
    memset(x, 0, sizeof x);
    x[0] = 6000.0f;
    x[16] = 6.375f;
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_NVFP4, x, 1, 64, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_int_equal(out[0], 0x7E);
    assert_int_equal(out[1], 0x39);
}

/* Limits: ggml's own (test-quantize-fns: 0.002 for MXFP4, 0.003 for NVFP4). Constants and outliers: FP4 has
 * levels 8 and 12 (doubled) at the top, so a value between them is off by up to 20 %, and above 12·d (MXFP4's
 * power-of-two scale leaves [12, 16)·d) by up to 25 %. */
static void test_mxfp4_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_MXFP4, 0.002, 0.25, 0.25);
}

/* NVFP4's smallest non-zero scale is 2^-9, so a constant 0.001 (amax/6 below half of it) becomes 0: the
 * constant check runs on values the format can hold; the rest as every format. */
static void test_nvfp4_checks(void **state)
{
    (void)state;
    fmt_check_rmse(LOWBIT_FORMAT_NVFP4, 0.003);
    float x[512], y[512];
    const float constants[] = {1.0f, -3.25f, 0.05f, 1000.0f};
    for (size_t c = 0; c < sizeof constants / sizeof constants[0]; ++c) {
        for (size_t i = 0; i < 512; ++i)
            x[i] = constants[c];
        free(fmt_roundtrip(LOWBIT_FORMAT_NVFP4, x, 1, 512, y, NULL, 1));
        for (size_t i = 0; i < 512; ++i)
            assert_true(fabs((double)y[i] - constants[c]) <= 0.1 * fabs(constants[c]));
    }
    fmt_check_outlier(LOWBIT_FORMAT_NVFP4, 0.1);
    fmt_check_nonfinite(LOWBIT_FORMAT_NVFP4);
    fmt_check_threads(LOWBIT_FORMAT_NVFP4);
    fmt_check_argument_errors(LOWBIT_FORMAT_NVFP4, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mxfp4_known_block), cmocka_unit_test(test_mxfp4_quantize_known),
        cmocka_unit_test(test_nvfp4_known_block), cmocka_unit_test(test_nvfp4_quantize_known),
        cmocka_unit_test(test_mxfp4_checks),      cmocka_unit_test(test_nvfp4_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
