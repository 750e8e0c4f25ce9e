/* test_conform.c — the conformance suite's own logic: case generation and filters, ids and seeds,
 * the comparison rule (tolerance, NaN/Inf placement), the report writers, and that a deliberately
 * broken kernel (tests/plugins/broken_plugin.c) is reported as FAIL with the right case id. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "tools/conform/conform.h"

static lowbit_context *cpu_only(void)
{
    lowbit_context_options options = {sizeof options, LOWBIT_CONTEXT_NO_PLUGINS, NULL, NULL, 0, NULL};
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_OK);
    return context;
}

static void test_generator_and_filters(void **state)
{
    (void)state;
    lowbit_context *context = cpu_only();
    conform_filter all = {0}, full = {.full = 1}, q4 = {.format = "q4_0"}, gemm = {.kernel = "gemm", .full = 1};
    conform_case *cases = NULL, *more = NULL;
    size_t count = 0, full_count = 0;
    assert_int_equal(conform_cases_generate(context, &all, &cases, &count), LOWBIT_OK);
    assert_int_equal(conform_cases_generate(context, &full, &more, &full_count), LOWBIT_OK);
    assert_true(count > 0 && full_count > count);
    int have_one_block = 0, have_ragged = 0, have_nan = 0, have_gemm = 0, have_split = 0;
    for (size_t i = 0; i < full_count; ++i) {
        const conform_case *c = &more[i];
        for (size_t j = 0; j < i; ++j)
            assert_string_not_equal(more[j].id, c->id);              /* ids unique */
        assert_true(lowbit_format_row_size(c->format, c->cols) > 0); /* shapes valid for the format */
        assert_true(c->seed == conform_seed(c->id));
        const lowbit_format_traits *t = lowbit_format_get(c->format);
        have_one_block |= c->rows == 1 && c->cols == t->block_size;
        have_ragged |= c->rows % 2 == 1 && c->rows > 1;
        have_nan |= c->variant == CONFORM_VARIANT_NAN;
        have_gemm |= c->kernel == CONFORM_KERNEL_GEMM && c->n >= 64;
        /* a split case's matrix must exceed the cap, or it tests nothing */
        if (c->variant == CONFORM_VARIANT_SPLIT)
            have_split = 1, assert_true(c->rows * lowbit_format_row_size(c->format, c->cols) > 16384);
        if (t->block_size == 32 && c->rows == 67) assert_int_equal(c->cols % 256, 128); /* K % 256 != 0 */
    }
    assert_true(have_one_block && have_ragged && have_nan && have_gemm && have_split);
    free(cases), free(more);
    assert_int_equal(conform_cases_generate(context, &q4, &cases, &count), LOWBIT_OK);
    for (size_t i = 0; i < count; ++i)
        assert_int_equal(cases[i].format, LOWBIT_FORMAT_Q4_0);
    free(cases);
    assert_int_equal(conform_cases_generate(context, &gemm, &cases, &count), LOWBIT_OK);
    assert_true(count > 0);
    for (size_t i = 0; i < count; ++i)
        assert_true(cases[i].kernel == CONFORM_KERNEL_GEMM && cases[i].n >= 9);
    /* --case reproduces exactly one case, with the same seed */
    conform_filter one = {.case_id = cases[0].id};
    conform_case *single = NULL;
    size_t single_count = 0;
    assert_int_equal(conform_cases_generate(context, &one, &single, &single_count), LOWBIT_OK);
    assert_int_equal(single_count, 1);
    assert_string_equal(single[0].id, cases[0].id);
    assert_true(single[0].seed == cases[0].seed);
    free(single), free(cases);
    lowbit_context_destroy(context);
}

static void test_compare_rules(void **state)
{
    (void)state;
    conform_result r;
    double reference[4] = {1.0, -2.0, 3.0, 4.0};
    float exact[4] = {1.0f, -2.0f, 3.0f, 4.0f};
    conform_compare(exact, reference, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_PASS);
    float off[4] = {1.0f, -2.0f, 3.1f, 4.0f};
    conform_compare(off, reference, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_FAIL);
    assert_int_equal(r.worst_index, 2);
    assert_true(fabs(r.max_abs_error - 0.1) < 1e-6);
    assert_non_null(strstr(r.message, "index 2"));
    conform_compare(off, reference, 4, 1e-2, &r); /* the same error within a looser tolerance */
    assert_int_equal(r.status, CONFORM_PASS);
    double with_nan[4] = {NAN, 1.0, INFINITY, -INFINITY};
    float good[4] = {NAN, 1.0f, INFINITY, -INFINITY};
    conform_compare(good, with_nan, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_PASS);
    float lost_nan[4] = {0.0f, 1.0f, INFINITY, -INFINITY};
    conform_compare(lost_nan, with_nan, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_FAIL);
    assert_int_equal(r.worst_index, 0);
    float wrong_sign[4] = {NAN, 1.0f, -INFINITY, -INFINITY};
    conform_compare(wrong_sign, with_nan, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_FAIL);
    float inf_as_nan[4] = {NAN, 1.0f, NAN, -INFINITY}; /* Inf − Inf in a zero-point kernel: allowed */
    conform_compare(inf_as_nan, with_nan, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_PASS);
    float nan_as_inf[4] = {INFINITY, 1.0f, INFINITY, -INFINITY};
    conform_compare(nan_as_inf, with_nan, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_FAIL);
    float spurious[4] = {NAN, NAN, INFINITY, -INFINITY};
    conform_compare(spurious, with_nan, 4, 1e-6, &r);
    assert_int_equal(r.status, CONFORM_FAIL);
    assert_true(conform_tolerance(CONFORM_KERNEL_GEMV, LOWBIT_ACTIVATION_F32) == 1e-6);
    assert_true(conform_tolerance(CONFORM_KERNEL_GEMM, LOWBIT_ACTIVATION_F16) == 1e-3);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

static size_t count_occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        ++n;
    return n;
}

/* The broken device's Q8_0 cases FAIL (with their ids in both reports); its other formats FALLBACK. */
static void test_broken_kernel_is_reported(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/broken_plugin.so", getenv("LOWBIT_TEST_PLUGIN_DIR"));
    const char *files[1] = {path};
    lowbit_context_options options = {sizeof options, 0, NULL, files, 1, NULL};
    lowbit_context *context = NULL;
    setenv("LOWBIT_LOG", "error", 1);
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_OK);
    conform_filter filter = {.device = "broken:0"};
    conform_case *cases = NULL;
    size_t count = 0;
    assert_int_equal(conform_cases_generate(context, &filter, &cases, &count), LOWBIT_OK);
    assert_true(count > 0);
    conform_result *results = calloc(count, sizeof *results);
    size_t failed = 0, fell_back = 0;
    conform_contexts contexts = {.main = context, .options = &options};
    for (size_t i = 0; i < count; ++i) {
        conform_case_run(&contexts, &cases[i], &results[i]);
        /* NaN/Inf cases cannot expose a dropped column: every output is non-finite either way */
        int finite = cases[i].variant == CONFORM_VARIANT_PLAIN || cases[i].variant == CONFORM_VARIANT_UNALIGNED ||
                     cases[i].variant == CONFORM_VARIANT_SPLIT;
        /* f16 activations too: the host widens them for the broken device, whose bug then shows */
        if (cases[i].format == LOWBIT_FORMAT_Q8_0 && finite) {
            if (results[i].status != CONFORM_FAIL)
                fail_msg("%s should FAIL, got %s", cases[i].id, conform_status_name(results[i].status));
            assert_non_null(strstr(cases[i].id, "broken:0/"));
            assert_non_null(strstr(cases[i].id, "/Q8_0/"));
            assert_string_equal(results[i].kernel, "broken_gemv_q8_0");
            ++failed;
        } else if (cases[i].format != LOWBIT_FORMAT_Q8_0) {
            assert_int_equal(results[i].status, CONFORM_FALLBACK);
            assert_non_null(strstr(results[i].message, "Q8_0 only"));
            ++fell_back;
        }
    }
    assert_true(failed > 0 && fell_back > 0);
    failed = 0; /* a NaN/Inf case may fail too, depending on where the non-finite value sits */
    for (size_t i = 0; i < count; ++i)
        failed += results[i].status == CONFORM_FAIL;
    char junit[] = "/tmp/lowbit-conform-XXXXXX", json[] = "/tmp/lowbit-conform-XXXXXX";
    close(mkstemp(junit));
    close(mkstemp(json));
    assert_int_equal(conform_write_junit(junit, cases, results, count), 0);
    assert_int_equal(conform_write_json(json, cases, results, count, 1), 0);
    char *xml = read_file(junit), *js = read_file(json);
    assert_int_equal(count_occurrences(xml, "<testcase "), count);
    assert_int_equal(count_occurrences(xml, "<failure "), failed);
    size_t skipped = 0;
    for (size_t i = 0; i < count; ++i)
        skipped += results[i].status == CONFORM_NOT_SUPPORTED;
    assert_int_equal(count_occurrences(xml, "<skipped "), skipped); /* NOT SUPPORTED is a JUnit skip */
    assert_int_equal(count_occurrences(js, "\"status\": \"FAIL\""), failed);
    for (size_t i = 0; i < count; ++i)
        if (results[i].status == CONFORM_FAIL)
            assert_non_null(strstr(xml, cases[i].id)), assert_non_null(strstr(js, cases[i].id));
    free(xml), free(js);
    unlink(junit), unlink(json);
    free(cases), free(results);
    conform_contexts_release(&contexts);
    lowbit_context_destroy(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_and_filters),
        cmocka_unit_test(test_compare_rules),
        cmocka_unit_test(test_broken_kernel_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
