/* error.h — the thread-local error message and the log sink shared by the whole host library. */
#ifndef LOWBIT_HOST_ERROR_H
#define LOWBIT_HOST_ERROR_H

#include "lowbit/lowbit.h"

#if defined(__GNUC__)
#define LOWBIT_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define LOWBIT_PRINTF(fmt_index, first_arg)
#endif

/* Sets lowbit_last_error() for this thread and returns `status`, so callers write
 * `return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "rows is 0");`. */
lowbit_status lowbit_error(lowbit_status status, const char *format, ...) LOWBIT_PRINTF(2, 3);
void lowbit_error_clear(void);
void lowbit_log(lowbit_log_level level, const char *format, ...) LOWBIT_PRINTF(2, 3);
int lowbit_log_enabled(lowbit_log_level level);

#endif
