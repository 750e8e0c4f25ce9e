/* lowbit-conform — the kernel conformance suite: every device × kernel × format × activation × edge
 * shape against an f64 reference, with a table, JUnit XML and JSON reports. Exit status 1 on any FAIL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lowbit/lowbit.h"
#include "tools/conform/conform.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lowbit-conform [--quick|--full] [--device ID] [--format NAME] [--kernel KIND]\n"
            "                      [--case ID] [--junit FILE] [--json FILE] [--plugin FILE] [--verbose]\n"
            "  Runs every kernel x format x shape case on every device against an f64 reference.\n"
            "  --quick        the CI set (default): edge shapes, a few batch sizes\n"
            "  --full         every shape and batch size\n"
            "  --case ID      run exactly one case, e.g. opencl:0/gemv/Q4_0/f32/67x128/n3/plain\n"
            "  --kernel KIND  gemv, gemm (float path, NMSE <= 1e-6), gemv-int, gemm-int (activations quantized\n"
            "                 to 8-bit blocks, integer dot products, NMSE <= 5e-4)\n"
            "  --plugin FILE  load this backend plugin (instead of discovering plugins); repeatable\n"
            "  --verbose      print every case, not only the ones that did not pass\n"
            "Statuses: PASS, FAIL (NMSE, max error, worst index), NOT SUPPORTED (device lacks a feature or kernel),\n"
            "FALLBACK (correct, but the CPU backend ran it: the reason is given). Exit 1 on any FAIL.\n");
}

int main(int argc, char **argv)
{
    conform_filter filter = {0};
    const char *junit = NULL, *json = NULL;
    const char *plugins[7];
    size_t plugin_count = 0;
    int verbose = 0;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const char **value = NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return usage(stdout), 0;
        if (strcmp(arg, "--quick") == 0 || strcmp(arg, "--full") == 0) {
            filter.full = strcmp(arg, "--full") == 0;
            continue;
        }
        if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(arg, "--device") == 0)
            value = &filter.device;
        else if (strcmp(arg, "--format") == 0)
            value = &filter.format;
        else if (strcmp(arg, "--kernel") == 0)
            value = &filter.kernel;
        else if (strcmp(arg, "--case") == 0)
            value = &filter.case_id;
        else if (strcmp(arg, "--junit") == 0)
            value = &junit;
        else if (strcmp(arg, "--json") == 0)
            value = &json;
        else if (strcmp(arg, "--plugin") == 0 && plugin_count < 7 && i + 1 < argc) {
            plugins[plugin_count++] = argv[++i];
            continue;
        } else {
            fprintf(stderr, "lowbit-conform: unknown argument '%s'\n", arg);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lowbit-conform: %s needs a value\n", arg);
            return 2;
        }
        *value = argv[++i];
    }
    int known_kernel = filter.kernel == NULL;
    for (int k = 0; k < CONFORM_KERNEL_COUNT && !known_kernel; ++k)
        known_kernel = strcmp(filter.kernel, conform_kernel_name((conform_kernel)k)) == 0;
    if (!known_kernel) {
        fprintf(stderr, "lowbit-conform: --kernel must be gemv, gemm, gemv-int or gemm-int, not '%s'\n", filter.kernel);
        return 2;
    }
    lowbit_format format;
    if (filter.format && lowbit_format_from_name(filter.format, &format) != 0) {
        fprintf(stderr, "lowbit-conform: unknown format '%s'\n", filter.format);
        return 2;
    }

    lowbit_context_options options = conform_contexts_options(plugins, plugin_count);
    lowbit_context *context = NULL;
    if (lowbit_context_create(&options, &context) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-conform: %s\n", lowbit_last_error());
        return 2;
    }
    if (filter.device) {
        size_t index;
        if (lowbit_device_find(context, filter.device, &index) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-conform: %s\n", lowbit_last_error());
            lowbit_context_destroy(context);
            return 2;
        }
    }
    conform_case *cases = NULL;
    size_t count = 0;
    if (conform_cases_generate(context, &filter, &cases, &count) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-conform: %s\n", lowbit_last_error());
        lowbit_context_destroy(context);
        return 2;
    }
    if (count == 0) {
        fprintf(stderr, "lowbit-conform: no case matches%s%s\n", filter.case_id ? " --case " : "",
                filter.case_id ? filter.case_id : "");
        free(cases);
        lowbit_context_destroy(context);
        return 2;
    }
    conform_result *results = calloc(count, sizeof *results);
    if (!results) return 2;
    uint64_t suite_seed = conform_seed("lowbit-conform");
    printf("lowbit-conform %s: %zu cases (%s set); each case's seed is derived from its id\n", lowbit_version_string(),
           count, filter.full ? "full" : "quick");
    conform_contexts contexts = {.main = context, .options = &options};
    int interactive = isatty(fileno(stderr));
    size_t totals[4] = {0};
    for (size_t i = 0; i < count; ++i) {
        if (interactive) fprintf(stderr, "\r[%zu/%zu] %-70s", i + 1, count, cases[i].id);
        conform_case_run(&contexts, &cases[i], &results[i]);
        ++totals[results[i].status];
        if (verbose || results[i].status == CONFORM_FAIL || filter.case_id) {
            if (interactive) fprintf(stderr, "\r%*s\r", 90, "");
            conform_report_line(stdout, &cases[i], &results[i]);
            if (results[i].status == CONFORM_FAIL) printf("%13s seed %llu\n", "", (unsigned long long)cases[i].seed);
        }
    }
    if (interactive) fprintf(stderr, "\r%*s\r", 90, "");

    /* summary per device, then one reason line per distinct fallback cause */
    printf("\n%-12s %6s %6s %6s %14s %9s\n", "device", "cases", "pass", "fail", "not supported", "fallback");
    for (size_t i = 0; i < count; ++i) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; ++j)
            seen = strcmp(cases[j].device_id, cases[i].device_id) == 0;
        if (seen) continue;
        size_t t[5] = {0};
        for (size_t j = i; j < count; ++j) {
            if (strcmp(cases[j].device_id, cases[i].device_id) != 0) continue;
            ++t[results[j].status];
            ++t[4];
        }
        printf("%-12s %6zu %6zu %6zu %14zu %9zu\n", cases[i].device_id, t[4], t[CONFORM_PASS], t[CONFORM_FAIL],
               t[CONFORM_NOT_SUPPORTED], t[CONFORM_FALLBACK]);
    }
    int shown_fallbacks = 0;
    for (size_t i = 0; i < count && shown_fallbacks < 12; ++i) {
        if (results[i].status != CONFORM_FALLBACK) continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; ++j)
            seen = results[j].status == CONFORM_FALLBACK && strcmp(cases[j].device_id, cases[i].device_id) == 0 &&
                   cases[j].format == cases[i].format;
        if (seen) continue;
        if (!shown_fallbacks++) printf("\nfallbacks:\n");
        printf("  %s %s: %s\n", cases[i].device_id, lowbit_format_name(cases[i].format), results[i].message);
    }
    printf("\n%zu passed, %zu failed, %zu not supported, %zu fell back to the CPU\n", totals[CONFORM_PASS],
           totals[CONFORM_FAIL], totals[CONFORM_NOT_SUPPORTED], totals[CONFORM_FALLBACK]);
    int status = totals[CONFORM_FAIL] ? 1 : 0;
    if (junit && conform_write_junit(junit, cases, results, count) != 0) {
        fprintf(stderr, "lowbit-conform: cannot write %s\n", junit);
        status = 2;
    }
    if (json && conform_write_json(json, cases, results, count, suite_seed) != 0) {
        fprintf(stderr, "lowbit-conform: cannot write %s\n", json);
        status = 2;
    }
    free(cases);
    free(results);
    conform_contexts_release(&contexts);
    lowbit_context_destroy(context);
    return status;
}
