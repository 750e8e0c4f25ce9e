/* test_io_safetensors.c — the safetensors reader: a valid file with every dtype and JSON escape, a
 * table of malformed headers and data ranges, truncation at every byte, and API misuse. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/error.h"
#include "lowbit/lowbit_io.h"

/* header length (8 bytes LE) + JSON + `data_size` bytes of data, in a fresh heap block */
static uint8_t *make_file(const char *json, size_t data_size, size_t *size)
{
    size_t header = strlen(json);
    *size = 8 + header + data_size;
    uint8_t *p = malloc(*size);
    assert_non_null(p);
    for (int i = 0; i < 8; ++i)
        p[i] = (uint8_t)((uint64_t)header >> (8 * i));
    memcpy(p + 8, json, header);
    for (size_t i = 0; i < data_size; ++i)
        p[8 + header + i] = (uint8_t)(i * 13 + 1);
    return p;
}

static lowbit_status open_bytes(const uint8_t *p, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, p, size);
    lowbit_safetensors *f = NULL;
    lowbit_status s = lowbit_safetensors_open_memory(copy, size, &f);
    if (s == LOWBIT_OK) {
        size_t n;
        lowbit_safetensors_tensor_count(f, &n);
        for (size_t i = 0; i < n; ++i) {
            lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
            assert_int_equal(lowbit_safetensors_tensor_get(f, i, &info), LOWBIT_OK);
            volatile uint8_t sink = 0;
            for (uint64_t k = 0; k < info.size; ++k)
                sink ^= ((const uint8_t *)info.data)[k];
            (void)sink;
        }
        lowbit_safetensors_close(f);
    } else {
        assert_null(f);
        assert_true(strlen(lowbit_last_error()) > 0);
    }
    free(copy);
    return s;
}

static const char valid_json[] =
    "{\"__metadata__\":{\"format\":\"pt\",\"caf\\u00e9\":\"\\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"},"
    " \"w.f32\": {\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\n"
    "\"w.bf16\":{\"shape\":[4],\"dtype\":\"BF16\",\"data_offsets\":[24,32],\"extra\":[1,{\"a\":null},true,-1.5e3]},"
    "\"b.f16\":{\"dtype\":\"F16\",\"shape\":[1,1,2],\"data_offsets\":[32,36]},"
    "\"ids\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[36,40]},"
    "\"mask\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[40,43]},"
    "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[43,43]},"
    "\"quo\\\"te\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[43,44]}}   ";

static void test_valid(void **state)
{
    (void)state;
    size_t size;
    uint8_t *p = make_file(valid_json, 44, &size);
    char path[512];
    const char *base = getenv("LOWBIT_TEST_BINARY_DIR");
    snprintf(path, sizeof path, "%s/test_io_safetensors.%d.safetensors", base ? base : "/tmp", (int)getpid());
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(p, 1, size, out), size);
    fclose(out);
    lowbit_safetensors *f;
    assert_int_equal(lowbit_safetensors_open(path, &f), LOWBIT_OK);
    unlink(path);

    size_t n;
    assert_int_equal(lowbit_safetensors_tensor_count(f, &n), LOWBIT_OK);
    assert_int_equal(n, 7);
    static const struct {
        const char *name;
        lowbit_safetensors_dtype dtype;
        int format;
        uint32_t n_dims;
        uint64_t shape0, count, size, begin;
    } expected[] = {
        {"w.f32", LOWBIT_SAFETENSORS_F32, LOWBIT_FORMAT_F32, 2, 2, 6, 24, 0},
        {"w.bf16", LOWBIT_SAFETENSORS_BF16, LOWBIT_FORMAT_BF16, 1, 4, 4, 8, 24},
        {"b.f16", LOWBIT_SAFETENSORS_F16, LOWBIT_FORMAT_F16, 3, 1, 2, 4, 32},
        {"ids", LOWBIT_SAFETENSORS_I32, -1, 0, 1, 1, 4, 36},
        {"mask", LOWBIT_SAFETENSORS_U8, -1, 1, 3, 3, 3, 40},
        {"empty", LOWBIT_SAFETENSORS_F32, LOWBIT_FORMAT_F32, 2, 0, 0, 0, 43},
        {"quo\"te", LOWBIT_SAFETENSORS_U8, -1, 1, 1, 1, 1, 43},
    };
    size_t data_start = 8 + strlen(valid_json);
    for (size_t i = 0; i < n; ++i) {
        lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_safetensors_tensor_get(f, i, &info), LOWBIT_OK);
        assert_string_equal(info.name, expected[i].name);
        assert_int_equal(info.dtype, expected[i].dtype);
        assert_int_equal(info.format, expected[i].format);
        assert_int_equal(info.n_dims, expected[i].n_dims);
        assert_int_equal(info.shape[0], expected[i].shape0);
        assert_int_equal(info.element_count, expected[i].count);
        assert_int_equal(info.size, expected[i].size);
        assert_int_equal(info.offset, data_start + expected[i].begin);
        if (info.size) assert_memory_equal(info.data, p + data_start + expected[i].begin, info.size);
        size_t index;
        assert_int_equal(lowbit_safetensors_tensor_find(f, expected[i].name, &index), LOWBIT_OK);
        assert_int_equal(index, i);
    }
    lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
    lowbit_safetensors_tensor_get(f, 2, &info);
    assert_string_equal(info.dtype_name, "F16");
    assert_int_equal(info.shape[2], 2);
    assert_int_equal(info.shape[3], 1);

    assert_int_equal(lowbit_safetensors_metadata_count(f, &n), LOWBIT_OK);
    assert_int_equal(n, 2);
    const char *value;
    assert_int_equal(lowbit_safetensors_metadata_find(f, "format", &value), LOWBIT_OK);
    assert_string_equal(value, "pt");
    assert_int_equal(lowbit_safetensors_metadata_find(f, "caf\xc3\xa9", &value), LOWBIT_OK);
    assert_non_null(value);
    assert_string_equal(value, "\xf0\x9f\x98\x80 \"q\" \\ / \b\f\n\r\t");
    assert_int_equal(lowbit_safetensors_metadata_find(f, "missing", &value), LOWBIT_OK);
    assert_null(value);
    const char *key;
    assert_int_equal(lowbit_safetensors_metadata_get(f, 0, &key, &value), LOWBIT_OK);
    assert_string_equal(key, "format");
    lowbit_safetensors_close(f);

    /* every truncation fails (the data has no slack), every one without a crash */
    for (size_t cut = 0; cut < size; ++cut) {
        lowbit_status s = open_bytes(p, cut);
        assert_int_equal(s, cut == 0 ? LOWBIT_ERROR_INVALID_ARGUMENT : LOWBIT_ERROR_CORRUPT);
    }
    /* byte flips anywhere in the header never crash */
    for (size_t i = 0; i < data_start; ++i) {
        static const uint8_t values[] = {0, '"', '\\', '{', ']', ',', '9', 0xff};
        for (size_t v = 0; v < sizeof values; ++v) {
            uint8_t saved = p[i];
            p[i] = values[v];
            open_bytes(p, size);
            p[i] = saved;
        }
    }
    free(p);
}

typedef struct bad_case {
    const char *json;
    size_t data_size;
    lowbit_status expected;
    const char *message;
} bad_case;

static void test_bad_files(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"", 0, LOWBIT_ERROR_CORRUPT, "not a JSON object"},
        {"[]", 0, LOWBIT_ERROR_CORRUPT, "not a JSON object"},
        {"{", 0, LOWBIT_ERROR_CORRUPT, "expected a string"},
        {"{\"a\"", 0, LOWBIT_ERROR_CORRUPT, "':'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, LOWBIT_ERROR_CORRUPT, "expected ','"},
        {"{} x", 0, LOWBIT_ERROR_CORRUPT, "trailing"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, LOWBIT_ERROR_CORRUPT,
         "expected a string"},
        {"{\"a\\q\":1}", 0, LOWBIT_ERROR_CORRUPT, "bad escape"},
        {"{\"a\\u12G4\":1}", 0, LOWBIT_ERROR_CORRUPT, "\\u"},
        {"{\"a\\ud800\":1}", 0, LOWBIT_ERROR_CORRUPT, "surrogate"},
        {"{\"a\\udc00\":1}", 0, LOWBIT_ERROR_CORRUPT, "surrogate"},
        {"{\"a\nb\":1}", 0, LOWBIT_ERROR_CORRUPT, "control character"},
        {"{\"abc", 0, LOWBIT_ERROR_CORRUPT, "unterminated"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT, "leading zero"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT, "fraction"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT, "non-negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT,
         "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, LOWBIT_ERROR_CORRUPT, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, LOWBIT_ERROR_CORRUPT, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT, "needs 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, LOWBIT_ERROR_CORRUPT, "two integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, LOWBIT_ERROR_CORRUPT, "two integers"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, LOWBIT_ERROR_UNSUPPORTED, "'F64'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         LOWBIT_ERROR_UNSUPPORTED, "dimensions"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT, "lacks"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT,
         "duplicate dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
         "\"data_offsets\":[4,8]}}",
         8, LOWBIT_ERROR_CORRUPT, "twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
         "\"data_offsets\":[4,8]}}",
         8, LOWBIT_ERROR_CORRUPT, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
         LOWBIT_ERROR_CORRUPT, "overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4, LOWBIT_ERROR_CORRUPT,
         "overflows"},
        {"{\"__metadata__\":{\"k\":1}}", 0, LOWBIT_ERROR_CORRUPT, "not a string"},
        {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, LOWBIT_ERROR_CORRUPT, "twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, LOWBIT_ERROR_CORRUPT, "duplicate __metadata__"},
        {"{\"a\":5}", 0, LOWBIT_ERROR_CORRUPT, "not an object"},
        {"{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, LOWBIT_ERROR_CORRUPT, "NUL"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[["
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
         4, LOWBIT_ERROR_CORRUPT, "too deep"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":tru}}", 4, LOWBIT_ERROR_CORRUPT,
         "bad number"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1.}}", 4, LOWBIT_ERROR_CORRUPT,
         "fraction"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1e}}", 4, LOWBIT_ERROR_CORRUPT,
         "exponent"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        size_t size;
        uint8_t *p = make_file(cases[i].json, cases[i].data_size, &size);
        lowbit_status s = open_bytes(p, size);
        if (s != cases[i].expected || !strstr(lowbit_last_error(), cases[i].message))
            fail_msg("case %zu (%s): status %d (expected %d), message '%s' (expected '%s')", i, cases[i].json, (int)s,
                     (int)cases[i].expected, lowbit_last_error(), cases[i].message);
        free(p);
    }
}

static void test_header_length(void **state)
{
    (void)state;
    uint8_t p[16] = {0};
    /* 2^63, then just over the limit, then one byte more than the file */
    const uint64_t lengths[] = {1ull << 63, (uint64_t)LOWBIT_SAFETENSORS_MAX_HEADER + 1, 9};
    for (int i = 0; i < 3; ++i) {
        for (int k = 0; k < 8; ++k)
            p[k] = (uint8_t)(lengths[i] >> (8 * k));
        memcpy(p + 8, "{}      ", 8);
        assert_int_equal(open_bytes(p, sizeof p), LOWBIT_ERROR_CORRUPT);
        assert_non_null(strstr(lowbit_last_error(), "header length"));
    }
    assert_int_equal(open_bytes(p, 7), LOWBIT_ERROR_CORRUPT); /* shorter than the length field */
    /* the smallest valid file: an empty object */
    size_t size;
    uint8_t *empty = make_file("{}", 0, &size);
    assert_int_equal(open_bytes(empty, size), LOWBIT_OK);
    free(empty);
}

#define EXPECT_MISUSE(call)                                                                                            \
    do {                                                                                                               \
        lowbit_error_clear();                                                                                          \
        assert_int_equal((call), LOWBIT_ERROR_INVALID_ARGUMENT);                                                       \
        assert_true(strlen(lowbit_last_error()) > 0);                                                                  \
    } while (0)

static void test_misuse(void **state)
{
    (void)state;
    lowbit_safetensors *f = NULL, *none = NULL;
    size_t n;
    const char *s;
    lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
    EXPECT_MISUSE(lowbit_safetensors_open(NULL, &f));
    EXPECT_MISUSE(lowbit_safetensors_open("x", NULL));
    EXPECT_MISUSE(lowbit_safetensors_open_memory(NULL, 4, &f));
    EXPECT_MISUSE(lowbit_safetensors_open_memory("x", 0, &f));
    assert_int_equal(lowbit_safetensors_open("/nonexistent/lowbit.safetensors", &f), LOWBIT_ERROR_IO);
    assert_null(f);
    lowbit_safetensors_close(NULL);
    EXPECT_MISUSE(lowbit_safetensors_tensor_count(none, &n));
    EXPECT_MISUSE(lowbit_safetensors_tensor_get(none, 0, &info));
    EXPECT_MISUSE(lowbit_safetensors_tensor_find(none, "a", &n));
    EXPECT_MISUSE(lowbit_safetensors_metadata_count(none, &n));
    EXPECT_MISUSE(lowbit_safetensors_metadata_get(none, 0, &s, &s));
    EXPECT_MISUSE(lowbit_safetensors_metadata_find(none, "a", &s));
    size_t size;
    uint8_t *p = make_file(valid_json, 44, &size);
    assert_int_equal(lowbit_safetensors_open_memory(p, size, &f), LOWBIT_OK);
    EXPECT_MISUSE(lowbit_safetensors_tensor_count(f, NULL));
    EXPECT_MISUSE(lowbit_safetensors_tensor_get(f, 7, &info));
    EXPECT_MISUSE(lowbit_safetensors_tensor_get(f, 0, NULL));
    info.struct_size = 1;
    EXPECT_MISUSE(lowbit_safetensors_tensor_get(f, 0, &info));
    EXPECT_MISUSE(lowbit_safetensors_tensor_find(f, NULL, &n));
    EXPECT_MISUSE(lowbit_safetensors_tensor_find(f, "a", NULL));
    EXPECT_MISUSE(lowbit_safetensors_metadata_get(f, 2, &s, &s));
    EXPECT_MISUSE(lowbit_safetensors_metadata_get(f, 0, NULL, NULL));
    EXPECT_MISUSE(lowbit_safetensors_metadata_find(f, NULL, &s));
    EXPECT_MISUSE(lowbit_safetensors_metadata_find(f, "a", NULL));
    lowbit_safetensors_close(f);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
