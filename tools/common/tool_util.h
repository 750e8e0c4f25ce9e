/* tool_util.h — small helpers shared by the lowbit-* command-line tools: JSON string escaping, byte
 * sizes for people, monotonic time, and the list of formats a device runs. */
#ifndef LOWBIT_TOOL_UTIL_H
#define LOWBIT_TOOL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lowbit/lowbit_io.h"

/* Copies a safetensors file's __metadata__ strings into a GGUF writer as "safetensors.<key>" (best effort: a key
 * the writer refuses is left out). */
void tool_copy_safetensors_metadata(const lowbit_safetensors *file, lowbit_gguf_writer *writer);
/* Writes `text` as a JSON string literal (with quotes). */
void tool_json_string(FILE *out, const char *text);
/* "1.5 GiB" into buffer. */
const char *tool_human_bytes(uint64_t bytes, char *buffer, size_t size);
double tool_now_seconds(void);
/* "Q4_0 Q8_0 F16" for a device formats bitmask, into buffer. */
const char *tool_format_list(uint64_t formats, char *buffer, size_t size);
/* Y[n×rows] = X[n×cols]·Wᵀ in f64 over f32 weights: the reference every tool checks kernels against. */
void tool_reference_matmul(const float *w, size_t rows, size_t cols, const float *x, size_t n, double *y);
/* Σ(y−ref)² / Σref² (the error itself when the reference is all zero). */
double tool_nmse(const float *y, const double *reference, size_t count);
/* Splits `text` in place at commas into at most `max` non-empty items; 0, or -1 for none or too many. */
int tool_split_list(char *text, char **items, size_t max, size_t *count);
/* "ROWSxCOLS", both 1..2^20; 0 on success. */
int tool_parse_shape(const char *text, size_t *rows, size_t *cols);
/* A gnuplot run: tool_plot_begin opens a temporary data file and script (plot->data, plot->script; the script
 * reads plot->data_path); tool_plot_finish closes both, runs gnuplot on the script and removes them. 0, or -1. */
typedef struct tool_plot {
    FILE *data, *script;
    char data_path[64], script_path[64];
} tool_plot;
int tool_plot_begin(tool_plot *plot);
int tool_plot_finish(tool_plot *plot);
/* Parses a positive size_t; returns 0 on success. */
int tool_parse_size(const char *text, size_t *value);
/* Reads a whole regular file into *data (caller frees). A FIFO, device or directory is refused without
 * blocking or reading; returns 0, or -1 with a message naming `what` and the path in `error`. */
int tool_read_regular_file(const char *path, const char *what, unsigned char **data, size_t *size, char *error,
                           size_t error_size);
/* The thread count a tool uses for "0 = every core": the online cores, capped at TOOL_MAX_THREADS. */
#define TOOL_MAX_THREADS 64
int tool_thread_count(int requested);
/* Runs fn on each of the n (≤ TOOL_MAX_THREADS) tasks, task i at (char *)tasks + i·task_size: task 0 on the calling
 * thread, the others on threads of their own (on the caller, in order, when a thread cannot be started); returns
 * when all have finished. */
void tool_parallel(int n, void *(*fn)(void *), void *tasks, size_t task_size);

#endif
