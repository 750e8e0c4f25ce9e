/* quantize_options.h — lowbit-quantize's command line: parsed into one struct, validated (types,
 * regexes, thread count) before any file is opened. */
#ifndef LOWBIT_QUANTIZE_OPTIONS_H
#define LOWBIT_QUANTIZE_OPTIONS_H

#include <stdio.h>

#include "tools/quantize/quantize_plan.h"

typedef enum quantize_method {
    QUANTIZE_METHOD_RTN,
    QUANTIZE_METHOD_IMATRIX,
    QUANTIZE_METHOD_GPTQ,
    QUANTIZE_METHOD_AWQ,     /* AWQ scales, then the importance-weighted search */
    QUANTIZE_METHOD_AWQ_GPTQ /* AWQ scales, then GPTQ */
} quantize_method;

typedef struct quantize_options {
    const char *input, *output, *type_name;
    const quantize_preset *preset;
    quantize_override *overrides;
    size_t override_count;
    int has_output_type, has_embedding_type;
    lowbit_format output_type, embedding_type;
    int pure, json, dry_run, allow_requantize, allow_no_imatrix, help;
    int threads; /* 0: all cores */
    const char *imatrix_path;
    quantize_method method;   /* rtn, imatrix or gptq (default: imatrix when --imatrix is given, else rtn) */
    const char *hessian_path; /* lowbit-calibrate's Hessians, for gptq */
    double gptq_damp;         /* relative damping of the Hessian diagonal (default 0.01) */
    double awq_alpha;         /* AWQ's exponent; negative: searched per group (the default) */
    const char *arch;         /* general.architecture for safetensors input */
} quantize_options;

/* Returns 0 (check `help`), or -1 with a message. Free with quantize_options_free either way. */
int quantize_options_parse(int argc, char **argv, quantize_options *options, char *error, size_t error_size);
void quantize_options_free(quantize_options *options);
void quantize_options_usage(FILE *out);

#endif
