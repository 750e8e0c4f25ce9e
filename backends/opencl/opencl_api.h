/* opencl_api.h — the OpenCL entry points the plugin uses, resolved from libOpenCL.so.1 at run time so
 * the plugin never links the loader; also CL error names for messages. */
#ifndef LOWBIT_OPENCL_API_H
#define LOWBIT_OPENCL_API_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

/* X(name, return type, parameter list): every function the plugin calls. */
#define OPENCL_API_FUNCTIONS(X)                                                                                        \
    X(clGetPlatformIDs, cl_int, (cl_uint, cl_platform_id *, cl_uint *))                                                \
    X(clGetPlatformInfo, cl_int, (cl_platform_id, cl_platform_info, size_t, void *, size_t *))                         \
    X(clGetDeviceIDs, cl_int, (cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *))                    \
    X(clGetDeviceInfo, cl_int, (cl_device_id, cl_device_info, size_t, void *, size_t *))                               \
    X(clCreateContext, cl_context,                                                                                     \
      (const cl_context_properties *, cl_uint, const cl_device_id *,                                                   \
       void(CL_CALLBACK *)(const char *, const void *, size_t, void *), void *, cl_int *))                             \
    X(clReleaseContext, cl_int, (cl_context))                                                                          \
    X(clCreateCommandQueue, cl_command_queue, (cl_context, cl_device_id, cl_command_queue_properties, cl_int *))       \
    X(clReleaseCommandQueue, cl_int, (cl_command_queue))                                                               \
    X(clCreateBuffer, cl_mem, (cl_context, cl_mem_flags, size_t, void *, cl_int *))                                    \
    X(clReleaseMemObject, cl_int, (cl_mem))                                                                            \
    X(clSetMemObjectDestructorCallback, cl_int, (cl_mem, void(CL_CALLBACK *)(cl_mem, void *), void *))                 \
    X(clCreateProgramWithSource, cl_program, (cl_context, cl_uint, const char **, const size_t *, cl_int *))           \
    X(clCreateProgramWithBinary, cl_program,                                                                           \
      (cl_context, cl_uint, const cl_device_id *, const size_t *, const unsigned char **, cl_int *, cl_int *))         \
    X(clBuildProgram, cl_int,                                                                                          \
      (cl_program, cl_uint, const cl_device_id *, const char *, void(CL_CALLBACK *)(cl_program, void *), void *))      \
    X(clGetProgramInfo, cl_int, (cl_program, cl_program_info, size_t, void *, size_t *))                               \
    X(clGetProgramBuildInfo, cl_int, (cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *))      \
    X(clReleaseProgram, cl_int, (cl_program))                                                                          \
    X(clCreateKernel, cl_kernel, (cl_program, const char *, cl_int *))                                                 \
    X(clReleaseKernel, cl_int, (cl_kernel))                                                                            \
    X(clSetKernelArg, cl_int, (cl_kernel, cl_uint, size_t, const void *))                                              \
    X(clEnqueueWriteBuffer, cl_int,                                                                                    \
      (cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint, const cl_event *, cl_event *))        \
    X(clEnqueueReadBuffer, cl_int,                                                                                     \
      (cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *, cl_event *))              \
    X(clEnqueueNDRangeKernel, cl_int,                                                                                  \
      (cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *, cl_uint,                  \
       const cl_event *, cl_event *))                                                                                  \
    X(clEnqueueFillBuffer, cl_int,                                                                                     \
      (cl_command_queue, cl_mem, const void *, size_t, size_t, size_t, cl_uint, const cl_event *, cl_event *))         \
    X(clEnqueueCopyBuffer, cl_int,                                                                                     \
      (cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const cl_event *, cl_event *))               \
    X(clFlush, cl_int, (cl_command_queue))                                                                             \
    X(clFinish, cl_int, (cl_command_queue))                                                                            \
    X(clRetainCommandQueue, cl_int, (cl_command_queue))                                                                \
    X(clWaitForEvents, cl_int, (cl_uint, const cl_event *))                                                            \
    X(clGetEventInfo, cl_int, (cl_event, cl_event_info, size_t, void *, size_t *))                                     \
    X(clGetEventProfilingInfo, cl_int, (cl_event, cl_profiling_info, size_t, void *, size_t *))                        \
    X(clRetainEvent, cl_int, (cl_event))                                                                               \
    X(clReleaseEvent, cl_int, (cl_event))

#define OPENCL_API_MEMBER(name, ret, params) ret(CL_API_CALL *name) params;
typedef struct opencl_api {
    OPENCL_API_FUNCTIONS(OPENCL_API_MEMBER)
} opencl_api;
#undef OPENCL_API_MEMBER

/* Loads libOpenCL.so.1 once per process and resolves every function. Returns the table, or NULL with
 * *why set to a static explanation (no loader installed, a symbol missing). Thread-safe. */
const opencl_api *opencl_api_load(const char **why);

/* "CL_INVALID_VALUE" for -30; "CL_UNKNOWN_ERROR" for codes this table does not name. */
const char *opencl_error_name(cl_int error);

#endif
