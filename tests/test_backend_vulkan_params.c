/* test_backend_vulkan_params.c — the Vulkan tuning variables (LOWBIT_VULKAN_PARAMS, LOWBIT_VULKAN_GEMM,
 * LOWBIT_VULKAN_SUBGROUPS) read strictly, as OpenCL reads LOWBIT_OPENCL_PARAMS: a malformed value (trailing
 * garbage, zero, negative, not a power of two, too many or too few fields, empty) or one the device cannot run
 * is logged at error level with the variable and its text, and the matmul is refused, so the CPU answers with
 * the right result and the run names the reason; valid values still run on the device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { ROWS = 67, COLS = 256, N_MAX = 9 };

typedef struct fixture {
    lowbit_context *context;
    size_t device, size;
    void *packed;
    lowbit_weights *weights;
    float x[N_MAX * COLS], y[N_MAX * ROWS];
    double reference[N_MAX * ROWS];
} fixture;

/* Error-level lines that name a variable, collected while a test runs. */
static struct {
    unsigned errors;
    char last[512];
} logged;

static void collect_errors(lowbit_log_level level, const char *message, void *user)
{
    (void)user;
    if (level != LOWBIT_LOG_ERROR || !strstr(message, "LOWBIT_VULKAN_")) return;
    logged.errors++;
    snprintf(logged.last, sizeof logged.last, "%s", message);
}

/* A context on the first Vulkan device with one Q4_0 matrix uploaded; NULL when there is no device. */
static fixture *fixture_open(void)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    if (!(f->context = test_open_device(LOWBIT_API_VULKAN, &f->device))) {
        free(f);
        return NULL;
    }
    f->packed = test_make_weights(LOWBIT_FORMAT_Q4_0, ROWS, COLS, 3, &f->size);
    assert_int_equal(lowbit_weights_upload(f->context, f->device, LOWBIT_FORMAT_Q4_0, ROWS, COLS, f->packed, f->size, 0,
                                           &f->weights),
                     LOWBIT_OK);
    test_fill_random(f->x, N_MAX * COLS, 4, 1.0f);
    test_reference_matmul(LOWBIT_FORMAT_Q4_0, f->packed, f->size, ROWS, COLS, f->x, N_MAX, f->reference);
    return f;
}

static void fixture_close(fixture *f)
{
    lowbit_weights_destroy(f->weights);
    free(f->packed);
    lowbit_context_destroy(f->context);
    free(f);
}

/* Runs n rows: the result is right either way; `refused` says whether the CPU must have answered, with a
 * reason naming `variable` and `text`, or the Vulkan device itself, with a kernel whose name starts with
 * `kernel` (NULL: any). */
static void run_and_check(fixture *f, size_t n, int refused, const char *variable, const char *text, const char *kernel)
{
    memset(f->y, 0xFF, sizeof f->y);
    assert_int_equal(lowbit_matmul(f->context, f->weights, f->x, f->y, n), LOWBIT_OK);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(f->context, &run), LOWBIT_OK);
    double error = test_nmse(f->y, f->reference, n * ROWS);
    if (!(error <= TEST_NMSE_LIMIT)) fail_msg("%s='%s' n=%zu: NMSE %.3e (%s)", variable, text, n, error, run.kernel);
    if (!refused) {
        if (run.fell_back) fail_msg("%s='%s' n=%zu fell back: %s", variable, text, n, run.fallback_reason);
        if (kernel && strncmp(run.kernel, kernel, strlen(kernel)) != 0)
            fail_msg("%s='%s' n=%zu ran %s, not %s", variable, text, n, run.kernel, kernel);
        return;
    }
    if (!run.fell_back) fail_msg("%s='%s' n=%zu: not refused, %s ran %s", variable, text, n, run.device_id, run.kernel);
    char quoted[128];
    snprintf(quoted, sizeof quoted, "%s='%s'", variable, text);
    if (!strstr(run.fallback_reason, quoted))
        fail_msg("%s='%s': the reason does not name it: %s", variable, text, run.fallback_reason);
}

/* Each malformed value is refused and logged once at error level (not once per matmul); the valid value
 * after them runs on the device again. */
static void check_refused(fixture *f, const char *variable, const char *const *bad, size_t count, const size_t *ns,
                          size_t n_count)
{
    for (size_t i = 0; i < count; ++i) {
        setenv(variable, bad[i], 1);
        unsigned errors_before = logged.errors;
        for (size_t k = 0; k < n_count; ++k)
            run_and_check(f, ns[k], 1, variable, bad[i], NULL);
        if (logged.errors != errors_before + 1)
            fail_msg("%s='%s': %u error lines logged, expected one", variable, bad[i], logged.errors - errors_before);
        if (!strstr(logged.last, variable) || !strstr(logged.last, bad[i]))
            fail_msg("%s='%s': error line does not name it: %s", variable, bad[i], logged.last);
    }
    unsetenv(variable);
}

static void test_params_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "64,1,gpux",   /* trailing garbage */
        "64,1,gpu,8",  /* too many fields */
        "64,1",        /* too few */
        "0,1,gpu",     /* zero */
        "64,0,cpu",    /* zero rows */
        "-64,1,gpu",   /* negative */
        "48,1,gpu",    /* not a power of two */
        "64,65,cpu",   /* rows past 64 */
        "64 ,1,gpu",   /* a space */
        "",            /* empty */
        "65536,1,gpu", /* well formed, but more invocations than the device has */
    };
    static const size_t ns[] = {1, 9};
    lowbit_log_set_callback(collect_errors, NULL, LOWBIT_LOG_WARN);
    fixture *f = fixture_open();
    if (!f) skip();
    check_refused(f, "LOWBIT_VULKAN_PARAMS", bad, sizeof bad / sizeof bad[0], ns, 2);
    setenv("LOWBIT_VULKAN_PARAMS", "64,1,gpu", 1); /* valid: the GPU layout on any device, the GEMV for n = 9 */
    run_and_check(f, 1, 0, "LOWBIT_VULKAN_PARAMS", "64,1,gpu", "gemv_q4_0 wg=64 rows=1");
    run_and_check(f, 9, 0, "LOWBIT_VULKAN_PARAMS", "64,1,gpu", "gemv_q4_0 wg=64");
    unsetenv("LOWBIT_VULKAN_PARAMS");
    fixture_close(f);
}

static void test_gemm_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "64,64,32,4,4x",    /* trailing garbage */
        "64,64,32,4,4,9,1", /* too many fields */
        "64,64,32,4",       /* too few */
        "0,64,32,4,4",      /* zero */
        "64,64,32,4,4,0",   /* zero min_n (off is spelled off) */
        "-64,64,32,4,4",    /* negative */
        "64,64,33,4,4",     /* bk no multiple of 32 */
        "64,64,32,3,4",     /* tm no multiple of 4 */
        "64,60,32,4,8",     /* tn does not divide bn */
        "2048,64,32,4,4",   /* past 1024 */
        "fast",             /* no such word */
        "",                 /* empty */
        "1024,1024,32,4,4", /* well formed, but 65536 invocations */
    };
    static const size_t ns[] = {1, 9};
    lowbit_log_set_callback(collect_errors, NULL, LOWBIT_LOG_WARN);
    fixture *f = fixture_open();
    if (!f) skip();
    check_refused(f, "LOWBIT_VULKAN_GEMM", bad, sizeof bad / sizeof bad[0], ns, 2);
    static const struct {
        const char *value, *kernel_n9;
    } valid[] = {{"64,64,32,4,4", "gemm_q4_0 bm=64 bn=64 bk=32 tm=4 tn=4"},
                 {"off", "gemv_"},
                 {"gpu", "gemm_"},
                 {"cpu", "gemm_"}};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; ++i) {
        setenv("LOWBIT_VULKAN_GEMM", valid[i].value, 1);
        run_and_check(f, 1, 0, "LOWBIT_VULKAN_GEMM", valid[i].value, "gemv_");
        run_and_check(f, 9, 0, "LOWBIT_VULKAN_GEMM", valid[i].value, valid[i].kernel_n9);
    }
    unsetenv("LOWBIT_VULKAN_GEMM");
    fixture_close(f);
}

/* LOWBIT_VULKAN_SUBGROUPS is read when the device is probed (a new context): a malformed value makes that
 * device refuse every matmul; 0 and 1 run. */
static void test_subgroups_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {"2", "-1", "yes", "1 ", ""};
    static const char *const good[] = {"0", "1"};
    lowbit_log_set_callback(collect_errors, NULL, LOWBIT_LOG_WARN);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        setenv("LOWBIT_VULKAN_SUBGROUPS", bad[i], 1);
        unsigned errors_before = logged.errors;
        fixture *f = fixture_open();
        if (!f) skip();
        run_and_check(f, 1, 1, "LOWBIT_VULKAN_SUBGROUPS", bad[i], NULL);
        run_and_check(f, 9, 1, "LOWBIT_VULKAN_SUBGROUPS", bad[i], NULL);
        assert_true(logged.errors > errors_before);
        assert_non_null(strstr(logged.last, "LOWBIT_VULKAN_SUBGROUPS"));
        fixture_close(f);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; ++i) {
        setenv("LOWBIT_VULKAN_SUBGROUPS", good[i], 1);
        fixture *f = fixture_open();
        if (!f) skip();
        run_and_check(f, 1, 0, "LOWBIT_VULKAN_SUBGROUPS", good[i], "gemv_");
        fixture_close(f);
    }
    unsetenv("LOWBIT_VULKAN_SUBGROUPS");
}

static int restore_environment(void **state)
{
    (void)state;
    unsetenv("LOWBIT_VULKAN_PARAMS");
    unsetenv("LOWBIT_VULKAN_GEMM");
    unsetenv("LOWBIT_VULKAN_SUBGROUPS");
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_params_strict, restore_environment),
        cmocka_unit_test_teardown(test_gemm_strict, restore_environment),
        cmocka_unit_test_teardown(test_subgroups_strict, restore_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
