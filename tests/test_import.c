/* test_import.c — lowbit-import end to end, on checkpoints this test quantizes and packs itself in the GPTQ
 * (v1 and v2 zeros, act-order, 2/3/4/8 bits) and AWQ GEMM layouts, and on ternary weights: the GGUF read back
 * must dequantize to the checkpoint's own values (bit-exactly where docs/import.md promises it, within the
 * documented NMSE where it requantizes), and broken checkpoints and configs must fail with status 1 and a
 * message naming the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_format.h"
#include "lowbit/lowbit_io.h"
#include "test_support.h"

enum { RUN_LIMIT_SECONDS = 120, ROWS = 64, COLS = 256 };

#define ACT_ORDER_NMSE_LIMIT 1e-4 /* Q8_0 requantization of act-order groups (docs/import.md) */
#define LAYER "model.layers.0.mlp.down_proj"

static char test_dir[512], log_path[1024], output[65536];

/* --- a minimal safetensors writer ------------------------------------------------------------- */

typedef struct st_tensor {
    const char *name, *dtype;
    uint32_t n_dims;
    uint64_t shape[2];
    const void *data;
    size_t size;
} st_tensor;

/* Writes the tensors; `cut` bytes are dropped from the end (a truncated file). */
static void write_safetensors(const char *path, const st_tensor *t, size_t count, size_t cut)
{
    char header[8192];
    size_t used = (size_t)snprintf(header, sizeof header, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t offset = 0;
    for (size_t i = 0; i < count; ++i) {
        used += (size_t)snprintf(header + used, sizeof header - used, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                 t[i].name, t[i].dtype);
        for (uint32_t d = 0; d < t[i].n_dims; ++d)
            used += (size_t)snprintf(header + used, sizeof header - used, "%s%llu", d ? "," : "",
                                     (unsigned long long)t[i].shape[d]);
        used += (size_t)snprintf(header + used, sizeof header - used, "],\"data_offsets\":[%llu,%llu]}",
                                 (unsigned long long)offset, (unsigned long long)(offset + t[i].size));
        offset += t[i].size;
    }
    used += (size_t)snprintf(header + used, sizeof header - used, "}");
    while (used % 8)
        header[used++] = ' ';
    assert_true(used < sizeof header);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    unsigned char length[8];
    for (int b = 0; b < 8; ++b)
        length[b] = (unsigned char)((uint64_t)used >> (8 * b));
    fwrite(length, 1, 8, file);
    fwrite(header, 1, used, file);
    size_t remaining = (size_t)offset > cut ? (size_t)offset - cut : 0;
    for (size_t i = 0; i < count && remaining; ++i) {
        const size_t n = t[i].size < remaining ? t[i].size : remaining;
        fwrite(t[i].data, 1, n, file);
        remaining -= n;
    }
    fclose(file);
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void path_in(char *path, size_t size, const char *name) { snprintf(path, size, "%s/%s", test_dir, name); }

/* --- quantizing a matrix the way GPTQ/AWQ checkpoints store it -------------------------------- */

typedef struct layer_spec {
    int bits;
    size_t group;
    int sym;
    int act_order;
    int v2;   /* store the real zero (gptq_v2) instead of zero − 1 */
    int pow2; /* power-of-two scales: d and −d·zero are exact halves */
    int awq;  /* AWQ GEMM packing */
    uint64_t seed;
} layer_spec;

typedef struct layer_fixture {
    size_t groups;
    uint32_t q[ROWS][COLS];
    uint32_t zero[COLS][ROWS]; /* [group][row], real zeros */
    uint16_t scale[COLS][ROWS];
    int32_t g_idx[COLS];
    float ref[ROWS * COLS]; /* scale · (q − zero) in f32 */
    uint32_t qweight[COLS * ROWS];
    uint32_t qzeros[COLS * ROWS];
    uint16_t scales[COLS * ROWS];
    uint64_t qweight_shape[2], qzeros_shape[2], scales_shape[2];
} layer_fixture;

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

static void pack_bits(uint32_t *words, size_t stride, size_t bit, int bits, uint32_t value)
{
    const size_t w = bit / 32, shift = bit % 32;
    words[w * stride] |= value << shift;
    if (shift + (size_t)bits > 32) words[(w + 1) * stride] |= value >> (32 - shift);
}

static layer_fixture *make_layer(const layer_spec *spec)
{
    static const unsigned awq_slot[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    layer_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const int bits = spec->bits;
    const uint32_t maxq = (1u << bits) - 1;
    float *w = malloc(ROWS * COLS * sizeof *w);
    assert_non_null(w);
    test_fill_random(w, ROWS * COLS, spec->seed, 1.0f);
    f->groups = (COLS + spec->group - 1) / spec->group;
    size_t order[COLS];
    for (size_t k = 0; k < COLS; ++k)
        order[k] = k;
    uint64_t state = spec->seed;
    if (spec->act_order)
        for (size_t k = COLS - 1; k > 0; --k) {
            const size_t j = (size_t)(next_random(&state) % (k + 1)), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
    for (size_t p = 0; p < COLS; ++p)
        f->g_idx[order[p]] = (int32_t)(p / spec->group);
    for (size_t g = 0; g < f->groups; ++g)
        for (size_t n = 0; n < ROWS; ++n) {
            float lo = 0.0f, hi = 0.0f;
            for (size_t k = 0; k < COLS; ++k)
                if ((size_t)f->g_idx[k] == g) {
                    lo = fminf(lo, w[n * COLS + k]);
                    hi = fmaxf(hi, w[n * COLS + k]);
                }
            float scale;
            uint32_t zero;
            if (spec->sym) {
                const float amax = fmaxf(fabsf(lo), fabsf(hi));
                scale = 2.0f * amax / (float)maxq;
                zero = 1u << (bits - 1);
            } else {
                scale = (hi - lo) / (float)maxq;
                const float z = roundf(-lo / scale);
                zero = z < 1.0f ? 1u : z > (float)maxq ? maxq : (uint32_t)z;
            }
            if (spec->pow2) scale = exp2f(ceilf(log2f(scale)));
            f->scale[g][n] = lowbit_fp32_to_fp16(scale);
            f->zero[g][n] = zero;
        }
    for (size_t n = 0; n < ROWS; ++n)
        for (size_t k = 0; k < COLS; ++k) {
            const size_t g = (size_t)f->g_idx[k];
            const float s = lowbit_fp16_to_fp32(f->scale[g][n]);
            float q = roundf(w[n * COLS + k] / s) + (float)f->zero[g][n];
            q = q < 0.0f ? 0.0f : q > (float)maxq ? (float)maxq : q;
            f->q[n][k] = (uint32_t)q;
            f->ref[n * COLS + k] = s * (float)((int)f->q[n][k] - (int)f->zero[g][n]);
        }
    free(w);
    for (size_t g = 0; g < f->groups; ++g)
        for (size_t n = 0; n < ROWS; ++n)
            f->scales[g * ROWS + n] = f->scale[g][n];
    f->scales_shape[0] = f->groups;
    f->scales_shape[1] = ROWS;
    if (spec->awq) {
        for (size_t k = 0; k < COLS; ++k)
            for (size_t n = 0; n < ROWS; ++n)
                f->qweight[k * (ROWS / 8) + n / 8] |= f->q[n][k] << (4 * awq_slot[n % 8]);
        for (size_t g = 0; g < f->groups; ++g)
            for (size_t n = 0; n < ROWS; ++n)
                f->qzeros[g * (ROWS / 8) + n / 8] |= f->zero[g][n] << (4 * awq_slot[n % 8]);
        f->qweight_shape[0] = COLS;
        f->qweight_shape[1] = ROWS / 8;
        f->qzeros_shape[0] = f->groups;
        f->qzeros_shape[1] = ROWS / 8;
        return f;
    }
    for (size_t n = 0; n < ROWS; ++n)
        for (size_t k = 0; k < COLS; ++k)
            pack_bits(f->qweight + n, ROWS, (size_t)bits * k, bits, f->q[n][k]);
    const size_t zero_words = ROWS * (size_t)bits / 32;
    for (size_t g = 0; g < f->groups; ++g)
        for (size_t n = 0; n < ROWS; ++n)
            pack_bits(f->qzeros + g * zero_words, 1, (size_t)bits * n, bits,
                      (f->zero[g][n] - (spec->v2 ? 0u : 1u)) & maxq);
    f->qweight_shape[0] = COLS * (size_t)bits / 32;
    f->qweight_shape[1] = ROWS;
    f->qzeros_shape[0] = f->groups;
    f->qzeros_shape[1] = zero_words;
    return f;
}

static float norm_weights[COLS];
static uint16_t bias[ROWS];

/* The layer's tensors (qweight, qzeros, scales, g_idx unless AWQ) plus a carried norm and bias, into `path`. */
static size_t layer_tensors(const layer_fixture *f, const layer_spec *spec, st_tensor *t)
{
    for (size_t i = 0; i < COLS; ++i)
        norm_weights[i] = 1.0f + (float)i / 64.0f;
    for (size_t i = 0; i < ROWS; ++i)
        bias[i] = lowbit_fp32_to_fp16((float)i / 8.0f);
    size_t n = 0;
    t[n++] = (st_tensor){"model.norm.weight", "F32", 1, {COLS, 1}, norm_weights, sizeof norm_weights};
    t[n++] = (st_tensor){LAYER ".bias", "F16", 1, {ROWS, 1}, bias, sizeof bias};
    t[n++] = (st_tensor){LAYER ".qweight",
                         "I32",
                         2,
                         {f->qweight_shape[0], f->qweight_shape[1]},
                         f->qweight,
                         f->qweight_shape[0] * f->qweight_shape[1] * 4};
    t[n++] = (st_tensor){LAYER ".qzeros",
                         "I32",
                         2,
                         {f->qzeros_shape[0], f->qzeros_shape[1]},
                         f->qzeros,
                         f->qzeros_shape[0] * f->qzeros_shape[1] * 4};
    t[n++] = (st_tensor){LAYER ".scales",
                         "F16",
                         2,
                         {f->scales_shape[0], f->scales_shape[1]},
                         f->scales,
                         f->scales_shape[0] * f->scales_shape[1] * 2};
    if (!spec->awq) t[n++] = (st_tensor){LAYER ".g_idx", "I32", 1, {COLS, 1}, f->g_idx, sizeof f->g_idx};
    return n;
}

static int run_import(const char *const *args)
{
    return test_run_tool("lowbit-import", args, NULL, log_path, RUN_LIMIT_SECONDS, output, sizeof output);
}

/* Reads `name` of the GGUF file back: its type and its dequantized values (ROWS × COLS). */
static int read_back(const char *path, const char *name, float *values)
{
    lowbit_gguf *gguf = NULL;
    assert_int_equal(lowbit_gguf_open(path, &gguf), LOWBIT_OK);
    size_t index = LOWBIT_NOT_FOUND;
    assert_int_equal(lowbit_gguf_tensor_find(gguf, name, &index), LOWBIT_OK);
    assert_int_not_equal(index, LOWBIT_NOT_FOUND);
    lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_gguf_tensor_get(gguf, index, &info), LOWBIT_OK);
    assert_int_equal(info.ne[0], COLS);
    assert_int_equal(info.element_count, (uint64_t)ROWS * COLS);
    assert_int_equal(lowbit_dequantize(info.type, info.data, info.size, ROWS, COLS, values), LOWBIT_OK);
    const int type = info.type;
    lowbit_gguf_close(gguf);
    return type;
}

/* The carried tensors came through unchanged. */
static void check_carried(const char *path)
{
    lowbit_gguf *gguf = NULL;
    assert_int_equal(lowbit_gguf_open(path, &gguf), LOWBIT_OK);
    size_t index = LOWBIT_NOT_FOUND;
    lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_gguf_tensor_find(gguf, "model.norm.weight", &index), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_tensor_get(gguf, index, &info), LOWBIT_OK);
    assert_int_equal(info.type, LOWBIT_FORMAT_F32);
    assert_memory_equal(info.data, norm_weights, sizeof norm_weights);
    assert_int_equal(lowbit_gguf_tensor_find(gguf, LAYER ".bias", &index), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_tensor_get(gguf, index, &info), LOWBIT_OK);
    assert_int_equal(info.type, LOWBIT_FORMAT_F16);
    assert_memory_equal(info.data, bias, sizeof bias);
    assert_int_equal(lowbit_gguf_tensor_find(gguf, LAYER ".qweight", &index), LOWBIT_OK);
    assert_int_equal(index, LOWBIT_NOT_FOUND);
    lowbit_gguf_close(gguf);
}

typedef struct compare_result {
    double max_abs_diff, nmse;
    size_t inexact_blocks;
} compare_result;

static compare_result compare(const float *got, const float *ref)
{
    compare_result c = {0.0, 0.0, 0};
    double err = 0.0, sum = 0.0;
    for (size_t b = 0; b < ROWS * COLS / 32; ++b) {
        int exact = 1;
        for (size_t i = b * 32; i < b * 32 + 32; ++i) {
            const double d = (double)got[i] - (double)ref[i];
            if (got[i] != ref[i]) exact = 0;
            c.max_abs_diff = fmax(c.max_abs_diff, fabs(d));
            err += d * d;
            sum += (double)ref[i] * ref[i];
        }
        c.inexact_blocks += !exact;
    }
    c.nmse = err / sum;
    return c;
}

/* Writes the layer and `config`, runs the tool with `extra` options, and returns the GGUF's type of the
 * layer; the comparison against the checkpoint's values goes into *result. */
static int import_layer(const char *label, const layer_spec *spec, const char *config, const char *const *extra,
                        compare_result *result)
{
    layer_fixture *f = make_layer(spec);
    st_tensor tensors[8];
    const size_t count = layer_tensors(f, spec, tensors);
    char in[1024], out[1024], config_path[1024];
    path_in(in, sizeof in, "model.safetensors");
    path_in(out, sizeof out, "model.gguf");
    path_in(config_path, sizeof config_path, "config.json");
    write_safetensors(in, tensors, count, 0);
    write_text(config_path, config);
    const char *args[16] = {"--json", "--config", config_path};
    size_t n = 3;
    for (size_t i = 0; extra && extra[i]; ++i)
        args[n++] = extra[i];
    args[n++] = in;
    args[n++] = out;
    args[n] = NULL;
    const int status = run_import(args);
    if (status != 0) print_error("%s\n", output);
    assert_int_equal(status, 0);
    float *got = malloc(ROWS * COLS * sizeof *got);
    assert_non_null(got);
    const int type = read_back(out, LAYER ".weight", got);
    check_carried(out);
    *result = compare(got, f->ref);
    print_message("%-26s -> %-5s max|diff| %.3g  NMSE %.3g  inexact blocks %zu/%d\n", label, lowbit_format_name(type),
                  result->max_abs_diff, result->nmse, result->inexact_blocks, ROWS * COLS / 32);
    free(got);
    free(f);
    return type;
}

static const char *gptq_config(int bits, int group, int sym, int act_order, const char *format)
{
    static char text[512];
    snprintf(text, sizeof text,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"quantization_config\": {\"quant_method\": \"gptq\", "
             "\"bits\": %d, \"group_size\": %d, \"desc_act\": %s, \"sym\": %s, \"checkpoint_format\": \"%s\", "
             "\"damp_percent\": 0.01}}",
             bits, group, act_order ? "true" : "false", sym ? "true" : "false", format);
    return text;
}

/* Exact: Q4_1 (or Q8_0 for 8 bits) built from the stored integers, every block bit-exact, and the report agrees. */
static void expect_exact(const char *label, const layer_spec *spec, const char *config, int want_type)
{
    compare_result c;
    assert_int_equal(import_layer(label, spec, config, NULL, &c), want_type);
    assert_int_equal(c.inexact_blocks, 0);
    assert_true(c.max_abs_diff == 0.0);
    assert_non_null(strstr(output, "\"inexact\": 0"));
    assert_non_null(strstr(output, "\"mapping\": \"direct\""));
    assert_non_null(strstr(output, "\"max_abs_diff\": 0,"));
}

static void test_gptq4_g32_sym_v1(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 4, .group = 32, .sym = 1, .pow2 = 1, .seed = 11};
    expect_exact("gptq 4-bit g32 sym v1", &spec, gptq_config(4, 32, 1, 0, "gptq"), LOWBIT_FORMAT_Q4_1);
    assert_non_null(strstr(output, "\"zeros\": \"v1\""));
}

static void test_gptq4_g32_asym(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 4, .group = 32, .pow2 = 1, .seed = 12};
    expect_exact("gptq 4-bit g32 asym v1", &spec, gptq_config(4, 32, 0, 0, "gptq"), LOWBIT_FORMAT_Q4_1);
}

/* Scales that are not powers of two: −d·zero is often not a half, and the report must say so. */
static void test_gptq4_g32_inexact_m_is_reported(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 4, .group = 32, .seed = 13};
    compare_result c;
    assert_int_equal(import_layer("gptq 4-bit g32 fp16 scales", &spec, gptq_config(4, 32, 0, 0, "gptq"), NULL, &c),
                     LOWBIT_FORMAT_Q4_1);
    assert_true(c.inexact_blocks > 0);
    assert_true(c.max_abs_diff > 0.0 && c.max_abs_diff < 1e-3);
    assert_non_null(strstr(output, "\"inexact\": 1"));
    char expected[96];
    snprintf(expected, sizeof expected, "\"exact_blocks\": %zu,", (size_t)(ROWS * COLS / 32) - c.inexact_blocks);
    assert_non_null(strstr(output, expected));
    /* --require-exact turns the difference into a failure */
    layer_fixture *f = make_layer(&spec);
    st_tensor tensors[8];
    const size_t count = layer_tensors(f, &spec, tensors);
    char in[1024], out[1024];
    path_in(in, sizeof in, "strict.safetensors");
    path_in(out, sizeof out, "strict.gguf");
    write_safetensors(in, tensors, count, 0);
    const char *args[] = {"--method", "gptq", "--bits", "4", "--group-size", "32", "--require-exact", in, out, NULL};
    assert_int_equal(run_import(args), 1);
    assert_non_null(strstr(output, "from the checkpoint's values"));
    free(f);
}

static void test_gptq4_g128_exact(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 4, .group = 128, .pow2 = 1, .seed = 14};
    expect_exact("gptq 4-bit g128", &spec, gptq_config(4, 128, 0, 0, "gptq"), LOWBIT_FORMAT_Q4_1);
}

static void test_gptq4_g128_act_order(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 4, .group = 128, .sym = 1, .act_order = 1, .pow2 = 1, .seed = 15};
    compare_result c;
    assert_int_equal(import_layer("gptq 4-bit g128 act-order", &spec, gptq_config(4, 128, 1, 1, "gptq"), NULL, &c),
                     LOWBIT_FORMAT_Q8_0);
    assert_true(c.nmse <= ACT_ORDER_NMSE_LIMIT);
    assert_non_null(strstr(output, "\"act_order\": true"));
    assert_non_null(strstr(output, "\"mapping\": \"requantized\""));
    /* --type F16 instead */
    const char *const extra[] = {"--type", "F16", NULL};
    assert_int_equal(import_layer("gptq 4-bit g128 ao --type F16", &spec, gptq_config(4, 128, 1, 1, "gptq"), extra, &c),
                     LOWBIT_FORMAT_F16);
    assert_true(c.nmse <= 1e-6);
}

static void test_gptq3_g128(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 3, .group = 128, .pow2 = 1, .seed = 16};
    expect_exact("gptq 3-bit g128", &spec, gptq_config(3, 128, 0, 0, "gptq"), LOWBIT_FORMAT_Q4_1);
    /* with act-order: requantized, within the documented NMSE */
    const layer_spec ordered = {.bits = 3, .group = 128, .sym = 1, .act_order = 1, .seed = 17};
    compare_result c;
    assert_int_equal(import_layer("gptq 3-bit g128 act-order", &ordered, gptq_config(3, 128, 1, 1, "gptq"), NULL, &c),
                     LOWBIT_FORMAT_Q8_0);
    assert_true(c.nmse <= ACT_ORDER_NMSE_LIMIT);
}

static void test_gptq2_g64(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 2, .group = 64, .pow2 = 1, .seed = 18};
    expect_exact("gptq 2-bit g64", &spec, gptq_config(2, 64, 0, 0, "gptq"), LOWBIT_FORMAT_Q4_1);
}

static void test_gptq8_g32(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 8, .group = 32, .sym = 1, .seed = 19};
    expect_exact("gptq 8-bit g32 sym", &spec, gptq_config(8, 32, 1, 0, "gptq"), LOWBIT_FORMAT_Q8_0);
}

static void test_gptq_v2_zeros(void **state)
{
    (void)state;
    /* asymmetric, said by the config */
    const layer_spec asym = {.bits = 4, .group = 32, .v2 = 1, .pow2 = 1, .seed = 20};
    expect_exact("gptq_v2 4-bit g32 asym", &asym, gptq_config(4, 32, 0, 0, "gptq_v2"), LOWBIT_FORMAT_Q4_1);
    assert_non_null(strstr(output, "\"zeros\": \"v2\""));
    /* symmetric v2 zeros under a config that says "gptq": auto trusts the zeros */
    const layer_spec sym = {.bits = 4, .group = 32, .sym = 1, .v2 = 1, .pow2 = 1, .seed = 21};
    expect_exact("gptq_v2 sym, format gptq", &sym, gptq_config(4, 32, 1, 0, "gptq"), LOWBIT_FORMAT_Q4_1);
    assert_non_null(strstr(output, "\"zeros\": \"v2\""));
    assert_non_null(strstr(output, "although checkpoint_format says gptq"));
    /* forcing v1 on them is honoured (and the values are then off by one step) */
    const char *const extra[] = {"--gptq-zeros", "v1", NULL};
    compare_result c;
    import_layer("gptq_v2 sym, forced v1", &sym, gptq_config(4, 32, 1, 0, "gptq"), extra, &c);
    assert_non_null(strstr(output, "\"zeros\": \"v1\""));
    assert_true(c.inexact_blocks > 0);
}

static const char *awq_config(int group)
{
    static char text[256];
    snprintf(text, sizeof text,
             "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": %d, "
             "\"zero_point\": true, \"version\": \"gemm\"}}",
             group);
    return text;
}

static void test_awq(void **state)
{
    (void)state;
    const layer_spec g32 = {.bits = 4, .group = 32, .awq = 1, .pow2 = 1, .seed = 22};
    expect_exact("awq 4-bit g32", &g32, awq_config(32), LOWBIT_FORMAT_Q4_1);
    const layer_spec g128 = {.bits = 4, .group = 128, .awq = 1, .pow2 = 1, .seed = 23};
    expect_exact("awq 4-bit g128", &g128, awq_config(128), LOWBIT_FORMAT_Q4_1);
    /* AutoAWQ's own quant_config.json spelling */
    expect_exact("awq 4-bit g128 (w_bit)", &g128,
                 "{\"zero_point\": true, \"q_group_size\": 128, \"w_bit\": 4, \"version\": \"GEMM\", "
                 "\"quant_method\": \"awq\"}",
                 LOWBIT_FORMAT_Q4_1);
}

static void test_ternary(void **state)
{
    (void)state;
    const float s = 0.078125f; /* a half, as BitNet's per-tensor absmean scale would be after f16 export */
    static float weights[ROWS * COLS], dense[ROWS * COLS];
    uint64_t rng = 99;
    for (size_t i = 0; i < ROWS * COLS; ++i)
        weights[i] = s * (float)((int)(next_random(&rng) % 3) - 1);
    test_fill_random(dense, ROWS * COLS, 7, 1.0f);
    for (size_t i = 0; i < COLS; ++i)
        norm_weights[i] = 1.0f;
    const st_tensor tensors[] = {
        {"model.norm.weight", "F32", 1, {COLS, 1}, norm_weights, sizeof norm_weights},
        {"model.layers.0.mlp.up_proj.weight", "F32", 2, {ROWS, COLS}, weights, sizeof weights},
        {"model.embed_tokens.weight", "F32", 2, {ROWS, COLS}, dense, sizeof dense},
    };
    char in[1024], out[1024];
    path_in(in, sizeof in, "ternary.safetensors");
    path_in(out, sizeof out, "ternary.gguf");
    write_safetensors(in, tensors, 3, 0);
    static const int types[] = {LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_TQ1_0};
    for (int t = 0; t < 2; ++t) {
        const char *args[] = {"--json", "--method", "ternary", "--ternary-type", lowbit_format_name(types[t]),
                              in,       out,        NULL};
        assert_int_equal(run_import(args), 0);
        static float got[ROWS * COLS];
        assert_int_equal(read_back(out, "model.layers.0.mlp.up_proj.weight", got), types[t]);
        const compare_result c = compare(got, weights);
        print_message("ternary -> %-5s max|diff| %.3g  inexact blocks %zu\n", lowbit_format_name(types[t]),
                      c.max_abs_diff, c.inexact_blocks);
        assert_memory_equal(got, weights, sizeof weights);
        /* the dense tensor is no ternary one: carried as it was */
        assert_int_equal(read_back(out, "model.embed_tokens.weight", got), LOWBIT_FORMAT_F32);
        assert_memory_equal(got, dense, sizeof dense);
        assert_non_null(strstr(output, "\"inexact\": 0"));
        assert_non_null(strstr(output, "not ternary"));
    }
}

/* --- broken inputs ----------------------------------------------------------------------------- */

/* Runs the tool on `tensors` with a GPTQ 4-bit g32 config and expects status 1 and `message`. */
static void expect_failure(const st_tensor *tensors, size_t count, size_t cut, const char *config, const char *message)
{
    char in[1024], out[1024], config_path[1024];
    path_in(in, sizeof in, "bad.safetensors");
    path_in(out, sizeof out, "bad.gguf");
    path_in(config_path, sizeof config_path, "bad-config.json");
    remove(out);
    write_safetensors(in, tensors, count, cut);
    write_text(config_path, config ? config : gptq_config(4, 32, 1, 0, "gptq"));
    const char *args[] = {"--config", config_path, in, out, NULL};
    assert_int_equal(run_import(args), 1);
    if (!strstr(output, message)) print_error("expected '%s' in:\n%s\n", message, output);
    assert_non_null(strstr(output, message));
    FILE *file = fopen(out, "rb");
    assert_null(file); /* nothing written */
}

static void test_bad_inputs(void **state)
{
    (void)state;
    const layer_spec spec = {.bits = 4, .group = 32, .sym = 1, .pow2 = 1, .seed = 30};
    layer_fixture *f = make_layer(&spec);
    st_tensor t[8];
    size_t count = layer_tensors(f, &spec, t);
    /* the scales of another group size */
    st_tensor wrong[8];
    memcpy(wrong, t, sizeof wrong);
    wrong[4].shape[0] = 4;
    wrong[4].size = 4 * ROWS * 2;
    expect_failure(wrong, count, 0, NULL, "'" LAYER ".scales' has shape [4, 64]");
    /* a config that disagrees with the packed shapes */
    expect_failure(t, count, 0, gptq_config(3, 32, 1, 0, "gptq"), LAYER ".qweight");
    /* no qzeros */
    memcpy(wrong, t, sizeof wrong);
    memmove(&wrong[3], &wrong[4], (count - 4) * sizeof *wrong);
    expect_failure(wrong, count - 1, 0, NULL, "'" LAYER ".qzeros' is missing");
    /* g_idx out of range */
    f->g_idx[100] = 8;
    expect_failure(t, count, 0, NULL, "'" LAYER ".g_idx'[100] = 8 is outside the 8 groups");
    f->g_idx[100] = -1;
    expect_failure(t, count, 0, NULL, "'" LAYER ".g_idx'[100] = -1 is outside");
    f->g_idx[100] = 100 / 32;
    /* a scale that is not finite */
    f->scales[5] = 0x7C00;
    expect_failure(t, count, 0, NULL, "'" LAYER ".scales'[0][5] is not finite");
    f->scales[5] = 0x3C00;
    /* qweight of the wrong dtype */
    memcpy(wrong, t, sizeof wrong);
    wrong[2].dtype = "F32";
    expect_failure(wrong, count, 0, NULL, "must be an I32 tensor");
    /* a truncated file */
    expect_failure(t, count, 100, NULL, "cannot read the checkpoint");
    /* broken configs */
    expect_failure(t, count, 0, "{\"quantization_config\": {\"bits\": 4,", "is not valid JSON");
    expect_failure(t, count, 0, "{\"quantization_config\": {\"bits\": \"four\"}}", "'bits' must be an integer");
    expect_failure(t, count, 0, "{\"quantization_config\": {\"bits\": 5, \"group_size\": 32}}", "bits 5");
    expect_failure(t, count, 0, "{\"quantization_config\": {\"quant_method\": \"fp8\"}}", "quant_method 'fp8'");
    expect_failure(t, count, 0, "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}}",
                   "group size is unknown");
    expect_failure(t, count, 0, "{\"architectures\": []}", "neither --method nor a config");
    free(f);
    /* usage errors: status 2 */
    const char *unknown[] = {"--frobnicate", "a", "b", NULL};
    assert_int_equal(run_import(unknown), 2);
    const char *bad_bits[] = {"--bits", "5", "a", "b", NULL};
    assert_int_equal(run_import(bad_bits), 2);
    assert_non_null(strstr(output, "--bits wants"));
    const char *help[] = {"--help", NULL};
    assert_int_equal(run_import(help), 0);
    assert_non_null(strstr(output, "usage: lowbit-import"));
}

static int setup(void **state)
{
    (void)state;
    if (test_temp_dir_create(test_dir, sizeof test_dir, "test_import") != 0) return -1;
    path_in(log_path, sizeof log_path, "tool-output.txt");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_temp_dir_remove(test_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gptq4_g32_sym_v1),
        cmocka_unit_test(test_gptq4_g32_asym),
        cmocka_unit_test(test_gptq4_g32_inexact_m_is_reported),
        cmocka_unit_test(test_gptq4_g128_exact),
        cmocka_unit_test(test_gptq4_g128_act_order),
        cmocka_unit_test(test_gptq3_g128),
        cmocka_unit_test(test_gptq2_g64),
        cmocka_unit_test(test_gptq8_g32),
        cmocka_unit_test(test_gptq_v2_zeros),
        cmocka_unit_test(test_awq),
        cmocka_unit_test(test_ternary),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
