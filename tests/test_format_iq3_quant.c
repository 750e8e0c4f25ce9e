/* test_format_iq3_quant.c — host/format/iq3_quant.c, the IQ3_XXS and IQ3_S reference quantizers. White-box:
 * the source file is compiled into this test, so its lattice tables and its rows are checked directly, while
 * lowbit_quantize answers with liblowbit's own copy of the same code. Checked: the lattice map and neighbour
 * lists against their definition, bytes against the pinned ggml's (hashes of ggml_quantize_chunk output, with
 * and without an importance vector; tests/oracle/ggml_format_oracle.py compares random rows when the engine
 * is built), the reference's zero-sub-block rules, determinism and threads, and the round trip within ggml's
 * test-quantize-fns limits (0.0050 IQ3_XXS, 0.0040 IQ3_S). */
#include "host/format/iq3_quant.c"

#include "test_format_checks.h"

/* --- the lattice ----------------------------------------------------------------------------------- */

/* Every entry maps to itself; every other point lists exactly the entries at its `kept` smallest distinct
 * lattice distances, nearest first and by index among equals, and the lists fill the pool. */
static void check_lattice(const iq3_lattice *lattice, int entries, int kept, size_t pool_words)
{
    assert_int_equal(lattice->entries, entries);
    assert_int_equal(lattice->code[0], 0); /* level 0 everywhere: the search's starting levels */
    for (int e = 0; e < entries; ++e)
        assert_int_equal(lattice->slot[lattice->code[e]], e);
    size_t on_grid = 0, words = 0;
    for (unsigned p = 0; p < LATTICE_POINTS; ++p) {
        if (lattice->slot[p] >= 0) {
            ++on_grid;
            continue;
        }
        const uint16_t *list = lattice->neighbours + (-1 - lattice->slot[p]);
        const int n = list[0];
        assert_true(n >= 1);
        words += 1 + (size_t)n;
        int distinct = 1;
        for (int j = 1; j <= n; ++j) {
            assert_true(list[j] < entries);
            if (j > 1) {
                const int before = lattice_dist2(p, lattice->code[list[j - 1]]);
                const int now = lattice_dist2(p, lattice->code[list[j]]);
                assert_true(before < now || (before == now && list[j - 1] < list[j]));
                distinct += now != before;
            }
        }
        assert_int_equal(distinct, kept);
        /* nothing left out: every entry not listed is farther than the last one listed */
        const int last = lattice_dist2(p, lattice->code[list[n]]);
        int closer = 0;
        for (int e = 0; e < entries; ++e)
            closer += lattice_dist2(p, lattice->code[e]) <= last;
        assert_int_equal(closer, n);
    }
    assert_int_equal(on_grid, (size_t)entries);
    assert_int_equal(words, lattice->neighbour_words);
    assert_int_equal(lattice->neighbour_words, pool_words);
}

static void test_lattices(void **state)
{
    (void)state;
    pthread_once(&iq3xxs_once, iq3xxs_lattice_init);
    pthread_once(&iq3s_once, iq3s_lattice_init);
    check_lattice(&iq3xxs_lattice, 256, 2, IQ3XXS_NEIGHBOUR_WORDS);
    check_lattice(&iq3s_lattice, 512, 3, IQ3S_NEIGHBOUR_WORDS);
}

/* nearest_int rounds half to even and returns the reference's wrapped value outside its range. */
static void test_nearest_int(void **state)
{
    (void)state;
    assert_int_equal(nearest_int(0.5f), 0);
    assert_int_equal(nearest_int(1.5f), 2);
    assert_int_equal(nearest_int(-0.5f), 0);
    assert_int_equal(nearest_int(-2.5f), -2);
    assert_int_equal(nearest_int(6.49f), 6);
    assert_int_equal(level_at(1.0f, NAN), 0);
    const int wrapped = level_at(1.0f, 1e30f); /* the reference's wrapped value, then clamped */
    assert_true(wrapped >= 0 && wrapped < LEVELS);
    assert_int_equal(level_at(1.0f, 1e6f), LEVELS - 1);
}

/* --- bytes ------------------------------------------------------------------------------------------- */

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Two blocks of exactly representable values with an all-zero sub-block (2), a sub-block below IQ3_XXS's
 * 1e-8 threshold (5) and an outlier; the importance vector has 9 distinct values. */
static void golden_input(float *x, float *importance)
{
    for (int i = 0; i < 512; ++i) {
        x[i] = (float)((i * 37 + 11) % 61 - 30) / 7.0f;
        if (i >= 256) x[i] *= (float)(1 + i % 3);
        if (i >= 64 && i < 96) x[i] = 0.0f;
        if (i >= 160 && i < 192) x[i] *= 1e-9f;
        importance[i] = 0.25f + (float)(i % 9) * 0.5f;
    }
    x[300] = 90.0f;
}

/* FNV-1a of ggml_quantize_chunk's bytes for golden_input (the pinned libggml-base, ggml 0.25.3). */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const struct {
        lowbit_format format;
        lowbit_quantize_row_fn row;
        int with_importance;
        uint64_t hash;
    } cases[] = {
        {LOWBIT_FORMAT_IQ3_XXS, lowbit_quantize_row_iq3_xxs, 0, 0x0B75C4AD7769143Aull},
        {LOWBIT_FORMAT_IQ3_XXS, lowbit_quantize_row_iq3_xxs, 1, 0x229393AB89721B1Cull},
        {LOWBIT_FORMAT_IQ3_S, lowbit_quantize_row_iq3_s, 0, 0xCC3CED1DC84F3B7Full},
        {LOWBIT_FORMAT_IQ3_S, lowbit_quantize_row_iq3_s, 1, 0xCF20D24918A1033Dull},
    };
    float x[512], importance[512];
    golden_input(x, importance);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const size_t bytes = lowbit_format_row_size(cases[c].format, 512);
        const float *imp = cases[c].with_importance ? importance : NULL;
        unsigned char library[220], direct[220];
        assert_true(bytes <= sizeof library);
        assert_int_equal(lowbit_quantize(cases[c].format, x, 1, 512, library, bytes, imp, 1), LOWBIT_OK);
        cases[c].row(x, direct, 512, imp);
        assert_memory_equal(library, direct, bytes);
        if (fnv1a(library, bytes) != cases[c].hash)
            fprintf(stderr, "%s %s: hash 0x%016llX, ggml's 0x%016llX\n", lowbit_format_name(cases[c].format),
                    imp ? "importance" : "plain", (unsigned long long)fnv1a(library, bytes),
                    (unsigned long long)cases[c].hash);
        assert_true(fnv1a(library, bytes) == cases[c].hash);
    }
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

static const lowbit_format formats[2] = {LOWBIT_FORMAT_IQ3_XXS, LOWBIT_FORMAT_IQ3_S};

/* The first quantization of the process runs on several threads at once (the lattices are built under
 * pthread_once while they race); fewer threads, and a second run, give the same bytes, with importance too. */
static void test_threads_and_determinism(void **state)
{
    (void)state;
    const size_t rows = 64, cols = 4096;
    float *x = fmt_alloc(rows * cols * sizeof(float)), *importance = fmt_alloc(cols * sizeof(float));
    test_fill_random(x, rows * cols, 21, 3.0f);
    for (size_t i = 0; i < cols; ++i)
        importance[i] = 0.1f + (float)((i * 7) % 13);
    for (int f = 0; f < 2; ++f)
        for (int pass = 0; pass < 2; ++pass) {
            const float *imp = pass ? importance : NULL;
            const size_t bytes = rows * lowbit_format_row_size(formats[f], cols);
            unsigned char *four = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 4);
            unsigned char *one = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 1);
            unsigned char *again = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 0);
            assert_memory_equal(four, one, bytes);
            assert_memory_equal(four, again, bytes);
            free(four);
            free(one);
            free(again);
        }
    /* the importance vector is used: a different one changes the bytes */
    for (int f = 0; f < 2; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], cols);
        unsigned char *plain = fmt_roundtrip(formats[f], x, 1, cols, NULL, NULL, 1);
        unsigned char *weighted = fmt_roundtrip(formats[f], x, 1, cols, NULL, importance, 1);
        assert_true(memcmp(plain, weighted, bytes) != 0);
        free(plain);
        free(weighted);
    }
    free(x);
    free(importance);
}

/* Zero rows give zero bytes and zeros; NaN, infinite and overflowing rows (where ggml's reference aborts)
 * quantize without crashing, and leave their finite neighbour blocks alone. */
static void test_zero_and_nonfinite_rows(void **state)
{
    (void)state;
    float x[512], y[512], importance[512];
    for (int i = 0; i < 512; ++i)
        importance[i] = 1.0f + (float)(i % 4);
    for (int f = 0; f < 2; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], 512);
        unsigned char zero[220] = {0};
        for (int pass = 0; pass < 2; ++pass) {
            memset(x, 0, sizeof x);
            unsigned char *packed = fmt_roundtrip(formats[f], x, 1, 512, y, pass ? importance : NULL, 1);
            assert_memory_equal(packed, zero, bytes);
            free(packed);
            for (int i = 0; i < 512; ++i)
                assert_true(y[i] == 0.0f);
            const float fills[] = {NAN, INFINITY, -INFINITY, 1e18f, -3e38f};
            for (size_t v = 0; v < sizeof fills / sizeof fills[0]; ++v) {
                for (int i = 0; i < 512; ++i)
                    x[i] = (i % 3 == 0) ? fills[v] : (float)(i % 17) - 8.0f;
                free(fmt_roundtrip(formats[f], x, 1, 512, y, pass ? importance : NULL, 1));
                for (int i = 0; i < 512; ++i)
                    x[i] = fills[v];
                free(fmt_roundtrip(formats[f], x, 1, 512, y, pass ? importance : NULL, 1));
            }
        }
        fmt_check_nonfinite(formats[f]);
    }
}

/* ggml's test-quantize-fns limits (MAX_QUANTIZATION_TOTAL_ERROR_3BITS_XXS, _3BITS), its signal, its metric. */
static void test_roundtrip_rmse(void **state)
{
    (void)state;
    fmt_check_rmse(LOWBIT_FORMAT_IQ3_XXS, 0.0050);
    fmt_check_rmse(LOWBIT_FORMAT_IQ3_S, 0.0040);
}

static void test_shared_checks(void **state)
{
    (void)state;
    for (int f = 0; f < 2; ++f) {
        const lowbit_format_traits *traits = lowbit_format_get(formats[f]);
        assert_non_null(traits);
        assert_true(traits->can_quantize);
        assert_true(traits->can_dequantize);
        /* a constant is no grid point of either lattice, and the 4-bit sub-scales are coarse: ggml's own
         * bytes decode a constant row to within 32% (IQ3_XXS) and 25% (IQ3_S) of it */
        fmt_check_zero_and_constant(formats[f], 0.35);
        fmt_check_outlier(formats[f], 0.15);
        fmt_check_argument_errors(formats[f], 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_determinism), /* first: the lattices are built under contention */
        cmocka_unit_test(test_lattices),
        cmocka_unit_test(test_nearest_int),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_iq3_xxs_tiny_sub_block),
        cmocka_unit_test(test_iq3_s_zero_sub_block),
        cmocka_unit_test(test_zero_and_nonfinite_rows),
        cmocka_unit_test(test_roundtrip_rmse),
        cmocka_unit_test(test_shared_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
