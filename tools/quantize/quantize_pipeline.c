/* quantize_pipeline.c — the quantize job: model input (GGUF or safetensors), planning, imatrix checks
 * and the per-tensor producer that the GGUF writer calls, so at most one chunk of one tensor is in f32. */
#define _POSIX_C_SOURCE 200809L /* stat, realpath, sysconf */
#include "tools/quantize/quantize_pipeline.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lowbit/lowbit_io.h"
#include "tools/common/tool_util.h"
#include "tools/quantize/quantize_awq.h"
#include "tools/quantize/quantize_gptq.h"
#include "tools/quantize/quantize_hessian.h"
#include "tools/quantize/quantize_imatrix.h"
#include "tools/quantize/quantize_mixplan.h"

/* f32 elements converted per step: bounds the working memory to ~3 × 64 MiB whatever the tensor size */
#define CHUNK_ELEMENTS ((size_t)16 * 1024 * 1024)

typedef struct pipeline pipeline;

typedef struct tensor_job {
    pipeline *owner;
    size_t index;
    const void *source; /* source data, read-only mapping */
    int source_type;
    const float *importance;
    size_t importance_count;
    const float *hessian; /* the layer-input Hessian (cols × cols) from --hessian, or NULL */
    size_t hessian_index;
    int gptq;                /* round with GPTQ (needs hessian) */
    const float *col_scales; /* AWQ: columns multiplied by these (the input's scales), or NULL */
    const float *row_scales; /* AWQ: rows divided by these (the next matrix's input scales), or NULL */
    float *awq_importance;   /* AWQ: the block search's weights in the scaled space (owned) */
} tensor_job;

struct pipeline {
    const quantize_options *options;
    quantize_summary *summary;
    tensor_job *jobs;
    quantize_progress progress;
    char *error;
    size_t error_size;
    const quantize_hessians *hessians;
    quantize_gptq_factor factor; /* of Hessian factor_index: q/k/v (and gate/up) follow each other and share it */
    size_t factor_index;
    float **awq_scales; /* AWQ: per Hessian index, the input scales (NULL: not scaled) */
    size_t awq_count;
    float **awq_norms; /* AWQ: norm weights divided by the scales, owned until the file is written */
    size_t awq_norm_count;
};

static int fail(char *error, size_t error_size, const char *what, const char *detail)
{
    snprintf(error, error_size, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

typedef enum input_kind { INPUT_GGUF, INPUT_SAFETENSORS, INPUT_UNKNOWN } input_kind;

static input_kind detect_input(const char *path)
{
    unsigned char head[9] = {0};
    FILE *file = fopen(path, "rb");
    if (!file) return INPUT_UNKNOWN;
    size_t got = fread(head, 1, sizeof head, file);
    fclose(file);
    if (got >= 4 && memcmp(head, "GGUF", 4) == 0) return INPUT_GGUF;
    size_t length = strlen(path);
    if (length > 12 && strcmp(path + length - 12, ".safetensors") == 0) return INPUT_SAFETENSORS;
    /* safetensors: little-endian u64 header length, then a JSON object */
    if (got == 9 && head[8] == '{' && head[6] == 0 && head[7] == 0) return INPUT_SAFETENSORS;
    return INPUT_UNKNOWN;
}

static const char *gguf_string(const lowbit_gguf *gguf, const char *key)
{
    const lowbit_gguf_value *value = NULL;
    const char *text = NULL;
    if (lowbit_gguf_kv_find(gguf, key, &value) != LOWBIT_OK || !value) return NULL;
    if (lowbit_gguf_value_get_string(value, &text, NULL) != LOWBIT_OK) return NULL;
    return text;
}

static uint64_t gguf_uint(const lowbit_gguf *gguf, const char *arch, const char *suffix)
{
    char key[256];
    const lowbit_gguf_value *value = NULL;
    uint64_t number = 0;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (lowbit_gguf_kv_find(gguf, key, &value) != LOWBIT_OK || !value) return 0;
    if (lowbit_gguf_value_get_uint(value, &number) == LOWBIT_OK) return number;
    /* head_count_kv may be a per-layer array: take its first element */
    if (lowbit_gguf_array_get_uint(value, 0, &number) == LOWBIT_OK) return number;
    return 0;
}

/* Streams one tensor: source → f32 → target, checking the round trip as it goes. */
static lowbit_status produce_tensor(void *user_data, const char *name, size_t size, lowbit_gguf_write_fn write,
                                    void *sink)
{
    tensor_job *job = user_data;
    pipeline *p = job->owner;
    quantize_tensor_result *r = &p->summary->tensors[job->index];
    const size_t cols = (size_t)r->ne[0], rows = (size_t)(r->elements / r->ne[0]);
    const size_t out_row = lowbit_format_row_size(r->target_type, cols);
    const size_t in_row = lowbit_format_row_size(job->source_type, cols);
    if (out_row == 0 || in_row == 0 || size != rows * out_row) {
        snprintf(p->error, p->error_size, "tensor '%s': size mismatch (%zu bytes asked, %zu expected)", name, size,
                 rows * out_row);
        return LOWBIT_ERROR_INTERNAL;
    }
    /* per-expert importance (3-D tensors): chunks must not straddle two experts */
    const int per_expert = job->importance && job->importance_count != cols;
    const size_t slab_rows = per_expert ? (size_t)r->ne[1] : rows;
    size_t chunk_rows = CHUNK_ELEMENTS / cols;
    if (chunk_rows == 0) chunk_rows = 1;
    if (chunk_rows > rows) chunk_rows = rows;
    float *in = malloc(chunk_rows * cols * sizeof *in), *back = malloc(chunk_rows * cols * sizeof *back);
    unsigned char *out = malloc(chunk_rows * out_row);
    lowbit_status status = LOWBIT_OK;
    double squared = 0.0, start = tool_now_seconds();
    if (!in || !back || !out) {
        snprintf(p->error, p->error_size, "tensor '%s': out of memory for a %zu-row chunk", name, chunk_rows);
        status = LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    /* the activation order applies to the formats rounded column by column; the lattice ones keep theirs */
    const int ordered = p->options->gptq_act_order && quantize_gptq_per_column(r->target_type);
    if (status == LOWBIT_OK && job->gptq &&
        (p->factor.u == NULL || p->factor_index != job->hessian_index || (p->factor.order != NULL) != ordered)) {
        char message[512];
        quantize_gptq_factor_free(&p->factor);
        /* with AWQ the weights are W·diag(s) and the input diag(s)⁻¹·x, so the Hessian is diag(s)⁻¹·H·diag(s)⁻¹ */
        float *scaled = NULL;
        const float *h = job->hessian;
        if (job->col_scales) {
            scaled = malloc(cols * cols * sizeof *scaled);
            if (scaled)
                for (size_t i = 0; i < cols; ++i)
                    for (size_t k = 0; k < cols; ++k)
                        scaled[i * cols + k] = h[i * cols + k] / (job->col_scales[i] * job->col_scales[k]);
            h = scaled;
        }
        if (!h) {
            snprintf(p->error, p->error_size, "tensor '%s': out of memory for the scaled Hessian", name);
            status = LOWBIT_ERROR_OUT_OF_MEMORY;
        } else if (quantize_gptq_prepare_ordered(h, cols, p->options->gptq_damp, ordered, &p->factor, message,
                                                 sizeof message) != 0) {
            snprintf(p->error, p->error_size, "tensor '%s': %s", name, message);
            status = LOWBIT_ERROR_INVALID_ARGUMENT;
        }
        free(scaled);
        p->factor_index = job->hessian_index;
    }
    quantize_progress_begin(&p->progress, name, (uint64_t)rows * cols * 4);
    for (size_t row = 0; status == LOWBIT_OK && row < rows;) {
        size_t n = rows - row < chunk_rows ? rows - row : chunk_rows;
        size_t to_slab_end = slab_rows - row % slab_rows;
        if (n > to_slab_end) n = to_slab_end;
        const unsigned char *src = (const unsigned char *)job->source + row * in_row;
        const float *importance = job->importance ? job->importance + (per_expert ? row / slab_rows * cols : 0) : NULL;
        if (job->awq_importance) importance = job->awq_importance;
        if (job->source_type == LOWBIT_FORMAT_F32)
            memcpy(in, src, n * in_row);
        else
            status = (lowbit_status)lowbit_dequantize(job->source_type, src, n * in_row, n, cols, in);
        if (status == LOWBIT_OK && (job->row_scales || job->col_scales)) /* AWQ's equivalent transform */
            for (size_t i = 0; i < n; ++i)
                for (size_t c = 0; c < cols; ++c) {
                    float v = in[i * cols + c];
                    if (job->row_scales) v /= job->row_scales[row + i];
                    if (job->col_scales) v *= job->col_scales[c];
                    in[i * cols + c] = v;
                }
        if (status == LOWBIT_OK && job->gptq)
            status = (lowbit_status)quantize_gptq_rows(&p->factor, r->target_type, in, n, cols, importance, out,
                                                       n * out_row, p->options->threads);
        else if (status == LOWBIT_OK)
            status = (lowbit_status)lowbit_quantize(r->target_type, in, n, cols, out, n * out_row, importance,
                                                    p->options->threads);
        if (status != LOWBIT_OK) {
            snprintf(p->error, p->error_size, "tensor '%s': %s -> %s failed: %s", name,
                     lowbit_format_name(job->source_type), lowbit_format_name(r->target_type), lowbit_last_error());
            break;
        }
        status = write(sink, out, n * out_row);
        if (status != LOWBIT_OK) {
            snprintf(p->error, p->error_size, "tensor '%s': writing failed: %s", name, lowbit_last_error());
            break;
        }
        status = (lowbit_status)lowbit_dequantize(r->target_type, out, n * out_row, n, cols, back);
        if (status != LOWBIT_OK) {
            snprintf(p->error, p->error_size, "tensor '%s': round-trip dequantize failed: %s", name,
                     lowbit_last_error());
            break;
        }
        for (size_t i = 0; i < n * cols; ++i) {
            double d = (double)back[i] - (double)in[i];
            squared += d * d;
        }
        row += n;
    }
    free(in);
    free(back);
    free(out);
    if (status != LOWBIT_OK) return status;
    r->rmse = sqrt(squared / (double)(rows * cols));
    r->seconds = tool_now_seconds() - start;
    quantize_progress_end(&p->progress, r);
    return LOWBIT_OK;
}

/* Fills the result row of one tensor from its plan. */
static int plan_one(const quantize_rules *rules, const quantize_tensor_desc *desc, uint64_t source_bytes,
                    quantize_tensor_result *r, char *error, size_t error_size)
{
    quantize_tensor_plan plan;
    memset(r, 0, sizeof *r);
    r->name = malloc(strlen(desc->name) + 1);
    if (!r->name) return fail(error, error_size, "out of memory", NULL);
    strcpy(r->name, desc->name);
    r->n_dims = desc->n_dims;
    memcpy(r->ne, desc->ne, sizeof r->ne);
    r->elements = desc->ne[0] * desc->ne[1] * desc->ne[2] * desc->ne[3];
    r->source_type = desc->type;
    r->source_bytes = r->target_bytes = source_bytes;
    r->rmse = -1.0;
    r->awq_alpha = -1.0;
    if (quantize_plan_tensor(rules, desc, &plan, error, error_size) != 0) return -1;
    r->quantized = plan.quantize;
    r->target_type = plan.target;
    r->wanted_type = plan.wanted;
    r->fallback = plan.fallback;
    r->needs_imatrix = plan.needs_imatrix;
    r->requantizable = plan.same_type;
    r->reason = plan.reason;
    if (plan.quantize)
        r->target_bytes = lowbit_format_row_size(plan.target, (size_t)desc->ne[0]) * (r->elements / desc->ne[0]);
    return 0;
}

/* Attaches the imatrix entry of a quantized tensor, refusing one of the wrong length. A tensor that
 * llama-quantize would refuse to make without importance data (no imatrix, or no entry for it) is refused
 * here too, unless --allow-no-imatrix says to quantize it with the library's built-in weights
 * (docs/formats.md §4.8); a --dry-run only marks it. */
static int attach_importance(const pipeline *p, const quantize_imatrix *imatrix, quantize_tensor_result *r,
                             tensor_job *job, char *error, size_t error_size)
{
    if (!r->quantized) return 0;
    const quantize_imatrix_entry *entry =
        imatrix && !quantize_is_output_name(r->name) ? quantize_imatrix_find(imatrix, r->name) : NULL;
    if (entry) {
        uint64_t experts = r->n_dims >= 3 ? r->ne[2] : 1;
        if (entry->count != r->ne[0] && !(experts > 1 && r->n_dims == 3 && entry->count == r->ne[0] * experts)) {
            snprintf(error, error_size, "imatrix entry '%s' has %zu values, but the tensor has rows of %llu%s", r->name,
                     entry->count, (unsigned long long)r->ne[0], experts > 1 ? " (per expert)" : "");
            return -1;
        }
        job->importance = entry->values;
        job->importance_count = entry->count;
        r->used_imatrix = 1;
        return 0;
    }
    /* GPTQ's block search weighs by the Hessian diagonal, which is the same statistic an imatrix holds */
    if (!r->needs_imatrix || job->gptq || job->awq_importance) return 0;
    r->missing_imatrix = 1;
    if (p->options->allow_no_imatrix || p->options->dry_run) return 0;
    snprintf(error, error_size,
             "tensor '%s' would be %s, which needs an importance matrix%s: pass --imatrix FILE (llama-imatrix "
             "writes one), or --allow-no-imatrix to use built-in weights (far less accurate at this width)",
             r->name, lowbit_format_name(r->target_type),
             p->options->imatrix_path ? ", and the imatrix has no entry for it" : "");
    return -1;
}

/* GPTQ: the Hessian of a quantized 2-D tensor whose rows match it (others are rounded as usual). */
static void attach_hessian(const pipeline *p, quantize_tensor_result *r, tensor_job *job)
{
    size_t cols = 0, index = 0;
    if (!p->hessians || !r->quantized || r->n_dims > 2) return;
    const float *h = quantize_hessians_find(p->hessians, r->name, &cols, &index);
    const lowbit_format_traits *traits = lowbit_format_get(r->target_type);
    if (!h || cols != r->ne[0] || !traits) return;
    job->hessian = h;
    job->hessian_index = index;
    job->gptq = (p->options->method == QUANTIZE_METHOD_GPTQ || p->options->method == QUANTIZE_METHOD_AWQ_GPTQ) &&
                quantize_gptq_supports(r->target_type);
    r->used_gptq = job->gptq;
}

/* AWQ's fold target for the activation an engine node name describes: the RMS norm that makes "attn_norm-<i>"
 * or "ffn_norm-<i>", or, for the FFN down projection's input (any other "ffn_*-<i>" node, the gated product),
 * the rows of blk.<i>.ffn_up.weight. Returns 1 with the tensor name, or 0 (that input is not scaled). */
static int awq_fold_target(const char *input, int *is_norm, char *name, size_t size)
{
    int layer = -1, used = 0;
    if (!input) return 0;
    if (sscanf(input, "attn_norm-%d%n", &layer, &used) == 1 && input[used] == '\0') {
        snprintf(name, size, "blk.%d.attn_norm.weight", layer);
        *is_norm = 1;
        return 1;
    }
    if (sscanf(input, "ffn_norm-%d%n", &layer, &used) == 1 && input[used] == '\0') {
        snprintf(name, size, "blk.%d.ffn_norm.weight", layer);
        *is_norm = 1;
        return 1;
    }
    const char *dash = strrchr(input, '-');
    if (strncmp(input, "ffn_", 4) == 0 && dash && sscanf(dash + 1, "%d%n", &layer, &used) == 1 &&
        dash[1 + used] == '\0') {
        snprintf(name, size, "blk.%d.ffn_up.weight", layer);
        *is_norm = 0;
        return 1;
    }
    return 0;
}

/* The f32 copy of a planned tensor's source (rows × cols), or NULL. */
static float *source_f32(const tensor_job *job, const quantize_tensor_result *r)
{
    const size_t cols = (size_t)r->ne[0], rows = (size_t)(r->elements / r->ne[0]);
    const size_t in_row = lowbit_format_row_size(job->source_type, cols);
    float *w = malloc(rows * cols * sizeof *w);
    if (!w || in_row == 0) {
        free(w);
        return NULL;
    }
    if (job->source_type == LOWBIT_FORMAT_F32)
        memcpy(w, job->source, rows * cols * sizeof *w);
    else if (lowbit_dequantize(job->source_type, job->source, rows * in_row, rows, cols, w) != LOWBIT_OK) {
        free(w);
        return NULL;
    }
    return w;
}

/* The planner's reader: tensor `index` as f32. */
static float *load_source(void *user, size_t index)
{
    const pipeline *p = user;
    return source_f32(&p->jobs[index], &p->summary->tensors[index]);
}

static size_t find_result(const pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->summary->tensor_count; ++i)
        if (p->summary->tensors[i].name && strcmp(p->summary->tensors[i].name, name) == 0) return i;
    return (size_t)-1;
}

/* AWQ: for every Hessian whose input can be folded, search the scales on the group's weights, give its matrices
 * the column scales, and fold their inverse into the norm (a replaced F32 tensor) or into ffn_up's rows. */
static int awq_prepare(pipeline *p, lowbit_gguf *gguf, lowbit_gguf_writer *writer, char *error, size_t error_size)
{
    const quantize_options *o = p->options;
    size_t n_h = 0;
    for (size_t i = 0; i < p->summary->tensor_count; ++i)
        if (p->jobs[i].hessian && p->jobs[i].hessian_index + 1 > n_h) n_h = p->jobs[i].hessian_index + 1;
    p->awq_scales = calloc(n_h ? n_h : 1, sizeof *p->awq_scales);
    p->awq_norms = calloc(n_h ? n_h : 1, sizeof *p->awq_norms);
    if (!p->awq_scales || !p->awq_norms) return fail(error, error_size, "out of memory", NULL);
    p->awq_count = n_h;
    size_t groups = 0, folded = 0;
    for (size_t h = 0; h < n_h; ++h) {
        char target[256];
        int is_norm = 0;
        const char *input = quantize_hessians_input_name(p->hessians, h);
        if (!awq_fold_target(input, &is_norm, target, sizeof target)) continue;
        quantize_awq_matrix members[8];
        size_t member_index[8], count = 0, cols = 0;
        const float *hessian = NULL;
        int ok = 1;
        for (size_t i = 0; i < p->summary->tensor_count && ok; ++i) {
            if (!p->jobs[i].hessian || p->jobs[i].hessian_index != h) continue;
            if (count == 8)
                ok = 0;
            else
                member_index[count++] = i;
            hessian = p->jobs[i].hessian;
            cols = (size_t)p->summary->tensors[i].ne[0];
        }
        if (!ok || count == 0) continue;
        /* the fold target must exist: an F32 norm of length cols, or a planned ffn_up with cols rows */
        size_t t = find_result(p, target);
        if (t == (size_t)-1) continue;
        const quantize_tensor_result *tr = &p->summary->tensors[t];
        if (is_norm ? (tr->quantized || tr->source_type != LOWBIT_FORMAT_F32 || tr->elements != cols)
                    : (!tr->quantized || tr->ne[1] != cols || tr->n_dims != 2))
            continue;
        for (size_t m = 0; m < count; ++m) {
            const quantize_tensor_result *r = &p->summary->tensors[member_index[m]];
            members[m].w = source_f32(&p->jobs[member_index[m]], r);
            members[m].rows = (size_t)(r->elements / r->ne[0]);
            members[m].format = r->target_type;
            if (!members[m].w) ok = 0;
        }
        float *scales = malloc(cols * sizeof *scales);
        quantize_awq_result result = {.alpha = o->smooth_alpha};
        char message[512] = "";
        const int smooth = o->method == QUANTIZE_METHOD_SMOOTHQUANT;
        if (smooth && ok && !quantize_hessians_absmax(p->hessians, h)) {
            ok = 0;
            snprintf(message, sizeof message,
                     "the Hessian file has no activation maxima (absmax.*); collect it again with lowbit-calibrate");
        }
        if (!ok || !scales ||
            (smooth ? quantize_smooth_scales(members, count, cols, quantize_hessians_absmax(p->hessians, h),
                                             o->smooth_alpha, scales, message, sizeof message)
                    : quantize_awq_search(members, count, cols, hessian, o->awq_alpha, o->threads, scales, &result,
                                          message, sizeof message)) != 0) {
            for (size_t m = 0; m < count; ++m)
                free((void *)members[m].w);
            free(scales);
            snprintf(error, error_size, "%s for the input %s: %s", smooth ? "SmoothQuant" : "AWQ", input,
                     message[0] ? message : "out of memory");
            return -1;
        }
        for (size_t m = 0; m < count; ++m)
            free((void *)members[m].w);
        groups++;
        if (!smooth && result.alpha == 0.0) { /* no scaling won: leave the group as it is */
            free(scales);
            continue;
        }
        p->awq_scales[h] = scales;
        for (size_t m = 0; m < count; ++m) {
            tensor_job *job = &p->jobs[member_index[m]];
            const float *base = job->importance && job->importance_count == cols ? job->importance : hessian;
            const size_t stride = base == hessian ? cols + 1 : 1;
            job->col_scales = scales;
            job->awq_importance = malloc(cols * sizeof *job->awq_importance);
            if (!job->awq_importance) return fail(error, error_size, "out of memory", NULL);
            for (size_t j = 0; j < cols; ++j)
                job->awq_importance[j] = base[j * stride] / (scales[j] * scales[j]);
            p->summary->tensors[member_index[m]].awq_alpha = result.alpha;
        }
        if (is_norm) {
            lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
            size_t index = 0;
            float *norm = malloc(cols * sizeof *norm);
            if (!norm || lowbit_gguf_tensor_find(gguf, target, &index) != LOWBIT_OK || index == LOWBIT_NOT_FOUND ||
                lowbit_gguf_tensor_get(gguf, index, &info) != LOWBIT_OK) {
                free(norm);
                return fail(error, error_size, "AWQ: cannot read the norm", target);
            }
            memcpy(norm, info.data, cols * sizeof *norm);
            for (size_t j = 0; j < cols; ++j)
                norm[j] /= scales[j];
            p->awq_norms[p->awq_norm_count++] = norm;
            if (lowbit_gguf_writer_replace_tensor(writer, target, LOWBIT_FORMAT_F32, norm, cols * sizeof *norm) !=
                LOWBIT_OK)
                return fail(error, error_size, "AWQ: cannot replace the norm", lowbit_last_error());
        } else {
            p->jobs[t].row_scales = scales;
            p->summary->tensors[t].awq_rows = 1;
        }
        folded++;
    }
    fprintf(stderr, "lowbit-quantize: %s scaled %zu of %zu input groups\n",
            o->method == QUANTIZE_METHOD_SMOOTHQUANT ? "SmoothQuant" : "AWQ", folded, groups);
    return 0;
}

static int count_and_start_progress(pipeline *p, FILE *progress_out)
{
    size_t n = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < p->summary->tensor_count; ++i) {
        if (!p->summary->tensors[i].quantized) continue;
        n++;
        bytes += p->summary->tensors[i].elements * 4;
    }
    quantize_progress_start(&p->progress, progress_out ? progress_out : stderr, progress_out != NULL, n, bytes);
    return 0;
}

static int finish_write(pipeline *p, lowbit_gguf_writer *writer, FILE *progress_out, char *error, size_t error_size)
{
    const quantize_options *o = p->options;
    if (lowbit_gguf_writer_set_uint(writer, "general.quantization_version", LOWBIT_GGUF_UINT32, 2) != LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "general.file_type", LOWBIT_GGUF_UINT32, (uint64_t)o->preset->file_type) !=
            LOWBIT_OK)
        return fail(error, error_size, "cannot set the file type keys", lowbit_last_error());
    count_and_start_progress(p, progress_out);
    lowbit_status status = lowbit_gguf_writer_write(writer, o->output);
    quantize_progress_finish(&p->progress);
    if (status != LOWBIT_OK) {
        if (p->error[0]) return fail(error, error_size, p->error, NULL);
        return fail(error, error_size, "writing the output failed", lowbit_last_error());
    }
    struct stat st;
    if (stat(o->output, &st) == 0) p->summary->output_file_bytes = (uint64_t)st.st_size;
    return 0;
}

/* Folds one tensor name into what the rules need from the whole list: an output tensor present, and
 * the layer count where the metadata does not give one. */
static void scan_name(quantize_rules *rules, const char *name, uint32_t *max_layers)
{
    int layer = quantize_layer_index(name);
    if (layer >= 0 && (uint32_t)layer + 1 > *max_layers) *max_layers = (uint32_t)layer + 1;
    if (quantize_is_output_name(name)) rules->has_output_tensor = 1;
}

static void fill_rules(quantize_rules *rules, const quantize_options *o)
{
    memset(rules, 0, sizeof *rules);
    rules->preset = o->preset;
    rules->pure = o->pure;
    rules->allow_requantize = o->allow_requantize;
    rules->has_output_type = o->has_output_type;
    rules->output_type = o->output_type;
    rules->has_embedding_type = o->has_embedding_type;
    rules->embedding_type = o->embedding_type;
    rules->overrides = o->overrides;
    rules->override_count = o->override_count;
    rules->n_gqa = 1;
    rules->arch = "";
}

static int run_gguf(pipeline *p, const quantize_imatrix *imatrix, FILE *progress_out, char *error, size_t error_size)
{
    const quantize_options *o = p->options;
    lowbit_gguf *gguf = NULL;
    lowbit_gguf_writer *writer = NULL;
    int rc = -1;
    if (lowbit_gguf_open(o->input, &gguf) != LOWBIT_OK)
        return fail(error, error_size, "cannot read the input GGUF", lowbit_last_error());
    size_t count = 0;
    lowbit_gguf_tensor_count(gguf, &count);
    quantize_rules rules;
    fill_rules(&rules, o);
    const char *arch = gguf_string(gguf, "general.architecture");
    if (arch) {
        rules.arch = arch;
        rules.n_layer = (uint32_t)gguf_uint(gguf, arch, "block_count");
        rules.n_expert = (uint32_t)gguf_uint(gguf, arch, "expert_count");
        uint64_t heads = gguf_uint(gguf, arch, "attention.head_count");
        uint64_t heads_kv = gguf_uint(gguf, arch, "attention.head_count_kv");
        if (heads && heads_kv && heads >= heads_kv) rules.n_gqa = (uint32_t)(heads / heads_kv);
    }
    uint32_t max_layers = 0;
    for (size_t i = 0; i < count; ++i) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_gguf_tensor_get(gguf, i, &info) == LOWBIT_OK) scan_name(&rules, info.name, &max_layers);
    }
    if (rules.n_layer == 0) rules.n_layer = max_layers;
    rules.has_imatrix = imatrix != NULL;
    p->summary->tensors = calloc(count ? count : 1, sizeof *p->summary->tensors);
    p->jobs = calloc(count ? count : 1, sizeof *p->jobs);
    if (!p->summary->tensors || !p->jobs) {
        fail(error, error_size, "out of memory", NULL);
        goto done;
    }
    for (size_t i = 0; i < count; ++i) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_gguf_tensor_get(gguf, i, &info) != LOWBIT_OK) {
            fail(error, error_size, "cannot read the tensor table", lowbit_last_error());
            goto done;
        }
        quantize_tensor_desc desc = {
            info.name, info.n_dims, {info.ne[0], info.ne[1], info.ne[2], info.ne[3]}, info.type};
        p->summary->tensor_count = i + 1;
        if (plan_one(&rules, &desc, info.size, &p->summary->tensors[i], error, error_size) != 0) goto done;
        p->jobs[i] = (tensor_job){p, i, info.data, info.type, NULL, 0, NULL, 0, 0, NULL, NULL, NULL};
    }
    /* --plan / --plan-file change the formats the rules chose, before the methods attach to them */
    const quantize_mixplan_source mix_source = {p, load_source, p->hessians, imatrix};
    if (quantize_mixplan_run(o, p->summary, &mix_source, o->json ? stderr : stdout, progress_out, error, error_size) !=
        0)
        goto done;
    for (size_t i = 0; i < count; ++i) {
        attach_hessian(p, &p->summary->tensors[i], &p->jobs[i]);
        if (attach_importance(p, imatrix, &p->summary->tensors[i], &p->jobs[i], error, error_size) != 0) goto done;
    }
    if (o->dry_run) {
        rc = 0;
        goto done;
    }
    if (lowbit_gguf_writer_create_from(gguf, &writer) != LOWBIT_OK) {
        fail(error, error_size, "cannot start the output", lowbit_last_error());
        goto done;
    }
    for (size_t i = 0; i < count; ++i) {
        const quantize_tensor_result *r = &p->summary->tensors[i];
        if (!r->quantized) continue;
        if (lowbit_gguf_writer_replace_tensor_stream(writer, r->name, r->target_type, produce_tensor, &p->jobs[i]) !=
            LOWBIT_OK) {
            fail(error, error_size, "cannot plan the output tensor", lowbit_last_error());
            goto done;
        }
    }
    if (quantize_method_scales_inputs(o->method) && awq_prepare(p, gguf, writer, error, error_size) != 0) goto done;
    rc = finish_write(p, writer, progress_out, error, error_size);
done:
    lowbit_gguf_writer_destroy(writer);
    lowbit_gguf_close(gguf);
    return rc;
}

/* GGUF type ids for the integer safetensors dtypes a model may carry (I32, I64); U8 has none. */
static int safetensors_integer_type(lowbit_safetensors_dtype dtype)
{
    return dtype == LOWBIT_SAFETENSORS_I32 ? 26 : dtype == LOWBIT_SAFETENSORS_I64 ? 27 : -1;
}

static int run_safetensors(pipeline *p, const quantize_imatrix *imatrix, FILE *progress_out, char *error,
                           size_t error_size)
{
    const quantize_options *o = p->options;
    lowbit_safetensors *file = NULL;
    lowbit_gguf_writer *writer = NULL;
    int rc = -1;
    if (lowbit_safetensors_open(o->input, &file) != LOWBIT_OK)
        return fail(error, error_size, "cannot read the input safetensors file", lowbit_last_error());
    size_t count = 0, kept = 0;
    lowbit_safetensors_tensor_count(file, &count);
    quantize_rules rules;
    fill_rules(&rules, o);
    rules.arch = o->arch ? o->arch : "safetensors";
    for (size_t i = 0; i < count; ++i) {
        lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_safetensors_tensor_get(file, i, &info) == LOWBIT_OK) scan_name(&rules, info.name, &rules.n_layer);
    }
    rules.has_imatrix = imatrix != NULL;
    p->summary->tensors = calloc(count ? count : 1, sizeof *p->summary->tensors);
    p->jobs = calloc(count ? count : 1, sizeof *p->jobs);
    if (!p->summary->tensors || !p->jobs || lowbit_gguf_writer_create(&writer) != LOWBIT_OK) {
        fail(error, error_size, "out of memory", NULL);
        goto done;
    }
    if (lowbit_gguf_writer_set_string(writer, "general.architecture", rules.arch) != LOWBIT_OK) {
        fail(error, error_size, "cannot set general.architecture", lowbit_last_error());
        goto done;
    }
    tool_copy_safetensors_metadata(file, writer);
    for (size_t i = 0; i < count; ++i) {
        lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_safetensors_tensor_get(file, i, &info) != LOWBIT_OK) {
            fail(error, error_size, "cannot read the tensor table", lowbit_last_error());
            goto done;
        }
        int type = info.format >= 0 ? info.format : safetensors_integer_type(info.dtype);
        if (type < 0 || info.n_dims > LOWBIT_GGUF_MAX_DIMS || info.element_count == 0) {
            fprintf(stderr, "lowbit-quantize: skipping '%s' (%s, %u dims): no GGUF equivalent\n", info.name,
                    info.dtype_name, info.n_dims);
            continue;
        }
        /* safetensors lists the outermost dimension first; GGUF's ne[0] is the row */
        quantize_tensor_desc desc = {info.name, info.n_dims ? info.n_dims : 1, {1, 1, 1, 1}, type};
        for (uint32_t d = 0; d < info.n_dims; ++d)
            desc.ne[d] = info.shape[info.n_dims - 1 - d];
        quantize_tensor_result *r = &p->summary->tensors[kept];
        p->summary->tensor_count = kept + 1;
        if (info.format < 0) {
            memset(r, 0, sizeof *r);
            r->name = malloc(strlen(info.name) + 1);
            if (!r->name) {
                fail(error, error_size, "out of memory", NULL);
                goto done;
            }
            strcpy(r->name, info.name);
            r->n_dims = desc.n_dims;
            memcpy(r->ne, desc.ne, sizeof r->ne);
            r->elements = info.element_count;
            r->source_type = r->target_type = r->wanted_type = type;
            r->source_bytes = r->target_bytes = info.size;
            r->reason = "integer tensor";
            r->rmse = -1.0;
            r->awq_alpha = -1.0;
        } else if (plan_one(&rules, &desc, info.size, r, error, error_size) != 0)
            goto done;
        p->jobs[kept] = (tensor_job){p, kept, info.data, type, NULL, 0, NULL, 0, 0, NULL, NULL, NULL};
        attach_hessian(p, r, &p->jobs[kept]);
        if (attach_importance(p, imatrix, r, &p->jobs[kept], error, error_size) != 0) goto done;
        lowbit_status status =
            r->quantized ? lowbit_gguf_writer_add_tensor_stream(writer, info.name, r->target_type, desc.n_dims, desc.ne,
                                                                produce_tensor, &p->jobs[kept])
                         : lowbit_gguf_writer_add_tensor(writer, info.name, type, desc.n_dims, desc.ne, info.data,
                                                         (size_t)info.size);
        if (status != LOWBIT_OK) {
            snprintf(error, error_size, "cannot add tensor '%s' to the output: %s", info.name, lowbit_last_error());
            goto done;
        }
        kept++;
    }
    rc = o->dry_run ? 0 : finish_write(p, writer, progress_out, error, error_size);
done:
    lowbit_gguf_writer_destroy(writer);
    lowbit_safetensors_close(file);
    return rc;
}

int quantize_pipeline_run(const quantize_options *options, FILE *progress_out, quantize_summary *summary, char *error,
                          size_t error_size)
{
    char producer_error[1024] = "";
    pipeline p = {options, summary, NULL, {0}, producer_error, sizeof producer_error, NULL, {0}, 0, NULL, 0, NULL, 0};
    quantize_imatrix imatrix = {0};
    quantize_hessians *hessians = NULL;
    double start = tool_now_seconds();
    memset(summary, 0, sizeof *summary);
    summary->input = options->input;
    summary->output = options->output;
    summary->type_name = options->preset->name;
    summary->file_type = options->preset->file_type;
    summary->dry_run = options->dry_run;
    summary->imatrix_path = options->imatrix_path;
    static const char *const method_names[] = {"rtn", "imatrix", "gptq", "awq", "awq+gptq", "smoothquant"};
    summary->method = method_names[options->method];
    summary->hessian_path = options->hessian_path;
    summary->threads = options->threads ? options->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct stat st;
    if (stat(options->input, &st) != 0) return fail(error, error_size, "cannot open the input file", options->input);
    if (!S_ISREG(st.st_mode)) return fail(error, error_size, "the input is not a regular file", options->input);
    if (same_file(options->input, options->output))
        return fail(error, error_size, "refusing to overwrite the input file", options->output);
    if (options->imatrix_path && same_file(options->imatrix_path, options->output))
        return fail(error, error_size, "refusing to overwrite the imatrix file", options->output);
    const char *plan_out = options->plan_out;
    if (plan_out && (same_file(plan_out, options->input) || same_file(plan_out, options->output) ||
                     (options->imatrix_path && same_file(plan_out, options->imatrix_path)) ||
                     (options->hessian_path && same_file(plan_out, options->hessian_path))))
        return fail(error, error_size, "refusing to write the plan over an input or the output", plan_out);
    input_kind kind = detect_input(options->input);
    if (kind == INPUT_UNKNOWN)
        return fail(error, error_size, "the input is neither a GGUF nor a safetensors file", options->input);
    if (options->imatrix_path && quantize_imatrix_load(options->imatrix_path, &imatrix, error, error_size) != 0)
        return -1;
    if (options->hessian_path) {
        if (same_file(options->hessian_path, options->output)) {
            quantize_imatrix_free(&imatrix);
            return fail(error, error_size, "refusing to overwrite the Hessian file", options->output);
        }
        if (quantize_hessians_load(options->hessian_path, &hessians, error, error_size) != 0) {
            quantize_imatrix_free(&imatrix);
            return -1;
        }
        p.hessians = hessians;
    }
    if (kind != INPUT_GGUF && (options->plan || options->plan_file)) {
        quantize_hessians_free(hessians);
        quantize_imatrix_free(&imatrix);
        return fail(error, error_size,
                    "--plan and --plan-file read a GGUF model: convert the safetensors file first (lowbit-quantize "
                    "in.safetensors model.gguf F16)",
                    options->input);
    }
    if (kind != INPUT_GGUF && quantize_method_scales_inputs(options->method)) {
        quantize_hessians_free(hessians);
        quantize_imatrix_free(&imatrix);
        return fail(error, error_size, "AWQ folds its scales into the GGUF model's norm tensors: give a GGUF input",
                    options->input);
    }
    int rc = kind == INPUT_GGUF
                 ? run_gguf(&p, options->imatrix_path ? &imatrix : NULL, progress_out, error, error_size)
                 : run_safetensors(&p, options->imatrix_path ? &imatrix : NULL, progress_out, error, error_size);
    for (size_t i = 0; p.jobs && i < summary->tensor_count; ++i)
        free(p.jobs[i].awq_importance);
    free(p.jobs);
    for (size_t i = 0; i < p.awq_count; ++i)
        free(p.awq_scales[i]);
    for (size_t i = 0; i < p.awq_norm_count; ++i)
        free(p.awq_norms[i]);
    free(p.awq_scales), free(p.awq_norms);
    quantize_gptq_factor_free(&p.factor);
    quantize_hessians_free(hessians);
    quantize_imatrix_free(&imatrix);
    summary->seconds = tool_now_seconds() - start;
    return rc;
}

void quantize_summary_free(quantize_summary *summary)
{
    for (size_t i = 0; i < summary->tensor_count; ++i)
        free(summary->tensors[i].name);
    free(summary->tensors);
    summary->tensors = NULL;
    summary->tensor_count = 0;
}
