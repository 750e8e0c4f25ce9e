/* import_run.c — lowbit-import's job: pair each packed .qweight with its qzeros/scales/g_idx, check the
 * checkpoint against its stated layout, pick each tensor's ggml format, stream the GGUF out through the
 * library's atomic writer and measure every block against the checkpoint's own dequantized values. */
#include "tools/import/import_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lowbit/lowbit.h"
#include "lowbit/lowbit_format.h"
#include "lowbit/lowbit_io.h"
#include "tools/import/import_layout.h"
#include "tools/common/tool_util.h"

enum { CHUNK_ELEMENTS = 1 << 20, GGUF_TYPE_I32 = 26, GGUF_TYPE_I64 = 27 };

typedef enum item_kind { ITEM_CARRIED, ITEM_LAYER, ITEM_TERNARY } item_kind;

typedef struct import_job import_job;

typedef struct import_item {
    import_job *job;
    item_kind kind;
    size_t report; /* index into the summary's tensors */
    lowbit_safetensors_tensor_info info;
    import_layer layer;
    int direct;
    int gguf_type;
    uint32_t n_dims;
    uint64_t ne[LOWBIT_GGUF_MAX_DIMS];
} import_item;

struct import_job {
    const import_options *options;
    import_summary *summary;
    import_item *items;
    size_t item_count;
    char error[1024];
};

static int fail(char *error, size_t error_size, const char *format, const char *a, const char *b)
{
    snprintf(error, error_size, format, a, b);
    return -1;
}

static int ends_with(const char *name, const char *suffix)
{
    const size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static const char *shape_text(const lowbit_safetensors_tensor_info *info, char *buffer, size_t size)
{
    size_t used = (size_t)snprintf(buffer, size, "[");
    for (uint32_t d = 0; d < info->n_dims && used < size; ++d)
        used +=
            (size_t)snprintf(buffer + used, size - used, "%s%llu", d ? ", " : "", (unsigned long long)info->shape[d]);
    if (used < size) snprintf(buffer + used, size - used, "]");
    return buffer;
}

/* The tensor `prefix``suffix`, or found = 0. */
static int find_companion(const lowbit_safetensors *file, const char *prefix, const char *suffix,
                          lowbit_safetensors_tensor_info *info)
{
    char name[1024];
    size_t index = LOWBIT_NOT_FOUND;
    if ((size_t)snprintf(name, sizeof name, "%s%s", prefix, suffix) >= sizeof name) return 0;
    if (lowbit_safetensors_tensor_find(file, name, &index) != LOWBIT_OK || index == LOWBIT_NOT_FOUND) return 0;
    info->struct_size = sizeof *info;
    return lowbit_safetensors_tensor_get(file, index, info) == LOWBIT_OK;
}

/* --- settings ----------------------------------------------------------------------------------- */

typedef struct import_settings {
    import_method method;
    int bits;
    long group_size; /* 0: unknown */
    int zero_point;  /* AWQ: qzeros expected */
    int sym_known, sym;
    const char *checkpoint_format;
} import_settings;

static int method_from_config(const import_config *config, import_method *method, char *error, size_t error_size)
{
    const char *m = config->quant_method;
    if (!m[0]) return 0;
    if (strcasecmp(m, "gptq") == 0)
        *method = IMPORT_METHOD_GPTQ;
    else if (strcasecmp(m, "awq") == 0)
        *method = IMPORT_METHOD_AWQ;
    else if (strcasecmp(m, "bitnet") == 0 || strcasecmp(m, "ternary") == 0)
        *method = IMPORT_METHOD_TERNARY;
    else
        return fail(error, error_size, "quant_method '%s' is not one lowbit-import reads (gptq, awq, bitnet)%s", m, "");
    return 0;
}

static int resolve_settings(const import_options *o, const import_config *config, int has_qweight, import_settings *s,
                            char *error, size_t error_size)
{
    memset(s, 0, sizeof *s);
    if (method_from_config(config, &s->method, error, error_size)) return -1;
    if (o->method != IMPORT_METHOD_UNSET) s->method = o->method;
    if (s->method == IMPORT_METHOD_UNSET)
        return fail(error, error_size, "%s",
                    has_qweight ? "the checkpoint holds packed .qweight tensors but neither --method nor a config's "
                                  "quant_method says whether they are gptq or awq"
                                : "nothing says how the checkpoint is quantized: give --method (gptq, awq or "
                                  "ternary) or --config",
                    NULL);
    s->bits = o->bits ? o->bits : config->has_bits ? config->bits : 0;
    s->group_size = o->group_size ? o->group_size : config->has_group_size ? config->group_size : 0;
    s->zero_point = config->has_zero_point ? config->zero_point : 1;
    s->sym_known = config->has_sym;
    s->sym = config->sym;
    s->checkpoint_format = config->checkpoint_format;
    if (s->method == IMPORT_METHOD_TERNARY) return 0;
    if (!s->bits)
        return fail(error, error_size, "%s", "the bit width is unknown: give --bits or a config with bits", NULL);
    if (!s->group_size)
        return fail(error, error_size, "%s", "the group size is unknown: give --group-size or a config with group_size",
                    NULL);
    if (s->method == IMPORT_METHOD_AWQ) {
        if (s->bits != 4) {
            snprintf(error, error_size, "AWQ's GEMM layout packs 4-bit weights only, not %d-bit", s->bits);
            return -1;
        }
        if (config->version[0] && strcasecmp(config->version, "gemm") != 0)
            return fail(error, error_size, "AWQ version '%s' is not supported (only the GEMM layout)%s",
                        config->version, "");
    } else {
        const char *f = config->checkpoint_format;
        if (f[0] && strcmp(f, "gptq") != 0 && strcmp(f, "gptq_v2") != 0)
            return fail(error, error_size, "checkpoint_format '%s' is not supported (gptq or gptq_v2)%s", f, "");
    }
    return 0;
}

/* --- checking one packed layer ----------------------------------------------------------------- */

static int check_int32(const lowbit_safetensors_tensor_info *info, uint32_t dims, char *error, size_t error_size)
{
    if (info->dtype != LOWBIT_SAFETENSORS_I32 || info->n_dims != dims) {
        snprintf(error, error_size, "'%s' must be an I32 tensor of %u dimensions, found %s with %u", info->name, dims,
                 info->dtype_name, info->n_dims);
        return -1;
    }
    return 0;
}

static int check_shape(const lowbit_safetensors_tensor_info *info, uint64_t rows, uint64_t cols, const char *why,
                       char *error, size_t error_size)
{
    if (info->shape[0] != rows || info->shape[1] != cols) {
        char have[96];
        snprintf(error, error_size, "'%s' has shape %s but %s needs [%llu, %llu]", info->name,
                 shape_text(info, have, sizeof have), why, (unsigned long long)rows, (unsigned long long)cols);
        return -1;
    }
    return 0;
}

/* Builds item->layer from the qweight in item->info and its companions; validates everything. */
static int build_layer(const lowbit_safetensors *file, const import_settings *s, const char *prefix, import_item *item,
                       char *error, size_t error_size)
{
    import_layer *l = &item->layer;
    const lowbit_safetensors_tensor_info *qw = &item->info;
    lowbit_safetensors_tensor_info qz = {0}, sc = {0}, gi = {0};
    const int has_qzeros = find_companion(file, prefix, ".qzeros", &qz);
    const int has_scales = find_companion(file, prefix, ".scales", &sc);
    const int has_g_idx = find_companion(file, prefix, ".g_idx", &gi);
    char why[160];
    memset(l, 0, sizeof *l);
    l->bits = s->bits;
    l->packing = s->method == IMPORT_METHOD_AWQ ? IMPORT_PACKING_AWQ : IMPORT_PACKING_GPTQ;
    if (check_int32(qw, 2, error, error_size)) return -1;
    if (!has_scales) return fail(error, error_size, "'%s.scales' is missing (needed by '%s')", prefix, qw->name);
    if (!has_qzeros && (s->method == IMPORT_METHOD_GPTQ || s->zero_point))
        return fail(error, error_size, "'%s.qzeros' is missing (needed by '%s')", prefix, qw->name);
    if (l->packing == IMPORT_PACKING_GPTQ) {
        if ((qw->shape[0] * 32) % (uint64_t)s->bits != 0) {
            snprintf(error, error_size, "'%s' has %llu packed rows, which do not hold a whole number of %d-bit values",
                     qw->name, (unsigned long long)qw->shape[0], s->bits);
            return -1;
        }
        l->cols = (size_t)(qw->shape[0] * 32 / (uint64_t)s->bits);
        l->rows = (size_t)qw->shape[1];
    } else {
        l->cols = (size_t)qw->shape[0];
        l->rows = (size_t)(qw->shape[1] * 8);
    }
    l->qweight = qw->data;
    if (l->rows == 0 || l->cols == 0) return fail(error, error_size, "'%s' is empty%s", qw->name, "");
    if ((l->rows * (size_t)s->bits) % 32 != 0) {
        snprintf(error, error_size, "'%s': %zu output features do not pack into whole 32-bit zero words at %d bits",
                 qw->name, l->rows, s->bits);
        return -1;
    }
    l->group_size = s->group_size == -1 ? l->cols : (size_t)s->group_size;
    l->group_count = (l->cols + l->group_size - 1) / l->group_size;
    const char *name = l->packing == IMPORT_PACKING_AWQ ? "AWQ" : "GPTQ";
    snprintf(why, sizeof why, "%d-bit %s with group size %zu, K = %zu, N = %zu", s->bits, name, l->group_size, l->cols,
             l->rows);
    if (sc.n_dims != 2 || (sc.dtype != LOWBIT_SAFETENSORS_F16 && sc.dtype != LOWBIT_SAFETENSORS_BF16 &&
                           sc.dtype != LOWBIT_SAFETENSORS_F32)) {
        snprintf(error, error_size, "'%s' must be a 2-D F16 (or BF16/F32) tensor, found %s with %u dimensions", sc.name,
                 sc.dtype_name, sc.n_dims);
        return -1;
    }
    if (check_shape(&sc, l->group_count, l->rows, why, error, error_size)) return -1;
    l->scales = sc.data;
    l->scales_format = sc.format;
    if (has_qzeros) {
        const uint64_t zero_cols = l->packing == IMPORT_PACKING_AWQ ? l->rows / 8 : l->rows * (size_t)s->bits / 32;
        if (check_int32(&qz, 2, error, error_size) ||
            check_shape(&qz, l->group_count, zero_cols, why, error, error_size))
            return -1;
        l->qzeros = qz.data;
    }
    if (has_g_idx) {
        if (l->packing == IMPORT_PACKING_AWQ)
            return fail(error, error_size, "'%s' is a GPTQ tensor, but the checkpoint is read as AWQ%s", gi.name, "");
        if (check_int32(&gi, 1, error, error_size)) return -1;
        if (gi.shape[0] != l->cols) {
            snprintf(error, error_size, "'%s' has %llu entries but %s has K = %zu input features", gi.name,
                     (unsigned long long)gi.shape[0], qw->name, l->cols);
            return -1;
        }
        l->g_idx = gi.data;
        size_t bad_col = 0;
        int64_t bad_value = 0;
        if (import_layer_check_groups(l, &bad_col, &bad_value)) {
            snprintf(error, error_size, "'%s'[%zu] = %lld is outside the %zu groups of the scales", gi.name, bad_col,
                     (long long)bad_value, l->group_count);
            return -1;
        }
    }
    size_t bad_group = 0, bad_row = 0;
    if (import_layer_check_scales(l, &bad_group, &bad_row)) {
        snprintf(error, error_size, "'%s'[%zu][%zu] is not finite", sc.name, bad_group, bad_row);
        return -1;
    }
    item->n_dims = 2;
    item->ne[0] = l->cols;
    item->ne[1] = l->rows;
    item->ne[2] = item->ne[3] = 1;
    return 0;
}

/* GPTQ's zero convention for the whole file: the option, else the evidence of a symmetric checkpoint's
 * uniform zeros, else checkpoint_format (v1 when absent). */
static void decide_gptq_zeros(const import_options *o, const import_settings *s, import_item *items, size_t count,
                              import_summary *summary)
{
    const int format_v2 = strcmp(s->checkpoint_format, "gptq_v2") == 0;
    int v2 = format_v2;
    summary->zeros_reason = format_v2                 ? "checkpoint_format gptq_v2"
                            : s->checkpoint_format[0] ? "checkpoint_format gptq"
                                                      : "no checkpoint_format: AutoGPTQ's v1 assumed";
    if (o->zeros != IMPORT_ZEROS_AUTO) {
        v2 = o->zeros == IMPORT_ZEROS_V2;
        summary->zeros_reason = "--gptq-zeros";
    } else if (!s->sym_known || s->sym) {
        const uint32_t half = 1u << (s->bits - 1);
        int all_v1 = 1, all_v2 = 1, any = 0;
        for (size_t i = 0; i < count; ++i) {
            const import_layer *l = &items[i].layer;
            if (items[i].kind != ITEM_LAYER || !l->qzeros) continue;
            for (size_t g = 0; g < l->group_count && (all_v1 || all_v2); ++g)
                for (size_t n = 0; n < l->rows; ++n) {
                    const uint32_t z = import_layer_stored_zero(l, g, n);
                    any = 1;
                    all_v1 &= z == half - 1;
                    all_v2 &= z == half;
                }
        }
        if (any && all_v1 != all_v2) {
            v2 = all_v2;
            if (v2 != format_v2 && s->checkpoint_format[0])
                summary->zeros_reason = v2 ? "stored zeros are all 2^(bits-1), the symmetric v2 zero, although "
                                             "checkpoint_format says gptq"
                                           : "stored zeros are all 2^(bits-1)-1, the symmetric v1 zero, although "
                                             "checkpoint_format says gptq_v2";
            else
                summary->zeros_reason = v2 ? "stored zeros are all 2^(bits-1) (symmetric v2)"
                                           : "stored zeros are all 2^(bits-1)-1 (symmetric v1)";
        }
    }
    summary->zeros = v2 ? "v2" : "v1";
    for (size_t i = 0; i < count; ++i)
        if (items[i].kind == ITEM_LAYER) items[i].layer.zero_offset = v2 ? 0u : 1u;
}

static uint32_t block_elements(int type)
{
    const lowbit_format_traits *t = lowbit_format_get(type);
    return t && t->block_size > 1 ? t->block_size : 32u;
}

static int check_target_fits(const import_tensor_report *r, char *error, size_t error_size)
{
    const lowbit_format_traits *t = lowbit_format_get(r->target_type);
    if (!t || r->cols % t->block_size != 0) {
        snprintf(error, error_size, "'%s': K = %llu is not a multiple of %s's %u-element block", r->name,
                 (unsigned long long)r->cols, lowbit_format_name(r->target_type), t ? t->block_size : 0u);
        return -1;
    }
    return 0;
}

static int choose_layer_target(const import_options *o, import_item *item, import_tensor_report *r, char *error,
                               size_t error_size)
{
    const import_layer *l = &item->layer;
    const int sequential = import_layer_groups_are_sequential(l);
    const int whole_blocks = l->group_size % 32 == 0 && l->cols % 32 == 0;
    const int can_q4_1 = l->bits <= 4 && sequential && whole_blocks;
    const int can_q8_0 = l->bits == 8 && sequential && whole_blocks && import_layer_fits_int8(l);
    r->act_order = !sequential;
    if (o->type >= 0) {
        r->target_type = o->type;
        item->direct = (o->type == LOWBIT_FORMAT_Q4_1 && can_q4_1) || (o->type == LOWBIT_FORMAT_Q8_0 && can_q8_0);
        r->note = "--type";
    } else if (can_q4_1 || can_q8_0) {
        r->target_type = can_q4_1 ? LOWBIT_FORMAT_Q4_1 : LOWBIT_FORMAT_Q8_0;
        item->direct = 1;
    } else {
        r->target_type = l->cols % 32 == 0 ? LOWBIT_FORMAT_Q8_0 : LOWBIT_FORMAT_F16;
        r->note = !sequential     ? "act-order g_idx: a 32-block mixes groups"
                  : !whole_blocks ? "groups do not split into 32-element blocks"
                                  : "8-bit levels q - zero leave the int8 range";
    }
    r->mapping = item->direct ? IMPORT_MAPPING_DIRECT : IMPORT_MAPPING_REQUANTIZED;
    return check_target_fits(r, error, error_size);
}

/* --- ternary ------------------------------------------------------------------------------------ */

static float float_at(const lowbit_safetensors_tensor_info *info, uint64_t i)
{
    const unsigned char *p = (const unsigned char *)info->data;
    if (info->dtype == LOWBIT_SAFETENSORS_F32) {
        const uint32_t bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                              (uint32_t)p[4 * i + 3] << 24;
        float v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    const uint16_t half = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    return info->dtype == LOWBIT_SAFETENSORS_BF16 ? lowbit_bf16_to_fp32(half) : lowbit_fp16_to_fp32(half);
}

/* 1 when every value is −s, 0 or +s for one s > 0 (then *scale = s). */
static int is_ternary(const lowbit_safetensors_tensor_info *info, float *scale)
{
    float s = 0.0f;
    for (uint64_t i = 0; i < info->element_count; ++i) {
        const float v = float_at(info, i);
        if (v == 0.0f) continue;
        const float a = fabsf(v);
        if (!(a < INFINITY)) return 0;
        if (s == 0.0f)
            s = a;
        else if (a != s)
            return 0;
    }
    *scale = s;
    return s > 0.0f;
}

/* --- writing ------------------------------------------------------------------------------------ */

static void compare_rows(import_tensor_report *r, const float *reference, const float *back, size_t count, size_t cols)
{
    const size_t block = block_elements(r->target_type);
    for (size_t i = 0; i < count; ++i)
        for (size_t b0 = 0; b0 < cols; b0 += block) {
            const size_t b1 = b0 + block < cols ? b0 + block : cols;
            int exact = 1;
            for (size_t k = b0; k < b1; ++k) {
                const double ref = reference[i * cols + k], diff = (double)back[i * cols + k] - ref;
                if (back[i * cols + k] != reference[i * cols + k]) exact = 0;
                if (fabs(diff) > r->max_abs_diff || diff != diff) r->max_abs_diff = fabs(diff);
                r->squared_error += diff * diff;
                r->squared_reference += ref * ref;
            }
            r->blocks++;
            r->exact_blocks += (uint64_t)exact;
        }
}

/* Streams one imported tensor: checkpoint values (f32) → target blocks → written, then read back with the
 * library's dequantizer and compared block by block. */
static lowbit_status produce_tensor(void *user_data, const char *name, size_t size, lowbit_gguf_write_fn write,
                                    void *sink)
{
    import_item *item = user_data;
    import_job *job = item->job;
    import_tensor_report *r = &job->summary->tensors[item->report];
    const size_t cols = (size_t)r->cols, rows = (size_t)r->rows;
    const size_t out_row = lowbit_format_row_size(r->target_type, cols);
    if (out_row == 0 || size != rows * out_row) {
        snprintf(job->error, sizeof job->error, "tensor '%s': size mismatch (%zu bytes asked, %zu expected)", name,
                 size, rows * out_row);
        return LOWBIT_ERROR_INTERNAL;
    }
    size_t chunk_rows = CHUNK_ELEMENTS / cols;
    if (chunk_rows == 0) chunk_rows = 1;
    if (chunk_rows > rows) chunk_rows = rows;
    float *reference = malloc(chunk_rows * cols * sizeof *reference);
    float *back = malloc(chunk_rows * cols * sizeof *back);
    unsigned char *out = malloc(chunk_rows * out_row);
    lowbit_status status = LOWBIT_OK;
    if (!reference || !back || !out) {
        snprintf(job->error, sizeof job->error, "tensor '%s': out of memory for a %zu-row chunk", name, chunk_rows);
        status = LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    r->blocks = r->exact_blocks = 0;
    r->max_abs_diff = r->squared_error = r->squared_reference = 0.0;
    for (size_t row = 0; status == LOWBIT_OK && row < rows;) {
        const size_t n = rows - row < chunk_rows ? rows - row : chunk_rows;
        if (item->kind == ITEM_LAYER)
            import_layer_dequantize(&item->layer, row, n, reference);
        else
            for (size_t i = 0; i < n * cols; ++i)
                reference[i] = float_at(&item->info, (uint64_t)row * cols + i);
        if (item->direct && item->kind == ITEM_LAYER && r->target_type == LOWBIT_FORMAT_Q4_1)
            import_layer_blocks_q4_1(&item->layer, row, n, out);
        else if (item->direct && item->kind == ITEM_LAYER)
            import_layer_blocks_q8_0(&item->layer, row, n, out);
        else
            status = (lowbit_status)lowbit_quantize(r->target_type, reference, n, cols, out, n * out_row, NULL,
                                                    job->options->threads);
        if (status != LOWBIT_OK) {
            snprintf(job->error, sizeof job->error, "tensor '%s': quantizing to %s failed: %s", name,
                     lowbit_format_name(r->target_type), lowbit_last_error());
            break;
        }
        status = write(sink, out, n * out_row);
        if (status != LOWBIT_OK) {
            snprintf(job->error, sizeof job->error, "tensor '%s': writing failed: %s", name, lowbit_last_error());
            break;
        }
        status = (lowbit_status)lowbit_dequantize(r->target_type, out, n * out_row, n, cols, back);
        if (status != LOWBIT_OK) {
            snprintf(job->error, sizeof job->error, "tensor '%s': reading %s back failed: %s", name,
                     lowbit_format_name(r->target_type), lowbit_last_error());
            break;
        }
        compare_rows(r, reference, back, n, cols);
        row += n;
    }
    free(reference);
    free(back);
    free(out);
    r->nmse = r->squared_reference > 0.0 ? r->squared_error / r->squared_reference : r->squared_error;
    return status;
}

static char *copy_name(const char *prefix, const char *suffix)
{
    const size_t a = strlen(prefix), b = strlen(suffix);
    char *name = malloc(a + b + 1);
    if (name) {
        memcpy(name, prefix, a);
        memcpy(name + a, suffix, b + 1);
    }
    return name;
}

static const char *layer_layout(const import_settings *s, const import_summary *summary)
{
    if (s->method == IMPORT_METHOD_AWQ) return "awq-gemm";
    return summary->zeros && strcmp(summary->zeros, "v2") == 0 ? "gptq-v2" : "gptq-v1";
}

/* Sorts every safetensors tensor into an item: a packed layer (its companions are consumed), a ternary
 * weight, a carried tensor or one skipped; names and shapes follow lowbit-quantize's safetensors path. */
static int collect_items(import_job *job, const lowbit_safetensors *file, const import_settings *s, char *error,
                         size_t error_size)
{
    import_summary *summary = job->summary;
    size_t count = 0;
    lowbit_safetensors_tensor_count(file, &count);
    job->items = calloc(count ? count : 1, sizeof *job->items);
    summary->tensors = calloc(count ? count : 1, sizeof *summary->tensors);
    if (!job->items || !summary->tensors) return fail(error, error_size, "%s", "out of memory", NULL);
    const int packed = s->method == IMPORT_METHOD_GPTQ || s->method == IMPORT_METHOD_AWQ;
    for (size_t i = 0; i < count; ++i) {
        lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_safetensors_tensor_get(file, i, &info) != LOWBIT_OK)
            return fail(error, error_size, "cannot read the tensor table: %s%s", lowbit_last_error(), "");
        const char *name = info.name;
        static const char *const companions[] = {".qzeros", ".scales", ".g_idx"};
        int companion = -1;
        for (int c = 0; c < 3; ++c)
            if (ends_with(name, companions[c])) companion = c;
        if (companion >= 0 && (packed || companion != 1)) {
            /* consumed with its .qweight; an orphan is an error */
            const size_t prefix_length = strlen(name) - strlen(companions[companion]);
            char prefix[1024];
            lowbit_safetensors_tensor_info qw;
            if (prefix_length < sizeof prefix) {
                memcpy(prefix, name, prefix_length);
                prefix[prefix_length] = '\0';
                if (find_companion(file, prefix, ".qweight", &qw)) continue;
            }
            if (!packed) continue;
            return fail(error, error_size, "'%s' has no matching '.qweight' tensor%s", name, "");
        }
        import_item *item = &job->items[job->item_count];
        import_tensor_report *r = &summary->tensors[summary->tensor_count];
        memset(item, 0, sizeof *item);
        memset(r, 0, sizeof *r);
        item->job = job;
        item->info = info;
        item->report = summary->tensor_count;
        if (ends_with(name, ".qweight")) {
            if (!packed)
                return fail(error, error_size, "'%s' is a packed GPTQ/AWQ tensor but the method is ternary%s", name,
                            "");
            const size_t prefix_length = strlen(name) - strlen(".qweight");
            char prefix[1024];
            lowbit_safetensors_tensor_info other;
            if (prefix_length >= sizeof prefix)
                return fail(error, error_size, "tensor name too long: '%s'%s", name, "");
            memcpy(prefix, name, prefix_length);
            prefix[prefix_length] = '\0';
            if (find_companion(file, prefix, ".weight", &other))
                return fail(error, error_size, "'%s' and '%s.weight' would both become the same GGUF tensor", name,
                            prefix);
            item->kind = ITEM_LAYER;
            if (build_layer(file, s, prefix, item, error, error_size)) return -1;
            r->name = copy_name(prefix, ".weight");
            r->bits = s->bits;
            r->group_size = item->layer.group_size;
            r->rows = item->layer.rows;
            r->cols = item->layer.cols;
        } else {
            int type = info.format >= 0                       ? info.format
                       : info.dtype == LOWBIT_SAFETENSORS_I32 ? GGUF_TYPE_I32
                       : info.dtype == LOWBIT_SAFETENSORS_I64 ? GGUF_TYPE_I64
                                                              : -1;
            if (type < 0 || info.n_dims > LOWBIT_GGUF_MAX_DIMS || info.element_count == 0) {
                if (s->method == IMPORT_METHOD_TERNARY && ends_with(name, ".weight"))
                    return fail(error, error_size,
                                "'%s' is %s: packed ternary weights are not read; give the weights as floats%s", name,
                                info.dtype_name);
                fprintf(stderr, "lowbit-import: skipping '%s' (%s, %u dims): no GGUF equivalent\n", name,
                        info.dtype_name, info.n_dims);
                summary->skipped++;
                continue;
            }
            r->name = copy_name(name, "");
            item->kind = ITEM_CARRIED;
            item->gguf_type = type;
            item->n_dims = info.n_dims ? info.n_dims : 1;
            for (uint32_t d = 0; d < LOWBIT_GGUF_MAX_DIMS; ++d)
                item->ne[d] = d < info.n_dims ? info.shape[info.n_dims - 1 - d] : 1;
            r->rows = info.element_count / item->ne[0];
            r->cols = item->ne[0];
            r->target_type = type;
            r->layout = info.dtype_name;
            r->mapping = IMPORT_MAPPING_CARRIED;
            float scale = 0.0f;
            if (s->method == IMPORT_METHOD_TERNARY && info.format >= 0 && info.n_dims == 2 &&
                ends_with(name, ".weight")) {
                if (!is_ternary(&info, &scale)) {
                    r->note = "not ternary";
                } else {
                    const int target = job->options->type >= 0 ? job->options->type : job->options->ternary_type;
                    const lowbit_format_traits *t = lowbit_format_get(target);
                    if (t && r->cols % t->block_size == 0) {
                        item->kind = ITEM_TERNARY;
                        r->layout = "ternary";
                        r->bits = 2;
                        r->group_size = r->cols * r->rows;
                        r->target_type = target;
                        r->mapping =
                            job->options->type >= 0 && target != LOWBIT_FORMAT_TQ1_0 && target != LOWBIT_FORMAT_TQ2_0
                                ? IMPORT_MAPPING_REQUANTIZED
                                : IMPORT_MAPPING_DIRECT;
                        r->note = job->options->type >= 0 ? "--type" : NULL;
                    } else {
                        r->note = "ternary, but K is not a multiple of the target's block: carried";
                    }
                }
            }
        }
        if (!r->name) return fail(error, error_size, "%s", "out of memory", NULL);
        summary->tensor_count++;
        job->item_count++;
    }
    return 0;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int import_run(const import_options *o, import_summary *summary, char *error, size_t error_size)
{
    memset(summary, 0, sizeof *summary);
    import_config config;
    memset(&config, 0, sizeof config);
    if (o->config_path && import_config_read(o->config_path, &config, error, error_size)) return -1;
    if (same_file(o->input, o->output))
        return fail(error, error_size, "the output '%s' is the input file%s", o->output, "");
    import_job job = {.options = o, .summary = summary};
    lowbit_safetensors *file = NULL;
    lowbit_gguf_writer *writer = NULL;
    int rc = -1;
    if (lowbit_safetensors_open(o->input, &file) != LOWBIT_OK)
        return fail(error, error_size, "cannot read the checkpoint '%s': %s", o->input, lowbit_last_error());
    size_t count = 0;
    int has_qweight = 0;
    lowbit_safetensors_tensor_count(file, &count);
    for (size_t i = 0; i < count; ++i) {
        lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_safetensors_tensor_get(file, i, &info) == LOWBIT_OK && ends_with(info.name, ".qweight"))
            has_qweight = 1;
    }
    import_settings s;
    if (resolve_settings(o, &config, has_qweight, &s, error, error_size)) goto done;
    summary->method = s.method == IMPORT_METHOD_GPTQ ? "gptq" : s.method == IMPORT_METHOD_AWQ ? "awq" : "ternary";
    summary->bits = s.method == IMPORT_METHOD_TERNARY ? 2 : s.bits;
    summary->group_size = s.group_size;
    if (collect_items(&job, file, &s, error, error_size)) goto done;
    if (s.method == IMPORT_METHOD_GPTQ) decide_gptq_zeros(o, &s, job.items, job.item_count, summary);
    if (s.method == IMPORT_METHOD_AWQ)
        summary->zeros_reason = s.zero_point ? "AWQ stores the real zero" : "zero_point false";
    for (size_t i = 0; i < job.item_count; ++i) {
        import_item *item = &job.items[i];
        import_tensor_report *r = &summary->tensors[item->report];
        if (item->kind == ITEM_LAYER) {
            r->layout = layer_layout(&s, summary);
            if (choose_layer_target(o, item, r, error, error_size)) goto done;
        }
        if (item->kind == ITEM_CARRIED)
            summary->carried++;
        else
            summary->imported++;
    }
    if (summary->imported == 0)
        fprintf(stderr, "lowbit-import: warning: no tensor of the checkpoint is %s-quantized; everything is carried\n",
                summary->method);
    if (lowbit_gguf_writer_create(&writer) != LOWBIT_OK ||
        lowbit_gguf_writer_set_string(writer, "general.architecture", o->arch) != LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "general.quantization_version", LOWBIT_GGUF_UINT32, 2) != LOWBIT_OK ||
        lowbit_gguf_writer_set_string(writer, "lowbit.import.method", summary->method) != LOWBIT_OK ||
        lowbit_gguf_writer_set_uint(writer, "lowbit.import.bits", LOWBIT_GGUF_UINT32, (uint64_t)summary->bits) !=
            LOWBIT_OK) {
        fail(error, error_size, "cannot start the output: %s%s", lowbit_last_error(), "");
        goto done;
    }
    tool_copy_safetensors_metadata(file, writer);
    for (size_t i = 0; i < job.item_count; ++i) {
        import_item *item = &job.items[i];
        import_tensor_report *r = &summary->tensors[item->report];
        lowbit_status status;
        if (item->kind == ITEM_CARRIED) {
            status = lowbit_gguf_writer_add_tensor(writer, r->name, item->gguf_type, item->n_dims, item->ne,
                                                   item->info.data, (size_t)item->info.size);
        } else {
            const uint64_t ne[2] = {r->cols, r->rows};
            status = lowbit_gguf_writer_add_tensor_stream(writer, r->name, r->target_type, 2, ne, produce_tensor, item);
        }
        if (status != LOWBIT_OK) {
            snprintf(error, error_size, "cannot add tensor '%s' to the output: %s", r->name, lowbit_last_error());
            goto done;
        }
    }
    if (lowbit_gguf_writer_write(writer, o->output) != LOWBIT_OK) {
        if (job.error[0])
            fail(error, error_size, "%s%s", job.error, "");
        else
            fail(error, error_size, "writing '%s' failed: %s", o->output, lowbit_last_error());
        goto done;
    }
    for (size_t i = 0; i < summary->tensor_count; ++i) {
        const import_tensor_report *r = &summary->tensors[i];
        if (r->mapping != IMPORT_MAPPING_CARRIED && r->exact_blocks != r->blocks) summary->inexact++;
    }
    struct stat st;
    if (stat(o->output, &st) == 0) summary->output_bytes = (uint64_t)st.st_size;
    rc = 0;
done:
    lowbit_gguf_writer_destroy(writer);
    lowbit_safetensors_close(file);
    free(job.items);
    return rc;
}

void import_summary_free(import_summary *summary)
{
    for (size_t i = 0; i < summary->tensor_count; ++i)
        free(summary->tensors[i].name);
    free(summary->tensors);
    memset(summary, 0, sizeof *summary);
}
