/* quantize_options.h — lowbit-quantize's command line: parsed into one struct, validated (types,
 * regexes, thread count) before any file is opened. */
#ifndef LOWBIT_QUANTIZE_OPTIONS_H
#define LOWBIT_QUANTIZE_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "tools/quantize/quantize_plan.h"

typedef enum quantize_method {
    QUANTIZE_METHOD_RTN,
    QUANTIZE_METHOD_IMATRIX,
    QUANTIZE_METHOD_GPTQ,
    QUANTIZE_METHOD_AWQ,        /* AWQ scales, then the importance-weighted search */
    QUANTIZE_METHOD_AWQ_GPTQ,   /* AWQ scales, then GPTQ */
    QUANTIZE_METHOD_SMOOTHQUANT /* SmoothQuant's migration scales (activation and weight maxima), then the search */
} quantize_method;

/* Whether the method multiplies weight columns by per-channel scales folded into the producer of the input. */
static inline int quantize_method_scales_inputs(quantize_method m)
{
    return m == QUANTIZE_METHOD_AWQ || m == QUANTIZE_METHOD_AWQ_GPTQ || m == QUANTIZE_METHOD_SMOOTHQUANT;
}

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
    int gptq_act_order;       /* GPTQ in activation order with static groups */
    double awq_alpha;         /* AWQ's exponent; negative: searched per group (the default) */
    double smooth_alpha;      /* SmoothQuant's migration strength (default 0.5) */
    const char *arch;         /* general.architecture for safetensors input */
    /* the mixed-precision planner (quantize_mixplan.h) */
    int plan;                /* --plan: choose each matrix's format under the budget below */
    int explain;             /* --explain: the per-tensor table of the plan */
    const char *plan_file;   /* --plan-file: apply a plan written by --plan (edited or not) */
    const char *plan_out;    /* --plan-out: where --plan writes its plan (default <out>.plan.json) */
    const char *plan_costs;  /* --plan-costs: reuse the candidates an earlier plan measured */
    const char *plan_device; /* --device: measure each candidate's GEMV time there */
    double target_bpw;       /* bits per weight of the whole file, 0: none */
    uint64_t target_bytes;   /* bytes of all tensors, 0: none */
    double target_ms;        /* planned matrices' GEMV time per token on --device (ms), 0: none */
    struct {
        char key[48]; /* a part of tensor names: "attn_v", "ffn_down", "token_embd" */
        double weight;
    } sensitivities[32]; /* --plan-sensitivity: weights of the relative errors per tensor role */
    size_t sensitivity_count;
    lowbit_format plan_formats[24];
    size_t plan_format_count; /* 0: the default candidates */
} quantize_options;

/* Returns 0 (check `help`), or -1 with a message. Free with quantize_options_free either way. */
int quantize_options_parse(int argc, char **argv, quantize_options *options, char *error, size_t error_size);
void quantize_options_free(quantize_options *options);
void quantize_options_usage(FILE *out);

#endif
