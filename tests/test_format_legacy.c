/* test_format_legacy.c — host/format/legacy.c: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the Q8_1 activation
 * type; known-answer blocks built by hand from the layout tables, then the shared format checks. */
#include "test_format_checks.h"

static void put_half(unsigned char *p, uint16_t h)
{
    p[0] = (unsigned char)(h & 0xFF);
    p[1] = (unsigned char)(h >> 8);
}

/* Q4_1 {d = 0.5, m = −1, qs[j] = j | (15 − j) << 4}: x_j = 0.5·j − 1, x_{j+16} = 0.5·(15 − j) − 1; and the
 * same floats quantize back to exactly those bytes (min −1, max 6.5, d = 7.5/15 = 0.5). */
static void test_q4_1_known_block(void **state)
{
    (void)state;
    unsigned char block[20], out[20];
    float expected[32], y[32];
    put_half(block, 0x3800);     /* 0.5 */
    put_half(block + 2, 0xBC00); /* −1 */
    for (int j = 0; j < 16; ++j) {
        block[4 + j] = (unsigned char)(j | ((15 - j) << 4));
        expected[j] = 0.5f * (float)j - 1.0f;
        expected[j + 16] = 0.5f * (float)(15 - j) - 1.0f;
    }
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q4_1, block, sizeof block, 1, 32, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 32);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q4_1, expected, 1, 32, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, block, sizeof block);
}

/* Q5_0 {d = 0.25, qh = 0xFFFF0000, qs[j] = j | j << 4}: quants j (first half) and j + 16 (second half),
 * x = 0.25·(q − 16). Quantizing those floats: max |x| is x_0 = −4, d = −4/−16 = 0.25, same bytes. */
static void test_q5_0_known_block(void **state)
{
    (void)state;
    unsigned char block[22] = {0}, out[22];
    float expected[32], y[32];
    put_half(block, 0x3400); /* 0.25 */
    block[4] = block[5] = 0xFF;
    for (int j = 0; j < 16; ++j) {
        block[6 + j] = (unsigned char)(j | (j << 4));
        expected[j] = 0.25f * (float)(j - 16);
        expected[j + 16] = 0.25f * (float)j;
    }
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q5_0, block, sizeof block, 1, 32, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 32);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q5_0, expected, 1, 32, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, block, sizeof block);
}

/* Q5_1 {d = 1, m = 0, qh bit 0, qs[0] = 0x0F}: element 0 is 15 | 16 = 31, the rest 0. Input [31, 0, …]
 * gives min 0, max 31, d = 1 and those bytes. Then m = 0.5 shifts every value by 0.5. */
static void test_q5_1_known_block(void **state)
{
    (void)state;
    unsigned char block[24] = {0}, out[24];
    float expected[32] = {31.0f}, y[32];
    put_half(block, 0x3C00);
    block[4] = 0x01;
    block[8] = 0x0F;
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q5_1, block, sizeof block, 1, 32, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 32);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q5_1, expected, 1, 32, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, block, sizeof block);
    put_half(block + 2, 0x3800);
    for (int j = 0; j < 32; ++j)
        expected[j] += 0.5f;
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q5_1, block, sizeof block, 1, 32, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 32);
}

/* Q4_0 and Q8_0 by hand too: Q4_0 {d = −2, qs[j] = j | 8 << 4} gives x_j = −2·(j − 8), x_{j+16} = 0;
 * Q8_0 {d = 0.5, qs[j] = j − 16} gives x_j = 0.5·(j − 16). */
static void test_q4_0_q8_0_known_blocks(void **state)
{
    (void)state;
    unsigned char q4[18], q8[34];
    float y[32];
    put_half(q4, 0xC000); /* −2 */
    for (int j = 0; j < 16; ++j)
        q4[2 + j] = (unsigned char)(j | (8 << 4));
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q4_0, q4, sizeof q4, 1, 32, y), LOWBIT_OK);
    for (int j = 0; j < 16; ++j) {
        assert_true(y[j] == -2.0f * (float)(j - 8));
        assert_true(y[j + 16] == 0.0f);
    }
    put_half(q8, 0x3800); /* 0.5 */
    for (int j = 0; j < 32; ++j)
        q8[2 + j] = (unsigned char)(int8_t)(j - 16);
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q8_0, q8, sizeof q8, 1, 32, y), LOWBIT_OK);
    for (int j = 0; j < 32; ++j)
        assert_true(y[j] == 0.5f * (float)(j - 16));
}

/* Q8_1 (quantize only): x = [127, 1, 1, …] → d = 1, q = x, s = d·Σq = 127 + 31 = 158 = 0x58F0 in f16. */
static void test_q8_1_known_block(void **state)
{
    (void)state;
    float x[32];
    unsigned char out[36], expected[36];
    for (int j = 0; j < 32; ++j)
        x[j] = 1.0f;
    x[0] = 127.0f;
    put_half(expected, 0x3C00);
    put_half(expected + 2, 0x58F0);
    expected[4] = 127;
    for (int j = 1; j < 32; ++j)
        expected[4 + j] = 1;
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q8_1, x, 1, 32, out, sizeof out, NULL, 1), LOWBIT_OK);
    assert_memory_equal(out, expected, sizeof expected);
    const lowbit_format_traits *traits = lowbit_format_get(LOWBIT_FORMAT_Q8_1);
    assert_true(traits->can_quantize && !traits->can_dequantize && traits->is_activation_only);
    fmt_check_threads(LOWBIT_FORMAT_Q8_1);
    fmt_check_argument_errors(LOWBIT_FORMAT_Q8_1, 0);
}

static void test_q4_0_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q4_0, 0.002, 1e-3, 1e-3);
}

static void test_q4_1_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q4_1, 0.002, 1e-3, 1e-3);
}

static void test_q5_0_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q5_0, 0.002, 1e-3, 1e-3);
}

static void test_q5_1_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q5_1, 0.002, 1e-3, 1e-3);
}

static void test_q8_0_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q8_0, 0.002, 1e-3, 1e-3);
}

/* Q4_0, Q4_1, Q5_0 and Q5_1 fit to Σ imp·(x − x̂)² when given an importance vector (the printed ratios were
 * 0.17–0.30 when written); the bytes do not depend on threads, and rows of zeros, constants and non-finite
 * values still take the plain path's answers. */
static void test_importance(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_1, LOWBIT_FORMAT_Q5_0, LOWBIT_FORMAT_Q5_1};
    const size_t n = sizeof formats / sizeof formats[0];
    fmt_check_threads_and_importance(formats, n, 41, 1.0f);
    fmt_check_importance_lowers_error(formats, n, 0.9);
    enum { COLS = 256 };
    float x[COLS], y[COLS], importance[COLS];
    for (int i = 0; i < COLS; ++i)
        importance[i] = i < 32 ? 0.0f : 1.0f + (float)(i % 5);
    for (size_t f = 0; f < n; ++f) {
        memset(x, 0, sizeof x);
        free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance, 1));
        for (int i = 0; i < COLS; ++i)
            assert_true(y[i] == 0.0f);
        for (int i = 0; i < COLS; ++i)
            x[i] = 0.625f;
        free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance, 1));
        for (int i = 0; i < COLS; ++i)
            assert_true(fabsf(y[i] - 0.625f) <= 0.625f * 0.01f);
        for (int i = 0; i < COLS; ++i)
            x[i] = (i % 3 == 0) ? NAN : (i % 7 == 0) ? INFINITY : (float)(i % 11) - 5.0f;
        free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance, 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q4_1_known_block), cmocka_unit_test(test_q5_0_known_block),
        cmocka_unit_test(test_q5_1_known_block), cmocka_unit_test(test_q4_0_q8_0_known_blocks),
        cmocka_unit_test(test_q8_1_known_block), cmocka_unit_test(test_q4_0_checks),
        cmocka_unit_test(test_q4_1_checks),      cmocka_unit_test(test_q5_0_checks),
        cmocka_unit_test(test_q5_1_checks),      cmocka_unit_test(test_q8_0_checks),
        cmocka_unit_test(test_importance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
