/* import_report.c — lowbit-import's per-tensor report, as a table for people or JSON for scripts. */
#include <inttypes.h>

#include "lowbit/lowbit_format.h"
#include "tools/common/tool_util.h"
#include "tools/import/import_run.h"

static const char *mapping_name(import_mapping mapping)
{
    return mapping == IMPORT_MAPPING_DIRECT        ? "direct"
           : mapping == IMPORT_MAPPING_REQUANTIZED ? "requantized"
                                                   : "carried";
}

void import_report_text(FILE *out, const import_options *options, const import_summary *s)
{
    fprintf(out, "%s -> %s: method %s", options->input, options->output, s->method);
    if (s->bits && s->group_size) fprintf(out, ", %d-bit, group size %ld", s->bits, s->group_size);
    if (s->zeros) fprintf(out, ", zeros %s (%s)", s->zeros, s->zeros_reason);
    fprintf(out, "\n%-44s %-9s %4s %6s %3s %-6s %-11s %15s %11s %11s\n", "tensor", "layout", "bits", "group", "ao",
            "type", "mapping", "exact blocks", "max|diff|", "NMSE");
    for (size_t i = 0; i < s->tensor_count; ++i) {
        const import_tensor_report *r = &s->tensors[i];
        fprintf(out, "%-44s %-9s ", r->name, r->layout ? r->layout : "?");
        if (r->mapping == IMPORT_MAPPING_CARRIED) {
            fprintf(out, "%4s %6s %3s %-6s %-11s %15s %11s %11s", "-", "-", "-", lowbit_format_name(r->target_type),
                    "carried", "-", "-", "-");
        } else {
            char blocks[48];
            snprintf(blocks, sizeof blocks, "%" PRIu64 "/%" PRIu64, r->exact_blocks, r->blocks);
            fprintf(out, "%4d %6" PRIu64 " %3s %-6s %-11s %15s %11.4g %11.4g", r->bits, r->group_size,
                    r->act_order ? "yes" : "no", lowbit_format_name(r->target_type), mapping_name(r->mapping), blocks,
                    r->max_abs_diff, r->nmse);
        }
        if (r->note) fprintf(out, "  (%s)", r->note);
        fputc('\n', out);
    }
    char size[32];
    fprintf(out, "%zu imported (%zu exact, %zu with differences), %zu carried, %zu skipped; wrote %s (%s)\n",
            s->imported, s->imported - s->inexact, s->inexact, s->carried, s->skipped, options->output,
            tool_human_bytes(s->output_bytes, size, sizeof size));
}

void import_report_json(FILE *out, const import_options *options, const import_summary *s)
{
    fprintf(out, "{\"input\": ");
    tool_json_string(out, options->input);
    fprintf(out, ", \"output\": ");
    tool_json_string(out, options->output);
    fprintf(out, ", \"method\": ");
    tool_json_string(out, s->method);
    fprintf(out, ", \"bits\": %d, \"group_size\": %ld, \"zeros\": ", s->bits, s->group_size);
    if (s->zeros)
        tool_json_string(out, s->zeros);
    else
        fputs("null", out);
    fprintf(out, ", \"zeros_reason\": ");
    if (s->zeros_reason)
        tool_json_string(out, s->zeros_reason);
    else
        fputs("null", out);
    fprintf(out,
            ", \"imported\": %zu, \"inexact\": %zu, \"carried\": %zu, \"skipped\": %zu, \"output_bytes\": %" PRIu64
            ",\n \"tensors\": [",
            s->imported, s->inexact, s->carried, s->skipped, s->output_bytes);
    for (size_t i = 0; i < s->tensor_count; ++i) {
        const import_tensor_report *r = &s->tensors[i];
        fprintf(out, "%s\n  {\"name\": ", i ? "," : "");
        tool_json_string(out, r->name);
        fprintf(out, ", \"layout\": ");
        tool_json_string(out, r->layout ? r->layout : "?");
        fprintf(out, ", \"type\": ");
        tool_json_string(out, lowbit_format_name(r->target_type));
        fprintf(out, ", \"mapping\": ");
        tool_json_string(out, mapping_name(r->mapping));
        fprintf(out, ", \"rows\": %" PRIu64 ", \"cols\": %" PRIu64, r->rows, r->cols);
        if (r->mapping != IMPORT_MAPPING_CARRIED)
            fprintf(out,
                    ", \"bits\": %d, \"group_size\": %" PRIu64 ", \"act_order\": %s, \"blocks\": %" PRIu64
                    ", \"exact_blocks\": %" PRIu64 ", \"max_abs_diff\": %.9g, \"nmse\": %.9g",
                    r->bits, r->group_size, r->act_order ? "true" : "false", r->blocks, r->exact_blocks,
                    r->max_abs_diff, r->nmse);
        fprintf(out, ", \"note\": ");
        if (r->note)
            tool_json_string(out, r->note);
        else
            fputs("null", out);
        fputc('}', out);
    }
    fprintf(out, "\n]}\n");
}
