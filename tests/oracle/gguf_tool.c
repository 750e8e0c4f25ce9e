/* gguf_tool.c — the C side of the gguf-py oracle: dumps what lowbit reads from a GGUF or safetensors
 * file as JSON, and writes a fixed GGUF (or a copy of one) for gguf-py to read back. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_io.h"

static int fail(const char *what, lowbit_status s)
{
    fprintf(stderr, "gguf_tool: %s: %s: %s\n", what, lowbit_status_string(s), lowbit_last_error());
    return 1;
}

/* Strings travel as hex so arbitrary bytes (token pieces) compare exactly. */
static void print_hex(const void *bytes, size_t size)
{
    const uint8_t *p = bytes;
    putchar('"');
    for (size_t i = 0; i < size; ++i)
        printf("%02x", p[i]);
    putchar('"');
}

static void print_scalar(lowbit_gguf_type type, const lowbit_gguf_value *v, const lowbit_gguf_value *array, size_t i)
{
    uint64_t u;
    int64_t s;
    double f;
    int b;
    switch (type) {
    case LOWBIT_GGUF_UINT8:
    case LOWBIT_GGUF_UINT16:
    case LOWBIT_GGUF_UINT32:
    case LOWBIT_GGUF_UINT64:
        if (array)
            lowbit_gguf_array_get_uint(array, i, &u);
        else
            lowbit_gguf_value_get_uint(v, &u);
        printf("%" PRIu64, u);
        break;
    case LOWBIT_GGUF_INT8:
    case LOWBIT_GGUF_INT16:
    case LOWBIT_GGUF_INT32:
    case LOWBIT_GGUF_INT64:
        if (array)
            lowbit_gguf_array_get_int(array, i, &s);
        else
            lowbit_gguf_value_get_int(v, &s);
        printf("%" PRId64, s);
        break;
    case LOWBIT_GGUF_FLOAT32:
    case LOWBIT_GGUF_FLOAT64:
        if (array)
            lowbit_gguf_array_get_float(array, i, &f);
        else
            lowbit_gguf_value_get_float(v, &f);
        printf("%.17g", f);
        break;
    case LOWBIT_GGUF_BOOL:
        if (array)
            lowbit_gguf_array_get_bool(array, i, &b);
        else
            lowbit_gguf_value_get_bool(v, &b);
        printf(b ? "true" : "false");
        break;
    default: printf("null");
    }
}

static void print_value(const lowbit_gguf_value *v)
{
    lowbit_gguf_type type;
    lowbit_gguf_value_type(v, &type);
    if (type == LOWBIT_GGUF_STRING) {
        const char *s;
        size_t length;
        lowbit_gguf_value_get_string(v, &s, &length);
        print_hex(s, length);
    } else if (type == LOWBIT_GGUF_ARRAY) {
        lowbit_gguf_type element;
        size_t count;
        lowbit_gguf_value_get_array(v, &element, &count);
        printf("{\"type\":%d,\"items\":[", (int)element);
        for (size_t i = 0; i < count; ++i) {
            if (i) putchar(',');
            if (element == LOWBIT_GGUF_STRING || element == LOWBIT_GGUF_ARRAY) {
                const lowbit_gguf_value *e;
                lowbit_gguf_value_get_element(v, i, &e);
                print_value(e);
            } else {
                print_scalar(element, NULL, v, i);
            }
        }
        printf("]}");
    } else {
        print_scalar(type, v, NULL, 0);
    }
}

static int dump_gguf(const char *path, int with_data)
{
    lowbit_gguf *g;
    lowbit_status s = lowbit_gguf_open(path, &g);
    if (s) return fail(path, s);
    uint32_t version, alignment;
    uint64_t data_offset;
    size_t kv_count, tensor_count;
    lowbit_gguf_version(g, &version);
    lowbit_gguf_alignment(g, &alignment);
    lowbit_gguf_data_offset(g, &data_offset);
    lowbit_gguf_kv_count(g, &kv_count);
    lowbit_gguf_tensor_count(g, &tensor_count);
    printf("{\"version\":%u,\"alignment\":%u,\"data_offset\":%" PRIu64 ",\"kvs\":[", version, alignment, data_offset);
    for (size_t i = 0; i < kv_count; ++i) {
        const char *key;
        const lowbit_gguf_value *v;
        lowbit_gguf_type type;
        lowbit_gguf_kv_get(g, i, &key, &v);
        lowbit_gguf_value_type(v, &type);
        printf("%s{\"key\":", i ? "," : "");
        print_hex(key, strlen(key));
        printf(",\"type\":%d,\"value\":", (int)type);
        print_value(v);
        putchar('}');
    }
    printf("],\"tensors\":[");
    for (size_t i = 0; i < tensor_count; ++i) {
        lowbit_gguf_tensor_info t = {.struct_size = sizeof t};
        if ((s = lowbit_gguf_tensor_get(g, i, &t))) return fail("tensor", s);
        printf("%s{\"name\":", i ? "," : "");
        print_hex(t.name, strlen(t.name));
        printf(",\"type\":%d,\"n_dims\":%u,\"ne\":[", t.type, t.n_dims);
        for (uint32_t d = 0; d < t.n_dims; ++d)
            printf("%s%" PRIu64, d ? "," : "", t.ne[d]);
        printf("],\"offset\":%" PRIu64 ",\"size\":%" PRIu64 ",\"head\":", t.offset, t.size);
        size_t edge = t.size < 32 ? (size_t)t.size : 32;
        print_hex(t.data, edge);
        printf(",\"tail\":");
        print_hex(edge ? (const uint8_t *)t.data + t.size - edge : NULL, edge);
        if (with_data) {
            printf(",\"data\":");
            print_hex(t.data, (size_t)t.size);
        }
        putchar('}');
    }
    printf("]}\n");
    lowbit_gguf_close(g);
    return 0;
}

static int dump_safetensors(const char *path)
{
    lowbit_safetensors *f;
    lowbit_status s = lowbit_safetensors_open(path, &f);
    if (s) return fail(path, s);
    size_t count, metadata;
    lowbit_safetensors_tensor_count(f, &count);
    lowbit_safetensors_metadata_count(f, &metadata);
    printf("{\"metadata\":[");
    for (size_t i = 0; i < metadata; ++i) {
        const char *key, *value;
        lowbit_safetensors_metadata_get(f, i, &key, &value);
        printf("%s[", i ? "," : "");
        print_hex(key, strlen(key));
        putchar(',');
        print_hex(value, strlen(value));
        putchar(']');
    }
    printf("],\"tensors\":[");
    for (size_t i = 0; i < count; ++i) {
        lowbit_safetensors_tensor_info t = {.struct_size = sizeof t};
        if ((s = lowbit_safetensors_tensor_get(f, i, &t))) return fail("tensor", s);
        printf("%s{\"name\":", i ? "," : "");
        print_hex(t.name, strlen(t.name));
        printf(",\"dtype\":\"%s\",\"format\":%d,\"shape\":[", t.dtype_name, t.format);
        for (uint32_t d = 0; d < t.n_dims; ++d)
            printf("%s%" PRIu64, d ? "," : "", t.shape[d]);
        printf("],\"offset\":%" PRIu64 ",\"size\":%" PRIu64 ",\"head\":", t.offset, t.size);
        size_t edge = t.size < 32 ? (size_t)t.size : 32;
        print_hex(t.data, edge);
        printf(",\"tail\":");
        print_hex(edge ? (const uint8_t *)t.data + t.size - edge : NULL, edge);
        putchar('}');
    }
    printf("]}\n");
    lowbit_safetensors_close(f);
    return 0;
}

#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        lowbit_status status_ = (call);                                                                                \
        if (status_) return fail(#call, status_);                                                                      \
    } while (0)

/* The fixed file gguf_oracle.py expects; keep the two in step. */
static int write_fixed(const char *path)
{
    lowbit_gguf_writer *w;
    CHECK(lowbit_gguf_writer_create(&w));
    CHECK(lowbit_gguf_writer_set_string(w, "general.architecture", "lowbit-test"));
    CHECK(lowbit_gguf_writer_set_uint(w, "general.alignment", LOWBIT_GGUF_UINT32, 64));
    CHECK(lowbit_gguf_writer_set_uint(w, "t.u8", LOWBIT_GGUF_UINT8, 250));
    CHECK(lowbit_gguf_writer_set_int(w, "t.i8", LOWBIT_GGUF_INT8, -120));
    CHECK(lowbit_gguf_writer_set_uint(w, "t.u16", LOWBIT_GGUF_UINT16, 65535));
    CHECK(lowbit_gguf_writer_set_int(w, "t.i16", LOWBIT_GGUF_INT16, -32768));
    CHECK(lowbit_gguf_writer_set_uint(w, "t.u32", LOWBIT_GGUF_UINT32, 4294967295u));
    CHECK(lowbit_gguf_writer_set_int(w, "t.i32", LOWBIT_GGUF_INT32, -2147483647));
    CHECK(lowbit_gguf_writer_set_uint(w, "t.u64", LOWBIT_GGUF_UINT64, 18446744073709551615ull));
    CHECK(lowbit_gguf_writer_set_int(w, "t.i64", LOWBIT_GGUF_INT64, -9223372036854775807ll));
    CHECK(lowbit_gguf_writer_set_float(w, "t.f32", LOWBIT_GGUF_FLOAT32, 0.25));
    CHECK(lowbit_gguf_writer_set_float(w, "t.f64", LOWBIT_GGUF_FLOAT64, 3.141592653589793));
    CHECK(lowbit_gguf_writer_set_bool(w, "t.bool", 0));
    CHECK(lowbit_gguf_writer_set_string(w, "t.string", "h\xc3\xa9llo"));
    const int16_t i16[] = {-1, 2, -3};
    const lowbit_gguf_array a_i16 = {LOWBIT_GGUF_INT16, 3, i16};
    CHECK(lowbit_gguf_writer_set_array(w, "t.arr_i16", &a_i16));
    const double f64[] = {1.5, -2.5};
    const lowbit_gguf_array a_f64 = {LOWBIT_GGUF_FLOAT64, 2, f64};
    CHECK(lowbit_gguf_writer_set_array(w, "t.arr_f64", &a_f64));
    const char *const words[] = {"a", "bc", ""};
    const lowbit_gguf_array a_str = {LOWBIT_GGUF_STRING, 3, words};
    CHECK(lowbit_gguf_writer_set_array(w, "t.arr_str", &a_str));
    const uint32_t u32a[] = {1, 2}, u32b[] = {3};
    const lowbit_gguf_array inner[] = {{LOWBIT_GGUF_UINT32, 2, u32a}, {LOWBIT_GGUF_UINT32, 1, u32b}};
    const lowbit_gguf_array a_nested = {LOWBIT_GGUF_ARRAY, 2, inner};
    CHECK(lowbit_gguf_writer_set_array(w, "t.arr_nested", &a_nested));

    float f32[4 * 8];
    for (int i = 0; i < 32; ++i)
        f32[i] = (float)i * 0.5f - 4.0f;
    const uint64_t ne_f32[] = {8, 4};
    CHECK(lowbit_gguf_writer_add_tensor(w, "w.f32", LOWBIT_FORMAT_F32, 2, ne_f32, f32, sizeof f32));
    uint16_t f16[16];
    for (int i = 0; i < 16; ++i)
        f16[i] = lowbit_fp32_to_fp16((float)i - 8.0f);
    const uint64_t ne_f16[] = {16};
    CHECK(lowbit_gguf_writer_add_tensor(w, "w.f16", LOWBIT_FORMAT_F16, 1, ne_f16, f16, sizeof f16));
    float values[2 * 64];
    for (int i = 0; i < 128; ++i)
        values[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    uint8_t q8[2 * 2 * 34];
    CHECK((lowbit_status)lowbit_quantize(LOWBIT_FORMAT_Q8_0, values, 2, 64, q8, sizeof q8, NULL, 1));
    const uint64_t ne_q8[] = {64, 2};
    CHECK(lowbit_gguf_writer_add_tensor(w, "w.q8_0", LOWBIT_FORMAT_Q8_0, 2, ne_q8, q8, sizeof q8));
    CHECK(lowbit_gguf_writer_write(w, path));
    lowbit_gguf_writer_destroy(w);
    return 0;
}

static int copy_gguf(const char *source_path, const char *destination)
{
    lowbit_gguf *source;
    lowbit_gguf_writer *w;
    CHECK(lowbit_gguf_open(source_path, &source));
    CHECK(lowbit_gguf_writer_create_from(source, &w));
    CHECK(lowbit_gguf_writer_write(w, destination));
    lowbit_gguf_writer_destroy(w);
    lowbit_gguf_close(source);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "dump") == 0) return dump_gguf(argv[2], argc > 3 && !strcmp(argv[3], "--data"));
    if (argc == 3 && strcmp(argv[1], "dump-safetensors") == 0) return dump_safetensors(argv[2]);
    if (argc == 3 && strcmp(argv[1], "write") == 0) return write_fixed(argv[2]);
    if (argc == 4 && strcmp(argv[1], "copy") == 0) return copy_gguf(argv[2], argv[3]);
    fprintf(stderr, "usage: gguf_tool dump FILE [--data] | dump-safetensors FILE | write FILE | copy SRC DST\n");
    return 2;
}
