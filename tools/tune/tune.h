/* tune.h — lowbit-tune's pieces: options, the candidate space per backend and kernel family (from params.h's
 * keys), the measurement of one candidate (verified against the f64 reference, then timed over weight copies that
 * exceed the last-level cache), the append-only journal that makes a run resumable, and the reports. */
#ifndef LOWBIT_TUNE_H
#define LOWBIT_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "backends/common/params.h"
#include "lowbit/lowbit.h"

#define TUNE_MAX_ITEMS 32
#define TUNE_MAX_CANDIDATES 1024
#define TUNE_MAX_AXES 8
#define TUNE_MAX_VALUES 16

typedef enum tune_strategy { TUNE_AUTO, TUNE_EXHAUSTIVE, TUNE_RANDOM, TUNE_ANNEAL } tune_strategy;

typedef struct tune_shape {
    size_t rows, cols;
} tune_shape;

/* --space "wg=4,8;rows=8": the values an axis may take, replacing the built-in ones for that key. */
typedef struct tune_axis_override {
    lowbit_param_id key;
    uint32_t values[TUNE_MAX_VALUES];
    size_t count;
} tune_axis_override;

typedef struct tune_options {
    const char *devices[TUNE_MAX_ITEMS];
    size_t device_count; /* 0: every device */
    lowbit_format formats[TUNE_MAX_ITEMS];
    size_t format_count;
    size_t ns[TUNE_MAX_ITEMS];
    size_t n_count;
    tune_shape shapes[TUNE_MAX_ITEMS];
    size_t shape_count;
    const char *model; /* --model FILE.gguf: its matrices' shapes join the list */
    tune_axis_override space[TUNE_MAX_AXES];
    size_t space_count;
    tune_strategy strategy;
    size_t max_candidates;            /* measured per case at most (the default always counts as one) */
    double case_budget, total_budget; /* seconds; 0 = none */
    size_t repeat;
    double noise;        /* a candidate must beat the default by more than this fraction to be written */
    const char *output;  /* the database file; NULL: <cache>/tuning/<api>-<device>.json per device */
    const char *journal; /* NULL: <cache>/tune-journal.jsonl */
    const char *json, *plot;
    int list;          /* --list: print the cases and candidates, measure nothing */
    size_t stop_after; /* measure at most this many new candidates, then stop as interrupted (exit 3); 0 = no cap */
    unsigned seed;
    int progress; /* 1: a progress line on stderr (default when stderr is a terminal); --no-progress */
    char *device_list;
} tune_options;

/* One candidate: a parameter string without scope ("layout=row,wg=8,rows=16"), "" for the built-in default. */
typedef struct tune_candidate {
    char params[160];
} tune_candidate;

typedef enum tune_status { TUNE_OK, TUNE_WRONG, TUNE_FAILED, TUNE_TIMEOUT, TUNE_FELL_BACK } tune_status;
const char *tune_status_name(tune_status status);

typedef struct tune_result {
    tune_status status;
    double seconds, spread, nmse;
    char kernel[96];
    char why[160];
} tune_result;

/* One case: a device, format, batch and shape, and what the search found. */
typedef struct tune_case {
    size_t device;
    lowbit_device_info info;
    lowbit_format format;
    size_t n;
    tune_shape shape;
    char key[640];        /* journal key: api|vendor|device|driver|format|n|rowsxcols */
    tune_result baseline; /* the built-in default (tuning=0, no parameters) */
    tune_candidate best;  /* params of the winner ("" when the default stands) */
    tune_result best_result;
    size_t measured, journaled, wrong, failed, space;
    int written; /* an entry went to the database */
} tune_case;

/* tune_options.c: 0 on success, 1 for --help, -1 on a bad argument (message printed). */
int tune_options_parse(int argc, char **argv, tune_options *options);
void tune_options_free(tune_options *options);

/* tune_space.c: every valid candidate for a device's backend and the family n runs (gemv: n ≤ 8, else gemm), with
 * the --space overrides applied and the device's limits checked; returns the count (0: nothing to tune). */
size_t tune_space_build(const lowbit_device_info *info, size_t n, const tune_options *options,
                        tune_candidate *candidates, size_t capacity);
/* The backend's scope ("cpu", "opencl", "vulkan") of a device. */
const char *tune_scope(const lowbit_device_info *info);
/* How many keys two candidates differ in (the annealing neighbourhood is 1). */
size_t tune_candidate_distance(const tune_candidate *a, const tune_candidate *b);

/* tune_run.c */
typedef struct tune_journal tune_journal;
/* Opens (creating) the append-only journal and reads what it holds; NULL with a message printed on failure. */
tune_journal *tune_journal_open(const char *path);
void tune_journal_close(tune_journal *journal);
/* A result recorded for (case key, params): 1 with *out filled, else 0. */
int tune_journal_find(const tune_journal *journal, const char *key, const char *params, tune_result *out);
/* Appends one line and flushes it to disk; 0, or -1. */
int tune_journal_add(tune_journal *journal, const char *key, const char *params, const tune_result *result);

/* Prepared data of a case: the quantized matrix, the activations and the f64 reference. */
typedef struct tune_data {
    void *packed;
    size_t packed_size;
    float *x;
    double *reference;
    size_t rows, cols, n;
    lowbit_format format;
} tune_data;
int tune_data_make(lowbit_format format, size_t rows, size_t cols, size_t n, unsigned seed, tune_data *data);
void tune_data_free(tune_data *data);
/* Measures one candidate on a device (`device_id`, as lowbit_device_find takes it) in a context of its own made with
 * "tuning=0" and the candidate's keys under the device's scope: uploads copies of the weights that exceed the
 * device's cache `copies_goal` bytes, verifies the first result (NMSE bound of the path that ran) and times
 * `repeat` calls rotating over the copies (median, spread). A candidate that does not build, falls back to the CPU,
 * answers wrong or takes longer than `timeout` seconds for one call is recorded as such and never wins. */
void tune_measure(const char *device_id, const char *scope, const tune_candidate *candidate, const tune_data *data,
                  uint64_t copies_goal, size_t repeat, double timeout, tune_result *result);

/* tune_report.c */
void tune_print_table(const tune_case *cases, size_t count);
int tune_write_json(const char *path, const tune_case *cases, size_t count, double total_seconds);
int tune_write_plot(const char *path, const tune_case *cases, size_t count);
/* Writes the cases' winners for one device into the database at `path` (read first when it exists, entries with
 * the same key replaced, written atomically). 0, or -1 with a message printed. */
int tune_write_database(const char *path, const tune_case *cases, size_t count, size_t device, size_t repeat);

#endif
