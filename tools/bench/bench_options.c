/* bench_options.c — lowbit-bench's command line: comma lists of devices, formats, shapes and batch sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tools/common/tool_util.h"

int bench_options_parse(int argc, char **argv, bench_options *o)
{
    memset(o, 0, sizeof *o);
    o->repeat = 10;
    int quick = 0;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return 1;
        if (strcmp(arg, "--quick") == 0) {
            quick = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lowbit-bench: %s needs a value\n", arg);
            return -1;
        }
        char *value = argv[++i];
        char *items[BENCH_MAX_ITEMS];
        size_t count = 0;
        if (strcmp(arg, "--device") == 0) {
            free(o->device_list);
            o->device_list = strdup(value);
            if (!o->device_list || tool_split_list(o->device_list, items, BENCH_MAX_ITEMS, &count) != 0) goto bad;
            for (size_t k = 0; k < count; ++k)
                o->devices[k] = items[k];
            o->device_count = count;
        } else if (strcmp(arg, "--format") == 0 || strcmp(arg, "--shape") == 0 || strcmp(arg, "--n") == 0) {
            char copy[512];
            if (strlen(value) >= sizeof copy) goto bad;
            strcpy(copy, value);
            if (tool_split_list(copy, items, BENCH_MAX_ITEMS, &count) != 0) goto bad;
            for (size_t k = 0; k < count; ++k) {
                if (arg[2] == 'f') {
                    if (lowbit_format_from_name(items[k], &o->formats[k]) != 0) {
                        fprintf(stderr, "lowbit-bench: unknown format '%s'\n", items[k]);
                        return -1;
                    }
                } else if (arg[2] == 's') {
                    if (tool_parse_shape(items[k], &o->shapes[k].rows, &o->shapes[k].cols) != 0) {
                        fprintf(stderr, "lowbit-bench: '%s' is not a shape like 4096x4096\n", items[k]);
                        return -1;
                    }
                } else if (tool_parse_size(items[k], &o->ns[k]) != 0 || o->ns[k] > 4096) {
                    fprintf(stderr, "lowbit-bench: '%s' is not a batch size in 1..4096\n", items[k]);
                    return -1;
                }
            }
            if (arg[2] == 'f')
                o->format_count = count;
            else if (arg[2] == 's')
                o->shape_count = count;
            else
                o->n_count = count;
        } else if (strcmp(arg, "--dot") == 0) {
            char copy[64];
            if (strlen(value) >= sizeof copy) goto bad;
            strcpy(copy, value);
            if (tool_split_list(copy, items, BENCH_MAX_ITEMS, &count) != 0 || count > 3) goto bad;
            static const char *const paths[] = {"float", "int", "auto"};
            o->dot_count = 0;
            for (size_t k = 0; k < count; ++k) {
                const char *known = NULL;
                for (size_t p = 0; p < 3; ++p)
                    if (strcmp(items[k], paths[p]) == 0) known = paths[p];
                if (!known) {
                    fprintf(stderr, "lowbit-bench: --dot takes float, int and auto, not '%s'\n", items[k]);
                    return -1;
                }
                for (size_t j = 0; j < o->dot_count; ++j)
                    if (o->dots[j] == known) goto bad; /* listed twice */
                o->dots[o->dot_count++] = known;
            }
        } else if (strcmp(arg, "--tuning") == 0) {
            char copy[64];
            if (strlen(value) >= sizeof copy) goto bad;
            strcpy(copy, value);
            if (tool_split_list(copy, items, BENCH_MAX_ITEMS, &count) != 0 || count > 2) goto bad;
            o->tuning_count = 0;
            for (size_t k = 0; k < count; ++k) {
                const char *label = strcmp(items[k], "on") == 0    ? "tuned"
                                    : strcmp(items[k], "off") == 0 ? "default"
                                                                   : NULL;
                if (!label || (o->tuning_count && o->tunings[0] == label)) {
                    fprintf(stderr, "lowbit-bench: --tuning takes on and off, once each, not '%s'\n", items[k]);
                    return -1;
                }
                o->tunings[o->tuning_count++] = label;
            }
        } else if (strcmp(arg, "--repeat") == 0) {
            if (tool_parse_size(value, &o->repeat) != 0 || o->repeat > 100000) goto bad;
        } else if (strcmp(arg, "--json") == 0)
            o->json = value;
        else if (strcmp(arg, "--plot") == 0)
            o->plot = value;
        else if (strcmp(arg, "--model") == 0)
            o->model = value;
        else {
            fprintf(stderr, "lowbit-bench: unknown argument '%s'\n", arg);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "lowbit-bench: bad value '%s' for %s\n", value, arg);
        return -1;
    }
    if (o->dot_count && o->tuning_count) {
        fprintf(stderr, "lowbit-bench: --dot and --tuning compare one thing at a time; give one of them\n");
        return -1;
    }
    if (!o->format_count) {
        static const lowbit_format defaults[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K,
                                                 LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_F16,  LOWBIT_FORMAT_F32};
        for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; ++k) {
            const lowbit_format_traits *t = lowbit_format_get(defaults[k]);
            if (t && t->can_quantize) o->formats[o->format_count++] = defaults[k];
        }
    }
    if (!o->shape_count) {
        o->shapes[o->shape_count++] = (bench_shape){4096, 4096};
        if (!quick) o->shapes[o->shape_count++] = (bench_shape){11008, 4096};
    }
    if (!o->n_count) {
        o->ns[o->n_count++] = 1;
        if (!quick) o->ns[o->n_count++] = 8, o->ns[o->n_count++] = 64;
    }
    if (quick && o->repeat == 10) o->repeat = 5;
    return 0;
}

void bench_options_free(bench_options *options)
{
    free(options->device_list);
    options->device_list = NULL;
}
