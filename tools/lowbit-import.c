/* lowbit-import — a checkpoint quantized elsewhere (GPTQ, AWQ GEMM, ternary QAT safetensors) in, GGUF out,
 * keeping the stored integers where a ggml format holds them exactly; see --help and docs/import.md. */
#include <stdio.h>

#include "tools/import/import_options.h"
#include "tools/import/import_run.h"

int main(int argc, char **argv)
{
    import_options options;
    char error[2048] = "";
    if (import_options_parse(argc, argv, &options, error, sizeof error) != 0) {
        fprintf(stderr, "lowbit-import: %s\n", error);
        fprintf(stderr, "run 'lowbit-import --help' for usage\n");
        return 2;
    }
    if (options.help) {
        import_options_usage(stdout);
        return 0;
    }
    import_summary summary;
    if (import_run(&options, &summary, error, sizeof error) != 0) {
        fprintf(stderr, "lowbit-import: %s\n", error);
        import_summary_free(&summary);
        return 1;
    }
    if (options.json)
        import_report_json(stdout, &options, &summary);
    else
        import_report_text(stdout, &options, &summary);
    fflush(stdout);
    const int inexact = summary.inexact != 0;
    if (inexact)
        fprintf(stderr,
                "lowbit-import: %s%zu imported tensor%s differ%s from the checkpoint's values (see the report)\n",
                options.require_exact ? "error: " : "warning: ", summary.inexact, summary.inexact == 1 ? "" : "s",
                summary.inexact == 1 ? "s" : "");
    import_summary_free(&summary);
    return inexact && options.require_exact ? 1 : 0;
}
