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
#include "tools/quantize/quantize_imatrix.h"

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
} tensor_job;

struct pipeline {
    const quantize_options *options;
    quantize_summary *summary;
    tensor_job *jobs;
    quantize_progress progress;
    char *error;
    size_t error_size;
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
    quantize_progress_begin(&p->progress, name, (uint64_t)rows * cols * 4);
    for (size_t row = 0; status == LOWBIT_OK && row < rows;) {
        size_t n = rows - row < chunk_rows ? rows - row : chunk_rows;
        size_t to_slab_end = slab_rows - row % slab_rows;
        if (n > to_slab_end) n = to_slab_end;
        const unsigned char *src = (const unsigned char *)job->source + row * in_row;
        const float *importance = job->importance ? job->importance + (per_expert ? row / slab_rows * cols : 0) : NULL;
        if (job->source_type == LOWBIT_FORMAT_F32)
            memcpy(in, src, n * in_row);
        else
            status = (lowbit_status)lowbit_dequantize(job->source_type, src, n * in_row, n, cols, in);
        if (status == LOWBIT_OK)
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
    if (quantize_plan_tensor(rules, desc, &plan, error, error_size) != 0) return -1;
    r->quantized = plan.quantize;
    r->target_type = plan.target;
    r->wanted_type = plan.wanted;
    r->fallback = plan.fallback;
    r->needs_imatrix = plan.needs_imatrix;
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
    if (!r->needs_imatrix) return 0;
    r->missing_imatrix = 1;
    if (p->options->allow_no_imatrix || p->options->dry_run) return 0;
    snprintf(error, error_size,
             "tensor '%s' would be %s, which needs an importance matrix%s: pass --imatrix FILE (llama-imatrix "
             "writes one), or --allow-no-imatrix to use built-in weights (far less accurate at this width)",
             r->name, lowbit_format_name(r->target_type),
             p->options->imatrix_path ? ", and the imatrix has no entry for it" : "");
    return -1;
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
        p->jobs[i] = (tensor_job){p, i, info.data, info.type, NULL, 0};
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
    size_t meta_count = 0;
    lowbit_safetensors_metadata_count(file, &meta_count);
    for (size_t m = 0; m < meta_count; ++m) {
        const char *key = NULL, *value = NULL;
        char gguf_key[512];
        if (lowbit_safetensors_metadata_get(file, m, &key, &value) != LOWBIT_OK) continue;
        snprintf(gguf_key, sizeof gguf_key, "safetensors.%s", key);
        lowbit_gguf_writer_set_string(writer, gguf_key, value);
    }
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
        } else if (plan_one(&rules, &desc, info.size, r, error, error_size) != 0)
            goto done;
        p->jobs[kept] = (tensor_job){p, kept, info.data, type, NULL, 0};
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
    pipeline p = {options, summary, NULL, {0}, producer_error, sizeof producer_error};
    quantize_imatrix imatrix = {0};
    double start = tool_now_seconds();
    memset(summary, 0, sizeof *summary);
    summary->input = options->input;
    summary->output = options->output;
    summary->type_name = options->preset->name;
    summary->file_type = options->preset->file_type;
    summary->dry_run = options->dry_run;
    summary->imatrix_path = options->imatrix_path;
    summary->threads = options->threads ? options->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct stat st;
    if (stat(options->input, &st) != 0) return fail(error, error_size, "cannot open the input file", options->input);
    if (!S_ISREG(st.st_mode)) return fail(error, error_size, "the input is not a regular file", options->input);
    if (same_file(options->input, options->output))
        return fail(error, error_size, "refusing to overwrite the input file", options->output);
    if (options->imatrix_path && same_file(options->imatrix_path, options->output))
        return fail(error, error_size, "refusing to overwrite the imatrix file", options->output);
    input_kind kind = detect_input(options->input);
    if (kind == INPUT_UNKNOWN)
        return fail(error, error_size, "the input is neither a GGUF nor a safetensors file", options->input);
    if (options->imatrix_path && quantize_imatrix_load(options->imatrix_path, &imatrix, error, error_size) != 0)
        return -1;
    int rc = kind == INPUT_GGUF
                 ? run_gguf(&p, options->imatrix_path ? &imatrix : NULL, progress_out, error, error_size)
                 : run_safetensors(&p, options->imatrix_path ? &imatrix : NULL, progress_out, error, error_size);
    free(p.jobs);
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
