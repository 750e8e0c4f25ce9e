/* import_options.h — lowbit-import's command line and the quantization facts read from a checkpoint's
 * quantize_config.json or config.json ("quantization_config"). */
#ifndef LOWBIT_IMPORT_OPTIONS_H
#define LOWBIT_IMPORT_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef enum import_method {
    IMPORT_METHOD_UNSET = 0,
    IMPORT_METHOD_GPTQ,
    IMPORT_METHOD_AWQ,
    IMPORT_METHOD_TERNARY
} import_method;

typedef enum import_zeros {
    IMPORT_ZEROS_AUTO = 0,
    IMPORT_ZEROS_V1, /* stored zero − 1 (AutoGPTQ "gptq") */
    IMPORT_ZEROS_V2  /* the real zero (GPTQModel "gptq_v2") */
} import_zeros;

typedef struct import_options {
    const char *input, *output, *config_path;
    const char *arch;     /* general.architecture (default "safetensors") */
    import_method method; /* UNSET: from the config */
    int bits;             /* 0: from the config */
    long group_size;      /* 0: from the config; −1: one group per channel */
    import_zeros zeros;
    int type;         /* target format for every imported tensor; −1: chosen per tensor */
    int ternary_type; /* TQ2_0 (default) or TQ1_0 */
    int threads;
    int require_exact; /* exit 1 when an imported tensor does not reproduce the checkpoint exactly */
    int json, help;
} import_options;

/* Quantization facts found in a config file; each has_* says whether the key was present. */
typedef struct import_config {
    int has_bits, bits;
    int has_group_size;
    long group_size;
    int has_desc_act, desc_act;
    int has_sym, sym;
    int has_zero_point, zero_point;
    char quant_method[32], checkpoint_format[32], version[32]; /* "" when absent */
} import_config;

void import_options_usage(FILE *out);
/* 0, or −1 with a message (a usage error: exit status 2). */
int import_options_parse(int argc, char **argv, import_options *options, char *error, size_t error_size);
/* Reads and checks a config file with the strict JSON reader; 0, or −1 with a message naming the file and
 * the key (exit status 1). */
int import_config_read(const char *path, import_config *config, char *error, size_t error_size);

#endif
