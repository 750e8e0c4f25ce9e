/* opencl_programs.c — builds a kernel's program on the first use of each (device, kernel, parameters)
 * combination and keeps it for the life of the backend; build failures carry the build log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_backend.h"
#include "opencl_binary_cache.h"

#define BUILD_LOG_LIMIT 1500

/* Every build adds -w: the only warnings lowbit's kernels draw are PoCL's clang noting that 16-wide vector
 * arguments of its own built-ins change the ABI without AVX-512, which it prints to stderr on every cold build
 * (thousands of lines in a conformance run) and which say nothing about the kernel. Errors still fail the
 * build and come back with the log. */
static const char *quiet_options(const char *options, char *quiet, size_t size)
{
    const int length = snprintf(quiet, size, "%s -w", options);
    return length > 0 && (size_t)length < size ? quiet : options;
}

static lowbit_status fail_build(opencl_backend *backend, opencl_device *device, cl_program program, cl_int error,
                                const char *options)
{
    const opencl_api *cl = backend->cl;
    char log[BUILD_LOG_LIMIT + 1] = "";
    size_t length = 0;
    if (cl->clGetProgramBuildInfo(program, device->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &length) == CL_SUCCESS &&
        length > 0) {
        char *full = malloc(length + 1);
        if (full != NULL &&
            cl->clGetProgramBuildInfo(program, device->id, CL_PROGRAM_BUILD_LOG, length, full, NULL) == CL_SUCCESS) {
            full[length] = '\0';
            snprintf(log, sizeof log, "%s", full);
        }
        free(full);
    }
    return opencl_fail(backend, LOWBIT_ERROR_DEVICE, "clBuildProgram failed: %s (%d) with options \"%s\"; log: %s%s",
                       opencl_error_name(error), (int)error, options, log,
                       length > BUILD_LOG_LIMIT ? " [truncated]" : "");
}

lowbit_status opencl_program_build(opencl_backend *backend, opencl_device *device, const char *source,
                                   size_t source_size, const char *options, cl_program *out)
{
    const opencl_api *cl = backend->cl;
    opencl_binary_key key;
    opencl_binary_key_make(&key, source, source_size, options, device->driver_key);
    char quiet_buffer[512];
    const char *quiet = quiet_options(options, quiet_buffer, sizeof quiet_buffer);
    cl_program program = opencl_binary_cache_load(backend, device, &key);
    int from_cache = program != NULL;
    if (program == NULL) {
        cl_int error = CL_SUCCESS;
        program = cl->clCreateProgramWithSource(device->context, 1, &source, &source_size, &error);
        if (program == NULL || error != CL_SUCCESS)
            return opencl_fail_call(backend, "clCreateProgramWithSource", error, 0);
    }
    cl_int error = cl->clBuildProgram(program, 1, &device->id, quiet, NULL, NULL);
    if (error != CL_SUCCESS && from_cache) {
        /* A stale or foreign binary: rebuild from source. */
        cl->clReleaseProgram(program);
        from_cache = 0;
        program = cl->clCreateProgramWithSource(device->context, 1, &source, &source_size, &error);
        if (program == NULL || error != CL_SUCCESS)
            return opencl_fail_call(backend, "clCreateProgramWithSource", error, 0);
        error = cl->clBuildProgram(program, 1, &device->id, quiet, NULL, NULL);
    }
    if (error != CL_SUCCESS) {
        lowbit_status status = fail_build(backend, device, program, error, options);
        cl->clReleaseProgram(program);
        return status;
    }
    if (!from_cache) opencl_binary_cache_store(backend, device, &key, program);
    *out = program;
    return LOWBIT_OK;
}

lowbit_status opencl_program_kernel(opencl_backend *backend, opencl_device *device, const char *source,
                                    size_t source_size, const char *options, const char *name, cl_program *program,
                                    cl_kernel *kernel)
{
    *program = NULL;
    *kernel = NULL;
    if (opencl_fault(backend, "opencl.build"))
        return opencl_fail(
            backend, LOWBIT_ERROR_DEVICE,
            "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11) for %s (fault injected: opencl.build)", name);
    cl_program built = NULL;
    lowbit_status status = opencl_program_build(backend, device, source, source_size, options, &built);
    if (status != LOWBIT_OK) return status;
    cl_int error = CL_SUCCESS;
    cl_kernel created = backend->cl->clCreateKernel(built, name, &error);
    if (created == NULL || error != CL_SUCCESS) {
        backend->cl->clReleaseProgram(built);
        return opencl_fail_call(backend, "clCreateKernel", error, 0);
    }
    *program = built;
    *kernel = created;
    return LOWBIT_OK;
}

lowbit_status opencl_program_get(opencl_backend *backend, opencl_device *device, const opencl_kernel_config *config,
                                 cl_kernel *kernel)
{
    for (opencl_program *entry = device->programs; entry != NULL; entry = entry->next) {
        if (opencl_kernel_config_equal(&entry->config, config)) {
            *kernel = entry->kernel;
            return LOWBIT_OK;
        }
    }
    if (opencl_fault(backend, "opencl.build"))
        return opencl_fail(
            backend, LOWBIT_ERROR_DEVICE,
            "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11) for %s (fault injected: opencl.build)",
            config->spec->name);
    opencl_program *entry = calloc(1, sizeof *entry);
    if (entry == NULL) return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
    char options[256];
    opencl_kernel_build_options(config, options, sizeof options);
    lowbit_status status = opencl_program_build(backend, device, config->spec->source,
                                                (size_t)*config->spec->source_size, options, &entry->program);
    if (status != LOWBIT_OK) {
        free(entry);
        return status;
    }
    cl_int error = CL_SUCCESS;
    entry->kernel = backend->cl->clCreateKernel(entry->program,
                                                config->gemm ? config->spec->gemm_name : config->spec->name, &error);
    if (entry->kernel == NULL || error != CL_SUCCESS) {
        backend->cl->clReleaseProgram(entry->program);
        free(entry);
        return opencl_fail_call(backend, "clCreateKernel", error, 0);
    }
    entry->config = *config;
    entry->next = device->programs;
    device->programs = entry;
    char description[96];
    opencl_kernel_describe(config, description, sizeof description);
    opencl_log(backend, LOWBIT_LOG_DEBUG, "opencl: built %s for %s", description, device->info.id);
    *kernel = entry->kernel;
    return LOWBIT_OK;
}

void opencl_programs_release(opencl_backend *backend, opencl_device *device)
{
    opencl_program *entry = device->programs;
    while (entry != NULL) {
        opencl_program *next = entry->next;
        backend->cl->clReleaseKernel(entry->kernel);
        backend->cl->clReleaseProgram(entry->program);
        free(entry);
        entry = next;
    }
    device->programs = NULL;
}
