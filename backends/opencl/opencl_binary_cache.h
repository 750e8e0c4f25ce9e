/* opencl_binary_cache.h — program binaries kept on disk under the host's cache folder, keyed by a hash
 * of source, build options, device, driver and platform, so later processes skip the compiler. */
#ifndef LOWBIT_OPENCL_BINARY_CACHE_H
#define LOWBIT_OPENCL_BINARY_CACHE_H

#include <stdint.h>

#include "opencl_backend.h"

typedef struct opencl_binary_key {
    uint64_t hash[2];
} opencl_binary_key;

void opencl_binary_key_make(opencl_binary_key *key, const char *source, size_t source_size, const char *options,
                            const char *driver_key);
/* A program created from the cached binary (not yet built), or NULL when there is none or it is damaged. */
cl_program opencl_binary_cache_load(opencl_backend *backend, opencl_device *device, const opencl_binary_key *key);
/* Best effort: a failure to write only costs the next process a compile. */
void opencl_binary_cache_store(opencl_backend *backend, opencl_device *device, const opencl_binary_key *key,
                               cl_program program);

#endif
