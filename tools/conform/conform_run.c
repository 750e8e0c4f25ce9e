/* conform_run.c — runs one conformance case against the f64 reference over the same dequantized
 * weights, and the comparison rule (finite outputs by NMSE, non-finite ones by position). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"
#include "tools/common/tool_util.h"

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill(float *values, size_t count, uint64_t *state)
{
    for (size_t i = 0; i < count; ++i)
        values[i] = (float)((double)(next_random(state) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

void conform_compare(const float *y, const double *reference, size_t count, double tolerance, conform_result *result)
{
    double error = 0.0, norm = 0.0, worst = -1.0;
    size_t worst_index = 0, misplaced = 0, first_misplaced = 0;
    for (size_t i = 0; i < count; ++i) {
        /* Non-finite where the reference is, and only there. NaN must stay NaN; an Inf may come back as
         * the same Inf or as NaN, because kernels that factor a block's zero point out of the sum
         * (Σq·x − z·Σx) legitimately turn Inf − Inf into NaN. A finite value or the wrong Inf fails. */
        int ref_finite = isfinite(reference[i]), y_finite = isfinite(y[i]);
        int wrong_nan = isnan(reference[i]) && !isnan(y[i]);
        int wrong_inf = isinf(reference[i]) && isinf(y[i]) && (reference[i] > 0) != (y[i] > 0);
        if (ref_finite != y_finite || wrong_nan || wrong_inf) {
            if (misplaced++ == 0) first_misplaced = i;
            continue;
        }
        if (!ref_finite) continue;
        double d = (double)y[i] - reference[i];
        error += d * d;
        norm += reference[i] * reference[i];
        if (fabs(d) > worst) worst = fabs(d), worst_index = i;
    }
    result->nmse = norm > 0.0 ? error / norm : error;
    result->max_abs_error = worst < 0.0 ? 0.0 : worst;
    result->worst_index = worst_index;
    result->tolerance = tolerance;
    if (misplaced) {
        result->status = CONFORM_FAIL;
        result->worst_index = first_misplaced;
        snprintf(result->message, sizeof result->message,
                 "%zu outputs disagree with the reference on NaN/Inf; first at index %zu: got %g, expected %g",
                 misplaced, first_misplaced, (double)y[first_misplaced], reference[first_misplaced]);
    } else if (!(result->nmse <= tolerance)) {
        result->status = CONFORM_FAIL;
        snprintf(result->message, sizeof result->message,
                 "NMSE %.3e > %.0e; max |error| %.3e at index %zu (got %.9g, expected %.9g)", result->nmse, tolerance,
                 result->max_abs_error, worst_index, (double)y[worst_index], reference[worst_index]);
    } else {
        result->status = CONFORM_PASS;
        result->message[0] = '\0';
    }
}

lowbit_status conform_contexts_split(conform_contexts *contexts)
{
    if (contexts->split) return LOWBIT_OK;
    setenv("LOWBIT_MAX_ALLOC", CONFORM_SPLIT_MAX_ALLOC, 1);
    lowbit_status status = lowbit_context_create(contexts->options, &contexts->split);
    size_t count = 0;
    if (status == LOWBIT_OK) status = lowbit_device_count(contexts->split, &count); /* probe under the cap */
    unsetenv("LOWBIT_MAX_ALLOC");
    return status;
}

lowbit_context_options conform_contexts_options(const char *const *plugins, size_t plugin_count)
{
    lowbit_context_options options = {.struct_size = sizeof options,
                                      .plugin_files = plugin_count ? plugins : NULL,
                                      .plugin_file_count = plugin_count,
                                      .params = "dot=float"};
    return options;
}

lowbit_status conform_contexts_integer(conform_contexts *contexts)
{
    if (contexts->integer) return LOWBIT_OK;
    lowbit_context_options options = conform_contexts_options(NULL, 0);
    if (contexts->options) options = *contexts->options;
    options.params = "dot=int";
    return lowbit_context_create(&options, &contexts->integer);
}

void conform_contexts_release(conform_contexts *contexts)
{
    lowbit_context_destroy(contexts->split);
    lowbit_context_destroy(contexts->integer);
    contexts->split = NULL;
    contexts->integer = NULL;
}

void conform_case_run(conform_contexts *contexts, const conform_case *c, conform_result *result)
{
    memset(result, 0, sizeof *result);
    result->tolerance = conform_tolerance(c->kernel, c->activation);
    lowbit_context *context = contexts->main;
    if (conform_kernel_is_int(c->kernel)) {
        if (conform_contexts_integer(contexts) != LOWBIT_OK) {
            result->status = CONFORM_FAIL;
            snprintf(result->message, sizeof result->message, "cannot make the dot=int context: %s",
                     lowbit_last_error());
            return;
        }
        context = contexts->integer;
    }
    if (c->variant == CONFORM_VARIANT_SPLIT) {
        if (conform_contexts_split(contexts) != LOWBIT_OK) {
            result->status = CONFORM_FAIL;
            snprintf(result->message, sizeof result->message, "cannot make the capped context: %s",
                     lowbit_last_error());
            return;
        }
        context = contexts->split;
        setenv("LOWBIT_MAX_ALLOC", CONFORM_SPLIT_MAX_ALLOC, 1); /* for backends that read it at upload */
    }
    double start = tool_now_seconds();
    size_t row_bytes = lowbit_format_row_size(c->format, c->cols), size = c->rows * row_bytes;
    float *values = malloc(c->rows * c->cols * sizeof(float));
    float *dequantized = malloc(c->rows * c->cols * sizeof(float));
    unsigned char *storage = malloc(size + 1);
    float *x = malloc(c->n * c->cols * sizeof(float));
    float *y = malloc(c->n * c->rows * sizeof(float));
    double *reference = malloc(c->n * c->rows * sizeof(double));
    uint16_t *x16 = NULL; /* the f16 activations, for f16 cases */
    lowbit_weights *weights = NULL;
    if (!values || !dequantized || !storage || !x || !y || !reference || row_bytes == 0) {
        result->status = CONFORM_FAIL;
        snprintf(result->message, sizeof result->message, "out of host memory (or bad shape)");
        goto done;
    }
    uint64_t state = c->seed;
    fill(values, c->rows * c->cols, &state);
    fill(x, c->n * c->cols, &state);
    if (c->activation == LOWBIT_ACTIVATION_F16) { /* round X to f16: the reference sees what the kernel reads */
        x16 = malloc(c->n * c->cols * sizeof *x16);
        if (!x16) {
            result->status = CONFORM_FAIL;
            snprintf(result->message, sizeof result->message, "out of host memory");
            goto done;
        }
        for (size_t i = 0; i < c->n * c->cols; ++i)
            x[i] = lowbit_fp16_to_fp32(x16[i] = lowbit_fp32_to_fp16(x[i]));
    }
    if (c->variant == CONFORM_VARIANT_NAN) x[(c->n - 1) * c->cols + c->cols / 2] = NAN;
    if (c->variant == CONFORM_VARIANT_INF) x[c->cols / 3] = INFINITY;
    if (c->variant == CONFORM_VARIANT_OUTLIER) x[(c->n - 1) * c->cols + c->cols / 2 + 1] = 1000.0f;
    if (c->variant == CONFORM_VARIANT_ZERO_BLOCK) memset(x + c->cols - 32, 0, 32 * sizeof *x);
    /* the unaligned variant reads its weights from one byte into a larger buffer */
    unsigned char *packed = storage + (c->variant == CONFORM_VARIANT_UNALIGNED ? 1 : 0);
    if (lowbit_quantize(c->format, values, c->rows, c->cols, packed, size, NULL, 1) != LOWBIT_OK ||
        lowbit_dequantize(c->format, packed, size, c->rows, c->cols, dequantized) != LOWBIT_OK) {
        result->status = CONFORM_FAIL;
        snprintf(result->message, sizeof result->message, "CPU reference failed: %s", lowbit_last_error());
        goto done;
    }
    tool_reference_matmul(dequantized, c->rows, c->cols, x, c->n, reference);
    lowbit_status status =
        lowbit_weights_upload(context, c->device, c->format, c->rows, c->cols, packed, size, 0, &weights);
    if (status == LOWBIT_OK)
        status = x16 ? lowbit_matmul_ex(context, weights, x16, LOWBIT_ACTIVATION_F16, y, c->n)
                     : lowbit_matmul(context, weights, x, y, c->n);
    if (status != LOWBIT_OK) {
        result->status = CONFORM_FAIL;
        snprintf(result->message, sizeof result->message, "%s: %s", lowbit_status_string(status), lowbit_last_error());
        goto done;
    }
    lowbit_run_info run = {.struct_size = sizeof run};
    lowbit_last_run(context, &run);
    snprintf(result->kernel, sizeof result->kernel, "%s", run.kernel);
    conform_compare(y, reference, c->n * c->rows, result->tolerance, result);
    if (result->status == CONFORM_PASS && run.fell_back) {
        result->status = CONFORM_FALLBACK;
        snprintf(result->message, sizeof result->message, "ran on the CPU backend: %s", run.fallback_reason);
    } else if (result->status == CONFORM_PASS && run.activations_quantized && !conform_kernel_is_int(c->kernel)) {
        result->status = CONFORM_FAIL;
        snprintf(result->message, sizeof result->message, "a float-kind case ran an integer-dot kernel (dot=float)");
    } else if (result->status == CONFORM_PASS && conform_kernel_is_int(c->kernel) && !run.activations_quantized) {
        result->status = CONFORM_NOT_SUPPORTED;
        snprintf(result->message, sizeof result->message,
                 "no integer-dot kernel for this format and batch here: the float path ran (result correct)");
    } else if (result->status == CONFORM_PASS && run.activations_widened) {
        result->status = CONFORM_NOT_SUPPORTED;
        snprintf(result->message, sizeof result->message,
                 "no f16-activation kernel on this backend: X was widened to f32 on the host (result correct)");
    }
done:
    lowbit_weights_destroy(weights);
    if (c->variant == CONFORM_VARIANT_SPLIT) unsetenv("LOWBIT_MAX_ALLOC");
    free(values), free(dequantized), free(storage), free(x), free(y), free(reference), free(x16);
    result->seconds = tool_now_seconds() - start;
}
