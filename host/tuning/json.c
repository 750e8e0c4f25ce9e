/* json.c — the strict JSON reader and writer helpers of json.h. The tree lives in an arena freed at once;
 * containers collect their children on scratch stacks and are copied out, exactly sized, when they close. */
#include "json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- arena -------------------------------------------------------------------------------------- */
#define ARENA_CHUNK ((size_t)64 << 10)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[]; /* `size` bytes */
} arena_chunk;

struct json_document {
    arena_chunk *chunks;
    json_value root;
};

static void *arena_alloc(json_document *document, size_t size)
{
    size_t align = alignof(max_align_t);
    if (size > SIZE_MAX / 2) return NULL;
    size = (size + align - 1) / align * align;
    if (size == 0) size = align;
    arena_chunk *head = document->chunks;
    if (head && head->size - head->used >= size) {
        void *p = (char *)head->data + head->used;
        head->used += size;
        return p;
    }
    /* Large blocks get a chunk of their own, behind the head, so the head's free space stays in use. */
    size_t chunk_size = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
    arena_chunk *chunk = malloc(sizeof *chunk + chunk_size);
    if (!chunk) return NULL;
    chunk->size = chunk_size;
    chunk->used = size;
    if (head && chunk_size != ARENA_CHUNK) {
        chunk->next = head->next;
        head->next = chunk;
    } else {
        chunk->next = head;
        document->chunks = chunk;
    }
    return chunk->data;
}

void json_document_free(json_document *document)
{
    if (!document) return;
    arena_chunk *chunk = document->chunks;
    while (chunk) {
        arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(document);
}

const json_value *json_document_root(const json_document *document) { return document ? &document->root : NULL; }

/* --- messages ----------------------------------------------------------------------------------- */
void json_locate(const char *text, size_t length, size_t offset, size_t *line, size_t *column)
{
    size_t l = 1, c = 1;
    if (offset > length) offset = length;
    for (size_t i = 0; i < offset; ++i) {
        unsigned char b = (unsigned char)text[i];
        if (b == '\n') {
            l++;
            c = 1;
        } else if ((b & 0xc0) != 0x80) {
            c++; /* continuation bytes belong to the character before them */
        }
    }
    *line = l;
    *column = c;
}

const char *json_type_name(json_type type)
{
    switch (type) {
    case JSON_NULL: return "null";
    case JSON_FALSE: return "false";
    case JSON_TRUE: return "true";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

/* --- parser ------------------------------------------------------------------------------------- */
typedef struct parser {
    const unsigned char *text;
    size_t size, pos;
    json_document *document;
    json_value *values; /* scratch stack of the open arrays' items */
    size_t value_count, value_capacity;
    json_member *members; /* scratch stack of the open objects' members */
    size_t member_count, member_capacity;
    size_t total_values;
    char *why;
    size_t why_size;
} parser;

/* "end of text", "'x'" or "byte 0xNN": what stands at `at` */
static void describe(const parser *p, size_t at, char *out, size_t out_size)
{
    if (at >= p->size) {
        snprintf(out, out_size, "end of text");
        return;
    }
    unsigned char c = p->text[at];
    if (c >= 0x20 && c < 0x7f)
        snprintf(out, out_size, "'%c'", c);
    else
        snprintf(out, out_size, "byte 0x%02X", c);
}

static int fail_at(parser *p, size_t at, const char *format, ...) JSON_PRINTF(3, 4);

static int fail_at(parser *p, size_t at, const char *format, ...)
{
    if (!p->why || p->why_size == 0) return -1;
    size_t line, column;
    json_locate((const char *)p->text, p->size, at, &line, &column);
    int n = snprintf(p->why, p->why_size, "line %zu column %zu (offset %zu): ", line, column, at);
    if (n < 0 || (size_t)n >= p->why_size) return -1;
    va_list args;
    va_start(args, format);
    vsnprintf(p->why + n, p->why_size - (size_t)n, format, args);
    va_end(args);
    return -1;
}

/* "expected <what>, found <whatever stands at pos>" */
static int expected(parser *p, const char *what)
{
    char found[32];
    describe(p, p->pos, found, sizeof found);
    return fail_at(p, p->pos, "expected %s, found %s", what, found);
}

static int out_of_memory(parser *p) { return fail_at(p, p->pos, "out of memory"); }

static void skip_space(parser *p)
{
    while (p->pos < p->size) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at `at` (all before `end`), or -1. */
static long hex4(const parser *p, size_t at, size_t end)
{
    if (end - at < 4) return -1;
    long v = 0;
    for (size_t i = 0; i < 4; ++i) {
        int d = hex_digit(p->text[at + i]);
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

size_t json_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Bytes of the well-formed UTF-8 sequence at `at` (before `end`), or 0 (overlong forms, surrogates, > U+10FFFF,
 * stray continuation bytes and truncated sequences are all ill-formed). */
static size_t utf8_sequence(const unsigned char *s, size_t at, size_t end)
{
    unsigned char c = s[at];
    size_t n;
    unsigned char low = 0x80, high = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) low = 0xa0;
        if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) low = 0x90;
        if (c == 0xf4) high = 0x8f;
    } else {
        return 0;
    }
    if (end - at < n) return 0;
    if (s[at + 1] < low || s[at + 1] > high) return 0;
    for (size_t i = 2; i < n; ++i)
        if ((s[at + i] & 0xc0) != 0x80) return 0;
    return n;
}

/* The string at pos (its opening quote), unescaped into the arena. */
static int parse_string(parser *p, const char **out, size_t *length)
{
    size_t open = p->pos, start = open + 1, end = start;
    while (end < p->size && p->text[end] != '"')
        end += p->text[end] == '\\' ? 2 : 1;
    if (end >= p->size) {
        p->pos = p->size;
        return fail_at(p, p->size, "expected '\"' closing the string that starts at offset %zu, found end of text",
                       open);
    }
    /* Unescaping never lengthens: \uXXXX (6 bytes) gives at most 3, a surrogate pair (12) gives 4. */
    char *s = arena_alloc(p->document, end - start + 1);
    if (!s) return out_of_memory(p);
    size_t n = 0, i = start;
    while (i < end) {
        unsigned char c = p->text[i];
        if (c < 0x20) {
            p->pos = i;
            return fail_at(p, i, "expected an escape (\\n, \\u00%02X, ...) for control character 0x%02X in a string", c,
                           c);
        }
        if (c >= 0x80) {
            size_t bytes = utf8_sequence(p->text, i, end);
            if (!bytes) {
                p->pos = i;
                return fail_at(p, i, "expected UTF-8 in a string, found an invalid byte 0x%02X", c);
            }
            memcpy(s + n, p->text + i, bytes);
            n += bytes;
            i += bytes;
            continue;
        }
        if (c != '\\') {
            s[n++] = (char)c;
            i++;
            continue;
        }
        unsigned char e = p->text[i + 1]; /* i + 1 < end: the scan above stepped over it */
        static const char escapes[] = "\"\\/bfnrt", replacements[] = "\"\\/\b\f\n\r\t";
        const char *simple = e ? strchr(escapes, e) : NULL;
        if (simple) {
            s[n++] = replacements[simple - escapes];
            i += 2;
            continue;
        }
        if (e != 'u') {
            p->pos = i;
            char found[32];
            describe(p, i + 1, found, sizeof found);
            return fail_at(p, i, "expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX), found \\ and %s",
                           found);
        }
        long cp = hex4(p, i + 2, end);
        if (cp < 0) {
            p->pos = i;
            return fail_at(p, i, "expected four hex digits after \\u");
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            p->pos = i;
            return fail_at(p, i, "expected a high surrogate before the low surrogate \\u%04lX (lone surrogate)", cp);
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            long low = end - (i + 6) >= 6 && p->text[i + 6] == '\\' && p->text[i + 7] == 'u' ? hex4(p, i + 8, end) : -1;
            if (low < 0xdc00 || low > 0xdfff) {
                p->pos = i;
                return fail_at(p, i, "expected a low surrogate \\uDC00-\\uDFFF after \\u%04lX (lone surrogate)", cp);
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            i += 6;
        }
        n += json_utf8_encode((uint32_t)cp, s + n);
        i += 6;
    }
    s[n] = '\0';
    p->pos = end + 1;
    *out = s;
    *length = n;
    return 0;
}

static int is_digit(const parser *p, size_t at) { return at < p->size && p->text[at] >= '0' && p->text[at] <= '9'; }

/* The strict number grammar, then strtod on a copy (with the locale's decimal point, whatever it is). */
static int parse_number(parser *p, double *out)
{
    size_t start = p->pos, i = start;
    if (p->text[i] == '-') i++;
    if (!is_digit(p, i)) {
        p->pos = i;
        return expected(p, "a digit after '-'");
    }
    if (p->text[i] == '0') {
        i++;
        if (is_digit(p, i)) {
            p->pos = i;
            return expected(p, "'.', 'e' or the end of the number after a leading 0 (no leading zeros)");
        }
    } else {
        while (is_digit(p, i))
            i++;
    }
    size_t point = 0;
    if (i < p->size && p->text[i] == '.') {
        point = i++;
        if (!is_digit(p, i)) {
            p->pos = i;
            return expected(p, "a digit after the decimal point");
        }
        while (is_digit(p, i))
            i++;
    }
    if (i < p->size && (p->text[i] == 'e' || p->text[i] == 'E')) {
        i++;
        if (i < p->size && (p->text[i] == '+' || p->text[i] == '-')) i++;
        if (!is_digit(p, i)) {
            p->pos = i;
            return expected(p, "a digit in the exponent");
        }
        while (is_digit(p, i))
            i++;
    }
    size_t length = i - start;
    const char *decimal = localeconv()->decimal_point;
    size_t decimal_length = decimal && *decimal ? strlen(decimal) : 1;
    char small[128], *copy = small;
    if (length + decimal_length + 1 > sizeof small) {
        copy = malloc(length + decimal_length + 1);
        if (!copy) return out_of_memory(p);
    }
    size_t n = 0;
    for (size_t k = start; k < i; ++k) {
        if (point && k == point && decimal && *decimal) {
            memcpy(copy + n, decimal, decimal_length);
            n += decimal_length;
        } else {
            copy[n++] = (char)p->text[k];
        }
    }
    copy[n] = '\0';
    errno = 0;
    char *stop = NULL;
    double v = strtod(copy, &stop);
    int complete = stop == copy + n;
    if (copy != small) free(copy);
    if (!complete) return fail_at(p, start, "expected a number that strtod reads whole");
    if (!isfinite(v))
        return fail_at(p, start, "expected a number within the range of a double (%zu-byte number)", length);
    p->pos = i;
    *out = v;
    return 0;
}

static int push_value(parser *p, const json_value *v)
{
    if (p->value_count == p->value_capacity) {
        size_t capacity = p->value_capacity ? p->value_capacity * 2 : 64;
        json_value *grown = realloc(p->values, capacity * sizeof *grown);
        if (!grown) return out_of_memory(p);
        p->values = grown;
        p->value_capacity = capacity;
    }
    p->values[p->value_count++] = *v;
    return 0;
}

static int push_member(parser *p, const json_member *m)
{
    if (p->member_count == p->member_capacity) {
        size_t capacity = p->member_capacity ? p->member_capacity * 2 : 64;
        json_member *grown = realloc(p->members, capacity * sizeof *grown);
        if (!grown) return out_of_memory(p);
        p->members = grown;
        p->member_capacity = capacity;
    }
    p->members[p->member_count++] = *m;
    return 0;
}

static int parse_value(parser *p, int depth, json_value *out);

static int parse_array(parser *p, int depth, json_value *out)
{
    size_t base = p->value_count;
    p->pos++; /* '[' */
    skip_space(p);
    if (p->pos < p->size && p->text[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            json_value item;
            if (parse_value(p, depth, &item) || push_value(p, &item)) return -1;
            skip_space(p);
            if (p->pos < p->size && p->text[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->size && p->text[p->pos] == ']') {
                p->pos++;
                break;
            }
            return expected(p, "',' or ']' after an array item");
        }
    }
    size_t count = p->value_count - base;
    json_value *items = NULL;
    if (count) {
        items = arena_alloc(p->document, count * sizeof *items);
        if (!items) return out_of_memory(p);
        memcpy(items, p->values + base, count * sizeof *items);
    }
    p->value_count = base;
    out->as.array.items = items;
    out->as.array.count = count;
    return 0;
}

static int same_key(const json_member *a, const json_member *b)
{
    return a->key_length == b->key_length && memcmp(a->key, b->key, a->key_length) == 0;
}

static int compare_members(const void *a, const void *b)
{
    const json_member *x = *(const json_member *const *)a, *y = *(const json_member *const *)b;
    size_t common = x->key_length < y->key_length ? x->key_length : y->key_length;
    int c = memcmp(x->key, y->key, common);
    if (c) return c;
    if (x->key_length != y->key_length) return x->key_length < y->key_length ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The member that repeats an earlier key first in text order, or NULL; -1 when out of memory. */
static int find_duplicate(parser *p, const json_member *members, size_t count, const json_member **duplicate)
{
    *duplicate = NULL;
    if (count <= 16) {
        for (size_t j = 1; j < count && !*duplicate; ++j)
            for (size_t i = 0; i < j; ++i)
                if (same_key(members + i, members + j)) {
                    *duplicate = members + j;
                    break;
                }
        return 0;
    }
    const json_member **sorted = malloc(count * sizeof *sorted);
    if (!sorted) return out_of_memory(p);
    for (size_t i = 0; i < count; ++i)
        sorted[i] = members + i;
    qsort(sorted, count, sizeof *sorted, compare_members);
    for (size_t i = 1; i < count; ++i)
        if (same_key(sorted[i - 1], sorted[i]) && (!*duplicate || sorted[i]->offset < (*duplicate)->offset))
            *duplicate = sorted[i];
    free(sorted);
    return 0;
}

void json_quote(const char *key, size_t length, char *out, size_t out_size)
{
    if (out_size == 0) return;
    size_t n = 0;
    for (size_t i = 0; i < length && n + 8 < out_size; ++i) {
        unsigned char c = (unsigned char)key[i];
        if (i == 40) {
            n += (size_t)snprintf(out + n, out_size - n, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, out_size - n, "\\x%02X", c);
    }
    out[n] = '\0';
}

static int parse_object(parser *p, int depth, json_value *out)
{
    size_t base = p->member_count;
    p->pos++; /* '{' */
    skip_space(p);
    if (p->pos < p->size && p->text[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            skip_space(p);
            if (p->pos >= p->size || p->text[p->pos] != '"') return expected(p, "a string key in an object");
            json_member member;
            member.offset = p->pos;
            if (parse_string(p, &member.key, &member.key_length)) return -1;
            skip_space(p);
            if (p->pos >= p->size || p->text[p->pos] != ':') return expected(p, "':' after an object key");
            p->pos++;
            if (parse_value(p, depth, &member.value)) return -1;
            if (push_member(p, &member)) return -1;
            skip_space(p);
            if (p->pos < p->size && p->text[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->size && p->text[p->pos] == '}') {
                p->pos++;
                break;
            }
            return expected(p, "',' or '}' after an object member");
        }
    }
    size_t count = p->member_count - base;
    const json_member *duplicate = NULL;
    if (count && find_duplicate(p, p->members + base, count, &duplicate)) return -1;
    if (duplicate) {
        char key[200];
        json_quote(duplicate->key, duplicate->key_length, key, sizeof key);
        return fail_at(p, duplicate->offset, "expected unique keys in an object, found a second \"%s\"", key);
    }
    json_member *members = NULL;
    if (count) {
        members = arena_alloc(p->document, count * sizeof *members);
        if (!members) return out_of_memory(p);
        memcpy(members, p->members + base, count * sizeof *members);
    }
    p->member_count = base;
    out->as.object.members = members;
    out->as.object.count = count;
    return 0;
}

static int parse_literal(parser *p, const char *word, json_type type, json_value *out)
{
    size_t n = strlen(word);
    if (p->size - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) {
        char what[16];
        snprintf(what, sizeof what, "'%s'", word);
        return expected(p, what);
    }
    p->pos += n;
    out->type = type;
    return 0;
}

static int parse_value(parser *p, int depth, json_value *out)
{
    skip_space(p);
    memset(out, 0, sizeof *out);
    out->offset = p->pos;
    if (p->pos >= p->size) return expected(p, "a value");
    if (++p->total_values > JSON_MAX_VALUES)
        return fail_at(p, p->pos, "expected at most %zu values in the text", (size_t)JSON_MAX_VALUES);
    unsigned char c = p->text[p->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= JSON_MAX_DEPTH)
            return fail_at(p, p->pos, "expected at most %d nested arrays and objects", JSON_MAX_DEPTH);
        if (c == '{') {
            out->type = JSON_OBJECT;
            return parse_object(p, depth + 1, out);
        }
        out->type = JSON_ARRAY;
        return parse_array(p, depth + 1, out);
    case '"': out->type = JSON_STRING; return parse_string(p, &out->as.string.chars, &out->as.string.length);
    case 't': return parse_literal(p, "true", JSON_TRUE, out);
    case 'f': return parse_literal(p, "false", JSON_FALSE, out);
    case 'n': return parse_literal(p, "null", JSON_NULL, out);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            out->type = JSON_NUMBER;
            return parse_number(p, &out->as.number);
        }
        return expected(p, "a value (object, array, string, number, true, false or null)");
    }
}

json_document *json_parse(const char *text, size_t length, char *why, size_t why_size)
{
    if (why && why_size) why[0] = '\0';
    parser p = {.text = (const unsigned char *)text, .size = text ? length : 0, .why = why, .why_size = why_size};
    if (p.size > JSON_MAX_TEXT) {
        if (why && why_size)
            snprintf(why, why_size, "offset %zu: expected at most %zu bytes of text, found %zu", (size_t)JSON_MAX_TEXT,
                     (size_t)JSON_MAX_TEXT, p.size);
        return NULL;
    }
    json_document *document = calloc(1, sizeof *document);
    if (!document) {
        if (why && why_size) snprintf(why, why_size, "offset 0: out of memory");
        return NULL;
    }
    p.document = document;
    int bad = parse_value(&p, 0, &document->root);
    if (!bad) {
        skip_space(&p);
        if (p.pos != p.size) bad = expected(&p, "the end of the text after the top-level value");
    }
    free(p.values);
    free(p.members);
    if (bad) {
        json_document_free(document);
        return NULL;
    }
    return document;
}

const json_value *json_object_get(const json_value *object, const char *key)
{
    if (!object || object->type != JSON_OBJECT || !key) return NULL;
    size_t length = strlen(key);
    for (size_t i = 0; i < object->as.object.count; ++i) {
        const json_member *m = object->as.object.members + i;
        if (m->key_length == length && memcmp(m->key, key, length) == 0) return &m->value;
    }
    return NULL;
}

/* --- writing ------------------------------------------------------------------------------------ */
void json_buffer_free(json_buffer *buffer)
{
    free(buffer->data);
    memset(buffer, 0, sizeof *buffer);
}

static int reserve(json_buffer *buffer, size_t extra)
{
    if (buffer->failed) return -1;
    if (extra >= SIZE_MAX / 2 - buffer->length) {
        buffer->failed = 1;
        return -1;
    }
    size_t need = buffer->length + extra + 1;
    if (need <= buffer->capacity) return 0;
    size_t capacity = buffer->capacity ? buffer->capacity : 256;
    while (capacity < need)
        capacity *= 2;
    char *grown = realloc(buffer->data, capacity);
    if (!grown) {
        buffer->failed = 1;
        return -1;
    }
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

void json_append(json_buffer *buffer, const char *bytes, size_t count)
{
    if (reserve(buffer, count)) return;
    if (count) memcpy(buffer->data + buffer->length, bytes, count);
    buffer->length += count;
    buffer->data[buffer->length] = '\0';
}

void json_appendf(json_buffer *buffer, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (n < 0) {
        buffer->failed = 1;
        return;
    }
    if (reserve(buffer, (size_t)n)) return;
    va_start(args, format);
    vsnprintf(buffer->data + buffer->length, (size_t)n + 1, format, args);
    va_end(args);
    buffer->length += (size_t)n;
}

void json_append_string(json_buffer *buffer, const char *string)
{
    json_append(buffer, "\"", 1);
    for (const unsigned char *s = (const unsigned char *)string; *s; ++s) {
        switch (*s) {
        case '"': json_append(buffer, "\\\"", 2); break;
        case '\\': json_append(buffer, "\\\\", 2); break;
        case '\b': json_append(buffer, "\\b", 2); break;
        case '\f': json_append(buffer, "\\f", 2); break;
        case '\n': json_append(buffer, "\\n", 2); break;
        case '\r': json_append(buffer, "\\r", 2); break;
        case '\t': json_append(buffer, "\\t", 2); break;
        default:
            if (*s < 0x20)
                json_appendf(buffer, "\\u%04x", *s);
            else
                json_append(buffer, (const char *)s, 1);
        }
    }
    json_append(buffer, "\"", 1);
}

void json_append_number(json_buffer *buffer, double value)
{
    if (!isfinite(value)) {
        buffer->failed = 1;
        return;
    }
    const char *decimal = localeconv()->decimal_point;
    char text[64];
    for (int precision = 1; precision <= 17; ++precision) {
        snprintf(text, sizeof text, "%.*g", precision, value);
        if (strtod(text, NULL) == value) break;
    }
    /* back from the locale's decimal point to JSON's '.' */
    char out[64];
    size_t n = 0, decimal_length = decimal && *decimal ? strlen(decimal) : 0;
    for (size_t i = 0; text[i] && n + 1 < sizeof out;) {
        if (decimal_length && strncmp(text + i, decimal, decimal_length) == 0) {
            out[n++] = '.';
            i += decimal_length;
        } else {
            out[n++] = text[i++];
        }
    }
    out[n] = '\0';
    json_append(buffer, out, n);
}
