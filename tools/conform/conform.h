/* conform.h — the kernel conformance suite behind lowbit-conform: cases (device × kernel × format ×
 * activation × shape), the f64 reference check with per-kernel tolerances, and the table, JUnit and
 * JSON reports. Cases come from what the devices report, so new formats and kernels join automatically. */
#ifndef LOWBIT_CONFORM_H
#define LOWBIT_CONFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lowbit/lowbit.h"

/* The integer kinds run in a context made with dot=int (X quantized to 8-bit blocks per call) and are held to
 * the integer path's bound; the float kinds run with dot=float. */
typedef enum conform_kernel {
    CONFORM_KERNEL_GEMV = 0,
    CONFORM_KERNEL_GEMM = 1,
    CONFORM_KERNEL_GEMV_INT = 2,
    CONFORM_KERNEL_GEMM_INT = 3
} conform_kernel;

#define CONFORM_KERNEL_COUNT 4
/* 1 for the integer-dot kinds */
int conform_kernel_is_int(conform_kernel kernel);

typedef enum conform_variant {
    CONFORM_VARIANT_PLAIN = 0,     /* random weights and activations */
    CONFORM_VARIANT_UNALIGNED = 1, /* weight bytes at an odd host address (a sub-buffer of a larger one) */
    CONFORM_VARIANT_NAN = 2,       /* a NaN in the activations must reach every output */
    CONFORM_VARIANT_INF = 3,       /* an Inf in the activations: non-finite where the reference is (Inf may become NaN) */
    CONFORM_VARIANT_SPLIT = 4,     /* device allocations capped (LOWBIT_MAX_ALLOC): the matrix spans several buffers */
    CONFORM_VARIANT_OUTLIER = 5,   /* one activation 1000x the rest: its block's 8-bit grid is coarse */
    CONFORM_VARIANT_ZERO_BLOCK = 6 /* an all-zero block of activations (scale 0) */
} conform_variant;

/* The allocation cap split cases run under: far below every matrix of the split shape. */
#define CONFORM_SPLIT_MAX_ALLOC "16K"

typedef enum conform_status {
    CONFORM_PASS = 0,
    CONFORM_FAIL = 1,
    CONFORM_NOT_SUPPORTED = 2, /* the device lacks a feature (said which) */
    CONFORM_FALLBACK = 3       /* correct, but the CPU backend ran it instead (said why) */
} conform_status;

typedef struct conform_case {
    char id[160]; /* "opencl:0/gemv/Q4_0/f32/67x96/n3/plain": stable, reproduces the case with --case */
    size_t device;
    char device_id[32];
    conform_kernel kernel;
    lowbit_format format;
    lowbit_activation activation;
    size_t rows, cols, n;
    conform_variant variant;
    uint64_t seed;   /* derived from the id */
} conform_case;

typedef struct conform_result {
    conform_status status;
    double nmse, max_abs_error;
    size_t worst_index; /* flat index into Y[n×rows] of the largest error */
    double tolerance;
    char kernel[96];
    char message[320];
    double seconds;
} conform_result;

typedef struct conform_filter {
    const char *device;  /* device id, NULL = all */
    const char *format;  /* format name, NULL = all */
    const char *kernel;  /* "gemv" | "gemm" | "gemv-int" | "gemm-int", NULL = all */
    const char *case_id; /* exactly this case */
    int full;            /* the full shape set instead of the quick one */
} conform_filter;

const char *conform_kernel_name(conform_kernel kernel);
const char *conform_status_name(conform_status status);
const char *conform_variant_name(conform_variant variant);
/* Tolerance on NMSE for a kernel kind and activation type against the f64 reference (1e-6 for f32
 * activations, 5e-4 for the integer kinds; the values are in conform_tolerance itself). */
double conform_tolerance(conform_kernel kernel, lowbit_activation activation);
/* FNV-1a of the id: the case's seed. */
uint64_t conform_seed(const char *id);

/* Every case for the context's devices that passes the filter; *cases is malloc'd (caller frees).
 * Returns a lowbit_status. */
lowbit_status conform_cases_generate(lowbit_context *context, const conform_filter *filter, conform_case **cases,
                                     size_t *count);

/* Compares y against the f64 reference: NaN/Inf must appear exactly where the reference is non-finite;
 * finite outputs are held to `tolerance` NMSE. Fills nmse, max_abs_error, worst_index, status, message. */
void conform_compare(const float *y, const double *reference, size_t count, double tolerance, conform_result *result);

/* The contexts cases run in: split cases need one whose devices were probed under the allocation cap.
 * conform_contexts_split() makes it on first use (same plugins as the main context). */
typedef struct conform_contexts {
    lowbit_context *main;                   /* made with params "dot=float" (conform_contexts_options) */
    lowbit_context *split;                  /* NULL until a split case needs it */
    const lowbit_context_options *options;  /* how main was made */
    lowbit_context *integer;                /* params "dot=int"; NULL until an integer case needs it */
} conform_contexts;
/* The options for main: `plugins` (may be 0) and params "dot=float". */
lowbit_context_options conform_contexts_options(const char *const *plugins, size_t plugin_count);
lowbit_status conform_contexts_split(conform_contexts *contexts);
lowbit_status conform_contexts_integer(conform_contexts *contexts);
void conform_contexts_release(conform_contexts *contexts); /* destroys split and integer (main is the caller's) */

/* Runs one case: quantizes deterministic data, uploads, runs, compares. */
void conform_case_run(conform_contexts *contexts, const conform_case *c, conform_result *result);

/* Reports. */
void conform_report_line(FILE *out, const conform_case *c, const conform_result *r);
int conform_write_junit(const char *path, const conform_case *cases, const conform_result *results, size_t count);
int conform_write_json(const char *path, const conform_case *cases, const conform_result *results, size_t count,
                       uint64_t suite_seed);

#endif
