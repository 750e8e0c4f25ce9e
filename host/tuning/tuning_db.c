/* tuning_db.c — the per-device tuning database (tuning_db.h). Schema version 1:
 *
 *   {"lowbit_tuning": 1, "entries": [{"api": "opencl", "family": "gemv", "params": "wg=8", ...}, ...]}
 *
 * An entry's keys: api ("cpu" | "opencl" | "vulkan") and family ("gemv" | "gemm") and params (at most 255 bytes,
 * checked by the caller's callback) are required; vendor and device ("*" or an exact string without '*'), driver
 * ("*", exact, or a prefix pattern "xyz*"), class ("cpu" | "gpu" | "*"), format (a lowercase format name or "*"),
 * n ("1" | "2-8" | "9+" | "*") and shape ("small" | "large" | "*") default to "*"; seconds, default_seconds,
 * spread (numbers >= 0), tool (at most 63 bytes), date (YYYY-MM-DD) and repeats (an integer 1..1000000) are
 * optional facts about the measurement. Unknown keys, other versions and more than 65536 entries are errors. */
#include "tuning_db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "lowbit/lowbit_format.h"

#define TUNING_VERSION 1
#define TUNING_MAX_ENTRIES ((size_t)65536)

struct tuning_db {
    tuning_entry *entries;
    size_t count, capacity;
};

const char *tuning_level_name(tuning_level level)
{
    switch (level) {
    case TUNING_LEVEL_NONE: return "default";
    case TUNING_LEVEL_CLASS: return "class";
    case TUNING_LEVEL_VENDOR: return "vendor";
    case TUNING_LEVEL_DRIVER: return "driver";
    case TUNING_LEVEL_DEVICE: return "device";
    }
    return "?";
}

void tuning_entry_init(tuning_entry *entry)
{
    memset(entry, 0, sizeof *entry);
    strcpy(entry->vendor, "*");
    strcpy(entry->device, "*");
    strcpy(entry->driver, "*");
    strcpy(entry->device_class, "*");
    strcpy(entry->format, "*");
    strcpy(entry->n_class, "*");
    strcpy(entry->shape, "*");
    entry->seconds = entry->default_seconds = entry->spread = -1;
}

/* --- the fields and their rules ----------------------------------------------------------------- */
/* A rule returns 0, or -1 with what was expected in why. */
typedef int (*string_rule)(const char *value, char *why, size_t why_size);

static int one_of(const char *value, const char *const *choices, char *why, size_t why_size)
{
    size_t n = 0;
    for (const char *const *c = choices; *c; ++c, ++n)
        if (strcmp(value, *c) == 0) return 0;
    size_t used = (size_t)snprintf(why, why_size, "expected ");
    for (size_t i = 0; i < n && used < why_size; ++i)
        used += (size_t)snprintf(why + used, why_size - used, "%s\"%s\"",
                                 i == 0       ? ""
                                 : i + 1 == n ? " or "
                                              : ", ",
                                 choices[i]);
    return -1;
}

static int rule_api(const char *value, char *why, size_t why_size)
{
    static const char *const choices[] = {"cpu", "opencl", "vulkan", NULL};
    return one_of(value, choices, why, why_size);
}

static int rule_exact_or_any(const char *value, char *why, size_t why_size)
{
    if (strcmp(value, "*") != 0 && strchr(value, '*')) {
        snprintf(why, why_size, "expected \"*\" or an exact name without '*'");
        return -1;
    }
    return 0;
}

static int rule_driver(const char *value, char *why, size_t why_size)
{
    const char *star = strchr(value, '*');
    if (star && star[1] != '\0') {
        snprintf(why, why_size, "expected \"*\", an exact version, or a prefix pattern with '*' only at its end");
        return -1;
    }
    return 0;
}

static int rule_class(const char *value, char *why, size_t why_size)
{
    static const char *const choices[] = {"cpu", "gpu", "*", NULL};
    return one_of(value, choices, why, why_size);
}

static int rule_family(const char *value, char *why, size_t why_size)
{
    static const char *const choices[] = {"gemv", "gemm", NULL};
    return one_of(value, choices, why, why_size);
}

static int rule_format(const char *value, char *why, size_t why_size)
{
    if (strcmp(value, "*") == 0) return 0;
    lowbit_format format;
    int lowercase = 1;
    for (const char *c = value; *c; ++c)
        if (*c >= 'A' && *c <= 'Z') lowercase = 0;
    if (!lowercase || lowbit_format_from_name(value, &format) != 0) {
        snprintf(why, why_size, "expected \"*\" or a format name in lowercase (\"q4_0\", \"q8_0\", \"f16\", ...)");
        return -1;
    }
    return 0;
}

static int rule_n(const char *value, char *why, size_t why_size)
{
    static const char *const choices[] = {"1", "2-8", "9+", "*", NULL};
    return one_of(value, choices, why, why_size);
}

static int rule_shape(const char *value, char *why, size_t why_size)
{
    static const char *const choices[] = {"small", "large", "*", NULL};
    return one_of(value, choices, why, why_size);
}

static int leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

static int rule_date(const char *value, char *why, size_t why_size)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int ok = strlen(value) == 10 && value[4] == '-' && value[7] == '-';
    for (int i = 0; ok && i < 10; ++i)
        if (i != 4 && i != 7 && (value[i] < '0' || value[i] > '9')) ok = 0;
    if (ok) {
        int year = (value[0] - '0') * 1000 + (value[1] - '0') * 100 + (value[2] - '0') * 10 + (value[3] - '0');
        int month = (value[5] - '0') * 10 + (value[6] - '0'), day = (value[8] - '0') * 10 + (value[9] - '0');
        ok = month >= 1 && month <= 12 && day >= 1 &&
             day <= days[month >= 1 && month <= 12 ? month - 1 : 0] + (month == 2 && leap(year));
    }
    if (!ok) snprintf(why, why_size, "expected a date YYYY-MM-DD");
    return ok ? 0 : -1;
}

typedef enum field_type { FIELD_STRING, FIELD_NUMBER, FIELD_INTEGER } field_type;

typedef struct field {
    const char *key;
    field_type type;
    size_t offset, size; /* of its member of tuning_entry */
    int required;
    int omit_empty;   /* a string written only when not "" */
    string_rule rule; /* strings: NULL for free text */
    double low, high; /* numbers and integers */
} field;

/* offset and size of a member of tuning_entry */
#define MEMBER(name) offsetof(tuning_entry, name), sizeof(((tuning_entry *)0)->name)

/* In the order a file is written. A number's high < low: no upper bound. */
static const field fields[] = {
    {"api", FIELD_STRING, MEMBER(api), 1, 0, rule_api, 0, 0},
    {"vendor", FIELD_STRING, MEMBER(vendor), 0, 0, rule_exact_or_any, 0, 0},
    {"device", FIELD_STRING, MEMBER(device), 0, 0, rule_exact_or_any, 0, 0},
    {"driver", FIELD_STRING, MEMBER(driver), 0, 0, rule_driver, 0, 0},
    {"class", FIELD_STRING, MEMBER(device_class), 0, 0, rule_class, 0, 0},
    {"family", FIELD_STRING, MEMBER(family), 1, 0, rule_family, 0, 0},
    {"format", FIELD_STRING, MEMBER(format), 0, 0, rule_format, 0, 0},
    {"n", FIELD_STRING, MEMBER(n_class), 0, 0, rule_n, 0, 0},
    {"shape", FIELD_STRING, MEMBER(shape), 0, 0, rule_shape, 0, 0},
    {"params", FIELD_STRING, MEMBER(params), 1, 0, NULL, 0, 0},
    {"seconds", FIELD_NUMBER, MEMBER(seconds), 0, 0, NULL, 0, -1},
    {"default_seconds", FIELD_NUMBER, MEMBER(default_seconds), 0, 0, NULL, 0, -1},
    {"tool", FIELD_STRING, MEMBER(tool), 0, 1, NULL, 0, 0},
    {"date", FIELD_STRING, MEMBER(date), 0, 1, rule_date, 0, 0},
    {"repeats", FIELD_INTEGER, MEMBER(repeats), 0, 0, NULL, 1, 1000000},
    {"spread", FIELD_NUMBER, MEMBER(spread), 0, 0, NULL, 0, -1},
};
#define FIELD_COUNT (sizeof fields / sizeof fields[0])

/* A string's value against its field: length, no NUL or control characters, the field's rule. */
static int check_string(const field *f, const char *value, size_t length, char *why, size_t why_size)
{
    if (length >= f->size) {
        snprintf(why, why_size, "expected at most %zu bytes, found %zu", f->size - 1, length);
        return -1;
    }
    for (size_t i = 0; i < length; ++i) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, why_size, "expected no control characters, found 0x%02X at byte %zu", c, i);
            return -1;
        }
    }
    return f->rule ? f->rule(value, why, why_size) : 0;
}

/* A number against its field's range (high < low: no upper bound). */
static int check_number(const field *f, double value, char *why, size_t why_size)
{
    int ok = isfinite(value) && value >= f->low && (f->high < f->low || value <= f->high);
    if (f->type == FIELD_INTEGER) {
        ok = ok && value == (double)(long)value;
        if (!ok) snprintf(why, why_size, "expected an integer from %.0f to %.0f, found %.17g", f->low, f->high, value);
    } else if (!ok) {
        snprintf(why, why_size, "expected a number >= %g, found %.17g", f->low, value);
    }
    return ok ? 0 : -1;
}

/* The whole entry against the schema (tuning_db_put; a loaded entry passed the same checks field by field). */
static int check_entry(const tuning_entry *e)
{
    char why[256];
    for (size_t i = 0; i < FIELD_COUNT; ++i) {
        const field *f = fields + i;
        const char *base = (const char *)e + f->offset;
        if (f->type == FIELD_STRING) {
            const char *end = memchr(base, '\0', f->size);
            if (!end) return -1;
            if (f->omit_empty && end == base) continue; /* "" is absent */
            if (check_string(f, base, (size_t)(end - base), why, sizeof why)) return -1;
        } else if (f->type == FIELD_NUMBER) {
            double v;
            memcpy(&v, base, sizeof v);
            if (v != -1 && check_number(f, v, why, sizeof why)) return -1;
        } else {
            long v;
            memcpy(&v, base, sizeof v);
            if (v != 0 && check_number(f, (double)v, why, sizeof why)) return -1;
        }
    }
    return 0;
}

/* --- the database ------------------------------------------------------------------------------- */
tuning_db *tuning_db_create(void) { return calloc(1, sizeof(tuning_db)); }

void tuning_db_destroy(tuning_db *db)
{
    if (!db) return;
    free(db->entries);
    free(db);
}

size_t tuning_db_count(const tuning_db *db) { return db ? db->count : 0; }

const tuning_entry *tuning_db_entry(const tuning_db *db, size_t index)
{
    return db && index < db->count ? db->entries + index : NULL;
}

static int reserve(tuning_db *db, size_t extra)
{
    if (extra > SIZE_MAX / sizeof(tuning_entry) - db->count) return -1;
    size_t need = db->count + extra;
    if (need <= db->capacity) return 0;
    size_t capacity = db->capacity ? db->capacity : 16;
    while (capacity < need)
        capacity = capacity > SIZE_MAX / sizeof(tuning_entry) / 2 ? need : capacity * 2;
    tuning_entry *grown = realloc(db->entries, capacity * sizeof *grown);
    if (!grown) return -1;
    db->entries = grown;
    db->capacity = capacity;
    return 0;
}

static int same_key(const tuning_entry *a, const tuning_entry *b)
{
    return strcmp(a->api, b->api) == 0 && strcmp(a->vendor, b->vendor) == 0 && strcmp(a->device, b->device) == 0 &&
           strcmp(a->driver, b->driver) == 0 && strcmp(a->device_class, b->device_class) == 0 &&
           strcmp(a->family, b->family) == 0 && strcmp(a->format, b->format) == 0 &&
           strcmp(a->n_class, b->n_class) == 0 && strcmp(a->shape, b->shape) == 0;
}

int tuning_db_put(tuning_db *db, const tuning_entry *entry)
{
    if (!db || !entry || check_entry(entry)) return -1;
    /* the last entry of that key: the one lookup answers with when overlays repeat a key */
    for (size_t i = db->count; i-- > 0;) {
        if (same_key(db->entries + i, entry)) {
            db->entries[i] = *entry;
            return 0;
        }
    }
    if (reserve(db, 1)) return -1;
    db->entries[db->count++] = *entry;
    return 0;
}

/* --- loading ------------------------------------------------------------------------------------ */
typedef struct loader {
    const char *text;
    size_t length;
    const char *origin;
    char *why;
    size_t why_size;
} loader;

static int load_fail(const loader *l, size_t offset, const char *format, ...) JSON_PRINTF(3, 4);

/* "<origin>: line L column C (offset N): <message>" */
static int load_fail(const loader *l, size_t offset, const char *format, ...)
{
    if (!l->why || l->why_size == 0) return -1;
    size_t line, column;
    json_locate(l->text, l->length, offset, &line, &column);
    int n = snprintf(l->why, l->why_size, "%s: line %zu column %zu (offset %zu): ", l->origin, line, column, offset);
    if (n < 0 || (size_t)n >= l->why_size) return -1;
    va_list args;
    va_start(args, format);
    vsnprintf(l->why + n, l->why_size - (size_t)n, format, args);
    va_end(args);
    return -1;
}

static const field *find_field(const json_member *m)
{
    for (size_t i = 0; i < FIELD_COUNT; ++i)
        if (strlen(fields[i].key) == m->key_length && memcmp(fields[i].key, m->key, m->key_length) == 0)
            return fields + i;
    return NULL;
}

static int load_entry(const loader *l, size_t index, const json_value *object, tuning_params_check check,
                      tuning_entry *e)
{
    char why[512], quoted[200];
    if (object->type != JSON_OBJECT)
        return load_fail(l, object->offset, "entries[%zu]: expected an object, found %s", index,
                         json_type_name(object->type));
    tuning_entry_init(e);
    int seen[FIELD_COUNT] = {0};
    for (size_t i = 0; i < object->as.object.count; ++i) {
        const json_member *m = object->as.object.members + i;
        const json_value *v = &m->value;
        const field *f = find_field(m);
        if (!f) {
            json_quote(m->key, m->key_length, quoted, sizeof quoted);
            return load_fail(l, m->offset,
                             "entries[%zu]: unknown key \"%s\" (expected api, vendor, device, driver, class, family, "
                             "format, n, shape, params, seconds, default_seconds, tool, date, repeats or spread)",
                             index, quoted);
        }
        seen[f - fields] = 1;
        char *member = (char *)e + f->offset;
        if (f->type == FIELD_STRING) {
            if (v->type != JSON_STRING)
                return load_fail(l, v->offset, "entries[%zu].%s: expected a string, found %s", index, f->key,
                                 json_type_name(v->type));
            if (strlen(v->as.string.chars) != v->as.string.length)
                return load_fail(l, v->offset, "entries[%zu].%s: expected a string without NUL characters (\\u0000)",
                                 index, f->key);
            if (check_string(f, v->as.string.chars, v->as.string.length, why, sizeof why)) {
                json_quote(v->as.string.chars, v->as.string.length, quoted, sizeof quoted);
                return load_fail(l, v->offset, "entries[%zu].%s: %s; found \"%s\"", index, f->key, why, quoted);
            }
            memcpy(member, v->as.string.chars, v->as.string.length + 1);
        } else {
            if (v->type != JSON_NUMBER)
                return load_fail(l, v->offset, "entries[%zu].%s: expected a number, found %s", index, f->key,
                                 json_type_name(v->type));
            if (check_number(f, v->as.number, why, sizeof why))
                return load_fail(l, v->offset, "entries[%zu].%s: %s", index, f->key, why);
            if (f->type == FIELD_NUMBER) {
                memcpy(member, &v->as.number, sizeof v->as.number);
            } else {
                long n = (long)v->as.number;
                memcpy(member, &n, sizeof n);
            }
        }
    }
    for (size_t i = 0; i < FIELD_COUNT; ++i)
        if (fields[i].required && !seen[i])
            return load_fail(l, object->offset, "entries[%zu]: expected the required key \"%s\"", index, fields[i].key);
    if (check) {
        why[0] = '\0';
        if (check(e->params, why, sizeof why) != 0) {
            why[sizeof why - 1] = '\0';
            json_quote(e->params, strlen(e->params), quoted, sizeof quoted);
            const json_value *params = json_object_get(object, "params");
            return load_fail(l, params ? params->offset : object->offset,
                             "entries[%zu].params: expected parameters the backend accepts, \"%s\" was rejected: %s",
                             index, quoted, why[0] ? why : "(no reason given)");
        }
    }
    return 0;
}

static int load_document(const loader *l, const json_value *root, tuning_params_check check, tuning_entry **out,
                         size_t *out_count)
{
    if (root->type != JSON_OBJECT)
        return load_fail(l, root->offset, "expected an object at the top level, found %s", json_type_name(root->type));
    const json_value *version = json_object_get(root, "lowbit_tuning");
    if (!version)
        return load_fail(l, root->offset, "expected the key \"lowbit_tuning\" (the schema version, %d)",
                         TUNING_VERSION);
    if (version->type != JSON_NUMBER)
        return load_fail(l, version->offset, "lowbit_tuning: expected the number %d, found %s", TUNING_VERSION,
                         json_type_name(version->type));
    if (version->as.number != TUNING_VERSION)
        return load_fail(l, version->offset,
                         "lowbit_tuning: unsupported version %.17g (this build reads version %d only)",
                         version->as.number, TUNING_VERSION);
    for (size_t i = 0; i < root->as.object.count; ++i) {
        const json_member *m = root->as.object.members + i;
        if (strcmp(m->key, "lowbit_tuning") != 0 && strcmp(m->key, "entries") != 0) {
            char quoted[200];
            json_quote(m->key, m->key_length, quoted, sizeof quoted);
            return load_fail(l, m->offset, "unknown key \"%s\" at the top level (expected lowbit_tuning or entries)",
                             quoted);
        }
    }
    const json_value *entries = json_object_get(root, "entries");
    if (!entries) return load_fail(l, root->offset, "expected the key \"entries\" (an array)");
    if (entries->type != JSON_ARRAY)
        return load_fail(l, entries->offset, "entries: expected an array, found %s", json_type_name(entries->type));
    size_t count = entries->as.array.count;
    if (count > TUNING_MAX_ENTRIES)
        return load_fail(l, entries->offset, "entries: expected at most %zu entries, found %zu", TUNING_MAX_ENTRIES,
                         count);
    tuning_entry *list = count ? malloc(count * sizeof *list) : NULL;
    if (count && !list) return load_fail(l, entries->offset, "out of memory for %zu entries", count);
    for (size_t i = 0; i < count; ++i) {
        if (load_entry(l, i, entries->as.array.items + i, check, list + i)) {
            free(list);
            return -1;
        }
    }
    *out = list;
    *out_count = count;
    return 0;
}

int tuning_db_load_text(tuning_db *db, const char *text, size_t length, const char *origin, tuning_params_check check,
                        char *why, size_t why_size)
{
    loader l = {text, length, origin ? origin : "<text>", why, why_size};
    if (why && why_size) why[0] = '\0';
    if (!db || (!text && length)) {
        if (why && why_size) snprintf(why, why_size, "%s: no database or no text", l.origin);
        return -1;
    }
    char json_why[512];
    json_document *document = json_parse(text, length, json_why, sizeof json_why);
    if (!document) {
        if (why && why_size) snprintf(why, why_size, "%s: %s", l.origin, json_why);
        return -1;
    }
    tuning_entry *list = NULL;
    size_t count = 0;
    int bad = load_document(&l, json_document_root(document), check, &list, &count);
    json_document_free(document);
    if (bad) return -1;
    if (reserve(db, count)) {
        free(list);
        if (why && why_size) snprintf(why, why_size, "%s: out of memory for %zu entries", l.origin, count);
        return -1;
    }
    if (count) memcpy(db->entries + db->count, list, count * sizeof *list);
    db->count += count;
    free(list);
    return 0;
}

int tuning_db_load_file(tuning_db *db, const char *path, tuning_params_check check, char *why, size_t why_size)
{
    if (why && why_size) why[0] = '\0';
    if (!path) {
        if (why && why_size) snprintf(why, why_size, "no path");
        errno = EINVAL;
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int saved = errno;
        if (why && why_size) snprintf(why, why_size, "%s: %s", path, strerror(saved));
        errno = saved;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int saved = errno;
        if (why && why_size) snprintf(why, why_size, "%s: expected a regular file", path);
        close(fd);
        errno = saved ? saved : EINVAL;
        return -1;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > JSON_MAX_TEXT) {
        if (why && why_size)
            snprintf(why, why_size, "%s: expected at most %zu bytes, the file has %lld", path, (size_t)JSON_MAX_TEXT,
                     (long long)st.st_size);
        close(fd);
        errno = EFBIG;
        return -1;
    }
    /* read to the end even if the file grew since fstat, up to one byte past the limit */
    size_t capacity = (size_t)st.st_size + 1, length = 0;
    char *text = malloc(capacity);
    int error = text ? 0 : ENOMEM;
    while (!error) {
        if (length == capacity) {
            if (capacity > JSON_MAX_TEXT) break;
            size_t grown_capacity = capacity * 2 > JSON_MAX_TEXT + 1 ? JSON_MAX_TEXT + 1 : capacity * 2;
            char *grown = realloc(text, grown_capacity);
            if (!grown) {
                error = ENOMEM;
                break;
            }
            text = grown;
            capacity = grown_capacity;
        }
        ssize_t got = read(fd, text + length, capacity - length);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) error = errno;
        if (got <= 0) break;
        length += (size_t)got;
    }
    close(fd);
    if (!error && length > JSON_MAX_TEXT) error = EFBIG;
    if (error) {
        if (why && why_size) snprintf(why, why_size, "%s: reading: %s", path, strerror(error));
        free(text);
        errno = error;
        return -1;
    }
    int result = tuning_db_load_text(db, text, length, path, check, why, why_size);
    free(text);
    return result;
}

/* --- lookup ------------------------------------------------------------------------------------- */
const char *tuning_n_class(size_t n) { return n <= 1 ? "1" : n <= 8 ? "2-8" : "9+"; }

const char *tuning_shape_class(size_t rows, size_t cols)
{
    /* rows * cols < limit, without overflow */
    return cols == 0 || rows <= (TUNING_SMALL_ELEMENTS - 1) / cols ? "small" : "large";
}

static int any(const char *pattern) { return strcmp(pattern, "*") == 0; }

static int match_exact(const char *pattern, const char *value)
{
    return any(pattern) || (value && !strcmp(pattern, value));
}

static int match_driver(const char *pattern, const char *value)
{
    if (any(pattern)) return 1;
    if (!value) return 0;
    size_t length = strlen(pattern);
    if (length && pattern[length - 1] == '*') return strncmp(pattern, value, length - 1) == 0;
    return strcmp(pattern, value) == 0;
}

static int matches(const tuning_entry *e, const tuning_device *device, const tuning_query *query, const char *n_class,
                   const char *shape)
{
    if (!device->api || strcmp(e->api, device->api) != 0) return 0;
    if (!query->family || strcmp(e->family, query->family) != 0) return 0;
    if (!match_exact(e->vendor, device->vendor) || !match_exact(e->device, device->device)) return 0;
    if (!match_driver(e->driver, device->driver)) return 0;
    if (!any(e->device_class) && strcmp(e->device_class, device->is_cpu ? "cpu" : "gpu") != 0) return 0;
    if (!any(e->format) && (!query->format || strcasecmp(e->format, query->format) != 0)) return 0;
    return match_exact(e->n_class, n_class) && match_exact(e->shape, shape);
}

static tuning_level entry_level(const tuning_entry *e)
{
    if (!any(e->device) && !strchr(e->driver, '*')) return TUNING_LEVEL_DEVICE;
    if (!any(e->driver)) return TUNING_LEVEL_DRIVER;
    if (!any(e->vendor) || !any(e->device)) return TUNING_LEVEL_VENDOR;
    return TUNING_LEVEL_CLASS;
}

const tuning_entry *tuning_db_lookup(const tuning_db *db, const tuning_device *device, const tuning_query *query,
                                     tuning_level *level)
{
    const tuning_entry *best = NULL;
    tuning_level best_level = TUNING_LEVEL_NONE;
    int best_exact = -1;
    if (db && device && query) {
        const char *n_class = tuning_n_class(query->n), *shape = tuning_shape_class(query->rows, query->cols);
        for (size_t i = 0; i < db->count; ++i) {
            const tuning_entry *e = db->entries + i;
            if (!matches(e, device, query, n_class, shape)) continue;
            tuning_level l = entry_level(e);
            int exact = !any(e->format) + !any(e->n_class) + !any(e->shape);
            if (!best || l > best_level || (l == best_level && exact >= best_exact)) {
                best = e;
                best_level = l;
                best_exact = exact;
            }
        }
    }
    if (level) *level = best_level;
    return best;
}

/* --- writing ------------------------------------------------------------------------------------ */
static void serialize(const tuning_db *db, json_buffer *out)
{
    json_appendf(out, "{\n  \"lowbit_tuning\": %d,\n  \"entries\": [", TUNING_VERSION);
    for (size_t i = 0; i < db->count; ++i) {
        const tuning_entry *e = db->entries + i;
        json_append(out, i ? ",\n    {" : "\n    {", i ? 7 : 6);
        int first = 1;
        for (size_t k = 0; k < FIELD_COUNT; ++k) {
            const field *f = fields + k;
            const char *member = (const char *)e + f->offset;
            double number = 0;
            long integer = 0;
            if (f->type == FIELD_STRING && f->omit_empty && member[0] == '\0') continue;
            if (f->type == FIELD_NUMBER) {
                memcpy(&number, member, sizeof number);
                if (number == -1) continue;
            }
            if (f->type == FIELD_INTEGER) {
                memcpy(&integer, member, sizeof integer);
                if (integer == 0) continue;
            }
            json_appendf(out, "%s\n      \"%s\": ", first ? "" : ",", f->key);
            first = 0;
            if (f->type == FIELD_STRING)
                json_append_string(out, member);
            else if (f->type == FIELD_NUMBER)
                json_append_number(out, number);
            else
                json_appendf(out, "%ld", integer);
        }
        json_append(out, "\n    }", 6);
    }
    json_append(out, db->count ? "\n  ]\n}\n" : "]\n}\n", db->count ? 7 : 4);
}

int tuning_db_write_file(const tuning_db *db, const char *path, char *why, size_t why_size)
{
    char scratch[1];
    if (!why || why_size == 0) {
        why = scratch;
        why_size = sizeof scratch;
    }
    why[0] = '\0';
    if (!db || !path || !path[0]) {
        snprintf(why, why_size, "no database or no path");
        return -1;
    }
    for (size_t i = 0; i < db->count; ++i) {
        if (check_entry(db->entries + i)) {
            snprintf(why, why_size, "%s: entry %zu breaks the schema", path, i);
            return -1;
        }
    }
    json_buffer text = {0};
    serialize(db, &text);
    if (text.failed) {
        json_buffer_free(&text);
        snprintf(why, why_size, "%s: out of memory serializing %zu entries", path, db->count);
        return -1;
    }
    const int rc = json_write_file(path, text.data, text.length, why, why_size);
    json_buffer_free(&text);
    return rc;
}
