/* quantize_report.h — what lowbit-quantize tells people and machines: a progress bar (or one plain line
 * per tensor when stderr is not a terminal), the closing per-tensor summary and its JSON form. */
#ifndef LOWBIT_QUANTIZE_REPORT_H
#define LOWBIT_QUANTIZE_REPORT_H

#include <stdint.h>
#include <stdio.h>

typedef struct quantize_tensor_result {
    char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    int source_type, target_type, wanted_type;
    int quantized, fallback, used_imatrix;
    int used_gptq;       /* rounded by GPTQ with a calibrated Hessian */
    double awq_alpha;    /* AWQ's exponent for this matrix's input scales; negative: no AWQ */
    int awq_rows;        /* its rows carry the AWQ scales of the next matrix (ffn_up before ffn_down) */
    int needs_imatrix;   /* the target is one llama-quantize makes only with importance data */
    int missing_imatrix; /* ... and it had none (allowed by --allow-no-imatrix, or only planned) */
    int requantizable;   /* copied because the rules chose its own format; --plan may still pick another */
    const char *reason;
    uint64_t elements, source_bytes, target_bytes;
    double rmse; /* of the round trip; negative when not measured (copied or dry run) */
    double seconds;
} quantize_tensor_result;

typedef struct quantize_summary {
    const char *input, *output, *type_name;
    int file_type, dry_run, threads;
    const char *imatrix_path;
    const char *method;       /* "rtn", "imatrix" or "gptq" */
    const char *hessian_path; /* NULL unless gptq */
    quantize_tensor_result *tensors;
    size_t tensor_count;
    uint64_t output_file_bytes; /* 0 when nothing was written */
    double seconds;
} quantize_summary;

/* Progress over the tensors that are quantized: `total_bytes` of f32 input. */
typedef struct quantize_progress {
    FILE *out;
    int tty, enabled;
    size_t total_tensors, done_tensors;
    uint64_t total_bytes, done_bytes;
    double start;
} quantize_progress;

void quantize_progress_start(quantize_progress *progress, FILE *out, int enabled, size_t total_tensors,
                             uint64_t total_bytes);
/* Before tensor `name` (its f32 input `bytes`) starts and after it ends. */
void quantize_progress_begin(quantize_progress *progress, const char *name, uint64_t bytes);
void quantize_progress_end(quantize_progress *progress, const quantize_tensor_result *result);
void quantize_progress_finish(quantize_progress *progress);

void quantize_report_text(FILE *out, const quantize_summary *summary);
/* How many tensors that need importance data had none. */
size_t quantize_report_missing_imatrix(const quantize_summary *summary);
void quantize_report_json(FILE *out, const quantize_summary *summary);

#endif
