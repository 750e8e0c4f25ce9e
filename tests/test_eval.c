/* test_eval.c — lowbit-eval's pure parts: log-softmax, KL divergence, NLL and top-1 on small hand-made vectors
 * against a direct long-double computation (and exact zeros for identical inputs), percentiles and the closing
 * statistics, the reference file (round trip, quantization error, and corrupt, truncated and hostile headers,
 * records and files), the UTF-8 check of the text, and the command line's usage errors. The end-to-end runs of
 * the built tool on a real model are tests/eval/check_eval.cmake (tests/eval.cmake). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "tools/engine/eval_math.h"
#include "tools/engine/eval_options.h"
#include "tools/engine/eval_reference.h"
#include "tools/engine/eval_text.h"

/* KL(P||Q), −log p(next), −log q(next) straight from the definitions, in long double. */
static void direct_scores(const float *x, const float *y, int n, int next, long double *kld, long double *nll_x,
                          long double *nll_y)
{
    long double zx = 0.0L, zy = 0.0L;
    for (int i = 0; i < n; ++i) {
        zx += expl((long double)x[i]);
        zy += expl((long double)y[i]);
    }
    *kld = 0.0L;
    for (int i = 0; i < n; ++i) {
        const long double p = expl((long double)x[i]) / zx, q = expl((long double)y[i]) / zy;
        *kld += p * logl(p / q);
    }
    *nll_x = -logl(expl((long double)x[next]) / zx);
    *nll_y = -logl(expl((long double)y[next]) / zy);
}

static void test_scores_match_the_definitions(void **state)
{
    (void)state;
    const float reference[] = {1.0f, 2.0f, 3.0f, 0.5f, -4.0f};
    const float candidate[] = {1.1f, 1.9f, 3.2f, 0.4f, -3.0f};
    eval_token_score score;
    assert_int_equal(eval_score_logits(reference, candidate, 5, 1, &score), 0);
    long double kld, nll_reference, nll_candidate;
    direct_scores(reference, candidate, 5, 1, &kld, &nll_reference, &nll_candidate);
    assert_true(fabs(score.kld - (double)kld) <= 1e-14);
    assert_true(score.kld > 0.0);
    assert_true(fabs(score.nll_reference - (double)nll_reference) <= 1e-14);
    assert_true(fabs(score.nll_candidate - (double)nll_candidate) <= 1e-14);
    assert_int_equal(score.top_reference, 2);
    assert_int_equal(score.top_candidate, 2);

    /* large logits: the max shift keeps exp finite */
    const float big_reference[] = {1000.0f, 999.0f, 990.0f};
    const float big_candidate[] = {999.5f, 999.25f, 991.0f};
    assert_int_equal(eval_score_logits(big_reference, big_candidate, 3, 0, &score), 0);
    const float shifted_reference[] = {10.0f, 9.0f, 0.0f};
    const float shifted_candidate[] = {8.5f, 8.25f, 0.0f};
    eval_token_score shifted;
    assert_int_equal(eval_score_logits(shifted_reference, shifted_candidate, 3, 0, &shifted), 0);
    assert_true(fabs(score.kld - shifted.kld) <= 1e-12); /* softmax is shift-invariant */
    assert_true(isfinite(score.kld) && score.kld > 0.0);
}

static void test_identical_logits_give_exact_zeros(void **state)
{
    (void)state;
    enum { N = 4096 };
    float *logits = malloc(N * sizeof *logits), *copy = malloc(N * sizeof *copy);
    assert_non_null(logits);
    assert_non_null(copy);
    test_fill_random(logits, N, 17, 12.0f);
    memcpy(copy, logits, N * sizeof *copy);
    eval_totals totals = {0};
    totals.has_candidate = 1;
    for (int next = 0; next < 50; ++next) {
        eval_token_score score;
        logits[next * 7] += 3.0f; /* a different distribution each time */
        copy[next * 7] += 3.0f;
        assert_int_equal(eval_score_logits(logits, copy, N, next * 13, &score), 0);
        assert_true(score.kld == 0.0);
        assert_true(score.nll_reference == score.nll_candidate);
        assert_int_equal(score.top_reference, score.top_candidate);
        assert_int_equal(eval_totals_add(&totals, &score), 0);
    }
    eval_results results = eval_totals_finish(&totals);
    assert_true(results.kld_mean == 0.0 && results.kld_max == 0.0 && results.kld_median == 0.0);
    assert_true(results.kld_p99 == 0.0 && results.kld_standard_error == 0.0);
    assert_true(results.delta_ppl == 0.0 && results.delta_ppl_percent == 0.0);
    assert_true(results.top1_percent == 100.0);
    assert_true(results.ppl_reference == results.ppl_candidate && results.ppl_reference > 1.0);
    eval_totals_free(&totals);
    free(logits);
    free(copy);
}

static void test_infinities_and_invalid_logits(void **state)
{
    (void)state;
    eval_token_score score;
    /* a token the reference rules out adds nothing; the rest is the KLD over the other three */
    const float reference[] = {1.0f, -INFINITY, 2.0f, 0.0f};
    const float candidate[] = {1.0f, 5.0f, 2.0f, 0.0f};
    assert_int_equal(eval_score_logits(reference, candidate, 4, 0, &score), 0);
    /* KL = Σ_{i≠1} p_i log(p_i / q_i) = log(Z_q / Z_p): the candidate's mass on token 1 is missing elsewhere */
    const double z = exp(1.0) + exp(5.0) + exp(2.0) + 1.0, zp = exp(1.0) + exp(2.0) + 1.0;
    assert_true(fabs(score.kld - log(z / zp)) <= 1e-12);
    /* the candidate rules out what the reference does not: infinite */
    const float ruled_out[] = {1.0f, 2.0f, -INFINITY, 0.0f};
    const float plain[] = {1.0f, 2.0f, 3.0f, 0.0f};
    assert_int_equal(eval_score_logits(plain, ruled_out, 4, 0, &score), 0);
    assert_true(isinf(score.kld) && score.kld > 0.0);
    /* NaN, +inf, all -inf, a token outside the vocabulary */
    const float with_nan[] = {1.0f, NAN, 0.0f};
    const float with_inf[] = {1.0f, INFINITY, 0.0f};
    const float nothing[] = {-INFINITY, -INFINITY, -INFINITY};
    const float fine[] = {1.0f, 2.0f, 0.0f};
    assert_int_equal(eval_score_logits(with_nan, fine, 3, 0, &score), -1);
    assert_int_equal(eval_score_logits(fine, with_inf, 3, 0, &score), -1);
    assert_int_equal(eval_score_logits(nothing, fine, 3, 0, &score), -1);
    assert_int_equal(eval_score_logits(fine, fine, 3, 3, &score), -1);
    assert_int_equal(eval_score_logits(fine, fine, 3, -1, &score), -1);
    /* ties: the first index of the maximum */
    const float tied[] = {0.0f, 3.0f, 3.0f, 1.0f};
    double log_sum_exp;
    int32_t top;
    assert_int_equal(eval_log_sum_exp(tied, 4, &log_sum_exp, &top), 0);
    assert_int_equal(top, 1);
    assert_true(fabs(log_sum_exp - log(1.0 + 2.0 * exp(3.0) + exp(1.0))) <= 1e-12);
}

static void test_log_prob_reference_matches_logits(void **state)
{
    (void)state;
    enum { N = 300 };
    float reference[N], candidate[N];
    double log_probs[N];
    test_fill_random(reference, N, 3, 6.0f);
    test_fill_random(candidate, N, 4, 6.0f);
    double log_sum_exp;
    int32_t top;
    assert_int_equal(eval_log_sum_exp(reference, N, &log_sum_exp, &top), 0);
    for (int i = 0; i < N; ++i)
        log_probs[i] = (double)reference[i] - log_sum_exp;
    eval_token_score from_logits, from_log_probs;
    assert_int_equal(eval_score_logits(reference, candidate, N, 42, &from_logits), 0);
    assert_int_equal(
        eval_score_log_probs(log_probs, top, log_sum_exp - (double)reference[42], candidate, N, 42, &from_log_probs),
        0);
    assert_true(fabs(from_logits.kld - from_log_probs.kld) <= 1e-14);
    assert_true(from_logits.nll_reference == from_log_probs.nll_reference);
    assert_true(from_logits.nll_candidate == from_log_probs.nll_candidate);
    assert_int_equal(from_log_probs.top_reference, top);
    assert_int_equal(eval_score_log_probs(log_probs, N, 1.0, candidate, N, 0, &from_log_probs), -1);
}

static void test_percentiles(void **state)
{
    (void)state;
    const double four[] = {1.0, 2.0, 3.0, 4.0};
    assert_true(eval_percentile(four, 4, 0.5) == 2.5);
    assert_true(eval_percentile(four, 4, 0.0) == 1.0);
    assert_true(eval_percentile(four, 4, 1.0) == 4.0);
    assert_true(fabs(eval_percentile(four, 4, 0.25) - 1.75) <= 1e-15);
    const double three[] = {1.0, 5.0, 9.0};
    assert_true(eval_percentile(three, 3, 0.5) == 5.0);
    const double one[] = {7.0};
    assert_true(eval_percentile(one, 1, 0.99) == 7.0);
    double hundred[100];
    for (int i = 0; i < 100; ++i)
        hundred[i] = i + 1;
    assert_true(fabs(eval_percentile(hundred, 100, 0.99) - 99.01) <= 1e-12);
    assert_true(eval_percentile(hundred, 0, 0.5) == 0.0);
}

static void test_totals_statistics(void **state)
{
    (void)state;
    eval_totals totals = {0};
    totals.has_candidate = 1;
    const double klds[] = {0.4, 0.1, 0.3, 0.2};
    for (int i = 0; i < 4; ++i) {
        eval_token_score score = {klds[i], 1.0, 2.0, 5, i == 0 ? 5 : 6};
        assert_int_equal(eval_totals_add(&totals, &score), 0);
    }
    eval_results r = eval_totals_finish(&totals);
    assert_int_equal(r.tokens, 4);
    assert_true(fabs(r.kld_mean - 0.25) <= 1e-15);
    /* sample sd of {.1,.2,.3,.4} = sqrt(0.05/3); standard error = sd / 2 */
    assert_true(fabs(r.kld_standard_error - sqrt(0.05 / 3.0) / 2.0) <= 1e-15);
    assert_true(fabs(r.kld_median - 0.25) <= 1e-15);
    assert_true(r.kld_max == 0.4);
    assert_true(r.top1_percent == 25.0);
    assert_true(fabs(r.ppl_reference - exp(1.0)) <= 1e-12 && fabs(r.ppl_candidate - exp(2.0)) <= 1e-12);
    assert_true(fabs(r.delta_ppl - (exp(2.0) - exp(1.0))) <= 1e-12);
    assert_true(fabs(r.delta_ppl_percent - 100.0 * (exp(1.0) - 1.0)) <= 1e-9);
    eval_totals_free(&totals);

    eval_totals reference_only = {0};
    eval_token_score score = {0.0, 3.0, 0.0, 1, 0};
    assert_int_equal(eval_totals_add(&reference_only, &score), 0);
    r = eval_totals_finish(&reference_only);
    assert_int_equal(r.has_candidate, 0);
    assert_true(fabs(r.ppl_reference - exp(3.0)) <= 1e-12);
    eval_totals_free(&reference_only);
}

/* --- the reference file --- */

enum { VOCAB = 200, CTX = 16, CHUNKS = 2 };

static eval_reference_header small_header(void)
{
    eval_reference_header header;
    eval_reference_header_init(&header, VOCAB, CTX, 1, CHUNKS);
    return header;
}

static void test_record_round_trip_and_precision(void **state)
{
    (void)state;
    eval_reference_header header = small_header();
    unsigned char *record = malloc(header.record_size);
    assert_non_null(record);
    float logits[VOCAB];
    double log_probs[VOCAB];
    char error[256];
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        test_fill_random(logits, VOCAB, seed, 15.0f);
        logits[seed] = -INFINITY; /* probability zero survives the trip */
        assert_int_equal(eval_reference_record_encode(&header, logits, (int32_t)seed + 1, record, error, sizeof error),
                         0);
        eval_reference_record decoded;
        assert_int_equal(eval_reference_record_decode(&header, record, &decoded, log_probs, error, sizeof error), 0);
        double log_sum_exp;
        int32_t top;
        assert_int_equal(eval_log_sum_exp(logits, VOCAB, &log_sum_exp, &top), 0);
        assert_int_equal(decoded.top, top);
        assert_true(decoded.nll == log_sum_exp - (double)logits[seed + 1]); /* exact */
        assert_true(log_probs[seed] == -INFINITY);
        /* every log-probability within half a step (plus the renormalization's shift) */
        for (int i = 0; i < VOCAB; ++i)
            if (i != (int)seed) assert_true(fabs(log_probs[i] - ((double)logits[i] - log_sum_exp)) <= decoded.scale);
        /* the self-KLD through the file is tiny and not negative */
        eval_token_score score;
        assert_int_equal(eval_score_log_probs(log_probs, (int32_t)decoded.top, decoded.nll, logits, VOCAB, 0, &score),
                         0);
        assert_true(score.kld >= 0.0 && score.kld < 1e-7);
    }
    /* a flat distribution: scale 0, every code 0 */
    for (int i = 0; i < VOCAB; ++i)
        logits[i] = 2.0f;
    assert_int_equal(eval_reference_record_encode(&header, logits, 0, record, error, sizeof error), 0);
    eval_reference_record decoded;
    assert_int_equal(eval_reference_record_decode(&header, record, &decoded, log_probs, error, sizeof error), 0);
    assert_true(decoded.scale == 0.0f);
    assert_true(fabs(log_probs[17] + log((double)VOCAB)) <= 1e-12);
    /* NaN logits and bad tokens are refused */
    logits[3] = NAN;
    assert_int_equal(eval_reference_record_encode(&header, logits, 0, record, error, sizeof error), -1);
    logits[3] = 0.0f;
    assert_int_equal(eval_reference_record_encode(&header, logits, VOCAB, record, error, sizeof error), -1);
    free(record);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void test_corrupt_records_are_refused(void **state)
{
    (void)state;
    eval_reference_header header = small_header();
    unsigned char *good = malloc(header.record_size), *bad = malloc(header.record_size);
    assert_non_null(good);
    assert_non_null(bad);
    float logits[VOCAB];
    double log_probs[VOCAB];
    char error[256];
    test_fill_random(logits, VOCAB, 9, 8.0f);
    assert_int_equal(eval_reference_record_encode(&header, logits, 5, good, error, sizeof error), 0);
    eval_reference_record record;
    double value;
    float single;
    struct {
        size_t offset;
        int kind; /* 0: f64, 1: f32, 2: u32 */
        double number;
        const char *expect;
    } cases[] = {
        {0, 0, NAN, "NLL"},        {0, 0, -1.0, "NLL"},          {0, 0, INFINITY, "NLL"},  {8, 1, 0.5, "offset"},
        {8, 1, -1000.0, "offset"}, {8, 1, NAN, "offset"},        {12, 1, -0.1, "scale"},   {12, 1, INFINITY, "scale"},
        {16, 2, VOCAB, "top"},     {16, 2, 4294967295.0, "top"}, {20, 2, 1.0, "reserved"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        memcpy(bad, good, header.record_size);
        if (cases[k].kind == 0) {
            value = cases[k].number;
            memcpy(bad + cases[k].offset, &value, sizeof value); /* the tests run on little-endian hosts */
        } else if (cases[k].kind == 1) {
            single = (float)cases[k].number;
            memcpy(bad + cases[k].offset, &single, sizeof single);
        } else
            put32(bad + cases[k].offset, (uint32_t)cases[k].number);
        assert_int_equal(eval_reference_record_decode(&header, bad, &record, log_probs, error, sizeof error), -1);
        assert_non_null(strstr(error, cases[k].expect));
    }
    /* the top token's code must be 0 */
    memcpy(bad, good, header.record_size);
    uint32_t top;
    memcpy(&top, good + 16, sizeof top);
    bad[EVAL_REFERENCE_RECORD_FIXED + 2 * top] = 1;
    assert_int_equal(eval_reference_record_decode(&header, bad, &record, log_probs, error, sizeof error), -1);
    assert_non_null(strstr(error, "top"));
    /* any codes at all are fine otherwise (all at the bottom of the range, say) */
    memcpy(bad, good, header.record_size);
    memset(bad + EVAL_REFERENCE_RECORD_FIXED, 0xFE, 2 * VOCAB);
    bad[EVAL_REFERENCE_RECORD_FIXED + 2 * top] = bad[EVAL_REFERENCE_RECORD_FIXED + 2 * top + 1] = 0;
    assert_int_equal(eval_reference_record_decode(&header, bad, &record, log_probs, error, sizeof error), 0);
    for (int i = 0; i < VOCAB; ++i)
        assert_true(isfinite(log_probs[i]) || log_probs[i] == -INFINITY);
    free(good);
    free(bad);
}

static void test_header_round_trip_and_hostile_headers(void **state)
{
    (void)state;
    eval_reference_header header = small_header(), decoded;
    header.token_hash = 0x0123456789abcdefull;
    unsigned char bytes[EVAL_REFERENCE_HEADER_SIZE], bad[EVAL_REFERENCE_HEADER_SIZE];
    eval_reference_header_encode(&header, bytes);
    const uint64_t size = eval_reference_file_size(&header);
    assert_true(size == 64u + 4u * CHUNKS * CTX + (uint64_t)CHUNKS * (CTX - 1 - CTX / 2) * (24u + 2u * VOCAB));
    char error[256];
    assert_int_equal(eval_reference_header_decode(bytes, sizeof bytes, size, &decoded, error, sizeof error), 0);
    assert_memory_equal(&header, &decoded, sizeof header);

    /* truncated: a short header, or a file one byte short or long */
    assert_int_equal(eval_reference_header_decode(bytes, 63, size, &decoded, error, sizeof error), -1);
    assert_non_null(strstr(error, "truncated"));
    assert_int_equal(eval_reference_header_decode(bytes, sizeof bytes, 10, &decoded, error, sizeof error), -1);
    assert_int_equal(eval_reference_header_decode(bytes, sizeof bytes, size - 1, &decoded, error, sizeof error), -1);
    assert_non_null(strstr(error, "truncated"));
    assert_int_equal(eval_reference_header_decode(bytes, sizeof bytes, size + 1, &decoded, error, sizeof error), -1);
    assert_non_null(strstr(error, "size mismatch"));

    struct {
        size_t offset;
        uint32_t value;
        const char *expect;
    } cases[] = {
        {0, 0x41414141u, "magic"},
        {8, 2, "version"},
        {8, 0, "version"},
        {12, 65, "header size"},
        {16, 0, "vocabulary"},
        {16, 1u << 25, "vocabulary"},
        {20, 4, "context"},
        {20, 0xFFFFFFFFu, "context"},
        {24, 0x80000000u, "chunk count"},
        {28, CTX / 2 + 1, "scored"},
        {32, 0, "chunk count"},
        {32, 0xFFFFFFFFu, "chunk count"},
        {36, 1, "reserved"},
        {40, 7, "scored"},
        {56, 24 + 2 * VOCAB + 2, "record size"},
        {60, CTX - 1, "scored"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        memcpy(bad, bytes, sizeof bad);
        put32(bad + cases[k].offset, cases[k].value);
        assert_int_equal(eval_reference_header_decode(bad, sizeof bad, size, &decoded, error, sizeof error), -1);
        assert_non_null(strstr(error, cases[k].expect));
    }
    /* consistent fields that describe an enormous file: refused by size, no overflow */
    eval_reference_header huge;
    eval_reference_header_init(&huge, EVAL_REFERENCE_MAX_VOCAB, EVAL_MAX_CTX, 0, 0x7FFFFFFFu);
    eval_reference_header_encode(&huge, bad);
    assert_true(eval_reference_file_size(&huge) > (1ull << 60) || eval_reference_file_size(&huge) == 0);
    assert_int_equal(eval_reference_header_decode(bad, sizeof bad, 1u << 20, &decoded, error, sizeof error), -1);
    /* every byte 0xFF */
    memset(bad, 0xFF, sizeof bad);
    assert_int_equal(eval_reference_header_decode(bad, sizeof bad, size, &decoded, error, sizeof error), -1);
}

static char test_dir[512];

static int make_test_dir(void **state)
{
    (void)state;
    return test_temp_dir_create(test_dir, sizeof test_dir, "test_eval");
}

static int remove_test_dir(void **state)
{
    (void)state;
    test_temp_dir_remove(test_dir);
    return 0;
}

static void chunk_tokens(int32_t *tokens)
{
    for (int i = 0; i < CHUNKS * CTX; ++i)
        tokens[i] = (i * 37 + 11) % VOCAB;
}

/* Writes a whole reference file of random logits; the logits of record r come from seed r + 1. */
static void write_reference(const char *path)
{
    eval_reference_header header = small_header();
    int32_t tokens[CHUNKS * CTX];
    chunk_tokens(tokens);
    eval_reference_writer *writer = NULL;
    char error[256];
    assert_int_equal(eval_reference_writer_open(path, &header, tokens, &writer, error, sizeof error), 0);
    float logits[VOCAB];
    for (uint64_t r = 0; r < header.scored_count; ++r) {
        test_fill_random(logits, VOCAB, r + 1, 10.0f);
        assert_int_equal(eval_reference_writer_add(writer, logits, (int32_t)(r % VOCAB), error, sizeof error), 0);
    }
    assert_int_equal(eval_reference_writer_commit(writer, error, sizeof error), 0);
}

static unsigned char *read_whole(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    fseek(file, 0, SEEK_END);
    *size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *bytes = malloc(*size);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, *size, file), *size);
    fclose(file);
    return bytes;
}

static void write_whole(const char *path, const unsigned char *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    fclose(file);
}

static void test_reference_file_round_trip(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/ref.lbref", test_dir);
    write_reference(path);
    eval_reference_reader *reader = NULL;
    char error[512];
    assert_int_equal(eval_reference_reader_open(path, &reader, error, sizeof error), 0);
    const eval_reference_header *header = eval_reference_reader_header(reader);
    assert_int_equal(header->n_vocab, VOCAB);
    assert_int_equal(header->n_ctx, CTX);
    assert_int_equal(header->skip_chunks, 1);
    assert_int_equal(header->chunk_count, CHUNKS);
    int32_t tokens[CHUNKS * CTX];
    chunk_tokens(tokens);
    assert_memory_equal(eval_reference_reader_tokens(reader), tokens, sizeof tokens);
    double log_probs[VOCAB];
    float logits[VOCAB];
    for (uint64_t r = 0; r < header->scored_count; ++r) {
        eval_reference_record record;
        assert_int_equal(eval_reference_reader_next(reader, &record, log_probs, error, sizeof error), 0);
        test_fill_random(logits, VOCAB, r + 1, 10.0f);
        double log_sum_exp;
        int32_t top;
        assert_int_equal(eval_log_sum_exp(logits, VOCAB, &log_sum_exp, &top), 0);
        assert_int_equal(record.top, top);
        assert_true(record.nll == log_sum_exp - (double)logits[r % VOCAB]);
    }
    eval_reference_record record;
    assert_int_equal(eval_reference_reader_next(reader, &record, log_probs, error, sizeof error), -1);
    eval_reference_reader_close(reader);
    /* nothing but the file itself is left behind */
    char command[1200];
    snprintf(command, sizeof command, "ls '%s' | grep -q tmp-", test_dir);
    assert_int_not_equal(system(command), 0);
}

static void expect_open_failure(const char *path, const char *expect)
{
    eval_reference_reader *reader = NULL;
    char error[512];
    assert_int_equal(eval_reference_reader_open(path, &reader, error, sizeof error), -1);
    assert_null(reader);
    if (!strstr(error, expect)) fail_msg("'%s' does not say '%s'", error, expect);
}

static void test_corrupt_reference_files_are_refused(void **state)
{
    (void)state;
    char path[1024], bad[1024];
    snprintf(path, sizeof path, "%s/ref.lbref", test_dir);
    snprintf(bad, sizeof bad, "%s/bad.lbref", test_dir);
    write_reference(path);
    size_t size;
    unsigned char *bytes = read_whole(path, &size);

    write_whole(bad, bytes, size - 1); /* last byte missing */
    expect_open_failure(bad, "truncated");
    write_whole(bad, bytes, 40); /* inside the header */
    expect_open_failure(bad, "truncated");
    write_whole(bad, bytes, 0); /* empty */
    expect_open_failure(bad, "truncated");
    bytes[3] ^= 0x20; /* magic */
    write_whole(bad, bytes, size);
    expect_open_failure(bad, "magic");
    bytes[3] ^= 0x20;
    const size_t first_token = EVAL_REFERENCE_HEADER_SIZE;
    put32(bytes + first_token + 4, VOCAB); /* a token outside the vocabulary */
    write_whole(bad, bytes, size);
    expect_open_failure(bad, "outside");
    put32(bytes + first_token + 4, 3); /* a valid token, but not the one hashed */
    write_whole(bad, bytes, size);
    expect_open_failure(bad, "hash");
    free(bytes);

    /* a record corrupted in the middle is found when it is read */
    bytes = read_whole(path, &size);
    eval_reference_header header = small_header();
    const size_t second_record = EVAL_REFERENCE_HEADER_SIZE + 4u * CHUNKS * CTX + header.record_size;
    put32(bytes + second_record + 20, 9); /* reserved */
    write_whole(bad, bytes, size);
    eval_reference_reader *reader = NULL;
    char error[512];
    assert_int_equal(eval_reference_reader_open(bad, &reader, error, sizeof error), 0);
    double log_probs[VOCAB];
    eval_reference_record record;
    assert_int_equal(eval_reference_reader_next(reader, &record, log_probs, error, sizeof error), 0);
    assert_int_equal(eval_reference_reader_next(reader, &record, log_probs, error, sizeof error), -1);
    assert_non_null(strstr(error, "record 1"));
    eval_reference_reader_close(reader);
    free(bytes);

    /* not a regular file, missing */
    expect_open_failure(test_dir, "not a regular file");
    snprintf(bad, sizeof bad, "%s/missing.lbref", test_dir);
    expect_open_failure(bad, "cannot open");
}

static void test_unfinished_writer_leaves_nothing(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/unfinished.lbref", test_dir);
    eval_reference_header header = small_header();
    int32_t tokens[CHUNKS * CTX];
    chunk_tokens(tokens);
    eval_reference_writer *writer = NULL;
    char error[256];
    assert_int_equal(eval_reference_writer_open(path, &header, tokens, &writer, error, sizeof error), 0);
    float logits[VOCAB];
    test_fill_random(logits, VOCAB, 1, 1.0f);
    assert_int_equal(eval_reference_writer_add(writer, logits, 0, error, sizeof error), 0);
    assert_int_equal(eval_reference_writer_commit(writer, error, sizeof error), -1); /* records missing */
    assert_non_null(strstr(error, "records"));
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(eval_reference_writer_open(path, &header, tokens, &writer, error, sizeof error), 0);
    eval_reference_writer_abort(writer);
    assert_int_equal(stat(path, &st), -1);
    /* and the folder holds no temporary file either (only what other tests wrote) */
    char command[1200];
    snprintf(command, sizeof command, "ls '%s' | grep -q tmp-", test_dir);
    assert_int_not_equal(system(command), 0);
    /* a folder that does not exist */
    snprintf(path, sizeof path, "%s/no/such/folder/ref.lbref", test_dir);
    assert_int_equal(eval_reference_writer_open(path, &header, tokens, &writer, error, sizeof error), -1);
    assert_null(writer);
}

static void test_utf8_validation(void **state)
{
    (void)state;
    const struct {
        const char *bytes;
        size_t bad_at; /* (size_t)-1: valid */
    } cases[] = {
        {"plain ascii", (size_t)-1},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", (size_t)-1},
        {"\xc3", 0},                 /* truncated 2-byte */
        {"a\xc0\xaf", 1},            /* overlong '/' */
        {"ab\xe0\x80\xaf", 2},       /* overlong 3-byte */
        {"\xed\xa0\x80", 0},         /* surrogate */
        {"\xf4\x90\x80\x80", 0},     /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 0},     /* invalid lead */
        {"x\x80", 1},                /* stray continuation */
        {"\xe2\x82", 0},             /* truncated 3-byte */
        {"\xe2\x28\xa1", 0},         /* bad continuation */
        {"\xf0\x9f\x98\x80\xff", 4}, /* 0xFF never appears */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        const size_t length = strlen(cases[k].bytes);
        const size_t expected = cases[k].bad_at == (size_t)-1 ? length : cases[k].bad_at;
        assert_int_equal(eval_text_utf8_invalid_at((const unsigned char *)cases[k].bytes, length), expected);
    }
}

static int parse(const char *line, eval_options *options, char *error, size_t error_size)
{
    char copy[4200];
    char *argv[32];
    int argc = 0;
    snprintf(copy, sizeof copy, "lowbit-eval %s", line);
    for (char *word = strtok(copy, " "); word && argc < 32; word = strtok(NULL, " "))
        argv[argc++] = word;
    return eval_options_parse(argc, argv, options, error, error_size);
}

static void test_command_line(void **state)
{
    (void)state;
    char model[1024], text[1024], line[4096], error[1024];
    snprintf(model, sizeof model, "%s/model.gguf", test_dir);
    snprintf(text, sizeof text, "%s/text.txt", test_dir);
    write_whole(model, (const unsigned char *)"GGUF", 4);
    write_whole(text, (const unsigned char *)"some text", 9);
    eval_options options;

    snprintf(line, sizeof line, "--reference %s --model %s --text %s --ctx 128 --chunks 2 --threads 3 --ngl 99 --json",
             model, model, text);
    assert_int_equal(parse(line, &options, error, sizeof error), 0);
    assert_int_equal(options.n_ctx, 128);
    assert_int_equal(options.chunks, 2);
    assert_int_equal(options.threads, 3);
    assert_int_equal(options.n_gpu_layers, 99);
    assert_true(options.json && options.ctx_given && options.chunks_given && !options.skip_given);
    snprintf(line, sizeof line, "--reference %s --model %s --text %s", model, model, text);
    assert_int_equal(parse(line, &options, error, sizeof error), 0);
    assert_int_equal(options.n_ctx, EVAL_DEFAULT_CTX);
    assert_int_equal(options.chunks, 0);
    assert_int_equal(parse("--help", &options, error, sizeof error), 0);
    assert_true(options.help);

    const struct {
        const char *format; /* %1$s: the model, %2$s: the text */
        const char *expect;
    } cases[] = {
        {"--model %1$s --text %2$s", "no reference"},
        {"--reference %1$s --text %2$s", "no candidate"},
        {"--reference %1$s --model %1$s", "no text"},
        {"--reference %1$s --reference-logits %1$s --model %1$s --text %2$s", "exclude"},
        {"--reference-logits %1$s --save-reference %2$s.x --model %1$s", "needs --reference"},
        {"--reference %1$s --model %1$s --text %2$s --ctx 7", "--ctx wants"},
        {"--reference %1$s --model %1$s --text %2$s --ctx 12x", "--ctx wants"},
        {"--reference %1$s --model %1$s --text %2$s --ctx 99999999999999999999", "--ctx wants"},
        {"--reference %1$s --model %1$s --text %2$s --chunks 0", "--chunks wants"},
        {"--reference %1$s --model %1$s --text %2$s --skip-chunks -1", "--skip-chunks wants"},
        {"--reference %1$s --model %1$s --text %2$s --threads 0", "--threads wants"},
        {"--reference %1$s --model %1$s --text %2$s --ngl -1", "--ngl wants"},
        {"--reference %1$s --model %1$s --text %2$s --ctx", "needs a value"},
        {"--reference %1$s --model %1$s --text %2$s --frobnicate", "unknown option"},
        {"--reference %1$s --model %1$s --text %2$s stray", "unexpected argument"},
        {"--reference %1$s --reference %1$s --model %1$s --text %2$s", "given twice"},
        {"--reference %1$s.missing --model %1$s --text %2$s", "No such file"},
        {"--reference %1$s --model %1$s --text /", "not a regular file"},
        {"--reference %1$s --model %1$s --text %2$s --save-reference %2$s", "one of the inputs"},
        {"--reference %1$s --model %1$s --text %2$s --save-reference /nonexistent-folder/x", "does not exist"},
        {"--reference %1$s --model %1$s --text %2$s --save-reference /", "not a regular file"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        snprintf(line, sizeof line, cases[k].format, model, text);
        assert_int_equal(parse(line, &options, error, sizeof error), -1);
        if (!strstr(error, cases[k].expect)) fail_msg("'%s': '%s' does not say '%s'", line, error, cases[k].expect);
    }
    /* an empty input is refused too */
    write_whole(text, (const unsigned char *)"", 0);
    snprintf(line, sizeof line, "--reference %s --model %s --text %s", model, model, text);
    assert_int_equal(parse(line, &options, error, sizeof error), -1);
    assert_non_null(strstr(error, "empty"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_the_definitions),
        cmocka_unit_test(test_identical_logits_give_exact_zeros),
        cmocka_unit_test(test_infinities_and_invalid_logits),
        cmocka_unit_test(test_log_prob_reference_matches_logits),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_totals_statistics),
        cmocka_unit_test(test_record_round_trip_and_precision),
        cmocka_unit_test(test_corrupt_records_are_refused),
        cmocka_unit_test(test_header_round_trip_and_hostile_headers),
        cmocka_unit_test_setup_teardown(test_reference_file_round_trip, make_test_dir, remove_test_dir),
        cmocka_unit_test_setup_teardown(test_corrupt_reference_files_are_refused, make_test_dir, remove_test_dir),
        cmocka_unit_test_setup_teardown(test_unfinished_writer_leaves_nothing, make_test_dir, remove_test_dir),
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test_setup_teardown(test_command_line, make_test_dir, remove_test_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
