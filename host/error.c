/* error.c — thread-local last-error messages, status strings and the process-wide log sink. */
#include "error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static _Thread_local char last_error[1024];

lowbit_status lowbit_error(lowbit_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(last_error, sizeof last_error, format, args);
    va_end(args);
    lowbit_log(LOWBIT_LOG_DEBUG, "error (%s): %s", lowbit_status_string(status), last_error);
    return status;
}

void lowbit_error_clear(void) { last_error[0] = '\0'; }

const char *lowbit_last_error(void) { return last_error; }

const char *lowbit_status_string(lowbit_status status)
{
    switch (status) {
    case LOWBIT_OK: return "ok";
    case LOWBIT_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case LOWBIT_ERROR_UNSUPPORTED: return "unsupported";
    case LOWBIT_ERROR_OUT_OF_MEMORY: return "out of memory";
    case LOWBIT_ERROR_DEVICE: return "device error";
    case LOWBIT_ERROR_PLUGIN: return "plugin error";
    case LOWBIT_ERROR_IO: return "i/o error";
    case LOWBIT_ERROR_CORRUPT: return "corrupt data";
    case LOWBIT_ERROR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void lowbit_version(int *major, int *minor, int *patch)
{
    if (major) *major = LOWBIT_VERSION_MAJOR;
    if (minor) *minor = LOWBIT_VERSION_MINOR;
    if (patch) *patch = LOWBIT_VERSION_PATCH;
}

#define LOWBIT_STR2(x) #x
#define LOWBIT_STR(x) LOWBIT_STR2(x)
const char *lowbit_version_string(void)
{
    return LOWBIT_STR(LOWBIT_VERSION_MAJOR) "." LOWBIT_STR(LOWBIT_VERSION_MINOR) "." LOWBIT_STR(
        LOWBIT_VERSION_PATCH);
}

/* --- logging --------------------------------------------------------------------------------- */
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static lowbit_log_callback log_callback;
static void *log_user_data;
static int log_max_level = -1; /* -1: not read from LOWBIT_LOG yet */

static int level_from_env(void)
{
    const char *value = getenv("LOWBIT_LOG");
    if (!value || !*value) return LOWBIT_LOG_WARN;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; ++i)
        if (strcasecmp(value, names[i]) == 0) return i;
    fprintf(stderr, "lowbit: warn: LOWBIT_LOG=%s is not one of error|warn|info|debug; using warn\n", value);
    return LOWBIT_LOG_WARN;
}

void lowbit_log_set_callback(lowbit_log_callback callback, void *user_data, lowbit_log_level max_level)
{
    pthread_mutex_lock(&log_mutex);
    log_callback = callback;
    log_user_data = user_data;
    log_max_level = callback ? (int)max_level : level_from_env();
    pthread_mutex_unlock(&log_mutex);
}

int lowbit_log_enabled(lowbit_log_level level)
{
    pthread_mutex_lock(&log_mutex);
    if (log_max_level < 0) log_max_level = level_from_env();
    int enabled = (int)level <= log_max_level;
    pthread_mutex_unlock(&log_mutex);
    return enabled;
}

void lowbit_log(lowbit_log_level level, const char *format, ...)
{
    if (!lowbit_log_enabled(level)) return;
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    static const char *const names[] = {"error", "warn", "info", "debug"};
    pthread_mutex_lock(&log_mutex);
    if (log_callback)
        log_callback(level, message, log_user_data);
    else
        fprintf(stderr, "lowbit: %s: %s\n", names[level], message);
    pthread_mutex_unlock(&log_mutex);
}
