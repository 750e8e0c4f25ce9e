/* conform_report.c — the human table line per case and the JUnit XML / JSON reports. */
#include <stdio.h>
#include <string.h>

#include "conform.h"
#include "tools/common/tool_util.h"

void conform_report_line(FILE *out, const conform_case *c, const conform_result *r)
{
    fprintf(out, "%-13s %-58s nmse %9.2e  %s%s%s\n", conform_status_name(r->status), c->id, r->nmse, r->kernel,
            r->message[0] ? "  — " : "", r->message);
}

static void xml_escaped(FILE *out, const char *text)
{
    for (const char *p = text; *p; ++p) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if ((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t') fputc(*p, out);
        }
    }
}

int conform_write_junit(const char *path, const conform_case *cases, const conform_result *results, size_t count)
{
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    size_t failures = 0, skipped = 0;
    double total = 0.0;
    for (size_t i = 0; i < count; ++i) {
        failures += results[i].status == CONFORM_FAIL;
        skipped += results[i].status == CONFORM_NOT_SUPPORTED;
        total += results[i].seconds;
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<testsuites name=\"lowbit-conform\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            count, failures, skipped, total);
    fprintf(out, "  <testsuite name=\"lowbit-conform\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            count, failures, skipped, total);
    for (size_t i = 0; i < count; ++i) {
        const conform_result *r = &results[i];
        fprintf(out, "    <testcase classname=\"");
        xml_escaped(out, cases[i].device_id);
        fprintf(out, "\" name=\"");
        xml_escaped(out, cases[i].id);
        fprintf(out, "\" time=\"%.4f\">", r->seconds);
        if (r->status == CONFORM_FAIL) {
            fprintf(out, "<failure message=\"");
            xml_escaped(out, r->message);
            fprintf(out, "\">nmse=%.6e max_abs_error=%.6e worst_index=%zu seed=%llu kernel=", r->nmse, r->max_abs_error,
                    r->worst_index, (unsigned long long)cases[i].seed);
            xml_escaped(out, r->kernel);
            fprintf(out, "</failure>");
        } else if (r->status == CONFORM_NOT_SUPPORTED) {
            fprintf(out, "<skipped message=\"");
            xml_escaped(out, r->message);
            fprintf(out, "\"/>");
        } else if (r->status == CONFORM_FALLBACK) {
            fprintf(out, "<system-out>FALLBACK: ");
            xml_escaped(out, r->message);
            fprintf(out, "</system-out>");
        }
        fprintf(out, "</testcase>\n");
    }
    fprintf(out, "  </testsuite>\n</testsuites>\n");
    return fclose(out) == 0 ? 0 : -1;
}

int conform_write_json(const char *path, const conform_case *cases, const conform_result *results, size_t count,
                       uint64_t suite_seed)
{
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    size_t totals[4] = {0};
    for (size_t i = 0; i < count; ++i) ++totals[results[i].status];
    fprintf(out, "{\n  \"tool\": \"lowbit-conform\",\n  \"lowbit_version\": \"%s\",\n  \"seed\": %llu,\n",
            lowbit_version_string(), (unsigned long long)suite_seed);
    fprintf(out, "  \"summary\": {\"cases\": %zu, \"pass\": %zu, \"fail\": %zu, \"not_supported\": %zu, \"fallback\": %zu},\n",
            count, totals[CONFORM_PASS], totals[CONFORM_FAIL], totals[CONFORM_NOT_SUPPORTED], totals[CONFORM_FALLBACK]);
    fprintf(out, "  \"cases\": [\n");
    for (size_t i = 0; i < count; ++i) {
        const conform_case *c = &cases[i];
        const conform_result *r = &results[i];
        fprintf(out, "    {\"id\": ");
        tool_json_string(out, c->id);
        fprintf(out, ", \"device\": ");
        tool_json_string(out, c->device_id);
        fprintf(out, ", \"kernel\": \"%s\", \"format\": \"%s\", \"activation\": \"%s\", \"rows\": %zu, \"cols\": %zu, "
                     "\"n\": %zu, \"variant\": \"%s\", \"seed\": %llu,\n     \"status\": \"%s\", ",
                conform_kernel_name(c->kernel), lowbit_format_name(c->format),
                c->activation == LOWBIT_ACTIVATION_F16 ? "f16" : "f32", c->rows, c->cols, c->n,
                conform_variant_name(c->variant), (unsigned long long)c->seed, conform_status_name(r->status));
        /* JSON has no NaN: a non-finite error is reported as null */
        if (r->nmse == r->nmse && r->nmse < 1e308) fprintf(out, "\"nmse\": %.6e, ", r->nmse);
        else fprintf(out, "\"nmse\": null, ");
        if (r->max_abs_error == r->max_abs_error && r->max_abs_error < 1e308)
            fprintf(out, "\"max_abs_error\": %.6e, ", r->max_abs_error);
        else fprintf(out, "\"max_abs_error\": null, ");
        fprintf(out, "\"worst_index\": %zu, \"tolerance\": %.1e, \"seconds\": %.4f, \"ran_kernel\": ", r->worst_index,
                r->tolerance, r->seconds);
        tool_json_string(out, r->kernel);
        fprintf(out, ", \"message\": ");
        tool_json_string(out, r->message);
        fprintf(out, "}%s\n", i + 1 < count ? "," : "");
    }
    fprintf(out, "  ]\n}\n");
    return fclose(out) == 0 ? 0 : -1;
}
