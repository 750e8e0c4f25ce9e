/* test_io_gguf.c — GGUF reader and writer: round trips of every value type, copy-and-modify, atomic
 * writes, a table of corrupt files that must fail cleanly, and API misuse. */
#include "test_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/error.h"
#include "host/io/io_internal.h"
#include "lowbit/lowbit_io.h"

/* --- helpers ----------------------------------------------------------------------------------- */
static char test_dir[512];

static int make_test_dir(void **state)
{
    (void)state;
    assert_int_equal(test_temp_dir_create(test_dir, sizeof test_dir, "test_io_gguf"), 0);
    return 0;
}

static int remove_test_dir(void **state)
{
    (void)state;
    test_temp_dir_remove(test_dir);
    return 0;
}

static const char *test_path(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_dir, name);
    return path;
}

static void *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc((size_t)n);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static int count_temporaries(void)
{
    int n = 0;
    DIR *dir = opendir(test_dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        if (strstr(entry->d_name, ".tmp-")) n++;
    if (dir) closedir(dir);
    return n;
}

static uint8_t tensor_bytes[4][4096];

static void fill_bytes(void)
{
    for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 4096; ++i)
            tensor_bytes[t][i] = (uint8_t)(i * 7 + t * 31 + (i >> 8));
}

/* The sample: every scalar type, strings, numeric/string/nested arrays, four tensors. */
static void write_sample(const char *path, uint32_t alignment)
{
    lowbit_gguf_writer *w;
    assert_int_equal(lowbit_gguf_writer_create(&w), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_string(w, "general.architecture", "llama"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "general.alignment", LOWBIT_GGUF_UINT32, alignment), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "u8", LOWBIT_GGUF_UINT8, 200), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_int(w, "i8", LOWBIT_GGUF_INT8, -100), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "u16", LOWBIT_GGUF_UINT16, 65000), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_int(w, "i16", LOWBIT_GGUF_INT16, -32000), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "u32", LOWBIT_GGUF_UINT32, 4000000000u), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_int(w, "i32", LOWBIT_GGUF_INT32, -2000000000), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "u64", LOWBIT_GGUF_UINT64, UINT64_MAX), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_int(w, "i64", LOWBIT_GGUF_INT64, INT64_MIN), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_float(w, "f32", LOWBIT_GGUF_FLOAT32, 1.5), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_float(w, "f64", LOWBIT_GGUF_FLOAT64, -2.25e300), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_bool(w, "yes", 1), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_string(w, "empty", ""), LOWBIT_OK);
    const int32_t ints[] = {1, -2, 3};
    const lowbit_gguf_array int_array = {LOWBIT_GGUF_INT32, 3, ints};
    assert_int_equal(lowbit_gguf_writer_set_array(w, "ints", &int_array), LOWBIT_OK);
    const float floats[] = {0.5f, -1.0f};
    const lowbit_gguf_array float_array = {LOWBIT_GGUF_FLOAT32, 2, floats};
    assert_int_equal(lowbit_gguf_writer_set_array(w, "floats", &float_array), LOWBIT_OK);
    const char *const words[] = {"alpha", "", "gamma"};
    const lowbit_gguf_array word_array = {LOWBIT_GGUF_STRING, 3, words};
    assert_int_equal(lowbit_gguf_writer_set_array(w, "words", &word_array), LOWBIT_OK);
    /* arrays of arrays of strings, and of ints, and an empty inner array */
    const char *const a[] = {"x", "yy"}, *const b[] = {"zzz"};
    const lowbit_gguf_array inner[] = {
        {LOWBIT_GGUF_STRING, 2, a}, {LOWBIT_GGUF_STRING, 1, b}, {LOWBIT_GGUF_STRING, 0, NULL}};
    const lowbit_gguf_array nested = {LOWBIT_GGUF_ARRAY, 3, inner};
    assert_int_equal(lowbit_gguf_writer_set_array(w, "nested", &nested), LOWBIT_OK);
    const uint8_t bools[] = {1, 0, 1};
    const lowbit_gguf_array bool_array = {LOWBIT_GGUF_BOOL, 3, bools};
    assert_int_equal(lowbit_gguf_writer_set_array(w, "bools", &bool_array), LOWBIT_OK);
    const lowbit_gguf_array empty = {LOWBIT_GGUF_UINT64, 0, NULL};
    assert_int_equal(lowbit_gguf_writer_set_array(w, "no_elements", &empty), LOWBIT_OK);

    const uint64_t ne_f32[] = {8, 3}, ne_f16[] = {5}, ne_q8[] = {64, 2}, ne_q4k[] = {256, 1, 2};
    assert_int_equal(lowbit_gguf_writer_add_tensor(w, "a.f32", LOWBIT_FORMAT_F32, 2, ne_f32, tensor_bytes[0], 96),
                     LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_add_tensor(w, "b.f16", LOWBIT_FORMAT_F16, 1, ne_f16, tensor_bytes[1], 10),
                     LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_add_tensor(w, "c.q8_0", LOWBIT_FORMAT_Q8_0, 2, ne_q8, tensor_bytes[2], 136),
                     LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_add_tensor(w, "d.q4_k", LOWBIT_FORMAT_Q4_K, 3, ne_q4k, tensor_bytes[3], 288),
                     LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_write(w, path), LOWBIT_OK);
    lowbit_gguf_writer_destroy(w);
}

static const lowbit_gguf_value *find(lowbit_gguf *g, const char *key)
{
    const lowbit_gguf_value *v;
    assert_int_equal(lowbit_gguf_kv_find(g, key, &v), LOWBIT_OK);
    assert_non_null(v);
    return v;
}

static void check_sample(lowbit_gguf *g, uint32_t alignment)
{
    uint32_t version, align;
    assert_int_equal(lowbit_gguf_version(g, &version), LOWBIT_OK);
    assert_int_equal(version, 3);
    assert_int_equal(lowbit_gguf_alignment(g, &align), LOWBIT_OK);
    assert_int_equal(align, alignment);
    size_t kv_count;
    assert_int_equal(lowbit_gguf_kv_count(g, &kv_count), LOWBIT_OK);
    assert_int_equal(kv_count, 20);
    const char *key;
    assert_int_equal(lowbit_gguf_kv_get(g, 0, &key, NULL), LOWBIT_OK);
    assert_string_equal(key, "general.architecture");

    uint64_t u;
    int64_t i;
    double f;
    int flag;
    const char *s;
    size_t length;
    assert_int_equal(lowbit_gguf_value_get_uint(find(g, "u8"), &u), LOWBIT_OK);
    assert_int_equal(u, 200);
    assert_int_equal(lowbit_gguf_value_get_int(find(g, "i8"), &i), LOWBIT_OK);
    assert_int_equal(i, -100);
    assert_int_equal(lowbit_gguf_value_get_uint(find(g, "u16"), &u), LOWBIT_OK);
    assert_int_equal(u, 65000);
    assert_int_equal(lowbit_gguf_value_get_int(find(g, "i16"), &i), LOWBIT_OK);
    assert_int_equal(i, -32000);
    assert_int_equal(lowbit_gguf_value_get_uint(find(g, "u32"), &u), LOWBIT_OK);
    assert_int_equal(u, 4000000000u);
    assert_int_equal(lowbit_gguf_value_get_int(find(g, "u32"), &i), LOWBIT_OK); /* widened */
    assert_int_equal(i, 4000000000);
    assert_int_equal(lowbit_gguf_value_get_int(find(g, "i32"), &i), LOWBIT_OK);
    assert_int_equal(i, -2000000000);
    assert_int_equal(lowbit_gguf_value_get_uint(find(g, "u64"), &u), LOWBIT_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(lowbit_gguf_value_get_int(find(g, "u64"), &i), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_gguf_value_get_int(find(g, "i64"), &i), LOWBIT_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(lowbit_gguf_value_get_uint(find(g, "i64"), &u), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_gguf_value_get_float(find(g, "f32"), &f), LOWBIT_OK);
    assert_true(f == 1.5);
    assert_int_equal(lowbit_gguf_value_get_float(find(g, "f64"), &f), LOWBIT_OK);
    assert_true(f == -2.25e300);
    assert_int_equal(lowbit_gguf_value_get_bool(find(g, "yes"), &flag), LOWBIT_OK);
    assert_int_equal(flag, 1);
    assert_int_equal(lowbit_gguf_value_get_string(find(g, "empty"), &s, &length), LOWBIT_OK);
    assert_string_equal(s, "");
    assert_int_equal(length, 0);
    assert_int_equal(lowbit_gguf_value_get_string(find(g, "u8"), &s, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_true(strlen(lowbit_last_error()) > 0);

    lowbit_gguf_type type;
    size_t count;
    const lowbit_gguf_value *v = find(g, "ints");
    assert_int_equal(lowbit_gguf_value_get_array(v, &type, &count), LOWBIT_OK);
    assert_int_equal(type, LOWBIT_GGUF_INT32);
    assert_int_equal(count, 3);
    assert_int_equal(lowbit_gguf_array_get_int(v, 1, &i), LOWBIT_OK);
    assert_int_equal(i, -2);
    assert_int_equal(lowbit_gguf_array_get_int(v, 3, &i), LOWBIT_ERROR_INVALID_ARGUMENT);
    const void *raw;
    size_t raw_size;
    assert_int_equal(lowbit_gguf_value_get_array_data(v, &raw, &raw_size), LOWBIT_OK);
    assert_int_equal(raw_size, 12);
    assert_int_equal(lowbit_gguf_array_get_float(find(g, "floats"), 1, &f), LOWBIT_OK);
    assert_true(f == -1.0);
    assert_int_equal(lowbit_gguf_array_get_bool(find(g, "bools"), 1, &flag), LOWBIT_OK);
    assert_int_equal(flag, 0);
    assert_int_equal(lowbit_gguf_value_get_array(find(g, "no_elements"), &type, &count), LOWBIT_OK);
    assert_int_equal(type, LOWBIT_GGUF_UINT64);
    assert_int_equal(count, 0);

    const lowbit_gguf_value *e;
    v = find(g, "words");
    assert_int_equal(lowbit_gguf_value_get_element(v, 2, &e), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_value_get_string(e, &s, NULL), LOWBIT_OK);
    assert_string_equal(s, "gamma");
    v = find(g, "nested");
    assert_int_equal(lowbit_gguf_value_get_array(v, &type, &count), LOWBIT_OK);
    assert_int_equal(type, LOWBIT_GGUF_ARRAY);
    assert_int_equal(count, 3);
    assert_int_equal(lowbit_gguf_value_get_element(v, 0, &e), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_value_get_array(e, &type, &count), LOWBIT_OK);
    assert_int_equal(type, LOWBIT_GGUF_STRING);
    assert_int_equal(count, 2);
    const lowbit_gguf_value *leaf;
    assert_int_equal(lowbit_gguf_value_get_element(e, 1, &leaf), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_value_get_string(leaf, &s, NULL), LOWBIT_OK);
    assert_string_equal(s, "yy");
    assert_int_equal(lowbit_gguf_value_get_element(v, 2, &e), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_value_get_array(e, &type, &count), LOWBIT_OK);
    assert_int_equal(count, 0);

    const lowbit_gguf_value *missing;
    assert_int_equal(lowbit_gguf_kv_find(g, "no.such.key", &missing), LOWBIT_OK);
    assert_null(missing);

    static const struct {
        const char *name;
        int type;
        uint32_t n_dims;
        uint64_t ne0, size;
    } expected[] = {
        {"a.f32", 0, 2, 8, 96}, {"b.f16", 1, 1, 5, 10}, {"c.q8_0", 8, 2, 64, 136}, {"d.q4_k", 12, 3, 256, 288}};
    size_t tensors;
    assert_int_equal(lowbit_gguf_tensor_count(g, &tensors), LOWBIT_OK);
    assert_int_equal(tensors, 4);
    uint64_t data_offset;
    assert_int_equal(lowbit_gguf_data_offset(g, &data_offset), LOWBIT_OK);
    assert_int_equal(data_offset % alignment, 0);
    for (size_t t = 0; t < 4; ++t) {
        size_t index;
        assert_int_equal(lowbit_gguf_tensor_find(g, expected[t].name, &index), LOWBIT_OK);
        assert_int_equal(index, t);
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_gguf_tensor_get(g, t, &info), LOWBIT_OK);
        assert_string_equal(info.name, expected[t].name);
        assert_int_equal(info.type, expected[t].type);
        assert_int_equal(info.n_dims, expected[t].n_dims);
        assert_int_equal(info.ne[0], expected[t].ne0);
        assert_int_equal(info.size, expected[t].size);
        assert_int_equal(info.offset % alignment, 0);
        assert_memory_equal(info.data, tensor_bytes[t], info.size);
    }
    size_t index;
    assert_int_equal(lowbit_gguf_tensor_find(g, "nope", &index), LOWBIT_OK);
    assert_true(index == LOWBIT_NOT_FOUND);
}

/* --- round trips --------------------------------------------------------------------------------- */
static void test_round_trip(void **state)
{
    (void)state;
    const uint32_t alignments[] = {32, 64, 1};
    for (int a = 0; a < 3; ++a) {
        const char *path = test_path("sample.gguf");
        write_sample(path, alignments[a]);
        lowbit_gguf *g;
        assert_int_equal(lowbit_gguf_open(path, &g), LOWBIT_OK);
        check_sample(g, alignments[a]);
        /* tensor data is served from the mapping, never copied, and aligned as the file says */
        const lowbit_mapped_file *mapping = lowbit_gguf_mapping(g);
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_gguf_tensor_get(g, 3, &info), LOWBIT_OK);
        assert_ptr_equal(info.data, mapping->data + info.offset);
        assert_int_equal((uintptr_t)info.data % alignments[a], 0);
        lowbit_gguf_close(g);
        /* the same bytes through the memory entry point */
        size_t size;
        void *bytes = read_whole(path, &size);
        assert_int_equal(lowbit_gguf_open_memory(bytes, size, &g), LOWBIT_OK);
        check_sample(g, alignments[a]);
        lowbit_gguf_close(g);
        free(bytes);
        unlink(path);
    }
}

/* Produces a Q8_0 copy of an F32 tensor in two chunks, the way a quantizer streams rows. */
typedef struct quantize_job {
    const float *values;
    size_t rows, cols;
    int calls;
} quantize_job;

static lowbit_status quantize_producer(void *user_data, const char *name, size_t size, lowbit_gguf_write_fn write,
                                       void *sink)
{
    quantize_job *job = user_data;
    job->calls++;
    assert_string_equal(name, "a.f32");
    size_t row = lowbit_format_row_size(LOWBIT_FORMAT_Q8_0, job->cols);
    assert_int_equal(size, row * job->rows);
    uint8_t buffer[64];
    for (size_t r = 0; r < job->rows; ++r) {
        assert_true(row <= sizeof buffer);
        assert_int_equal(
            lowbit_quantize(LOWBIT_FORMAT_Q8_0, job->values + r * job->cols, 1, job->cols, buffer, row, NULL, 1),
            LOWBIT_OK);
        lowbit_status s = write(sink, buffer, row);
        if (s) return s;
    }
    return LOWBIT_OK;
}

static void test_copy_and_modify(void **state)
{
    (void)state;
    const char *source_path = strdup(test_path("source.gguf"));
    write_sample(source_path, 64);
    lowbit_gguf *source;
    assert_int_equal(lowbit_gguf_open(source_path, &source), LOWBIT_OK);
    lowbit_gguf_writer *w;
    assert_int_equal(lowbit_gguf_writer_create_from(source, &w), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_string(w, "general.architecture", "gemma3"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_remove(w, "u8"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_remove(w, "u8"), LOWBIT_OK); /* absent: no error */
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "general.quantization_version", LOWBIT_GGUF_UINT32, 2), LOWBIT_OK);

    /* a.f32 is 3 rows of 8: not a Q8_0 row, so replacing it with Q8_0 must be refused */
    assert_int_equal(lowbit_gguf_writer_replace_tensor(w, "a.f32", LOWBIT_FORMAT_Q8_0, tensor_bytes[0], 102),
                     LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_gguf_writer_remove_tensor(w, "a.f32"), LOWBIT_OK);
    float values[2 * 32];
    test_fill_random(values, 64, 7, 1.0f);
    const uint64_t ne[] = {32, 2};
    quantize_job job = {values, 2, 32, 0};
    assert_int_equal(
        lowbit_gguf_writer_add_tensor_stream(w, "a.f32", LOWBIT_FORMAT_Q8_0, 2, ne, quantize_producer, &job),
        LOWBIT_OK);
    /* c.q8_0 (64×2) becomes F16 bytes in place */
    uint8_t f16[256];
    memset(f16, 0x3c, sizeof f16);
    assert_int_equal(lowbit_gguf_writer_replace_tensor(w, "c.q8_0", LOWBIT_FORMAT_F16, f16, sizeof f16), LOWBIT_OK);

    /* never over the input itself */
    assert_int_equal(lowbit_gguf_writer_write(w, source_path), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "refusing"));
    const char *out_path = strdup(test_path("copy.gguf"));
    assert_int_equal(lowbit_gguf_writer_write(w, out_path), LOWBIT_OK);
    assert_int_equal(job.calls, 1);
    lowbit_gguf_writer_destroy(w);

    lowbit_gguf *copy;
    assert_int_equal(lowbit_gguf_open(out_path, &copy), LOWBIT_OK);
    size_t source_kvs, copy_kvs;
    lowbit_gguf_kv_count(source, &source_kvs);
    lowbit_gguf_kv_count(copy, &copy_kvs);
    assert_int_equal(copy_kvs, source_kvs); /* one removed, one added */
    /* every KV we did not touch is preserved byte for byte */
    for (size_t k = 0; k < source_kvs; ++k) {
        const char *key;
        const lowbit_gguf_value *a, *b;
        lowbit_gguf_kv_get(source, k, &key, &a);
        if (!strcmp(key, "general.architecture") || !strcmp(key, "u8")) continue;
        assert_int_equal(lowbit_gguf_kv_find(copy, key, &b), LOWBIT_OK);
        assert_non_null(b);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->raw_size, b->raw_size);
        assert_memory_equal(a->raw, b->raw, a->raw_size);
    }
    const char *s;
    assert_int_equal(lowbit_gguf_value_get_string(find(copy, "general.architecture"), &s, NULL), LOWBIT_OK);
    assert_string_equal(s, "gemma3");
    const lowbit_gguf_value *gone;
    lowbit_gguf_kv_find(copy, "u8", &gone);
    assert_null(gone);
    uint32_t alignment;
    lowbit_gguf_alignment(copy, &alignment);
    assert_int_equal(alignment, 64);

    lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
    size_t index;
    lowbit_gguf_tensor_find(copy, "a.f32", &index);
    assert_int_equal(index, 3); /* removed then appended */
    assert_int_equal(lowbit_gguf_tensor_get(copy, index, &info), LOWBIT_OK);
    assert_int_equal(info.type, LOWBIT_FORMAT_Q8_0);
    float back[64];
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q8_0, info.data, info.size, 2, 32, back), LOWBIT_OK);
    for (int e = 0; e < 64; ++e)
        assert_true(back[e] - values[e] < 0.02f && values[e] - back[e] < 0.02f);
    lowbit_gguf_tensor_find(copy, "c.q8_0", &index);
    assert_int_equal(lowbit_gguf_tensor_get(copy, index, &info), LOWBIT_OK);
    assert_int_equal(info.type, LOWBIT_FORMAT_F16);
    assert_memory_equal(info.data, f16, sizeof f16);
    lowbit_gguf_tensor_find(copy, "d.q4_k", &index);
    assert_int_equal(lowbit_gguf_tensor_get(copy, index, &info), LOWBIT_OK);
    assert_memory_equal(info.data, tensor_bytes[3], 288);
    lowbit_gguf_close(copy);
    lowbit_gguf_close(source);
    assert_int_equal(count_temporaries(), 0);
    unlink(out_path);
    unlink(source_path);
    free((void *)out_path);
    free((void *)source_path);
}

static lowbit_status failing_producer(void *user_data, const char *name, size_t size, lowbit_gguf_write_fn write,
                                      void *sink)
{
    (void)name;
    int mode = *(int *)user_data;
    uint8_t zeros[16] = {0};
    if (mode == 0) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "simulated quantizer failure");
    if (mode == 1) return write(sink, zeros, size > 16 ? 16 : size - 1); /* too short */
    lowbit_status s = write(sink, zeros, 16);
    return s ? s : write(sink, zeros, size); /* too long */
}

/* A failed write leaves an existing destination untouched and no temporary file behind. */
static void test_atomic_write(void **state)
{
    (void)state;
    const char *path = test_path("existing.gguf");
    FILE *f = fopen(path, "wb");
    fputs("precious", f);
    fclose(f);
    for (int mode = 0; mode < 3; ++mode) {
        lowbit_gguf_writer *w;
        assert_int_equal(lowbit_gguf_writer_create(&w), LOWBIT_OK);
        const uint64_t ne[] = {64};
        assert_int_equal(
            lowbit_gguf_writer_add_tensor_stream(w, "t", LOWBIT_FORMAT_F32, 1, ne, failing_producer, &mode), LOWBIT_OK);
        lowbit_status s = lowbit_gguf_writer_write(w, path);
        assert_true(s != LOWBIT_OK);
        assert_true(strlen(lowbit_last_error()) > 0);
        if (mode == 0) assert_non_null(strstr(lowbit_last_error(), "simulated"));
        lowbit_gguf_writer_destroy(w);
        size_t size;
        char *contents = read_whole(path, &size);
        assert_int_equal(size, 8);
        assert_memory_equal(contents, "precious", 8);
        free(contents);
        assert_int_equal(count_temporaries(), 0);
    }
    unlink(path);
    /* a folder that does not exist: IO error, nothing created */
    lowbit_gguf_writer *w;
    assert_int_equal(lowbit_gguf_writer_create(&w), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_write(w, "/nonexistent-lowbit-dir/x.gguf"), LOWBIT_ERROR_IO);
    /* bad alignment values are refused at write time */
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "general.alignment", LOWBIT_GGUF_UINT32, 48), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_write(w, test_path("bad.gguf")), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_gguf_writer_set_uint(w, "general.alignment", LOWBIT_GGUF_UINT64, 64), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_write(w, test_path("bad.gguf")), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_gguf_writer_destroy(w);
    assert_int_equal(count_temporaries(), 0);
}

/* --- API misuse: every entry point answers NULLs and bad values with a status and a message --- */
#define EXPECT_MISUSE(call)                                                                                            \
    do {                                                                                                               \
        lowbit_error_clear();                                                                                          \
        assert_int_equal((call), LOWBIT_ERROR_INVALID_ARGUMENT);                                                       \
        assert_true(strlen(lowbit_last_error()) > 0);                                                                  \
    } while (0)

static void test_misuse(void **state)
{
    (void)state;
    char *path = strdup(test_path("misuse.gguf")); /* test_path reuses one buffer */
    write_sample(path, 32);
    lowbit_gguf *g = NULL, *none = NULL;
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    double f;
    int flag;
    size_t n;
    const char *s;
    const lowbit_gguf_value *v;
    lowbit_gguf_type type;
    const void *data;
    EXPECT_MISUSE(lowbit_gguf_open(NULL, &g));
    EXPECT_MISUSE(lowbit_gguf_open(path, NULL));
    EXPECT_MISUSE(lowbit_gguf_open_memory(NULL, 10, &g));
    EXPECT_MISUSE(lowbit_gguf_open_memory("GGUF", 0, &g));
    assert_int_equal(lowbit_gguf_open(test_path("missing.gguf"), &g), LOWBIT_ERROR_IO);
    assert_null(g);
    assert_int_equal(lowbit_gguf_open(test_dir, &g), LOWBIT_ERROR_IO); /* a folder */
    lowbit_gguf_close(NULL);
    EXPECT_MISUSE(lowbit_gguf_version(none, &u32));
    EXPECT_MISUSE(lowbit_gguf_alignment(none, &u32));
    EXPECT_MISUSE(lowbit_gguf_data_offset(none, &u64));
    EXPECT_MISUSE(lowbit_gguf_kv_count(none, &n));
    EXPECT_MISUSE(lowbit_gguf_kv_get(none, 0, &s, &v));
    EXPECT_MISUSE(lowbit_gguf_kv_find(none, "u8", &v));
    EXPECT_MISUSE(lowbit_gguf_tensor_count(none, &n));
    EXPECT_MISUSE(lowbit_gguf_tensor_find(none, "a", &n));
    lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
    EXPECT_MISUSE(lowbit_gguf_tensor_get(none, 0, &info));
    assert_int_equal(lowbit_gguf_open(path, &g), LOWBIT_OK);
    EXPECT_MISUSE(lowbit_gguf_version(g, NULL));
    EXPECT_MISUSE(lowbit_gguf_kv_count(g, NULL));
    EXPECT_MISUSE(lowbit_gguf_kv_get(g, 1000, &s, &v));
    EXPECT_MISUSE(lowbit_gguf_kv_find(g, NULL, &v));
    EXPECT_MISUSE(lowbit_gguf_kv_find(g, "u8", NULL));
    EXPECT_MISUSE(lowbit_gguf_tensor_get(g, 99, &info));
    EXPECT_MISUSE(lowbit_gguf_tensor_get(g, 0, NULL));
    info.struct_size = 4;
    EXPECT_MISUSE(lowbit_gguf_tensor_get(g, 0, &info));
    EXPECT_MISUSE(lowbit_gguf_tensor_find(g, NULL, &n));
    EXPECT_MISUSE(lowbit_gguf_value_type(NULL, &type));
    EXPECT_MISUSE(lowbit_gguf_value_get_uint(NULL, &u64));
    EXPECT_MISUSE(lowbit_gguf_value_get_int(NULL, &i64));
    EXPECT_MISUSE(lowbit_gguf_value_get_float(NULL, &f));
    EXPECT_MISUSE(lowbit_gguf_value_get_bool(NULL, &flag));
    EXPECT_MISUSE(lowbit_gguf_value_get_string(NULL, &s, NULL));
    EXPECT_MISUSE(lowbit_gguf_value_get_array(NULL, &type, &n));
    EXPECT_MISUSE(lowbit_gguf_value_get_element(NULL, 0, &v));
    EXPECT_MISUSE(lowbit_gguf_value_get_array_data(NULL, &data, &n));
    EXPECT_MISUSE(lowbit_gguf_array_get_uint(NULL, 0, &u64));
    lowbit_gguf_kv_find(g, "ints", &v);
    EXPECT_MISUSE(lowbit_gguf_value_get_element(v, 0, &v)); /* numbers: use the array getters */
    EXPECT_MISUSE(lowbit_gguf_array_get_uint(v, 0, NULL));
    EXPECT_MISUSE(lowbit_gguf_array_get_bool(v, 0, &flag)); /* not bools */
    lowbit_gguf_kv_find(g, "f32", &v);
    EXPECT_MISUSE(lowbit_gguf_value_get_uint(v, &u64));
    EXPECT_MISUSE(lowbit_gguf_value_get_array(v, &type, &n));
    EXPECT_MISUSE(lowbit_gguf_type_size(99, &u32, &u32));

    lowbit_gguf_writer *w = NULL;
    EXPECT_MISUSE(lowbit_gguf_writer_create(NULL));
    EXPECT_MISUSE(lowbit_gguf_writer_create_from(NULL, &w));
    EXPECT_MISUSE(lowbit_gguf_writer_create_from(g, NULL));
    EXPECT_MISUSE(lowbit_gguf_writer_set_uint(NULL, "k", LOWBIT_GGUF_UINT8, 1));
    EXPECT_MISUSE(lowbit_gguf_writer_write(NULL, path));
    assert_int_equal(lowbit_gguf_writer_create(&w), LOWBIT_OK);
    EXPECT_MISUSE(lowbit_gguf_writer_set_uint(w, NULL, LOWBIT_GGUF_UINT8, 1));
    EXPECT_MISUSE(lowbit_gguf_writer_set_uint(w, "k", LOWBIT_GGUF_UINT8, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_set_uint(w, "k", LOWBIT_GGUF_INT8, 1));
    EXPECT_MISUSE(lowbit_gguf_writer_set_int(w, "k", LOWBIT_GGUF_INT16, 40000));
    EXPECT_MISUSE(lowbit_gguf_writer_set_int(w, "k", LOWBIT_GGUF_UINT16, 4));
    EXPECT_MISUSE(lowbit_gguf_writer_set_float(w, "k", LOWBIT_GGUF_INT32, 1.0));
    EXPECT_MISUSE(lowbit_gguf_writer_set_string(w, "k", NULL));
    EXPECT_MISUSE(lowbit_gguf_writer_set_array(w, "k", NULL));
    const lowbit_gguf_array no_data = {LOWBIT_GGUF_INT32, 3, NULL};
    EXPECT_MISUSE(lowbit_gguf_writer_set_array(w, "k", &no_data));
    const lowbit_gguf_array bad_type = {(lowbit_gguf_type)42, 0, NULL};
    EXPECT_MISUSE(lowbit_gguf_writer_set_array(w, "k", &bad_type));
    const char *const strings[] = {"a", NULL};
    const lowbit_gguf_array null_string = {LOWBIT_GGUF_STRING, 2, strings};
    EXPECT_MISUSE(lowbit_gguf_writer_set_array(w, "k", &null_string));
    EXPECT_MISUSE(lowbit_gguf_writer_set_value(w, "k", NULL));
    EXPECT_MISUSE(lowbit_gguf_writer_remove(w, NULL));
    const uint64_t ne[] = {32, 2}, bad_ne[] = {33};
    uint8_t bytes[256] = {0};
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, NULL, LOWBIT_FORMAT_F32, 2, ne, bytes, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_F32, 2, ne, bytes, 255)); /* wrong size */
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_F32, 2, ne, NULL, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_F32, 0, ne, bytes, 0));
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_F32, 5, ne, bytes, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", 99, 2, ne, bytes, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_Q8_0, 1, bad_ne, bytes, 34));
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor_stream(w, "t", LOWBIT_FORMAT_F32, 2, ne, NULL, NULL));
    assert_int_equal(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_F32, 2, ne, bytes, 256), LOWBIT_OK);
    EXPECT_MISUSE(lowbit_gguf_writer_add_tensor(w, "t", LOWBIT_FORMAT_F32, 2, ne, bytes, 256)); /* duplicate */
    EXPECT_MISUSE(lowbit_gguf_writer_replace_tensor(w, "missing", LOWBIT_FORMAT_F32, bytes, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_replace_tensor(w, NULL, LOWBIT_FORMAT_F32, bytes, 256));
    EXPECT_MISUSE(lowbit_gguf_writer_replace_tensor_stream(w, "t", LOWBIT_FORMAT_F32, NULL, NULL));
    EXPECT_MISUSE(lowbit_gguf_writer_remove_tensor(w, "missing"));
    EXPECT_MISUSE(lowbit_gguf_writer_write(w, NULL));
    EXPECT_MISUSE(lowbit_gguf_writer_write(w, ""));
    lowbit_gguf_writer_destroy(w);
    lowbit_gguf_writer_destroy(NULL);
    lowbit_gguf_close(g);
    unlink(path);
    free(path);
}

int main(void)
{
    fill_bytes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_copy_and_modify),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, make_test_dir, remove_test_dir);
}
