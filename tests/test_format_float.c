/* test_format_float.c — host/format/float.c's BF16 rows: round to nearest even, quiet NaN, exact decode. */
#include <math.h>
#include <string.h>

#include "test_support.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* 1 + 2^-8 is halfway between bf16 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): ties to even → 0x3F80;
 * 1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82 → 0x3F82; just above half rounds up. */
static void test_bf16_known_values(void **state)
{
    (void)state;
    const float x[8] = {1.0f, from_bits(0x3F808000u), from_bits(0x3F818000u), from_bits(0x3F808001u), -2.5f, INFINITY,
                        NAN,  from_bits(0x7F7FFFFFu)};
    const uint16_t expected[8] = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC020, 0x7F80, 0, 0x7F80};
    unsigned char out[16];
    float y[8];
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_BF16, x, 1, 8, out, sizeof out, NULL, 1), LOWBIT_OK);
    for (int i = 0; i < 8; ++i) {
        const uint16_t got = (uint16_t)(out[2 * i] | (out[2 * i + 1] << 8));
        if (i == 6)
            assert_true((got & 0x7F80) == 0x7F80 && (got & 0x7F) != 0); /* NaN stays NaN */
        else
            assert_int_equal(got, expected[i]);
    }
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_BF16, out, sizeof out, 1, 8, y), LOWBIT_OK);
    assert_true(y[0] == 1.0f && y[1] == 1.0f && y[4] == -2.5f && isinf(y[5]) && isnan(y[6]));
    assert_true(y[2] == from_bits(0x3F820000u));
}

static void test_bf16_errors(void **state)
{
    (void)state;
    float x[4] = {0};
    unsigned char out[8];
    assert_int_not_equal(lowbit_quantize(LOWBIT_FORMAT_BF16, x, 1, 4, out, 7, NULL, 1), LOWBIT_OK);
    assert_true(strlen(lowbit_last_error()) > 0);
    assert_int_not_equal(lowbit_dequantize(LOWBIT_FORMAT_BF16, NULL, 8, 1, 4, x), LOWBIT_OK);
    assert_true(strlen(lowbit_last_error()) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bf16_known_values), cmocka_unit_test(test_bf16_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
