/* fuzz_safetensors.c — libFuzzer harness: any byte string given to the safetensors reader must open or
 * fail cleanly, and every tensor of an opened file must lie inside it. */
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_io.h"

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lowbit_safetensors *f;
    if (lowbit_safetensors_open_memory(data, size, &f) != LOWBIT_OK) return 0;
    size_t tensors, metadata;
    lowbit_safetensors_tensor_count(f, &tensors);
    for (size_t i = 0; i < tensors; ++i) {
        lowbit_safetensors_tensor_info info = {.struct_size = sizeof info};
        size_t index;
        if (lowbit_safetensors_tensor_get(f, i, &info)) abort();
        if (lowbit_safetensors_tensor_find(f, info.name, &index) || index != i) abort();
        if (info.size) {
            const uint8_t *p = info.data;
            if (p < data || p + info.size > data + size) abort();
            sink += p[0] + p[info.size - 1];
        }
    }
    lowbit_safetensors_metadata_count(f, &metadata);
    for (size_t i = 0; i < metadata; ++i) {
        const char *key, *value, *found;
        if (lowbit_safetensors_metadata_get(f, i, &key, &value)) abort();
        if (lowbit_safetensors_metadata_find(f, key, &found) || found != value) abort();
        sink += strlen(key) + strlen(value);
    }
    lowbit_safetensors_close(f);
    return 0;
}
