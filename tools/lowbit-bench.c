/* lowbit-bench — the profiler: per device a streaming-read probe measures memory bandwidth, then every
 * (format, shape, n) is timed (device kernel time from profiling events / timestamps, warm-up, median
 * and spread of repeats) and reported as GB/s, % of the probed bandwidth, GFLOP/s, and the ratio to the
 * same device's F32 and F16 kernels. Table, --json and --plot (gnuplot PNG); --model for a decode step. */
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
                 "  --repeat N            timed runs after a warm-up (default 10)\n"
                 "  --quick               a small set for a fast look (4096x4096, n=1, 5 repeats)\n"
                 "  --model FILE.gguf     one decode step over every weight matrix of a model, per device\n"
                 "  --json FILE           write every measurement as JSON\n"
                 "  --plot FILE.png       plot %% of measured bandwidth per format and device (gnuplot)\n"
                 "GB/s = (packed weight bytes + activation bytes + output bytes) / device kernel time.\n");
}

int main(int argc, char **argv)
{
    bench_options options;
    int parsed = bench_options_parse(argc, argv, &options), status = 0;
    lowbit_context *context = NULL;
    /* every path ends below, so the option strings are freed on errors too (leak-checked in CI) */
    if (parsed > 0) {
        usage(stdout);
    } else if (parsed < 0) {
        usage(stderr);
        status = 2;
    } else if (lowbit_context_create(NULL, &context) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-bench: %s\n", lowbit_last_error());
        status = 1;
    } else {
        status = bench_run(context, &options);
        lowbit_context_destroy(context);
    }
    bench_options_free(&options);
    return status;
}
