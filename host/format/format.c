/* format.c — the format registry (names, block geometry, which rows each family provides) and the
 * threaded, argument-checked lowbit_quantize / lowbit_dequantize built on it. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "../error.h"
#include "format_internal.h"

#include "../../shaders/common/lowbit_formats.h"

/* The table's facts are lowbit_formats.h's (shared with the kernels); the enum must agree with it. */
#define TRAITS(id, activation)                                                                                         \
    {                                                                                                                  \
        LOWBIT_FORMAT_##id, #id, LOWBIT_##id##_BLOCK, LOWBIT_##id##_BYTES, 0, 0, activation                            \
    }
#define BLOCK_TRAITS(F, f, cl, vk) TRAITS(F, 0),

/* Geometry of every format lowbit names: the floats, Q4_0 and Q8_0 (their own kernels everywhere), the
 * activation-only Q8_1 and Q8_K, then every format of LOWBIT_BLOCK_FORMATS. can_quantize/can_dequantize are
 * filled from format_ops. */
static lowbit_format_traits format_traits[] = {
    TRAITS(F32, 0),  TRAITS(F16, 0),  TRAITS(BF16, 0), TRAITS(Q4_0, 0),
    TRAITS(Q8_0, 0), TRAITS(Q8_1, 1), TRAITS(Q8_K, 1), LOWBIT_BLOCK_FORMATS(BLOCK_TRAITS)};
#define FORMAT_TRAITS_COUNT (sizeof format_traits / sizeof format_traits[0])

/* The public enum is written out (it is installed without the kernels' header); both must agree. */
#define SAME_ID(id) _Static_assert((int)LOWBIT_FORMAT_##id == LOWBIT_##id##_ID, "lowbit_format." #id " id");
/* Field offsets: in storage order, each field as long as the gap to the next, the first at 0 and the last
 * ending at the block's size. */
#define FIELD_FIRST(F, a) _Static_assert(LOWBIT_##F##_##a == 0, #F "." #a " starts the block");
#define FIELD_AT(F, a, n, b) _Static_assert(LOWBIT_##F##_##a + (n) == LOWBIT_##F##_##b, #F "." #a " ends at " #b);
#define FIELD_END(F, a, n) _Static_assert(LOWBIT_##F##_##a + (n) == LOWBIT_##F##_BYTES, #F "." #a " ends the block");
/* clang-format off */
#define BLOCK_SAME_ID(F, f, cl, vk) SAME_ID(F)
SAME_ID(F32) SAME_ID(F16) SAME_ID(BF16) SAME_ID(Q4_0) SAME_ID(Q8_0) SAME_ID(Q8_1) SAME_ID(Q8_K)
LOWBIT_BLOCK_FORMATS(BLOCK_SAME_ID)

FIELD_FIRST(Q4_0, D) FIELD_AT(Q4_0, D, 2, QS) FIELD_END(Q4_0, QS, LOWBIT_Q4_0_BLOCK / 2)
FIELD_FIRST(Q4_1, D) FIELD_AT(Q4_1, D, 2, M) FIELD_AT(Q4_1, M, 2, QS) FIELD_END(Q4_1, QS, 16)
FIELD_FIRST(Q5_0, D) FIELD_AT(Q5_0, D, 2, QH) FIELD_AT(Q5_0, QH, 4, QS) FIELD_END(Q5_0, QS, 16)
FIELD_FIRST(Q5_1, D) FIELD_AT(Q5_1, D, 2, M) FIELD_AT(Q5_1, M, 2, QH) FIELD_AT(Q5_1, QH, 4, QS) FIELD_END(Q5_1, QS, 16)
FIELD_FIRST(Q8_0, D) FIELD_AT(Q8_0, D, 2, QS) FIELD_END(Q8_0, QS, LOWBIT_Q8_0_BLOCK)
FIELD_FIRST(Q8_1, D) FIELD_AT(Q8_1, D, 2, S) FIELD_AT(Q8_1, S, 2, QS) FIELD_END(Q8_1, QS, LOWBIT_Q8_1_BLOCK)
FIELD_FIRST(IQ4_NL, D) FIELD_AT(IQ4_NL, D, 2, QS) FIELD_END(IQ4_NL, QS, LOWBIT_IQ4_NL_BLOCK / 2)
FIELD_FIRST(Q2_K, SCALES) FIELD_AT(Q2_K, SCALES, 16, QS) FIELD_AT(Q2_K, QS, 64, D) FIELD_AT(Q2_K, D, 2, DMIN)
FIELD_END(Q2_K, DMIN, 2)
FIELD_FIRST(Q3_K, HMASK) FIELD_AT(Q3_K, HMASK, 32, QS) FIELD_AT(Q3_K, QS, 64, SCALES) FIELD_AT(Q3_K, SCALES, 12, D)
FIELD_END(Q3_K, D, 2)
FIELD_FIRST(Q4_K, D) FIELD_AT(Q4_K, D, 2, DMIN) FIELD_AT(Q4_K, DMIN, 2, SCALES) FIELD_AT(Q4_K, SCALES, 12, QS)
FIELD_END(Q4_K, QS, 128)
FIELD_FIRST(Q5_K, D) FIELD_AT(Q5_K, D, 2, DMIN) FIELD_AT(Q5_K, DMIN, 2, SCALES) FIELD_AT(Q5_K, SCALES, 12, QH)
FIELD_AT(Q5_K, QH, 32, QS) FIELD_END(Q5_K, QS, 128)
FIELD_FIRST(Q6_K, QL) FIELD_AT(Q6_K, QL, 128, QH) FIELD_AT(Q6_K, QH, 64, SCALES) FIELD_AT(Q6_K, SCALES, 16, D)
FIELD_END(Q6_K, D, 2)
FIELD_FIRST(Q8_K, D) FIELD_AT(Q8_K, D, 4, QS) FIELD_AT(Q8_K, QS, 256, BSUMS) FIELD_END(Q8_K, BSUMS, 32)
FIELD_FIRST(IQ4_XS, D) FIELD_AT(IQ4_XS, D, 2, SCALES_H) FIELD_AT(IQ4_XS, SCALES_H, 2, SCALES_L)
FIELD_AT(IQ4_XS, SCALES_L, 4, QS) FIELD_END(IQ4_XS, QS, 128)
FIELD_FIRST(TQ1_0, QS) FIELD_AT(TQ1_0, QS, 48, QH) FIELD_AT(TQ1_0, QH, 4, D) FIELD_END(TQ1_0, D, 2)
FIELD_FIRST(TQ2_0, QS) FIELD_AT(TQ2_0, QS, 64, D) FIELD_END(TQ2_0, D, 2)
FIELD_FIRST(MXFP4, E) FIELD_AT(MXFP4, E, 1, QS) FIELD_END(MXFP4, QS, LOWBIT_MXFP4_BLOCK / 2)
FIELD_FIRST(NVFP4, D) FIELD_AT(NVFP4, D, LOWBIT_NVFP4_BLOCK / LOWBIT_NVFP4_SUB, QS)
FIELD_END(NVFP4, QS, LOWBIT_NVFP4_BLOCK / 2)
FIELD_FIRST(Q1_0, D) FIELD_AT(Q1_0, D, 2, QS) FIELD_END(Q1_0, QS, LOWBIT_Q1_0_BLOCK / 8)
FIELD_FIRST(Q2_0, D) FIELD_AT(Q2_0, D, 2, QS) FIELD_END(Q2_0, QS, LOWBIT_Q2_0_BLOCK / 4)
FIELD_FIRST(IQ2_XXS, D) FIELD_AT(IQ2_XXS, D, 2, QS) FIELD_END(IQ2_XXS, QS, 64)
FIELD_FIRST(IQ2_XS, D) FIELD_AT(IQ2_XS, D, 2, QS) FIELD_AT(IQ2_XS, QS, 64, SCALES) FIELD_END(IQ2_XS, SCALES, 8)
FIELD_FIRST(IQ2_S, D) FIELD_AT(IQ2_S, D, 2, QS) FIELD_AT(IQ2_S, QS, 64, QH) FIELD_AT(IQ2_S, QH, 8, SCALES)
FIELD_END(IQ2_S, SCALES, 8)
FIELD_FIRST(IQ3_XXS, D) FIELD_AT(IQ3_XXS, D, 2, QS) FIELD_END(IQ3_XXS, QS, 96)
FIELD_FIRST(IQ3_S, D) FIELD_AT(IQ3_S, D, 2, QS) FIELD_AT(IQ3_S, QS, 64, QH) FIELD_AT(IQ3_S, QH, 8, SIGNS)
FIELD_AT(IQ3_S, SIGNS, 32, SCALES) FIELD_END(IQ3_S, SCALES, 4)
FIELD_FIRST(IQ1_S, D) FIELD_AT(IQ1_S, D, 2, QS) FIELD_AT(IQ1_S, QS, 32, QH) FIELD_END(IQ1_S, QH, 16)
FIELD_FIRST(IQ1_M, QS) FIELD_AT(IQ1_M, QS, 32, QH) FIELD_AT(IQ1_M, QH, 16, SCALES) FIELD_END(IQ1_M, SCALES, 8)
_Static_assert(LOWBIT_FORMAT_COUNT == LOWBIT_Q2_0_ID + 1, "LOWBIT_FORMAT_COUNT is one past the largest id");
/* clang-format on */

/* The row kernels each family file provides: lowbit_{quantize,dequantize}_row_<name> for every format of
 * LOWBIT_BLOCK_FORMATS (declared in format_internal.h). */
#define BLOCK_OPS(F, f, cl, vk) {LOWBIT_FORMAT_##F, {lowbit_quantize_row_##f, lowbit_dequantize_row_##f}},

static const struct {
    lowbit_format format;
    lowbit_format_ops ops;
} format_ops[] = {{LOWBIT_FORMAT_F32, {lowbit_quantize_row_f32, lowbit_dequantize_row_f32}},
                  {LOWBIT_FORMAT_F16, {lowbit_quantize_row_f16, lowbit_dequantize_row_f16}},
                  {LOWBIT_FORMAT_Q4_0, {lowbit_quantize_row_q4_0, lowbit_dequantize_row_q4_0}},
                  {LOWBIT_FORMAT_Q8_0, {lowbit_quantize_row_q8_0, lowbit_dequantize_row_q8_0}},
                  {LOWBIT_FORMAT_BF16, {lowbit_quantize_row_bf16, lowbit_dequantize_row_bf16}},
                  {LOWBIT_FORMAT_Q8_1, {lowbit_quantize_row_q8_1, NULL}}, /* activation-only: quantize side only */
                  {LOWBIT_FORMAT_Q8_K, {lowbit_quantize_row_q8_k, NULL}}, /* activation-only: quantize side only */
                  LOWBIT_BLOCK_FORMATS(BLOCK_OPS)};

const lowbit_format_ops *lowbit_format_ops_get(int format)
{
    for (size_t i = 0; i < sizeof format_ops / sizeof format_ops[0]; ++i)
        if ((int)format_ops[i].format == format) return &format_ops[i].ops;
    return NULL;
}

static pthread_once_t traits_once = PTHREAD_ONCE_INIT;

static void traits_resolve(void)
{
    for (size_t i = 0; i < FORMAT_TRAITS_COUNT; ++i) {
        const lowbit_format_ops *ops = lowbit_format_ops_get((int)format_traits[i].format);
        format_traits[i].can_quantize = ops && ops->quantize_row;
        format_traits[i].can_dequantize = ops && ops->dequantize_row;
    }
}

const lowbit_format_traits *lowbit_format_get(int format)
{
    pthread_once(&traits_once, traits_resolve);
    for (size_t i = 0; i < FORMAT_TRAITS_COUNT; ++i)
        if ((int)format_traits[i].format == format) return &format_traits[i];
    return NULL;
}

const char *lowbit_format_name(int format)
{
    const lowbit_format_traits *t = lowbit_format_get(format);
    return t ? t->name : "?";
}

int lowbit_format_from_name(const char *name, lowbit_format *out)
{
    if (!name || !out) return -1;
    for (size_t i = 0; i < FORMAT_TRAITS_COUNT; ++i) {
        if (strcasecmp(name, format_traits[i].name) == 0) {
            *out = format_traits[i].format;
            return 0;
        }
    }
    return -1;
}

size_t lowbit_format_row_size(int format, size_t cols)
{
    const lowbit_format_traits *t = lowbit_format_get(format);
    if (!t || cols == 0 || cols % t->block_size != 0) return 0;
    size_t blocks = cols / t->block_size;
    if (blocks > SIZE_MAX / t->type_size) return 0;
    return blocks * t->type_size;
}

/* --- threaded row loops ---------------------------------------------------------------------- */
typedef struct row_job {
    const lowbit_format_ops *ops;
    int quantize;
    const void *src;
    void *dst;
    size_t cols, row_bytes, row_begin, row_end;
    const float *importance;
} row_job;

static void *row_job_run(void *arg)
{
    const row_job *job = arg;
    for (size_t r = job->row_begin; r < job->row_end; ++r) {
        if (job->quantize)
            job->ops->quantize_row((const float *)job->src + r * job->cols,
                                   (unsigned char *)job->dst + r * job->row_bytes, job->cols, job->importance);
        else
            job->ops->dequantize_row((const unsigned char *)job->src + r * job->row_bytes,
                                     (float *)job->dst + r * job->cols, job->cols);
    }
    return NULL;
}

static int thread_count(int requested, size_t rows, size_t cols)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = requested > 0 ? requested : (cores > 0 ? (int)cores : 1);
    if (n > 64) n = 64;
    /* below ~64k elements a thread costs more than it saves */
    size_t useful = (rows * cols) / 65536 + 1;
    if ((size_t)n > useful) n = (int)useful;
    if ((size_t)n > rows) n = (int)rows;
    return n < 1 ? 1 : n;
}

/* Rows are split into contiguous ranges, one per thread; each row's bytes depend only on that row,
 * so the output is identical for every thread count. */
static void run_rows(row_job base, size_t rows, int n_threads)
{
    int n = thread_count(n_threads, rows, base.cols);
    pthread_t threads[64];
    row_job jobs[64];
    int started = 0;
    for (int t = 0; t < n; ++t) {
        jobs[t] = base;
        jobs[t].row_begin = rows * (size_t)t / (size_t)n;
        jobs[t].row_end = rows * (size_t)(t + 1) / (size_t)n;
    }
    for (int t = 1; t < n; ++t) {
        if (pthread_create(&threads[t], NULL, row_job_run, &jobs[t]) != 0) break;
        started = t;
    }
    /* rows of threads that could not start run here */
    for (int t = started + 1; t < n; ++t)
        row_job_run(&jobs[t]);
    row_job_run(&jobs[0]);
    for (int t = 1; t <= started; ++t)
        pthread_join(threads[t], NULL);
}

static lowbit_status check_shape(int format, size_t rows, size_t cols, size_t bytes, const char *what,
                                 const lowbit_format_traits **traits, size_t *row_bytes)
{
    *traits = lowbit_format_get(format);
    if (!*traits) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: unknown format id %d", what, format);
    if (rows == 0 || cols == 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: rows (%zu) and cols (%zu) must be > 0", what, rows,
                            cols);
    if (cols % (*traits)->block_size != 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: cols (%zu) is not a multiple of %s's block size %u",
                            what, cols, (*traits)->name, (*traits)->block_size);
    *row_bytes = lowbit_format_row_size(format, cols);
    if (*row_bytes == 0 || rows > SIZE_MAX / *row_bytes || rows > SIZE_MAX / sizeof(float) / cols)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %zu x %zu overflows", what, rows, cols);
    if (bytes != rows * *row_bytes)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "%s: %zu bytes given, but %zu rows of %zu %s elements take %zu bytes", what, bytes, rows,
                            cols, (*traits)->name, rows * *row_bytes);
    return LOWBIT_OK;
}

int lowbit_quantize(int format, const float *src, size_t rows, size_t cols, void *dst, size_t dst_size,
                    const float *importance, int n_threads)
{
    const lowbit_format_traits *traits = NULL;
    size_t row_bytes = 0;
    if (!src || !dst) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_quantize: src or dst is NULL");
    lowbit_status status = check_shape(format, rows, cols, dst_size, "lowbit_quantize", &traits, &row_bytes);
    if (status != LOWBIT_OK) return status;
    const lowbit_format_ops *ops = lowbit_format_ops_get(format);
    if (!ops || !ops->quantize_row)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "lowbit_quantize: no quantizer for %s", traits->name);
    row_job job = {ops, 1, src, dst, cols, row_bytes, 0, 0, importance};
    run_rows(job, rows, n_threads);
    return LOWBIT_OK;
}

int lowbit_dequantize(int format, const void *src, size_t src_size, size_t rows, size_t cols, float *dst)
{
    const lowbit_format_traits *traits = NULL;
    size_t row_bytes = 0;
    if (!src || !dst) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_dequantize: src or dst is NULL");
    lowbit_status status = check_shape(format, rows, cols, src_size, "lowbit_dequantize", &traits, &row_bytes);
    if (status != LOWBIT_OK) return status;
    const lowbit_format_ops *ops = lowbit_format_ops_get(format);
    if (!ops || !ops->dequantize_row)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "lowbit_dequantize: no dequantizer for %s", traits->name);
    row_job job = {ops, 0, src, dst, cols, row_bytes, 0, 0, NULL};
    run_rows(job, rows, 0);
    return LOWBIT_OK;
}
