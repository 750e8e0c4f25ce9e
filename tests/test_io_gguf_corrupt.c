/* test_io_gguf_corrupt.c — hostile GGUF files: every truncation of a valid file and a table of
 * hand-made corruptions must fail with the right status and a message, never crash or over-read. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_io.h"

/* --- a tiny GGUF byte builder ------------------------------------------------------------------- */
typedef struct bytes {
    uint8_t data[4096];
    size_t size;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    assert_true(b->size + n <= sizeof b->data);
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void le(bytes *b, uint64_t v, int n)
{
    for (int i = 0; i < n; ++i) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void str(bytes *b, const char *s)
{
    le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

static void header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    b->size = 0;
    put(b, "GGUF", 4);
    le(b, version, 4);
    le(b, n_tensors, 8);
    le(b, n_kv, 8);
}

static void kv_u32(bytes *b, const char *key, uint32_t v)
{
    str(b, key);
    le(b, LOWBIT_GGUF_UINT32, 4);
    le(b, v, 4);
}

static void tensor(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset)
{
    str(b, name);
    le(b, n_dims, 4);
    for (uint32_t d = 0; d < n_dims; ++d)
        le(b, ne[d], 8);
    le(b, type, 4);
    le(b, offset, 8);
}

static void pad(bytes *b, size_t alignment)
{
    while (b->size % alignment)
        le(b, 0, 1);
}

static void data(bytes *b, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        le(b, i & 0xff, 1);
}

/* Opens exactly `size` bytes from a fresh heap block, so ASan sees any read past the end. */
static lowbit_status open_bytes(const uint8_t *p, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    if (size) memcpy(copy, p, size);
    lowbit_gguf *g = NULL;
    lowbit_status s = lowbit_gguf_open_memory(copy, size, &g);
    if (s == LOWBIT_OK) {
        /* a file that opens must be fully usable */
        size_t n;
        lowbit_gguf_tensor_count(g, &n);
        for (size_t i = 0; i < n; ++i) {
            lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
            assert_int_equal(lowbit_gguf_tensor_get(g, i, &info), LOWBIT_OK);
            volatile uint8_t sink = 0;
            for (uint64_t k = 0; k < info.size; ++k)
                sink ^= ((const uint8_t *)info.data)[k];
            (void)sink;
        }
        lowbit_gguf_close(g);
    } else {
        assert_null(g);
        assert_true(strlen(lowbit_last_error()) > 0);
    }
    free(copy);
    return s;
}

/* A small valid file: two KVs (one a nested string array), two tensors. */
static void valid_file(bytes *b, size_t *data_end)
{
    header(b, 3, 2, 2);
    kv_u32(b, "general.alignment", 32);
    str(b, "nested");
    le(b, LOWBIT_GGUF_ARRAY, 4);
    le(b, LOWBIT_GGUF_ARRAY, 4);
    le(b, 1, 8);
    le(b, LOWBIT_GGUF_STRING, 4);
    le(b, 2, 8);
    str(b, "ab");
    str(b, "c");
    const uint64_t ne_a[] = {4, 2}, ne_b[] = {32};
    tensor(b, "a", 2, ne_a, LOWBIT_FORMAT_F32, 0);
    tensor(b, "b", 1, ne_b, LOWBIT_FORMAT_Q8_0, 32);
    pad(b, 32);
    data(b, 32);
    data(b, 34);
    *data_end = b->size;
    pad(b, 32);
}

static void test_truncation(void **state)
{
    (void)state;
    bytes b;
    size_t data_end;
    valid_file(&b, &data_end);
    assert_int_equal(open_bytes(b.data, b.size), LOWBIT_OK);
    /* every cut that loses part of the header or of a tensor fails; cuts in the tail padding do not */
    for (size_t size = 0; size < b.size; ++size) {
        lowbit_status s = open_bytes(b.data, size);
        if (size == 0)
            assert_int_equal(s, LOWBIT_ERROR_INVALID_ARGUMENT);
        else if (size < data_end)
            assert_int_equal(s, LOWBIT_ERROR_CORRUPT);
        else
            assert_int_equal(s, LOWBIT_OK);
    }
}

/* Flipping each byte of the valid file must never crash (results vary). */
static void test_byte_flips(void **state)
{
    (void)state;
    bytes b;
    size_t data_end;
    valid_file(&b, &data_end);
    for (size_t i = 0; i < data_end; ++i) {
        static const uint8_t values[] = {0x00, 0xff, 0x80, 0x7f, 0x01, 0x20};
        for (size_t v = 0; v < sizeof values; ++v) {
            bytes c = b;
            c.data[i] = values[v];
            open_bytes(c.data, c.size);
        }
    }
}

typedef struct corrupt_case {
    const char *name;
    lowbit_status expected;
    const char *message; /* a fragment the error must contain */
} corrupt_case;

/* Builds case `which` into b; returns 0 when there are no more cases. */
static int build_case(int which, bytes *b, corrupt_case *c)
{
    const uint64_t ne1[] = {8}, ne_q8[] = {16}, ne5[] = {1, 1, 1, 1, 1}, ne_big[] = {1ull << 32, 1ull << 32},
                   ne_neg[] = {(uint64_t)-8};
    switch (which) {
    case 0:
        *c = (corrupt_case){"bad magic", LOWBIT_ERROR_CORRUPT, "magic"};
        header(b, 3, 0, 0);
        b->data[0] = 'X';
        return 1;
    case 1:
        *c = (corrupt_case){"huge n_kv", LOWBIT_ERROR_CORRUPT, "KV count"};
        header(b, 3, 0, 1ull << 62);
        return 1;
    case 2:
        *c = (corrupt_case){"huge n_tensors", LOWBIT_ERROR_CORRUPT, "tensor count"};
        header(b, 3, 1ull << 62, 0);
        return 1;
    case 3:
        *c = (corrupt_case){"key length past EOF", LOWBIT_ERROR_CORRUPT, "past the end"};
        header(b, 3, 0, 1);
        le(b, 1000000, 8);
        put(b, "general.alignment", 17);
        return 1;
    case 4:
        *c = (corrupt_case){"string value length past EOF", LOWBIT_ERROR_CORRUPT, "past the end"};
        header(b, 3, 0, 1);
        str(b, "k");
        le(b, LOWBIT_GGUF_STRING, 4);
        le(b, UINT64_MAX, 8);
        return 1;
    case 5:
        *c = (corrupt_case){"n_dims 5", LOWBIT_ERROR_CORRUPT, "5 dimensions"};
        header(b, 3, 1, 0);
        tensor(b, "t", 5, ne5, 0, 0);
        return 1;
    case 6:
        *c = (corrupt_case){"ne product overflow", LOWBIT_ERROR_CORRUPT, "overflows"};
        header(b, 3, 1, 0);
        tensor(b, "t", 2, ne_big, 0, 0);
        return 1;
    case 7:
        *c = (corrupt_case){"misaligned offset", LOWBIT_ERROR_CORRUPT, "alignment"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne1, 0, 4);
        pad(b, 32);
        data(b, 64);
        return 1;
    case 8:
        *c = (corrupt_case){"tensor past EOF", LOWBIT_ERROR_CORRUPT, "past the end"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne1, 0, 0);
        pad(b, 32);
        data(b, 31);
        return 1;
    case 9:
        *c = (corrupt_case){"overlapping tensors", LOWBIT_ERROR_CORRUPT, "overlap"};
        header(b, 3, 2, 0);
        tensor(b, "t", 1, ne1, 0, 0);
        tensor(b, "u", 1, ne1, 0, 0);
        pad(b, 32);
        data(b, 64);
        return 1;
    case 10:
        *c = (corrupt_case){"unknown type id 99", LOWBIT_ERROR_UNSUPPORTED, "unknown type id 99"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne1, 99, 0);
        return 1;
    case 11:
        *c = (corrupt_case){"big-endian header", LOWBIT_ERROR_UNSUPPORTED, "big-endian GGUF is not supported"};
        b->size = 0;
        put(b, "GGUF\0\0\0\3", 8);
        le(b, 0, 8);
        le(b, 0, 8);
        return 1;
    case 12:
        *c = (corrupt_case){"duplicate tensor names", LOWBIT_ERROR_CORRUPT, "appears twice"};
        header(b, 3, 2, 0);
        tensor(b, "t", 1, ne1, 0, 0);
        tensor(b, "t", 1, ne1, 0, 32);
        pad(b, 32);
        data(b, 64);
        return 1;
    case 13:
        *c = (corrupt_case){"duplicate keys", LOWBIT_ERROR_CORRUPT, "appears twice"};
        header(b, 3, 0, 2);
        kv_u32(b, "k", 1);
        kv_u32(b, "k", 2);
        return 1;
    case 14:
        *c = (corrupt_case){"alignment 0", LOWBIT_ERROR_CORRUPT, "power of two"};
        header(b, 3, 0, 1);
        kv_u32(b, "general.alignment", 0);
        return 1;
    case 15:
        *c = (corrupt_case){"alignment 3", LOWBIT_ERROR_CORRUPT, "power of two"};
        header(b, 3, 0, 1);
        kv_u32(b, "general.alignment", 3);
        return 1;
    case 16:
        *c = (corrupt_case){"alignment not UINT32", LOWBIT_ERROR_CORRUPT, "UINT32"};
        header(b, 3, 0, 1);
        str(b, "general.alignment");
        le(b, LOWBIT_GGUF_UINT64, 4);
        le(b, 32, 8);
        return 1;
    case 17:
        *c = (corrupt_case){"row not a block multiple", LOWBIT_ERROR_CORRUPT, "block size"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne_q8, LOWBIT_FORMAT_Q8_0, 0);
        return 1;
    case 18:
        *c = (corrupt_case){"negative dimension", LOWBIT_ERROR_CORRUPT, "negative"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne_neg, 0, 0);
        return 1;
    case 19:
        *c = (corrupt_case){"version 1", LOWBIT_ERROR_UNSUPPORTED, "version 1"};
        header(b, 1, 0, 0);
        return 1;
    case 20:
        *c = (corrupt_case){"version 4", LOWBIT_ERROR_UNSUPPORTED, "version 4"};
        header(b, 4, 0, 0);
        return 1;
    case 21:
        *c = (corrupt_case){"huge array count", LOWBIT_ERROR_CORRUPT, "claims"};
        header(b, 3, 0, 1);
        str(b, "k");
        le(b, LOWBIT_GGUF_ARRAY, 4);
        le(b, LOWBIT_GGUF_STRING, 4);
        le(b, 1ull << 60, 8);
        return 1;
    case 22:
        *c = (corrupt_case){"arrays nested 17 deep", LOWBIT_ERROR_CORRUPT, "deeper"};
        header(b, 3, 0, 1);
        str(b, "k");
        le(b, LOWBIT_GGUF_ARRAY, 4);
        for (int d = 0; d < 17; ++d) {
            le(b, LOWBIT_GGUF_ARRAY, 4);
            le(b, 1, 8);
        }
        le(b, LOWBIT_GGUF_UINT8, 4);
        le(b, 0, 8);
        return 1;
    case 23:
        *c = (corrupt_case){"unknown value type 13", LOWBIT_ERROR_CORRUPT, "unknown value type 13"};
        header(b, 3, 0, 1);
        str(b, "k");
        le(b, 13, 4);
        le(b, 0, 8);
        return 1;
    case 24:
        *c = (corrupt_case){"NUL inside a key", LOWBIT_ERROR_CORRUPT, "NUL"};
        header(b, 3, 0, 1);
        le(b, 3, 8);
        put(b, "a\0b", 3);
        le(b, LOWBIT_GGUF_UINT8, 4);
        le(b, 0, 1);
        return 1;
    case 25:
        *c = (corrupt_case){"unknown array element type", LOWBIT_ERROR_CORRUPT, "element type"};
        header(b, 3, 0, 1);
        str(b, "k");
        le(b, LOWBIT_GGUF_ARRAY, 4);
        le(b, 77, 4);
        le(b, 0, 8);
        return 1;
    case 26:
        *c = (corrupt_case){"removed type id 4", LOWBIT_ERROR_UNSUPPORTED, "unknown type id 4"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne1, 4, 0);
        return 1;
    case 27:
        *c = (corrupt_case){"tensor offset far past EOF", LOWBIT_ERROR_CORRUPT, "past the end"};
        header(b, 3, 1, 0);
        tensor(b, "t", 1, ne1, 0, UINT64_MAX & ~(uint64_t)31);
        pad(b, 32);
        return 1;
    default: return 0;
    }
}

static void test_corrupt_table(void **state)
{
    (void)state;
    bytes b;
    corrupt_case c;
    int cases = 0;
    for (int which = 0; build_case(which, &b, &c); ++which, ++cases) {
        lowbit_status s = open_bytes(b.data, b.size);
        if (s != c.expected || !strstr(lowbit_last_error(), c.message))
            fail_msg("case '%s': status %d (expected %d), message '%s' (expected to contain '%s')", c.name, (int)s,
                     (int)c.expected, lowbit_last_error(), c.message);
        /* every prefix of a corrupt file fails too, and never crashes */
        for (size_t size = 1; size < b.size; ++size)
            assert_true(open_bytes(b.data, size) != LOWBIT_OK);
    }
    assert_int_equal(cases, 28);
}

/* Big counts must be refused before anything big is allocated: a 32-byte file claiming 2^40
 * tensors is rejected by size alone. */
static void test_counts_bounded_by_file(void **state)
{
    (void)state;
    bytes b;
    header(&b, 3, 1ull << 40, 0);
    data(&b, 8);
    assert_int_equal(open_bytes(b.data, b.size), LOWBIT_ERROR_CORRUPT);
    header(&b, 3, 0, 3); /* three KVs announced, one present */
    kv_u32(&b, "k", 1);
    assert_int_equal(open_bytes(b.data, b.size), LOWBIT_ERROR_CORRUPT);
}

/* A version 2 file (same layout) still reads. */
static void test_version_2(void **state)
{
    (void)state;
    bytes b;
    const uint64_t ne[] = {8};
    header(&b, 2, 1, 1);
    kv_u32(&b, "answer", 42);
    tensor(&b, "t", 1, ne, 0, 0);
    pad(&b, 32);
    data(&b, 32);
    uint8_t *copy = malloc(b.size);
    memcpy(copy, b.data, b.size);
    lowbit_gguf *g;
    assert_int_equal(lowbit_gguf_open_memory(copy, b.size, &g), LOWBIT_OK);
    uint32_t version;
    lowbit_gguf_version(g, &version);
    assert_int_equal(version, 2);
    const lowbit_gguf_value *v;
    uint64_t u;
    lowbit_gguf_kv_find(g, "answer", &v);
    assert_int_equal(lowbit_gguf_value_get_uint(v, &u), LOWBIT_OK);
    assert_int_equal(u, 42);
    lowbit_gguf_close(g);
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation),    cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_corrupt_table), cmocka_unit_test(test_counts_bounded_by_file),
        cmocka_unit_test(test_version_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
