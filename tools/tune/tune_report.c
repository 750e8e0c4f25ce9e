/* tune_report.c — what lowbit-tune prints and writes: the default-vs-tuned table, --json, the --plot PNG (speed-up
 * per case, through gnuplot as lowbit-bench does), and the database entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/tuning/tuning_db.h"
#include "tools/common/tool_util.h"
#include "tune.h"

static double speedup(const tune_case *c)
{
    if (c->baseline.status != TUNE_OK || c->best_result.status != TUNE_OK || c->best_result.seconds <= 0.0) return 0.0;
    return c->baseline.seconds / c->best_result.seconds;
}

void tune_print_table(const tune_case *cases, size_t count)
{
    printf("\n%-10s %-7s %5s %-11s %11s %11s %8s %6s  %s\n", "device", "format", "n", "shape", "default ms", "tuned ms",
           "speed-up", "tried", "parameters");
    for (size_t i = 0; i < count; ++i) {
        const tune_case *c = &cases[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%zux%zu", c->shape.rows, c->shape.cols);
        if (c->baseline.status != TUNE_OK) {
            printf("%-10s %-7s %5zu %-11s %11s %11s %8s %6zu  default %s: %s\n", c->info.id,
                   lowbit_format_name(c->format), c->n, shape, "-", "-", "-", c->measured + c->journaled,
                   tune_status_name(c->baseline.status), c->baseline.why);
            continue;
        }
        printf("%-10s %-7s %5zu %-11s %11.3f %11.3f %7.2fx %6zu  %s%s\n", c->info.id, lowbit_format_name(c->format),
               c->n, shape, c->baseline.seconds * 1e3, c->best_result.seconds * 1e3, speedup(c),
               c->measured + c->journaled, c->best.params[0] ? c->best.params : "(default kept)",
               c->wrong + c->failed ? " *" : "");
    }
    printf(
        "\ntimes: median kernel time over weight copies larger than the device's cache; a candidate is written only\n"
        "when it beats the default by more than the noise band; '*': some candidates were rejected (wrong answer\n"
        "or refused), see --json.\n");
}

static void json_result(FILE *out, const char *name, const tune_result *r)
{
    fprintf(out, "\"%s\": {\"status\": \"%s\", \"seconds\": %.9g, \"spread\": %.4g, \"nmse\": %.4g, \"kernel\": ", name,
            tune_status_name(r->status), r->seconds, r->spread, r->nmse);
    tool_json_string(out, r->kernel);
    fprintf(out, ", \"why\": ");
    tool_json_string(out, r->why);
    fprintf(out, "}");
}

int tune_write_json(const char *path, const tune_case *cases, size_t count, double total_seconds)
{
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    fprintf(out, "{\n  \"tool\": \"lowbit-tune %s\",\n  \"seconds\": %.1f,\n  \"cases\": [\n", lowbit_version_string(),
            total_seconds);
    for (size_t i = 0; i < count; ++i) {
        const tune_case *c = &cases[i];
        fprintf(out, "    {\"device\": ");
        tool_json_string(out, c->info.id);
        fprintf(out, ", \"name\": ");
        tool_json_string(out, c->info.name);
        fprintf(out, ", \"driver\": ");
        tool_json_string(out, c->info.driver_version);
        fprintf(out,
                ", \"format\": \"%s\", \"n\": %zu, \"rows\": %zu, \"cols\": %zu, \"space\": %zu, \"measured\": %zu, "
                "\"from_journal\": %zu, \"wrong\": %zu, \"failed\": %zu, \"written\": %d, \"params\": ",
                lowbit_format_name(c->format), c->n, c->shape.rows, c->shape.cols, c->space, c->measured, c->journaled,
                c->wrong, c->failed, c->written);
        tool_json_string(out, c->best.params);
        fprintf(out, ", \"speedup\": %.4f, ", speedup(c));
        json_result(out, "default", &c->baseline);
        fprintf(out, ", ");
        json_result(out, "tuned", &c->best_result);
        fprintf(out, "}%s\n", i + 1 < count ? "," : "");
    }
    fprintf(out, "  ]\n}\n");
    return fclose(out) == 0 ? 0 : -1;
}

int tune_write_plot(const char *path, const tune_case *cases, size_t count)
{
    tool_plot plot;
    if (tool_plot_begin(&plot) != 0) return -1;
    for (size_t i = 0; i < count; ++i)
        if (speedup(&cases[i]) > 0.0)
            fprintf(plot.data, "\"%s %s n=%zu\" %.4f\n", cases[i].info.id, lowbit_format_name(cases[i].format),
                    cases[i].n, speedup(&cases[i]));
    fprintf(plot.script,
            "set terminal pngcairo size 1100,560 noenhanced\nset output '%s'\n"
            "set title 'lowbit-tune: default time / tuned time per case (1 = default kept)'\n"
            "set style data histograms\nset style fill solid 0.85 border -1\nset boxwidth 0.8\n"
            "set ylabel 'speed-up over the built-in default'\nset yrange [0:*]\nset grid ytics\n"
            "set xtics rotate by -45\nunset key\nplot '%s' using 2:xtic(1), 1 with lines lc rgb 'gray'\n",
            path, plot.data_path);
    return tool_plot_finish(&plot);
}

static const char *api_name(lowbit_api api)
{
    return api == LOWBIT_API_OPENCL ? "opencl" : api == LOWBIT_API_VULKAN ? "vulkan" : "cpu";
}

int tune_write_database(const char *path, const tune_case *cases, size_t count, size_t device, size_t repeat)
{
    char why[512];
    tuning_db *db = tuning_db_create();
    if (!db) return -1;
    if (access(path, F_OK) == 0 && tuning_db_load_file(db, path, NULL, why, sizeof why) != 0) {
        fprintf(stderr, "lowbit-tune: the existing database is unreadable and is not overwritten: %s\n", why);
        tuning_db_destroy(db);
        return -1;
    }
    char date[16];
    time_t now = time(NULL);
    struct tm day;
    gmtime_r(&now, &day);
    strftime(date, sizeof date, "%Y-%m-%d", &day);
    /* per format and n class, one entry from the case of the largest matrix tuned: shape "*" when every matrix tuned
     * for them is of one shape class, else one entry per shape class (small, large) */
    for (size_t i = 0; i < count; ++i) {
        const tune_case *c = &cases[i];
        if (c->device != device || !c->written) continue;
        int larger_later = 0, classes_differ = 0;
        const char *shape_class = tuning_shape_class(c->shape.rows, c->shape.cols);
        for (size_t j = 0; j < count; ++j) {
            const tune_case *o = &cases[j];
            if (j == i || o->device != device || !o->written || o->format != c->format ||
                strcmp(tuning_n_class(o->n), tuning_n_class(c->n)) != 0)
                continue;
            int same_class = strcmp(tuning_shape_class(o->shape.rows, o->shape.cols), shape_class) == 0;
            classes_differ |= !same_class;
            size_t size_o = o->shape.rows * o->shape.cols, size_c = c->shape.rows * c->shape.cols;
            larger_later |= same_class && (size_o > size_c || (size_o == size_c && j > i));
        }
        if (larger_later) continue;
        tuning_entry entry;
        tuning_entry_init(&entry);
        snprintf(entry.api, sizeof entry.api, "%s", api_name(c->info.api));
        snprintf(entry.vendor, sizeof entry.vendor, "%s", c->info.vendor);
        snprintf(entry.device, sizeof entry.device, "%s", c->info.name);
        snprintf(entry.driver, sizeof entry.driver, "%s", c->info.driver_version);
        snprintf(entry.device_class, sizeof entry.device_class, "%s", c->info.is_cpu_device ? "cpu" : "gpu");
        snprintf(entry.family, sizeof entry.family, "%s", c->n > 8 ? "gemm" : "gemv");
        char format[24];
        snprintf(format, sizeof format, "%s", lowbit_format_name(c->format));
        for (char *f = format; *f; ++f)
            if (*f >= 'A' && *f <= 'Z') *f = (char)(*f - 'A' + 'a');
        snprintf(entry.format, sizeof entry.format, "%s", format);
        snprintf(entry.n_class, sizeof entry.n_class, "%s", tuning_n_class(c->n));
        snprintf(entry.shape, sizeof entry.shape, "%s", classes_differ ? shape_class : "*");
        snprintf(entry.params, sizeof entry.params, "%s", c->best.params);
        entry.seconds = c->best_result.seconds;
        entry.default_seconds = c->baseline.seconds;
        entry.spread = c->best_result.spread;
        snprintf(entry.tool, sizeof entry.tool, "lowbit-tune %s", lowbit_version_string());
        snprintf(entry.date, sizeof entry.date, "%s", date);
        entry.repeats = (long)repeat;
        if (tuning_db_put(db, &entry) != 0) {
            fprintf(stderr, "lowbit-tune: out of memory\n");
            tuning_db_destroy(db);
            return -1;
        }
    }
    int status = tuning_db_write_file(db, path, why, sizeof why);
    if (status != 0) fprintf(stderr, "lowbit-tune: %s\n", why);
    tuning_db_destroy(db);
    return status;
}
