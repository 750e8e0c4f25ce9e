/* json.h — a small strict JSON reader (RFC 8259, into a read-only tree) and the writer helpers the tuning
 * database serializes with. Written for untrusted text: every length is checked, limits are fixed below, and
 * every error names its byte offset, line and column and what was expected there. */
#ifndef LOWBIT_HOST_TUNING_JSON_H
#define LOWBIT_HOST_TUNING_JSON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define JSON_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define JSON_PRINTF(fmt_index, first_arg)
#endif

#define JSON_MAX_DEPTH 32                 /* arrays and objects nested inside each other */
#define JSON_MAX_TEXT ((size_t)16 << 20)  /* bytes of one text */
#define JSON_MAX_VALUES ((size_t)1 << 21) /* values of one text (bounds the tree's memory) */

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;
typedef struct json_member json_member;

struct json_value {
    json_type type;
    size_t offset; /* byte offset of its first character in the text */
    union {
        double number; /* JSON_NUMBER: always finite */
        struct {
            const char *chars; /* unescaped UTF-8, NUL-terminated; may also hold NULs (\u0000) inside */
            size_t length;     /* bytes, without the terminating NUL */
        } string;
        struct {
            const json_value *items;
            size_t count;
        } array;
        struct {
            const json_member *members; /* in text order; keys are unique */
            size_t count;
        } object;
    } as;
};

struct json_member {
    const char *key; /* unescaped, NUL-terminated */
    size_t key_length;
    size_t offset; /* byte offset of the key's opening quote */
    json_value value;
};

typedef struct json_document json_document;

/* Parses `length` bytes (no NUL needed). NULL on any error, with why = "line L column C (offset N): expected …". */
json_document *json_parse(const char *text, size_t length, char *why, size_t why_size);
const json_value *json_document_root(const json_document *document);
void json_document_free(json_document *document);

/* Writes code point `cp` (at most 0x10FFFF, not a surrogate) as 1-4 bytes of UTF-8 into `out`; returns the count.
 * The safetensors header reader shares it. */
size_t json_utf8_encode(uint32_t cp, char *out);

/* The member `key` of an object (NULL when absent or `object` is not an object). */
const json_value *json_object_get(const json_value *object, const char *key);
/* "null", "false", "true", "a number", "a string", "an array", "an object" */
const char *json_type_name(json_type type);
/* `length` bytes of `string` for a message: at most 40 of them, '"', '\\' and non-printable bytes as \xNN, "..."
 * when cut (out_size >= 16). */
void json_quote(const char *string, size_t length, char *out, size_t out_size);
/* 1-based line and column (in characters) of byte `offset` of `text` (offset past the end: its end). */
void json_locate(const char *text, size_t length, size_t offset, size_t *line, size_t *column);

/* --- writing ------------------------------------------------------------------------------------ */
/* A growable text; after an allocation failure (or a non-finite number) `failed` is set and later appends do
 * nothing, so a writer checks once at the end. */
typedef struct json_buffer {
    char *data; /* NUL-terminated while not failed */
    size_t length, capacity;
    int failed;
} json_buffer;

void json_buffer_free(json_buffer *buffer);
void json_append(json_buffer *buffer, const char *bytes, size_t count);
void json_appendf(json_buffer *buffer, const char *format, ...) JSON_PRINTF(2, 3);
/* `string` quoted, with '"', '\\' and control characters escaped (UTF-8 passes through). */
void json_append_string(json_buffer *buffer, const char *string);
/* The shortest decimal that reads back to exactly `value` (strtod); a non-finite value fails the buffer. */
void json_append_number(json_buffer *buffer, double value);

/* Writes `length` bytes to `path` atomically (a temporary file beside it, synced, then renamed over it; the
 * folders above it are created): readers see the old file or the new one, never a part. 0, or -1 with `why`. */
int json_write_file(const char *path, const char *data, size_t length, char *why, size_t why_size);

#endif
