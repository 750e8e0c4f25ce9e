/* test_matmul_int.c — the CPU backend's integer-dot path: activations quantized per call are Q8_1's quants (known
 * answers, and byte for byte against the reference quantizer), non-finite blocks poison their rows, the forced
 * float and integer paths agree within the integer bound (NMSE ≤ 5e-4 against the f64 reference), and the dot=
 * parameter is validated and obeyed (options over LOWBIT_PARAMS). Also run under LOWBIT_CPU_ISA=portable
 * (cpu.cmake), where no integer kernel exists and dot=int must run the float path. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu_gemv.h"
#include "host/format/format_internal.h"
#include "shaders/common/lowbit_formats.h"
#include "test_support.h"

#define INT_NMSE_LIMIT 5e-4

static lowbit_context *context_with(const char *params)
{
    lowbit_context_options options = {
        .struct_size = sizeof options, .flags = LOWBIT_CONTEXT_NO_PLUGINS, .params = params};
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_OK);
    return context;
}

static void quantize(const float *x, size_t n, size_t cols, int8_t *q, float *d, float *s)
{
    lowbit_cpu_q8 out = {q, d, s, NULL, NULL};
    lowbit_cpu_quantize_q8(x, n, cols, &out);
}

static void test_known_answer(void **state)
{
    (void)state;
    float x[32] = {127.0f, -63.5f, 0.5f, -0.49f, 1.5f, 0.49999997f, -2.5f};
    int8_t q[32];
    float d, s;
    quantize(x, 1, 32, q, &d, &s);
    assert_true(d == 1.0f);
    const int8_t expected[7] = {127, -64, 1, 0, 2, 0, -3}; /* round half away from zero, and just below a half */
    for (int j = 0; j < 32; ++j)
        assert_int_equal(q[j], j < 7 ? expected[j] : 0);
    assert_true(s == 63.0f);
    memset(x, 0, sizeof x); /* an all-zero block: scale 0, quants 0 */
    quantize(x, 1, 32, q, &d, &s);
    assert_true(d == 0.0f && s == 0.0f);
    for (int j = 0; j < 32; ++j)
        assert_int_equal(q[j], 0);
}

/* Quants, f16(d) and f16(s) equal the reference Q8_1 block's bytes, over scales from 1e-3 to 1e4. */
static void test_blocks_match_q8_1(void **state)
{
    (void)state;
    enum { n = 3, cols = 256, blocks = cols / 32 };
    float x[n * cols];
    test_fill_random(x, n * cols, 15, 1.0f);
    for (size_t b = 0; b < n * blocks; ++b)
        for (int j = 0; j < 32; ++j)
            x[b * 32 + j] *= powf(10.0f, (float)(b % 8) - 3.0f);
    int8_t q[n * cols];
    float d[n * blocks], s[n * blocks];
    quantize(x, n, cols, q, d, s);
    unsigned char reference[n * blocks * 36];
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q8_1, x, n, cols, reference, sizeof reference, NULL, 1), LOWBIT_OK);
    for (size_t b = 0; b < n * blocks; ++b) {
        const unsigned char *block = reference + b * 36;
        assert_int_equal(lowbit_fp32_to_fp16(d[b]), block[0] | (block[1] << 8));
        assert_int_equal(lowbit_fp32_to_fp16(s[b]), block[2] | (block[3] << 8));
        assert_memory_equal(q + b * 32, block + 4, 32);
    }
}

/* The K-quant kernels' activations: the reference Q8_K blocks' quants and scale, each 32's exact sum (the
 * reference's 16-element bsums pairwise), and NaN for a non-finite block. */
static void test_superblocks_match_q8_k(void **state)
{
    (void)state;
    enum { n = 2, cols = 512, blocks = cols / 256 };
    float x[n * cols];
    test_fill_random(x, n * cols, 21, 3.0f);
    x[700] = NAN;
    int8_t q[n * cols];
    float d256[n * blocks];
    int32_t sum32[n * cols / 32];
    lowbit_cpu_q8 out = {q, NULL, NULL, d256, sum32};
    lowbit_cpu_quantize_q8_k(x, n, cols, &out);
    unsigned char reference[n * blocks * LOWBIT_Q8_K_BYTES];
    x[700] = 0.0f; /* the reference quantizer is not asked about NaN */
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q8_K, x, n, cols, reference, sizeof reference, NULL, 1), LOWBIT_OK);
    for (size_t b = 0; b < n * blocks; ++b) {
        const unsigned char *block = reference + b * LOWBIT_Q8_K_BYTES;
        if (b == 700 / 256) { /* the NaN block */
            assert_true(isnan(d256[b]));
            for (int j = 0; j < 256; ++j)
                assert_int_equal(q[256 * b + j], 0);
            continue;
        }
        float d;
        memcpy(&d, block + LOWBIT_Q8_K_D, sizeof d);
        assert_true(d256[b] == d);
        assert_memory_equal(q + 256 * b, block + LOWBIT_Q8_K_QS, 256);
        for (int k = 0; k < 8; ++k) {
            const int16_t lo =
                (int16_t)(block[LOWBIT_Q8_K_BSUMS + 4 * k] | (block[LOWBIT_Q8_K_BSUMS + 4 * k + 1] << 8));
            const int16_t hi =
                (int16_t)(block[LOWBIT_Q8_K_BSUMS + 4 * k + 2] | (block[LOWBIT_Q8_K_BSUMS + 4 * k + 3] << 8));
            assert_int_equal(sum32[8 * b + (size_t)k], lo + hi);
        }
    }
}

/* A NaN or Inf makes its block's scale NaN (quants 0), so every output of that row becomes NaN; other blocks are
 * untouched. */
static void test_nonfinite_blocks(void **state)
{
    (void)state;
    float x[96];
    test_fill_random(x, 96, 3, 1.0f);
    x[40] = NAN;
    x[70] = INFINITY;
    int8_t q[96];
    float d[3], s[3];
    quantize(x, 1, 96, q, d, s);
    assert_true(isfinite(d[0]) && d[0] > 0.0f);
    assert_true(isnan(d[1]) && isnan(s[1]) && isnan(d[2]) && isnan(s[2]));
    for (int j = 32; j < 96; ++j)
        assert_int_equal(q[j], 0);
}

/* Every stored format with integer weights (block size > 1); on a CPU with AVX2 each has an integer kernel. */
static size_t integer_formats(lowbit_format *out)
{
    size_t count = 0;
    for (int f = 0; f < LOWBIT_FORMAT_COUNT; ++f) {
        const lowbit_format_traits *traits = lowbit_format_get(f);
        if (traits && !traits->is_activation_only && traits->can_quantize && traits->block_size > 1)
            out[count++] = (lowbit_format)f;
    }
    return count;
}

/* Runs W·X in `context` on the CPU; returns the run record and fills y. */
static lowbit_run_info run_cpu(lowbit_context *context, lowbit_format format, const void *w, size_t size, size_t rows,
                               size_t cols, const float *x, size_t n, float *y)
{
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, 0, format, rows, cols, w, size, 0, &weights), LOWBIT_OK);
    assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    lowbit_weights_destroy(weights);
    return run;
}

/* dot=int and dot=float against the f64 reference and each other; the run record says which path ran. */
static void test_forced_paths_agree(void **state)
{
    (void)state;
    lowbit_context *as_int = context_with("dot=int"), *as_float = context_with("dot=float");
    const size_t rows = 37, cols = 768, ns[] = {1, 3, 8}; /* cols: a multiple of every block size (256, 128, 64) */
    float *x = malloc(8 * cols * sizeof(float)), *yi = malloc(8 * rows * sizeof(float)),
          *yf = malloc(8 * rows * sizeof(float));
    double *reference = malloc(8 * rows * sizeof(double)), *from_float = malloc(8 * rows * sizeof(double));
    test_fill_random(x, 8 * cols, 7, 1.0f);
    lowbit_format formats[LOWBIT_FORMAT_COUNT];
    const size_t format_count = integer_formats(formats);
    assert_true(format_count >= 25);
    const int avx2 = lowbit_cpu_gemv_int_available(LOWBIT_FORMAT_Q4_0);
    for (size_t f = 0; f < format_count; ++f) {
        const lowbit_format format = formats[f];
        assert_int_equal(lowbit_cpu_gemv_int_available(format), avx2); /* all or none */
        size_t size = 0;
        void *w = test_make_weights(format, rows, cols, 100 + f, &size);
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; ++k) {
            const size_t n = ns[k];
            lowbit_run_info ri = run_cpu(as_int, format, w, size, rows, cols, x, n, yi);
            lowbit_run_info rf = run_cpu(as_float, format, w, size, rows, cols, x, n, yf);
            test_reference_matmul(format, w, size, rows, cols, x, n, reference);
            const int integer = lowbit_cpu_gemv_int_available(format);
            assert_int_equal(ri.activations_quantized, integer);
            assert_int_equal(strstr(ri.kernel, "x=q8") != NULL, integer);
            assert_int_equal(rf.activations_quantized, 0);
            assert_null(strstr(rf.kernel, "x=q8"));
            double error = test_nmse(yi, reference, n * rows);
            if (!(error <= INT_NMSE_LIMIT))
                fail_msg("%s n=%zu dot=int: NMSE %.3e (%s)", lowbit_format_name(format), n, error, ri.kernel);
            assert_true(test_nmse(yf, reference, n * rows) <= TEST_NMSE_LIMIT);
            for (size_t i = 0; i < n * rows; ++i)
                from_float[i] = yf[i];
            assert_true(test_nmse(yi, from_float, n * rows) <= INT_NMSE_LIMIT);
        }
        free(w);
    }
    free(x), free(yi), free(yf), free(reference), free(from_float);
    lowbit_context_destroy(as_int);
    lowbit_context_destroy(as_float);
}

static void expect_refused(const char *params, const char *words)
{
    lowbit_context_options options = {
        .struct_size = sizeof options, .flags = LOWBIT_CONTEXT_NO_PLUGINS, .params = params};
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_null(context);
    if (!strstr(lowbit_last_error(), words))
        fail_msg("'%s': message '%s' lacks '%s'", params, lowbit_last_error(), words);
}

/* Did a Q4_0 GEMV in this context quantize its activations? */
static int quantizes(lowbit_context *context)
{
    const size_t rows = 8, cols = 64;
    size_t size = 0;
    void *w = test_make_weights(LOWBIT_FORMAT_Q4_0, rows, cols, 1, &size);
    float x[64], y[8];
    test_fill_random(x, cols, 2, 1.0f);
    lowbit_run_info run = run_cpu(context, LOWBIT_FORMAT_Q4_0, w, size, rows, cols, x, 1, y);
    free(w);
    return run.activations_quantized;
}

static char logged[512];

static void keep_log(lowbit_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    if (level == LOWBIT_LOG_WARN) snprintf(logged, sizeof logged, "%s", message);
}

/* Bad strings fail context creation with the key and value named; a bad LOWBIT_PARAMS is ignored (logged); the
 * options' string wins over the variable. */
static void test_params_validated_and_obeyed(void **state)
{
    (void)state;
    expect_refused("dot=fast", "dot='fast'");
    expect_refused("speed=1", "unknown parameter 'speed'");
    expect_refused("dot", "not key=value");
    expect_refused("dot=int,,", "empty");
    const int integer = lowbit_cpu_gemv_int_available(LOWBIT_FORMAT_Q4_0);
    lowbit_log_set_callback(keep_log, NULL, LOWBIT_LOG_WARN);
    setenv("LOWBIT_PARAMS", "dot=bogus", 1);
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(NULL, &context), LOWBIT_OK); /* ignored: the default (auto) runs */
    assert_non_null(strstr(logged, "LOWBIT_PARAMS ignored: parameter dot='bogus'"));
    lowbit_context_destroy(context);
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
    setenv("LOWBIT_PARAMS", "dot=int", 1);
    assert_int_equal(lowbit_context_create(NULL, &context), LOWBIT_OK);
    assert_int_equal(quantizes(context), integer);
    lowbit_context_destroy(context);
    context = context_with("dot=float"); /* over LOWBIT_PARAMS=dot=int */
    assert_int_equal(quantizes(context), 0);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_PARAMS");
    /* a 0.2 caller's options end before params: the member is not read (LOWBIT_PARAMS applies) */
    lowbit_context_options old = {.struct_size = offsetof(lowbit_context_options, params),
                                  .flags = LOWBIT_CONTEXT_NO_PLUGINS,
                                  .params = "dot=bogus"};
    setenv("LOWBIT_PARAMS", "dot=float", 1);
    assert_int_equal(lowbit_context_create(&old, &context), LOWBIT_OK);
    assert_int_equal(quantizes(context), 0);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_PARAMS");
    context = context_with(""); /* empty: the default, auto, which picks the integer path for Q4_0 GEMV */
    assert_int_equal(quantizes(context), integer);
    lowbit_context_destroy(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),       cmocka_unit_test(test_blocks_match_q8_1),
        cmocka_unit_test(test_nonfinite_blocks),   cmocka_unit_test(test_superblocks_match_q8_k),
        cmocka_unit_test(test_forced_paths_agree), cmocka_unit_test(test_params_validated_and_obeyed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
