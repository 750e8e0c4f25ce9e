/* tuning_host.h — the host's side of the tuning database: what a context loads and the lookup its backends call. */
#ifndef LOWBIT_TUNING_HOST_H
#define LOWBIT_TUNING_HOST_H

#include "lowbit/lowbit_backend.h"

typedef struct lowbit_tuning lowbit_tuning;

/* The shipped entries (compiled in from data/tuning.json), overlaid by every *.json file in `user_dir` (the cache
 * folder's tuning/, in name order; NULL: none). A file that fails validation is reported (warning) and skipped
 * whole; never fails but for memory (NULL). */
lowbit_tuning *lowbit_tuning_load(const char *user_dir);
void lowbit_tuning_free(lowbit_tuning *tuning);
/* What was loaded: one line per source with its entry count, or why it was skipped. */
const char *lowbit_tuning_sources_text(const lowbit_tuning *tuning);
/* lowbit_host_api.tuned_params (host->tuning is a lowbit_tuning). */
int lowbit_tuning_answer(const lowbit_host_api *host, const lowbit_device_info *device, const char *family,
                         lowbit_format format, size_t n, size_t rows, size_t cols, char *params, size_t params_size,
                         char *level, size_t level_size);

#endif
