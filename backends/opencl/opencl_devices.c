/* opencl_devices.c — finds every platform × device once per backend, fills lowbit_device_info from
 * the CL queries, and opens a context and in-order queue per device on first use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_backend.h"

/* Vendor queries for the subgroup (warp/wavefront) width, from cl_ext.h's vendor extensions. */
#ifndef CL_DEVICE_SUB_GROUP_SIZES_INTEL
#define CL_DEVICE_SUB_GROUP_SIZES_INTEL 0x4108
#endif
#ifndef CL_DEVICE_WARP_SIZE_NV
#define CL_DEVICE_WARP_SIZE_NV 0x4003
#endif
#ifndef CL_DEVICE_WAVEFRONT_WIDTH_AMD
#define CL_DEVICE_WAVEFRONT_WIDTH_AMD 0x4043
#endif
/* OpenCL 3.0 queries (the plugin compiles against the 1.2 headers): the optional OpenCL C features, an
 * array of {cl_version, char name[64]}. */
#ifndef CL_DEVICE_OPENCL_C_FEATURES
#define CL_DEVICE_OPENCL_C_FEATURES 0x106F
#endif
#define OPENCL_NAME_VERSION_MAX_NAME_SIZE 64

static void query_string(const opencl_api *cl, cl_device_id device, cl_device_info what, char *out, size_t size)
{
    out[0] = '\0';
    size_t length = 0;
    if (cl->clGetDeviceInfo(device, what, 0, NULL, &length) != CL_SUCCESS || length == 0) return;
    char *text = malloc(length + 1);
    if (text == NULL) return;
    if (cl->clGetDeviceInfo(device, what, length, text, NULL) == CL_SUCCESS) {
        text[length] = '\0';
        snprintf(out, size, "%s", text);
    }
    free(text);
}

static uint64_t query_ulong(const opencl_api *cl, cl_device_id device, cl_device_info what)
{
    cl_ulong value = 0;
    return cl->clGetDeviceInfo(device, what, sizeof value, &value, NULL) == CL_SUCCESS ? (uint64_t)value : 0;
}

static uint32_t query_uint(const opencl_api *cl, cl_device_id device, cl_device_info what)
{
    cl_uint value = 0;
    return cl->clGetDeviceInfo(device, what, sizeof value, &value, NULL) == CL_SUCCESS ? (uint32_t)value : 0;
}

/* Whole-word match in the space-separated extension list. */
static int has_extension(const char *extensions, const char *name)
{
    size_t length = strlen(name);
    for (const char *at = strstr(extensions, name); at != NULL; at = strstr(at + 1, name))
        if ((at == extensions || at[-1] == ' ') && (at[length] == ' ' || at[length] == '\0')) return 1;
    return 0;
}

static uint32_t query_subgroup_size(const opencl_api *cl, cl_device_id device, const char *extensions)
{
    if (has_extension(extensions, "cl_intel_required_subgroup_size") ||
        has_extension(extensions, "cl_intel_subgroups")) {
        size_t sizes[16], bytes = 0;
        if (cl->clGetDeviceInfo(device, CL_DEVICE_SUB_GROUP_SIZES_INTEL, sizeof sizes, sizes, &bytes) == CL_SUCCESS &&
            bytes >= sizeof sizes[0]) {
            size_t largest = 0;
            for (size_t i = 0; i < bytes / sizeof sizes[0]; ++i)
                if (sizes[i] > largest) largest = sizes[i];
            return (uint32_t)largest;
        }
    }
    if (has_extension(extensions, "cl_nv_device_attribute_query"))
        return query_uint(cl, device, CL_DEVICE_WARP_SIZE_NV);
    if (has_extension(extensions, "cl_amd_device_attribute_query"))
        return query_uint(cl, device, CL_DEVICE_WAVEFRONT_WIDTH_AMD);
    return 0; /* cl_khr_subgroups only answers per kernel, not per device */
}

/* Whether an OpenCL 3.0 device lists `feature` among its OpenCL C features. */
static int has_c_feature(const opencl_api *cl, cl_device_id device, const char *feature)
{
    const size_t entry = sizeof(cl_uint) + OPENCL_NAME_VERSION_MAX_NAME_SIZE;
    size_t bytes = 0;
    if (cl->clGetDeviceInfo(device, CL_DEVICE_OPENCL_C_FEATURES, 0, NULL, &bytes) != CL_SUCCESS || bytes < entry)
        return 0;
    unsigned char *features = malloc(bytes);
    int found = 0;
    if (features != NULL &&
        cl->clGetDeviceInfo(device, CL_DEVICE_OPENCL_C_FEATURES, bytes, features, NULL) == CL_SUCCESS)
        for (size_t at = 0; at + entry <= bytes && !found; at += entry) {
            char name[OPENCL_NAME_VERSION_MAX_NAME_SIZE + 1];
            memcpy(name, features + at + sizeof(cl_uint), OPENCL_NAME_VERSION_MAX_NAME_SIZE);
            name[OPENCL_NAME_VERSION_MAX_NAME_SIZE] = '\0';
            found = strcmp(name, feature) == 0;
        }
    free(features);
    return found;
}

/* The -cl-std under which the subgroup built-ins compile, 0 without them. OpenCL 3.0 makes them an
 * optional feature of OpenCL C 3.0; cl_khr_subgroups is an extension of OpenCL C 2.0 (compilers such as
 * clang do not declare it under 1.2), so a 1.2-only device that lists it still gets the portable path. */
static uint32_t subgroup_std(const opencl_api *cl, cl_device_id device, const char *extensions)
{
    char version[128];
    query_string(cl, device, CL_DEVICE_VERSION, version, sizeof version);
    const int opencl3 = strncmp(version, "OpenCL 3.", 9) == 0;
    if (opencl3 && has_c_feature(cl, device, "__opencl_c_subgroups")) return 30;
    if (!has_extension(extensions, "cl_khr_subgroups")) return 0;
    query_string(cl, device, CL_DEVICE_OPENCL_C_VERSION, version, sizeof version);
    if (strncmp(version, "OpenCL C 2.", 11) == 0) return 20;
    if (strncmp(version, "OpenCL C 3.", 11) == 0) return 30;
    return opencl3 ? 30 : 0;
}

static void fill_info(const opencl_backend *backend, opencl_device *device, size_t index)
{
    const opencl_api *cl = backend->cl;
    lowbit_device_info *info = &device->info;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->api = LOWBIT_API_OPENCL;
    snprintf(info->id, sizeof info->id, "opencl:%zu", index);
    query_string(cl, device->id, CL_DEVICE_NAME, info->name, sizeof info->name);
    query_string(cl, device->id, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    query_string(cl, device->id, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    char version[512];
    query_string(cl, device->id, CL_DEVICE_VERSION, version, sizeof version);
    /* "OpenCL 3.0 <vendor text>": when it does not fit, end at a word rather than mid-word. */
    if (strlen(version) >= sizeof info->api_version) {
        version[sizeof info->api_version - 1] = '\0';
        char *space = strrchr(version, ' ');
        if (space != NULL && space - version >= 10) *space = '\0';
    }
    snprintf(info->api_version, sizeof info->api_version, "%s", version);

    cl_device_type type = 0;
    cl->clGetDeviceInfo(device->id, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->is_cpu_device = (type & CL_DEVICE_TYPE_CPU) != 0;
    device->device_class = info->is_cpu_device ? OPENCL_DEVICE_CPU : OPENCL_DEVICE_GPU;
    cl_bool unified = CL_FALSE;
    if (cl->clGetDeviceInfo(device->id, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) != CL_SUCCESS)
        unified = CL_FALSE;
    device->host_shared = info->is_cpu_device || unified == CL_TRUE;

    info->global_memory = query_ulong(cl, device->id, CL_DEVICE_GLOBAL_MEM_SIZE);
    uint64_t max_allocation = query_ulong(cl, device->id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    device->device_max_allocation = max_allocation;
    uint64_t cap = opencl_max_alloc_override(backend);
    if (cap != 0 && (max_allocation == 0 || cap < max_allocation)) max_allocation = cap;
    info->max_allocation = max_allocation;
    info->max_buffer_range = max_allocation; /* an OpenCL kernel addresses a whole buffer */
    size_t workgroup = 0;
    cl->clGetDeviceInfo(device->id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof workgroup, &workgroup, NULL);
    info->max_workgroup_size = workgroup > UINT32_MAX ? UINT32_MAX : (uint32_t)workgroup;
    info->local_memory = query_ulong(cl, device->id, CL_DEVICE_LOCAL_MEM_SIZE);
    info->compute_units = query_uint(cl, device->id, CL_DEVICE_MAX_COMPUTE_UNITS);

    size_t length = 0;
    char *extensions = NULL;
    if (cl->clGetDeviceInfo(device->id, CL_DEVICE_EXTENSIONS, 0, NULL, &length) == CL_SUCCESS &&
        (extensions = calloc(1, length + 1)) != NULL)
        cl->clGetDeviceInfo(device->id, CL_DEVICE_EXTENSIONS, length, extensions, NULL);
    const char *list = extensions ? extensions : "";
    info->fp16 = has_extension(list, "cl_khr_fp16");
    info->integer_dot = has_extension(list, "cl_khr_integer_dot_product");
    /* What the kernels can use: the cooperative layout's subgroup reduction (gemv_coop_reduce.cl). */
    device->subgroup_std = subgroup_std(cl, device->id, list);
    info->subgroups = device->subgroup_std != 0;
    info->subgroup_size = query_subgroup_size(cl, device->id, list);
    free(extensions);

    /* Exactly the formats the kernel table has a GEMV for. */
    size_t kernel_count = 0;
    const opencl_kernel_spec *kernels = opencl_kernel_table(&kernel_count);
    info->formats = 0;
    for (size_t k = 0; k < kernel_count; ++k)
        info->formats |= 1ull << kernels[k].format;

    char platform_version[128] = "";
    cl->clGetPlatformInfo(device->platform, CL_PLATFORM_VERSION, sizeof platform_version - 1, platform_version, NULL);
    snprintf(device->driver_key, sizeof device->driver_key, "%s|%s|%s|%s", info->name, info->vendor,
             info->driver_version, platform_version);
}

/* Appends the devices of one platform; a platform that fails to answer is skipped. */
static void probe_platform(opencl_backend *backend, cl_platform_id platform)
{
    const opencl_api *cl = backend->cl;
    cl_uint count = 0;
    cl_int error = cl->clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &count);
    if (error != CL_SUCCESS || count == 0) {
        if (error != CL_DEVICE_NOT_FOUND)
            opencl_log(backend, LOWBIT_LOG_INFO, "opencl: a platform listed no devices (%s)", opencl_error_name(error));
        return;
    }
    cl_device_id *ids = calloc(count, sizeof *ids);
    opencl_device *grown = realloc(backend->devices, (backend->device_count + count) * sizeof *grown);
    if (ids == NULL || grown == NULL) {
        free(ids);
        if (grown != NULL) backend->devices = grown;
        return;
    }
    backend->devices = grown;
    if (cl->clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count, ids, &count) == CL_SUCCESS) {
        for (cl_uint i = 0; i < count; ++i) {
            opencl_device *device = &backend->devices[backend->device_count];
            memset(device, 0, sizeof *device);
            if (pthread_mutex_init(&device->lock, NULL) != 0) continue;
            device->platform = platform;
            device->id = ids[i];
            fill_info(backend, device, backend->device_count);
            opencl_log(backend, LOWBIT_LOG_DEBUG, "opencl: %s is %s (%s, driver %s)", device->info.id,
                       device->info.name, device->info.api_version, device->info.driver_version);
            backend->device_count++;
        }
    }
    free(ids);
}

/* One probe at a time in the whole process, not per backend instance: every lowbit context has its own
 * instance, and the ICD loader and PoCL initialise themselves on first use without a lock of their own
 * (two contexts probing at once crashed in there). */
static pthread_mutex_t process_probe_lock = PTHREAD_MUTEX_INITIALIZER;

lowbit_status opencl_devices_probe(opencl_backend *backend)
{
    pthread_mutex_lock(&process_probe_lock);
    if (!backend->probed) {
        backend->probed = 1;
        const char *why = NULL;
        backend->cl = opencl_api_load(&why);
        if (backend->cl == NULL) {
            opencl_log(backend, LOWBIT_LOG_INFO, "opencl: no devices: %s", why);
        } else {
            cl_uint count = 0;
            cl_int error = backend->cl->clGetPlatformIDs(0, NULL, &count);
            if (error != CL_SUCCESS || count == 0) {
                opencl_log(backend, LOWBIT_LOG_INFO, "opencl: no devices: no OpenCL platform installed (%s)",
                           error == CL_SUCCESS ? "0 platforms" : opencl_error_name(error));
            } else {
                cl_platform_id *platforms = calloc(count, sizeof *platforms);
                if (platforms != NULL && backend->cl->clGetPlatformIDs(count, platforms, &count) == CL_SUCCESS)
                    for (cl_uint i = 0; i < count; ++i)
                        probe_platform(backend, platforms[i]);
                free(platforms);
                if (backend->device_count == 0)
                    opencl_log(backend, LOWBIT_LOG_INFO, "opencl: no devices: %u platform(s) listed none",
                               (unsigned)count);
            }
        }
    }
    pthread_mutex_unlock(&process_probe_lock);
    return LOWBIT_OK;
}

lowbit_status opencl_device_open(opencl_backend *backend, opencl_device *device)
{
    if (device->queue != NULL) return LOWBIT_OK;
    const opencl_api *cl = backend->cl;
    cl_int error = CL_SUCCESS;
    cl_context_properties properties[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)device->platform, 0};
    device->context = cl->clCreateContext(properties, 1, &device->id, NULL, NULL, &error);
    if (device->context == NULL || error != CL_SUCCESS) {
        device->context = NULL;
        return opencl_fail_call(backend, "clCreateContext", error, 0);
    }
    /* Profiling gives matmul its device time (args->device_seconds); without it the queue still works. */
    device->queue = cl->clCreateCommandQueue(device->context, device->id, CL_QUEUE_PROFILING_ENABLE, &error);
    device->profiling = device->queue != NULL && error == CL_SUCCESS;
    if (!device->profiling) device->queue = cl->clCreateCommandQueue(device->context, device->id, 0, &error);
    if (device->queue == NULL || error != CL_SUCCESS) {
        device->queue = NULL;
        cl->clReleaseContext(device->context);
        device->context = NULL;
        return opencl_fail_call(backend, "clCreateCommandQueue", error, 0);
    }
    return LOWBIT_OK;
}

lowbit_status opencl_device_buffer(opencl_backend *backend, opencl_device *device, cl_mem_flags flags, size_t bytes,
                                   void *host, cl_mem *out)
{
    *out = NULL;
    if (opencl_fault(backend, "opencl.alloc"))
        return opencl_fail(backend, LOWBIT_ERROR_DEVICE,
                           "clCreateBuffer failed: CL_MEM_OBJECT_ALLOCATION_FAILURE (-4) for %zu bytes "
                           "(fault injected: opencl.alloc)",
                           bytes);
    cl_int error = CL_SUCCESS;
    cl_mem memory = backend->cl->clCreateBuffer(device->context, flags, bytes, host, &error);
    if (memory == NULL || error != CL_SUCCESS) {
        if (memory != NULL) backend->cl->clReleaseMemObject(memory);
        return opencl_fail_call(backend, "clCreateBuffer", error, 1);
    }
    *out = memory;
    return LOWBIT_OK;
}

void opencl_devices_release(opencl_backend *backend)
{
    for (size_t i = 0; i < backend->device_count; ++i) {
        opencl_device *device = &backend->devices[i];
        opencl_programs_release(backend, device);
        opencl_bandwidth_release(backend, device);
        opencl_queue_device_release(backend, device);
        if (device->x_scratch) backend->cl->clReleaseMemObject(device->x_scratch);
        if (device->y_scratch) backend->cl->clReleaseMemObject(device->y_scratch);
        if (device->sums_scratch) backend->cl->clReleaseMemObject(device->sums_scratch);
        if (device->xq_scratch) backend->cl->clReleaseMemObject(device->xq_scratch);
        if (device->xd_scratch) backend->cl->clReleaseMemObject(device->xd_scratch);
        if (device->queue) backend->cl->clReleaseCommandQueue(device->queue);
        if (device->context) backend->cl->clReleaseContext(device->context);
        pthread_mutex_destroy(&device->lock);
    }
    free(backend->devices);
    backend->devices = NULL;
    backend->device_count = 0;
}
