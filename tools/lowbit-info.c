/* lowbit-info — lists every device of every backend (CPU, each OpenCL and Vulkan device) with its
 * limits and features, as a table for people or JSON (--json) for machines; --tuning adds what the tuning database
 * answers per device, format and batch class, and at which level. */
#include <stdio.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "tools/common/tool_util.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: lowbit-info [--json] [--tuning]\n"
                 "  Lists lowbit's devices: the built-in CPU backend and every OpenCL and Vulkan device found.\n"
                 "  --json     machine-readable output\n"
                 "  --tuning   the tuning database's sources, and per device the parameters it chooses for each\n"
                 "             format and batch class (n = 1, 8, 64 on a 4096x4096 matrix) with the level that\n"
                 "             answered (device, driver, vendor, class; default: the built-in table)\n"
                 "Environment: LOWBIT_PLUGIN_PATH (plugin folders), LOWBIT_LOG=error|warn|info|debug\n");
}

static void print_tuning(lowbit_context *context, const lowbit_device_info *devices, size_t count, int json);

static void print_json(lowbit_device_info *devices, size_t count, lowbit_context *tuning)
{
    printf("{\n  \"lowbit_version\": ");
    tool_json_string(stdout, lowbit_version_string());
    printf(",\n");
    if (tuning) print_tuning(tuning, devices, count, 1);
    printf("  \"devices\": [\n");
    for (size_t i = 0; i < count; ++i) {
        const lowbit_device_info *d = &devices[i];
        char formats[512];
        static const char *const apis[] = {"cpu", "opencl", "vulkan"};
        printf("    {\"index\": %zu, \"id\": ", i);
        tool_json_string(stdout, d->id);
        printf(", \"api\": \"%s\", \"name\": ", apis[d->api]);
        tool_json_string(stdout, d->name);
        printf(", \"vendor\": ");
        tool_json_string(stdout, d->vendor);
        printf(", \"driver_version\": ");
        tool_json_string(stdout, d->driver_version);
        printf(", \"api_version\": ");
        tool_json_string(stdout, d->api_version);
        printf(",\n     \"is_cpu_device\": %s, \"global_memory\": %llu, \"max_allocation\": %llu, "
               "\"max_buffer_range\": %llu, \"max_workgroup_size\": %u, \"local_memory\": %llu, "
               "\"subgroup_size\": %u, \"compute_units\": %u,\n     \"fp16\": %s, \"integer_dot\": %s, "
               "\"subgroups\": %s, \"formats\": ",
               d->is_cpu_device ? "true" : "false", (unsigned long long)d->global_memory,
               (unsigned long long)d->max_allocation, (unsigned long long)d->max_buffer_range, d->max_workgroup_size,
               (unsigned long long)d->local_memory, d->subgroup_size, d->compute_units, d->fp16 ? "true" : "false",
               d->integer_dot ? "true" : "false", d->subgroups ? "true" : "false");
        tool_json_string(stdout, tool_format_list(d->formats, formats, sizeof formats));
        printf("}%s\n", i + 1 < count ? "," : "");
    }
    printf("  ]\n}\n");
}

/* The database's answer for every format a device runs and each batch class: as JSON members or table lines. */
static void print_tuning(lowbit_context *context, const lowbit_device_info *devices, size_t count, int json)
{
    static const size_t batches[] = {1, 8, 64};
    char sources[4096];
    if (lowbit_tuning_sources(context, sources, sizeof sources) != LOWBIT_OK) sources[0] = '\0';
    if (json) {
        printf("  \"tuning_sources\": ");
        tool_json_string(stdout, sources);
        printf(",\n  \"tuning\": [\n");
    } else {
        printf("tuning database:\n%s\n", sources);
    }
    int first = 1;
    for (size_t i = 0; i < count; ++i) {
        size_t defaults = 0;
        for (int f = 0; f < LOWBIT_FORMAT_COUNT; ++f) {
            if (!(devices[i].formats >> f & 1u)) continue;
            for (size_t b = 0; b < sizeof batches / sizeof batches[0]; ++b) {
                char params[256], level[16];
                if (lowbit_device_tuning(context, i, (lowbit_format)f, batches[b], 4096, 4096, params, sizeof params,
                                         level, sizeof level) != LOWBIT_OK)
                    continue;
                if (json) {
                    printf("%s    {\"device\": \"%s\", \"format\": \"%s\", \"n\": %zu, \"level\": \"%s\", \"params\": ",
                           first ? "" : ",\n", devices[i].id, lowbit_format_name(f), batches[b], level);
                    tool_json_string(stdout, params);
                    printf("}");
                    first = 0;
                } else if (strcmp(level, "default") != 0) {
                    printf("  %-10s %-8s n=%-3zu %-7s %s\n", devices[i].id, lowbit_format_name(f), batches[b], level,
                           params[0] ? params : "(the built-in defaults, measured best)");
                } else {
                    defaults++;
                }
            }
        }
        if (!json) printf("  %-10s %zu format/batch pairs on the built-in defaults\n", devices[i].id, defaults);
    }
    if (json) printf("\n  ],\n");
}

static void print_table(lowbit_device_info *devices, size_t count)
{
    printf("lowbit %s: %zu device%s\n\n", lowbit_version_string(), count, count == 1 ? "" : "s");
    for (size_t i = 0; i < count; ++i) {
        const lowbit_device_info *d = &devices[i];
        char memory[32], allocation[32], range[32], local[32], formats[512];
        printf("[%zu] %-10s %s%s\n", i, d->id, d->name,
               d->is_cpu_device && d->api != LOWBIT_API_CPU ? " (CPU device)" : "");
        printf("     vendor %s | driver %s | api %s\n", d->vendor, d->driver_version, d->api_version);
        printf("     memory %s | max allocation %s | max buffer range %s | local memory %s\n",
               tool_human_bytes(d->global_memory, memory, sizeof memory),
               tool_human_bytes(d->max_allocation, allocation, sizeof allocation),
               tool_human_bytes(d->max_buffer_range, range, sizeof range),
               tool_human_bytes(d->local_memory, local, sizeof local));
        printf("     max workgroup %u | subgroup %u | compute units %u | fp16 %s | integer dot %s | subgroups %s\n",
               d->max_workgroup_size, d->subgroup_size, d->compute_units, d->fp16 ? "yes" : "no",
               d->integer_dot ? "yes" : "no", d->subgroups ? "yes" : "no");
        printf("     formats: %s\n\n", tool_format_list(d->formats, formats, sizeof formats));
    }
}

int main(int argc, char **argv)
{
    int json = 0, tuning = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--tuning") == 0)
            tuning = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 0;
        else {
            fprintf(stderr, "lowbit-info: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    lowbit_context *context = NULL;
    size_t count = 0;
    if (lowbit_context_create(NULL, &context) != LOWBIT_OK || lowbit_device_count(context, &count) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-info: %s\n", lowbit_last_error());
        lowbit_context_destroy(context);
        return 1;
    }
    lowbit_device_info devices[64];
    if (count > 64) count = 64;
    for (size_t i = 0; i < count; ++i) {
        devices[i] = (lowbit_device_info){.struct_size = sizeof devices[i]};
        if (lowbit_device_get_info(context, i, &devices[i]) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-info: device %zu: %s\n", i, lowbit_last_error());
            lowbit_context_destroy(context);
            return 1;
        }
    }
    if (json) {
        print_json(devices, count, tuning ? context : NULL);
    } else {
        print_table(devices, count);
        if (tuning) print_tuning(context, devices, count, 0);
    }
    lowbit_context_destroy(context);
    return 0;
}
