/* opencl_binary_cache.c — reads and writes cached program binaries: a magic header and the key guard
 * against foreign or truncated files, and writes go to a temporary name then rename(). */
#include "opencl_binary_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "LBCLBIN1"
#define CACHE_MAGIC_SIZE 8
#define CACHE_MAX_BINARY ((size_t)256 << 20)

/* FNV-1a over the key's parts, twice with different offsets for 128 bits. */
static uint64_t fnv1a(uint64_t hash, const void *data, size_t size)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < size; ++i)
        hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

void opencl_binary_key_make(opencl_binary_key *key, const char *source, size_t source_size, const char *options,
                            const char *driver_key)
{
    static const uint64_t seeds[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (int i = 0; i < 2; ++i) {
        uint64_t hash = seeds[i];
        hash = fnv1a(hash, source, source_size);
        hash = fnv1a(hash, "\0", 1);
        hash = fnv1a(hash, options, strlen(options));
        hash = fnv1a(hash, "\0", 1);
        hash = fnv1a(hash, driver_key, strlen(driver_key));
        key->hash[i] = hash;
    }
}

/* "<cache_dir>/opencl/<hash>.bin"; 0 when the host has no cache folder. */
static int cache_path(opencl_backend *backend, const opencl_binary_key *key, char *path, size_t size, int create)
{
    const char *root = opencl_cache_dir(backend);
    if (root == NULL || root[0] == '\0') return 0;
    char folder[1024];
    if (snprintf(folder, sizeof folder, "%s/opencl", root) >= (int)sizeof folder) return 0;
    if (create) {
        mkdir(root, 0755);
        if (mkdir(folder, 0755) != 0 && errno != EEXIST) return 0;
    }
    int written = snprintf(path, size, "%s/%016llx%016llx.bin", folder, (unsigned long long)key->hash[0],
                           (unsigned long long)key->hash[1]);
    return written > 0 && (size_t)written < size;
}

cl_program opencl_binary_cache_load(opencl_backend *backend, opencl_device *device, const opencl_binary_key *key)
{
    char path[1200];
    if (!cache_path(backend, key, path, sizeof path, 0)) return NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    cl_program program = NULL;
    unsigned char header[CACHE_MAGIC_SIZE + 3 * sizeof(uint64_t)];
    unsigned char *binary = NULL;
    if (fread(header, 1, sizeof header, file) != sizeof header || memcmp(header, CACHE_MAGIC, CACHE_MAGIC_SIZE) != 0)
        goto done;
    uint64_t stored[3];
    memcpy(stored, header + CACHE_MAGIC_SIZE, sizeof stored);
    if (stored[0] != key->hash[0] || stored[1] != key->hash[1] || stored[2] == 0 || stored[2] > CACHE_MAX_BINARY)
        goto done;
    size_t size = (size_t)stored[2];
    binary = malloc(size);
    if (binary == NULL || fread(binary, 1, size, file) != size) goto done;
    const unsigned char *binaries[1] = {binary};
    cl_int binary_status = CL_SUCCESS, error = CL_SUCCESS;
    program = backend->cl->clCreateProgramWithBinary(device->context, 1, &device->id, &size, binaries, &binary_status,
                                                     &error);
    if (program != NULL && (error != CL_SUCCESS || binary_status != CL_SUCCESS)) {
        backend->cl->clReleaseProgram(program);
        program = NULL;
    }
done:
    free(binary);
    fclose(file);
    if (program == NULL) opencl_log(backend, LOWBIT_LOG_DEBUG, "opencl: ignoring unusable cache file %s", path);
    return program;
}

void opencl_binary_cache_store(opencl_backend *backend, opencl_device *device, const opencl_binary_key *key,
                               cl_program program)
{
    (void)device;
    char path[1200], temporary[1300];
    if (!cache_path(backend, key, path, sizeof path, 1)) return;
    size_t size = 0;
    if (backend->cl->clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0 || size > CACHE_MAX_BINARY)
        return;
    unsigned char *binary = malloc(size);
    if (binary == NULL) return;
    unsigned char *binaries[1] = {binary};
    if (backend->cl->clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binaries, binaries, NULL) != CL_SUCCESS) {
        free(binary);
        return;
    }
    snprintf(temporary, sizeof temporary, "%s.%ld.%p.tmp", path, (long)getpid(), (void *)binary);
    FILE *file = fopen(temporary, "wb");
    int ok = file != NULL;
    if (ok) {
        uint64_t stored[3] = {key->hash[0], key->hash[1], (uint64_t)size};
        ok = fwrite(CACHE_MAGIC, 1, CACHE_MAGIC_SIZE, file) == CACHE_MAGIC_SIZE &&
             fwrite(stored, 1, sizeof stored, file) == sizeof stored && fwrite(binary, 1, size, file) == size;
        ok = fclose(file) == 0 && ok;
    }
    if (ok && rename(temporary, path) == 0) {
        opencl_log(backend, LOWBIT_LOG_DEBUG, "opencl: cached program binary %s", path);
    } else if (file != NULL) {
        remove(temporary);
    }
    free(binary);
}
