/* import_run.h — the import job: read a quantized safetensors checkpoint, validate it, choose each tensor's
 * ggml format, write the GGUF file (atomically) and measure how exactly every tensor was carried over. */
#ifndef LOWBIT_IMPORT_RUN_H
#define LOWBIT_IMPORT_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/import/import_options.h"

typedef enum import_mapping {
    IMPORT_MAPPING_CARRIED,    /* copied unchanged (not quantized in the checkpoint) */
    IMPORT_MAPPING_DIRECT,     /* the stored integers and scales written into the target's blocks */
    IMPORT_MAPPING_REQUANTIZED /* dequantized to f32, then quantized to the target */
} import_mapping;

typedef struct import_tensor_report {
    char *name;         /* as written to the GGUF file */
    const char *layout; /* "gptq-v1", "gptq-v2", "awq-gemm", "ternary", or the carried dtype ("F16") */
    int bits;           /* 0 for carried tensors; 2 for ternary (1.58) */
    uint64_t group_size;
    int act_order;
    int target_type;
    import_mapping mapping;
    const char *note; /* why this target, or NULL */
    uint64_t rows, cols;
    uint64_t blocks, exact_blocks; /* blocks of the target's size (32 elements for float targets) */
    double max_abs_diff;           /* against the checkpoint's dequantized f32 values */
    double squared_error, squared_reference;
    double nmse;
} import_tensor_report;

typedef struct import_summary {
    const char *method; /* "gptq", "awq", "ternary" */
    int bits;
    long group_size;
    const char *zeros;        /* "v1", "v2" or NULL (not GPTQ) */
    const char *zeros_reason; /* how the zero convention was decided */
    import_tensor_report *tensors;
    size_t tensor_count;
    size_t imported, inexact, carried, skipped;
    uint64_t output_bytes;
} import_summary;

/* 0 on success; −1 with a message naming the problem (exit status 1). */
int import_run(const import_options *options, import_summary *summary, char *error, size_t error_size);
void import_summary_free(import_summary *summary);

void import_report_text(FILE *out, const import_options *options, const import_summary *summary);
void import_report_json(FILE *out, const import_options *options, const import_summary *summary);

#endif
