/* test_format_iq2_quant.c — host/format/iq2_quant.c, the IQ2_XXS, IQ2_XS and IQ2_S reference quantizers.
 * White-box: the source file is compiled into this test (as test_format_iq3_quant.c does), so its lattice
 * tables and rows are checked directly, while lowbit_quantize answers with liblowbit's own copy of the same
 * code. Checked: the lattice maps and neighbour lists against their definition (and the grid-scan path used
 * when the tables cannot be allocated), bytes against the pinned ggml's (hashes of ggml_quantize_chunk output;
 * tests/oracle/ggml_format_oracle.py compares random rows when the engine is built), the fallback without an
 * importance vector, the reference's zero-sub-block rules and sign parity, determinism and threads, and the
 * round trip within ggml's 2-bit limit (MAX_QUANTIZATION_TOTAL_ERROR_2BITS, 0.0075). */
#include "host/format/iq2_quant.c"

#include "test_format_checks.h"

static const lowbit_format formats[3] = {LOWBIT_FORMAT_IQ2_XXS, LOWBIT_FORMAT_IQ2_XS, LOWBIT_FORMAT_IQ2_S};
static const lowbit_quantize_row_fn rows_of[3] = {lowbit_quantize_row_iq2_xxs, lowbit_quantize_row_iq2_xs,
                                                  lowbit_quantize_row_iq2_s};

/* --- the lattice ----------------------------------------------------------------------------------- */

static int code_dist2(const int8_t *a, const int8_t *b)
{
    int d2 = 0;
    for (int k = 0; k < GROUP; ++k)
        d2 += (a[k] - b[k]) * (a[k] - b[k]);
    return d2;
}

/* Every entry is a distinct point of {0,1,2}^8 and maps to itself; every other point lists exactly the entries
 * at its `shells` smallest distinct distances, nearest first and by index among equals. `pool` is the size of
 * the neighbour pool, counted independently from lowbit_grids.h (a count word per point plus its list). */
static void check_lattice(const iq2_lattice *lat, int entries, int shells, size_t pool)
{
    assert_int_equal(lat->entries, entries);
    assert_int_equal(lat->shells, shells);
    assert_non_null(lat->slot);
    assert_non_null(lat->neighbours);
    for (int e = 0; e < entries; ++e) {
        for (int k = 0; k < GROUP; ++k)
            assert_true(lat->codes[e][k] >= 0 && lat->codes[e][k] <= 2);
        assert_int_equal(lat->slot[point_key(lat->codes[e])], e);
    }
    size_t on_grid = 0, words = 0;
    for (int key = 0; key < LATTICE_POINTS; ++key) {
        if (lat->slot[key] >= 0) {
            ++on_grid;
            continue;
        }
        int8_t point[GROUP];
        key_codes(key, point);
        assert_int_equal(point_key(point), key);
        const uint16_t *list = lat->neighbours + (-1 - lat->slot[key]);
        const int n = list[0];
        assert_true(n >= 1);
        words += 1 + (size_t)n;
        int distinct = 1;
        for (int j = 1; j <= n; ++j) {
            assert_true(list[j] < entries);
            if (j > 1) {
                const int before = code_dist2(point, lat->codes[list[j - 1]]);
                const int now = code_dist2(point, lat->codes[list[j]]);
                assert_true(before < now || (before == now && list[j - 1] < list[j]));
                distinct += now != before;
            }
        }
        assert_int_equal(distinct, shells);
        /* nothing left out: every entry not listed is farther than the last one listed */
        const int last = code_dist2(point, lat->codes[list[n]]);
        int closer = 0;
        for (int e = 0; e < entries; ++e)
            closer += code_dist2(point, lat->codes[e]) <= last;
        assert_int_equal(closer, n);
    }
    assert_int_equal(on_grid, (size_t)entries);
    assert_int_equal(words, pool);
}

static void test_lattices(void **state)
{
    (void)state;
    pthread_once(&once_xxs, build_xxs);
    pthread_once(&once_xs, build_xs);
    pthread_once(&once_s, build_s);
    check_lattice(&lattice_xxs, 256, 2, 6305 + 113157);
    check_lattice(&lattice_xs, 512, 2, 6049 + 181721);
    check_lattice(&lattice_s, 1024, 1, 5537 + 44716);
    /* the grids' first entries as ggml's tables have them: all magnitudes 8 (code 0), then element 0 at 43 */
    static const int8_t all_zero[GROUP] = {0};
    assert_int_equal(code_dist2(lattice_xxs.codes[0], all_zero), 0);
    assert_int_equal(lattice_s.codes[1][0], 2);
    assert_int_equal(code_dist2(lattice_s.codes[1], all_zero), 4);
}

/* ggml's nearest_int: half to even, and the reference's wrapped value (never a trap) outside its range. */
static void test_round_half_even(void **state)
{
    (void)state;
    assert_int_equal(round_half_even(0.5f), 0);
    assert_int_equal(round_half_even(1.5f), 2);
    assert_int_equal(round_half_even(-0.5f), 0);
    assert_int_equal(round_half_even(-2.5f), -2);
    assert_int_equal(round_half_even(2.49f), 2);
    assert_int_equal(round_half_even(NAN), 0);
    assert_int_equal(round_half_even(4194303.0f), 4194303);
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

/* Two blocks of exactly computed values with an all-zero 32-element stretch (64..95), one below IQ2_S's 1e-8
 * threshold (160..191) and an outlier. One column in 7 has importance 0.001: IQ2_XXS's first scale estimate then
 * sees a flipped (negative) magnitude rounding below 0, whose code the reference keeps as an unsigned byte — the
 * bytes below depend on repeating that. */
static void golden_input(float *x, float *importance)
{
    for (int i = 0; i < 512; ++i) {
        x[i] = (float)((i * 37 + 11) % 61 - 30) / 7.0f;
        if (i >= 256) x[i] *= (float)(1 + i % 3);
        if (i >= 64 && i < 96) x[i] = 0.0f;
        if (i >= 160 && i < 192) x[i] *= 1e-9f;
        importance[i] = (i % 7 == 3) ? 0.001f : 0.5f + (float)(i % 5);
    }
    x[300] = 90.0f;
}

/* FNV-1a of ggml_quantize_chunk's bytes for golden_input (the pinned libggml-base, ggml 0.25.3). ggml cannot
 * quantize IQ2_XXS / IQ2_XS without an importance vector; lowbit's NULL is compared with ggml given all ones. */
static void test_golden_bytes(void **state)
{
    (void)state;
    static const struct {
        int f;
        int with_importance;
        uint64_t hash;
    } cases[] = {
        {0, 0, 0x0712507E64272200ull},                                /* ggml with an all-ones imatrix */
        {0, 1, 0x39020F0DA55B9BDDull}, {1, 0, 0x258D7306E353D47Bull}, /* all ones */
        {1, 1, 0x5665A79C42ED05E4ull}, {2, 0, 0x3C8031AD0841904Full}, /* ggml without imatrix */
        {2, 1, 0x83B59D8052563029ull},
    };
    float x[512], importance[512];
    golden_input(x, importance);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const lowbit_format format = formats[cases[c].f];
        const size_t bytes = lowbit_format_row_size(format, 512);
        const float *imp = cases[c].with_importance ? importance : NULL;
        unsigned char library[2 * LOWBIT_IQ2_S_BYTES], direct[2 * LOWBIT_IQ2_S_BYTES];
        assert_true(bytes <= sizeof library);
        assert_int_equal(lowbit_quantize(format, x, 1, 512, library, bytes, imp, 1), LOWBIT_OK);
        rows_of[cases[c].f](x, direct, 512, imp);
        assert_memory_equal(library, direct, bytes);
        if (fnv1a(library, bytes) != cases[c].hash)
            fprintf(stderr, "%s %s: hash 0x%016llX, ggml's 0x%016llX\n", lowbit_format_name(format),
                    imp ? "importance" : "plain", (unsigned long long)fnv1a(library, bytes),
                    (unsigned long long)cases[c].hash);
        assert_true(fnv1a(library, bytes) == cases[c].hash);
    }
}

/* Without the tables (an allocation failure at build time) every lookup scans the grid: the same bytes. */
static void test_scan_fallback(void **state)
{
    (void)state;
    iq2_lattice *lattices[3] = {&lattice_xxs, &lattice_xs, &lattice_s};
    float x[512], importance[512];
    golden_input(x, importance);
    for (int f = 0; f < 3; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], 512);
        for (int pass = 0; pass < 2; ++pass) {
            const float *imp = pass ? importance : NULL;
            unsigned char tables[2 * LOWBIT_IQ2_S_BYTES], scanned[2 * LOWBIT_IQ2_S_BYTES];
            rows_of[f](x, tables, 512, imp); /* builds the tables if no test has yet */
            int32_t *slot = lattices[f]->slot;
            lattices[f]->slot = NULL;
            rows_of[f](x, scanned, 512, imp);
            lattices[f]->slot = slot;
            assert_memory_equal(tables, scanned, bytes);
        }
    }
}

/* The reference's zero rules: a 32-element sub-block of zeros (IQ2_XXS) or a 16-element half below 1e-15
 * (IQ2_XS) / 1e-8 (IQ2_S) stores grid entry 0, no signs and sub-scale 0; an all-zero block is all zero. */
static void test_zero_sub_blocks(void **state)
{
    (void)state;
    float x[256];
    unsigned char out[LOWBIT_IQ2_S_BYTES], zero[LOWBIT_IQ2_S_BYTES] = {0};

    test_fill_random(x, 256, 5, 1.0f);
    memset(x + 96, 0, 32 * sizeof(float)); /* IQ2_XXS sub-block 3 */
    lowbit_quantize_row_iq2_xxs(x, out, 256, NULL);
    assert_int_not_equal(lowbit_load_u16le(out), 0);
    assert_memory_equal(out + LOWBIT_IQ2_XXS_QS + 8 * 3, zero, 8);

    test_fill_random(x, 256, 6, 1.0f);
    for (int i = 48; i < 64; ++i)
        x[i] *= 1e-20f; /* IQ2_XS half 3: below 1e-15 */
    lowbit_quantize_row_iq2_xs(x, out, 256, NULL);
    assert_memory_equal(out + LOWBIT_IQ2_XS_QS + 2 * 6, zero, 4);
    assert_int_equal(out[LOWBIT_IQ2_XS_SCALES + 1] >> 4, 0);

    test_fill_random(x, 256, 7, 1.0f);
    for (int i = 48; i < 64; ++i)
        x[i] *= 1e-9f; /* IQ2_S half 3: below 1e-8 */
    lowbit_quantize_row_iq2_s(x, out, 256, NULL);
    assert_memory_equal(out + LOWBIT_IQ2_S_QS + 6, zero, 2);
    assert_memory_equal(out + LOWBIT_IQ2_S_QS + 32 + 6, zero, 2);
    assert_int_equal(out[LOWBIT_IQ2_S_QH + 1] & 0xF0, 0);
    assert_int_equal(out[LOWBIT_IQ2_S_SCALES + 1] >> 4, 0);

    memset(x, 0, sizeof x);
    for (int f = 0; f < 3; ++f) {
        for (int pass = 0; pass < 2; ++pass) {
            float importance[256];
            for (int i = 0; i < 256; ++i)
                importance[i] = 1.0f + (float)(i % 3);
            memset(out, 0xA5, sizeof out);
            rows_of[f](x, out, 256, pass ? importance : NULL);
            assert_memory_equal(out, zero, lowbit_format_row_size(formats[f], 256));
        }
    }
}

/* Signs: IQ2_S keeps every element's; the ksigns formats (an even count of negatives per group of 8) change
 * at most one element per group, and only where the rest keep theirs. */
static void test_signs(void **state)
{
    (void)state;
    const size_t cols = 1024;
    float x[1024], y[1024];
    test_fill_random(x, cols, 17, 2.0f);
    for (int f = 0; f < 3; ++f) {
        free(fmt_roundtrip(formats[f], x, 1, cols, y, NULL, 1));
        for (size_t g = 0; g < cols / GROUP; ++g) {
            int flipped = 0;
            for (size_t k = 0; k < GROUP; ++k) {
                const size_t i = GROUP * g + k;
                flipped += y[i] != 0.0f && (x[i] < 0.0f) != (y[i] < 0.0f);
            }
            assert_true(flipped <= (f == 2 ? 0 : 1));
        }
    }
}

/* --- through lowbit_quantize -------------------------------------------------------------------------- */

/* The first quantization of the process runs on several threads at once (the lattices are built under
 * pthread_once while they race); one thread, and a second run, give the same bytes, with importance too. */
static void test_threads_and_determinism(void **state)
{
    (void)state;
    const size_t rows = 64, cols = 4096; /* enough elements for format.c to start 4 threads */
    float *x = fmt_alloc(rows * cols * sizeof(float)), *importance = fmt_alloc(cols * sizeof(float));
    test_fill_random(x, rows * cols, 21, 3.0f);
    for (size_t i = 0; i < cols; ++i)
        importance[i] = 0.1f + (float)((i * 7) % 13);
    for (int f = 0; f < 3; ++f)
        for (int pass = 0; pass < 2; ++pass) {
            const float *imp = pass ? importance : NULL;
            const size_t bytes = rows * lowbit_format_row_size(formats[f], cols);
            unsigned char *four = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 4);
            unsigned char *one = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 1);
            assert_memory_equal(four, one, bytes);
            free(four);
            free(one);
        }
    for (int f = 0; f < 3; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], cols);
        unsigned char *first = fmt_roundtrip(formats[f], x, 1, cols, NULL, importance, 0);
        unsigned char *again = fmt_roundtrip(formats[f], x, 1, cols, NULL, importance, 0);
        unsigned char *plain = fmt_roundtrip(formats[f], x, 1, cols, NULL, NULL, 1);
        assert_memory_equal(first, again, bytes);
        assert_true(memcmp(plain, first, bytes) != 0); /* the importance vector is used */
        free(first);
        free(again);
        free(plain);
    }
    free(x);
    free(importance);
}

/* The fallback without importance: IQ2_XXS and IQ2_XS weigh as an all-ones vector would (the same bytes);
 * IQ2_S keeps ggml's built-in weights, which differ from that. */
static void test_null_importance(void **state)
{
    (void)state;
    const size_t cols = 1024;
    float x[1024], ones[1024];
    test_fill_random(x, cols, 31, 1.5f);
    for (size_t i = 0; i < cols; ++i)
        ones[i] = 1.0f;
    for (int f = 0; f < 3; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], cols);
        unsigned char *plain = fmt_roundtrip(formats[f], x, 1, cols, NULL, NULL, 1);
        unsigned char *uniform = fmt_roundtrip(formats[f], x, 1, cols, NULL, ones, 1);
        if (f < 2)
            assert_memory_equal(plain, uniform, bytes);
        else
            assert_true(memcmp(plain, uniform, bytes) != 0);
        free(plain);
        free(uniform);
    }
}

/* Zero rows give zero bytes and zeros; NaN, infinite and overflowing rows (where ggml's reference aborts or
 * reads out of bounds) quantize without crashing, and leave their finite neighbour blocks alone. */
static void test_zero_and_nonfinite_rows(void **state)
{
    (void)state;
    float x[512], y[512], importance[512];
    for (int i = 0; i < 512; ++i)
        importance[i] = 1.0f + (float)(i % 4);
    for (int f = 0; f < 3; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], 512);
        unsigned char zero[2 * LOWBIT_IQ2_S_BYTES] = {0};
        for (int pass = 0; pass < 2; ++pass) {
            memset(x, 0, sizeof x);
            unsigned char *packed = fmt_roundtrip(formats[f], x, 1, 512, y, pass ? importance : NULL, 1);
            assert_memory_equal(packed, zero, bytes);
            free(packed);
            for (int i = 0; i < 512; ++i)
                assert_true(y[i] == 0.0f);
            const float fills[] = {NAN, INFINITY, -INFINITY, 1e18f, -3e38f, 1e-40f};
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

/* ggml's test-quantize-fns signal and metric (fmt_check_rmse's, with a limit per pass): x_i = 0.1 + 2·cos(i),
 * then the signal shifted by 0.5 with importance 0.5 + (i mod 5); sqrt(Σ(x − y)²)/n. Its 2-bit limit
 * MAX_QUANTIZATION_TOTAL_ERROR_2BITS = 0.0075 is the one it names for IQ2_S, and holds IQ2_XS as well. IQ2_XXS
 * (2.06 bits per weight) has no limit there — no quantize function without an imatrix — and its importance
 * pass gives 0.00781, exactly as ggml's own bytes do (an uneven importance trades plain error for weighted
 * error), so that pass is held to 0.0080; its plain pass meets 0.0075. */
static void check_rmse(lowbit_format format, double plain_limit, double importance_limit)
{
    float x[FMT_RMSE_ELEMENTS], y[FMT_RMSE_ELEMENTS], importance[FMT_RMSE_ELEMENTS];
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < FMT_RMSE_ELEMENTS; ++i) {
            x[i] = 0.1f + 2.0f * cosf((float)i + 0.5f * (float)pass);
            importance[i] = 0.5f + (float)(i % 5);
        }
        free(fmt_roundtrip(format, x, 1, FMT_RMSE_ELEMENTS, y, pass ? importance : NULL, 1));
        double sum = 0.0;
        for (size_t i = 0; i < FMT_RMSE_ELEMENTS; ++i)
            sum += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        const double ggml_rmse = sqrt(sum) / FMT_RMSE_ELEMENTS, limit = pass ? importance_limit : plain_limit;
        printf("%-7s %s RMSE: ggml metric %.6f (limit %.4f), true RMSE %.5f on an amplitude-2 signal\n",
               lowbit_format_name(format), pass ? "imatrix" : "plain  ", ggml_rmse, limit,
               sqrt(sum / FMT_RMSE_ELEMENTS));
        assert_true(ggml_rmse <= limit);
    }
}

static void test_roundtrip_rmse(void **state)
{
    (void)state;
    check_rmse(LOWBIT_FORMAT_IQ2_XXS, 0.0075, 0.0080);
    check_rmse(LOWBIT_FORMAT_IQ2_XS, 0.0075, 0.0075);
    check_rmse(LOWBIT_FORMAT_IQ2_S, 0.0075, 0.0075);
}

/* Tolerances from ggml's own bytes: a constant row is the worst case of IQ2_XXS's 256-entry grid, which has no
 * all-equal group but level 1's (ggml decodes a constant to within 70% of it; IQ2_XS 7.5%, IQ2_S 6.3%); an
 * outlier survives within 0.2% (IQ2_XXS), 3.6% (IQ2_XS) and 6.1% (IQ2_S). */
static void test_shared_checks(void **state)
{
    (void)state;
    const double constant_tol[3] = {0.75, 0.10, 0.10};
    for (int f = 0; f < 3; ++f) {
        const lowbit_format_traits *traits = lowbit_format_get(formats[f]);
        assert_non_null(traits);
        assert_true(traits->can_quantize);
        assert_true(traits->can_dequantize);
        fmt_check_zero_and_constant(formats[f], constant_tol[f]);
        fmt_check_outlier(formats[f], 0.10);
        fmt_check_argument_errors(formats[f], 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_and_determinism), /* first: the lattices are built under contention */
        cmocka_unit_test(test_lattices),
        cmocka_unit_test(test_round_half_even),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_scan_fallback),
        cmocka_unit_test(test_zero_sub_blocks),
        cmocka_unit_test(test_signs),
        cmocka_unit_test(test_null_importance),
        cmocka_unit_test(test_zero_and_nonfinite_rows),
        cmocka_unit_test(test_roundtrip_rmse),
        cmocka_unit_test(test_shared_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
