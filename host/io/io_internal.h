/* io_internal.h — pieces the GGUF and safetensors code share: the read-only file mapping, a chunked
 * arena whose pointers never move, a name → index hash table, little-endian loads, ggml type sizes. */
#ifndef LOWBIT_HOST_IO_INTERNAL_H
#define LOWBIT_HOST_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "lowbit/lowbit_io.h"

/* --- mapped_file.c --- */
typedef struct lowbit_mapped_file {
    const uint8_t *data;
    size_t size;
    int owns_mapping; /* 1: munmap at close; 0: caller's memory */
    int has_identity; /* dev/ino valid: the writer refuses to overwrite this file */
    dev_t device;
    ino_t inode;
} lowbit_mapped_file;

lowbit_status lowbit_mapped_file_open(const char *path, lowbit_mapped_file *file);
void lowbit_mapped_file_borrow(const void *data, size_t size, lowbit_mapped_file *file);
void lowbit_mapped_file_close(lowbit_mapped_file *file);
/* "a directory", "a FIFO", "a character device", … for messages about a file that is not regular. */
const char *lowbit_file_kind(mode_t mode);

/* --- io_common.c: arena --- */
typedef struct lowbit_arena_chunk lowbit_arena_chunk;
typedef struct lowbit_arena {
    lowbit_arena_chunk *head;
} lowbit_arena;

/* 8-byte aligned, zeroed; NULL when out of memory. Freed all at once by lowbit_arena_free. */
void *lowbit_arena_alloc(lowbit_arena *arena, size_t size);
/* `length` bytes plus a NUL. */
char *lowbit_arena_strndup(lowbit_arena *arena, const void *bytes, size_t length);
void lowbit_arena_free(lowbit_arena *arena);

/* --- io_common.c: name index (open addressing over NUL-terminated names owned elsewhere) --- */
typedef struct lowbit_name_index {
    size_t *slots;                 /* entry index + 1, 0 = empty */
    size_t capacity;               /* power of two */
    const char *const *names_base; /* names looked up as *(const char **)((char *)base + i * stride) */
    size_t stride;
} lowbit_name_index;

/* Builds the table over `count` entries; *duplicate gets the index of the first repeated name or
 * LOWBIT_NOT_FOUND. Returns 0, or -1 when out of memory. */
int lowbit_name_index_build(lowbit_name_index *index, const void *first_name, size_t stride, size_t count,
                            size_t *duplicate);
size_t lowbit_name_index_find(const lowbit_name_index *index, const char *name);
void lowbit_name_index_free(lowbit_name_index *index);

/* --- io_common.c: ggml type geometry --- */
typedef struct lowbit_ggml_type {
    int id;
    const char *name;
    uint32_t block_size;
    uint32_t type_size;
} lowbit_ggml_type;

const lowbit_ggml_type *lowbit_ggml_type_get(int id); /* NULL when unknown */

/* --- little-endian loads from possibly unaligned bytes --- */
static inline uint16_t lowbit_load_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t lowbit_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t lowbit_load_le64(const uint8_t *p)
{
    return (uint64_t)lowbit_load_le32(p) | ((uint64_t)lowbit_load_le32(p + 4) << 32);
}

/* --- gguf_read.c internals the writer needs --- */
struct lowbit_gguf_value {
    lowbit_gguf_type type;
    const uint8_t *raw; /* the encoded value in the file (after the type id, for KVs) */
    size_t raw_size;
    union {
        uint64_t bits; /* numbers and bools, zero-extended little-endian bits */
        struct {
            const char *chars;
            size_t length;
        } string;
        struct {
            lowbit_gguf_type element_type;
            size_t count;
            const uint8_t *data;            /* numeric elements in the file */
            const lowbit_gguf_value *items; /* string / array elements, parsed */
        } array;
    } as;
};

size_t lowbit_gguf_scalar_size(lowbit_gguf_type type); /* 0 for STRING/ARRAY/unknown */
/* Source file identity (for the writer's "do not overwrite the input" check) and tensor data. */
const lowbit_mapped_file *lowbit_gguf_mapping(const lowbit_gguf *gguf);
int lowbit_gguf_is_valid(const lowbit_gguf *gguf);

#endif
