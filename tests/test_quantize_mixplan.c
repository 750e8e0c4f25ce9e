/* test_quantize_mixplan.c — lowbit-quantize's mixed-precision planner: the knapsack solver against brute force and
 * its budgets, then --plan end to end on a small model with a Hessian file (the output within the budget, the plan
 * file re-applied to the same formats, --explain), on an input already in the rules' formats, with a device's GEMV
 * times, and every bad input (options, budgets, plan files). Nothing is timed: the device case checks that times were
 * recorded, not what they are. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lowbit/lowbit.h"
#include "lowbit/lowbit_format.h"
#include "lowbit/lowbit_io.h"
#include "test_support.h"
#include "tools/quantize/quantize_mixplan.h"

enum { RUN_LIMIT = 600 };

static char dir[512], model[600], hessian[600], out[600], plan[600], costs[600], log_path[600];
static char output[65536];

/* --- the solver ---------------------------------------------------------------------------------- */
static double total(const quantize_mix_choice *const *c, const size_t *picks, size_t count, int field)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; ++i)
        sum += field == 0 ? c[i][picks[i]].bytes : field == 1 ? c[i][picks[i]].seconds : c[i][picks[i]].error;
    return sum;
}

/* The best error over every assignment within the budgets (brute force), or INFINITY. */
static double brute_force(const quantize_mix_choice *const *c, const size_t *sizes, size_t count, double bytes,
                          double seconds)
{
    size_t picks[8] = {0};
    double best = INFINITY;
    for (;;) {
        if ((bytes <= 0 || total(c, picks, count, 0) <= bytes) &&
            (seconds <= 0 || total(c, picks, count, 1) <= seconds))
            best = fmin(best, total(c, picks, count, 2));
        size_t i = 0;
        while (i < count && ++picks[i] == sizes[i])
            picks[i++] = 0;
        if (i == count) return best;
    }
}

static void test_solver_convex(void **state)
{
    (void)state;
    /* convex error curves (halving per step, different scales): the greedy is exact at the hull's breakpoints */
    static const quantize_mix_choice a[] = {{10, 0, 8}, {20, 0, 4}, {30, 0, 2}, {40, 0, 1}},
                                     b[] = {{10, 0, 1}, {20, 0, 0.5}, {30, 0, 0.25}},
                                     c[] = {{5, 0, 30}, {10, 0, 10}, {20, 0, 5}};
    const quantize_mix_choice *choices[] = {a, b, c};
    const size_t sizes[] = {4, 3, 3};
    size_t picks[3];
    for (double budget = 25; budget <= 90; budget += 5) {
        assert_int_equal(quantize_mix_solve(choices, sizes, 3, budget, 0, picks), 0);
        assert_true(total(choices, picks, 3, 0) <= budget);
        assert_true(total(choices, picks, 3, 2) <= brute_force(choices, sizes, 3, budget, 0) + 1e-12);
    }
    /* below the cheapest choices: refused */
    assert_int_equal(quantize_mix_solve(choices, sizes, 3, 24, 0, picks), -1);
}

static void test_solver_random(void **state)
{
    (void)state;
    /* random instances: always within budget, never worse than every uniform choice that fits, and within 25% of
     * the brute-force optimum (the greedy plus the fill step is near-optimal, not exact, off the hull) */
    srand(7);
    quantize_mix_choice store[5][6];
    const quantize_mix_choice *choices[5];
    size_t sizes[5], picks[5];
    double worst = 1.0, mean = 0.0;
    int solved = 0;
    for (int round = 0; round < 200; ++round) {
        for (size_t i = 0; i < 5; ++i) {
            double bytes = 1 + rand() % 4, error = 1 + rand() % 100, seconds = 1 + rand() % 3;
            sizes[i] = 6;
            for (size_t j = 0; j < 6; ++j) {
                store[i][j] = (quantize_mix_choice){bytes, seconds, error};
                bytes += 1 + rand() % 5, seconds += rand() % 3, error *= 0.3 + 0.5 * rand() / (double)RAND_MAX;
            }
            choices[i] = store[i];
        }
        const double budget = 20 + rand() % 60, time_budget = round % 2 ? 10 + rand() % 30 : 0;
        const double best = brute_force(choices, sizes, 5, budget, time_budget);
        const int rc = quantize_mix_solve(choices, sizes, 5, budget, time_budget, picks);
        if (!isfinite(best)) continue; /* the cheapest choices by the combined measure may still fit: no claim */
        assert_int_equal(rc, 0);
        assert_true(total(choices, picks, 5, 0) <= budget);
        if (time_budget > 0) assert_true(total(choices, picks, 5, 1) <= time_budget);
        const double ratio = total(choices, picks, 5, 2) / best;
        worst = fmax(worst, ratio), mean += ratio, ++solved;
        assert_true(ratio <= 1.25 + 1e-9);
    }
    print_message("greedy + fill + exchanges vs brute force over %d instances: mean %.4f, worst %.4f\n", solved,
                  mean / solved, worst);
    assert_true(mean / solved <= 1.02);
}

/* --- fixtures ------------------------------------------------------------------------------------ */
static float *random_matrix(size_t rows, size_t cols, unsigned seed)
{
    float *m = malloc(rows * cols * sizeof *m);
    assert_non_null(m);
    srand(seed);
    for (size_t i = 0; i < rows * cols; ++i)
        m[i] = (float)((rand() / (double)RAND_MAX - 0.5) * (1.0 + (double)(i % cols) / (double)cols));
    return m;
}

/* A two-block model: embeddings, q and down per block (down rows of 512), a norm, and an output matrix. */
static void write_model(void)
{
    lowbit_gguf_writer *writer = NULL;
    assert_int_equal(lowbit_gguf_writer_create(&writer), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_string(writer, "general.architecture", "llama"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(writer, "llama.block_count", LOWBIT_GGUF_UINT32, 2), LOWBIT_OK);
    static const struct {
        const char *name;
        uint64_t cols, rows;
    } tensors[] = {{"token_embd.weight", 256, 96},    {"blk.0.attn_norm.weight", 256, 0},
                   {"blk.0.attn_q.weight", 256, 128}, {"blk.0.ffn_down.weight", 512, 256},
                   {"blk.1.attn_q.weight", 256, 128}, {"blk.1.ffn_down.weight", 512, 256},
                   {"output.weight", 256, 96}};
    float *data[7];
    for (size_t i = 0; i < 7; ++i) {
        const uint64_t rows = tensors[i].rows ? tensors[i].rows : 1, ne[2] = {tensors[i].cols, rows};
        data[i] = random_matrix(rows, tensors[i].cols, (unsigned)(11 + i));
        assert_int_equal(lowbit_gguf_writer_add_tensor(writer, tensors[i].name, LOWBIT_FORMAT_F32,
                                                       tensors[i].rows ? 2 : 1, ne, data[i],
                                                       rows * tensors[i].cols * sizeof(float)),
                         LOWBIT_OK);
    }
    assert_int_equal(lowbit_gguf_writer_write(writer, model), LOWBIT_OK);
    lowbit_gguf_writer_destroy(writer);
    for (size_t i = 0; i < 7; ++i)
        free(data[i]);
}

/* Hessians for q (256 columns, correlated channels) and down (512, a few loud channels), blocks 0 and 1. */
static void write_hessians(void)
{
    lowbit_gguf_writer *writer = NULL;
    assert_int_equal(lowbit_gguf_writer_create(&writer), LOWBIT_OK);
    const char *names[] = {"blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.1.attn_q.weight",
                           "blk.1.ffn_down.weight"};
    const uint32_t inputs[] = {0, 1, 2, 3};
    const uint64_t tokens[] = {1000, 1000, 1000, 1000};
    lowbit_gguf_array a_names = {LOWBIT_GGUF_STRING, 4, names}, a_inputs = {LOWBIT_GGUF_UINT32, 4, inputs},
                      a_tokens = {LOWBIT_GGUF_UINT64, 4, tokens};
    assert_int_equal(lowbit_gguf_writer_set_string(writer, "general.type", "lowbit-hessian"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(writer, "lowbit.hessian.version", LOWBIT_GGUF_UINT32, 1), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_array(writer, "lowbit.hessian.weights", &a_names), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_array(writer, "lowbit.hessian.inputs", &a_inputs), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_array(writer, "lowbit.hessian.tokens", &a_tokens), LOWBIT_OK);
    float *h[4];
    for (int k = 0; k < 4; ++k) {
        const size_t n = k % 2 ? 512 : 256;
        h[k] = calloc(n * n, sizeof *h[k]);
        assert_non_null(h[k]);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; ++j)
                h[k][i * n + j] = i == j ? (k % 2 && i % 37 == 0 ? 50.0f : 1.0f) : (k % 2 ? 0.0f : 0.3f);
        char name[32];
        snprintf(name, sizeof name, "hessian.%d", k);
        const uint64_t ne[2] = {n, n};
        assert_int_equal(
            lowbit_gguf_writer_add_tensor(writer, name, LOWBIT_FORMAT_F32, 2, ne, h[k], n * n * sizeof(float)),
            LOWBIT_OK);
    }
    assert_int_equal(lowbit_gguf_writer_write(writer, hessian), LOWBIT_OK);
    lowbit_gguf_writer_destroy(writer);
    for (int k = 0; k < 4; ++k)
        free(h[k]);
}

static int setup(void **state)
{
    (void)state;
    if (test_temp_dir_create(dir, sizeof dir, "test_quantize_mixplan") != 0) return -1;
    snprintf(model, sizeof model, "%s/model.gguf", dir);
    snprintf(hessian, sizeof hessian, "%s/model.hessian.gguf", dir);
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    snprintf(plan, sizeof plan, "%s/plan.json", dir);
    snprintf(costs, sizeof costs, "%s/costs.json", dir);
    snprintf(log_path, sizeof log_path, "%s/log.txt", dir);
    write_model();
    write_hessians();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_temp_dir_remove(dir);
    return 0;
}

static int quantize(const char *const *args)
{
    return test_run_tool("lowbit-quantize", args, NULL, log_path, RUN_LIMIT, output, sizeof output);
}

/* Bits per weight of a GGUF file's tensors, and the format of `name` (when not NULL). */
static double file_bpw(const char *path, const char *name, int *format)
{
    lowbit_gguf *gguf = NULL;
    assert_int_equal(lowbit_gguf_open(path, &gguf), LOWBIT_OK);
    size_t count = 0;
    double bytes = 0, elements = 0;
    lowbit_gguf_tensor_count(gguf, &count);
    for (size_t i = 0; i < count; ++i) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_gguf_tensor_get(gguf, i, &info), LOWBIT_OK);
        bytes += (double)info.size;
        elements += (double)(info.ne[0] * info.ne[1] * info.ne[2] * info.ne[3]);
        if (name && strcmp(info.name, name) == 0) *format = info.type;
    }
    lowbit_gguf_close(gguf);
    return 8.0 * bytes / elements;
}

static void read_file(const char *path, char *text, size_t size)
{
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    size_t got = fread(text, 1, size - 1, file);
    text[got] = '\0';
    fclose(file);
}

/* --- end to end ---------------------------------------------------------------------------------- */
static void test_plan_within_budget_and_reapplied(void **state)
{
    (void)state;
    static const char *const budgets[] = {"3.6", "4.5", "6"};
    static const char *const names[] = {"blk.0.attn_q.weight",   "blk.0.ffn_down.weight", "blk.1.attn_q.weight",
                                        "blk.1.ffn_down.weight", "token_embd.weight",     "output.weight"};
    for (size_t b = 0; b < 3; ++b) {
        const char *args[] = {"--plan", "--target-bpw", budgets[b], "--hessian", hessian, "--plan-out",
                              plan,     "--explain",    model,      out,         NULL};
        assert_int_equal(quantize(args), 0);
        const double bpw = file_bpw(out, NULL, NULL);
        print_message("budget %s bpw: the planned file has %.3f\n", budgets[b], bpw);
        assert_true(bpw <= atof(budgets[b]) + 1e-9);
        assert_true(bpw >= atof(budgets[b]) - 1.0); /* the budget is used, not ignored */
        /* --explain names every planned matrix, and the report says why */
        for (size_t i = 0; i < 6; ++i)
            assert_non_null(strstr(output, names[i]));
        assert_non_null(strstr(output, "rel.error"));
        assert_non_null(strstr(output, "plan:"));
        int formats[6], again[6];
        for (size_t i = 0; i < 6; ++i)
            file_bpw(out, names[i], &formats[i]);
        /* the plan file reproduces the formats */
        char text[65536];
        read_file(plan, text, sizeof text);
        assert_non_null(strstr(text, "\"kind\": \"lowbit-quantize plan\""));
        assert_non_null(strstr(text, "\"weighting\": \"hessian\""));
        const char *apply[] = {"--plan-file", plan, model, out, NULL};
        assert_int_equal(quantize(apply), 0);
        for (size_t i = 0; i < 6; ++i) {
            file_bpw(out, names[i], &again[i]);
            assert_int_equal(again[i], formats[i]);
        }
        /* the measurements of the first budget's plan, reused: the same plan without measuring again */
        if (b == 0) {
            assert_int_equal(rename(plan, costs), 0);
            continue;
        }
        const char *reuse[] = {"--plan", "--target-bpw", budgets[b], "--hessian", hessian, "--plan-costs",
                               costs,    "--plan-out",   plan,       model,       out,     NULL};
        assert_int_equal(quantize(reuse), 0);
        for (size_t i = 0; i < 6; ++i) {
            file_bpw(out, names[i], &again[i]);
            assert_int_equal(again[i], formats[i]);
        }
    }
    /* a pinned tensor keeps its format and its bytes count against the budget */
    const char *pinned[] = {"--plan", "--target-bpw", "5",  "--hessian", hessian, "--output-tensor-type",
                            "Q8_0",   "--plan-out",   plan, model,       out,     NULL};
    assert_int_equal(quantize(pinned), 0);
    int format = -1;
    assert_true(file_bpw(out, "output.weight", &format) <= 5.0 + 1e-9);
    assert_int_equal(format, LOWBIT_FORMAT_Q8_0);
}

/* A copy of a tensor's bytes, to compare two files. */
static void *tensor_bytes(const char *path, const char *name, int *format, uint64_t *size)
{
    lowbit_gguf *gguf = NULL;
    assert_int_equal(lowbit_gguf_open(path, &gguf), LOWBIT_OK);
    size_t index = LOWBIT_NOT_FOUND;
    assert_int_equal(lowbit_gguf_tensor_find(gguf, name, &index), LOWBIT_OK);
    assert_true(index != LOWBIT_NOT_FOUND);
    lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_gguf_tensor_get(gguf, index, &info), LOWBIT_OK);
    void *copy = malloc(info.size);
    assert_non_null(copy);
    memcpy(copy, info.data, info.size);
    *format = info.type, *size = info.size;
    lowbit_gguf_close(gguf);
    return copy;
}

/* A model already in the TYPE's formats (a Q4_K_M file planned with the Q4_K_M rules): the rules would copy every
 * matrix, the planner still plans them all, and a matrix it leaves in its source format is copied byte for byte. */
static void test_plan_already_quantized_input(void **state)
{
    (void)state;
    char source[600];
    snprintf(source, sizeof source, "%s/q4km.gguf", dir);
    const char *make[] = {model, source, "Q4_K_M", NULL};
    assert_int_equal(quantize(make), 0);
    const double source_bpw = file_bpw(source, NULL, NULL);
    /* without --allow-requantize nothing may be requantized, so there is nothing to plan */
    const char *refused[] = {"--plan", "--target-bpw", "8", source, out, NULL};
    assert_int_not_equal(quantize(refused), 0);
    assert_non_null(strstr(output, "no matrix to plan"));
    static const char *const names[] = {"blk.0.attn_q.weight",   "blk.0.ffn_down.weight", "blk.1.attn_q.weight",
                                        "blk.1.ffn_down.weight", "token_embd.weight",     "output.weight"};
    /* a small budget moves matrices down; a budget of the source's own size lets every one stay as it is */
    char budget[32];
    snprintf(budget, sizeof budget, "%.6f", source_bpw - 0.7);
    const char *smaller[] = {"--plan", "--allow-requantize", "--target-bpw", budget, "--hessian", hessian, "--plan-out",
                             plan,     "--explain",          source,         out,    NULL};
    assert_int_equal(quantize(smaller), 0);
    for (size_t i = 0; i < 6; ++i)
        assert_non_null(strstr(output, names[i]));
    assert_true(file_bpw(out, NULL, NULL) <= source_bpw - 0.7 + 1e-9);
    snprintf(budget, sizeof budget, "%.6f", source_bpw + 1e-6);
    const char *same[] = {"--plan", "--allow-requantize", "--target-bpw", budget, "--hessian",
                          hessian,  "--plan-out",         plan,           source, out,
                          NULL};
    assert_int_equal(quantize(same), 0);
    size_t copied = 0;
    for (size_t i = 0; i < 6; ++i) {
        int from = -1, to = -2;
        uint64_t from_size = 0, to_size = 0;
        void *a = tensor_bytes(source, names[i], &from, &from_size), *b = tensor_bytes(out, names[i], &to, &to_size);
        if (from == to) {
            assert_int_equal(from_size, to_size);
            assert_memory_equal(a, b, from_size); /* its own format: copied, not requantized */
            ++copied;
        }
        free(a), free(b);
    }
    print_message("%zu of 6 matrices kept their source format at the source's size\n", copied);
    assert_true(copied >= 1);
}

static void test_plan_with_device_times(void **state)
{
    (void)state;
    const char *args[] = {
        "--plan",         "--target-size", "400K", "--device",  "cpu", "--target-ms", "1000", "--plan-formats",
        "Q4_0,Q4_K,Q8_0", "--plan-out",    plan,   "--explain", model, out,           NULL};
    const int status = quantize(args);
    if (status != 0) print_message("%s\n", output);
    assert_int_equal(status, 0);
    assert_non_null(strstr(output, "us/token"));
    assert_non_null(strstr(output, "of GEMV per token on cpu"));
    char text[65536];
    read_file(plan, text, sizeof text);
    assert_non_null(strstr(text, "\"device\": \"cpu\""));
    assert_non_null(strstr(text, "\"weighting\": \"none\"")); /* no --hessian, no --imatrix: unweighted */
    assert_null(strstr(text, "\"seconds\": 0,"));             /* every candidate was timed */
}

/* The command the planner was specified by, on each GPU-API device present (PoCL and lavapipe in CI):
 * --plan --device ID --target-bpw 3.5 gives a file within 3.5 bpw and an explanation with the device's times. */
static void plan_on_device(lowbit_api api, const char *id)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(api, &device);
    if (!context) skip();
    lowbit_context_destroy(context);
    const char *args[] = {"--plan",
                          "--device",
                          id,
                          "--target-bpw",
                          "3.5",
                          "--hessian",
                          hessian,
                          "--plan-formats",
                          "Q2_K,Q3_K,Q4_0,Q4_K",
                          "--plan-out",
                          plan,
                          "--explain",
                          model,
                          out,
                          NULL};
    const int status = quantize(args);
    if (status != 0) print_message("%s\n", output);
    assert_int_equal(status, 0);
    assert_true(file_bpw(out, NULL, NULL) <= 3.5 + 1e-9);
    char expected[64];
    snprintf(expected, sizeof expected, "of GEMV per token on %s", id);
    assert_non_null(strstr(output, expected));
    assert_non_null(strstr(output, "us/token"));
    char text[65536];
    read_file(plan, text, sizeof text);
    snprintf(expected, sizeof expected, "\"device\": \"%s\"", id);
    assert_non_null(strstr(text, expected));
    assert_null(strstr(text, "\"seconds\": 0}")); /* every candidate was timed there (no time budget: the budget's
                                                      seconds are 0) */
}

static void test_plan_on_opencl(void **state)
{
    (void)state;
    plan_on_device(LOWBIT_API_OPENCL, "opencl:0");
}

static void test_plan_on_vulkan(void **state)
{
    (void)state;
    plan_on_device(LOWBIT_API_VULKAN, "vulkan:0");
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *args[12];
        int status;
        const char *message;
    } cases[] = {
        {{"--plan", "MODEL", "OUT", NULL}, 2, "--plan needs a budget"},
        {{"--target-bpw", "4", "MODEL", "OUT", "Q4_K_M", NULL}, 2, "--target-bpw is only used by --plan"},
        {{"--plan", "--target-ms", "3", "MODEL", "OUT", NULL}, 2, "--target-ms needs --device"},
        {{"--plan", "--target-bpw", "-1", "MODEL", "OUT", NULL}, 2, "--target-bpw wants a number"},
        {{"--plan", "--target-size", "12Q", "MODEL", "OUT", NULL}, 2, "--target-size wants a byte count"},
        {{"--plan", "--target-bpw", "4", "--plan-formats", "Q4_K,Q9_9", "MODEL", "OUT", NULL}, 2, "unknown"},
        {{"--plan", "--target-bpw", "4", "--plan-formats", "Q4_K,Q4_K", "MODEL", "OUT", NULL}, 2, "twice"},
        {{"--plan", "--plan-file", "PLAN", "--target-bpw", "4", "MODEL", "OUT", NULL}, 2, "give one of them"},
        {{"--plan", "--target-bpw", "3", "MODEL", "OUT", NULL}, 1, "the budget cannot be met"},
        {{"--plan", "--target-bpw", "4", "--plan-out", "MODEL", "MODEL", "OUT", NULL}, 1, "refusing to write the plan"},
        {{"--plan", "--target-bpw", "4", "--plan-sensitivity", "attn_v", "MODEL", "OUT", NULL}, 2, "KEY=WEIGHT"},
        {{"--plan", "--target-bpw", "4", "--device", "nosuch:7", "MODEL", "OUT", NULL}, 1, "--device"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const char *args[12] = {0};
        for (size_t i = 0; cases[c].args[i]; ++i)
            args[i] = strcmp(cases[c].args[i], "MODEL") == 0  ? model
                      : strcmp(cases[c].args[i], "OUT") == 0  ? out
                      : strcmp(cases[c].args[i], "PLAN") == 0 ? plan
                                                              : cases[c].args[i];
        const int status = quantize(args);
        print_message("case %zu: exit %d: %.200s\n", c, status, output);
        assert_int_equal(status, cases[c].status);
        assert_non_null(strstr(output, cases[c].message));
    }
    /* plan files: not JSON, another kind, unknown tensor, unknown format, a format that does not fit, twice */
    static const struct {
        const char *text, *message;
    } plans[] = {
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 1, \"tensors\": [", "is not valid JSON"},
        {"{\"kind\": \"lowbit_tuning\", \"version\": 1, \"tensors\": []}", "is not a lowbit-quantize plan"},
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 2, \"tensors\": []}", "unsupported \"version\""},
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 1, \"tensors\": [{\"name\": \"blk.9.x\", \"format\": "
         "\"Q4_K\"}]}",
         "which the model does not have"},
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 1, \"tensors\": [{\"name\": \"blk.0.attn_q.weight\", "
         "\"format\": \"Q4_Z\"}]}",
         "is unknown or does not fit"},
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 1, \"tensors\": [{\"name\": \"blk.0.attn_norm.weight\", "
         "\"format\": \"Q4_K\"}]}",
         "is not quantized"},
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 1, \"tensors\": [{\"name\": \"blk.0.attn_q.weight\", "
         "\"format\": \"Q4_K\"}, {\"name\": \"blk.0.attn_q.weight\", \"format\": \"Q8_0\"}]}",
         "appears twice"},
        {"{\"kind\": \"lowbit-quantize plan\", \"version\": 1, \"tensors\": [{\"name\": 3}]}",
         "needs string \"name\" and \"format\""},
    };
    for (size_t c = 0; c < sizeof plans / sizeof plans[0]; ++c) {
        write_text(plan, plans[c].text);
        remove(out);
        const char *args[] = {"--plan-file", plan, model, out, NULL};
        const int status = quantize(args);
        print_message("plan %zu: exit %d: %.200s\n", c, status, output);
        assert_int_equal(status, 1);
        assert_non_null(strstr(output, plans[c].message));
        FILE *left = fopen(out, "rb");
        assert_null(left); /* nothing written */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solver_convex),
        cmocka_unit_test(test_solver_random),
        cmocka_unit_test(test_plan_within_budget_and_reapplied),
        cmocka_unit_test(test_plan_already_quantized_input),
        cmocka_unit_test(test_plan_with_device_times),
        cmocka_unit_test(test_plan_on_opencl),
        cmocka_unit_test(test_plan_on_vulkan),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
