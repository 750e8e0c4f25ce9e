/* lowbit_io.h — model files: a GGUF reader and writer and a safetensors reader. Files are mapped
 * read-only and validated in full at open, so tensor data pointers stay valid until close.
 * An opened file never changes, so any number of threads may read one handle at once. */
#ifndef LOWBIT_IO_H
#define LOWBIT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit_export.h"
#include "lowbit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOWBIT_NOT_FOUND ((size_t)-1) /* index returned by the *_find functions for a missing name */

/* ================================================================================================
 * GGUF reading
 * ============================================================================================== */

/* GGUF value types (the numbers stored in the file). */
typedef enum lowbit_gguf_type {
    LOWBIT_GGUF_UINT8 = 0,
    LOWBIT_GGUF_INT8 = 1,
    LOWBIT_GGUF_UINT16 = 2,
    LOWBIT_GGUF_INT16 = 3,
    LOWBIT_GGUF_UINT32 = 4,
    LOWBIT_GGUF_INT32 = 5,
    LOWBIT_GGUF_FLOAT32 = 6,
    LOWBIT_GGUF_BOOL = 7,
    LOWBIT_GGUF_STRING = 8,
    LOWBIT_GGUF_ARRAY = 9,
    LOWBIT_GGUF_UINT64 = 10,
    LOWBIT_GGUF_INT64 = 11,
    LOWBIT_GGUF_FLOAT64 = 12
} lowbit_gguf_type;

#define LOWBIT_GGUF_DEFAULT_ALIGNMENT 32u
#define LOWBIT_GGUF_MAX_DIMS 4u

typedef struct lowbit_gguf lowbit_gguf;             /* an opened file */
typedef struct lowbit_gguf_value lowbit_gguf_value; /* a KV value or array element, owned by its file */

/* Opens, maps and validates a GGUF file (version 2 or 3, little-endian). */
LOWBIT_API lowbit_status lowbit_gguf_open(const char *path, lowbit_gguf **out);
/* Same over `size` bytes the caller keeps alive and unchanged until close (no copy is made). */
LOWBIT_API lowbit_status lowbit_gguf_open_memory(const void *data, size_t size, lowbit_gguf **out);
LOWBIT_API void lowbit_gguf_close(lowbit_gguf *gguf);

LOWBIT_API lowbit_status lowbit_gguf_version(const lowbit_gguf *gguf, uint32_t *version);
LOWBIT_API lowbit_status lowbit_gguf_alignment(const lowbit_gguf *gguf, uint32_t *alignment);
/* File offset where the tensor data section starts. */
LOWBIT_API lowbit_status lowbit_gguf_data_offset(const lowbit_gguf *gguf, uint64_t *offset);

/* --- key/value metadata, in file order --- */
LOWBIT_API lowbit_status lowbit_gguf_kv_count(const lowbit_gguf *gguf, size_t *count);
/* key: NUL-terminated, valid until close. Either output may be NULL. */
LOWBIT_API lowbit_status lowbit_gguf_kv_get(const lowbit_gguf *gguf, size_t index, const char **key,
                                            const lowbit_gguf_value **value);
/* *value = NULL (and LOWBIT_OK) when the key is absent. */
LOWBIT_API lowbit_status lowbit_gguf_kv_find(const lowbit_gguf *gguf, const char *key, const lowbit_gguf_value **value);

LOWBIT_API lowbit_status lowbit_gguf_value_type(const lowbit_gguf_value *value, lowbit_gguf_type *type);
/* Integer getters widen any integer type (BOOL too); they fail when the value does not fit. */
LOWBIT_API lowbit_status lowbit_gguf_value_get_uint(const lowbit_gguf_value *value, uint64_t *out);
LOWBIT_API lowbit_status lowbit_gguf_value_get_int(const lowbit_gguf_value *value, int64_t *out);
/* FLOAT32 or FLOAT64. */
LOWBIT_API lowbit_status lowbit_gguf_value_get_float(const lowbit_gguf_value *value, double *out);
LOWBIT_API lowbit_status lowbit_gguf_value_get_bool(const lowbit_gguf_value *value, int *out);
/* NUL-terminated copy valid until close; `length` (may be NULL) counts bytes without the NUL, so a
 * string holding NUL bytes is still read whole. */
LOWBIT_API lowbit_status lowbit_gguf_value_get_string(const lowbit_gguf_value *value, const char **string,
                                                      size_t *length);
/* An ARRAY's element type and count. */
LOWBIT_API lowbit_status lowbit_gguf_value_get_array(const lowbit_gguf_value *value, lowbit_gguf_type *element_type,
                                                     size_t *count);
/* Element `index` of an array of STRING or ARRAY elements, as a value valid until close. */
LOWBIT_API lowbit_status lowbit_gguf_value_get_element(const lowbit_gguf_value *value, size_t index,
                                                       const lowbit_gguf_value **element);
/* Element `index` of an array of numbers or bools, converted like the scalar getters (numeric
 * arrays are not expanded into values, so a huge array costs no memory). */
LOWBIT_API lowbit_status lowbit_gguf_array_get_uint(const lowbit_gguf_value *array, size_t index, uint64_t *out);
LOWBIT_API lowbit_status lowbit_gguf_array_get_int(const lowbit_gguf_value *array, size_t index, int64_t *out);
LOWBIT_API lowbit_status lowbit_gguf_array_get_float(const lowbit_gguf_value *array, size_t index, double *out);
LOWBIT_API lowbit_status lowbit_gguf_array_get_bool(const lowbit_gguf_value *array, size_t index, int *out);
/* Raw little-endian elements of an array of numbers or bools (no copy; may be unaligned). */
LOWBIT_API lowbit_status lowbit_gguf_value_get_array_data(const lowbit_gguf_value *value, const void **data,
                                                          size_t *size);

/* --- tensors, in file order --- */
typedef struct lowbit_gguf_tensor_info {
    size_t struct_size;    /* set by the caller to sizeof(lowbit_gguf_tensor_info) */
    const char *name;      /* valid until close */
    int type;              /* ggml type id; equal to the lowbit_format for every format lowbit names */
    const char *type_name; /* "Q4_K" */
    uint32_t n_dims;
    uint64_t ne[LOWBIT_GGUF_MAX_DIMS]; /* elements per dimension, ne[0] = row length; unused ones are 1 */
    uint64_t element_count;
    uint64_t size;    /* bytes of data */
    uint64_t offset;  /* of the data, from the start of the file */
    const void *data; /* mapped read-only, valid until close */
} lowbit_gguf_tensor_info;
/* For lowbit_weights_upload: format = type, cols = ne[0], rows = element_count / ne[0], bytes = size. */

LOWBIT_API lowbit_status lowbit_gguf_tensor_count(const lowbit_gguf *gguf, size_t *count);
LOWBIT_API lowbit_status lowbit_gguf_tensor_get(const lowbit_gguf *gguf, size_t index, lowbit_gguf_tensor_info *info);
/* *index = LOWBIT_NOT_FOUND (and LOWBIT_OK) when no tensor has that name. */
LOWBIT_API lowbit_status lowbit_gguf_tensor_find(const lowbit_gguf *gguf, const char *name, size_t *index);

/* Block geometry of a ggml type id, including types lowbit cannot compute with (IQ*, I8…). */
LOWBIT_API lowbit_status lowbit_gguf_type_size(int type, uint32_t *block_size, uint32_t *type_size);

/* ================================================================================================
 * GGUF writing
 * ============================================================================================== */

typedef struct lowbit_gguf_writer lowbit_gguf_writer;

/* An array value to write. `elements` points at `count` items of:
 *  numeric types: the matching C type (uint8_t … double; BOOL as uint8_t 0/1), native byte order;
 *  STRING: const char *const * (NUL-terminated strings);
 *  ARRAY: const lowbit_gguf_array * (nested arrays, any depth up to 16). */
typedef struct lowbit_gguf_array {
    lowbit_gguf_type element_type;
    size_t count;
    const void *elements;
} lowbit_gguf_array;

/* Tensor data produced on demand: the producer must pass exactly `size` bytes to `write` (in as many
 * calls as it likes) and return LOWBIT_OK; any other status aborts the whole file. */
typedef lowbit_status (*lowbit_gguf_write_fn)(void *sink, const void *bytes, size_t size);
typedef lowbit_status (*lowbit_gguf_tensor_producer)(void *user_data, const char *name, size_t size,
                                                     lowbit_gguf_write_fn write, void *sink);

/* An empty file (version 3, no KVs, no tensors). */
LOWBIT_API lowbit_status lowbit_gguf_writer_create(lowbit_gguf_writer **out);
/* A copy of `source`: every KV and every tensor (data taken from source's mapping at write time, so
 * `source` must stay open until the writer is destroyed). */
LOWBIT_API lowbit_status lowbit_gguf_writer_create_from(const lowbit_gguf *source, lowbit_gguf_writer **out);
LOWBIT_API void lowbit_gguf_writer_destroy(lowbit_gguf_writer *writer);

/* Setting a key that exists replaces its value in place (order kept); a new key is appended.
 * `general.alignment` (UINT32, power of two) sets the data alignment of the written file. */
LOWBIT_API lowbit_status lowbit_gguf_writer_set_uint(lowbit_gguf_writer *writer, const char *key, lowbit_gguf_type type,
                                                     uint64_t value); /* UINT8/16/32/64, fails when out of range */
LOWBIT_API lowbit_status lowbit_gguf_writer_set_int(lowbit_gguf_writer *writer, const char *key, lowbit_gguf_type type,
                                                    int64_t value); /* INT8/16/32/64 */
LOWBIT_API lowbit_status lowbit_gguf_writer_set_float(lowbit_gguf_writer *writer, const char *key,
                                                      lowbit_gguf_type type, double value); /* FLOAT32/64 */
LOWBIT_API lowbit_status lowbit_gguf_writer_set_bool(lowbit_gguf_writer *writer, const char *key, int value);
LOWBIT_API lowbit_status lowbit_gguf_writer_set_string(lowbit_gguf_writer *writer, const char *key, const char *value);
LOWBIT_API lowbit_status lowbit_gguf_writer_set_array(lowbit_gguf_writer *writer, const char *key,
                                                      const lowbit_gguf_array *array);
/* Deep copy of a value read from any open file. */
LOWBIT_API lowbit_status lowbit_gguf_writer_set_value(lowbit_gguf_writer *writer, const char *key,
                                                      const lowbit_gguf_value *value);
/* Removing a key that is absent is not an error. */
LOWBIT_API lowbit_status lowbit_gguf_writer_remove(lowbit_gguf_writer *writer, const char *key);

/* Appends a tensor. `data` (size bytes, exactly what type and shape need) is borrowed until the
 * writer is destroyed. ne[0] must be a multiple of the type's block size. */
LOWBIT_API lowbit_status lowbit_gguf_writer_add_tensor(lowbit_gguf_writer *writer, const char *name, int type,
                                                       uint32_t n_dims, const uint64_t *ne, const void *data,
                                                       size_t size);
LOWBIT_API lowbit_status lowbit_gguf_writer_add_tensor_stream(lowbit_gguf_writer *writer, const char *name, int type,
                                                              uint32_t n_dims, const uint64_t *ne,
                                                              lowbit_gguf_tensor_producer producer, void *user_data);
/* Gives an existing tensor a new type and data, keeping its name, shape and position. */
LOWBIT_API lowbit_status lowbit_gguf_writer_replace_tensor(lowbit_gguf_writer *writer, const char *name, int type,
                                                           const void *data, size_t size);
LOWBIT_API lowbit_status lowbit_gguf_writer_replace_tensor_stream(lowbit_gguf_writer *writer, const char *name,
                                                                  int type, lowbit_gguf_tensor_producer producer,
                                                                  void *user_data);
LOWBIT_API lowbit_status lowbit_gguf_writer_remove_tensor(lowbit_gguf_writer *writer, const char *name);

/* Writes the file: to a temporary file in the destination folder, renamed over `path` only when all
 * of it is written (a failure leaves nothing behind). Refuses to overwrite the source file. The
 * writer may be written again (tensor producers are called again). */
LOWBIT_API lowbit_status lowbit_gguf_writer_write(lowbit_gguf_writer *writer, const char *path);

/* ================================================================================================
 * safetensors reading
 * ============================================================================================== */

typedef enum lowbit_safetensors_dtype {
    LOWBIT_SAFETENSORS_F32 = 0,
    LOWBIT_SAFETENSORS_F16 = 1,
    LOWBIT_SAFETENSORS_BF16 = 2,
    LOWBIT_SAFETENSORS_I32 = 3,
    LOWBIT_SAFETENSORS_U8 = 4,
    LOWBIT_SAFETENSORS_I64 = 5 /* BERT-style checkpoints keep position_ids buffers as I64 */
} lowbit_safetensors_dtype;

#define LOWBIT_SAFETENSORS_MAX_DIMS 8u
#define LOWBIT_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

typedef struct lowbit_safetensors lowbit_safetensors;

typedef struct lowbit_safetensors_tensor_info {
    size_t struct_size; /* set by the caller to sizeof(lowbit_safetensors_tensor_info) */
    const char *name;   /* valid until close */
    lowbit_safetensors_dtype dtype;
    const char *dtype_name;                      /* "BF16" */
    int format;                                  /* lowbit_format for F32/F16/BF16, -1 for the integer dtypes */
    uint32_t n_dims;                             /* 0 for a scalar */
    uint64_t shape[LOWBIT_SAFETENSORS_MAX_DIMS]; /* outermost first, as stored; unused ones are 1 */
    uint64_t element_count;
    uint64_t size;    /* bytes */
    uint64_t offset;  /* of the data, from the start of the file */
    const void *data; /* mapped read-only (may be unaligned), valid until close */
} lowbit_safetensors_tensor_info;

LOWBIT_API lowbit_status lowbit_safetensors_open(const char *path, lowbit_safetensors **out);
LOWBIT_API lowbit_status lowbit_safetensors_open_memory(const void *data, size_t size, lowbit_safetensors **out);
LOWBIT_API void lowbit_safetensors_close(lowbit_safetensors *file);

/* Tensors in header order. */
LOWBIT_API lowbit_status lowbit_safetensors_tensor_count(const lowbit_safetensors *file, size_t *count);
LOWBIT_API lowbit_status lowbit_safetensors_tensor_get(const lowbit_safetensors *file, size_t index,
                                                       lowbit_safetensors_tensor_info *info);
LOWBIT_API lowbit_status lowbit_safetensors_tensor_find(const lowbit_safetensors *file, const char *name,
                                                        size_t *index);

/* `__metadata__` string pairs, in header order. */
LOWBIT_API lowbit_status lowbit_safetensors_metadata_count(const lowbit_safetensors *file, size_t *count);
LOWBIT_API lowbit_status lowbit_safetensors_metadata_get(const lowbit_safetensors *file, size_t index, const char **key,
                                                         const char **value);
/* *value = NULL (and LOWBIT_OK) when absent. */
LOWBIT_API lowbit_status lowbit_safetensors_metadata_find(const lowbit_safetensors *file, const char *key,
                                                          const char **value);

#ifdef __cplusplus
}
#endif
#endif
