/* quantize_report.c — progress display and the closing summary (text table or JSON) of lowbit-quantize. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "tools/quantize/quantize_report.h"

#include <unistd.h>

#include <string.h>

#include "lowbit/lowbit_format.h"
#include "tools/common/tool_util.h"

#define MIB (1024.0 * 1024.0)

/* lowbit's format names, plus the other ggml types a model may carry (kept, never quantized here). */
static const char *type_name(int type)
{
    static const struct {
        int id;
        const char *name;
    } others[] = {{16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {21, "IQ3_S"},
                  {22, "IQ2_S"},   {24, "I8"},     {25, "I16"},     {26, "I32"},   {27, "I64"},
                  {28, "F64"},     {29, "IQ1_M"},  {39, "MXFP4"}};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; ++i)
        if (others[i].id == type) return others[i].name;
    return lowbit_format_name(type);
}

void quantize_progress_start(quantize_progress *progress, FILE *out, int enabled, size_t total_tensors,
                             uint64_t total_bytes)
{
    memset(progress, 0, sizeof *progress);
    progress->out = out;
    progress->enabled = enabled;
    progress->tty = enabled && isatty(fileno(out));
    progress->total_tensors = total_tensors;
    progress->total_bytes = total_bytes;
    progress->start = tool_now_seconds();
}

static void draw_bar(quantize_progress *progress, const char *name)
{
    const int width = 24;
    double fraction = progress->total_bytes ? (double)progress->done_bytes / (double)progress->total_bytes : 1.0;
    double elapsed = tool_now_seconds() - progress->start;
    double eta = fraction > 0.0 ? elapsed / fraction - elapsed : 0.0;
    int filled = (int)(fraction * width + 0.5);
    char bar[32];
    for (int i = 0; i < width; ++i)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(progress->out, "\r\033[K[%s] %3.0f%% %zu/%zu %.40s  %.1f/%.1f MiB  %.1fs ETA %.1fs", bar, fraction * 100.0,
            progress->done_tensors + (name ? 1 : 0), progress->total_tensors, name ? name : "",
            (double)progress->done_bytes / MIB, (double)progress->total_bytes / MIB, elapsed, eta);
    fflush(progress->out);
}

void quantize_progress_begin(quantize_progress *progress, const char *name, uint64_t bytes)
{
    (void)bytes;
    if (progress->enabled && progress->tty) draw_bar(progress, name);
}

void quantize_progress_end(quantize_progress *progress, const quantize_tensor_result *result)
{
    progress->done_tensors++;
    progress->done_bytes += result->elements * 4;
    if (!progress->enabled) return;
    if (progress->tty) {
        draw_bar(progress, NULL);
        return;
    }
    fprintf(progress->out, "[%zu/%zu] %-40s %s -> %s%s  rmse %.3g  %.2fs\n", progress->done_tensors,
            progress->total_tensors, result->name, type_name(result->source_type), type_name(result->target_type),
            result->fallback ? " (fallback)" : "", result->rmse, result->seconds);
    fflush(progress->out);
}

void quantize_progress_finish(quantize_progress *progress)
{
    if (progress->enabled && progress->tty) {
        fputc('\n', progress->out);
        fflush(progress->out);
    }
}

static void shape_text(const quantize_tensor_result *t, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (uint32_t d = 0; d < t->n_dims && d < 4 && used < size; ++d)
        used += (size_t)snprintf(buffer + used, size - used, "%s%llu", d ? " x " : "", (unsigned long long)t->ne[d]);
}

typedef struct totals {
    uint64_t elements, before, after;
    size_t quantized, fallbacks, missing_imatrix;
} totals;

static totals sum_up(const quantize_summary *summary)
{
    totals sum = {0};
    for (size_t i = 0; i < summary->tensor_count; ++i) {
        const quantize_tensor_result *t = &summary->tensors[i];
        sum.elements += t->elements;
        sum.before += t->source_bytes;
        sum.after += t->target_bytes;
        sum.quantized += (size_t)t->quantized;
        sum.fallbacks += (size_t)t->fallback;
        sum.missing_imatrix += (size_t)t->missing_imatrix;
    }
    return sum;
}

size_t quantize_report_missing_imatrix(const quantize_summary *summary) { return sum_up(summary).missing_imatrix; }

void quantize_report_text(FILE *out, const quantize_summary *summary)
{
    totals sum = sum_up(summary);
    fprintf(out, "\n%-44s %-22s %-18s %-10s %s\n", "tensor", "shape", "type", "rmse", "note");
    for (size_t i = 0; i < summary->tensor_count; ++i) {
        const quantize_tensor_result *t = &summary->tensors[i];
        char shape[96], types[48], rmse[24];
        shape_text(t, shape, sizeof shape);
        if (t->quantized)
            snprintf(types, sizeof types, "%s -> %s", type_name(t->source_type), type_name(t->target_type));
        else
            snprintf(types, sizeof types, "%s (kept)", type_name(t->source_type));
        if (t->rmse >= 0.0)
            snprintf(rmse, sizeof rmse, "%.3g", t->rmse);
        else
            snprintf(rmse, sizeof rmse, "-");
        fprintf(out, "%-44s %-22s %-18s %-10s %s", t->name, shape, types, rmse, t->reason ? t->reason : "");
        if (t->fallback)
            fprintf(out, "; fallback %s -> %s (row of %llu)", type_name(t->wanted_type), type_name(t->target_type),
                    (unsigned long long)t->ne[0]);
        if (t->used_imatrix) fprintf(out, "; imatrix");
        if (t->used_gptq) fprintf(out, "; gptq");
        if (t->awq_alpha >= 0.0)
            fprintf(out, "; %s alpha %.2f",
                    summary->method && strcmp(summary->method, "smoothquant") == 0 ? "smoothquant" : "awq",
                    t->awq_alpha);
        if (t->awq_rows) fprintf(out, "; awq rows");
        if (t->missing_imatrix) fprintf(out, "; NO imatrix (needs one)");
        fputc('\n', out);
    }
    double bpw_before = sum.elements ? (double)sum.before * 8.0 / (double)sum.elements : 0.0;
    double bpw_after = sum.elements ? (double)sum.after * 8.0 / (double)sum.elements : 0.0;
    fprintf(out, "\n%s%s -> %s as %s (file_type %d)\n", summary->dry_run ? "plan only (--dry-run): " : "",
            summary->input, summary->output, summary->type_name, summary->file_type);
    fprintf(out, "tensors: %zu, quantized %zu, shape fallbacks %zu\n", summary->tensor_count, sum.quantized,
            sum.fallbacks);
    fprintf(out, "size: %.2f MiB (%.2f bpw) -> %.2f MiB (%.2f bpw)\n", (double)sum.before / MIB, bpw_before,
            (double)sum.after / MIB, bpw_after);
    if (summary->output_file_bytes) fprintf(out, "output file: %.2f MiB\n", (double)summary->output_file_bytes / MIB);
    fprintf(out, "time: %.2f s\n", summary->seconds);
}

void quantize_report_json(FILE *out, const quantize_summary *summary)
{
    totals sum = sum_up(summary);
    fprintf(out, "{\n  \"input\": ");
    tool_json_string(out, summary->input);
    fprintf(out, ",\n  \"output\": ");
    tool_json_string(out, summary->output);
    fprintf(out, ",\n  \"type\": ");
    tool_json_string(out, summary->type_name);
    fprintf(out, ",\n  \"file_type\": %d,\n  \"dry_run\": %s,\n  \"threads\": %d,\n  \"imatrix\": ", summary->file_type,
            summary->dry_run ? "true" : "false", summary->threads);
    if (summary->imatrix_path)
        tool_json_string(out, summary->imatrix_path);
    else
        fprintf(out, "null");
    fprintf(out, ",\n  \"method\": ");
    tool_json_string(out, summary->method ? summary->method : "rtn");
    fprintf(out, ",\n  \"hessian\": ");
    if (summary->hessian_path)
        tool_json_string(out, summary->hessian_path);
    else
        fprintf(out, "null");
    fprintf(out,
            ",\n  \"tensor_count\": %zu,\n  \"quantized_count\": %zu,\n  \"fallback_count\": %zu,\n"
            "  \"elements\": %llu,\n  \"bytes_before\": %llu,\n  \"bytes_after\": %llu,\n"
            "  \"mib_before\": %.4f,\n  \"mib_after\": %.4f,\n  \"bpw_before\": %.4f,\n  \"bpw_after\": %.4f,\n"
            "  \"missing_imatrix_count\": %zu,\n  \"output_file_bytes\": %llu,\n  \"seconds\": %.4f,\n"
            "  \"tensors\": [\n",
            summary->tensor_count, sum.quantized, sum.fallbacks, (unsigned long long)sum.elements,
            (unsigned long long)sum.before, (unsigned long long)sum.after, (double)sum.before / MIB,
            (double)sum.after / MIB, sum.elements ? (double)sum.before * 8.0 / (double)sum.elements : 0.0,
            sum.elements ? (double)sum.after * 8.0 / (double)sum.elements : 0.0, sum.missing_imatrix,
            (unsigned long long)summary->output_file_bytes, summary->seconds);
    for (size_t i = 0; i < summary->tensor_count; ++i) {
        const quantize_tensor_result *t = &summary->tensors[i];
        fprintf(out, "    {\"name\": ");
        tool_json_string(out, t->name);
        fprintf(out, ", \"shape\": [");
        for (uint32_t d = 0; d < t->n_dims && d < 4; ++d)
            fprintf(out, "%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
        fprintf(
            out,
            "], \"old_type\": \"%s\", \"new_type\": \"%s\", \"wanted_type\": \"%s\", \"quantized\": %s, "
            "\"fallback\": %s, \"imatrix\": %s, \"gptq\": %s, \"awq_alpha\": %.4g, \"needs_imatrix\": %s, \"reason\": ",
            type_name(t->source_type), type_name(t->target_type), type_name(t->wanted_type),
            t->quantized ? "true" : "false", t->fallback ? "true" : "false", t->used_imatrix ? "true" : "false",
            t->used_gptq ? "true" : "false", t->awq_alpha, t->needs_imatrix ? "true" : "false");
        tool_json_string(out, t->reason ? t->reason : "");
        fprintf(out, ", \"bytes_before\": %llu, \"bytes_after\": %llu, \"rmse\": ", (unsigned long long)t->source_bytes,
                (unsigned long long)t->target_bytes);
        if (t->rmse >= 0.0)
            fprintf(out, "%.9g", t->rmse);
        else
            fprintf(out, "null");
        fprintf(out, ", \"seconds\": %.4f}%s\n", t->seconds, i + 1 < summary->tensor_count ? "," : "");
    }
    fprintf(out, "  ]\n}\n");
}
