/* gguf_read.c — the GGUF reader: validates every count, length, offset and shape of an untrusted file
 * against its size before use, then serves KVs and tensors straight from the read-only mapping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "io_internal.h"

#define GGUF_HANDLE_MAGIC 0x4c424746u /* live handle; cleared at close so reuse is caught */
#define GGUF_MAX_NESTING 16

typedef struct gguf_kv {
    const char *key; /* first member: the name index reads it */
    lowbit_gguf_value value;
} gguf_kv;

typedef struct gguf_tensor {
    const char *name; /* first member: the name index reads it */
    const lowbit_ggml_type *type;
    uint32_t n_dims;
    uint64_t ne[LOWBIT_GGUF_MAX_DIMS];
    uint64_t element_count, size, relative_offset;
} gguf_tensor;

struct lowbit_gguf {
    uint32_t handle_magic;
    lowbit_mapped_file file;
    uint32_t version, alignment;
    uint64_t data_offset;
    size_t kv_count, tensor_count;
    gguf_kv *kvs;
    gguf_tensor *tensors;
    lowbit_arena arena;
    lowbit_name_index kv_index, tensor_index;
};

typedef struct cursor {
    const uint8_t *data;
    size_t size, pos;
} cursor;

static const char *type_names[] = {"UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",  "FLOAT32",
                                   "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64"};

static const char *gguf_type_name(lowbit_gguf_type type)
{
    return (unsigned)type < sizeof type_names / sizeof type_names[0] ? type_names[type] : "unknown";
}

size_t lowbit_gguf_scalar_size(lowbit_gguf_type type)
{
    switch (type) {
    case LOWBIT_GGUF_UINT8:
    case LOWBIT_GGUF_INT8:
    case LOWBIT_GGUF_BOOL: return 1;
    case LOWBIT_GGUF_UINT16:
    case LOWBIT_GGUF_INT16: return 2;
    case LOWBIT_GGUF_UINT32:
    case LOWBIT_GGUF_INT32:
    case LOWBIT_GGUF_FLOAT32: return 4;
    case LOWBIT_GGUF_UINT64:
    case LOWBIT_GGUF_INT64:
    case LOWBIT_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static size_t remaining(const cursor *c) { return c->size - c->pos; }

static lowbit_status read_u32(cursor *c, uint32_t *out, const char *what)
{
    if (remaining(c) < 4)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF truncated at offset %zu reading %s", c->pos, what);
    *out = lowbit_load_le32(c->data + c->pos);
    c->pos += 4;
    return LOWBIT_OK;
}

static lowbit_status read_u64(cursor *c, uint64_t *out, const char *what)
{
    if (remaining(c) < 8)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF truncated at offset %zu reading %s", c->pos, what);
    *out = lowbit_load_le64(c->data + c->pos);
    c->pos += 8;
    return LOWBIT_OK;
}

/* A gguf string (u64 length + bytes) copied NUL-terminated into the arena. */
static lowbit_status read_string(lowbit_gguf *g, cursor *c, const char *what, const char **chars, size_t *length)
{
    size_t at = c->pos;
    uint64_t len = 0;
    lowbit_status s = read_u64(c, &len, what);
    if (s) return s;
    if (len > remaining(c))
        return lowbit_error(LOWBIT_ERROR_CORRUPT,
                            "GGUF %s at offset %zu has length %llu, past the end of the file (%zu bytes left)", what,
                            at, (unsigned long long)len, remaining(c));
    char *copy = lowbit_arena_strndup(&g->arena, c->data + c->pos, (size_t)len);
    if (!copy) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory copying GGUF %s", what);
    c->pos += (size_t)len;
    *chars = copy;
    if (length) *length = (size_t)len;
    return LOWBIT_OK;
}

static lowbit_status read_name(lowbit_gguf *g, cursor *c, const char *what, const char **name)
{
    size_t at = c->pos, length;
    lowbit_status s = read_string(g, c, what, name, &length);
    if (s) return s;
    if (strlen(*name) != length)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF %s at offset %zu contains a NUL byte", what, at);
    return LOWBIT_OK;
}

static lowbit_status read_value(lowbit_gguf *g, cursor *c, lowbit_gguf_type type, int depth, const char *key,
                                lowbit_gguf_value *value)
{
    value->type = type;
    value->raw = c->data + c->pos;
    size_t start = c->pos;
    size_t scalar = lowbit_gguf_scalar_size(type);
    lowbit_status s = LOWBIT_OK;
    if (scalar) {
        if (remaining(c) < scalar)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF truncated at offset %zu in the %s value of '%s'", c->pos,
                                gguf_type_name(type), key);
        uint64_t bits = 0;
        for (size_t i = 0; i < scalar; ++i)
            bits |= (uint64_t)c->data[c->pos + i] << (8 * i);
        value->as.bits = bits;
        c->pos += scalar;
    } else if (type == LOWBIT_GGUF_STRING) {
        s = read_string(g, c, "string value", &value->as.string.chars, &value->as.string.length);
        if (s) return s;
    } else if (type == LOWBIT_GGUF_ARRAY) {
        if (depth >= GGUF_MAX_NESTING)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF value of '%s' nests arrays deeper than %d levels", key,
                                GGUF_MAX_NESTING);
        uint32_t element_type = 0;
        uint64_t count = 0;
        size_t at = c->pos;
        if ((s = read_u32(c, &element_type, "an array element type")) || (s = read_u64(c, &count, "an array count")))
            return s;
        if (element_type > LOWBIT_GGUF_FLOAT64)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF array of '%s' at offset %zu has unknown element type %u",
                                key, at, element_type);
        size_t element = lowbit_gguf_scalar_size((lowbit_gguf_type)element_type);
        /* The smallest encoding of one element bounds the count before anything is allocated. */
        size_t min_element = element ? element : element_type == LOWBIT_GGUF_STRING ? 8 : 12;
        if (count > remaining(c) / min_element)
            return lowbit_error(LOWBIT_ERROR_CORRUPT,
                                "GGUF array of '%s' at offset %zu claims %llu %s elements, more than the %zu bytes "
                                "left can hold",
                                key, at, (unsigned long long)count, gguf_type_name((lowbit_gguf_type)element_type),
                                remaining(c));
        value->as.array.element_type = (lowbit_gguf_type)element_type;
        value->as.array.count = (size_t)count;
        value->as.array.data = c->data + c->pos;
        if (element) {
            c->pos += (size_t)count * element;
        } else {
            lowbit_gguf_value *items = NULL;
            if (count) {
                items = lowbit_arena_alloc(&g->arena, (size_t)count * sizeof *items);
                if (!items) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory reading array '%s'", key);
            }
            for (size_t i = 0; i < count; ++i)
                if ((s = read_value(g, c, (lowbit_gguf_type)element_type, depth + 1, key, &items[i]))) return s;
            value->as.array.items = items;
        }
    } else {
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF value of '%s' at offset %zu has unknown type %u", key, c->pos,
                            (unsigned)type);
    }
    value->raw_size = c->pos - start;
    return LOWBIT_OK;
}

static lowbit_status read_header(lowbit_gguf *g, cursor *c, uint64_t *n_tensors, uint64_t *n_kv)
{
    if (c->size < 4 || memcmp(c->data, "GGUF", 4) != 0)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "not a GGUF file (bad magic at offset 0)");
    c->pos = 4;
    lowbit_status s = read_u32(c, &g->version, "the version");
    if (s) return s;
    uint32_t swapped = __builtin_bswap32(g->version);
    if ((g->version & 0xffffu) == 0 && swapped >= 1 && swapped <= 3)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "big-endian GGUF is not supported (version field at offset 4)");
    if (g->version < 2 || g->version > 3)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "GGUF version %u is not supported (2 and 3 are)", g->version);
    if ((s = read_u64(c, n_tensors, "the tensor count")) || (s = read_u64(c, n_kv, "the KV count"))) return s;
    /* Smallest KV: 8-byte key length, 4-byte type, 1-byte value; smallest tensor info: 8+4+4+8 bytes. */
    if (*n_kv > remaining(c) / 13)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF KV count %llu (offset 16) is more than the file can hold",
                            (unsigned long long)*n_kv);
    if (*n_tensors > remaining(c) / 24)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensor count %llu (offset 8) is more than the file can hold",
                            (unsigned long long)*n_tensors);
    return LOWBIT_OK;
}

static lowbit_status read_kvs(lowbit_gguf *g, cursor *c)
{
    lowbit_status s;
    for (size_t i = 0; i < g->kv_count; ++i) {
        gguf_kv *kv = &g->kvs[i];
        size_t at = c->pos;
        if ((s = read_name(g, c, "key", &kv->key))) return s;
        uint32_t type = 0;
        if ((s = read_u32(c, &type, "a value type"))) return s;
        if (type > LOWBIT_GGUF_FLOAT64)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF key '%s' at offset %zu has unknown value type %u", kv->key,
                                at, type);
        if ((s = read_value(g, c, (lowbit_gguf_type)type, 0, kv->key, &kv->value))) return s;
    }
    size_t duplicate;
    if (lowbit_name_index_build(&g->kv_index, g->kvs ? (const void *)&g->kvs[0].key : NULL, sizeof(gguf_kv),
                                g->kv_count, &duplicate))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory indexing GGUF keys");
    if (duplicate != LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF key '%s' appears twice", g->kvs[duplicate].key);
    g->alignment = LOWBIT_GGUF_DEFAULT_ALIGNMENT;
    size_t alignment = lowbit_name_index_find(&g->kv_index, "general.alignment");
    if (alignment != LOWBIT_NOT_FOUND) {
        const lowbit_gguf_value *v = &g->kvs[alignment].value;
        if (v->type != LOWBIT_GGUF_UINT32)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF general.alignment is a %s, not a UINT32",
                                gguf_type_name(v->type));
        uint64_t a = v->as.bits;
        if (a == 0 || (a & (a - 1)) != 0)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF general.alignment %llu is not a non-zero power of two",
                                (unsigned long long)a);
        g->alignment = (uint32_t)a;
    }
    return LOWBIT_OK;
}

static lowbit_status read_tensor_info(lowbit_gguf *g, cursor *c, gguf_tensor *t)
{
    size_t at = c->pos;
    lowbit_status s = read_name(g, c, "tensor name", &t->name);
    if (s) return s;
    if ((s = read_u32(c, &t->n_dims, "a tensor dimension count"))) return s;
    if (t->n_dims > LOWBIT_GGUF_MAX_DIMS)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensor '%s' (offset %zu) has %u dimensions, at most %u allowed",
                            t->name, at, t->n_dims, LOWBIT_GGUF_MAX_DIMS);
    uint64_t count = 1;
    for (uint32_t d = 0; d < LOWBIT_GGUF_MAX_DIMS; ++d) {
        t->ne[d] = 1;
        if (d >= t->n_dims) continue;
        if ((s = read_u64(c, &t->ne[d], "a tensor dimension"))) return s;
        if (t->ne[d] > (uint64_t)INT64_MAX)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensor '%s' has negative dimension ne[%u]", t->name, d);
        if (__builtin_mul_overflow(count, t->ne[d], &count) || count > (uint64_t)INT64_MAX)
            return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensor '%s' element count overflows", t->name);
    }
    t->element_count = count;
    uint32_t type = 0;
    if ((s = read_u32(c, &type, "a tensor type"))) return s;
    t->type = lowbit_ggml_type_get((int)type);
    if (!t->type || type > INT32_MAX)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "GGUF tensor '%s' (offset %zu) has unknown type id %u", t->name,
                            at, type);
    if (t->ne[0] % t->type->block_size != 0)
        return lowbit_error(LOWBIT_ERROR_CORRUPT,
                            "GGUF tensor '%s' row length %llu is not a multiple of the %s block size %u", t->name,
                            (unsigned long long)t->ne[0], t->type->name, t->type->block_size);
    uint64_t blocks = count / t->type->block_size;
    if (__builtin_mul_overflow(blocks, (uint64_t)t->type->type_size, &t->size))
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensor '%s' byte size overflows", t->name);
    if ((s = read_u64(c, &t->relative_offset, "a tensor offset"))) return s;
    if (t->relative_offset % g->alignment != 0)
        return lowbit_error(LOWBIT_ERROR_CORRUPT,
                            "GGUF tensor '%s' data offset %llu is not a multiple of the alignment %u", t->name,
                            (unsigned long long)t->relative_offset, g->alignment);
    return LOWBIT_OK;
}

typedef struct extent {
    uint64_t begin, end;
    size_t index;
} extent;

static int extent_compare(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static lowbit_status check_tensor_data(lowbit_gguf *g)
{
    uint64_t data_size = g->file.size > g->data_offset ? g->file.size - g->data_offset : 0;
    extent *extents = g->tensor_count ? malloc(g->tensor_count * sizeof *extents) : NULL;
    if (g->tensor_count && !extents) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory checking tensors");
    size_t n = 0;
    lowbit_status s = LOWBIT_OK;
    for (size_t i = 0; i < g->tensor_count && !s; ++i) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->relative_offset > data_size || t->size > data_size - t->relative_offset)
            s = lowbit_error(LOWBIT_ERROR_CORRUPT,
                             "GGUF tensor '%s' data [%llu, +%llu) runs past the end of the file (data section holds "
                             "%llu bytes from offset %llu)",
                             t->name, (unsigned long long)t->relative_offset, (unsigned long long)t->size,
                             (unsigned long long)data_size, (unsigned long long)g->data_offset);
        else if (t->size)
            extents[n++] = (extent){t->relative_offset, t->relative_offset + t->size, i};
    }
    if (!s && n > 1) {
        qsort(extents, n, sizeof *extents, extent_compare);
        for (size_t i = 1; i < n && !s; ++i)
            if (extents[i].begin < extents[i - 1].end)
                s = lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensors '%s' and '%s' overlap",
                                 g->tensors[extents[i - 1].index].name, g->tensors[extents[i].index].name);
    }
    free(extents);
    return s;
}

static lowbit_status gguf_parse(lowbit_gguf *g)
{
    cursor c = {g->file.data, g->file.size, 0};
    uint64_t n_tensors = 0, n_kv = 0;
    lowbit_status s = read_header(g, &c, &n_tensors, &n_kv);
    if (s) return s;
    g->kv_count = (size_t)n_kv;
    g->tensor_count = (size_t)n_tensors;
    /* Counts are bounded by the file size above, so these allocations are too. */
    if (n_kv && !(g->kvs = calloc((size_t)n_kv, sizeof *g->kvs)))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory for %llu GGUF KVs", (unsigned long long)n_kv);
    if (n_tensors && !(g->tensors = calloc((size_t)n_tensors, sizeof *g->tensors)))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory for %llu GGUF tensors",
                            (unsigned long long)n_tensors);
    if ((s = read_kvs(g, &c))) return s;
    for (size_t i = 0; i < g->tensor_count; ++i)
        if ((s = read_tensor_info(g, &c, &g->tensors[i]))) return s;
    size_t duplicate;
    if (lowbit_name_index_build(&g->tensor_index, g->tensors ? (const void *)&g->tensors[0].name : NULL,
                                sizeof(gguf_tensor), g->tensor_count, &duplicate))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory indexing GGUF tensors");
    if (duplicate != LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "GGUF tensor name '%s' appears twice", g->tensors[duplicate].name);
    g->data_offset = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
    return check_tensor_data(g);
}

static lowbit_status gguf_open_mapped(lowbit_mapped_file *file, lowbit_gguf **out)
{
    lowbit_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        lowbit_mapped_file_close(file);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory opening GGUF");
    }
    g->file = *file;
    g->handle_magic = GGUF_HANDLE_MAGIC;
    lowbit_status s = gguf_parse(g);
    if (s) {
        lowbit_gguf_close(g);
        return s;
    }
    *out = g;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_open(const char *path, lowbit_gguf **out)
{
    if (out) *out = NULL;
    if (!path || !out)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_open: path and out are required");
    lowbit_mapped_file file;
    lowbit_status s = lowbit_mapped_file_open(path, &file);
    return s ? s : gguf_open_mapped(&file, out);
}

lowbit_status lowbit_gguf_open_memory(const void *data, size_t size, lowbit_gguf **out)
{
    if (out) *out = NULL;
    if (!data || !size || !out)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_open_memory: data, size and out are required");
    lowbit_mapped_file file;
    lowbit_mapped_file_borrow(data, size, &file);
    return gguf_open_mapped(&file, out);
}

void lowbit_gguf_close(lowbit_gguf *gguf)
{
    if (!gguf || gguf->handle_magic != GGUF_HANDLE_MAGIC) return;
    gguf->handle_magic = 0;
    lowbit_name_index_free(&gguf->kv_index);
    lowbit_name_index_free(&gguf->tensor_index);
    lowbit_arena_free(&gguf->arena);
    free(gguf->kvs);
    free(gguf->tensors);
    lowbit_mapped_file_close(&gguf->file);
    free(gguf);
}

int lowbit_gguf_is_valid(const lowbit_gguf *gguf) { return gguf && gguf->handle_magic == GGUF_HANDLE_MAGIC; }
const lowbit_mapped_file *lowbit_gguf_mapping(const lowbit_gguf *gguf) { return &gguf->file; }

#define CHECK_HANDLE(g, out, fn)                                                                                       \
    do {                                                                                                               \
        if (!lowbit_gguf_is_valid(g)) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, fn ": invalid GGUF handle");  \
        if (!(out)) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, fn ": output pointer is NULL");                 \
    } while (0)

lowbit_status lowbit_gguf_version(const lowbit_gguf *gguf, uint32_t *version)
{
    CHECK_HANDLE(gguf, version, "lowbit_gguf_version");
    *version = gguf->version;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_alignment(const lowbit_gguf *gguf, uint32_t *alignment)
{
    CHECK_HANDLE(gguf, alignment, "lowbit_gguf_alignment");
    *alignment = gguf->alignment;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_data_offset(const lowbit_gguf *gguf, uint64_t *offset)
{
    CHECK_HANDLE(gguf, offset, "lowbit_gguf_data_offset");
    *offset = gguf->data_offset;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_kv_count(const lowbit_gguf *gguf, size_t *count)
{
    CHECK_HANDLE(gguf, count, "lowbit_gguf_kv_count");
    *count = gguf->kv_count;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_kv_get(const lowbit_gguf *gguf, size_t index, const char **key,
                                 const lowbit_gguf_value **value)
{
    if (!lowbit_gguf_is_valid(gguf))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_kv_get: invalid GGUF handle");
    if (index >= gguf->kv_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_kv_get: index %zu out of range (%zu KVs)",
                            index, gguf->kv_count);
    if (key) *key = gguf->kvs[index].key;
    if (value) *value = &gguf->kvs[index].value;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_kv_find(const lowbit_gguf *gguf, const char *key, const lowbit_gguf_value **value)
{
    CHECK_HANDLE(gguf, value, "lowbit_gguf_kv_find");
    *value = NULL;
    if (!key) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_kv_find: key is NULL");
    size_t i = lowbit_name_index_find(&gguf->kv_index, key);
    if (i != LOWBIT_NOT_FOUND) *value = &gguf->kvs[i].value;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_tensor_count(const lowbit_gguf *gguf, size_t *count)
{
    CHECK_HANDLE(gguf, count, "lowbit_gguf_tensor_count");
    *count = gguf->tensor_count;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_tensor_get(const lowbit_gguf *gguf, size_t index, lowbit_gguf_tensor_info *info)
{
    CHECK_HANDLE(gguf, info, "lowbit_gguf_tensor_get");
    if (info->struct_size < sizeof *info)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_tensor_get: info->struct_size %zu is too small",
                            info->struct_size);
    if (index >= gguf->tensor_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_gguf_tensor_get: index %zu out of range (%zu tensors)", index, gguf->tensor_count);
    const gguf_tensor *t = &gguf->tensors[index];
    info->name = t->name;
    info->type = t->type->id;
    info->type_name = t->type->name;
    info->n_dims = t->n_dims;
    memcpy(info->ne, t->ne, sizeof info->ne);
    info->element_count = t->element_count;
    info->size = t->size;
    info->offset = gguf->data_offset + t->relative_offset;
    info->data = t->size ? gguf->file.data + info->offset : NULL;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_tensor_find(const lowbit_gguf *gguf, const char *name, size_t *index)
{
    CHECK_HANDLE(gguf, index, "lowbit_gguf_tensor_find");
    *index = LOWBIT_NOT_FOUND;
    if (!name) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_tensor_find: name is NULL");
    *index = lowbit_name_index_find(&gguf->tensor_index, name);
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_type_size(int type, uint32_t *block_size, uint32_t *type_size)
{
    const lowbit_ggml_type *t = lowbit_ggml_type_get(type);
    if (!t) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_type_size: unknown ggml type id %d", type);
    if (block_size) *block_size = t->block_size;
    if (type_size) *type_size = t->type_size;
    return LOWBIT_OK;
}
