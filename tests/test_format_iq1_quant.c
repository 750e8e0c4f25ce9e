/* test_format_iq1_quant.c — host/format/iq1_quant.c, the IQ1_S and IQ1_M reference quantizers. White-box: the
 * source file is compiled into this test, so its grid map and neighbour lists are checked directly, while
 * lowbit_quantize answers with liblowbit's own copy of the same code. Checked: the tables against their
 * definition, bytes against the pinned ggml's (hashes of ggml_quantize_chunk output with an importance vector,
 * with an all-ones one for IQ1_S's documented fallback, and without one for IQ1_M;
 * tests/oracle/ggml_format_oracle.py compares random rows when the engine is built), unfitted sub-blocks,
 * determinism and threads, non-finite rows, and the round trip. ggml's test-quantize-fns skips IQ1_S/IQ1_M (no
 * from_float), so the RMSE limits are the reference's own results on its signal, measured with ggml. */
#include "host/format/iq1_quant.c"

#include "test_format_checks.h"

static const lowbit_format formats[2] = {LOWBIT_FORMAT_IQ1_S, LOWBIT_FORMAT_IQ1_M};

/* The first quantization of the process runs on several threads at once (the grid tables are built under
 * pthread_once while they race); fewer threads, and a second run, give the same bytes, with importance too. */
static void test_threads_and_determinism(void **state)
{
    (void)state;
    const size_t rows = 64, cols = 4096;
    float *x = fmt_alloc(rows * cols * sizeof(float)), *importance = fmt_alloc(cols * sizeof(float));
    test_fill_random(x, rows * cols, 31, 2.0f);
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

/* --- the grid tables --------------------------------------------------------------------------------- */

static int level_distance(int key, const unsigned char *levels)
{
    int d2 = 0;
    for (int k = 0; k < GROUP; ++k, key /= 3) {
        const int diff = key % 3 - levels[k];
        d2 += diff * diff;
    }
    return d2;
}

/* Every entry maps to itself (entry 0 is all −1); each of the other 3^8 − 2048 keys lists exactly the entries at
 * its three smallest distinct distances, nearest first and by index among equals, and the lists fill the pool. */
static void test_grid_tables(void **state)
{
    (void)state;
    pthread_once(&grid_once, grid_build);
    assert_non_null(grid.lists);
    for (int k = 0; k < GROUP; ++k)
        assert_int_equal(grid.level[0][k], 0);
    for (int e = 0; e < GRID_ENTRIES; ++e)
        assert_int_equal(grid.entry_of_key[key_of_levels(grid.level[e])], e);
    size_t on_grid = 0, listed = 0;
    for (int key = 0; key < KEY_COUNT; ++key) {
        if (grid.entry_of_key[key] >= 0) {
            ++on_grid;
            continue;
        }
        const uint16_t *list = grid.lists + grid.list_at[key];
        const int n = grid.list_len[key];
        assert_true(n >= 1);
        assert_int_equal(grid.list_at[key], listed);
        listed += (size_t)n;
        int distinct = 1;
        for (int j = 1; j < n; ++j) {
            const int before = level_distance(key, grid.level[list[j - 1]]);
            const int now = level_distance(key, grid.level[list[j]]);
            assert_true(before < now || (before == now && list[j - 1] < list[j]));
            distinct += now != before;
        }
        assert_int_equal(distinct, NEIGHBOUR_DISTANCES);
        const int last = level_distance(key, grid.level[list[n - 1]]);
        int closer = 0; /* nothing left out: every entry not listed is farther than the last one listed */
        for (int e = 0; e < GRID_ENTRIES; ++e)
            closer += level_distance(key, grid.level[e]) <= last;
        assert_int_equal(closer, n);
    }
    assert_int_equal(on_grid, GRID_ENTRIES);
    assert_int_equal(KEY_COUNT - on_grid, 4513);
    assert_int_equal(listed, 327721);
}

/* round_to_int is ggml's nearest_int: ties to even, and some integer (clamped by the callers) outside. */
static void test_round_to_int(void **state)
{
    (void)state;
    assert_int_equal(round_to_int(-0.5f), 0); /* a zero sub-scale: 0.5·(0 − 1) */
    assert_int_equal(round_to_int(0.5f), 0);
    assert_int_equal(round_to_int(1.5f), 2);
    assert_int_equal(round_to_int(2.5f), 2);
    assert_int_equal(round_to_int(6.49f), 6);
    assert_int_equal(round_to_int(7.0f), 7);
    assert_int_equal(round_to_int(NAN), 0);
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

/* Two blocks: small integers (many equal values, so the sort's tie order matters) with an all-zero 32-element
 * sub-block (64..95), one at 1e-9 (160..191: IQ1_M leaves it unfitted, IQ1_S fits it) and one at 1e-14
 * (192..223: below IQ1_S's threshold too); then spread values with an outlier. 9 distinct importance values. */
static void golden_input(float *x, float *importance)
{
    for (int i = 0; i < 512; ++i) {
        if (i < 256)
            x[i] = (float)((i * 37 + 11) % 9 - 4);
        else
            x[i] = (float)((i * 53 + 7) % 101 - 50) / 13.0f * (float)(1 + i % 3);
        if (i >= 64 && i < 96) x[i] = 0.0f;
        if (i >= 160 && i < 192) x[i] *= 1e-9f;
        if (i >= 192 && i < 224) x[i] *= 1e-14f;
        importance[i] = 0.25f + (float)(i % 9) * 0.5f;
    }
    x[300] = 90.0f;
}

/* FNV-1a of ggml_quantize_chunk's bytes for golden_input (the pinned libggml-base, ggml 0.25.3). IQ1_S without
 * importance is ggml's IQ1_S with an importance vector of ones (ggml itself refuses NULL for IQ1_S). */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const struct {
        lowbit_format format;
        lowbit_quantize_row_fn row;
        int with_importance;
        uint64_t hash;
    } cases[] = {
        {LOWBIT_FORMAT_IQ1_S, lowbit_quantize_row_iq1_s, 1, 0x37B48F2FA786D751ull},
        {LOWBIT_FORMAT_IQ1_S, lowbit_quantize_row_iq1_s, 0, 0x3739C8039CED8905ull}, /* ggml: importance all 1 */
        {LOWBIT_FORMAT_IQ1_M, lowbit_quantize_row_iq1_m, 1, 0xE10F8A011A464C7Aull},
        {LOWBIT_FORMAT_IQ1_M, lowbit_quantize_row_iq1_m, 0, 0x99F580A03C945A67ull},
    };
    float x[512], importance[512];
    golden_input(x, importance);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const size_t bytes = lowbit_format_row_size(cases[c].format, 512);
        const float *imp = cases[c].with_importance ? importance : NULL;
        unsigned char library[112], direct[112];
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

/* IQ1_S's fallback is exactly "importance all ones"; IQ1_M's is ggml's x², which is not. */
static void test_without_importance(void **state)
{
    (void)state;
    enum { COLS = 1024 };
    float x[COLS], ones[COLS];
    unsigned char plain[4 * LOWBIT_IQ1_M_BYTES], unit[4 * LOWBIT_IQ1_M_BYTES];
    test_fill_random(x, COLS, 17, 1.5f);
    for (int i = 0; i < COLS; ++i)
        ones[i] = 1.0f;
    lowbit_quantize_row_iq1_s(x, plain, COLS, NULL);
    lowbit_quantize_row_iq1_s(x, unit, COLS, ones);
    assert_memory_equal(plain, unit, 4 * LOWBIT_IQ1_S_BYTES);
    lowbit_quantize_row_iq1_m(x, plain, COLS, NULL);
    lowbit_quantize_row_iq1_m(x, unit, COLS, ones);
    assert_true(memcmp(plain, unit, 4 * LOWBIT_IQ1_M_BYTES) != 0);
}

/* Where the neighbour pool could not be allocated the lists are rebuilt per group; the bytes are the same. */
static void test_rebuilt_neighbour_lists(void **state)
{
    (void)state;
    enum { COLS = 2048 };
    float x[COLS], importance[COLS];
    unsigned char pooled[8 * LOWBIT_IQ1_M_BYTES], rebuilt[8 * LOWBIT_IQ1_M_BYTES];
    test_fill_random(x, COLS, 23, 1.0f);
    for (int i = 0; i < COLS; ++i)
        importance[i] = 0.5f + (float)(i % 7);
    pthread_once(&grid_once, grid_build);
    uint16_t *pool = grid.lists;
    for (int f = 0; f < 2; ++f) {
        const lowbit_quantize_row_fn row = f ? lowbit_quantize_row_iq1_m : lowbit_quantize_row_iq1_s;
        row(x, pooled, COLS, importance);
        grid.lists = NULL;
        row(x, rebuilt, COLS, importance);
        grid.lists = pool;
        assert_memory_equal(pooled, rebuilt, lowbit_format_row_size(formats[f], COLS));
    }
}

/* A neighbour search in which no distance is finite takes the first (nearest) neighbour. */
static void test_group_without_finite_distance(void **state)
{
    (void)state;
    pthread_once(&grid_once, grid_build);
    const float x[GROUP] = {1, 1, 1, 1, 1, 1, 1, 1}, w[GROUP] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    unsigned char L[GROUP] = {2, 2, 2, 2, 2, 2, 2, 2};
    const int key = key_of_levels(L);
    int on_grid = 1;
    if (grid.entry_of_key[key] >= 0) L[0] = 1; /* make sure the group is off the grid */
    const int off_key = key_of_levels(L);
    assert_true(grid.entry_of_key[off_key] < 0);
    const int entry = group_entry(x, w, 1.0f, shifted_up, L, &on_grid);
    assert_false(on_grid);
    assert_int_equal(entry, grid.lists[grid.list_at[off_key]]);
    assert_memory_equal(L, grid.level[entry], GROUP);
}

/* Unfitted sub-blocks (all zero, or max |x| below the threshold: IQ1_S 1e-12, IQ1_M 1e-7) keep entry 0, +δ
 * and sub-scale 0; an all-zero block is all zero bytes. */
static void test_unfitted_sub_blocks(void **state)
{
    (void)state;
    float x[256];
    unsigned char s[LOWBIT_IQ1_S_BYTES], m[LOWBIT_IQ1_M_BYTES], zero[LOWBIT_IQ1_M_BYTES] = {0};
    test_fill_random(x, 256, 5, 1.0f);
    for (int i = 96; i < 128; ++i) /* IQ1_S sub-block 3, IQ1_M sub-blocks 6 and 7 */
        x[i] *= 1e-13f;
    lowbit_quantize_row_iq1_s(x, s, 256, NULL);
    assert_int_not_equal(lowbit_load_u16le(s + LOWBIT_IQ1_S_D), 0);
    for (int g = 0; g < 4; ++g)
        assert_int_equal(s[LOWBIT_IQ1_S_QS + 4 * 3 + g], 0);
    assert_int_equal(lowbit_load_u16le(s + LOWBIT_IQ1_S_QH + 2 * 3), 0);
    lowbit_quantize_row_iq1_m(x, m, 256, NULL);
    for (int ib = 6; ib < 8; ++ib) {
        assert_int_equal(m[LOWBIT_IQ1_M_QS + 2 * ib], 0);
        assert_int_equal(m[LOWBIT_IQ1_M_QS + 2 * ib + 1], 0);
        assert_int_equal(m[LOWBIT_IQ1_M_QH + ib], 0);
        assert_int_equal((lowbit_load_u16le(m + LOWBIT_IQ1_M_SCALES + 2 * (ib / 4)) >> (3 * (ib % 4))) & 7, 0);
    }
    memset(x, 0, sizeof x);
    lowbit_quantize_row_iq1_s(x, s, 256, NULL);
    assert_memory_equal(s, zero, sizeof s);
    lowbit_quantize_row_iq1_m(x, m, 256, NULL);
    assert_memory_equal(m, zero, sizeof m);
}

/* --- through lowbit_quantize -------------------------------------------------------------------------- */

/* Zero rows give zero bytes and zeros; NaN, infinite and overflowing rows (where ggml's reference aborts or
 * reads out of bounds) quantize without crashing, and leave their finite neighbour blocks alone. */
static void test_zero_and_nonfinite_rows(void **state)
{
    (void)state;
    float x[512], y[512], importance[512];
    for (int i = 0; i < 512; ++i)
        importance[i] = 1.0f + (float)(i % 4);
    for (int f = 0; f < 2; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], 512);
        unsigned char zero[112] = {0};
        for (int pass = 0; pass < 2; ++pass) {
            const float *imp = pass ? importance : NULL;
            memset(x, 0, sizeof x);
            unsigned char *packed = fmt_roundtrip(formats[f], x, 1, 512, y, imp, 1);
            assert_memory_equal(packed, zero, bytes);
            free(packed);
            for (int i = 0; i < 512; ++i)
                assert_true(y[i] == 0.0f);
            const float fills[] = {NAN, INFINITY, -INFINITY, 1e18f, -3e38f, 1e-40f};
            for (size_t v = 0; v < sizeof fills / sizeof fills[0]; ++v) {
                for (int i = 0; i < 512; ++i)
                    x[i] = (i % 3 == 0) ? fills[v] : (float)(i % 17) - 8.0f;
                free(fmt_roundtrip(formats[f], x, 1, 512, y, imp, 1));
                for (int i = 0; i < 512; ++i)
                    x[i] = fills[v];
                free(fmt_roundtrip(formats[f], x, 1, 512, y, imp, 1));
            }
        }
        fmt_check_nonfinite(formats[f]);
    }
}

/* ggml's signal and metric (test-quantize-fns). The reference itself gives, on the plain / importance passes,
 * IQ1_S 0.00976 (importance all ones) / 0.01064 and IQ1_M 0.01220 / 0.01061; lowbit's bytes are the same. */
static void test_roundtrip_rmse(void **state)
{
    (void)state;
    fmt_check_rmse(LOWBIT_FORMAT_IQ1_S, 0.0110);
    fmt_check_rmse(LOWBIT_FORMAT_IQ1_M, 0.0125);
}

/* A constant or a lone outlier decodes about 12.5% (IQ1_S) or 11.1% (IQ1_M) large: ggml's fudge factors 1.125
 * and 1.1125 on d, which a least-squares fit on one value cannot absorb. */
static void test_shared_checks(void **state)
{
    (void)state;
    for (int f = 0; f < 2; ++f) {
        const lowbit_format_traits *traits = lowbit_format_get(formats[f]);
        assert_non_null(traits);
        assert_true(traits->can_quantize);
        assert_true(traits->can_dequantize);
        fmt_check_zero_and_constant(formats[f], 0.13);
        fmt_check_outlier(formats[f], 0.15);
        fmt_check_argument_errors(formats[f], 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_determinism), /* first: the tables are built under contention */
        cmocka_unit_test(test_grid_tables),
        cmocka_unit_test(test_round_to_int),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_without_importance),
        cmocka_unit_test(test_rebuilt_neighbour_lists),
        cmocka_unit_test(test_group_without_finite_distance),
        cmocka_unit_test(test_unfitted_sub_blocks),
        cmocka_unit_test(test_zero_and_nonfinite_rows),
        cmocka_unit_test(test_roundtrip_rmse),
        cmocka_unit_test(test_shared_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
