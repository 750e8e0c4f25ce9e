/* fuzz_gguf.c — libFuzzer harness: any byte string given to the GGUF reader must open or fail cleanly,
 * and everything an opened file reports must be readable within its bounds. */
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_io.h"

static volatile uint64_t sink;

static void touch_value(const lowbit_gguf_value *v)
{
    lowbit_gguf_type type, element;
    size_t count, length;
    const char *s;
    uint64_t u;
    double f;
    lowbit_gguf_value_type(v, &type);
    if (type == LOWBIT_GGUF_STRING && !lowbit_gguf_value_get_string(v, &s, &length))
        for (size_t i = 0; i <= length; ++i)
            sink += (unsigned char)s[i];
    if (type != LOWBIT_GGUF_ARRAY) {
        if (!lowbit_gguf_value_get_uint(v, &u)) sink += u;
        if (!lowbit_gguf_value_get_float(v, &f)) sink += (uint64_t)(f == f);
        return;
    }
    if (lowbit_gguf_value_get_array(v, &element, &count)) abort();
    for (size_t i = 0; i < count; ++i) {
        const lowbit_gguf_value *e;
        if (element == LOWBIT_GGUF_STRING || element == LOWBIT_GGUF_ARRAY) {
            if (lowbit_gguf_value_get_element(v, i, &e)) abort();
            touch_value(e);
        } else if (!lowbit_gguf_array_get_uint(v, i, &u)) {
            sink += u;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lowbit_gguf *g;
    if (lowbit_gguf_open_memory(data, size, &g) != LOWBIT_OK) return 0;
    size_t kvs, tensors;
    lowbit_gguf_kv_count(g, &kvs);
    for (size_t i = 0; i < kvs; ++i) {
        const char *key;
        const lowbit_gguf_value *v, *found;
        if (lowbit_gguf_kv_get(g, i, &key, &v)) abort();
        if (lowbit_gguf_kv_find(g, key, &found) || found != v) abort();
        touch_value(v);
    }
    lowbit_gguf_tensor_count(g, &tensors);
    for (size_t i = 0; i < tensors; ++i) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        size_t index;
        if (lowbit_gguf_tensor_get(g, i, &info)) abort();
        if (lowbit_gguf_tensor_find(g, info.name, &index) || index != i) abort();
        if (info.size) {
            const uint8_t *p = info.data;
            if (p < data || p + info.size > data + size) abort();
            sink += p[0] + p[info.size - 1];
        }
    }
    lowbit_gguf_close(g);
    return 0;
}
