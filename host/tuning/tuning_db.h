/* tuning_db.h — the per-device tuning database: kernel parameter strings measured by a tuner, keyed by device
 * (api, vendor, device, driver, class) and problem (family, format, batch class, shape class), read from and
 * written to JSON files (schema version 1, docs in tuning_db.c), and looked up by the most specific match. */
#ifndef LOWBIT_HOST_TUNING_DB_H
#define LOWBIT_HOST_TUNING_DB_H

#include <stddef.h>

typedef enum tuning_level {
    TUNING_LEVEL_NONE = 0,
    TUNING_LEVEL_CLASS = 1,
    TUNING_LEVEL_VENDOR = 2,
    TUNING_LEVEL_DRIVER = 3,
    TUNING_LEVEL_DEVICE = 4
} tuning_level;
const char *tuning_level_name(tuning_level level); /* "default", "class", "vendor", "driver", "device" */

typedef struct tuning_entry {
    char api[16], vendor[256], device[256], driver[256], device_class[8]; /* "*" where unset */
    char family[8], format[24], n_class[8], shape[8];
    char params[256];
    double seconds, default_seconds, spread; /* -1 when absent */
    char tool[64], date[16];                 /* "" when absent */
    long repeats;                            /* 0 when absent */
} tuning_entry;

/* An entry with every optional field at its default ("*", "", -1, 0) and api, family, params empty. */
void tuning_entry_init(tuning_entry *entry);

typedef struct tuning_db tuning_db; /* a growable array of entries, in load order */
tuning_db *tuning_db_create(void);
void tuning_db_destroy(tuning_db *db);

/* validate(params, why, why_size) returns 0 when the string is acceptable; may be NULL (no check). */
typedef int (*tuning_params_check)(const char *params, char *why, size_t why_size);

/* Parses one database text and APPENDS its entries (a later source overlays an earlier one). All or nothing: on
 * any error nothing from this text is added, and `why` gets "<origin>: <message>". Returns 0 or -1. */
int tuning_db_load_text(tuning_db *db, const char *text, size_t length, const char *origin, tuning_params_check check,
                        char *why, size_t why_size);
/* Reads a file (regular file only, at most 16 MiB) and loads it as above. A missing file: -1 with
 * "<path>: No such file or directory" (errno is kept). */
int tuning_db_load_file(tuning_db *db, const char *path, tuning_params_check check, char *why, size_t why_size);

size_t tuning_db_count(const tuning_db *db);
const tuning_entry *tuning_db_entry(const tuning_db *db, size_t index); /* NULL past the end */
/* Adds or replaces: an existing entry with the same key (api, vendor, device, driver, class, family, format,
 * n_class, shape) is overwritten in place (the last one, which lookup prefers, when overlays repeat a key); else
 * appended. -1 when the entry breaks the schema (a field not
 * NUL-terminated, a value a file could not hold) or memory runs out. */
int tuning_db_put(tuning_db *db, const tuning_entry *entry);

typedef struct tuning_device {
    const char *api, *vendor, *device, *driver;
    int is_cpu;
} tuning_device;
typedef struct tuning_query {
    const char *family;
    const char *format; /* a format name, any case ("Q4_0" or "q4_0"); NULL matches only "*" entries */
    size_t n;
    size_t rows, cols;
} tuning_query;

#define TUNING_SMALL_ELEMENTS ((size_t)4194304) /* rows * cols below this is "small" */

/* The n class of a batch: "1" (n <= 1), "2-8" or "9+"; the shape class: "small" or "large". */
const char *tuning_n_class(size_t n);
const char *tuning_shape_class(size_t rows, size_t cols);

/* The best entry for this device and query, or NULL (then *level = TUNING_LEVEL_NONE). An entry matches when
 * every field is "*" or equal (driver: also a prefix pattern "xyz*"; class: "cpu" matches is_cpu, "gpu"
 * !is_cpu) and family is equal. Its level: DEVICE when device and driver are both exact (no '*'), else DRIVER
 * when driver is not "*", else VENDOR when vendor or device is not "*", else CLASS. The highest level wins; on
 * equal level the one with more exact fields among (format, n_class, shape) wins; on a full tie the LAST
 * loaded wins (overlay order). `level` may be NULL. */
const tuning_entry *tuning_db_lookup(const tuning_db *db, const tuning_device *device, const tuning_query *query,
                                     tuning_level *level);

/* Serializes all entries (schema above, 2-space indentation, stable field order, optional fields omitted when
 * absent) and writes the file atomically: a temp file in the same folder, fsync, rename; creates missing parent
 * folders (mode 0755). Returns 0 or -1 with why. */
int tuning_db_write_file(const tuning_db *db, const char *path, char *why, size_t why_size);

#endif
