/* test_format_iquants.c — host/format/iquants.c: IQ4_NL and IQ4_XS known-answer blocks built by hand from
 * the layout tables and the kvalues grid, the grid search's exactness on grid points, and the shared checks. */
#include "test_format_checks.h"

static const int kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static void put_half(unsigned char *p, uint16_t h)
{
    p[0] = (unsigned char)(h & 0xFF);
    p[1] = (unsigned char)(h >> 8);
}

/* IQ4_NL {d = 0.5, qs[j] = j | (15 − j) << 4}: x_j = 0.5·kvalues[j], x_{j+16} = 0.5·kvalues[15 − j]. */
static void test_iq4_nl_known_block(void **state)
{
    (void)state;
    unsigned char block[18];
    float y[32], expected[32];
    put_half(block, 0x3800);
    for (int j = 0; j < 16; ++j) {
        block[2 + j] = (unsigned char)(j | ((15 - j) << 4));
        expected[j] = 0.5f * (float)kvalues[j];
        expected[j + 16] = 0.5f * (float)kvalues[15 - j];
    }
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_IQ4_NL, block, sizeof block, 1, 32, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, 32);
    assert_true(y[0] == -63.5f && y[8] == 0.5f && y[16] == 56.5f);
}

/* Values exactly on the grid (scale 1) are found exactly: the search tries id = −127/max first, which
 * maps every element onto its own level, and no other scale fits better. Bytes: d = 1, qs[j] = j | j << 4. */
static void test_iq4_nl_quantizes_grid_points(void **state)
{
    (void)state;
    float x[32], y[32];
    unsigned char expected[18];
    put_half(expected, 0x3C00);
    for (int j = 0; j < 16; ++j) {
        x[j] = x[j + 16] = (float)kvalues[j];
        expected[2 + j] = (unsigned char)(j | (j << 4));
    }
    unsigned char *packed = fmt_roundtrip(LOWBIT_FORMAT_IQ4_NL, x, 1, 32, y, NULL, 1);
    assert_memory_equal(packed, expected, sizeof expected);
    fmt_expect_floats(y, x, 32);
    free(packed);
}

/* IQ4_XS {d = 0.25; sub-block ib has ls = 33 + ib (→ ib + 1): low nibbles 1..8 in scales_l = 21 43 65 87,
 * high bits 2 for each in scales_h = 0xAAAA; qs 0xF0}: low nibble 0 → −127, high 15 → 113, so element
 * 32·ib + j is 0.25·(ib + 1)·−127 for j < 16 and 0.25·(ib + 1)·113 after. */
static void test_iq4_xs_known_block(void **state)
{
    (void)state;
    unsigned char block[136];
    float y[256];
    put_half(block, 0x3400);
    put_half(block + 2, 0xAAAA);
    block[4] = 0x21;
    block[5] = 0x43;
    block[6] = 0x65;
    block[7] = 0x87;
    memset(block + 8, 0xF0, 128);
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_IQ4_XS, block, sizeof block, 1, 256, y), LOWBIT_OK);
    for (int e = 0; e < 256; ++e) {
        const int ib = e / 32;
        const float dl = 0.25f * (float)(ib + 1);
        assert_true(y[e] == dl * (float)((e % 32) < 16 ? -127 : 113));
    }
    assert_true(y[0] == -31.75f && y[16] == 28.25f && y[255] == 226.0f);
}

/* The importance vector steers the error toward the weighted columns, and an all-zero one (columns the
 * imatrix never saw) still gives an ordinary fit instead of zeros. */
static void test_imatrix_is_honoured(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_IQ4_XS};
    const size_t rows = 16, cols = 256;
    float *x = fmt_alloc(rows * cols * sizeof(float)), *y = fmt_alloc(rows * cols * sizeof(float));
    float importance[256], zeros[256] = {0};
    test_fill_random(x, rows * cols, 5, 1.0f);
    for (size_t i = 0; i < cols; ++i)
        importance[i] = (i % 16) < 4 ? 100.0f : 1.0f;
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        double err[2] = {0.0, 0.0}, zero_err = 0.0;
        for (int use = 0; use < 2; ++use) {
            free(fmt_roundtrip(formats[f], x, rows, cols, y, use ? importance : NULL, 1));
            for (size_t i = 0; i < rows * cols; ++i)
                if ((i % 16) < 4) err[use] += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        }
        free(fmt_roundtrip(formats[f], x, rows, cols, y, zeros, 1));
        for (size_t i = 0; i < rows * cols; ++i)
            zero_err += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        printf("%-6s weighted-element error: %.5f plain, %.5f with imatrix; all-zero imatrix total %.4f\n",
               lowbit_format_name(formats[f]), err[0], err[1], zero_err);
        assert_true(err[1] < err[0]);
        assert_true(zero_err < 0.01 * (double)(rows * cols)); /* an ordinary 4-bit fit, not zeros (≈ 1/3 each) */
    }
    free(x);
    free(y);
}

static void test_iq4_nl_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_IQ4_NL, 0.002, 0.02, 0.02);
}

static void test_iq4_xs_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_IQ4_XS, 0.002, 0.02, 0.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iq4_nl_known_block), cmocka_unit_test(test_iq4_nl_quantizes_grid_points),
        cmocka_unit_test(test_iq4_xs_known_block), cmocka_unit_test(test_imatrix_is_honoured),
        cmocka_unit_test(test_iq4_nl_checks),      cmocka_unit_test(test_iq4_xs_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
