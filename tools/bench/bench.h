/* bench.h — lowbit-bench's pieces: option parsing, the measurement loop, and the reports. */
#ifndef LOWBIT_BENCH_H
#define LOWBIT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit/lowbit.h"

#define BENCH_MAX_ITEMS 32
/* Each matrix is uploaded as enough copies that one rotation through them reads >= BENCH_CACHE_MULTIPLE x the
 * device's cache (tools/common/llc.h), at most BENCH_MAX_COPIES, so every timed call reads DRAM (or VRAM). */
#define BENCH_CACHE_MULTIPLE 4
#define BENCH_MAX_COPIES 64

typedef struct bench_shape {
    size_t rows, cols;
} bench_shape;

typedef struct bench_options {
    const char *devices[BENCH_MAX_ITEMS];
    size_t device_count; /* 0 = all */
    lowbit_format formats[BENCH_MAX_ITEMS];
    size_t format_count;
    bench_shape shapes[BENCH_MAX_ITEMS];
    size_t shape_count;
    size_t ns[BENCH_MAX_ITEMS];
    size_t n_count;
    size_t repeat;
    const char *dots[3];    /* --dot: "float", "int", "auto", each measured in a context of its own */
    size_t dot_count;       /* 0: one context with the default (LOWBIT_PARAMS, else auto) */
    const char *tunings[2]; /* --tuning: "tuned" (tuning=1) and/or "default" (tuning=0), a context each */
    size_t tuning_count;
    const char *json, *plot, *model;
    char *device_list; /* owned copy the device ids point into */
} bench_options;

typedef struct bench_measurement {
    char device_id[32];
    char device_name[128];
    double device_bandwidth; /* bytes/s from the probe, 0 when unknown */
    lowbit_format format;
    size_t rows, cols, n;
    double seconds, spread; /* median kernel time and (max − min) / median over the repeats */
    double host_seconds;    /* median wall time − median kernel time: dispatch, copies, sync */
    int timed_on_device;    /* 1 when the backend reported kernel time; else wall time is used */
    double gbps, percent_of_bandwidth, gflops;
    double ratio_to_f32, ratio_to_f16; /* time(F32 or F16) / time(this): > 1 is faster; 0 = not measured */
    char dot[8];                       /* the --dot path it ran under, "" without --dot */
    double ratio_to_float; /* time(dot=float) / time(this), same device, format, shape and n; 0 = none; under
                            * --tuning: time(default, tuning=0) / time(this) */
    char kernel[96];
    int fell_back;
    /* the cache the measurement defeats and how: copies of the matrix in rotation, their bytes together */
    uint64_t cache_bytes;
    char cache_source[16]; /* "sysfs", "sysconf", "default" or "gpu floor" (tools/common/llc.h) */
    size_t copies;
    uint64_t rotation_bytes;
    int copies_capped;    /* 1: a cap (BENCH_MAX_COPIES, memory) left rotation_bytes < BENCH_CACHE_MULTIPLE x cache */
    uint64_t probe_bytes; /* the bandwidth probe's buffer, 0 when there was no probe */
} bench_measurement;

/* 0 on success, 1 for --help, -1 on a bad argument (message printed). */
int bench_options_parse(int argc, char **argv, bench_options *options);
void bench_options_free(bench_options *options);
/* Runs everything the options ask for, in contexts[c] (made with params "dot=<dots[c]>" when dots is not
 * NULL); returns the process exit status. */
int bench_run(lowbit_context *const *contexts, const char *const *dots, size_t context_count,
              const bench_options *options);

/* How many copies of a matrix_bytes matrix to rotate through: enough that they hold >= BENCH_CACHE_MULTIPLE x
 * cache_bytes, at least 1, at most BENCH_MAX_COPIES and, when budget_bytes > 0, at most budget_bytes /
 * matrix_bytes (but 1 even when one copy is larger). *capped = 1 when a cap kept the copies below the goal. */
size_t bench_weight_copies(uint64_t matrix_bytes, uint64_t cache_bytes, uint64_t budget_bytes, int *capped);

/* bench_report.c */
void bench_print_table(const bench_measurement *m, size_t count);
int bench_write_json(const char *path, const bench_measurement *m, size_t count);
int bench_write_plot(const char *path, const bench_measurement *m, size_t count);

#endif
