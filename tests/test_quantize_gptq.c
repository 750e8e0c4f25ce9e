/* test_quantize_gptq.c — GPTQ over the block formats: the per-element view (values and code packing) of
 * every column-rounded format against the library's own dequantizer, the column loop against a direct f64
 * implementation of the same update, GPTQ against nearest rounding on the layer-output error for every
 * quantizable weight format, thread-count independence, and the Hessian file reader on good and bad files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lowbit/lowbit_io.h"
#include "test_support.h"
#include "tools/quantize/quantize_awq.h"
#include "tools/quantize/quantize_gptq.h"
#include "tools/quantize/quantize_hessian.h"

static const lowbit_format column_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_1,   LOWBIT_FORMAT_Q5_0,
                                               LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_Q8_0,   LOWBIT_FORMAT_Q2_K,
                                               LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K,   LOWBIT_FORMAT_Q5_K,
                                               LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_IQ4_XS};
#define N_COLUMN_FORMATS (sizeof column_formats / sizeof column_formats[0])

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void) /* [0, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = uniform(), v = uniform();
    if (u < 1e-12) u = 1e-12;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* A layer's calibration Hessian E[x·xᵀ] from n correlated activations (mixed Gaussians with a few loud
 * channels, like real layer inputs). */
static float *make_hessian(size_t cols, size_t n)
{
    double *mix = malloc(cols * cols * sizeof *mix), *x = malloc(cols * sizeof *x), *h = calloc(cols * cols, sizeof *h);
    float *out = malloc(cols * cols * sizeof *out);
    assert_non_null(mix), assert_non_null(x), assert_non_null(h), assert_non_null(out);
    for (size_t i = 0; i < cols * cols; ++i)
        mix[i] = gauss() * (i % (cols + 1) == 0 ? 1.0 : 0.3 / sqrt((double)cols));
    for (size_t t = 0; t < n; ++t) {
        for (size_t i = 0; i < cols; ++i) {
            double s = 0.0;
            for (size_t k = 0; k < cols; ++k)
                s += mix[i * cols + k] * gauss();
            x[i] = s * (i % 17 == 3 ? 4.0 : 1.0);
        }
        for (size_t i = 0; i < cols; ++i)
            for (size_t j = 0; j < cols; ++j)
                h[i * cols + j] += x[i] * x[j];
    }
    for (size_t i = 0; i < cols * cols; ++i)
        out[i] = (float)(h[i] / (double)n);
    free(mix), free(x), free(h);
    return out;
}

static float *make_weights(size_t rows, size_t cols)
{
    float *w = malloc(rows * cols * sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < rows * cols; ++i)
        w[i] = (float)(0.02 * gauss() + (i % 29 == 0 ? 0.05 : 0.0));
    return w;
}

/* tr((W − Q)·H·(W − Q)ᵀ): the expected squared layer-output error */
static double output_error(const float *w, const float *q, const float *h, size_t rows, size_t cols)
{
    double total = 0.0;
    double *d = malloc(cols * sizeof *d);
    assert_non_null(d);
    for (size_t r = 0; r < rows; ++r) {
        for (size_t i = 0; i < cols; ++i)
            d[i] = (double)w[r * cols + i] - (double)q[r * cols + i];
        for (size_t i = 0; i < cols; ++i) {
            double s = 0.0;
            for (size_t j = 0; j < cols; ++j)
                s += (double)h[i * cols + j] * d[j];
            total += d[i] * s;
        }
    }
    free(d);
    return total;
}

static void test_element_view_matches_dequantize(void **state)
{
    (void)state;
    for (size_t f = 0; f < N_COLUMN_FORMATS; ++f) {
        const lowbit_format format = column_formats[f];
        const lowbit_format_traits *traits = lowbit_format_get(format);
        const size_t block = traits->block_size, bytes = traits->type_size;
        quantize_gptq_grid grid;
        assert_int_equal(quantize_gptq_grid_of(format, &grid), 0);
        for (int trial = 0; trial < 8; ++trial) {
            float x[256], deq[256], imp[256];
            unsigned char packed[256], copy[256];
            for (size_t i = 0; i < block; ++i) {
                x[i] = (float)(gauss() * (trial % 2 ? 1.0 : 0.01) + (trial == 5 ? 0.3 : 0.0));
                imp[i] = (float)(0.5 + uniform());
            }
            assert_int_equal(lowbit_quantize(format, x, 1, block, packed, bytes, trial % 3 ? imp : NULL, 1), 0);
            assert_int_equal(lowbit_dequantize(format, packed, bytes, 1, block, deq), 0);
            memcpy(copy, packed, bytes);
            for (size_t e = 0; e < block; ++e) {
                float a, b;
                quantize_gptq_element(format, packed, (int)e, &a, &b);
                int found = 0, have = 0;
                const int n_levels = grid.kind == 1 ? grid.hi - grid.lo + 1 : 16;
                for (int k = 0; k < n_levels && !have; ++k) {
                    const int level = grid.kind == 1 ? grid.lo + k : k;
                    const float v = a * (float)(grid.kind == 1 ? level : grid.table[level]) + b;
                    if (fabsf(v - deq[e]) <= 1e-6f * (fabsf(deq[e]) + 1e-6f)) found = level, have = 1;
                }
                if (!have)
                    fail_msg("%s: element %zu (%g) is no level of a=%g b=%g", lowbit_format_name(format), e,
                             (double)deq[e], (double)a, (double)b);
                /* rewrite every code: the block must come back byte for byte */
                quantize_gptq_put_level(format, copy, (int)e, found);
            }
            if (memcmp(copy, packed, bytes) != 0) {
                /* a code equal in value but different in bits (a zero scale) is fine; check the values */
                float back[256];
                assert_int_equal(lowbit_dequantize(format, copy, bytes, 1, block, back), 0);
                assert_memory_equal(back, deq, block * sizeof *deq);
            }
        }
    }
}

/* Sub-block scale fields: writing any value in range reads back, and moves only that sub-block's elements. */
static void test_sub_block_fields(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K,
                                     LOWBIT_FORMAT_Q5_K, LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_IQ4_XS};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        const lowbit_format format = formats[f];
        const size_t bytes = lowbit_format_get(format)->type_size;
        const int sub = quantize_gptq_sub_block(format);
        assert_true(sub == 16 || sub == 32);
        float x[256], imp[256], before[256], after[256];
        unsigned char packed[256];
        for (int i = 0; i < 256; ++i)
            x[i] = (float)gauss(), imp[i] = 1.0f;
        assert_int_equal(lowbit_quantize(format, x, 1, 256, packed, bytes, NULL, 1), 0);
        assert_int_equal(lowbit_dequantize(format, packed, bytes, 1, 256, before), 0);
        int grew = 0;
        for (int j = 1; j < 256 / sub; ++j) {
            /* refitting for values the block already represents keeps (or re-finds as good) the fields */
            unsigned char copy[256];
            memcpy(copy, packed, bytes);
            quantize_gptq_refit(format, copy, j, before + j * sub, imp);
            assert_int_equal(lowbit_dequantize(format, copy, bytes, 1, 256, after), 0);
            for (int i = 0; i < 256; ++i)
                if (i / sub != j) assert_true(after[i] == before[i]);
            /* doubled values: the refit must move this sub-block's scale, and only this sub-block */
            float twice[32];
            for (int i = 0; i < sub; ++i)
                twice[i] = 2.0f * before[j * sub + i];
            memcpy(copy, packed, bytes);
            quantize_gptq_refit(format, copy, j, twice, imp);
            assert_int_equal(lowbit_dequantize(format, copy, bytes, 1, 256, after), 0);
            float a0, b0, a1, b1;
            quantize_gptq_element(format, packed, j * sub, &a0, &b0);
            quantize_gptq_element(format, copy, j * sub, &a1, &b1);
            for (int i = 0; i < 256; ++i)
                if (i / sub != j) assert_true(after[i] == before[i]);
            grew += fabsf(a1) > fabsf(a0); /* not where the field is already at its limit */
        }
        if (grew < 256 / sub / 2)
            fail_msg("%s: only %d sub-block scales grew for doubled values", lowbit_format_name(format), grew);
    }
}

/* The same GPTQ with a different algebra: the full inverse Hessian in f64, downdated after each column
 * (the original optimal-brain-quantization form), instead of U's rows. With `order` the columns go in that
 * order and every block's scales are fixed first from the unquantized row (static groups). */
static void direct_gptq(lowbit_format format, const float *w, size_t rows, size_t cols, const float *hessian,
                        double damp, const size_t *order, float *out)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    const size_t block = traits->block_size, bytes = traits->type_size, row_bytes = cols / block * bytes;
    double *hinv = malloc(cols * cols * sizeof *hinv), *a = malloc(cols * cols * sizeof *a);
    double *row = malloc(cols * sizeof *row), *work = malloc(cols * cols * sizeof *work);
    float *imp = malloc(cols * sizeof *imp), *blockw = malloc(cols * sizeof *blockw);
    unsigned char *packed = malloc(row_bytes);
#define O(i) (order ? order[i] : (i))
    quantize_gptq_grid grid;
    assert_int_equal(quantize_gptq_grid_of(format, &grid), 0);
    double mean = 0.0;
    for (size_t i = 0; i < cols; ++i)
        mean += hessian[i * cols + i], imp[i] = hessian[i * cols + i];
    mean /= (double)cols;
    for (size_t i = 0; i < cols; ++i)
        for (size_t j = 0; j < cols; ++j) {
            a[i * cols + j] = 0.5 * ((double)hessian[O(i) * cols + O(j)] + (double)hessian[O(j) * cols + O(i)]) +
                              (i == j ? damp * mean : 0.0);
            hinv[i * cols + j] = i == j;
        }
    for (size_t c = 0; c < cols; ++c) { /* Gauss-Jordan with partial pivoting */
        size_t p = c;
        for (size_t i = c + 1; i < cols; ++i)
            if (fabs(a[i * cols + c]) > fabs(a[p * cols + c])) p = i;
        for (size_t j = 0; j < cols; ++j) {
            double t = a[c * cols + j];
            a[c * cols + j] = a[p * cols + j], a[p * cols + j] = t;
            t = hinv[c * cols + j];
            hinv[c * cols + j] = hinv[p * cols + j], hinv[p * cols + j] = t;
        }
        const double pivot = a[c * cols + c];
        for (size_t j = 0; j < cols; ++j)
            a[c * cols + j] /= pivot, hinv[c * cols + j] /= pivot;
        for (size_t i = 0; i < cols; ++i) {
            if (i == c) continue;
            const double f = a[i * cols + c];
            for (size_t j = 0; j < cols; ++j)
                a[i * cols + j] -= f * a[c * cols + j], hinv[i * cols + j] -= f * hinv[c * cols + j];
        }
    }
    for (size_t r = 0; r < rows; ++r) {
        memcpy(work, hinv, cols * cols * sizeof *work);
        for (size_t i = 0; i < cols; ++i)
            row[i] = w[r * cols + O(i)];
        if (order) assert_int_equal(lowbit_quantize(format, w + r * cols, 1, cols, packed, row_bytes, imp, 1), 0);
        for (size_t b0 = 0; b0 < cols; b0 += block) {
            const int sub = order ? 0 : quantize_gptq_sub_block(format);
            if (!order) {
                for (size_t i = 0; i < block; ++i)
                    blockw[i] = (float)row[b0 + i];
                assert_int_equal(
                    lowbit_quantize(format, blockw, 1, block, packed + b0 / block * bytes, bytes, imp + b0, 1), 0);
            }
            for (size_t c = b0; c < b0 + block; ++c) {
                float ea, eb;
                unsigned char *blk = packed + O(c) / block * bytes;
                if (sub && c > b0 && (c - b0) % (size_t)sub == 0) {
                    float x[32];
                    for (int i = 0; i < sub; ++i)
                        x[i] = (float)row[c + (size_t)i];
                    quantize_gptq_refit(format, blk, (int)((c - b0) / (size_t)sub), x, imp + c);
                }
                quantize_gptq_element(format, blk, (int)(O(c) % block), &ea, &eb);
                /* nearest level, as the tool rounds */
                double best_v = 0.0, best_e = INFINITY;
                const int n_levels = grid.kind == 1 ? grid.hi - grid.lo + 1 : 16;
                for (int k = 0; k < n_levels; ++k) {
                    const int level = grid.kind == 1 ? grid.lo + k : k;
                    const float v = ea * (float)(grid.kind == 1 ? level : grid.table[level]) + eb;
                    if (fabs((double)v - row[c]) < best_e) best_e = fabs((double)v - row[c]), best_v = v;
                }
                out[r * cols + O(c)] = (float)best_v;
                const double d = work[c * cols + c], err = (row[c] - best_v) / d;
                for (size_t k = c + 1; k < cols; ++k)
                    row[k] -= err * work[c * cols + k];
                for (size_t i = c + 1; i < cols; ++i) /* downdate: remove column c from the inverse */
                    for (size_t k = c + 1; k < cols; ++k)
                        work[i * cols + k] -= work[i * cols + c] * work[c * cols + k] / d;
            }
        }
    }
    free(hinv), free(a), free(row), free(work), free(imp), free(blockw), free(packed);
#undef O
}

static void test_gptq_matches_direct_f64(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_IQ4_NL,
                                     LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_IQ4_XS};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        const lowbit_format format = formats[f];
        const size_t cols = lowbit_format_get(format)->block_size == 256 ? 256 : 96, rows = 5;
        float *h = make_hessian(cols, 3 * cols), *w = make_weights(rows, cols);
        float *got = malloc(rows * cols * sizeof *got), *want = malloc(rows * cols * sizeof *want);
        const size_t bytes = rows * lowbit_format_row_size(format, cols);
        unsigned char *packed = malloc(bytes);
        quantize_gptq_factor factor;
        char error[256];
        assert_int_equal(quantize_gptq_prepare(h, cols, 0.01, &factor, error, sizeof error), 0);
        assert_int_equal(quantize_gptq_rows(&factor, format, w, rows, cols, NULL, packed, bytes, 1), 0);
        assert_int_equal(lowbit_dequantize(format, packed, bytes, rows, cols, got), 0);
        direct_gptq(format, w, rows, cols, h, 0.01, NULL, want);
        double max_diff = 0.0, max_w = 0.0;
        for (size_t i = 0; i < rows * cols; ++i) {
            max_diff = fmax(max_diff, fabs((double)got[i] - (double)want[i]));
            max_w = fmax(max_w, fabs((double)w[i]));
        }
        if (max_diff > 1e-6 * max_w)
            fail_msg("%s: GPTQ differs from the direct f64 form by %g (weights up to %g)", lowbit_format_name(format),
                     max_diff, max_w);
        quantize_gptq_factor_free(&factor);
        free(h), free(w), free(got), free(want), free(packed);
    }
}

/* Activation order with static groups: the factor's order is the columns by decreasing diag(H); the result matches
 * the direct f64 form in that order to 1e-6 of the weights' range, beats nearest rounding, does not depend on
 * the thread count, and the lattice formats refuse an ordered factor. */
static void test_gptq_act_order(void **state)
{
    (void)state;
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_Q3_K,
                                     LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_IQ4_XS};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        const lowbit_format format = formats[f];
        const size_t cols = lowbit_format_get(format)->block_size == 256 ? 512 : 96, rows = 6;
        float *h = make_hessian(cols, 2 * cols), *w = make_weights(rows, cols), imp[512];
        float *got = malloc(rows * cols * sizeof *got), *want = malloc(rows * cols * sizeof *want);
        const size_t bytes = rows * lowbit_format_row_size(format, cols);
        unsigned char *packed = malloc(bytes), *again = malloc(bytes);
        quantize_gptq_factor factor, natural;
        char error[256];
        assert_int_equal(quantize_gptq_prepare_ordered(h, cols, 0.01, 1, &factor, error, sizeof error), 0);
        assert_int_equal(quantize_gptq_prepare(h, cols, 0.01, &natural, error, sizeof error), 0);
        assert_non_null(factor.order);
        assert_null(natural.order);
        for (size_t i = 0; i + 1 < cols; ++i)
            assert_true(h[factor.order[i] * cols + factor.order[i]] >=
                        h[factor.order[i + 1] * cols + factor.order[i + 1]]);
        assert_int_equal(quantize_gptq_rows(&factor, format, w, rows, cols, NULL, packed, bytes, 1), 0);
        assert_int_equal(quantize_gptq_rows(&factor, format, w, rows, cols, NULL, again, bytes, 3), 0);
        assert_memory_equal(packed, again, bytes);
        assert_int_equal(lowbit_dequantize(format, packed, bytes, rows, cols, got), 0);
        direct_gptq(format, w, rows, cols, h, 0.01, factor.order, want);
        double max_diff = 0.0, max_w = 0.0;
        for (size_t i = 0; i < rows * cols; ++i) {
            max_diff = fmax(max_diff, fabs((double)got[i] - (double)want[i]));
            max_w = fmax(max_w, fabs((double)w[i]));
        }
        if (max_diff > 1e-6 * max_w)
            fail_msg("%s: ordered GPTQ differs from the direct f64 form by %g (weights up to %g)",
                     lowbit_format_name(format), max_diff, max_w);
        const double ordered = output_error(w, got, h, rows, cols);
        assert_int_equal(quantize_gptq_rows(&natural, format, w, rows, cols, NULL, again, bytes, 1), 0);
        assert_int_equal(lowbit_dequantize(format, again, bytes, rows, cols, want), 0);
        const double plain_gptq = output_error(w, want, h, rows, cols);
        for (size_t i = 0; i < cols; ++i)
            imp[i] = h[i * cols + i];
        assert_int_equal(lowbit_quantize(format, w, rows, cols, again, bytes, imp, 1), 0);
        assert_int_equal(lowbit_dequantize(format, again, bytes, rows, cols, want), 0);
        const double rtn = output_error(w, want, h, rows, cols);
        print_message("%-7s output error: nearest %.4g, GPTQ %.4g, GPTQ act-order %.4g\n", lowbit_format_name(format),
                      rtn, plain_gptq, ordered);
        assert_true(ordered < rtn);
        quantize_gptq_factor_free(&factor);
        quantize_gptq_factor_free(&natural);
        free(h), free(w), free(got), free(want), free(packed), free(again);
    }
    float *h = make_hessian(256, 512), *w = make_weights(2, 256);
    quantize_gptq_factor factor;
    char error[256];
    unsigned char out[2 * 256];
    assert_int_equal(quantize_gptq_prepare_ordered(h, 256, 0.01, 1, &factor, error, sizeof error), 0);
    assert_int_equal(quantize_gptq_rows(&factor, LOWBIT_FORMAT_IQ2_XS, w, 2, 256, NULL, out,
                                        2 * lowbit_format_row_size(LOWBIT_FORMAT_IQ2_XS, 256), 1),
                     LOWBIT_ERROR_UNSUPPORTED);
    quantize_gptq_factor_free(&factor);
    free(h), free(w);
}

/* Every weight format lowbit can make: GPTQ's layer-output error is below nearest rounding's (same block
 * search weights, diag H), and the bytes do not depend on the thread count. */
static void test_gptq_beats_rounding_every_format(void **state)
{
    (void)state;
    const size_t cols = 512, rows = 16; /* two super-blocks, so the block-whole formats pass error on too */
    float *h = make_hessian(cols, 2 * cols), *w = make_weights(rows, cols), imp[512];
    float *q = malloc(rows * cols * sizeof *q);
    unsigned char *a = malloc(rows * cols * 2), *b = malloc(rows * cols * 2);
    quantize_gptq_factor factor;
    char error[256];
    assert_int_equal(quantize_gptq_prepare(h, cols, 0.01, &factor, error, sizeof error), 0);
    for (size_t i = 0; i < cols; ++i)
        imp[i] = h[i * cols + i];
    for (int format = 0; format < LOWBIT_FORMAT_COUNT; ++format) {
        const lowbit_format_traits *traits = lowbit_format_get(format);
        if (!traits || !traits->can_quantize || traits->is_activation_only || traits->block_size < 2) continue;
        const size_t bytes = rows * lowbit_format_row_size(format, cols);
        if (bytes == 0) continue;
        if (!quantize_gptq_supports((lowbit_format)format)) {
            assert_int_equal(quantize_gptq_rows(&factor, (lowbit_format)format, w, rows, cols, NULL, a, bytes, 1),
                             LOWBIT_ERROR_UNSUPPORTED);
            continue;
        }
        assert_int_equal(lowbit_quantize(format, w, rows, cols, a, bytes, imp, 1), 0);
        assert_int_equal(lowbit_dequantize(format, a, bytes, rows, cols, q), 0);
        const double rtn = output_error(w, q, h, rows, cols);
        assert_int_equal(quantize_gptq_rows(&factor, (lowbit_format)format, w, rows, cols, NULL, a, bytes, 1), 0);
        assert_int_equal(quantize_gptq_rows(&factor, (lowbit_format)format, w, rows, cols, NULL, b, bytes, 3), 0);
        assert_memory_equal(a, b, bytes);
        assert_int_equal(lowbit_dequantize(format, a, bytes, rows, cols, q), 0);
        const double gptq = output_error(w, q, h, rows, cols);
        print_message("%-8s output error: nearest %.4g, GPTQ %.4g (%.0f %%)\n", traits->name, rtn, gptq,
                      100.0 * gptq / rtn);
        if (!(gptq < rtn)) fail_msg("%s: GPTQ %g is not below nearest rounding %g", traits->name, gptq, rtn);
    }
    quantize_gptq_factor_free(&factor);
    free(h), free(w), free(q), free(a), free(b);
}

static void test_prepare_rejects_bad_hessians(void **state)
{
    (void)state;
    float h[4] = {1.0f, 0.0f, 0.0f, NAN};
    quantize_gptq_factor factor;
    char error[256] = "";
    assert_int_equal(quantize_gptq_prepare(h, 2, 0.01, &factor, error, sizeof error), -1);
    assert_non_null(strstr(error, "non-finite"));
    h[3] = -1.0f;
    assert_int_equal(quantize_gptq_prepare(h, 2, 0.01, &factor, error, sizeof error), -1);
    assert_int_equal(quantize_gptq_prepare(h, 2, 0.0, &factor, error, sizeof error), -1);
    /* an input never seen (zero row and column) is allowed: its weights are quantized as zero input */
    float dead[4] = {2.0f, 0.0f, 0.0f, 0.0f};
    assert_int_equal(quantize_gptq_prepare(dead, 2, 0.01, &factor, error, sizeof error), 0);
    assert_int_equal(factor.dead[1], 1);
    quantize_gptq_factor_free(&factor);
}

/* Writes a Hessian file with the given twists; returns its path. absmax_mode: 0 no absmax tensors, 1 both, 2 only
 * the first, 3 both with a NaN in the second. */
static const char *write_hessian_file(const char *type, int bad_index, int non_square, int absmax_mode)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/test-hessian-%d.gguf", P_tmpdir, (int)getpid());
    lowbit_gguf_writer *writer = NULL;
    assert_int_equal(lowbit_gguf_writer_create(&writer), LOWBIT_OK);
    const char *names[] = {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_down.weight"};
    const uint32_t inputs[] = {0, 0, bad_index ? 7u : 1u};
    const uint64_t tokens[] = {100, 100};
    static float h0[32 * 32], h1[64 * 64];
    for (int i = 0; i < 32; ++i)
        h0[i * 32 + i] = 1.0f + (float)i;
    for (int i = 0; i < 64; ++i)
        h1[i * 64 + i] = 2.0f;
    lowbit_gguf_array a_names = {LOWBIT_GGUF_STRING, 3, names}, a_inputs = {LOWBIT_GGUF_UINT32, 3, inputs},
                      a_tokens = {LOWBIT_GGUF_UINT64, 2, tokens};
    assert_int_equal(lowbit_gguf_writer_set_string(writer, "general.type", type), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(writer, "lowbit.hessian.version", LOWBIT_GGUF_UINT32, 1), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_array(writer, "lowbit.hessian.weights", &a_names), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_array(writer, "lowbit.hessian.inputs", &a_inputs), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_array(writer, "lowbit.hessian.tokens", &a_tokens), LOWBIT_OK);
    const uint64_t ne0[2] = {32, 32}, ne1[2] = {64, 64}, ne_bad[2] = {64, 32};
    assert_int_equal(lowbit_gguf_writer_add_tensor(writer, "hessian.0", LOWBIT_FORMAT_F32, 2, ne0, h0, sizeof h0),
                     LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_add_tensor(writer, "hessian.1", LOWBIT_FORMAT_F32, 2, non_square ? ne_bad : ne1,
                                                   h1, non_square ? sizeof h1 / 2 : sizeof h1),
                     LOWBIT_OK);
    static float a0[32], a1[64];
    for (int i = 0; i < 32; ++i)
        a0[i] = 0.5f * (float)i;
    for (int i = 0; i < 64; ++i)
        a1[i] = i == 5 && absmax_mode == 3 ? NAN : 3.0f;
    const uint64_t n0[1] = {32}, n1[1] = {64};
    if (absmax_mode)
        assert_int_equal(lowbit_gguf_writer_add_tensor(writer, "absmax.0", LOWBIT_FORMAT_F32, 1, n0, a0, sizeof a0),
                         LOWBIT_OK);
    if (absmax_mode == 1 || absmax_mode == 3)
        assert_int_equal(lowbit_gguf_writer_add_tensor(writer, "absmax.1", LOWBIT_FORMAT_F32, 1, n1, a1, sizeof a1),
                         LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_write(writer, path), LOWBIT_OK);
    lowbit_gguf_writer_destroy(writer);
    return path;
}

static void test_hessian_file(void **state)
{
    (void)state;
    char error[512];
    quantize_hessians *h = NULL;
    const char *path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 0, 0, 0);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), 0);
    size_t cols = 0, index = 9;
    const float *m = quantize_hessians_find(h, "blk.0.attn_k.weight", &cols, &index);
    assert_non_null(m);
    assert_int_equal(cols, 32);
    assert_int_equal(index, 0);
    assert_true(m[33] == 2.0f);
    assert_non_null(quantize_hessians_find(h, "blk.0.ffn_down.weight", &cols, &index));
    assert_int_equal(cols, 64);
    assert_int_equal(index, 1);
    assert_null(quantize_hessians_find(h, "output.weight", &cols, &index));
    assert_null(quantize_hessians_absmax(h, 0));
    quantize_hessians_free(h);

    /* the optional activation maxima: all or none, finite */
    path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 0, 0, 1);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), 0);
    assert_true(quantize_hessians_absmax(h, 0)[4] == 2.0f && quantize_hessians_absmax(h, 1)[63] == 3.0f);
    assert_null(quantize_hessians_absmax(h, 2));
    quantize_hessians_free(h);
    path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 0, 0, 2);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), -1);
    assert_non_null(strstr(error, "all or none"));
    path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 0, 0, 3);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), -1);
    assert_non_null(strstr(error, "non-finite"));

    path = write_hessian_file("imatrix", 0, 0, 0);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), -1);
    assert_non_null(strstr(error, "general.type"));
    path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 1, 0, 0);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), -1);
    assert_non_null(strstr(error, "names Hessian 7"));
    path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 0, 1, 0);
    assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), -1);
    assert_non_null(strstr(error, "square"));
    /* truncated: every prefix is refused cleanly */
    path = write_hessian_file(QUANTIZE_HESSIAN_TYPE, 0, 0, 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char data[65536];
    const size_t size = fread(data, 1, sizeof data, f);
    fclose(f);
    for (size_t cut = 0; cut < size; cut += size / 37 + 1) {
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, cut, f), cut);
        fclose(f);
        assert_int_equal(quantize_hessians_load(path, &h, error, sizeof error), -1);
    }
    assert_int_equal(quantize_hessians_load("/nonexistent/h.gguf", &h, error, sizeof error), -1);
    remove(path);
}

/* AWQ: the searched scales never do worse than no scaling on the group's layer-output error, usually better
 * where a few channels are loud; a forced α gives rms^α normalized so that max·min = 1. */
static void test_awq_search(void **state)
{
    (void)state;
    const size_t cols = 256, rows = 48;
    float *h = make_hessian(cols, 2 * cols), *w1 = make_weights(rows, cols), *w2 = make_weights(rows / 2, cols);
    float scales[256];
    char error[256];
    const lowbit_format formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_IQ4_XS};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        quantize_awq_matrix group[2] = {{w1, rows, formats[f]}, {w2, rows / 2, formats[f]}};
        quantize_awq_result result;
        assert_int_equal(quantize_awq_search(group, 2, cols, h, -1.0, 2, scales, &result, error, sizeof error), 0);
        print_message("AWQ %-6s alpha %.2f: output error %.4g -> %.4g\n", lowbit_format_name(formats[f]), result.alpha,
                      result.error_plain, result.error_scaled);
        assert_true(result.error_scaled <= result.error_plain);
        assert_true(result.alpha >= 0.0 && result.alpha <= 1.0);
        quantize_awq_result again;
        float scales_again[256];
        assert_int_equal(quantize_awq_search(group, 2, cols, h, -1.0, 1, scales_again, &again, error, sizeof error), 0);
        assert_true(again.alpha == result.alpha && again.error_scaled == result.error_scaled);
    }
    quantize_awq_matrix one = {w1, rows, LOWBIT_FORMAT_Q4_0};
    quantize_awq_result forced;
    assert_int_equal(quantize_awq_search(&one, 1, cols, h, 0.5, 1, scales, &forced, error, sizeof error), 0);
    float lo = scales[0], hi = scales[0];
    for (size_t j = 0; j < cols; ++j) {
        lo = fminf(lo, scales[j]), hi = fmaxf(hi, scales[j]);
        /* s_j ∝ H_jj^(1/4) */
        const double ratio = (double)scales[j] / (double)scales[0];
        assert_true(fabs(ratio - pow((double)h[j * cols + j] / (double)h[0], 0.25)) < 1e-4 * ratio);
    }
    assert_true(fabsf(lo * hi - 1.0f) < 1e-4f);
    h[3 * cols + 3] = NAN;
    assert_int_equal(quantize_awq_search(&one, 1, cols, h, -1.0, 1, scales, &forced, error, sizeof error), -1);
    free(h), free(w1), free(w2);
}

/* SmoothQuant: s_j = a_j^α / w_j^(1−α) with w_j the largest |W_ij| over the group's rows; a silent channel keeps
 * 1; the scales stay in [1e-4, 1e4]; bad arguments are refused. */
static void test_smooth_scales(void **state)
{
    (void)state;
    enum { COLS = 4 };
    const float w1[2 * COLS] = {1.0f, -4.0f, 0.0f, 2.0f, -0.5f, 1.0f, 0.0f, 8.0f};
    const float w2[COLS] = {2.0f, 0.5f, 0.0f, -1e-12f};
    const float absmax[COLS] = {9.0f, 1.0f, 5.0f, 1e12f};
    quantize_awq_matrix group[2] = {{w1, 2, LOWBIT_FORMAT_Q8_0}, {w2, 1, LOWBIT_FORMAT_Q8_0}};
    float scales[COLS];
    char error[256];
    assert_int_equal(quantize_smooth_scales(group, 2, COLS, absmax, 0.5, scales, error, sizeof error), 0);
    assert_true(fabsf(scales[0] - 3.0f / sqrtf(2.0f)) < 1e-6f); /* √9 / √max(1, 0.5, 2) */
    assert_true(fabsf(scales[1] - 0.5f) < 1e-6f);               /* √1 / √4 */
    assert_true(scales[2] == 1.0f);                             /* no weight: unscaled */
    assert_true(scales[3] == 1e4f);                             /* √1e12 / √8 ≈ 3.5e5, clamped */
    assert_int_equal(quantize_smooth_scales(group, 2, COLS, absmax, 1.0, scales, error, sizeof error), 0);
    assert_true(scales[0] == 9.0f && scales[3] == 1e4f); /* α = 1: the activation maxima, clamped */
    assert_int_equal(quantize_smooth_scales(group, 2, COLS, absmax, 0.0, scales, error, sizeof error), 0);
    assert_true(fabsf(scales[1] - 0.25f) < 1e-7f && scales[3] == 0.125f); /* α = 0: 1 / the weight maxima */
    assert_int_equal(quantize_smooth_scales(group, 2, COLS, NULL, 0.5, scales, error, sizeof error), -1);
    assert_int_equal(quantize_smooth_scales(group, 2, COLS, absmax, 1.5, scales, error, sizeof error), -1);
    assert_int_equal(quantize_smooth_scales(group, 0, COLS, absmax, 0.5, scales, error, sizeof error), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_element_view_matches_dequantize),
        cmocka_unit_test(test_sub_block_fields),
        cmocka_unit_test(test_gptq_matches_direct_f64),
        cmocka_unit_test(test_gptq_beats_rounding_every_format),
        cmocka_unit_test(test_gptq_act_order),
        cmocka_unit_test(test_prepare_rejects_bad_hessians),
        cmocka_unit_test(test_hessian_file),
        cmocka_unit_test(test_awq_search),
        cmocka_unit_test(test_smooth_scales),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
