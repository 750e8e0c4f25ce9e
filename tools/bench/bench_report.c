/* bench_report.c — lowbit-bench's table, JSON and gnuplot PNG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "tools/common/tool_util.h"

void bench_print_table(const bench_measurement *m, size_t count)
{
    printf("\n%-10s %-6s %-11s %4s %-5s %10s %6s %9s %7s %8s %7s %7s %7s %9s %6s %10s  %s\n", "device", "format",
           "shape", "n", "dot", "us/call", "spread", "GB/s", "% bw", "GFLOP/s", "xF32", "xF16", "xbase", "host us",
           "copies", "rotation", "kernel");
    int any_capped = 0;
    for (size_t i = 0; i < count; ++i) {
        const bench_measurement *r = &m[i];
        char shape[32], f32[16] = "-", f16[16] = "-", percent[16] = "-", to_float[16] = "-", copies[24], rotation[32];
        snprintf(shape, sizeof shape, "%zux%zu", r->rows, r->cols);
        if (r->ratio_to_f32 > 0.0) snprintf(f32, sizeof f32, "%.2f", r->ratio_to_f32);
        if (r->ratio_to_f16 > 0.0) snprintf(f16, sizeof f16, "%.2f", r->ratio_to_f16);
        if (r->percent_of_bandwidth > 0.0) snprintf(percent, sizeof percent, "%.0f%%", r->percent_of_bandwidth);
        if (r->ratio_to_float > 0.0) snprintf(to_float, sizeof to_float, "%.2f", r->ratio_to_float);
        snprintf(copies, sizeof copies, "%zu%s", r->copies, r->copies_capped ? "*" : "");
        tool_human_bytes(r->rotation_bytes, rotation, sizeof rotation);
        any_capped |= r->copies_capped;
        printf("%-10s %-6s %-11s %4zu %-5s %10.1f %5.0f%% %9.2f %7s %8.1f %7s %7s %7s %9.1f %6s %10s  %s%s%s\n",
               r->device_id, lowbit_format_name(r->format), shape, r->n, r->dot[0] ? r->dot : "-", r->seconds * 1e6,
               r->spread * 100.0, r->gbps, percent, r->gflops, f32, f16, to_float, r->host_seconds * 1e6, copies,
               rotation, r->kernel, r->timed_on_device ? "" : " (wall time)", r->fell_back ? " [CPU fallback]" : "");
    }
    printf("\nus/call: median kernel time; spread: (max-min)/median; xF32/xF16: speed-up over that format on the same\n"
           "device, shape, n and dot path; xbase: speed-up over the same case with dot=float (--dot), or with the\n"
           "built-in defaults, tuning=0 (--tuning); host us: wall time minus kernel time (dispatch, copies, sync).\n"
           "copies, rotation: each timed call multiplies the next of `copies` uploads of the matrix, whose bytes "
           "together\n"
           "(rotation) are >= %d x the device's cache, so GB/s and %% bw are DRAM figures, not cache hits.\n",
           BENCH_CACHE_MULTIPLE);
    /* the cache each device was sized against, once per device */
    for (size_t i = 0; i < count; ++i) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; ++j)
            seen = strcmp(m[j].device_id, m[i].device_id) == 0;
        if (seen) continue;
        char cache[32];
        printf("  %-10s cache %s (%s)\n", m[i].device_id, tool_human_bytes(m[i].cache_bytes, cache, sizeof cache),
               strcmp(m[i].cache_source, "gpu floor") == 0 ? "not a CPU: 256 MiB assumed, above today's GPU caches"
                                                           : m[i].cache_source);
    }
    if (any_capped)
        printf("* capped at %d copies or half the device's memory: the rotation is < %d x the cache and GB/s may\n"
               "  include cache hits.\n",
               BENCH_MAX_COPIES, BENCH_CACHE_MULTIPLE);
}

int bench_write_json(const char *path, const bench_measurement *m, size_t count)
{
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    fprintf(out,
            "{\n  \"tool\": \"lowbit-bench\",\n  \"lowbit_version\": \"%s\",\n  \"cache_multiple\": %d,\n"
            "  \"measurements\": [\n",
            lowbit_version_string(), BENCH_CACHE_MULTIPLE);
    for (size_t i = 0; i < count; ++i) {
        const bench_measurement *r = &m[i];
        fprintf(out, "    {\"device\": ");
        tool_json_string(out, r->device_id);
        fprintf(out, ", \"device_name\": ");
        tool_json_string(out, r->device_name);
        fprintf(out,
                ", \"format\": \"%s\", \"rows\": %zu, \"cols\": %zu, \"n\": %zu, \"seconds\": %.9f, \"spread\": %.4f, "
                "\"host_seconds\": %.9f, \"timed_on_device\": %s, \"gbps\": %.4f, \"device_bandwidth_gbps\": %.4f, "
                "\"percent_of_bandwidth\": %.2f, \"gflops\": %.3f, \"ratio_to_f32\": %.4f, \"ratio_to_f16\": %.4f, "
                "\"dot\": \"%s\", \"ratio_to_float\": %.4f, \"fell_back\": %s, \"kernel\": ",
                lowbit_format_name(r->format), r->rows, r->cols, r->n, r->seconds, r->spread, r->host_seconds,
                r->timed_on_device ? "true" : "false", r->gbps, r->device_bandwidth / 1e9, r->percent_of_bandwidth,
                r->gflops, r->ratio_to_f32, r->ratio_to_f16, r->dot, r->ratio_to_float,
                r->fell_back ? "true" : "false");
        tool_json_string(out, r->kernel);
        fprintf(out, ", \"cache_bytes\": %llu, \"cache_source\": ", (unsigned long long)r->cache_bytes);
        tool_json_string(out, r->cache_source);
        fprintf(out, ", \"weight_copies\": %zu, \"rotation_bytes\": %llu, \"copies_capped\": %s, \"probe_bytes\": %llu",
                r->copies, (unsigned long long)r->rotation_bytes, r->copies_capped ? "true" : "false",
                (unsigned long long)r->probe_bytes);
        fprintf(out, "}%s\n", i + 1 < count ? "," : "");
    }
    fprintf(out, "  ]\n}\n");
    return fclose(out) == 0 ? 0 : -1;
}

/* A clustered bar chart: for the first shape at n = 1, % of measured bandwidth per format, one bar per device. */
int bench_write_plot(const char *path, const bench_measurement *m, size_t count)
{
    if (count == 0) return -1;
    tool_plot plot;
    if (tool_plot_begin(&plot) != 0) return -1;
    FILE *data = plot.data, *script = plot.script;
    /* columns: format, then one column per device */
    char devices[8][32];
    size_t device_count = 0;
    for (size_t i = 0; i < count && device_count < 8; ++i) {
        int seen = 0;
        for (size_t d = 0; d < device_count; ++d)
            seen |= strcmp(devices[d], m[i].device_id) == 0;
        if (!seen) snprintf(devices[device_count++], sizeof devices[0], "%s", m[i].device_id);
    }
    fprintf(data, "format");
    for (size_t d = 0; d < device_count; ++d)
        fprintf(data, " %s", devices[d]);
    fprintf(data, "\n");
    for (int f = 0; f < LOWBIT_FORMAT_COUNT; ++f) {
        double values[8] = {0};
        int any = 0;
        for (size_t i = 0; i < count; ++i) {
            if ((int)m[i].format != f || m[i].n != 1 || m[i].rows != m[0].rows || m[i].cols != m[0].cols) continue;
            for (size_t d = 0; d < device_count; ++d)
                if (strcmp(devices[d], m[i].device_id) == 0) values[d] = m[i].percent_of_bandwidth, any = 1;
        }
        if (!any) continue;
        fprintf(data, "%s", lowbit_format_name(f));
        for (size_t d = 0; d < device_count; ++d)
            fprintf(data, " %.2f", values[d]);
        fprintf(data, "\n");
    }
    fprintf(script,
            "set terminal pngcairo size 1000,560 noenhanced\nset output '%s'\n"
            "set title 'lowbit GEMV, %zux%zu, n = 1: %% of each device''s measured memory bandwidth'\n"
            "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
            "set ylabel '%% of measured bandwidth'\nset yrange [0:*]\nset grid ytics\nset key outside right top\n"
            "plot for [col=2:%zu] '%s' using col:xtic(1) title columnheader(col)\n",
            path, m[0].rows, m[0].cols, device_count + 1, plot.data_path);
    return tool_plot_finish(&plot);
}
