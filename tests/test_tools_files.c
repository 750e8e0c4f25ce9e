/* test_tools_files.c — regressions for the tools' handling of files, run as a user would, through the
 * built binaries: lowbit-quantize overwriting its imatrix input, replacing a FIFO given as output, and
 * hanging on (or allocating 2^63 bytes for) an imatrix that is a FIFO or a directory; lowbit-bench hanging
 * on a FIFO model and leaking its option strings on error paths (the exact exit status is asserted, so a
 * leak-checking build, whose leak report changes it, fails), and lowbit-bench's JSON naming the cache its
 * weight rotation defeats. Each run is killed after a time limit. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lowbit/lowbit_io.h"
#include "test_support.h"

enum { RUN_LIMIT_SECONDS = 60, COLS = 256, ROWS = 4 };

static char test_dir[512], model[1024], imatrix[1024], output_log[1024];

static void path_in_test_dir(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", test_dir, name);
}

/* A one-matrix model and a legacy (.dat) imatrix for it. */
static void write_inputs(void)
{
    float weights[ROWS * COLS];
    test_fill_random(weights, ROWS * COLS, 5, 1.0f);
    const uint64_t ne[] = {COLS, ROWS};
    lowbit_gguf_writer *writer = NULL;
    assert_int_equal(lowbit_gguf_writer_create(&writer), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_string(writer, "general.architecture", "llama"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_add_tensor(writer, "blk.0.ffn_down.weight", LOWBIT_FORMAT_F32, 2, ne, weights,
                                                   sizeof weights),
                     LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_write(writer, model), LOWBIT_OK);
    lowbit_gguf_writer_destroy(writer);

    FILE *file = fopen(imatrix, "wb");
    assert_non_null(file);
    const char name[] = "blk.0.ffn_down.weight";
    int32_t header[2] = {1, (int32_t)(sizeof name - 1)}, counts[2] = {1, COLS};
    float importance[COLS];
    for (int i = 0; i < COLS; ++i)
        importance[i] = 1.0f + (float)i;
    fwrite(header, sizeof header, 1, file);
    fwrite(name, sizeof name - 1, 1, file);
    fwrite(counts, sizeof counts, 1, file);
    fwrite(importance, sizeof importance, 1, file);
    fclose(file);
}

static int make_test_dir(void **state)
{
    (void)state;
    if (test_temp_dir_create(test_dir, sizeof test_dir, "test_tools_files") != 0) return -1;
    path_in_test_dir(model, sizeof model, "model.gguf");
    path_in_test_dir(imatrix, sizeof imatrix, "imatrix.dat");
    path_in_test_dir(output_log, sizeof output_log, "tool-output.txt");
    write_inputs();
    return 0;
}

static int remove_test_dir(void **state)
{
    (void)state;
    test_temp_dir_remove(test_dir);
    return 0;
}

/* The tool on the CPU device, its output in `output`: its exit status (test_run_tool). */
static int run_tool(const char *tool, const char *const *args, char *output, size_t output_size)
{
    static const char *const env[] = {"LOWBIT_DEVICE=cpu", NULL};
    return test_run_tool(tool, args, env, output_log, RUN_LIMIT_SECONDS, output, output_size);
}

static void assert_file_equal(const char *path, const void *expected, size_t size)
{
    unsigned char actual[4096];
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    size_t got = fread(actual, 1, sizeof actual, file);
    fclose(file);
    assert_int_equal(got, size);
    assert_memory_equal(actual, expected, size);
}

static void test_quantize_refuses_to_overwrite_its_imatrix(void **state)
{
    (void)state;
    unsigned char before[4096];
    FILE *file = fopen(imatrix, "rb");
    assert_non_null(file);
    size_t size = fread(before, 1, sizeof before, file);
    fclose(file);
    char output[4096];
    const char *args[] = {"--imatrix", imatrix, model, imatrix, "Q4_K", NULL};
    assert_int_equal(run_tool("lowbit-quantize", args, output, sizeof output), 1);
    assert_non_null(strstr(output, "refusing to overwrite the imatrix file"));
    assert_file_equal(imatrix, before, size);
    /* the same inputs with a real output name work */
    char good[1024];
    path_in_test_dir(good, sizeof good, "out.gguf");
    const char *good_args[] = {"--imatrix", imatrix, model, good, "Q4_K", NULL};
    assert_int_equal(run_tool("lowbit-quantize", good_args, output, sizeof output), 0);
}

static void test_quantize_refuses_special_imatrix_and_output(void **state)
{
    (void)state;
    char fifo[1024], out[1024], output[4096];
    path_in_test_dir(fifo, sizeof fifo, "pipe");
    path_in_test_dir(out, sizeof out, "out.gguf");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *fifo_imatrix[] = {"--imatrix", fifo, model, out, "Q4_K", NULL};
    assert_int_equal(run_tool("lowbit-quantize", fifo_imatrix, output, sizeof output), 1);
    assert_non_null(strstr(output, "is not a regular file"));
    const char *directory_imatrix[] = {"--imatrix", test_dir, model, out, "Q4_K", NULL};
    assert_int_equal(run_tool("lowbit-quantize", directory_imatrix, output, sizeof output), 1);
    assert_non_null(strstr(output, "is not a regular file"));
    const char *fifo_output[] = {model, fifo, "Q8_0", NULL};
    assert_int_equal(run_tool("lowbit-quantize", fifo_output, output, sizeof output), 1);
    assert_non_null(strstr(output, "it is a FIFO, not a regular file"));
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(access(out, F_OK), -1); /* nothing was written anywhere */
}

/* --method and its options are checked before any file is opened: usage errors (exit 2) that name the problem. */
static void test_quantize_method_options(void **state)
{
    (void)state;
    char out[1024], output[4096];
    path_in_test_dir(out, sizeof out, "out.gguf");
    static const struct {
        const char *args[8];
        const char *message;
    } cases[] = {
        {{"--method", "smoothquant", NULL}, "--method smoothquant needs --hessian FILE"},
        {{"--method", "gptq", NULL}, "--method gptq needs --hessian FILE"},
        {{"--method", "smooth", NULL}, "rtn, imatrix, gptq, awq, awq+gptq or smoothquant"},
        {{"--smooth-alpha", "0.5", NULL}, "--smooth-alpha is only used by --method smoothquant"},
        {{"--method", "smoothquant", "--hessian", "h.gguf", "--smooth-alpha", "1.5", NULL}, "in [0, 1]"},
        {{"--method", "awq", "--hessian", "h.gguf", "--awq-alpha", "-0.1", NULL}, "in [0, 1]"},
        {{"--hessian", "h.gguf", NULL}, "--hessian is only used by"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const char *args[12];
        size_t n = 0;
        for (; cases[c].args[n]; ++n)
            args[n] = cases[c].args[n];
        args[n++] = model, args[n++] = out, args[n++] = "Q8_0", args[n] = NULL;
        assert_int_equal(run_tool("lowbit-quantize", args, output, sizeof output), 2);
        if (!strstr(output, cases[c].message)) fail_msg("case %zu: expected '%s' in:\n%s", c, cases[c].message, output);
    }
    assert_int_equal(access(out, F_OK), -1);
}

static void test_bench_refuses_fifo_model_and_frees_on_errors(void **state)
{
    (void)state;
    char fifo[1024], output[4096];
    path_in_test_dir(fifo, sizeof fifo, "model.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *fifo_model[] = {"--device", "cpu", "--model", fifo, NULL};
    assert_int_equal(run_tool("lowbit-bench", fifo_model, output, sizeof output), 1);
    assert_non_null(strstr(output, "is a FIFO, not a regular file"));
    /* error paths after --device and --json strings were taken */
    const char *bad_format[] = {"--device", "cpu,opencl:0", "--json", "x.json", "--format", "Q9_9", NULL};
    assert_int_equal(run_tool("lowbit-bench", bad_format, output, sizeof output), 2);
    assert_non_null(strstr(output, "unknown format 'Q9_9'"));
    const char *bad_value[] = {"--device", "cpu", "--repeat", "zero", NULL};
    assert_int_equal(run_tool("lowbit-bench", bad_value, output, sizeof output), 2);
    const char *missing_value[] = {"--device", "cpu", "--shape", NULL};
    assert_int_equal(run_tool("lowbit-bench", missing_value, output, sizeof output), 2);
    const char *help[] = {"--device", "cpu", "--help", NULL};
    assert_int_equal(run_tool("lowbit-bench", help, output, sizeof output), 0);
}

/* The unsigned number after "key": in a JSON text; fails the test when the key is missing. */
static unsigned long long json_number(const char *json, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\": ", key);
    const char *at = strstr(json, quoted);
    if (!at) fail_msg("no %s in:\n%s", quoted, json);
    char *end = NULL;
    unsigned long long value = strtoull(at + strlen(quoted), &end, 10);
    assert_true(end > at + strlen(quoted));
    return value;
}

/* lowbit-bench's GB/s are DRAM figures: each matrix is uploaded as copies that together hold >= 4 x the cache and
 * timed in rotation. A tiny matrix on the cpu device: the JSON names the cache (the host's last-level one) and the
 * copies, more than one as the matrix is far smaller than any cache, here capped at 64 and said so. Nothing is
 * timed against a bound: only the bookkeeping is checked. */
static void test_bench_rotates_weight_copies_past_the_cache(void **state)
{
    (void)state;
    char json_path[1024], output[32768];
    path_in_test_dir(json_path, sizeof json_path, "bench.json");
    const char *args[] = {"--device", "cpu",      "--format", "Q8_0",   "--shape", "64x256", "--n",
                          "1",        "--repeat", "3",        "--json", json_path, NULL};
    int status = run_tool("lowbit-bench", args, output, sizeof output);
    if (status != 0) fail_msg("lowbit-bench exited with %d:\n%s", status, output);
    assert_non_null(strstr(output, "copies"));
    char json[8192];
    FILE *file = fopen(json_path, "r");
    assert_non_null(file);
    size_t got = fread(json, 1, sizeof json - 1, file);
    fclose(file);
    json[got] = '\0';
    assert_true(json_number(json, "cache_multiple") == 4);
    const unsigned long long cache = json_number(json, "cache_bytes"), copies = json_number(json, "weight_copies"),
                             rotation = json_number(json, "rotation_bytes");
    const unsigned long long matrix = 64ull * 272; /* Q8_0: 34 bytes per 32 values */
    assert_true(cache >= 64ull << 10);             /* no host LLC is below 64 KiB; the fallback is 32 MiB */
    assert_true(copies >= 1);
    assert_true(matrix < cache && copies > 1); /* smaller than the cache: rotated */
    if (4 * cache > 64 * matrix) {             /* every real LLC: the 64-copy cap binds, and both outputs say so */
        assert_true(copies == 64);
        assert_non_null(strstr(json, "\"copies_capped\": true"));
        assert_non_null(strstr(output, "capped at 64 copies"));
    } else {
        assert_true(copies == (4 * cache + matrix - 1) / matrix);
        assert_non_null(strstr(json, "\"copies_capped\": false"));
    }
    assert_true(rotation == copies * matrix);
    assert_non_null(strstr(json, "\"cache_source\": \""));
    assert_true(json_number(json, "probe_bytes") >= 256ull << 20); /* >= 4 x cache and the old 256 MiB default */
    assert_non_null(strstr(json, "\"percent_of_bandwidth\": "));   /* the existing fields stay */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quantize_refuses_to_overwrite_its_imatrix, make_test_dir, remove_test_dir),
        cmocka_unit_test_setup_teardown(test_quantize_refuses_special_imatrix_and_output, make_test_dir,
                                        remove_test_dir),
        cmocka_unit_test_setup_teardown(test_quantize_method_options, make_test_dir, remove_test_dir),
        cmocka_unit_test_setup_teardown(test_bench_refuses_fifo_model_and_frees_on_errors, make_test_dir,
                                        remove_test_dir),
        cmocka_unit_test_setup_teardown(test_bench_rotates_weight_copies_past_the_cache, make_test_dir,
                                        remove_test_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
