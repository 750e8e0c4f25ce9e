/* lowbit-bench — the profiler: per device a streaming-read probe measures memory bandwidth, then every
 * (format, shape, n) is timed (device kernel time from profiling events / timestamps, warm-up, median
 * and spread of repeats) and reported as GB/s, % of the probed bandwidth, GFLOP/s, and the ratio to the
 * same device's F32 and F16 kernels. Table, --json and --plot (gnuplot PNG); --model for a decode step.
 * Every timed call reads weights from DRAM: the matrix is rotated through copies >= 4 x the device's cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "tools/bench/bench.h"
#include "tools/common/tool_util.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: lowbit-bench [options]\n"
                 "  --device ID[,ID]      devices to measure (default: all)\n"
                 "  --format F[,F]        formats (default: Q4_0,Q4_K,Q6_K,Q8_0,F16,F32 where available)\n"
                 "  --shape RxC[,RxC]     weight shapes rows x cols (default: 4096x4096,11008x4096)\n"
                 "  --n N[,N]             activation rows (default: 1,8,64)\n"
                 "  --repeat N            timed runs after a warm-up call per copy (default 10)\n"
                 "  --quick               a small set for a fast look (4096x4096, n=1, 5 repeats)\n"
                 "  --model FILE.gguf     one decode step over every weight matrix of a model, per device\n"
                 "  --json FILE           write every measurement as JSON\n"
                 "  --dot P[,P]           matmul paths to compare in one run: float, int, auto (default: the\n"
                 "                        context default, LOWBIT_PARAMS or auto); xbase = speed-up over float\n"
                 "  --tuning on,off       the tuning database's parameters against the built-in defaults, in one\n"
                 "                        run (contexts with tuning=1 and tuning=0); xbase = speed-up over off\n"
                 "  --plot FILE.png       plot %% of measured bandwidth per format and device (gnuplot)\n"
                 "GB/s = (packed weight bytes + activation bytes + output bytes) / device kernel time. Both the\n"
                 "matmuls and the bandwidth probe read DRAM, not a cache: each matrix is uploaded as enough copies\n"
                 "(at most 64) to hold >= 4 x the device's cache (the host's last-level cache for CPU devices,\n"
                 "256 MiB assumed for GPUs), each timed call reads the next copy, and the probe streams >= 4 x it.\n");
}

int main(int argc, char **argv)
{
    bench_options options;
    int parsed = bench_options_parse(argc, argv, &options), status = 0;
    lowbit_context *contexts[3] = {NULL, NULL, NULL};
    size_t made = 0, wanted = options.dot_count ? options.dot_count : options.tuning_count ? options.tuning_count : 1;
    const char *const *labels = options.dot_count ? options.dots : options.tuning_count ? options.tunings : NULL;
    /* every path ends below, so the option strings are freed on errors too (leak-checked in CI) */
    if (parsed > 0) {
        usage(stdout);
    } else if (parsed < 0) {
        usage(stderr);
        status = 2;
    } else {
        for (; made < wanted; ++made) {
            char params[16];
            if (options.dot_count)
                snprintf(params, sizeof params, "dot=%s", options.dots[made]);
            else if (options.tuning_count) /* the database (tuning=1) against the built-in defaults (tuning=0) */
                snprintf(params, sizeof params, "tuning=%d", strcmp(options.tunings[made], "tuned") == 0);
            lowbit_context_options context_options = {.struct_size = sizeof context_options, .params = params};
            if (lowbit_context_create(labels ? &context_options : NULL, &contexts[made]) != LOWBIT_OK) {
                fprintf(stderr, "lowbit-bench: %s\n", lowbit_last_error());
                status = 1;
                break;
            }
        }
        if (status == 0) status = bench_run(contexts, labels, made, &options);
        for (size_t c = 0; c < made; ++c)
            lowbit_context_destroy(contexts[c]);
    }
    bench_options_free(&options);
    return status;
}
