/* lowbit-demo — the main job of `make demo`: quantizes a deterministic synthetic matrix to Q4_0 and
 * Q8_0, runs GEMV (n = 1) on every device, checks each result against an f64 CPU reference and
 * prints one table: device, format, NMSE, time per call, effective GB/s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "tools/common/tool_util.h"

#define DEMO_NMSE_LIMIT 1e-6

typedef struct demo_options {
    size_t rows, cols, repeat, n;
    const char *device; /* NULL: every device */
} demo_options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lowbit-demo [--rows N] [--cols N] [--n N] [--repeat N] [--device ID]\n"
            "  Quantizes a synthetic rows x cols matrix (default 4096 x 4096) to Q4_0 and Q8_0, runs\n"
            "  Y = X * W^T with n activation rows (default 1) on every device (or only --device, e.g.\n"
            "  opencl:0), checks NMSE against an f64 reference (limit %.0e) and reports time and GB/s.\n"
            "  --repeat N  timed calls per device and format after one warm-up (default 10; the median is shown)\n",
            DEMO_NMSE_LIMIT);
}

static int parse_options(int argc, char **argv, demo_options *options)
{
    *options = (demo_options){4096, 4096, 10, 1, NULL};
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        size_t *target = NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(arg, "--rows") == 0) target = &options->rows;
        else if (strcmp(arg, "--cols") == 0) target = &options->cols;
        else if (strcmp(arg, "--repeat") == 0) target = &options->repeat;
        else if (strcmp(arg, "--n") == 0) target = &options->n;
        else if (strcmp(arg, "--device") == 0 && i + 1 < argc) {
            options->device = argv[++i];
            continue;
        } else {
            fprintf(stderr, "lowbit-demo: unknown or incomplete argument '%s'\n", arg);
            return -1;
        }
        if (i + 1 >= argc || tool_parse_size(argv[i + 1], target) != 0) {
            fprintf(stderr, "lowbit-demo: %s needs a positive integer\n", arg);
            return -1;
        }
        ++i;
    }
    if (options->cols % 32 != 0) {
        fprintf(stderr, "lowbit-demo: --cols must be a multiple of 32 (the Q4_0/Q8_0 block), got %zu\n", options->cols);
        return -1;
    }
    if (options->rows > 65536 || options->cols > 65536 || options->n > 512 || options->repeat > 100000) {
        fprintf(stderr, "lowbit-demo: sizes are capped at 65536 rows/cols, n 512, repeat 100000\n");
        return -1;
    }
    return 0;
}

/* A smooth signal plus deterministic noise, like real weight rows: x = 0.1 + 2cos(i) scaled, plus jitter. */
static void make_matrix(float *values, size_t count)
{
    uint64_t state = 0x1234567u;
    for (size_t i = 0; i < count; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        float noise = (float)((double)(state >> 40) / (double)(1ull << 24)) - 0.5f;
        values[i] = 0.02f * (0.1f + 2.0f * cosf((float)i * 0.37f)) + 0.05f * noise;
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct demo_format {
    lowbit_format format;
    void *packed;
    size_t size;
    double *reference;
} demo_format;

/* Runs one device × format row of the table; returns 1 when it failed the check. */
static int run_case(lowbit_context *context, size_t device, const lowbit_device_info *info, const demo_format *format,
                    const demo_options *o, const float *x, float *y, double *times)
{
    lowbit_weights *weights = NULL;
    char label[64];
    snprintf(label, sizeof label, "%s", info->id);
    if (lowbit_weights_upload(context, device, format->format, o->rows, o->cols, format->packed, format->size, 0,
                              &weights) != LOWBIT_OK) {
        printf("%-10s %-6s  upload failed: %s\n", label, lowbit_format_name(format->format), lowbit_last_error());
        return 1;
    }
    int failed = 0;
    if (lowbit_matmul(context, weights, x, y, o->n) != LOWBIT_OK) { /* warm-up: builds kernels */
        printf("%-10s %-6s  matmul failed: %s\n", label, lowbit_format_name(format->format), lowbit_last_error());
        lowbit_weights_destroy(weights);
        return 1;
    }
    for (size_t i = 0; i < o->repeat; ++i) {
        double start = tool_now_seconds();
        if (lowbit_matmul(context, weights, x, y, o->n) != LOWBIT_OK) {
            printf("%-10s %-6s  matmul failed: %s\n", label, lowbit_format_name(format->format), lowbit_last_error());
            failed = 1;
            break;
        }
        times[i] = tool_now_seconds() - start;
    }
    if (!failed) {
        lowbit_run_info run = {.struct_size = sizeof run};
        lowbit_last_run(context, &run);
        qsort(times, o->repeat, sizeof *times, compare_doubles);
        double median = times[o->repeat / 2];
        double error = tool_nmse(y, format->reference, o->n * o->rows);
        double bytes = (double)format->size + (double)(o->n * o->cols * sizeof(float)) +
                       (double)(o->n * o->rows * sizeof(float));
        failed = !(error <= DEMO_NMSE_LIMIT);
        printf("%-10s %-6s %10.2e %11.3f %9.2f  %-4s %s%s%s\n", label, lowbit_format_name(format->format), error,
               median * 1e3, bytes / median / 1e9, failed ? "FAIL" : "ok", run.kernel,
               run.fell_back ? "  [CPU fallback: " : "", run.fell_back ? run.fallback_reason : "");
        if (run.fell_back) printf("%*s]\n", 0, "");
    }
    lowbit_weights_destroy(weights);
    return failed;
}

int main(int argc, char **argv)
{
    demo_options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    lowbit_context *context = NULL;
    size_t device_count = 0;
    if (lowbit_context_create(NULL, &context) != LOWBIT_OK || lowbit_device_count(context, &device_count) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-demo: %s\n", lowbit_last_error());
        return 1;
    }
    size_t only_device = 0;
    if (o.device && lowbit_device_find(context, o.device, &only_device) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-demo: %s\n", lowbit_last_error());
        lowbit_context_destroy(context);
        return 2;
    }

    float *matrix = malloc(o.rows * o.cols * sizeof(float));
    float *dequantized = malloc(o.rows * o.cols * sizeof(float));
    float *x = malloc(o.n * o.cols * sizeof(float));
    float *y = malloc(o.n * o.rows * sizeof(float));
    double *times = malloc(o.repeat * sizeof(double));
    demo_format formats[2] = {{LOWBIT_FORMAT_Q4_0, NULL, 0, NULL}, {LOWBIT_FORMAT_Q8_0, NULL, 0, NULL}};
    if (!matrix || !dequantized || !x || !y || !times) {
        fprintf(stderr, "lowbit-demo: out of memory\n");
        return 1;
    }
    fprintf(stderr, "lowbit-demo: %zu x %zu synthetic matrix, n = %zu, %zu device%s\n", o.rows, o.cols, o.n,
            device_count, device_count == 1 ? "" : "s");
    make_matrix(matrix, o.rows * o.cols);
    for (size_t i = 0; i < o.n * o.cols; ++i) x[i] = sinf((float)i * 0.01f) + 0.25f;
    for (int f = 0; f < 2; ++f) {
        demo_format *df = &formats[f];
        df->size = o.rows * lowbit_format_row_size(df->format, o.cols);
        df->packed = malloc(df->size);
        df->reference = malloc(o.n * o.rows * sizeof(double));
        if (!df->packed || !df->reference) {
            fprintf(stderr, "lowbit-demo: out of memory\n");
            return 1;
        }
        fprintf(stderr, "lowbit-demo: quantizing to %s and computing the f64 reference...\n",
                lowbit_format_name(df->format));
        if (lowbit_quantize(df->format, matrix, o.rows, o.cols, df->packed, df->size, NULL, 0) != LOWBIT_OK ||
            lowbit_dequantize(df->format, df->packed, df->size, o.rows, o.cols, dequantized) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-demo: %s\n", lowbit_last_error());
            return 1;
        }
        tool_reference_matmul(dequantized, o.rows, o.cols, x, o.n, df->reference);
    }

    printf("\n%-10s %-6s %10s %11s %9s  %-4s %s\n", "device", "format", "NMSE", "ms/call", "GB/s", "ok?", "kernel");
    int failures = 0;
    for (size_t d = 0; d < device_count; ++d) {
        if (o.device && d != only_device) continue;
        lowbit_device_info info = {.struct_size = sizeof info};
        lowbit_device_get_info(context, d, &info);
        for (int f = 0; f < 2; ++f) failures += run_case(context, d, &info, &formats[f], &o, x, y, times);
    }
    printf("\ndevices:\n");
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_device_info info = {.struct_size = sizeof info};
        lowbit_device_get_info(context, d, &info);
        printf("  %-10s %s (%s, driver %s)\n", info.id, info.name, info.vendor, info.driver_version);
    }
    printf("\nGB/s counts packed weight bytes + activations + outputs once per call; NMSE limit %.0e.\n",
           DEMO_NMSE_LIMIT);
    printf("%s\n", failures ? "lowbit-demo: SOME CASES FAILED" : "lowbit-demo: all cases within tolerance");
    for (int f = 0; f < 2; ++f) free(formats[f].packed), free(formats[f].reference);
    free(matrix), free(dequantized), free(x), free(y), free(times);
    lowbit_context_destroy(context);
    return failures ? 1 : 0;
}
