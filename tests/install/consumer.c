/* consumer.c — a program built against an installed lowbit (through pkg-config, or find_package): it must
 * find the plugins of that installation on its own, list the devices, and run a Q8_0 matmul on each.
 * usage: consumer PLUGIN_DIR [BACKEND...]  (the backends whose plugins must load from PLUGIN_DIR) */
#define _XOPEN_SOURCE 700 /* realpath */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lowbit/lowbit.h>

#define MAX_MESSAGES 64

static char messages[MAX_MESSAGES][1024];
static size_t message_count;

static void record(lowbit_log_level level, const char *message, void *user_data)
{
    (void)level;
    (void)user_data;
    if (message_count < MAX_MESSAGES) snprintf(messages[message_count++], sizeof messages[0], "%s", message);
}

static int fail(const char *what)
{
    fprintf(stderr, "consumer: %s (last error: %s)\n", what, lowbit_last_error());
    for (size_t i = 0; i < message_count; ++i)
        fprintf(stderr, "  log: %s\n", messages[i]);
    return 1;
}

/* 1 when the loader logged that `backend` came from a file inside `plugin_dir` (both paths resolved, so
 * "lib/pkgconfig/../../lib" and symbolic links compare equal). */
static int loaded_from(const char *backend, const char *plugin_dir)
{
    char wanted[4096], prefix[128];
    if (!realpath(plugin_dir, wanted)) return 0;
    snprintf(prefix, sizeof prefix, "loaded %s backend from ", backend);
    for (size_t i = 0; i < message_count; ++i) {
        if (strncmp(messages[i], prefix, strlen(prefix)) != 0) continue;
        char dir[1024], resolved[4096];
        snprintf(dir, sizeof dir, "%s", messages[i] + strlen(prefix));
        char *slash = strrchr(dir, '/');
        if (!slash) continue;
        *slash = '\0';
        if (realpath(dir, resolved) && strcmp(resolved, wanted) == 0) return 1;
        fprintf(stderr, "consumer: %s plugin loaded from %s, not from %s\n", backend, dir, wanted);
    }
    return 0;
}

static float next_value(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / 8388608.0f - 1.0f; /* [-1, 1) */
}

/* One Q8_0 matmul on `device`, checked against the dequantized weights in f64; it must not fall back. */
static int check_matmul(lowbit_context *context, size_t device, const char *id)
{
    enum { ROWS = 64, COLS = 256, N = 2 };
    static float values[ROWS * COLS], dequantized[ROWS * COLS], x[N * COLS], y[N * ROWS];
    static unsigned char packed[ROWS * (COLS / 32) * 34];
    unsigned state = 12345u;
    for (size_t i = 0; i < ROWS * COLS; ++i)
        values[i] = next_value(&state);
    for (size_t i = 0; i < N * COLS; ++i)
        x[i] = next_value(&state);
    size_t size = ROWS * lowbit_format_row_size(LOWBIT_FORMAT_Q8_0, COLS);
    if (size != sizeof packed) return fail("unexpected Q8_0 row size");
    if (lowbit_quantize(LOWBIT_FORMAT_Q8_0, values, ROWS, COLS, packed, size, NULL, 1) != LOWBIT_OK ||
        lowbit_dequantize(LOWBIT_FORMAT_Q8_0, packed, size, ROWS, COLS, dequantized) != LOWBIT_OK)
        return fail("Q8_0 quantize/dequantize failed");
    lowbit_weights *weights = NULL;
    if (lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q8_0, ROWS, COLS, packed, size, LOWBIT_UPLOAD_NO_FALLBACK,
                              &weights) != LOWBIT_OK)
        return fail("weights upload failed");
    lowbit_status status = lowbit_matmul(context, weights, x, y, N);
    lowbit_run_info run = {.struct_size = sizeof run};
    lowbit_status run_status = lowbit_last_run(context, &run);
    lowbit_weights_destroy(weights);
    if (status != LOWBIT_OK || run_status != LOWBIT_OK) return fail("matmul failed");
    if (run.fell_back || strcmp(run.device_id, id) != 0) {
        fprintf(stderr, "consumer: %s: ran on %s (%s)\n", id, run.device_id, run.fallback_reason);
        return fail("matmul did not run on the requested device");
    }
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < N; ++i) {
        for (size_t r = 0; r < ROWS; ++r) {
            double sum = 0.0;
            for (size_t c = 0; c < COLS; ++c)
                sum += (double)dequantized[r * COLS + c] * (double)x[i * COLS + c];
            double d = (double)y[i * ROWS + r] - sum;
            error += d * d;
            norm += sum * sum;
        }
    }
    /* the default matmul path (dot=auto) may quantize the activations: its bound is 5e-4, the float path's 1e-6 */
    const double bound = run.activations_quantized ? 5e-4 : 1e-6;
    if (!(norm > 0.0 && error / norm <= bound)) {
        fprintf(stderr, "consumer: %s: NMSE %.3e\n", id, norm > 0.0 ? error / norm : 1.0);
        return fail("matmul result is wrong");
    }
    printf("  %s: Q8_0 %dx%d n=%d ok, NMSE %.1e (kernel %s)\n", id, ROWS, COLS, N, error / norm, run.kernel);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: consumer PLUGIN_DIR [BACKEND...]\n");
        return 2;
    }
    const char *ci = getenv("CI");
    const int in_ci = ci && strcmp(ci, "true") == 0;
    printf("lowbit %s\n", lowbit_version_string());
    lowbit_log_set_callback(record, NULL, LOWBIT_LOG_INFO);
    lowbit_context *context = NULL;
    if (lowbit_context_create(NULL, &context) != LOWBIT_OK) return fail("context creation failed");
    for (int i = 2; i < argc; ++i) {
        if (!loaded_from(argv[i], argv[1])) {
            lowbit_context_destroy(context);
            fprintf(stderr, "consumer: the %s plugin was not loaded from %s\n", argv[i], argv[1]);
            return fail("plugin not found in the installed layout");
        }
    }
    size_t count = 0;
    if (lowbit_device_count(context, &count) != LOWBIT_OK) return fail("device count failed");
    int seen[3] = {0, 0, 0}, failed = 0;
    for (size_t device = 0; device < count && !failed; ++device) {
        lowbit_device_info info = {.struct_size = sizeof info};
        if (lowbit_device_get_info(context, device, &info) != LOWBIT_OK) return fail("device info failed");
        printf("device %s: %s\n", info.id, info.name);
        if ((unsigned)info.api < 3) seen[info.api] = 1;
        failed = check_matmul(context, device, info.id);
    }
    lowbit_context_destroy(context);
    if (failed) return 1;
    if (!seen[LOWBIT_API_CPU]) return fail("no CPU device");
    /* CI has PoCL and lavapipe: there a plugin without devices is a failure, elsewhere a note */
    static const char *const names[] = {"CPU", "OpenCL (PoCL)", "Vulkan (lavapipe)"};
    for (int api = LOWBIT_API_OPENCL; api <= LOWBIT_API_VULKAN; ++api) {
        if (seen[api]) continue;
        if (in_ci) {
            fprintf(stderr, "consumer: CI=true and no %s device was found\n", names[api]);
            return fail("a backend that must run in CI reported no device");
        }
        printf("note: no %s device\n", names[api]);
    }
    printf("consumer: ok\n");
    return 0;
}
