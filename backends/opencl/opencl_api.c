/* opencl_api.c — opens the OpenCL ICD loader lazily with dlopen and names CL error codes, so the plugin
 * loads (and reports zero devices) on machines without OpenCL. */
#include "opencl_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

static opencl_api api_table;
static const opencl_api *api_loaded;
static const char *api_failure = "the OpenCL loader was not probed";
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

/* Function pointers cannot be converted from void * in ISO C; copying the bytes is the portable way. */
static int resolve(void *library, const char *name, void *slot, size_t slot_size)
{
    void *symbol = dlsym(library, name);
    if (symbol == NULL) return -1;
    memcpy(slot, &symbol, slot_size);
    return 0;
}

static void api_load_once(void)
{
    /* Kept open for the life of the process: ICDs (PoCL among them) register exit handlers and do not
     * survive being unloaded while other contexts may still use them. */
    void *library = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) library = dlopen("libOpenCL.so", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        api_failure = "libOpenCL.so.1 (the OpenCL ICD loader) is not installed";
        return;
    }
#define OPENCL_API_RESOLVE(name, ret, params)                                                                          \
    if (resolve(library, #name, &api_table.name, sizeof api_table.name) != 0) {                                        \
        api_failure = "libOpenCL.so.1 lacks " #name " (an OpenCL 1.2 loader is required)";                             \
        dlclose(library);                                                                                              \
        return;                                                                                                        \
    }
    OPENCL_API_FUNCTIONS(OPENCL_API_RESOLVE)
#undef OPENCL_API_RESOLVE
    api_loaded = &api_table;
}

const opencl_api *opencl_api_load(const char **why)
{
    pthread_once(&api_once, api_load_once);
    if (api_loaded == NULL && why != NULL) *why = api_failure;
    return api_loaded;
}

const char *opencl_error_name(cl_int error)
{
    switch (error) {
#define NAME(code)                                                                                                     \
    case code: return #code;
        NAME(CL_SUCCESS)
        NAME(CL_DEVICE_NOT_FOUND)
        NAME(CL_DEVICE_NOT_AVAILABLE)
        NAME(CL_COMPILER_NOT_AVAILABLE)
        NAME(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        NAME(CL_OUT_OF_RESOURCES)
        NAME(CL_OUT_OF_HOST_MEMORY)
        NAME(CL_PROFILING_INFO_NOT_AVAILABLE)
        NAME(CL_MEM_COPY_OVERLAP)
        NAME(CL_IMAGE_FORMAT_MISMATCH)
        NAME(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        NAME(CL_BUILD_PROGRAM_FAILURE)
        NAME(CL_MAP_FAILURE)
        NAME(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        NAME(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        NAME(CL_COMPILE_PROGRAM_FAILURE)
        NAME(CL_LINKER_NOT_AVAILABLE)
        NAME(CL_LINK_PROGRAM_FAILURE)
        NAME(CL_DEVICE_PARTITION_FAILED)
        NAME(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        NAME(CL_INVALID_VALUE)
        NAME(CL_INVALID_DEVICE_TYPE)
        NAME(CL_INVALID_PLATFORM)
        NAME(CL_INVALID_DEVICE)
        NAME(CL_INVALID_CONTEXT)
        NAME(CL_INVALID_QUEUE_PROPERTIES)
        NAME(CL_INVALID_COMMAND_QUEUE)
        NAME(CL_INVALID_HOST_PTR)
        NAME(CL_INVALID_MEM_OBJECT)
        NAME(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        NAME(CL_INVALID_IMAGE_SIZE)
        NAME(CL_INVALID_SAMPLER)
        NAME(CL_INVALID_BINARY)
        NAME(CL_INVALID_BUILD_OPTIONS)
        NAME(CL_INVALID_PROGRAM)
        NAME(CL_INVALID_PROGRAM_EXECUTABLE)
        NAME(CL_INVALID_KERNEL_NAME)
        NAME(CL_INVALID_KERNEL_DEFINITION)
        NAME(CL_INVALID_KERNEL)
        NAME(CL_INVALID_ARG_INDEX)
        NAME(CL_INVALID_ARG_VALUE)
        NAME(CL_INVALID_ARG_SIZE)
        NAME(CL_INVALID_KERNEL_ARGS)
        NAME(CL_INVALID_WORK_DIMENSION)
        NAME(CL_INVALID_WORK_GROUP_SIZE)
        NAME(CL_INVALID_WORK_ITEM_SIZE)
        NAME(CL_INVALID_GLOBAL_OFFSET)
        NAME(CL_INVALID_EVENT_WAIT_LIST)
        NAME(CL_INVALID_EVENT)
        NAME(CL_INVALID_OPERATION)
        NAME(CL_INVALID_GL_OBJECT)
        NAME(CL_INVALID_BUFFER_SIZE)
        NAME(CL_INVALID_MIP_LEVEL)
        NAME(CL_INVALID_GLOBAL_WORK_SIZE)
        NAME(CL_INVALID_PROPERTY)
        NAME(CL_INVALID_IMAGE_DESCRIPTOR)
        NAME(CL_INVALID_COMPILER_OPTIONS)
        NAME(CL_INVALID_LINKER_OPTIONS)
        NAME(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef NAME
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
}
