/* bench_model.c — lowbit-bench --model: one decode step (every weight matrix once, n = 1) per device. */
#include <stdio.h>

#include "bench.h"

int bench_model(lowbit_context *context, const bench_options *o);
int bench_model(lowbit_context *context, const bench_options *o)
{
    (void)context;
    fprintf(stderr, "lowbit-bench: --model %s: GGUF models are not readable in this build yet\n", o->model);
    return 2;
}
