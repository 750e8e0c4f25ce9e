/* test_format_kquants.c — host/format/kquants.c: Q2_K..Q6_K known-answer blocks built by hand from the
 * layout tables, quantizer properties (RMSE limits, imatrix honoured and lowering the weighted error, importance
 * bytes independent of threads, special rows on the importance path, plain bytes frozen), Q8_K, and the shared
 * checks. */
#include "test_format_checks.h"

static void put_half(unsigned char *p, uint16_t h)
{
    p[0] = (unsigned char)(h & 0xFF);
    p[1] = (unsigned char)(h >> 8);
}

static void decode(lowbit_format format, const unsigned char *block, size_t bytes, float *y)
{
    assert_int_equal(lowbit_dequantize(format, block, bytes, 1, 256, y), LOWBIT_OK);
}

/* Q2_K {scales[j] = 0x21 (scale 1, min 2), d = 1, dmin = 0.5, qs bytes 0xE4}: byte 0xE4 holds 0,1,2,3 at
 * shifts 0,2,4,6, so element 128h + 32k + l has q = k and x = 1·k − 0.5·2 = k − 1. Sub-block 15 gets
 * scales 0x03 (scale 3, min 0): elements 240..255 (k = 3) decode to 9. */
static void test_q2_k_known_block(void **state)
{
    (void)state;
    unsigned char block[84];
    float y[256];
    memset(block, 0x21, 16);
    block[15] = 0x03;
    memset(block + 16, 0xE4, 64);
    put_half(block + 80, 0x3C00);
    put_half(block + 82, 0x3800);
    decode(LOWBIT_FORMAT_Q2_K, block, sizeof block, y);
    for (int e = 0; e < 240; ++e)
        assert_true(y[e] == (float)((e % 128) / 32) - 1.0f);
    for (int e = 240; e < 256; ++e)
        assert_true(y[e] == 9.0f);
}

/* Q3_K {d = 0.5, every 6-bit scale 34 (→ 2): bytes 0..7 = 0x22, bytes 8..11 = 0xAA; hmask 0xFF except
 * hmask[0] bit 0; qs 0xE4}: q_lo = k, high bit set → x = 0.5·2·k = k; element 0 has its high bit clear,
 * so q = 0 − 4 and x = −4. Scale 15 set to 0 (→ −32: byte 7 high nibble 0, byte 11 bits 6..7 0) makes
 * elements 240..255 (k = 3) 0.5·(−32)·3 = −48. */
static void test_q3_k_known_block(void **state)
{
    (void)state;
    unsigned char block[110];
    float y[256];
    memset(block, 0xFF, 32);
    block[0] = 0xFE;
    memset(block + 32, 0xE4, 64);
    memset(block + 96, 0x22, 8);
    memset(block + 104, 0xAA, 4);
    block[96 + 7] = 0x02;
    block[96 + 11] = 0x2A;
    put_half(block + 108, 0x3800);
    decode(LOWBIT_FORMAT_Q3_K, block, sizeof block, y);
    assert_true(y[0] == -4.0f);
    for (int e = 1; e < 240; ++e)
        assert_true(y[e] == (float)((e % 128) / 32));
    for (int e = 240; e < 256; ++e)
        assert_true(y[e] == -48.0f);
}

/* Q4_K {d = 1, dmin = 1; sub-block j: scale j + 1, min j; qs 0x21}: low nibble 1 for the first 32 of each
 * 64, high nibble 2 for the second, so x = (j + 1)·q − j. The 6-bit packing: j < 4 in bytes j / j + 4,
 * j ≥ 4 as nibbles of byte j + 4. Scale 7 = 63 needs its high bits: 63 & 15 in byte 11, 63 >> 4 = 3 in
 * bits 6..7 of byte 3, so sub-block 7 (q = 2) decodes to 63·2 − 7 = 119. */
static void build_k4_header(unsigned char *block)
{
    put_half(block, 0x3C00);
    put_half(block + 2, 0x3C00);
    unsigned char *s = block + 4;
    for (int j = 0; j < 4; ++j) {
        s[j] = (unsigned char)(j + 1);
        s[j + 4] = (unsigned char)j;
    }
    for (int j = 4; j < 8; ++j)
        s[j + 4] = (unsigned char)(((j + 1) & 0xF) | (j << 4));
    s[11] = (unsigned char)(15 | (7 << 4));
    s[3] |= 3 << 6;
}

static float k4_expected(int e, int q)
{
    const int j = e / 32;
    return j == 7 ? 63.0f * (float)q - 7.0f : (float)(j + 1) * (float)q - (float)j;
}

static void test_q4_k_known_block(void **state)
{
    (void)state;
    unsigned char block[144];
    float y[256];
    build_k4_header(block);
    memset(block + 16, 0x21, 128);
    decode(LOWBIT_FORMAT_Q4_K, block, sizeof block, y);
    for (int e = 0; e < 256; ++e)
        assert_true(y[e] == k4_expected(e, (e % 64) < 32 ? 1 : 2));
    assert_true(y[255] == 119.0f);
}

/* Q5_K: the Q4_K header and nibbles, plus qh[l] = 0x01 — bit 0 is the fifth bit of element l (0..31),
 * so sub-block 0 has q = 1 + 16 and decodes to 17. */
static void test_q5_k_known_block(void **state)
{
    (void)state;
    unsigned char block[176];
    float y[256];
    build_k4_header(block);
    memset(block + 16, 0x01, 32);
    memset(block + 48, 0x21, 128);
    decode(LOWBIT_FORMAT_Q5_K, block, sizeof block, y);
    for (int e = 0; e < 32; ++e)
        assert_true(y[e] == 17.0f);
    for (int e = 32; e < 256; ++e)
        assert_true(y[e] == k4_expected(e, (e % 64) < 32 ? 1 : 2));
}

/* Q6_K {d = 0.5, int8 scales[j] = j − 8, ql 0x21, qh 0xE4}: element 128h + r has low nibble 1 (r < 64)
 * or 2, and high bits k = r / 32, so q = low + 16k − 32 and x = 0.5·(j − 8)·q with j = e / 16:
 * e = 0 → −4·(−31) = 124; e = 100 → (−1)·(2 + 48 − 32) = −18; e = 255 → 3.5·18 = 63; e = 40 → −3·(−15) = 45. */
static void test_q6_k_known_block(void **state)
{
    (void)state;
    unsigned char block[210];
    float y[256];
    memset(block, 0x21, 128);
    memset(block + 128, 0xE4, 64);
    for (int j = 0; j < 16; ++j)
        block[192 + j] = (unsigned char)(int8_t)(j - 8);
    put_half(block + 208, 0x3800);
    decode(LOWBIT_FORMAT_Q6_K, block, sizeof block, y);
    assert_true(y[0] == 124.0f);
    assert_true(y[100] == -18.0f);
    assert_true(y[255] == 63.0f);
    assert_true(y[40] == 45.0f);
}

/* An importance vector must steer the error: weighting 4 of every 16 columns 100× makes those columns
 * more accurate than without weights. An all-zero vector must still give an ordinary fit. */
static void test_imatrix_is_honoured(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q5_K,
                                     LOWBIT_FORMAT_Q6_K};
    const size_t rows = 16, cols = 256;
    float *x = fmt_alloc(rows * cols * sizeof(float)), *y = fmt_alloc(rows * cols * sizeof(float));
    float importance[256];
    test_fill_random(x, rows * cols, 5, 1.0f);
    for (size_t i = 0; i < cols; ++i)
        importance[i] = (i % 16) < 4 ? 100.0f : 1.0f;
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        double err[2] = {0.0, 0.0};
        for (int use = 0; use < 2; ++use) {
            free(fmt_roundtrip(formats[f], x, rows, cols, y, use ? importance : NULL, 1));
            for (size_t i = 0; i < rows * cols; ++i)
                if ((i % 16) < 4) err[use] += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        }
        double zero_err = 0.0;
        float zeros[256] = {0};
        free(fmt_roundtrip(formats[f], x, rows, cols, y, zeros, 1));
        for (size_t i = 0; i < rows * cols; ++i)
            zero_err += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        printf("%-5s weighted-element error: %.5f plain, %.5f with imatrix; all-zero imatrix total %.4f\n",
               lowbit_format_name(formats[f]), err[0], err[1], zero_err);
        assert_true(err[1] < err[0]);
        /* columns an imatrix gives no weight still get a real fit, never zeros (which would cost ≈ 1/3 each) */
        assert_true(zero_err < 0.1 * (double)(rows * cols));
    }
    free(x);
    free(y);
}

/* The importance path beats the plain one on Σ imp·(x − x̂)² for every K format; the printed ratios were
 * 0.17–0.27 when written (0.22–0.36 before the importance path searched the stored integers). */
static void test_importance_lowers_weighted_error(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q5_K,
                                     LOWBIT_FORMAT_Q6_K};
    fmt_check_importance_lowers_error(formats, sizeof formats / sizeof formats[0], 0.95);
}

/* With an importance vector the bytes are the same for 4 threads, 1 and the automatic count, and again on a
 * second run; they differ from the plain bytes. */
static void test_importance_threads(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q5_K,
                                     LOWBIT_FORMAT_Q6_K};
    fmt_check_threads_and_importance(formats, sizeof formats / sizeof formats[0], 23, 1.5f);
}

/* On the importance path a zero row decodes to zeros, a constant row to its constant within the plain path's
 * tolerance, and rows of NaN, Inf, values whose squares overflow or subnormals (alone, or every third element
 * among finite ones) quantize without crashing; an importance vector of zeros in one sub-block, or a huge one,
 * changes none of that. */
static void test_importance_special_rows(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q5_K,
                                     LOWBIT_FORMAT_Q6_K};
    enum { COLS = 512 };
    float x[COLS], y[COLS], importance[2][COLS];
    for (int i = 0; i < COLS; ++i) {
        importance[0][i] = i < 16 ? 0.0f : 1.0f + (float)(i % 4);
        importance[1][i] = 1e30f;
    }
    const float fills[] = {NAN, INFINITY, -INFINITY, 1e18f, -3e38f, 1e-40f};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f)
        for (int v = 0; v < 2; ++v) {
            memset(x, 0, sizeof x);
            free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance[v], 1));
            for (int i = 0; i < COLS; ++i)
                assert_true(y[i] == 0.0f);
            for (int i = 0; i < COLS; ++i)
                x[i] = -0.75f;
            free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance[v], 1));
            for (int i = 0; i < COLS; ++i)
                assert_true(fabsf(y[i] + 0.75f) <= 0.75f * 0.02f);
            for (size_t k = 0; k < sizeof fills / sizeof fills[0]; ++k) {
                for (int i = 0; i < COLS; ++i)
                    x[i] = (i % 3 == 0) ? fills[k] : (float)(i % 17) - 8.0f;
                free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance[v], 1));
                for (int i = 0; i < COLS; ++i)
                    x[i] = fills[k];
                free(fmt_roundtrip(formats[f], x, 1, COLS, y, importance[v], 1));
            }
        }
}

/* The plain (no importance) bytes are frozen: FNV-1a of each format's output for 64 random rows of 1024 (the
 * bytes of the quantizer before the importance path was rewritten; it must not move them). */
static void test_plain_bytes_frozen(void **state)
{
    (void)state;
    static const struct {
        lowbit_format format;
        uint64_t hash;
    } cases[] = {
        {LOWBIT_FORMAT_Q2_K, 0x5EEC57ED085B76F2ull}, {LOWBIT_FORMAT_Q3_K, 0x0CE19C4FA112C995ull},
        {LOWBIT_FORMAT_Q4_K, 0x1DCD2801493E90B6ull}, {LOWBIT_FORMAT_Q5_K, 0x9D7E4A8679E3ADFBull},
        {LOWBIT_FORMAT_Q6_K, 0x5DE3B568DAD5F1DCull},
    };
    const size_t rows = 64, cols = 1024;
    float *x = fmt_alloc(rows * cols * sizeof(float));
    test_fill_random(x, rows * cols, 29, 2.0f);
    for (size_t i = 0; i < rows * cols; i += 61)
        x[i] *= 20.0f; /* outliers */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        unsigned char *packed = fmt_roundtrip(cases[c].format, x, rows, cols, NULL, NULL, 1);
        const uint64_t hash = test_fnv1a(packed, rows * lowbit_format_row_size(cases[c].format, cols));
        if (hash != cases[c].hash)
            fprintf(stderr, "%s plain: hash 0x%016llX, expected 0x%016llX\n", lowbit_format_name(cases[c].format),
                    (unsigned long long)hash, (unsigned long long)cases[c].hash);
        assert_true(hash == cases[c].hash);
        free(packed);
    }
    free(x);
}

/* Q8_K (quantize only): f32 d = 1/iscale with the largest |x| on −127/+127, bsums = Σ of each 16 quants. */
static void test_q8_k(void **state)
{
    (void)state;
    float x[256];
    unsigned char out[292];
    for (int i = 0; i < 256; ++i)
        x[i] = (float)(i % 16) - 8.0f;
    x[0] = -127.0f;
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q8_K, x, 1, 256, out, sizeof out, NULL, 1), LOWBIT_OK);
    float d;
    memcpy(&d, out, sizeof d);
    assert_true(d == 1.0f);
    for (int i = 0; i < 256; ++i)
        assert_int_equal((int8_t)out[4 + i], (int)x[i]);
    /* Σ over (i % 16) − 8 is −8 per group; group 0 has −127 in place of −8 */
    assert_int_equal((int16_t)(out[260] | (out[261] << 8)), -8 - 119);
    for (int j = 1; j < 16; ++j)
        assert_int_equal((int16_t)(out[260 + 2 * j] | (out[261 + 2 * j] << 8)), -8);
    const lowbit_format_traits *traits = lowbit_format_get(LOWBIT_FORMAT_Q8_K);
    assert_true(traits->can_quantize && !traits->can_dequantize && traits->is_activation_only);
    fmt_check_threads(LOWBIT_FORMAT_Q8_K);
    fmt_check_argument_errors(LOWBIT_FORMAT_Q8_K, 0);
}

/* Constants: the 6-bit (Q2_K: 4-bit) scale quantization and f16 d allow a few per mille; outliers a few
 * percent at 2-3 bits (the sub-block scale is itself quantized against the super-block maximum). */
static void test_q2_k_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q2_K, 0.0075, 0.02, 0.05);
}

static void test_q3_k_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q3_K, 0.004, 0.02, 0.05);
}

static void test_q4_k_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q4_K, 0.002, 0.02, 0.02);
}

static void test_q5_k_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q5_K, 0.002, 0.02, 0.02);
}

static void test_q6_k_checks(void **state)
{
    (void)state;
    fmt_check_weight_format(LOWBIT_FORMAT_Q6_K, 0.002, 0.02, 0.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q2_k_known_block),
        cmocka_unit_test(test_q3_k_known_block),
        cmocka_unit_test(test_q4_k_known_block),
        cmocka_unit_test(test_q5_k_known_block),
        cmocka_unit_test(test_q6_k_known_block),
        cmocka_unit_test(test_imatrix_is_honoured),
        cmocka_unit_test(test_importance_lowers_weighted_error),
        cmocka_unit_test(test_importance_threads),
        cmocka_unit_test(test_importance_special_rows),
        cmocka_unit_test(test_plain_bytes_frozen),
        cmocka_unit_test(test_q8_k),
        cmocka_unit_test(test_q2_k_checks),
        cmocka_unit_test(test_q3_k_checks),
        cmocka_unit_test(test_q4_k_checks),
        cmocka_unit_test(test_q5_k_checks),
        cmocka_unit_test(test_q6_k_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
