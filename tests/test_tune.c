/* test_tune.c — the one parameter vocabulary (params.h), the tuning database as the runtime uses it (every fallback
 * level, overlay of the context's parameters, tuning=0, a corrupt user file), the built-in defaults running on every
 * device, and lowbit-tune end to end on cpu, PoCL and lavapipe: a tiny space produces entries the next context
 * uses, a deliberately wrong variant is rejected by verification, and an interrupted run resumes without
 * measuring anything twice. Nothing here is timed: which candidate wins is not asserted, only that the winner is
 * recorded and used. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/common/params.h"
#include "lowbit/lowbit.h"
#include "test_support.h"

enum { ROWS = 256, COLS = 1024, RUN_LIMIT_SECONDS = 600 };

static char test_dir[512];

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *walk)
{
    (void)info, (void)flag, (void)walk;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    if (test_temp_dir_create(test_dir, sizeof test_dir, "test_tune") != 0) return -1;
    setenv("LOWBIT_CACHE_DIR", test_dir, 1);
    setenv("LOWBIT_PARAMS", "dot=float", 1); /* the test environment's tuning=0 would hide the database */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Empties the cache folder (database, journal, program caches) between tests. */
static void clear_cache(void)
{
    nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(test_dir, 0700);
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static size_t count_lines(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    size_t lines = 0;
    for (int c; (c = fgetc(file)) != EOF;)
        lines += c == '\n';
    fclose(file);
    return lines;
}

/* --- the vocabulary ----------------------------------------------------------------------------- */
static void test_params_vocabulary(void **state)
{
    (void)state;
    lowbit_params p;
    char why[256];
    assert_int_equal(lowbit_params_parse_for("layout=coop,wg=64,rows=2,opencl.sums=0,vulkan.wg=128,threads=3",
                                             LOWBIT_PARAM_VULKAN, &p, why, sizeof why),
                     0);
    assert_int_equal(p.values[LOWBIT_KEY_LAYOUT], 2);
    assert_int_equal(p.values[LOWBIT_KEY_WG], 128); /* the vulkan-scoped key, later, wins for vulkan */
    assert_int_equal(p.values[LOWBIT_KEY_SUMS], 0); /* another backend's key is skipped */
    assert_int_equal(p.values[LOWBIT_KEY_THREADS], 3);
    assert_int_equal(lowbit_params_parse_for("dot=int,tile_k=64", LOWBIT_PARAM_OPENCL, &p, why, sizeof why), 0);
    assert_int_equal(p.dot, LOWBIT_DOT_INT);
    assert_int_equal(p.values[LOWBIT_KEY_TILE_K], 64);
    assert_int_equal(lowbit_params_tuning(&p), 1);
    assert_int_equal(lowbit_params_parse("tuning=0", &p, why, sizeof why), 0);
    assert_int_equal(lowbit_params_tuning(&p), 0);
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"wg=3", "parameter wg='3': use a power of two in 1..1024"},
        {"wg=2048", "power of two"},
        {"tile_k=48", "a multiple of 32"},
        {"rows=0", "parameter rows='0'"},
        {"layout=diagonal", "use row|coop"},
        {"cpu.wg=8", "the cpu backend has no 'wg'"},
        {"metal.wg=8", "unknown scope 'metal'"},
        {"colour=blue", "unknown parameter 'colour' (value 'blue'); known: dot tuning layout"},
        {"wg", "is not key=value"},
        {"wg=8,,rows=2", "is empty"},
        {"threads=-1", "threads='-1'"},
        {"gemm_min=1", "gemm_min='1'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        assert_int_equal(lowbit_params_parse(bad[i].text, &p, why, sizeof why), -1);
        if (!strstr(why, bad[i].message)) fail_msg("'%s': '%s' lacks '%s'", bad[i].text, why, bad[i].message);
        for (size_t k = 0; k < LOWBIT_KEY_COUNT; ++k)
            assert_int_equal(p.values[k], 0); /* nothing set after a failure */
    }
    /* the context's keys over a database entry's */
    lowbit_params base, over;
    assert_int_equal(lowbit_params_parse("layout=row,wg=8,rows=16,dot=int", &base, why, sizeof why), 0);
    assert_int_equal(lowbit_params_parse("rows=32", &over, why, sizeof why), 0);
    lowbit_params_overlay(&base, &over);
    assert_int_equal(base.values[LOWBIT_KEY_WG], 8);
    assert_int_equal(base.values[LOWBIT_KEY_ROWS], 32);
    assert_int_equal(base.dot, LOWBIT_DOT_INT);
    /* a bad string in the options fails the context with the key named */
    lowbit_context *context = NULL;
    lowbit_context_options options = {.struct_size = sizeof options, .params = "opencl.wg=5"};
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "parameter wg='5'"));
}

/* --- the built-in defaults on every device present ---------------------------------------------- */
static void test_defaults_run_everywhere(void **state)
{
    (void)state;
    static const lowbit_format formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K,
                                            LOWBIT_FORMAT_Q8_0};
    static const size_t batches[] = {1, 8, 16};
    static const lowbit_api apis[] = {LOWBIT_API_CPU, LOWBIT_API_OPENCL, LOWBIT_API_VULKAN};
    for (size_t a = 0; a < 3; ++a) {
        size_t device = 0;
        lowbit_context *context = test_open_device_params(apis[a], "tuning=0,dot=float", &device);
        if (!context) continue;
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
        for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
            if (!(info.formats >> formats[f] & 1u)) continue;
            test_matmul_expect expect = {.on_device = 1};
            test_check_matmul(context, device, formats[f], 64, 512, batches, 3, LOWBIT_ACTIVATION_F32, &expect);
        }
        lowbit_context_destroy(context);
    }
}

/* --- the database as the runtime reads it -------------------------------------------------------- */
/* The kernel string of one q-format matmul of n rows on the first `api` device of a fresh context. */
static void run_kernel(lowbit_api api, const char *params, lowbit_format format, size_t n, char *kernel, size_t size)
{
    size_t device = 0;
    lowbit_context *context = test_open_device_params(api, params, &device);
    assert_non_null(context);
    size_t bytes = 0;
    void *packed = test_make_weights(format, ROWS, COLS, 7, &bytes);
    lowbit_weights *weights = NULL;
    assert_int_equal(
        lowbit_weights_upload(context, device, format, ROWS, COLS, packed, bytes, LOWBIT_UPLOAD_NO_FALLBACK, &weights),
        LOWBIT_OK);
    float *x = calloc(n * COLS, sizeof *x), *y = calloc(n * ROWS, sizeof *y);
    double *reference = calloc(n * ROWS, sizeof *reference);
    assert_non_null(x), assert_non_null(y), assert_non_null(reference);
    test_fill_random(x, n * COLS, 11, 1.0f);
    assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
    test_reference_matmul(format, packed, bytes, ROWS, COLS, x, n, reference);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    double nmse = test_nmse(y, reference, n * ROWS);
    if (!(nmse <= TEST_NMSE_LIMIT))
        fail_msg("%s n=%zu: NMSE %.3g with %s", lowbit_format_name(format), n, nmse, run.kernel);
    assert_int_equal(run.fell_back, 0);
    snprintf(kernel, size, "%s", run.kernel);
    free(x), free(y), free(reference), free(packed);
    lowbit_weights_destroy(weights);
    lowbit_context_destroy(context);
}

static void expect_kernel(lowbit_api api, const char *params, lowbit_format format, size_t n, const char *first,
                          const char *second)
{
    char kernel[128];
    run_kernel(api, params, format, n, kernel, sizeof kernel);
    if (first && !strstr(kernel, first)) fail_msg("kernel '%s' lacks '%s'", kernel, first);
    if (second && !strstr(kernel, second)) fail_msg("kernel '%s' lacks '%s'", kernel, second);
    if (!first && strstr(kernel, "tuned=")) fail_msg("kernel '%s' names a tuning level", kernel);
}

static const char *api_word(lowbit_api api)
{
    return api == LOWBIT_API_OPENCL ? "opencl" : api == LOWBIT_API_VULKAN ? "vulkan" : "cpu";
}

/* A user database for the first `api` device: one entry per level, each for its own format, none of them a format
 * the shipped database tunes (Q4_0 aside, whose device-level entry this file overlays), so the levels show. */
static int write_levels_database(lowbit_api api, const char *device_row, const char *vendor_row, const char *class_row,
                                 const char *driver_row)
{
    size_t device = 0;
    lowbit_context *context = test_open_device_params(api, "tuning=0", &device);
    if (!context) return 0;
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    lowbit_context_destroy(context);
    assert_null(strchr(info.name, '"'));
    assert_null(strchr(info.driver_version, '"'));
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%.3s*", info.driver_version);
    char text[4096], folder[600], path[700];
    snprintf(text, sizeof text,
             "{\"lowbit_tuning\": 1, \"entries\": [\n"
             " {\"api\": \"%s\", \"vendor\": \"%s\", \"device\": \"%s\", \"driver\": \"%s\", \"family\": \"gemv\","
             " \"format\": \"q4_0\", \"n\": \"1\", \"params\": \"%s\"},\n"
             " {\"api\": \"%s\", \"vendor\": \"%s\", \"family\": \"gemv\", \"format\": \"q5_0\", \"params\": \"%s\"},\n"
             " {\"api\": \"%s\", \"class\": \"cpu\", \"family\": \"gemv\", \"format\": \"q5_1\", \"params\": \"%s\"},\n"
             " {\"api\": \"%s\", \"class\": \"gpu\", \"family\": \"gemv\", \"format\": \"q5_1\", \"params\": \"%s\"},\n"
             " {\"api\": \"%s\", \"driver\": \"%s\", \"family\": \"gemv\", \"format\": \"q4_1\", \"params\": \"%s\"}\n"
             "]}\n",
             api_word(api), info.vendor, info.name, info.driver_version, device_row, api_word(api), info.vendor,
             vendor_row, api_word(api), class_row, api_word(api), "tuning=1", api_word(api), prefix, driver_row);
    snprintf(folder, sizeof folder, "%s/tuning", test_dir);
    mkdir(folder, 0755);
    snprintf(path, sizeof path, "%s/%s-levels.json", folder, api_word(api));
    write_text(path, text);
    return 1;
}

static void test_database_levels(void **state)
{
    (void)state;
    clear_cache();
    /* OpenCL (PoCL): every level, the context's keys over the entry's, tuning=0 */
    if (write_levels_database(LOWBIT_API_OPENCL, "layout=row,wg=8,rows=16", "layout=row,wg=4,rows=8",
                              "layout=coop,wg=32,rows=1", "layout=row,wg=16,rows=32")) {
        expect_kernel(LOWBIT_API_OPENCL, NULL, LOWBIT_FORMAT_Q4_0, 1, "wg=8 rows=16", "tuned=device");
        expect_kernel(LOWBIT_API_OPENCL, NULL, LOWBIT_FORMAT_Q5_0, 1, "wg=4 rows=8", "tuned=vendor");
        expect_kernel(LOWBIT_API_OPENCL, NULL, LOWBIT_FORMAT_Q5_1, 1, "wg=32 rows=1 n=1 coop-layout", "tuned=class");
        expect_kernel(LOWBIT_API_OPENCL, NULL, LOWBIT_FORMAT_Q4_1, 1, "wg=16 rows=32", "tuned=driver");
        expect_kernel(LOWBIT_API_OPENCL, "dot=float,opencl.rows=32", LOWBIT_FORMAT_Q4_0, 1, "wg=8 rows=32",
                      "tuned=device");
        expect_kernel(LOWBIT_API_OPENCL, "dot=float,tuning=0", LOWBIT_FORMAT_Q4_0, 1, NULL, NULL);
        /* the batch class is part of the key: n = 16 (the GEMM's) has no entry, here or shipped */
        char kernel[128];
        run_kernel(LOWBIT_API_OPENCL, NULL, LOWBIT_FORMAT_Q4_0, 16, kernel, sizeof kernel);
        assert_null(strstr(kernel, "tuned="));
    }
    /* Vulkan (lavapipe) */
    if (write_levels_database(LOWBIT_API_VULKAN, "layout=row,wg=8,rows=8", "layout=row,wg=4,rows=4",
                              "layout=coop,wg=64,rows=2", "layout=row,wg=16,rows=4")) {
        expect_kernel(LOWBIT_API_VULKAN, NULL, LOWBIT_FORMAT_Q4_0, 1, "wg=8 rows=8", "tuned=device");
        expect_kernel(LOWBIT_API_VULKAN, NULL, LOWBIT_FORMAT_Q5_0, 1, "wg=4 rows=4", "tuned=vendor");
        expect_kernel(LOWBIT_API_VULKAN, NULL, LOWBIT_FORMAT_Q5_1, 1, "wg=64 rows=2 batch=1 coop-layout",
                      "tuned=class");
        expect_kernel(LOWBIT_API_VULKAN, NULL, LOWBIT_FORMAT_Q4_1, 1, "wg=16 rows=4", "tuned=driver");
        expect_kernel(LOWBIT_API_VULKAN, "dot=float,vulkan.wg=16", LOWBIT_FORMAT_Q4_0, 1, "wg=16 rows=8",
                      "tuned=device");
        /* subgroups=0|1 picks the coop reduction per context (the storage-buffer modules: lavapipe's texel ones have
         * no subgroup variant) */
        char kernel[128];
        run_kernel(LOWBIT_API_VULKAN, "dot=float,tuning=0,vulkan.layout=coop,vulkan.subgroups=0", LOWBIT_FORMAT_Q4_0, 1,
                   kernel, sizeof kernel);
        assert_non_null(strstr(kernel, "coop-layout"));
        assert_null(strstr(kernel, " sg"));
        size_t device = 0;
        lowbit_context *probe = test_open_device_params(LOWBIT_API_VULKAN, "tuning=0", &device);
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(probe, device, &info), LOWBIT_OK);
        lowbit_context_destroy(probe);
        if (info.subgroups) {
            run_kernel(LOWBIT_API_VULKAN, "dot=float,tuning=0,vulkan.layout=coop,vulkan.subgroups=1",
                       LOWBIT_FORMAT_Q4_0, 1, kernel, sizeof kernel);
            assert_non_null(strstr(kernel, " sg"));
        }
    }
    /* the CPU backend */
    assert_true(write_levels_database(LOWBIT_API_CPU, "threads=1", "threads=1", "threads=1", "threads=1"));
    expect_kernel(LOWBIT_API_CPU, NULL, LOWBIT_FORMAT_Q4_0, 1, "threads=1", "tuned=device");
    /* the public query and the sources; a corrupt user file is reported and skipped, the others still apply */
    char path[700];
    snprintf(path, sizeof path, "%s/tuning/zz-broken.json", test_dir);
    write_text(path, "{\"lowbit_tuning\": 1, \"entries\": [{\"api\": \"cpu\", \"family\": \"gemv\", \"params\": ");
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(NULL, &context), LOWBIT_OK);
    char sources[4096], params[256], level[16];
    assert_int_equal(lowbit_tuning_sources(context, sources, sizeof sources), LOWBIT_OK);
    assert_non_null(strstr(sources, "shipped: "));
    assert_non_null(strstr(sources, "cpu-levels.json: 5 entries"));
    assert_non_null(strstr(sources, "zz-broken.json: ignored ("));
    assert_int_equal(
        lowbit_device_tuning(context, 0, LOWBIT_FORMAT_Q4_0, 1, ROWS, COLS, params, sizeof params, level, sizeof level),
        LOWBIT_OK);
    assert_string_equal(params, "threads=1");
    assert_string_equal(level, "device");
    assert_int_equal(
        lowbit_device_tuning(context, 0, LOWBIT_FORMAT_Q3_K, 1, ROWS, COLS, params, sizeof params, level, sizeof level),
        LOWBIT_OK);
    assert_string_equal(level, "default");
    assert_int_equal(
        lowbit_device_tuning(context, 0, LOWBIT_FORMAT_Q4_0, 0, ROWS, COLS, params, sizeof params, level, sizeof level),
        LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_context_destroy(context);
    expect_kernel(LOWBIT_API_CPU, NULL, LOWBIT_FORMAT_Q4_0, 1, "threads=1", "tuned=device");
    clear_cache();
}

/* --- lowbit-tune ---------------------------------------------------------------------------------- */
/* Runs build/bin/lowbit-tune with args (NULL-terminated), stdout and stderr into `output`; `fault` sets
 * LOWBIT_FAULT in the child. Returns the exit status. */
static int run_tune(const char *const *args, const char *fault, char *output, size_t output_size)
{
    char log_path[700], fault_env[64];
    snprintf(log_path, sizeof log_path, "%s/tune-output.txt", test_dir);
    snprintf(fault_env, sizeof fault_env, "LOWBIT_FAULT=%s", fault ? fault : "");
    const char *const env[] = {fault ? fault_env : NULL, NULL};
    return test_run_tool("lowbit-tune", args, env, log_path, RUN_LIMIT_SECONDS, output, output_size);
}

/* A tiny space on each device: the database it writes is what the next context uses. */
static void test_tuner_writes_what_the_runtime_uses(void **state)
{
    (void)state;
    static const struct {
        lowbit_api api;
        const char *space, *n;
    } cases[] = {
        {LOWBIT_API_CPU, "threads=1,2", "1"},
        {LOWBIT_API_OPENCL, "layout=row;wg=8;rows=8,16", "1"},
        {LOWBIT_API_VULKAN, "layout=row;wg=8;rows=8,16", "1"},
        /* the GEMM family (n >= 9): PoCL's streaming tiles */
        {LOWBIT_API_OPENCL, "stream=1;tile_rows=16;tile_n=16;item_rows=2;item_n=4,8", "16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        clear_cache();
        size_t device = 0;
        lowbit_context *probe = test_open_device_params(cases[i].api, "tuning=0", &device);
        if (!probe) continue;
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(probe, device, &info), LOWBIT_OK);
        lowbit_context_destroy(probe);
        char json[700], output[16384], shape[32];
        snprintf(json, sizeof json, "%s/tune.json", test_dir);
        snprintf(shape, sizeof shape, "%dx%d", ROWS, COLS);
        const char *args[] = {"--device",      info.id,   "--formats",    "q4_0",     "--n", cases[i].n, "--shapes",
                              shape,           "--space", cases[i].space, "--repeat", "3",   "--json",   json,
                              "--no-progress", NULL};
        int status = run_tune(args, NULL, output, sizeof output);
        if (status != 0) fail_msg("lowbit-tune on %s exited %d:\n%s", info.id, status, output);
        assert_non_null(strstr(output, "database: "));
        assert_non_null(strstr(output, "candidates measured"));
        /* the entry is the device's: the next context answers at the device level, with the winner's keys */
        lowbit_context *context = NULL;
        assert_int_equal(lowbit_context_create(NULL, &context), LOWBIT_OK);
        size_t index = 0;
        assert_int_equal(lowbit_device_find(context, info.id, &index), LOWBIT_OK);
        char params[256], level[16];
        size_t n = (size_t)atoi(cases[i].n);
        assert_int_equal(lowbit_device_tuning(context, index, LOWBIT_FORMAT_Q4_0, n, ROWS, COLS, params, sizeof params,
                                              level, sizeof level),
                         LOWBIT_OK);
        assert_string_equal(level, "device");
        lowbit_context_destroy(context);
        char kernel[128];
        run_kernel(cases[i].api, NULL, LOWBIT_FORMAT_Q4_0, n, kernel, sizeof kernel);
        if (!strstr(kernel, "tuned=device")) fail_msg("%s: kernel '%s' after tuning", info.id, kernel);
        if (params[0]) { /* a candidate won: its values show in the kernel string */
            char expect[48] = "";
            const char *rows = strncmp(params, "rows=", 5) == 0 ? params : strstr(params, ",rows=");
            const char *threads = strstr(params, "threads="), *tile_n = strstr(params, "tile_n=");
            if (rows) rows += rows[0] == ',';
            if (rows) snprintf(expect, sizeof expect, "rows=%.*s", (int)strcspn(rows + 5, ","), rows + 5);
            if (threads) snprintf(expect, sizeof expect, "threads=%.*s", (int)strcspn(threads + 8, ","), threads + 8);
            if (tile_n) snprintf(expect, sizeof expect, "x%.*s item=", (int)strcspn(tile_n + 7, ","), tile_n + 7);
            if (expect[0] && !strstr(kernel, expect))
                fail_msg("kernel '%s' lacks '%s' of '%s'", kernel, expect, params);
        }
    }
    clear_cache();
}

/* A variant that answers wrong (LOWBIT_FAULT=cpu.wrong breaks the CPU backend's single-thread run) is recorded
 * as wrong and never wins. */
static void test_tuner_rejects_wrong_candidates(void **state)
{
    (void)state;
    clear_cache();
    char json[700], output[16384], shape[32];
    snprintf(json, sizeof json, "%s/tune.json", test_dir);
    snprintf(shape, sizeof shape, "%dx%d", ROWS, COLS);
    const char *args[] = {"--device", "cpu",         "--formats", "q8_0", "--n",    "1",  "--shapes",      "1024x1024",
                          "--space",  "threads=1,2", "--repeat",  "3",    "--json", json, "--no-progress", NULL};
    int status = run_tune(args, "cpu.wrong", output, sizeof output);
    if (status != 0) fail_msg("lowbit-tune exited %d:\n%s", status, output);
    FILE *file = fopen(json, "r");
    assert_non_null(file);
    char text[16384];
    size_t got = fread(text, 1, sizeof text - 1, file);
    text[got] = '\0';
    fclose(file);
    if (!strstr(text, "\"wrong\": 1")) fail_msg("no wrong candidate recorded:\n%s", text);
    assert_null(strstr(text, "\"params\": \"threads=1\""));
    char journal[700];
    snprintf(journal, sizeof journal, "%s/tune-journal.jsonl", test_dir);
    file = fopen(journal, "r");
    assert_non_null(file);
    got = fread(text, 1, sizeof text - 1, file);
    text[got] = '\0';
    fclose(file);
    assert_non_null(strstr(text, "\"params\":\"threads=1\",\"status\":\"wrong\""));
    clear_cache();
}

/* --stop-after interrupts a run; the next run takes the measured candidates from the journal and measures only
 * the rest. */
static void test_tuner_resumes(void **state)
{
    (void)state;
    clear_cache();
    size_t device = 0;
    lowbit_api api = LOWBIT_API_OPENCL;
    lowbit_context *probe = test_open_device_params(api, "tuning=0", &device);
    if (!probe) {
        api = LOWBIT_API_CPU;
        probe = test_open_device_params(api, "tuning=0", &device);
    }
    assert_non_null(probe);
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(probe, device, &info), LOWBIT_OK);
    lowbit_context_destroy(probe);
    char output[16384], shape[32], journal[700];
    snprintf(shape, sizeof shape, "%dx%d", ROWS, COLS);
    snprintf(journal, sizeof journal, "%s/tune-journal.jsonl", test_dir);
    const char *space = api == LOWBIT_API_OPENCL ? "layout=row;wg=8;rows=8,16,32" : "threads=1,2";
    const char *args[] = {"--device",      info.id,        "--formats", "q4_0", "--n",      "1",
                          "--shapes",      shape,          "--space",   space,  "--repeat", "3",
                          "--no-progress", "--stop-after", "2",         NULL};
    assert_int_equal(run_tune(args, NULL, output, sizeof output), 3);
    assert_non_null(strstr(output, "run the same command again to resume"));
    assert_int_equal(count_lines(journal), 2);
    args[13] = NULL; /* the same command without --stop-after */
    int status = run_tune(args, NULL, output, sizeof output);
    if (status != 0) fail_msg("resumed lowbit-tune exited %d:\n%s", status, output);
    size_t total = api == LOWBIT_API_OPENCL ? 4 : 3; /* the default and the candidates */
    char expect[96];
    snprintf(expect, sizeof expect, "%zu candidates measured, 2 taken from the journal", total - 2);
    if (!strstr(output, expect)) fail_msg("'%s' not in:\n%s", expect, output);
    assert_int_equal(count_lines(journal), total);
    /* a third run measures nothing */
    assert_int_equal(run_tune(args, NULL, output, sizeof output), 0);
    snprintf(expect, sizeof expect, "0 candidates measured, %zu taken from the journal", total);
    if (!strstr(output, expect)) fail_msg("'%s' not in:\n%s", expect, output);
    assert_int_equal(count_lines(journal), total);
    clear_cache();
}

/* Bad options exit 2 with the offending value named; --list measures nothing. */
static void test_tuner_options(void **state)
{
    (void)state;
    char output[16384];
    static const struct {
        const char *args[4];
        const char *message;
    } bad[] = {
        {{"--space", "wg=3", NULL}, "--space: parameter wg='3'"},
        {{"--space", "tuning=1", NULL}, "'tuning' is not a tunable key"},
        {{"--formats", "q9_9", NULL}, "'q9_9' is not a weight format"},
        {{"--device", "opencl:99", NULL}, "opencl:99"},
        {{"--repeat", "1", NULL}, "bad value '1' for --repeat"},
        {{"--strategy", "guess", NULL}, "bad value 'guess' for --strategy"},
        {{"--shapes", "4096", NULL}, "'4096' is not a shape"},
        {{"--bogus", "1", NULL}, "unknown argument '--bogus'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        assert_int_equal(run_tune(bad[i].args, NULL, output, sizeof output), 2);
        if (!strstr(output, bad[i].message)) fail_msg("'%s' not in:\n%s", bad[i].message, output);
    }
    const char *list[] = {"--list", "--device", "cpu", "--formats", "q4_0", "--n", "1,16", NULL};
    assert_int_equal(run_tune(list, NULL, output, sizeof output), 0);
    assert_non_null(strstr(output, "cpu Q4_0 n=1 4096x4096:"));
    assert_non_null(strstr(output, "  threads=1"));
    assert_non_null(strstr(output, "cpu Q4_0 n=16 4096x4096:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_vocabulary),
        cmocka_unit_test(test_defaults_run_everywhere),
        cmocka_unit_test(test_database_levels),
        cmocka_unit_test(test_tuner_writes_what_the_runtime_uses),
        cmocka_unit_test(test_tuner_rejects_wrong_candidates),
        cmocka_unit_test(test_tuner_resumes),
        cmocka_unit_test(test_tuner_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
