/* safetensors.c — the safetensors reader: a bounds-checked JSON header parser (written for this
 * format, nothing more) and validation of every tensor's dtype, shape and data range. */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../tuning/json.h"
#include "io_internal.h"

#define SAFETENSORS_HANDLE_MAGIC 0x4c425354u
#define HEADER_MAX_DEPTH 64

typedef struct st_tensor {
    const char *name; /* first member: the name index reads it */
    lowbit_safetensors_dtype dtype;
    uint32_t n_dims;
    uint64_t shape[LOWBIT_SAFETENSORS_MAX_DIMS];
    uint64_t element_count, size, begin, end;
} st_tensor;

typedef struct st_metadata {
    const char *key; /* first member: the name index reads it */
    const char *value;
} st_metadata;

struct lowbit_safetensors {
    uint32_t handle_magic;
    lowbit_mapped_file file;
    lowbit_arena arena;
    st_tensor *tensors;
    size_t tensor_count, tensor_capacity;
    st_metadata *metadata;
    size_t metadata_count, metadata_capacity;
    uint64_t data_start;
    lowbit_name_index tensor_index, metadata_index;
};

static const struct {
    const char *name;
    lowbit_safetensors_dtype dtype;
    uint32_t size;
    int format;
} dtypes[] = {
    {"F32", LOWBIT_SAFETENSORS_F32, 4, LOWBIT_FORMAT_F32},
    {"F16", LOWBIT_SAFETENSORS_F16, 2, LOWBIT_FORMAT_F16},
    {"BF16", LOWBIT_SAFETENSORS_BF16, 2, LOWBIT_FORMAT_BF16},
    {"I32", LOWBIT_SAFETENSORS_I32, 4, -1},
    {"U8", LOWBIT_SAFETENSORS_U8, 1, -1},
    {"I64", LOWBIT_SAFETENSORS_I64, 8, -1},
};

/* --- JSON ---------------------------------------------------------------------------------- */
typedef struct json {
    const uint8_t *text;
    size_t size, pos;
    size_t base; /* file offset of text[0], for messages */
    lowbit_arena *arena;
} json;

static lowbit_status json_fail(const json *j, const char *what)
{
    return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors header: %s at offset %zu", what, j->base + j->pos);
}

static void json_space(json *j)
{
    while (j->pos < j->size &&
           (j->text[j->pos] == ' ' || j->text[j->pos] == '\t' || j->text[j->pos] == '\n' || j->text[j->pos] == '\r'))
        j->pos++;
}

/* Consumes `c` after optional whitespace; 0 when the next character is something else. */
static int json_take(json *j, char c)
{
    json_space(j);
    if (j->pos < j->size && j->text[j->pos] == (uint8_t)c) {
        j->pos++;
        return 1;
    }
    return 0;
}

static int hex4(const uint8_t *p, uint32_t *out)
{
    *out = 0;
    for (int i = 0; i < 4; ++i) {
        uint8_t c = p[i];
        uint32_t v = c >= '0' && c <= '9'   ? c - '0'
                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : 16;
        if (v == 16) return -1;
        *out = *out << 4 | v;
    }
    return 0;
}

/* A string, unescaped into the arena (NUL-terminated; *length excludes the NUL). With out NULL it is
 * only validated, so skipped values cost no memory. */
static lowbit_status json_string(json *j, const char **out, size_t *length)
{
    json_space(j);
    if (j->pos >= j->size || j->text[j->pos] != '"') return json_fail(j, "expected a string");
    size_t start = ++j->pos, end = start;
    while (end < j->size && j->text[end] != '"')
        end += j->text[end] == '\\' ? 2 : 1;
    if (end >= j->size) return json_fail(j, "unterminated string");
    /* Unescaping never makes a string longer (\uXXXX is 6 bytes for at most 3, a pair 12 for 4). */
    char *s = out ? lowbit_arena_alloc(j->arena, end - start + 1) : NULL;
    if (out && !s) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory parsing the safetensors header");
    size_t n = 0;
    while (j->pos < end) {
        uint8_t c = j->text[j->pos];
        if (c < 0x20) return json_fail(j, "control character in a string");
        if (c != '\\') {
            if (s) s[n] = (char)c;
            n++;
            j->pos++;
            continue;
        }
        uint8_t e = j->text[j->pos + 1];
        j->pos += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char replacement[] = "\"\\/\b\f\n\r\t";
            if (s) s[n] = replacement[simple - "\"\\/bfnrt"];
            n++;
            continue;
        }
        if (e != 'u' || end - j->pos < 4) return json_fail(j, "bad escape in a string");
        uint32_t cp, low;
        if (hex4(j->text + j->pos, &cp)) return json_fail(j, "bad \\u escape");
        j->pos += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff) return json_fail(j, "lone low surrogate in a string");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - j->pos < 6 || j->text[j->pos] != '\\' || j->text[j->pos + 1] != 'u' ||
                hex4(j->text + j->pos + 2, &low) || low < 0xdc00 || low > 0xdfff)
                return json_fail(j, "unpaired high surrogate in a string");
            j->pos += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        char utf8[4];
        size_t bytes = json_utf8_encode(cp, utf8);
        if (s) memcpy(s + n, utf8, bytes);
        n += bytes;
    }
    j->pos = end + 1;
    if (!s) return LOWBIT_OK;
    s[n] = '\0';
    *out = s;
    if (length) *length = n;
    return LOWBIT_OK;
}

/* A non-negative integer without sign, fraction or exponent (shapes and offsets). */
static lowbit_status json_uint(json *j, uint64_t *out)
{
    json_space(j);
    size_t start = j->pos;
    uint64_t v = 0;
    while (j->pos < j->size && j->text[j->pos] >= '0' && j->text[j->pos] <= '9') {
        unsigned digit = j->text[j->pos] - '0';
        if (v > (UINT64_MAX - digit) / 10) return json_fail(j, "integer too large");
        v = v * 10 + digit;
        j->pos++;
    }
    if (j->pos == start) return json_fail(j, "expected a non-negative integer");
    if (j->pos - start > 1 && j->text[start] == '0') return json_fail(j, "integer with a leading zero");
    if (j->pos < j->size && (j->text[j->pos] == '.' || j->text[j->pos] == 'e' || j->text[j->pos] == 'E'))
        return json_fail(j, "expected an integer, found a fraction or exponent");
    *out = v;
    return LOWBIT_OK;
}

static lowbit_status json_skip(json *j, int depth);

static lowbit_status json_skip_number(json *j)
{
    const uint8_t *t = j->text;
    size_t p = j->pos;
    if (p < j->size && t[p] == '-') p++;
    if (p >= j->size || t[p] < '0' || t[p] > '9') return json_fail(j, "bad number");
    if (t[p] == '0')
        p++;
    else
        while (p < j->size && t[p] >= '0' && t[p] <= '9')
            p++;
    if (p < j->size && t[p] == '.') {
        if (++p >= j->size || t[p] < '0' || t[p] > '9') return json_fail(j, "bad number fraction");
        while (p < j->size && t[p] >= '0' && t[p] <= '9')
            p++;
    }
    if (p < j->size && (t[p] == 'e' || t[p] == 'E')) {
        if (++p < j->size && (t[p] == '+' || t[p] == '-')) p++;
        if (p >= j->size || t[p] < '0' || t[p] > '9') return json_fail(j, "bad number exponent");
        while (p < j->size && t[p] >= '0' && t[p] <= '9')
            p++;
    }
    j->pos = p;
    return LOWBIT_OK;
}

/* Validates and skips any value (fields this reader does not use). */
static lowbit_status json_skip(json *j, int depth)
{
    if (depth > HEADER_MAX_DEPTH) return json_fail(j, "nesting too deep");
    json_space(j);
    if (j->pos >= j->size) return json_fail(j, "unexpected end of header");
    uint8_t c = j->text[j->pos];
    lowbit_status s;
    if (c == '"') return json_string(j, NULL, NULL);
    if (c == '{' || c == '[') {
        j->pos++;
        char close = c == '{' ? '}' : ']';
        if (json_take(j, close)) return LOWBIT_OK;
        do {
            if (c == '{') {
                if ((s = json_string(j, NULL, NULL))) return s;
                if (!json_take(j, ':')) return json_fail(j, "expected ':'");
            }
            if ((s = json_skip(j, depth + 1))) return s;
        } while (json_take(j, ','));
        return json_take(j, close) ? LOWBIT_OK : json_fail(j, "expected ',' or a closing bracket");
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; ++i) {
        size_t n = strlen(words[i]);
        if (j->size - j->pos >= n && memcmp(j->text + j->pos, words[i], n) == 0) {
            j->pos += n;
            return LOWBIT_OK;
        }
    }
    return json_skip_number(j);
}

/* --- the header ---------------------------------------------------------------------------- */
static lowbit_status parse_metadata(lowbit_safetensors *f, json *j)
{
    if (!json_take(j, '{')) return json_fail(j, "__metadata__ is not an object");
    if (json_take(j, '}')) return LOWBIT_OK;
    do {
        st_metadata m;
        lowbit_status s = json_string(j, &m.key, NULL);
        if (s) return s;
        if (!json_take(j, ':')) return json_fail(j, "expected ':'");
        json_space(j);
        if (j->pos >= j->size || j->text[j->pos] != '"') return json_fail(j, "__metadata__ value is not a string");
        if ((s = json_string(j, &m.value, NULL))) return s;
        if (f->metadata_count == f->metadata_capacity) {
            size_t capacity = f->metadata_capacity ? f->metadata_capacity * 2 : 16;
            st_metadata *grown = realloc(f->metadata, capacity * sizeof *grown);
            if (!grown) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory reading safetensors metadata");
            f->metadata = grown;
            f->metadata_capacity = capacity;
        }
        f->metadata[f->metadata_count++] = m;
    } while (json_take(j, ','));
    return json_take(j, '}') ? LOWBIT_OK : json_fail(j, "expected ',' or '}' in __metadata__");
}

static lowbit_status parse_uint_array(json *j, uint64_t *values, size_t max, size_t *count, const char *name)
{
    *count = 0;
    if (!json_take(j, '[')) return json_fail(j, "expected an array");
    if (json_take(j, ']')) return LOWBIT_OK;
    do {
        uint64_t v = 0;
        lowbit_status s = json_uint(j, &v);
        if (s) return s;
        if (*count == max && max == 2) return json_fail(j, "data_offsets must hold two integers");
        if (*count == max)
            return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "safetensors tensor '%s' has more than %zu dimensions", name,
                                max);
        values[(*count)++] = v;
    } while (json_take(j, ','));
    return json_take(j, ']') ? LOWBIT_OK : json_fail(j, "expected ',' or ']'");
}

static lowbit_status parse_tensor(lowbit_safetensors *f, json *j, const char *name, size_t name_length)
{
    if (strlen(name) != name_length) return json_fail(j, "tensor name contains a NUL character");
    if (!json_take(j, '{')) return json_fail(j, "tensor entry is not an object");
    st_tensor t = {.name = name};
    const char *dtype = NULL;
    int have_shape = 0, have_offsets = 0;
    lowbit_status s;
    if (!json_take(j, '}')) {
        do {
            const char *field;
            if ((s = json_string(j, &field, NULL))) return s;
            if (!json_take(j, ':')) return json_fail(j, "expected ':'");
            if (strcmp(field, "dtype") == 0) {
                if (dtype) return json_fail(j, "duplicate dtype");
                if ((s = json_string(j, &dtype, NULL))) return s;
            } else if (strcmp(field, "shape") == 0) {
                size_t n = 0;
                if (have_shape++) return json_fail(j, "duplicate shape");
                if ((s = parse_uint_array(j, t.shape, LOWBIT_SAFETENSORS_MAX_DIMS, &n, name))) return s;
                t.n_dims = (uint32_t)n;
            } else if (strcmp(field, "data_offsets") == 0) {
                uint64_t offsets[2] = {0, 0};
                size_t n = 0;
                if (have_offsets++) return json_fail(j, "duplicate data_offsets");
                if ((s = parse_uint_array(j, offsets, 2, &n, name))) return s;
                if (n != 2) return json_fail(j, "data_offsets must hold two integers");
                t.begin = offsets[0];
                t.end = offsets[1];
            } else if ((s = json_skip(j, 1))) {
                return s;
            }
        } while (json_take(j, ','));
        if (!json_take(j, '}')) return json_fail(j, "expected ',' or '}' in a tensor entry");
    }
    if (!dtype || !have_shape || !have_offsets)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors tensor '%s' lacks dtype, shape or data_offsets", name);
    size_t d = 0;
    while (d < sizeof dtypes / sizeof dtypes[0] && strcmp(dtypes[d].name, dtype) != 0)
        d++;
    if (d == sizeof dtypes / sizeof dtypes[0])
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED,
                            "safetensors tensor '%s' has dtype '%s'; supported dtypes are F32, F16, BF16, I32, U8, I64",
                            name, dtype);
    t.dtype = dtypes[d].dtype;
    uint64_t count = 1;
    for (uint32_t i = 0; i < t.n_dims; ++i)
        if (__builtin_mul_overflow(count, t.shape[i], &count))
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors tensor '%s' element count overflows", name);
    for (uint32_t i = t.n_dims; i < LOWBIT_SAFETENSORS_MAX_DIMS; ++i)
        t.shape[i] = 1;
    t.element_count = count;
    if (__builtin_mul_overflow(count, (uint64_t)dtypes[d].size, &t.size))
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors tensor '%s' byte size overflows", name);
    uint64_t data_size = f->file.size - f->data_start;
    if (t.begin > t.end || t.end > data_size)
        return lowbit_error(LOWBIT_ERROR_CORRUPT,
                            "safetensors tensor '%s' data_offsets [%llu, %llu) fall outside the %llu-byte data section",
                            name, (unsigned long long)t.begin, (unsigned long long)t.end,
                            (unsigned long long)data_size);
    if (t.end - t.begin != t.size)
        return lowbit_error(LOWBIT_ERROR_CORRUPT,
                            "safetensors tensor '%s' spans %llu bytes but its %s shape needs %llu", name,
                            (unsigned long long)(t.end - t.begin), dtype, (unsigned long long)t.size);
    if (f->tensor_count == f->tensor_capacity) {
        size_t capacity = f->tensor_capacity ? f->tensor_capacity * 2 : 16;
        st_tensor *grown = realloc(f->tensors, capacity * sizeof *grown);
        if (!grown) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory reading safetensors tensors");
        f->tensors = grown;
        f->tensor_capacity = capacity;
    }
    f->tensors[f->tensor_count++] = t;
    return LOWBIT_OK;
}

static int begin_compare(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static lowbit_status check_overlaps(lowbit_safetensors *f)
{
    if (f->tensor_count < 2) return LOWBIT_OK;
    const st_tensor **order = malloc(f->tensor_count * sizeof *order);
    if (!order) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory checking safetensors offsets");
    size_t n = 0;
    for (size_t i = 0; i < f->tensor_count; ++i)
        if (f->tensors[i].size) order[n++] = &f->tensors[i];
    qsort(order, n, sizeof *order, begin_compare);
    lowbit_status s = LOWBIT_OK;
    for (size_t i = 1; i < n && !s; ++i)
        if (order[i]->begin < order[i - 1]->end)
            s = lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors tensors '%s' and '%s' overlap", order[i - 1]->name,
                             order[i]->name);
    free(order);
    return s;
}

static lowbit_status safetensors_parse(lowbit_safetensors *f)
{
    if (f->file.size < 8)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors file of %zu bytes has no header", f->file.size);
    uint64_t header = lowbit_load_le64(f->file.data);
    if (header > LOWBIT_SAFETENSORS_MAX_HEADER || header > f->file.size - 8)
        return lowbit_error(
            LOWBIT_ERROR_CORRUPT,
            "safetensors header length %llu (offset 0) exceeds the file (%zu bytes) or the %u-byte limit",
            (unsigned long long)header, f->file.size, LOWBIT_SAFETENSORS_MAX_HEADER);
    f->data_start = 8 + header;
    json j = {f->file.data + 8, (size_t)header, 0, 8, &f->arena};
    if (!json_take(&j, '{')) return json_fail(&j, "header is not a JSON object");
    lowbit_status s;
    int have_metadata = 0;
    if (!json_take(&j, '}')) {
        do {
            const char *key;
            size_t length;
            if ((s = json_string(&j, &key, &length))) return s;
            if (!json_take(&j, ':')) return json_fail(&j, "expected ':'");
            if (strcmp(key, "__metadata__") == 0) {
                if (have_metadata++) return json_fail(&j, "duplicate __metadata__");
                s = parse_metadata(f, &j);
            } else {
                s = parse_tensor(f, &j, key, length);
            }
            if (s) return s;
        } while (json_take(&j, ','));
        if (!json_take(&j, '}')) return json_fail(&j, "expected ',' or '}'");
    }
    json_space(&j);
    if (j.pos != j.size) return json_fail(&j, "trailing bytes after the header object");
    size_t duplicate;
    if (lowbit_name_index_build(&f->tensor_index, f->tensors ? (const void *)&f->tensors[0].name : NULL,
                                sizeof(st_tensor), f->tensor_count, &duplicate))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory indexing safetensors tensors");
    if (duplicate != LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors tensor '%s' appears twice", f->tensors[duplicate].name);
    if (lowbit_name_index_build(&f->metadata_index, f->metadata ? (const void *)&f->metadata[0].key : NULL,
                                sizeof(st_metadata), f->metadata_count, &duplicate))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory indexing safetensors metadata");
    if (duplicate != LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "safetensors metadata key '%s' appears twice",
                            f->metadata[duplicate].key);
    return check_overlaps(f);
}

/* --- public API ---------------------------------------------------------------------------- */
static lowbit_status safetensors_open_mapped(lowbit_mapped_file *file, lowbit_safetensors **out)
{
    lowbit_safetensors *f = calloc(1, sizeof *f);
    if (!f) {
        lowbit_mapped_file_close(file);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory opening safetensors");
    }
    f->file = *file;
    f->handle_magic = SAFETENSORS_HANDLE_MAGIC;
    lowbit_status s = safetensors_parse(f);
    if (s) {
        lowbit_safetensors_close(f);
        return s;
    }
    *out = f;
    return LOWBIT_OK;
}

lowbit_status lowbit_safetensors_open(const char *path, lowbit_safetensors **out)
{
    if (out) *out = NULL;
    if (!path || !out)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_safetensors_open: path and out are required");
    lowbit_mapped_file file;
    lowbit_status s = lowbit_mapped_file_open(path, &file);
    return s ? s : safetensors_open_mapped(&file, out);
}

lowbit_status lowbit_safetensors_open_memory(const void *data, size_t size, lowbit_safetensors **out)
{
    if (out) *out = NULL;
    if (!data || !size || !out)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_safetensors_open_memory: data, size and out are required");
    lowbit_mapped_file file;
    lowbit_mapped_file_borrow(data, size, &file);
    return safetensors_open_mapped(&file, out);
}

void lowbit_safetensors_close(lowbit_safetensors *file)
{
    if (!file || file->handle_magic != SAFETENSORS_HANDLE_MAGIC) return;
    file->handle_magic = 0;
    lowbit_name_index_free(&file->tensor_index);
    lowbit_name_index_free(&file->metadata_index);
    free(file->tensors);
    free(file->metadata);
    lowbit_arena_free(&file->arena);
    lowbit_mapped_file_close(&file->file);
    free(file);
}

#define CHECK_HANDLE(f, out, fn)                                                                                       \
    do {                                                                                                               \
        if (!(f) || (f)->handle_magic != SAFETENSORS_HANDLE_MAGIC)                                                     \
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, fn ": invalid safetensors handle");                     \
        if (!(out)) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, fn ": output pointer is NULL");                 \
    } while (0)

lowbit_status lowbit_safetensors_tensor_count(const lowbit_safetensors *file, size_t *count)
{
    CHECK_HANDLE(file, count, "lowbit_safetensors_tensor_count");
    *count = file->tensor_count;
    return LOWBIT_OK;
}

lowbit_status lowbit_safetensors_tensor_get(const lowbit_safetensors *file, size_t index,
                                            lowbit_safetensors_tensor_info *info)
{
    CHECK_HANDLE(file, info, "lowbit_safetensors_tensor_get");
    if (info->struct_size < sizeof *info)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_safetensors_tensor_get: info->struct_size %zu is too small", info->struct_size);
    if (index >= file->tensor_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_safetensors_tensor_get: index %zu out of range (%zu tensors)", index,
                            file->tensor_count);
    const st_tensor *t = &file->tensors[index];
    info->name = t->name;
    info->dtype = t->dtype;
    info->dtype_name = dtypes[t->dtype].name;
    info->format = dtypes[t->dtype].format;
    info->n_dims = t->n_dims;
    memcpy(info->shape, t->shape, sizeof info->shape);
    info->element_count = t->element_count;
    info->size = t->size;
    info->offset = file->data_start + t->begin;
    info->data = t->size ? file->file.data + info->offset : NULL;
    return LOWBIT_OK;
}

lowbit_status lowbit_safetensors_tensor_find(const lowbit_safetensors *file, const char *name, size_t *index)
{
    CHECK_HANDLE(file, index, "lowbit_safetensors_tensor_find");
    *index = LOWBIT_NOT_FOUND;
    if (!name) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_safetensors_tensor_find: name is NULL");
    *index = lowbit_name_index_find(&file->tensor_index, name);
    return LOWBIT_OK;
}

lowbit_status lowbit_safetensors_metadata_count(const lowbit_safetensors *file, size_t *count)
{
    CHECK_HANDLE(file, count, "lowbit_safetensors_metadata_count");
    *count = file->metadata_count;
    return LOWBIT_OK;
}

lowbit_status lowbit_safetensors_metadata_get(const lowbit_safetensors *file, size_t index, const char **key,
                                              const char **value)
{
    CHECK_HANDLE(file, key || value ? (void *)1 : NULL, "lowbit_safetensors_metadata_get");
    if (index >= file->metadata_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_safetensors_metadata_get: index %zu out of range (%zu)", index,
                            file->metadata_count);
    if (key) *key = file->metadata[index].key;
    if (value) *value = file->metadata[index].value;
    return LOWBIT_OK;
}

lowbit_status lowbit_safetensors_metadata_find(const lowbit_safetensors *file, const char *key, const char **value)
{
    CHECK_HANDLE(file, value, "lowbit_safetensors_metadata_find");
    *value = NULL;
    if (!key) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_safetensors_metadata_find: key is NULL");
    size_t i = lowbit_name_index_find(&file->metadata_index, key);
    if (i != LOWBIT_NOT_FOUND) *value = file->metadata[i].value;
    return LOWBIT_OK;
}
