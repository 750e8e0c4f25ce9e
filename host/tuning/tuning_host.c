/* tuning_host.c — the host's side of the tuning database. A context loads the entries shipped with lowbit
 * (data/tuning.json, compiled in) and overlays the user's (every *.json in <cache folder>/tuning/, in name order:
 * what lowbit-tune writes); each file is validated like any untrusted input (tuning_db.c) and a bad one is reported
 * and skipped whole. Every entry's parameter string is checked against params.h's vocabulary on load, so a backend
 * only ever receives strings it can parse. Backends ask through lowbit_host_api.tuned_params per matmul. */
#include "tuning_host.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/common/params.h"
#include "../error.h"
#include "tuning_db.h"

extern const unsigned char lowbit_tuning_shipped[];
extern const unsigned long lowbit_tuning_shipped_size;

enum { SOURCES_TEXT = 4096, MAX_USER_FILES = 256 };

struct lowbit_tuning {
    tuning_db *db;
    char sources[SOURCES_TEXT];
};

static int check_params(const char *params, char *why, size_t why_size)
{
    lowbit_params parsed;
    return lowbit_params_parse(params, &parsed, why, why_size);
}

static void note_source(lowbit_tuning *tuning, const char *format, const char *origin, const char *detail)
{
    size_t used = strlen(tuning->sources);
    if (used < sizeof tuning->sources)
        snprintf(tuning->sources + used, sizeof tuning->sources - used, format, origin, detail);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void load_user_dir(lowbit_tuning *tuning, const char *dir)
{
    DIR *folder = opendir(dir);
    if (!folder) return; /* no user database yet */
    char *names[MAX_USER_FILES];
    size_t count = 0;
    for (struct dirent *item; (item = readdir(folder)) != NULL;) {
        size_t length = strlen(item->d_name);
        if (item->d_name[0] == '.' || length < 6 || strcmp(item->d_name + length - 5, ".json") != 0) continue;
        if (count == MAX_USER_FILES) {
            lowbit_log(LOWBIT_LOG_WARN, "tuning: more than %d files in %s; the rest are ignored", MAX_USER_FILES, dir);
            break;
        }
        if ((names[count] = strdup(item->d_name)) != NULL) ++count;
    }
    closedir(folder);
    qsort(names, count, sizeof names[0], by_name);
    for (size_t i = 0; i < count; ++i) {
        char path[1024], why[512], counted[32];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t before = tuning_db_count(tuning->db);
        if (tuning_db_load_file(tuning->db, path, check_params, why, sizeof why) != 0) {
            lowbit_log(LOWBIT_LOG_WARN, "tuning database ignored: %s", why);
            note_source(tuning, "%s: ignored (%s)\n", path, why);
        } else {
            snprintf(counted, sizeof counted, "%zu", tuning_db_count(tuning->db) - before);
            note_source(tuning, "%s: %s entries\n", path, counted);
        }
        free(names[i]);
    }
}

lowbit_tuning *lowbit_tuning_load(const char *user_dir)
{
    lowbit_tuning *tuning = calloc(1, sizeof *tuning);
    if (!tuning || !(tuning->db = tuning_db_create())) {
        free(tuning);
        return NULL;
    }
    char why[512], counted[32];
    if (tuning_db_load_text(tuning->db, (const char *)lowbit_tuning_shipped, lowbit_tuning_shipped_size,
                            "shipped tuning database", check_params, why, sizeof why) != 0) {
        lowbit_log(LOWBIT_LOG_ERROR, "tuning: %s", why); /* a build defect: tests/test_tuning_db.c checks it */
        note_source(tuning, "%s: ignored (%s)\n", "shipped", why);
    } else {
        snprintf(counted, sizeof counted, "%zu", tuning_db_count(tuning->db));
        note_source(tuning, "%s: %s entries\n", "shipped", counted);
    }
    if (user_dir) load_user_dir(tuning, user_dir);
    return tuning;
}

void lowbit_tuning_free(lowbit_tuning *tuning)
{
    if (!tuning) return;
    tuning_db_destroy(tuning->db);
    free(tuning);
}

const char *lowbit_tuning_sources_text(const lowbit_tuning *tuning) { return tuning ? tuning->sources : ""; }

static const char *api_name(lowbit_api api)
{
    return api == LOWBIT_API_OPENCL ? "opencl" : api == LOWBIT_API_VULKAN ? "vulkan" : "cpu";
}

int lowbit_tuning_answer(const lowbit_host_api *host, const lowbit_device_info *device, const char *family,
                         lowbit_format format, size_t n, size_t rows, size_t cols, char *params, size_t params_size,
                         char *level, size_t level_size)
{
    if (!host || !host->tuning || !device || !family || !params || params_size == 0) return 0;
    const lowbit_tuning *tuning = host->tuning;
    char format_name[24];
    snprintf(format_name, sizeof format_name, "%s", lowbit_format_name(format));
    for (char *c = format_name; *c; ++c)
        *c = (char)tolower((unsigned char)*c);
    tuning_device who = {api_name(device->api), device->vendor, device->name, device->driver_version,
                         device->is_cpu_device};
    tuning_query query = {family, format_name, n, rows, cols};
    tuning_level found = TUNING_LEVEL_NONE;
    const tuning_entry *entry = tuning_db_lookup(tuning->db, &who, &query, &found);
    if (!entry || found == TUNING_LEVEL_NONE) return 0;
    snprintf(params, params_size, "%s", entry->params);
    if (level && level_size) snprintf(level, level_size, "%s", tuning_level_name(found));
    return 1;
}
