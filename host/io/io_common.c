/* io_common.c — the arena, name index and ggml type table shared by the file readers and writer. */
#include <stdlib.h>
#include <string.h>

#include "../../shaders/common/lowbit_formats.h"
#include "io_internal.h"

enum { ARENA_CHUNK = 1u << 20 };

struct lowbit_arena_chunk {
    lowbit_arena_chunk *next;
    size_t used, capacity;
    _Alignas(8) unsigned char bytes[];
};

void *lowbit_arena_alloc(lowbit_arena *arena, size_t size)
{
    if (size > SIZE_MAX - 8 - sizeof(lowbit_arena_chunk)) return NULL;
    size = (size + 7) & ~(size_t)7;
    lowbit_arena_chunk *chunk = arena->head;
    if (!chunk || chunk->capacity - chunk->used < size) {
        /* Big requests get a chunk of their own, so a chunk wastes at most a small tail. */
        size_t capacity = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
        lowbit_arena_chunk *fresh = calloc(1, sizeof *fresh + capacity);
        if (!fresh) return NULL;
        fresh->capacity = capacity;
        if (chunk && capacity == size) {
            /* keep the partly used head for small allocations */
            fresh->next = chunk->next;
            chunk->next = fresh;
            fresh->used = size;
            return fresh->bytes;
        }
        fresh->next = chunk;
        arena->head = chunk = fresh;
    }
    void *p = chunk->bytes + chunk->used;
    chunk->used += size;
    return p;
}

char *lowbit_arena_strndup(lowbit_arena *arena, const void *bytes, size_t length)
{
    if (length == SIZE_MAX) return NULL;
    char *s = lowbit_arena_alloc(arena, length + 1);
    if (!s) return NULL;
    if (length) memcpy(s, bytes, length);
    s[length] = '\0';
    return s;
}

void lowbit_arena_free(lowbit_arena *arena)
{
    lowbit_arena_chunk *chunk = arena->head;
    while (chunk) {
        lowbit_arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->head = NULL;
}

static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; ++p)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static const char *name_at(const lowbit_name_index *index, size_t i)
{
    return *(const char *const *)((const char *)index->names_base + i * index->stride);
}

int lowbit_name_index_build(lowbit_name_index *index, const void *first_name, size_t stride, size_t count,
                            size_t *duplicate)
{
    memset(index, 0, sizeof *index);
    *duplicate = LOWBIT_NOT_FOUND;
    index->names_base = first_name;
    index->stride = stride;
    size_t capacity = 16;
    while (capacity / 2 < count) {
        if (capacity > SIZE_MAX / 4 / sizeof(size_t)) return -1;
        capacity *= 2;
    }
    index->slots = calloc(capacity, sizeof(size_t));
    if (!index->slots) return -1;
    index->capacity = capacity;
    for (size_t i = 0; i < count; ++i) {
        const char *name = name_at(index, i);
        size_t slot = (size_t)name_hash(name) & (capacity - 1);
        while (index->slots[slot]) {
            if (strcmp(name_at(index, index->slots[slot] - 1), name) == 0) {
                *duplicate = i;
                return 0;
            }
            slot = (slot + 1) & (capacity - 1);
        }
        index->slots[slot] = i + 1;
    }
    return 0;
}

size_t lowbit_name_index_find(const lowbit_name_index *index, const char *name)
{
    if (!index->slots) return LOWBIT_NOT_FOUND;
    size_t slot = (size_t)name_hash(name) & (index->capacity - 1);
    while (index->slots[slot]) {
        size_t i = index->slots[slot] - 1;
        if (strcmp(name_at(index, i), name) == 0) return i;
        slot = (slot + 1) & (index->capacity - 1);
    }
    return LOWBIT_NOT_FOUND;
}

void lowbit_name_index_free(lowbit_name_index *index)
{
    free(index->slots);
    memset(index, 0, sizeof *index);
}

/* Every ggml type a GGUF file may hold (block elements, bytes per block), from lowbit_formats.h; ids 4, 5
 * and 31–33 were removed from ggml and are refused like unknown ones. */
#define GGML_TYPE(F) {LOWBIT_##F##_ID, #F, LOWBIT_##F##_BLOCK, LOWBIT_##F##_BYTES},
static const lowbit_ggml_type ggml_types[] = {LOWBIT_GGUF_TYPES(GGML_TYPE)};

const lowbit_ggml_type *lowbit_ggml_type_get(int id)
{
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; ++i)
        if (ggml_types[i].id == id) return &ggml_types[i];
    return NULL;
}
