/* bench.h — lowbit-bench's pieces: option parsing, the measurement loop, and the reports. */
#ifndef LOWBIT_BENCH_H
#define LOWBIT_BENCH_H

#include <stddef.h>

#include "lowbit/lowbit.h"

#define BENCH_MAX_ITEMS 32

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
    const char *dots[3]; /* --dot: "float", "int", "auto", each measured in a context of its own */
    size_t dot_count;    /* 0: one context with the default (LOWBIT_PARAMS, else auto) */
    const char *json, *plot, *model;
    char *device_list; /* owned copy the device ids point into */
} bench_options;

typedef struct bench_measurement {
    char device_id[32];
    char device_name[128];
    double device_bandwidth; /* bytes/s from the probe, 0 when unknown */
    lowbit_format format;
    size_t rows, cols, n;
    double seconds, spread;  /* median kernel time and (max − min) / median over the repeats */
    double host_seconds;     /* median wall time − median kernel time: dispatch, copies, sync */
    int timed_on_device;     /* 1 when the backend reported kernel time; else wall time is used */
    double gbps, percent_of_bandwidth, gflops;
    double ratio_to_f32, ratio_to_f16; /* time(F32 or F16) / time(this): > 1 is faster; 0 = not measured */
    char dot[8];                       /* the --dot path it ran under, "" without --dot */
    double ratio_to_float;             /* time(dot=float) / time(this), same device, format, shape and n; 0 = none */
    char kernel[96];
    int fell_back;
} bench_measurement;

/* 0 on success, 1 for --help, -1 on a bad argument (message printed). */
int bench_options_parse(int argc, char **argv, bench_options *options);
void bench_options_free(bench_options *options);
/* Runs everything the options ask for, in contexts[c] (made with params "dot=<dots[c]>" when dots is not
 * NULL); returns the process exit status. */
int bench_run(lowbit_context *const *contexts, const char *const *dots, size_t context_count,
              const bench_options *options);

/* bench_report.c */
void bench_print_table(const bench_measurement *m, size_t count);
int bench_write_json(const char *path, const bench_measurement *m, size_t count);
int bench_write_plot(const char *path, const bench_measurement *m, size_t count);

#endif
