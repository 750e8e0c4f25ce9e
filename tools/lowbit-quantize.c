/* lowbit-quantize — GGUF (or safetensors) in, quantized GGUF out: llama.cpp-compatible presets and mix
 * rules, overrides, imatrix, shape fallbacks, per-tensor round-trip RMSE; see --help. */
#include <stdio.h>

#include "tools/quantize/quantize_options.h"
#include "tools/quantize/quantize_pipeline.h"

int main(int argc, char **argv)
{
    quantize_options options;
    char error[2048] = "";
    if (quantize_options_parse(argc, argv, &options, error, sizeof error) != 0) {
        fprintf(stderr, "lowbit-quantize: %s\n", error);
        fprintf(stderr, "run 'lowbit-quantize --help' for usage\n");
        quantize_options_free(&options);
        return 2;
    }
    if (options.help) {
        quantize_options_usage(stdout);
        quantize_options_free(&options);
        return 0;
    }
    quantize_summary summary;
    /* the progress display goes to stderr, so --json keeps stdout clean */
    int rc = quantize_pipeline_run(&options, options.dry_run ? NULL : stderr, &summary, error, sizeof error);
    const size_t missing = rc == 0 ? quantize_report_missing_imatrix(&summary) : 0;
    if (rc != 0) {
        fprintf(stderr, "lowbit-quantize: %s\n", error);
    } else if (options.json) {
        quantize_report_json(stdout, &summary);
    } else {
        quantize_report_text(stdout, &summary);
    }
    fflush(stdout); /* the warning follows the report */
    if (missing)
        fprintf(stderr,
                "lowbit-quantize: warning: %zu tensor%s need%s an importance matrix and %s none%s; see --imatrix\n",
                missing, missing == 1 ? "" : "s", missing == 1 ? "s" : "", missing == 1 ? "has" : "have",
                options.dry_run ? " (a real run refuses unless --allow-no-imatrix)" : " (made with built-in weights)");
    quantize_summary_free(&summary);
    quantize_options_free(&options);
    return rc == 0 ? 0 : 1;
}
