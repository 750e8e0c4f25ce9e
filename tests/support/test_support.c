/* test_support.c — deterministic data, hashes, the f64 reference and NMSE for every test. */
#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void test_fill_random(float *values, size_t count, uint64_t seed, float scale)
{
    uint64_t state = seed;
    for (size_t i = 0; i < count; ++i) {
        double unit = (double)(splitmix64(&state) >> 11) * (1.0 / 9007199254740992.0);
        values[i] = (float)((unit * 2.0 - 1.0) * scale);
    }
}

uint64_t test_fnv1a(const void *data, size_t size)
{
    const unsigned char *bytes = data;
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < size; ++i) {
        hash ^= bytes[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

void *test_make_weights(lowbit_format format, size_t rows, size_t cols, uint64_t seed, size_t *size)
{
    float *values = malloc(rows * cols * sizeof(float));
    assert_non_null(values);
    test_fill_random(values, rows * cols, seed, 1.0f);
    *size = rows * lowbit_format_row_size(format, cols);
    assert_true(*size > 0);
    void *packed = malloc(*size);
    assert_non_null(packed);
    assert_int_equal(lowbit_quantize(format, values, rows, cols, packed, *size, NULL, 0), LOWBIT_OK);
    free(values);
    return packed;
}

void test_reference_matmul(lowbit_format format, const void *weights, size_t weight_bytes, size_t rows, size_t cols,
                           const float *x, size_t n, double *y)
{
    float *w = malloc(rows * cols * sizeof(float));
    assert_non_null(w);
    assert_int_equal(lowbit_dequantize(format, weights, weight_bytes, rows, cols, w), LOWBIT_OK);
    for (size_t i = 0; i < n; ++i) {
        for (size_t r = 0; r < rows; ++r) {
            double sum = 0.0;
            for (size_t c = 0; c < cols; ++c)
                sum += (double)w[r * cols + c] * (double)x[i * cols + c];
            y[i * rows + r] = sum;
        }
    }
    free(w);
}

double test_nmse(const float *y, const double *reference, size_t count)
{
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < count; ++i) {
        double d = (double)y[i] - reference[i];
        error += d * d;
        norm += reference[i] * reference[i];
    }
    if (norm == 0.0) return error == 0.0 ? 0.0 : 1.0;
    return error / norm;
}

double test_nmse_float(const float *y, const float *reference, size_t count)
{
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < count; ++i) {
        double d = (double)y[i] - reference[i];
        error += d * d;
        norm += (double)reference[i] * reference[i];
    }
    if (norm == 0.0) return error == 0.0 ? 0.0 : 1.0;
    return error / norm;
}

int test_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

long test_find_device(lowbit_context *context, lowbit_api api, int required_in_ci)
{
    size_t count = 0;
    assert_int_equal(lowbit_device_count(context, &count), LOWBIT_OK);
    for (size_t i = 0; i < count; ++i) {
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, i, &info), LOWBIT_OK);
        if (info.api == api) return (long)i;
    }
    if (required_in_ci && test_in_ci()) {
        static const char *const names[] = {"CPU", "OpenCL (PoCL)", "Vulkan (lavapipe)"};
        fail_msg("CI=true and no %s device was found: it must run in CI", names[api]);
    }
    return -1;
}

lowbit_context *test_open_device(lowbit_api api, size_t *device) { return test_open_device_params(api, NULL, device); }

lowbit_context *test_open_device_params(lowbit_api api, const char *params, size_t *device)
{
    lowbit_context_options options = {.struct_size = sizeof options, .params = params};
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_OK);
    long index = test_find_device(context, api, 1);
    if (index < 0) {
        lowbit_context_destroy(context);
        return NULL;
    }
    *device = (size_t)index;
    return context;
}

void test_check_matmul(lowbit_context *context, size_t device, lowbit_format format, size_t rows, size_t cols,
                       const size_t *batches, size_t batch_count, lowbit_activation x_type,
                       const test_matmul_expect *expect)
{
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    size_t size = 0, n_max = 0;
    for (size_t b = 0; b < batch_count; ++b)
        n_max = batches[b] > n_max ? batches[b] : n_max;
    const int f16 = x_type == LOWBIT_ACTIVATION_F16;
    uint64_t seed = (uint64_t)format * 7919u + rows * 131u + cols;
    void *packed = test_make_weights(format, rows, cols, seed, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, format, rows, cols, packed, size, 0, &weights), LOWBIT_OK);
    float *x = malloc(n_max * cols * sizeof(float));
    uint16_t *halves = f16 ? malloc(n_max * cols * sizeof(uint16_t)) : NULL;
    float *y = malloc(n_max * rows * sizeof(float));
    double *reference = malloc(n_max * rows * sizeof(double));
    assert_true(x && y && reference && (halves || !f16));
    test_fill_random(x, n_max * cols, seed + 1, 1.0f);
    for (size_t i = 0; halves && i < n_max * cols; ++i) {
        halves[i] = lowbit_fp32_to_fp16(x[i]);
        x[i] = lowbit_fp16_to_fp32(halves[i]); /* the reference sees exactly the values the kernel reads */
    }
    test_reference_matmul(format, packed, size, rows, cols, x, n_max, reference);
    const char *name = lowbit_format_name(format);
    for (size_t b = 0; b < batch_count; ++b) {
        size_t n = batches[b];
        memset(y, 0xFF, n * rows * sizeof(float)); /* NaN: a row the kernel skips cannot pass */
        if (f16)
            assert_int_equal(lowbit_matmul_ex(context, weights, halves, LOWBIT_ACTIVATION_F16, y, n), LOWBIT_OK);
        else
            assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
        double error = test_nmse(y, reference, n * rows); /* the first n reference rows belong to n */
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        if (!(error <= TEST_NMSE_LIMIT))
            fail_msg("%s %s %zux%zu n=%zu%s: NMSE %.3e > %.0e (kernel %s)", info.id, name, rows, cols, n,
                     f16 ? " f16 x" : "", error, TEST_NMSE_LIMIT, run.kernel);
        if (expect->on_device < 0) {
            if (!run.fell_back) fail_msg("%s %s: expected a CPU fallback, %s ran it", info.id, name, run.device_id);
            assert_true(run.fallback_reason[0] != '\0');
            continue;
        }
        if (expect->on_device == 0) continue;
        if (run.fell_back)
            fail_msg("%s %s %zux%zu n=%zu fell back: %s", info.id, name, rows, cols, n, run.fallback_reason);
        assert_string_equal(run.device_id, info.id);
        assert_true(run.kernel[0] != '\0');
        /* With a prefill kernel named, fewer rows must run the GEMV. */
        const char *kernel = expect->prefill_kernel && n >= 9 ? expect->prefill_kernel : "gemv_";
        if (expect->prefill_kernel && strncmp(run.kernel, kernel, strlen(kernel)) != 0)
            fail_msg("%s %s %zux%zu n=%zu ran %s, not %s", info.id, name, rows, cols, n, run.kernel, kernel);
        if (f16 && (run.activations_widened || strstr(run.kernel, " x=f16") == NULL))
            fail_msg("%s %s %zux%zu n=%zu: f16 X widened %d, kernel %s", info.id, name, rows, cols, n,
                     run.activations_widened, run.kernel);
        if (!f16 && strstr(run.kernel, "x=f16")) fail_msg("%s %s: f32 X ran %s", info.id, name, run.kernel);
        if (expect->timed) {
            if (rows * cols >= 100000 && !(run.device_seconds > 0.0))
                fail_msg("%s %s %zux%zu n=%zu: device_seconds %g", info.id, name, rows, cols, n, run.device_seconds);
            assert_true(run.device_seconds <= run.wall_seconds || run.wall_seconds == 0.0);
        }
    }
    free(x), free(halves), free(y), free(reference), free(packed);
    lowbit_weights_destroy(weights);
}

int test_temp_dir_create(char *dir, size_t size, const char *name)
{
    const char *base = getenv("LOWBIT_TEST_BINARY_DIR");
    snprintf(dir, size, "%s/%s.XXXXXX", base ? base : "/tmp", name);
    return mkdtemp(dir) ? 0 : -1;
}

void test_temp_dir_remove(const char *dir)
{
    DIR *folder = opendir(dir);
    if (folder) {
        char path[1024];
        for (struct dirent *entry; (entry = readdir(folder));) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
            if (unlink(path) != 0) rmdir(path);
        }
        closedir(folder);
    }
    rmdir(dir);
}

int test_run_tool(const char *tool, const char *const *args, const char *const *env, const char *log_path,
                  int limit_seconds, char *output, size_t output_size)
{
    const char *binary_dir = getenv("LOWBIT_TEST_BINARY_DIR");
    assert_non_null(binary_dir);
    char program[1024];
    snprintf(program, sizeof program, "%s/bin/%s", binary_dir, tool);
    char *argv[40] = {program};
    size_t argc = 1;
    for (; args[argc - 1] && argc < 39; ++argc)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
        for (size_t i = 0; env && env[i]; ++i)
            putenv((char *)env[i]);
        execv(program, argv);
        _exit(127);
    }
    int status = 0;
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (long waited = 0; waitpid(child, &status, WNOHANG) == 0; ++waited) {
        if (waited > (long)limit_seconds * 50) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            fail_msg("%s did not finish within %d s (hung on a blocking open?)", tool, limit_seconds);
        }
        nanosleep(&pause, NULL);
    }
    FILE *log = fopen(log_path, "r");
    assert_non_null(log);
    size_t got = fread(output, 1, output_size - 1, log);
    output[got] = '\0';
    fclose(log);
    if (!WIFEXITED(status)) fail_msg("%s died of signal %d:\n%s", tool, WTERMSIG(status), output);
    return WEXITSTATUS(status);
}
