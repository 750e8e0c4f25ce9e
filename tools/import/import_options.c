/* import_options.c — parsing lowbit-import's arguments and its --config file. */
#include "tools/import/import_options.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host/tuning/json.h"
#include "lowbit/lowbit_format.h"
#include "tools/common/tool_util.h"

void import_options_usage(FILE *out)
{
    fprintf(out,
            "usage: lowbit-import [options] in.safetensors out.gguf\n"
            "  Converts a checkpoint quantized elsewhere (GPTQ, AWQ GEMM, ternary QAT) into GGUF, keeping the\n"
            "  stored integers and scales where a ggml format can hold them exactly, and checks every block\n"
            "  against the checkpoint's own dequantized values.\n"
            "options:\n"
            "  --config FILE          quantize_config.json, or config.json with a quantization_config\n"
            "                         (bits, group_size, desc_act, sym, checkpoint_format, quant_method,\n"
            "                         zero_point, version)\n"
            "  --method M             gptq | awq | ternary (default: the config's quant_method)\n"
            "  --bits B               2, 3, 4 or 8 (default: the config's)\n"
            "  --group-size G         elements per group, or -1 for one group per channel (default: the config's)\n"
            "  --gptq-zeros Z         v1 (stored zero - 1), v2 (the real zero) or auto (default): auto follows\n"
            "                         checkpoint_format unless the stored zeros of a symmetric checkpoint are\n"
            "                         all 2^(bits-1)-1 (v1) or all 2^(bits-1) (v2)\n"
            "  --type TYPE            format of every imported tensor (F32, F16, BF16, Q8_0, Q4_1, Q4_K, ...);\n"
            "                         default: Q4_1 (up to 4 bits) or Q8_0 (8 bits) built from the stored\n"
            "                         integers when groups are whole 32-blocks, else Q8_0 requantized\n"
            "  --ternary-type TYPE    TQ2_0 (default) or TQ1_0 for ternary weights\n"
            "  --require-exact        exit 1 when an imported tensor differs from the checkpoint\n"
            "  --arch NAME            general.architecture of the output (default safetensors)\n"
            "  --threads N            worker threads for requantizing (default: all cores)\n"
            "  --json                 machine-readable report on stdout\n"
            "  -h, --help             this text\n"
            "exit status: 0 written, 1 bad input or failed write, 2 usage error\n");
}

static int take_value(int argc, char **argv, int *i, const char **value, char *error, size_t error_size)
{
    if (*i + 1 >= argc) {
        snprintf(error, error_size, "%s needs a value", argv[*i]);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

static int parse_long(const char *text, long *out)
{
    char *end = NULL;
    const long v = strtol(text, &end, 10);
    if (!end || end == text || *end != '\0') return -1;
    *out = v;
    return 0;
}

static int parse_method(const char *text, import_method *out)
{
    if (strcasecmp(text, "gptq") == 0)
        *out = IMPORT_METHOD_GPTQ;
    else if (strcasecmp(text, "awq") == 0)
        *out = IMPORT_METHOD_AWQ;
    else if (strcasecmp(text, "ternary") == 0 || strcasecmp(text, "bitnet") == 0)
        *out = IMPORT_METHOD_TERNARY;
    else
        return -1;
    return 0;
}

int import_options_parse(int argc, char **argv, import_options *o, char *error, size_t error_size)
{
    memset(o, 0, sizeof *o);
    o->type = -1;
    o->ternary_type = LOWBIT_FORMAT_TQ2_0;
    o->arch = "safetensors";
    const char *positional[2] = {NULL, NULL};
    size_t positional_count = 0;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i], *value = NULL;
        long number = 0;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            o->help = 1;
            return 0;
        } else if (strcmp(arg, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(arg, "--require-exact") == 0) {
            o->require_exact = 1;
        } else if (strcmp(arg, "--config") == 0) {
            if (take_value(argc, argv, &i, &o->config_path, error, error_size)) return -1;
        } else if (strcmp(arg, "--arch") == 0) {
            if (take_value(argc, argv, &i, &o->arch, error, error_size)) return -1;
            if (!o->arch[0]) {
                snprintf(error, error_size, "--arch wants a non-empty name");
                return -1;
            }
        } else if (strcmp(arg, "--method") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size)) return -1;
            if (parse_method(value, &o->method)) {
                snprintf(error, error_size, "--method wants gptq, awq or ternary, got '%s'", value);
                return -1;
            }
        } else if (strcmp(arg, "--bits") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size)) return -1;
            if (parse_long(value, &number) || (number != 2 && number != 3 && number != 4 && number != 8)) {
                snprintf(error, error_size, "--bits wants 2, 3, 4 or 8, got '%s'", value);
                return -1;
            }
            o->bits = (int)number;
        } else if (strcmp(arg, "--group-size") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size)) return -1;
            if (parse_long(value, &number) || (number != -1 && (number < 1 || number > (1L << 24)))) {
                snprintf(error, error_size, "--group-size wants a positive count or -1, got '%s'", value);
                return -1;
            }
            o->group_size = number;
        } else if (strcmp(arg, "--gptq-zeros") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size)) return -1;
            if (strcmp(value, "v1") == 0)
                o->zeros = IMPORT_ZEROS_V1;
            else if (strcmp(value, "v2") == 0)
                o->zeros = IMPORT_ZEROS_V2;
            else if (strcmp(value, "auto") == 0)
                o->zeros = IMPORT_ZEROS_AUTO;
            else {
                snprintf(error, error_size, "--gptq-zeros wants v1, v2 or auto, got '%s'", value);
                return -1;
            }
        } else if (strcmp(arg, "--type") == 0 || strcmp(arg, "--ternary-type") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size)) return -1;
            lowbit_format format;
            const lowbit_format_traits *traits =
                lowbit_format_from_name(value, &format) == 0 ? lowbit_format_get(format) : NULL;
            if (!traits || !traits->can_quantize || traits->is_activation_only) {
                snprintf(error, error_size, "%s: unknown type or one lowbit cannot write: '%s'", arg, value);
                return -1;
            }
            if (arg[2] == 't' && arg[3] == 'e') {
                if (format != LOWBIT_FORMAT_TQ2_0 && format != LOWBIT_FORMAT_TQ1_0) {
                    snprintf(error, error_size, "--ternary-type wants TQ2_0 or TQ1_0, got '%s'", value);
                    return -1;
                }
                o->ternary_type = format;
            } else {
                o->type = format;
            }
        } else if (strcmp(arg, "--threads") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size)) return -1;
            if (parse_long(value, &number) || number < 0 || number > TOOL_MAX_THREADS) {
                snprintf(error, error_size, "--threads wants 0..%d, got '%s'", TOOL_MAX_THREADS, value);
                return -1;
            }
            o->threads = (int)number;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            snprintf(error, error_size, "unknown option '%s'", arg);
            return -1;
        } else if (positional_count < 2) {
            positional[positional_count++] = arg;
        } else {
            snprintf(error, error_size, "unexpected argument '%s'", arg);
            return -1;
        }
    }
    if (positional_count != 2) {
        snprintf(error, error_size, "want an input .safetensors file and an output .gguf file");
        return -1;
    }
    o->input = positional[0];
    o->output = positional[1];
    return 0;
}

/* --- config ------------------------------------------------------------------------------------- */

static int config_fail(char *error, size_t error_size, const char *path, const char *key, const char *want,
                       const json_value *found)
{
    snprintf(error, error_size, "config %s: '%s' must be %s, found %s", path, key, want,
             found ? json_type_name(found->type) : "nothing");
    return -1;
}

/* An integer member (either spelling); 0 when absent, 1 when read, −1 on a type error. */
static int config_integer(const json_value *object, const char *key, const char *alias, long *out, const char *path,
                          char *error, size_t error_size)
{
    const char *used = key;
    const json_value *v = json_object_get(object, key);
    if (!v && alias) v = json_object_get(object, used = alias);
    if (!v) return 0;
    if (v->type != JSON_NUMBER || v->as.number != floor(v->as.number) || fabs(v->as.number) > 1e9)
        return config_fail(error, error_size, path, used, "an integer", v);
    *out = (long)v->as.number;
    return 1;
}

static int config_bool(const json_value *object, const char *key, int *out, const char *path, char *error,
                       size_t error_size)
{
    const json_value *v = json_object_get(object, key);
    if (!v) return 0;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE)
        return config_fail(error, error_size, path, key, "true or false", v);
    *out = v->type == JSON_TRUE;
    return 1;
}

static int config_string(const json_value *object, const char *key, char *out, size_t size, const char *path,
                         char *error, size_t error_size)
{
    const json_value *v = json_object_get(object, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_STRING) return config_fail(error, error_size, path, key, "a string", v);
    if (v->as.string.length >= size || strlen(v->as.string.chars) != v->as.string.length) {
        char quoted[64];
        json_quote(v->as.string.chars, v->as.string.length, quoted, sizeof quoted);
        snprintf(error, error_size, "config %s: '%s' has an unexpected value \"%s\"", path, key, quoted);
        return -1;
    }
    memcpy(out, v->as.string.chars, v->as.string.length + 1);
    return 1;
}

int import_config_read(const char *path, import_config *config, char *error, size_t error_size)
{
    memset(config, 0, sizeof *config);
    unsigned char *text = NULL;
    size_t length = 0;
    if (tool_read_regular_file(path, "config", &text, &length, error, error_size) != 0) return -1;
    char why[256];
    json_document *document = json_parse((const char *)text, length, why, sizeof why);
    free(text);
    if (!document) {
        snprintf(error, error_size, "config %s is not valid JSON: %s", path, why);
        return -1;
    }
    int rc = -1;
    const json_value *root = json_document_root(document);
    if (root->type != JSON_OBJECT) {
        snprintf(error, error_size, "config %s: the top level must be an object, found %s", path,
                 json_type_name(root->type));
        goto done;
    }
    /* config.json nests the facts; quantize_config.json (and AutoAWQ's quant_config.json) is them */
    const json_value *q = json_object_get(root, "quantization_config");
    if (q && q->type != JSON_OBJECT) {
        config_fail(error, error_size, path, "quantization_config", "an object", q);
        goto done;
    }
    if (!q) q = root;
    long number = 0;
    int got = config_integer(q, "bits", "w_bit", &number, path, error, error_size);
    if (got < 0) goto done;
    if (got) {
        if (number != 2 && number != 3 && number != 4 && number != 8) {
            snprintf(error, error_size, "config %s: bits %ld is not one of 2, 3, 4, 8", path, number);
            goto done;
        }
        config->has_bits = 1;
        config->bits = (int)number;
    }
    got = config_integer(q, "group_size", "q_group_size", &number, path, error, error_size);
    if (got < 0) goto done;
    if (got) {
        if (number != -1 && (number < 1 || number > (1L << 24))) {
            snprintf(error, error_size, "config %s: group_size %ld is neither -1 nor a positive count", path, number);
            goto done;
        }
        config->has_group_size = 1;
        config->group_size = number;
    }
    if ((config->has_desc_act = config_bool(q, "desc_act", &config->desc_act, path, error, error_size)) < 0 ||
        (config->has_sym = config_bool(q, "sym", &config->sym, path, error, error_size)) < 0 ||
        (config->has_zero_point = config_bool(q, "zero_point", &config->zero_point, path, error, error_size)) < 0 ||
        config_string(q, "quant_method", config->quant_method, sizeof config->quant_method, path, error, error_size) <
            0 ||
        config_string(q, "checkpoint_format", config->checkpoint_format, sizeof config->checkpoint_format, path, error,
                      error_size) < 0 ||
        config_string(q, "version", config->version, sizeof config->version, path, error, error_size) < 0)
        goto done;
    rc = 0;
done:
    json_document_free(document);
    return rc;
}
