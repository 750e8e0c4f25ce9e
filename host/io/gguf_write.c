/* gguf_write.c — the GGUF writer: builds a file from scratch or from an opened file (keeping every KV
 * and tensor the caller does not change), streams tensor data, and publishes it by atomic rename. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "io_internal.h"

#define WRITER_MAGIC 0x4c425752u
#define WRITER_MAX_NESTING 16

typedef struct writer_kv {
    char *key;
    lowbit_gguf_type type;
    uint8_t *blob; /* the value exactly as it is encoded after the type id */
    size_t blob_size;
} writer_kv;

typedef struct writer_tensor {
    char *name;
    const lowbit_ggml_type *type;
    uint32_t n_dims;
    uint64_t ne[LOWBIT_GGUF_MAX_DIMS];
    uint64_t size;
    const void *data; /* borrowed, or NULL when a producer supplies the bytes */
    lowbit_gguf_tensor_producer producer;
    void *user_data;
} writer_tensor;

struct lowbit_gguf_writer {
    uint32_t handle_magic;
    writer_kv *kvs;
    size_t kv_count, kv_capacity;
    writer_tensor *tensors;
    size_t tensor_count, tensor_capacity;
    const lowbit_gguf *source;
};

/* --- growable byte buffer -------------------------------------------------------------------- */
typedef struct buffer {
    uint8_t *data;
    size_t size, capacity;
    int failed;
} buffer;

static void buffer_append(buffer *b, const void *bytes, size_t size)
{
    if (b->failed || !size) return;
    if (size > SIZE_MAX / 2 - b->size) {
        b->failed = 1;
        return;
    }
    if (b->size + size > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity < b->size + size)
            capacity *= 2;
        uint8_t *grown = realloc(b->data, capacity);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, bytes, size);
    b->size += size;
}

static void buffer_le(buffer *b, uint64_t value, size_t bytes)
{
    uint8_t le[8];
    for (size_t i = 0; i < bytes; ++i)
        le[i] = (uint8_t)(value >> (8 * i));
    buffer_append(b, le, bytes);
}

static void buffer_string(buffer *b, const char *s, size_t length)
{
    buffer_le(b, length, 8);
    buffer_append(b, s, length);
}

/* --- handle checks ------------------------------------------------------------------------- */
static lowbit_status check_writer(const lowbit_gguf_writer *w, const char *fn)
{
    if (!w || w->handle_magic != WRITER_MAGIC)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: invalid GGUF writer handle", fn);
    return LOWBIT_OK;
}

static lowbit_status check_key(const lowbit_gguf_writer *w, const char *key, const char *fn)
{
    lowbit_status s = check_writer(w, fn);
    if (s) return s;
    if (!key) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: key is NULL", fn);
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_writer_create(lowbit_gguf_writer **out)
{
    if (!out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory creating a GGUF writer");
    (*out)->handle_magic = WRITER_MAGIC;
    return LOWBIT_OK;
}

void lowbit_gguf_writer_destroy(lowbit_gguf_writer *writer)
{
    if (!writer || writer->handle_magic != WRITER_MAGIC) return;
    writer->handle_magic = 0;
    for (size_t i = 0; i < writer->kv_count; ++i) {
        free(writer->kvs[i].key);
        free(writer->kvs[i].blob);
    }
    for (size_t i = 0; i < writer->tensor_count; ++i)
        free(writer->tensors[i].name);
    free(writer->kvs);
    free(writer->tensors);
    free(writer);
}

/* --- KVs ----------------------------------------------------------------------------------- */
static size_t kv_find(const lowbit_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->kv_count; ++i)
        if (strcmp(w->kvs[i].key, key) == 0) return i;
    return LOWBIT_NOT_FOUND;
}

/* Takes ownership of the encoded value in `b` (freed on failure too). */
static lowbit_status kv_store(lowbit_gguf_writer *w, const char *key, lowbit_gguf_type type, buffer *b)
{
    if (b->failed) {
        free(b->data);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory encoding GGUF key '%s'", key);
    }
    size_t i = kv_find(w, key);
    if (i == LOWBIT_NOT_FOUND) {
        if (w->kv_count == w->kv_capacity) {
            size_t capacity = w->kv_capacity ? w->kv_capacity * 2 : 16;
            writer_kv *grown = realloc(w->kvs, capacity * sizeof *grown);
            if (!grown) {
                free(b->data);
                return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory adding GGUF key '%s'", key);
            }
            w->kvs = grown;
            w->kv_capacity = capacity;
        }
        char *copy = strdup(key);
        if (!copy) {
            free(b->data);
            return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory adding GGUF key '%s'", key);
        }
        i = w->kv_count++;
        w->kvs[i] = (writer_kv){copy, type, NULL, 0};
    }
    free(w->kvs[i].blob);
    w->kvs[i].type = type;
    w->kvs[i].blob = b->data;
    w->kvs[i].blob_size = b->size;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_writer_set_uint(lowbit_gguf_writer *writer, const char *key, lowbit_gguf_type type,
                                          uint64_t value)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_uint");
    if (s) return s;
    uint64_t max = type == LOWBIT_GGUF_UINT8    ? UINT8_MAX
                   : type == LOWBIT_GGUF_UINT16 ? UINT16_MAX
                   : type == LOWBIT_GGUF_UINT32 ? UINT32_MAX
                   : type == LOWBIT_GGUF_UINT64 ? UINT64_MAX
                                                : 0;
    if (!max)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_uint: type %d is not unsigned",
                            (int)type);
    if (value > max)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_uint: %llu does not fit '%s'",
                            (unsigned long long)value, key);
    buffer b = {0};
    buffer_le(&b, value, lowbit_gguf_scalar_size(type));
    return kv_store(writer, key, type, &b);
}

lowbit_status lowbit_gguf_writer_set_int(lowbit_gguf_writer *writer, const char *key, lowbit_gguf_type type,
                                         int64_t value)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_int");
    if (s) return s;
    int64_t max = type == LOWBIT_GGUF_INT8    ? INT8_MAX
                  : type == LOWBIT_GGUF_INT16 ? INT16_MAX
                  : type == LOWBIT_GGUF_INT32 ? INT32_MAX
                  : type == LOWBIT_GGUF_INT64 ? INT64_MAX
                                              : 0;
    if (!max)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_int: type %d is not signed",
                            (int)type);
    if (value > max || value < -max - 1)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_int: %lld does not fit '%s'",
                            (long long)value, key);
    buffer b = {0};
    buffer_le(&b, (uint64_t)value, lowbit_gguf_scalar_size(type));
    return kv_store(writer, key, type, &b);
}

lowbit_status lowbit_gguf_writer_set_float(lowbit_gguf_writer *writer, const char *key, lowbit_gguf_type type,
                                           double value)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_float");
    if (s) return s;
    buffer b = {0};
    if (type == LOWBIT_GGUF_FLOAT32) {
        float f = (float)value;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        buffer_le(&b, bits, 4);
    } else if (type == LOWBIT_GGUF_FLOAT64) {
        uint64_t bits;
        memcpy(&bits, &value, sizeof bits);
        buffer_le(&b, bits, 8);
    } else {
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_float: type %d is not a float",
                            (int)type);
    }
    return kv_store(writer, key, type, &b);
}

lowbit_status lowbit_gguf_writer_set_bool(lowbit_gguf_writer *writer, const char *key, int value)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_bool");
    if (s) return s;
    buffer b = {0};
    buffer_le(&b, value != 0, 1);
    return kv_store(writer, key, LOWBIT_GGUF_BOOL, &b);
}

lowbit_status lowbit_gguf_writer_set_string(lowbit_gguf_writer *writer, const char *key, const char *value)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_string");
    if (s) return s;
    if (!value)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_string: value of '%s' is NULL", key);
    buffer b = {0};
    buffer_string(&b, value, strlen(value));
    return kv_store(writer, key, LOWBIT_GGUF_STRING, &b);
}

static lowbit_status encode_array(buffer *b, const lowbit_gguf_array *array, int depth, const char *key)
{
    if (!array) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF array for '%s' is NULL", key);
    if (depth >= WRITER_MAX_NESTING)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF array for '%s' nests deeper than %d levels", key,
                            WRITER_MAX_NESTING);
    if ((unsigned)array->element_type > LOWBIT_GGUF_FLOAT64)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF array for '%s' has unknown element type %d", key,
                            (int)array->element_type);
    if (array->count && !array->elements)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF array for '%s' has %zu elements but no data", key,
                            array->count);
    buffer_le(b, (uint64_t)array->element_type, 4);
    buffer_le(b, array->count, 8);
    size_t scalar = lowbit_gguf_scalar_size(array->element_type);
    for (size_t i = 0; i < array->count; ++i) {
        if (scalar) {
            uint64_t bits = 0;
            const uint8_t *p = (const uint8_t *)array->elements + i * scalar;
            /* native C values: load them at their own width, then store little-endian */
            if (scalar == 1)
                bits = p[0];
            else if (scalar == 2) {
                uint16_t v;
                memcpy(&v, p, 2);
                bits = v;
            } else if (scalar == 4) {
                uint32_t v;
                memcpy(&v, p, 4);
                bits = v;
            } else
                memcpy(&bits, p, 8);
            if (array->element_type == LOWBIT_GGUF_BOOL) bits = bits != 0;
            buffer_le(b, bits, scalar);
        } else if (array->element_type == LOWBIT_GGUF_STRING) {
            const char *s = ((const char *const *)array->elements)[i];
            if (!s)
                return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF array for '%s': string %zu is NULL", key, i);
            buffer_string(b, s, strlen(s));
        } else {
            lowbit_status s = encode_array(b, &((const lowbit_gguf_array *)array->elements)[i], depth + 1, key);
            if (s) return s;
        }
    }
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_writer_set_array(lowbit_gguf_writer *writer, const char *key, const lowbit_gguf_array *array)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_array");
    if (s) return s;
    buffer b = {0};
    if ((s = encode_array(&b, array, 0, key))) {
        free(b.data);
        return s;
    }
    return kv_store(writer, key, LOWBIT_GGUF_ARRAY, &b);
}

lowbit_status lowbit_gguf_writer_set_value(lowbit_gguf_writer *writer, const char *key, const lowbit_gguf_value *value)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_set_value");
    if (s) return s;
    if (!value)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_set_value: value of '%s' is NULL", key);
    /* A value read from a file was validated there, so its encoded bytes are copied as they are. */
    buffer b = {0};
    buffer_append(&b, value->raw, value->raw_size);
    return kv_store(writer, key, value->type, &b);
}

lowbit_status lowbit_gguf_writer_remove(lowbit_gguf_writer *writer, const char *key)
{
    lowbit_status s = check_key(writer, key, "lowbit_gguf_writer_remove");
    if (s) return s;
    size_t i = kv_find(writer, key);
    if (i == LOWBIT_NOT_FOUND) return LOWBIT_OK;
    free(writer->kvs[i].key);
    free(writer->kvs[i].blob);
    memmove(&writer->kvs[i], &writer->kvs[i + 1], (writer->kv_count - i - 1) * sizeof *writer->kvs);
    writer->kv_count--;
    return LOWBIT_OK;
}

/* --- tensors ------------------------------------------------------------------------------- */
static size_t tensor_find(const lowbit_gguf_writer *w, const char *name)
{
    for (size_t i = 0; i < w->tensor_count; ++i)
        if (strcmp(w->tensors[i].name, name) == 0) return i;
    return LOWBIT_NOT_FOUND;
}

/* Byte size of a tensor of `type` and shape, after checking that they make sense. */
static lowbit_status tensor_size(const char *name, int type, uint32_t n_dims, const uint64_t *ne,
                                 const lowbit_ggml_type **traits, uint64_t *size)
{
    *traits = lowbit_ggml_type_get(type);
    if (!*traits)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': unknown ggml type id %d", name, type);
    if (n_dims < 1 || n_dims > LOWBIT_GGUF_MAX_DIMS || !ne)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': n_dims %u must be 1..%u with ne given", name,
                            n_dims, LOWBIT_GGUF_MAX_DIMS);
    uint64_t count = 1;
    for (uint32_t d = 0; d < n_dims; ++d)
        if (ne[d] > (uint64_t)INT64_MAX || __builtin_mul_overflow(count, ne[d], &count) || count > (uint64_t)INT64_MAX)
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': element count overflows", name);
    if (ne[0] % (*traits)->block_size)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "tensor '%s': row length %llu is not a multiple of the %s block size %u", name,
                            (unsigned long long)ne[0], (*traits)->name, (*traits)->block_size);
    if (__builtin_mul_overflow(count / (*traits)->block_size, (uint64_t)(*traits)->type_size, size))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': byte size overflows", name);
    return LOWBIT_OK;
}

static lowbit_status tensor_add(lowbit_gguf_writer *w, const char *name, int type, uint32_t n_dims, const uint64_t *ne,
                                const void *data, size_t size, lowbit_gguf_tensor_producer producer, void *user_data)
{
    lowbit_status s = check_writer(w, "lowbit_gguf_writer_add_tensor");
    if (s) return s;
    if (!name) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_add_tensor: name is NULL");
    if (tensor_find(w, name) != LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_add_tensor: tensor '%s' already exists",
                            name);
    writer_tensor t = {0};
    if ((s = tensor_size(name, type, n_dims, ne, &t.type, &t.size))) return s;
    if (!producer && (t.size != size || (size && !data)))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': %zu bytes given, %s of that shape needs %llu",
                            name, size, t.type->name, (unsigned long long)t.size);
    if (w->tensor_count == w->tensor_capacity) {
        size_t capacity = w->tensor_capacity ? w->tensor_capacity * 2 : 16;
        writer_tensor *grown = realloc(w->tensors, capacity * sizeof *grown);
        if (!grown) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory adding tensor '%s'", name);
        w->tensors = grown;
        w->tensor_capacity = capacity;
    }
    if (!(t.name = strdup(name)))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory adding tensor '%s'", name);
    t.n_dims = n_dims;
    for (uint32_t d = 0; d < LOWBIT_GGUF_MAX_DIMS; ++d)
        t.ne[d] = d < n_dims ? ne[d] : 1;
    t.data = data;
    t.producer = producer;
    t.user_data = user_data;
    w->tensors[w->tensor_count++] = t;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_writer_add_tensor(lowbit_gguf_writer *writer, const char *name, int type, uint32_t n_dims,
                                            const uint64_t *ne, const void *data, size_t size)
{
    return tensor_add(writer, name, type, n_dims, ne, data, size, NULL, NULL);
}

lowbit_status lowbit_gguf_writer_add_tensor_stream(lowbit_gguf_writer *writer, const char *name, int type,
                                                   uint32_t n_dims, const uint64_t *ne,
                                                   lowbit_gguf_tensor_producer producer, void *user_data)
{
    if (!producer)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_add_tensor_stream: producer is NULL");
    return tensor_add(writer, name, type, n_dims, ne, NULL, 0, producer, user_data);
}

static lowbit_status tensor_replace(lowbit_gguf_writer *w, const char *name, int type, const void *data, size_t size,
                                    lowbit_gguf_tensor_producer producer, void *user_data)
{
    lowbit_status s = check_writer(w, "lowbit_gguf_writer_replace_tensor");
    if (s) return s;
    if (!name) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_replace_tensor: name is NULL");
    size_t i = tensor_find(w, name);
    if (i == LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_replace_tensor: no tensor '%s'", name);
    writer_tensor *t = &w->tensors[i];
    const lowbit_ggml_type *traits;
    uint64_t bytes;
    if ((s = tensor_size(name, type, t->n_dims ? t->n_dims : 1, t->ne, &traits, &bytes))) return s;
    if (!producer && (bytes != size || (size && !data)))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': %zu bytes given, %s of that shape needs %llu",
                            name, size, traits->name, (unsigned long long)bytes);
    t->type = traits;
    t->size = bytes;
    t->data = producer ? NULL : data;
    t->producer = producer;
    t->user_data = user_data;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_writer_replace_tensor(lowbit_gguf_writer *writer, const char *name, int type,
                                                const void *data, size_t size)
{
    return tensor_replace(writer, name, type, data, size, NULL, NULL);
}

lowbit_status lowbit_gguf_writer_replace_tensor_stream(lowbit_gguf_writer *writer, const char *name, int type,
                                                       lowbit_gguf_tensor_producer producer, void *user_data)
{
    if (!producer)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_gguf_writer_replace_tensor_stream: producer is NULL");
    return tensor_replace(writer, name, type, NULL, 0, producer, user_data);
}

lowbit_status lowbit_gguf_writer_remove_tensor(lowbit_gguf_writer *writer, const char *name)
{
    lowbit_status s = check_writer(writer, "lowbit_gguf_writer_remove_tensor");
    if (s) return s;
    if (!name) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_remove_tensor: name is NULL");
    size_t i = tensor_find(writer, name);
    if (i == LOWBIT_NOT_FOUND)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_remove_tensor: no tensor '%s'", name);
    free(writer->tensors[i].name);
    memmove(&writer->tensors[i], &writer->tensors[i + 1], (writer->tensor_count - i - 1) * sizeof *writer->tensors);
    writer->tensor_count--;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_writer_create_from(const lowbit_gguf *source, lowbit_gguf_writer **out)
{
    if (out) *out = NULL;
    if (!lowbit_gguf_is_valid(source) || !out)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_gguf_writer_create_from: a valid source and out are required");
    lowbit_gguf_writer *w;
    lowbit_status s = lowbit_gguf_writer_create(&w);
    if (s) return s;
    w->source = source;
    size_t kv_count = 0, tensor_count = 0;
    lowbit_gguf_kv_count(source, &kv_count);
    lowbit_gguf_tensor_count(source, &tensor_count);
    for (size_t i = 0; i < kv_count && !s; ++i) {
        const char *key;
        const lowbit_gguf_value *value;
        if (!(s = lowbit_gguf_kv_get(source, i, &key, &value))) s = lowbit_gguf_writer_set_value(w, key, value);
    }
    for (size_t i = 0; i < tensor_count && !s; ++i) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        if (!(s = lowbit_gguf_tensor_get(source, i, &info)))
            s = tensor_add(w, info.name, info.type, info.n_dims ? info.n_dims : 1, info.ne, info.data,
                           (size_t)info.size, NULL, NULL);
    }
    if (s) {
        lowbit_gguf_writer_destroy(w);
        return s;
    }
    *out = w;
    return LOWBIT_OK;
}

/* --- writing the file ---------------------------------------------------------------------- */
typedef struct sink {
    FILE *file;
    const char *name;
    uint64_t expected, written;
} sink;

static lowbit_status sink_write(void *opaque, const void *bytes, size_t size)
{
    sink *k = opaque;
    if (!k) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor producer: sink is NULL");
    if (size && !bytes)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': producer passed NULL bytes", k->name);
    if (size > k->expected - k->written)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': producer wrote more than its %llu bytes",
                            k->name, (unsigned long long)k->expected);
    if (size && fwrite(bytes, 1, size, k->file) != size)
        return lowbit_error(LOWBIT_ERROR_IO, "writing tensor '%s': %s", k->name, strerror(errno));
    k->written += size;
    return LOWBIT_OK;
}

static uint64_t align_up(uint64_t value, uint32_t alignment) { return (value + alignment - 1) / alignment * alignment; }

static lowbit_status write_padding(FILE *file, uint64_t position, uint32_t alignment)
{
    static const uint8_t zeros[256];
    uint64_t pad = align_up(position, alignment) - position;
    while (pad) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        if (fwrite(zeros, 1, n, file) != n)
            return lowbit_error(LOWBIT_ERROR_IO, "writing GGUF padding: %s", strerror(errno));
        pad -= n;
    }
    return LOWBIT_OK;
}

static lowbit_status writer_alignment(const lowbit_gguf_writer *w, uint32_t *alignment)
{
    *alignment = LOWBIT_GGUF_DEFAULT_ALIGNMENT;
    size_t i = kv_find(w, "general.alignment");
    if (i == LOWBIT_NOT_FOUND) return LOWBIT_OK;
    if (w->kvs[i].type != LOWBIT_GGUF_UINT32 || w->kvs[i].blob_size != 4)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "general.alignment must be a UINT32");
    uint32_t a = lowbit_load_le32(w->kvs[i].blob);
    if (a == 0 || (a & (a - 1)))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "general.alignment %u is not a non-zero power of two", a);
    *alignment = a;
    return LOWBIT_OK;
}

static lowbit_status write_contents(const lowbit_gguf_writer *w, FILE *file, uint32_t alignment)
{
    buffer b = {0};
    buffer_append(&b, "GGUF", 4);
    buffer_le(&b, 3, 4);
    buffer_le(&b, w->tensor_count, 8);
    buffer_le(&b, w->kv_count, 8);
    for (size_t i = 0; i < w->kv_count; ++i) {
        buffer_string(&b, w->kvs[i].key, strlen(w->kvs[i].key));
        buffer_le(&b, (uint64_t)w->kvs[i].type, 4);
        buffer_append(&b, w->kvs[i].blob, w->kvs[i].blob_size);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->tensor_count; ++i) {
        const writer_tensor *t = &w->tensors[i];
        buffer_string(&b, t->name, strlen(t->name));
        buffer_le(&b, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; ++d)
            buffer_le(&b, t->ne[d], 8);
        buffer_le(&b, (uint64_t)t->type->id, 4);
        buffer_le(&b, offset, 8);
        offset = align_up(offset + t->size, alignment);
    }
    if (b.failed) {
        free(b.data);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory building the GGUF header");
    }
    lowbit_status s = LOWBIT_OK;
    if (fwrite(b.data, 1, b.size, file) != b.size)
        s = lowbit_error(LOWBIT_ERROR_IO, "writing GGUF header: %s", strerror(errno));
    if (!s) s = write_padding(file, b.size, alignment);
    free(b.data);
    for (size_t i = 0; i < w->tensor_count && !s; ++i) {
        const writer_tensor *t = &w->tensors[i];
        sink k = {file, t->name, t->size, 0};
        if (t->producer) {
            s = t->producer(t->user_data, t->name, (size_t)t->size, sink_write, &k);
            if (s) {
                char reason[768];
                snprintf(reason, sizeof reason, "%s", lowbit_last_error());
                return lowbit_error(s, "tensor producer for '%s' failed: %s", t->name,
                                    reason[0] ? reason : "no message");
            }
        } else {
            s = sink_write(&k, t->data, (size_t)t->size);
        }
        if (!s && k.written != t->size)
            s = lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "tensor '%s': producer wrote %llu of its %llu bytes",
                             t->name, (unsigned long long)k.written, (unsigned long long)t->size);
        if (!s) s = write_padding(file, t->size, alignment);
    }
    return s;
}

/* Where the file really goes. The writer publishes by renaming a temporary file over the destination,
 * which would turn a device node or FIFO (as root, /dev/null itself) into a regular file and replace a
 * symbolic link instead of its target: so only a regular file or a new name is replaced, and a link is
 * followed to the regular file it names (the link stays). */
static lowbit_status resolve_destination(const char *path, char **target)
{
    struct stat st;
    *target = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return lowbit_error(LOWBIT_ERROR_IO, "cannot inspect '%s': %s", path, strerror(errno));
        *target = strdup(path);
    } else if (S_ISLNK(st.st_mode)) {
        *target = realpath(path, NULL);
        if (!*target)
            return lowbit_error(LOWBIT_ERROR_IO, "'%s' is a symbolic link that cannot be followed: %s", path,
                                strerror(errno));
        if (stat(*target, &st) != 0 || !S_ISREG(st.st_mode)) {
            lowbit_status s = lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                                           "refusing to write '%s': it links to '%s', which is %s, not a regular file",
                                           path, *target, lowbit_file_kind(st.st_mode));
            free(*target);
            *target = NULL;
            return s;
        }
    } else if (!S_ISREG(st.st_mode)) {
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "refusing to write '%s': it is %s, not a regular file (give a file name)", path,
                            lowbit_file_kind(st.st_mode));
    } else {
        *target = strdup(path);
    }
    return *target ? LOWBIT_OK : lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory");
}

lowbit_status lowbit_gguf_writer_write(lowbit_gguf_writer *writer, const char *path)
{
    lowbit_status s = check_writer(writer, "lowbit_gguf_writer_write");
    if (s) return s;
    if (!path || !*path) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_writer_write: path is empty");
    uint32_t alignment;
    if ((s = writer_alignment(writer, &alignment))) return s;
    char *target = NULL;
    if ((s = resolve_destination(path, &target))) return s;
    struct stat st;
    if (writer->source && lowbit_gguf_is_valid(writer->source) && stat(target, &st) == 0) {
        const lowbit_mapped_file *m = lowbit_gguf_mapping(writer->source);
        if (m->has_identity && st.st_dev == m->device && st.st_ino == m->inode) {
            free(target);
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                                "refusing to overwrite '%s': it is the file being copied", path);
        }
    }
    /* The temporary file sits beside the destination so the rename stays on one file system. */
    size_t length = strlen(target) + sizeof ".tmp-XXXXXX";
    char *temporary = malloc(length);
    if (!temporary) {
        free(target);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    snprintf(temporary, length, "%s.tmp-XXXXXX", target);
    int fd = mkstemp(temporary);
    if (fd < 0) {
        s = lowbit_error(LOWBIT_ERROR_IO, "cannot create a temporary file for '%s': %s", path, strerror(errno));
        free(temporary);
        free(target);
        return s;
    }
    fchmod(fd, 0644);
    FILE *file = fdopen(fd, "wb");
    if (!file) {
        s = lowbit_error(LOWBIT_ERROR_IO, "cannot open '%s': %s", temporary, strerror(errno));
        close(fd);
    } else {
        s = write_contents(writer, file, alignment);
        if (!s && (fflush(file) != 0 || fsync(fileno(file)) != 0))
            s = lowbit_error(LOWBIT_ERROR_IO, "writing '%s': %s", temporary, strerror(errno));
        if (fclose(file) != 0 && !s) s = lowbit_error(LOWBIT_ERROR_IO, "closing '%s': %s", temporary, strerror(errno));
    }
    if (!s && rename(temporary, target) != 0)
        s = lowbit_error(LOWBIT_ERROR_IO, "cannot rename '%s' to '%s': %s", temporary, target, strerror(errno));
    if (s) unlink(temporary);
    free(temporary);
    free(target);
    return s;
}
