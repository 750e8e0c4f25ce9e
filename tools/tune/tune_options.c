/* tune_options.c — lowbit-tune's command line. Lists are comma-separated; --space takes "key=v,v;key=v" in the
 * params vocabulary; --model adds the distinct matrix shapes of a GGUF file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_io.h"
#include "tools/common/tool_util.h"
#include "tune.h"

static int parse_seconds(const char *text, double *out)
{
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0.0) || value > 1e7) return -1;
    *out = value;
    return 0;
}

/* "wg=4,8;rows=8,16;layout=row": each key validated against params.h, each value by the key's own rule. */
static int parse_space(const char *text, tune_options *o)
{
    char copy[512];
    if (strlen(text) >= sizeof copy) return -1;
    strcpy(copy, text);
    for (char *save = NULL, *axis = strtok_r(copy, ";", &save); axis; axis = strtok_r(NULL, ";", &save)) {
        char *values = strchr(axis, '=');
        if (!values || o->space_count == TUNE_MAX_AXES) return -1;
        *values++ = '\0';
        size_t id = 0;
        while (id < LOWBIT_KEY_COUNT && strcmp(lowbit_param_keys[id].name, axis) != 0)
            ++id;
        if (id == LOWBIT_KEY_COUNT || id == LOWBIT_KEY_TUNING) {
            fprintf(stderr, "lowbit-tune: --space: '%s' is not a tunable key\n", axis);
            return -2;
        }
        tune_axis_override *out = &o->space[o->space_count++];
        out->key = (lowbit_param_id)id;
        out->count = 0;
        for (char *inner = NULL, *value = strtok_r(values, ",", &inner); value; value = strtok_r(NULL, ",", &inner)) {
            char why[160];
            if (out->count == TUNE_MAX_VALUES) return -1;
            if (lowbit_param_value(&lowbit_param_keys[id], value, &out->values[out->count], why, sizeof why) != 0) {
                fprintf(stderr, "lowbit-tune: --space: %s\n", why);
                return -2;
            }
            out->count++;
        }
        if (out->count == 0) return -1;
    }
    return 0;
}

/* The distinct 2-D matrix shapes of a GGUF model (rows = ne[1], cols = ne[0]). */
static int add_model_shapes(const char *path, tune_options *o)
{
    lowbit_gguf *gguf = NULL;
    if (lowbit_gguf_open(path, &gguf) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-tune: --model %s: %s\n", path, lowbit_last_error());
        return -1;
    }
    size_t count = 0;
    lowbit_gguf_tensor_count(gguf, &count);
    for (size_t t = 0; t < count; ++t) {
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        if (lowbit_gguf_tensor_get(gguf, t, &info) != LOWBIT_OK || info.n_dims != 2) continue;
        tune_shape shape = {(size_t)info.ne[1], (size_t)info.ne[0]};
        if (shape.cols % 256 != 0 && shape.cols % 32 != 0) continue;
        int known = 0;
        for (size_t s = 0; s < o->shape_count && !known; ++s)
            known = o->shapes[s].rows == shape.rows && o->shapes[s].cols == shape.cols;
        if (!known && o->shape_count < TUNE_MAX_ITEMS) o->shapes[o->shape_count++] = shape;
    }
    lowbit_gguf_close(gguf);
    return 0;
}

int tune_options_parse(int argc, char **argv, tune_options *o)
{
    memset(o, 0, sizeof *o);
    o->strategy = TUNE_AUTO;
    o->max_candidates = 24;
    o->case_budget = 120.0;
    o->repeat = 9;
    o->noise = 0.05;
    o->seed = 1;
    o->progress = -1;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return 1;
        if (strcmp(arg, "--list") == 0) {
            o->list = 1;
            continue;
        }
        if (strcmp(arg, "--no-progress") == 0) {
            o->progress = 0;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lowbit-tune: %s needs a value\n", arg);
            return -1;
        }
        char *value = argv[++i];
        char *items[TUNE_MAX_ITEMS];
        size_t count = 0;
        size_t number = 0;
        if (strcmp(arg, "--device") == 0 || strcmp(arg, "--devices") == 0) {
            free(o->device_list);
            o->device_list = strdup(value);
            if (!o->device_list || tool_split_list(o->device_list, items, TUNE_MAX_ITEMS, &count) != 0) goto bad;
            o->device_count = 0;
            for (size_t k = 0; k < count; ++k)
                if (strcmp(items[k], "all") != 0) o->devices[o->device_count++] = items[k];
        } else if (strcmp(arg, "--formats") == 0 || strcmp(arg, "--format") == 0 || strcmp(arg, "--shapes") == 0 ||
                   strcmp(arg, "--shape") == 0 || strcmp(arg, "--n") == 0) {
            char copy[512];
            if (strlen(value) >= sizeof copy) goto bad;
            strcpy(copy, value);
            if (tool_split_list(copy, items, TUNE_MAX_ITEMS, &count) != 0) goto bad;
            for (size_t k = 0; k < count; ++k) {
                if (arg[2] == 'f') {
                    const lowbit_format_traits *t = NULL;
                    if (lowbit_format_from_name(items[k], &o->formats[k]) != 0 ||
                        !(t = lowbit_format_get(o->formats[k])) || !t->can_quantize) {
                        fprintf(stderr, "lowbit-tune: '%s' is not a weight format lowbit can quantize\n", items[k]);
                        return -1;
                    }
                } else if (arg[2] == 's') {
                    if (tool_parse_shape(items[k], &o->shapes[k].rows, &o->shapes[k].cols) != 0) {
                        fprintf(stderr, "lowbit-tune: '%s' is not a shape like 4096x4096\n", items[k]);
                        return -1;
                    }
                } else if (tool_parse_size(items[k], &o->ns[k]) != 0 || o->ns[k] > 1024) {
                    fprintf(stderr, "lowbit-tune: '%s' is not a batch size in 1..1024\n", items[k]);
                    return -1;
                }
            }
            if (arg[2] == 'f')
                o->format_count = count;
            else if (arg[2] == 's')
                o->shape_count = count;
            else
                o->n_count = count;
        } else if (strcmp(arg, "--model") == 0) {
            o->model = value;
        } else if (strcmp(arg, "--space") == 0) {
            int status = parse_space(value, o);
            if (status == -2) return -1;
            if (status != 0) goto bad;
        } else if (strcmp(arg, "--strategy") == 0) {
            if (strcmp(value, "auto") == 0)
                o->strategy = TUNE_AUTO;
            else if (strcmp(value, "exhaustive") == 0)
                o->strategy = TUNE_EXHAUSTIVE;
            else if (strcmp(value, "random") == 0)
                o->strategy = TUNE_RANDOM;
            else if (strcmp(value, "anneal") == 0)
                o->strategy = TUNE_ANNEAL;
            else
                goto bad;
        } else if (strcmp(arg, "--max-candidates") == 0) {
            if (tool_parse_size(value, &o->max_candidates) != 0 || o->max_candidates > TUNE_MAX_CANDIDATES) goto bad;
        } else if (strcmp(arg, "--budget") == 0) {
            if (parse_seconds(value, &o->case_budget) != 0) goto bad;
        } else if (strcmp(arg, "--total-budget") == 0) {
            if (parse_seconds(value, &o->total_budget) != 0) goto bad;
        } else if (strcmp(arg, "--repeat") == 0) {
            if (tool_parse_size(value, &o->repeat) != 0 || o->repeat < 3 || o->repeat > 1000) goto bad;
        } else if (strcmp(arg, "--noise") == 0) {
            if (parse_seconds(value, &o->noise) != 0 || o->noise > 0.5) goto bad;
        } else if (strcmp(arg, "--stop-after") == 0) {
            if (tool_parse_size(value, &o->stop_after) != 0) goto bad;
        } else if (strcmp(arg, "--seed") == 0) {
            if (tool_parse_size(value, &number) != 0 || number > 0xffffffffu) goto bad;
            o->seed = (unsigned)number;
        } else if (strcmp(arg, "--output") == 0) {
            o->output = value;
        } else if (strcmp(arg, "--journal") == 0) {
            o->journal = value;
        } else if (strcmp(arg, "--json") == 0) {
            o->json = value;
        } else if (strcmp(arg, "--plot") == 0) {
            o->plot = value;
        } else {
            fprintf(stderr, "lowbit-tune: unknown argument '%s' (try --help)\n", arg);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "lowbit-tune: bad value '%s' for %s (try --help)\n", value, arg);
        return -1;
    }
    if (!o->format_count) {
        static const lowbit_format defaults[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K,
                                                 LOWBIT_FORMAT_Q8_0};
        for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; ++k)
            o->formats[o->format_count++] = defaults[k];
    }
    if (o->model && add_model_shapes(o->model, o) != 0) return -1;
    if (!o->shape_count) o->shapes[o->shape_count++] = (tune_shape){4096, 4096};
    if (!o->n_count) o->ns[o->n_count++] = 1, o->ns[o->n_count++] = 8;
    return 0;
}

void tune_options_free(tune_options *options)
{
    free(options->device_list);
    options->device_list = NULL;
}
