/* eval_options.h — lowbit-eval's command line, parsed and validated (numbers in range, input files present and
 * regular, a compatible set of modes) before any model is loaded. */
#ifndef LOWBIT_EVAL_OPTIONS_H
#define LOWBIT_EVAL_OPTIONS_H

#include <stdio.h>

typedef struct eval_options {
    const char *reference, *model, *text, *save_reference, *reference_logits;
    int n_ctx, chunks, skip_chunks, threads, n_gpu_layers; /* chunks 0: all that fit; threads 0: all cores */
    int ctx_given, chunks_given, skip_given;
    int json, verbose, help;
} eval_options;

#define EVAL_DEFAULT_CTX 512

/* Returns 0 (check `help`), or -1 with a message (a usage error: exit status 2). */
int eval_options_parse(int argc, char **argv, eval_options *options, char *error, size_t error_size);
void eval_options_usage(FILE *out);

#endif
