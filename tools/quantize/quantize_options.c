/* quantize_options.c — parsing and validation of lowbit-quantize's arguments. */
#include "tools/quantize/quantize_options.h"

#include <stdlib.h>
#include <string.h>

void quantize_options_usage(FILE *out)
{
    fprintf(out, "usage: lowbit-quantize [options] in.gguf|in.safetensors out.gguf TYPE\n"
                 "  Quantizes a model one tensor at a time, keeping every metadata key and the tokenizer.\n"
                 "  TYPE is a llama.cpp preset (with its per-tensor mix rules) or a format name:\n   ");
    for (size_t i = 0; quantize_preset_at(i); ++i) {
        const quantize_preset *preset = quantize_preset_at(i);
        if (quantize_preset_find(preset->name)) fprintf(out, " %s", preset->name);
    }
    fprintf(out, "\n    (Q3_K, Q4_K, Q5_K mean Q3_K_M, Q4_K_M, Q5_K_M)\n"
                 "options:\n"
                 "  --tensor-type REGEX=TYPE  tensors whose name matches REGEX (POSIX extended) get TYPE;\n"
                 "                            repeatable, the first match wins, beats every other rule\n"
                 "  --output-tensor-type TYPE    format of output.weight\n"
                 "  --token-embedding-type TYPE  format of token_embd.weight\n"
                 "  --pure                    no mix rules: every quantizable tensor gets the base format\n"
                 "  --imatrix FILE            importance matrix (llama.cpp GGUF or legacy .dat); IQ1_S, IQ1_M,\n"
                 "                            IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS tensors and Q2_K_S need one\n"
                 "  --allow-no-imatrix        make those without one (built-in weights, far worse)\n"
                 "  --method M                how to round: rtn (nearest, built-in weights), imatrix (the\n"
                 "                            importance-weighted scale search; the default with --imatrix),\n"
                 "                            gptq (column-by-column error feedback through the layer-input\n"
                 "                            Hessians of --hessian; the block search uses --imatrix, else\n"
                 "                            the Hessian diagonal). Tensors without a Hessian (embeddings,\n"
                 "                            output) fall back to imatrix/rtn and the report says so;\n"
                 "                            awq (activation-aware per-channel scales from --hessian, folded\n"
                 "                            into the RMS norm before each q/k/v and gate/up group and into\n"
                 "                            ffn_up's rows for ffn_down, then the weighted search), awq+gptq,\n"
                 "                            smoothquant (SmoothQuant's migration for W8A8 use with Q8_0 and\n"
                 "                            the integer-dot path: s = max|x|^A / max|w|^(1-A) per channel,\n"
                 "                            folded like AWQ; needs a Hessian file with activation maxima)\n"
                 "  --awq-alpha A             AWQ: use scales rms^A (0..1) instead of searching A per group\n"
                 "  --smooth-alpha A          SmoothQuant's migration strength A in [0, 1] (default 0.5)\n"
                 "  --hessian FILE            Hessians written by lowbit-calibrate (needed by --method gptq)\n"
                 "  --gptq-damp F             GPTQ's damping, a fraction of the mean Hessian diagonal\n"
                 "                            (default 0.01, range (0, 10])\n"
                 "  --gptq-act-order          GPTQ: round the columns by decreasing Hessian diagonal, with\n"
                 "                            every block's scales fixed first (static groups: GGUF keeps no\n"
                 "                            column permutation); formats rounded per column only\n"
                 "  --allow-requantize        allow quantizing tensors that are already quantized\n"
                 "  --arch NAME               general.architecture for a safetensors input (default safetensors)\n"
                 "  --threads N               worker threads (default: all cores)\n"
                 "mixed precision (GGUF input; TYPE then sets only the file type and the tensors left out):\n"
                 "  --plan                    choose every matrix's format from the candidates so that the\n"
                 "                            summed relative layer-output error is smallest within the budget\n"
                 "                            (error measured with --hessian, else --imatrix, else unweighted)\n"
                 "  --target-bpw B            budget: bits per weight of the whole file\n"
                 "  --target-size BYTES       budget: bytes of all tensors (K, M, G suffixes)\n"
                 "  --device ID               measure each candidate's GEMV time on this device (opencl:0,\n"
                 "                            vulkan:0, cpu) and report the plan's predicted time per token\n"
                 "  --target-ms T             budget: the planned matrices' GEMV time per token on --device\n"
                 "  --plan-formats LIST       candidates (default Q3_K,Q4_0,Q4_1,IQ4_NL,Q4_K,IQ4_XS,Q5_0,Q5_1,\n"
                 "                            Q5_K,Q6_K,Q8_0; Q2_K and the IQ1/IQ2 grids on request; a format\n"
                 "                            is tried only where its block fits the rows)\n"
                 "  --plan-out FILE           the plan as JSON (default OUT.plan.json); edit and re-apply it\n"
                 "  --plan-costs FILE         reuse the errors (and times, same --device) an earlier plan\n"
                 "                            measured, for tensors of the same name and shape: a new budget\n"
                 "                            is then solved in seconds\n"
                 "  --plan-sensitivity LIST   KEY=WEIGHT,...: errors of tensors whose name contains KEY count\n"
                 "                            WEIGHT times (first match; others 1), e.g. measured KLD per unit\n"
                 "                            of relative error per role (tools/plan-results.py measures them)\n"
                 "  --plan-file FILE          apply a plan: its tensors get its formats, the rest the TYPE rules\n"
                 "  --explain                 per tensor: chosen format, error, bytes, time and why\n"
                 "  --tensor-type, --output-tensor-type and --token-embedding-type pin tensors out of the plan\n"
                 "  --dry-run                 print the plan, write nothing\n"
                 "  --json                    machine-readable summary on stdout\n"
                 "  -h, --help                this text\n");
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

static int parse_type_option(const char *option, const char *value, lowbit_format *out, char *error, size_t error_size)
{
    if (quantize_format_parse(value, out) == 0) return 0;
    snprintf(error, error_size, "%s: unknown or unsupported type '%s'", option, value);
    return -1;
}

/* A number in [0, 1] for `option`, or -1 with a message. */
static int parse_unit_interval(const char *option, const char *value, double *out, char *error, size_t error_size)
{
    char *end = NULL;
    const double v = strtod(value, &end);
    if (!end || *end != '\0' || end == value || !(v >= 0.0 && v <= 1.0)) {
        snprintf(error, error_size, "%s wants a number in [0, 1], got '%s'", option, value);
        return -1;
    }
    *out = v;
    return 0;
}

/* "80000000", "80M", "1.5G" (powers of 1024 for K, M, G): a positive byte count below 2^60. */
static int parse_bytes(const char *text, uint64_t *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || end == text || text[0] == '-' || text[0] == '+') return -1;
    if (*end == 'K' || *end == 'k')
        v *= 1024.0, ++end;
    else if (*end == 'M' || *end == 'm')
        v *= 1024.0 * 1024.0, ++end;
    else if (*end == 'G' || *end == 'g')
        v *= 1024.0 * 1024.0 * 1024.0, ++end;
    if (*end != '\0' || !(v >= 1.0 && v < 1152921504606846976.0)) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* --plan-sensitivity "attn_v=2.5,ffn_down=1.8": KEY=WEIGHT pairs, KEY a non-empty part of tensor names. */
static int parse_sensitivities(const char *text, quantize_options *options, char *error, size_t error_size)
{
    const size_t capacity = sizeof options->sensitivities / sizeof options->sensitivities[0];
    options->sensitivity_count = 0;
    for (const char *at = text;;) {
        const char *comma = strchr(at, ','), *end = comma ? comma : at + strlen(at);
        const char *equals = memchr(at, '=', (size_t)(end - at));
        char number[64];
        if (!equals || equals == at || (size_t)(equals - at) >= sizeof options->sensitivities[0].key ||
            (size_t)(end - equals - 1) >= sizeof number || end == equals + 1) {
            snprintf(error, error_size, "--plan-sensitivity wants KEY=WEIGHT[,KEY=WEIGHT...], got '%s'", text);
            return -1;
        }
        if (options->sensitivity_count == capacity) {
            snprintf(error, error_size, "--plan-sensitivity takes at most %zu entries", capacity);
            return -1;
        }
        memcpy(number, equals + 1, (size_t)(end - equals - 1));
        number[end - equals - 1] = '\0';
        char *stop = NULL;
        const double weight = strtod(number, &stop);
        if (!stop || *stop != '\0' || !(weight >= 0.0 && weight <= 1e12)) {
            snprintf(error, error_size, "--plan-sensitivity: weight '%s' is not a number in [0, 1e12]", number);
            return -1;
        }
        memcpy(options->sensitivities[options->sensitivity_count].key, at, (size_t)(equals - at));
        options->sensitivities[options->sensitivity_count].key[equals - at] = '\0';
        options->sensitivities[options->sensitivity_count++].weight = weight;
        if (!comma) return 0;
        at = comma + 1;
    }
}

/* The planner's options only make sense together. */
static int check_plan_options(const quantize_options *o, char *error, size_t error_size)
{
    const char *stray = o->target_bpw > 0      ? "--target-bpw"
                        : o->target_bytes      ? "--target-size"
                        : o->target_ms > 0     ? "--target-ms"
                        : o->plan_device       ? "--device"
                        : o->plan_format_count ? "--plan-formats"
                        : o->plan_out          ? "--plan-out"
                        : o->plan_costs        ? "--plan-costs"
                        : o->sensitivity_count ? "--plan-sensitivity"
                                               : NULL;
    if (!o->plan && stray) {
        snprintf(error, error_size, "%s is only used by --plan", stray);
        return -1;
    }
    if (o->explain && !o->plan && !o->plan_file) {
        snprintf(error, error_size, "--explain is only used by --plan and --plan-file");
        return -1;
    }
    if (o->plan && o->plan_file) {
        snprintf(error, error_size, "--plan makes a plan and --plan-file applies one: give one of them");
        return -1;
    }
    if (o->plan && o->target_bpw <= 0 && !o->target_bytes && o->target_ms <= 0) {
        snprintf(error, error_size, "--plan needs a budget: --target-bpw B, --target-size BYTES or --target-ms T");
        return -1;
    }
    if (o->target_bpw > 0 && o->target_bytes) {
        snprintf(error, error_size, "--target-bpw and --target-size are two ways to say one budget: give one");
        return -1;
    }
    if (o->target_ms > 0 && !o->plan_device) {
        snprintf(error, error_size, "--target-ms needs --device (where the time is measured)");
        return -1;
    }
    return 0;
}

/* --plan-formats "Q4_K,Q5_K": every name a quantizable format, no repeats. */
static int parse_format_list(const char *text, quantize_options *options, char *error, size_t error_size)
{
    const size_t capacity = sizeof options->plan_formats / sizeof options->plan_formats[0];
    options->plan_format_count = 0;
    for (const char *at = text;;) {
        const char *comma = strchr(at, ',');
        const size_t length = comma ? (size_t)(comma - at) : strlen(at);
        char name[32];
        lowbit_format format;
        if (length == 0 || length >= sizeof name) {
            snprintf(error, error_size, "--plan-formats wants a comma-separated list of formats, got '%s'", text);
            return -1;
        }
        memcpy(name, at, length);
        name[length] = '\0';
        if (quantize_format_parse(name, &format) != 0) {
            snprintf(error, error_size, "--plan-formats: unknown or unsupported format '%s'", name);
            return -1;
        }
        for (size_t k = 0; k < options->plan_format_count; ++k)
            if (options->plan_formats[k] == format) {
                snprintf(error, error_size, "--plan-formats names %s twice", name);
                return -1;
            }
        if (options->plan_format_count == capacity) {
            snprintf(error, error_size, "--plan-formats takes at most %zu formats", capacity);
            return -1;
        }
        options->plan_formats[options->plan_format_count++] = format;
        if (!comma) return 0;
        at = comma + 1;
    }
}

int quantize_options_parse(int argc, char **argv, quantize_options *options, char *error, size_t error_size)
{
    memset(options, 0, sizeof *options);
    const char *positional[3];
    int n_positional = 0, method_given = 0;
    options->gptq_damp = 0.01;
    options->awq_alpha = -1.0;
    options->smooth_alpha = -1.0;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i], *value = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            options->help = 1;
            return 0;
        } else if (strcmp(arg, "--pure") == 0)
            options->pure = 1;
        else if (strcmp(arg, "--json") == 0)
            options->json = 1;
        else if (strcmp(arg, "--dry-run") == 0)
            options->dry_run = 1;
        else if (strcmp(arg, "--allow-requantize") == 0)
            options->allow_requantize = 1;
        else if (strcmp(arg, "--allow-no-imatrix") == 0)
            options->allow_no_imatrix = 1;
        else if (strcmp(arg, "--tensor-type") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0) return -1;
            quantize_override *grown = realloc(options->overrides, (options->override_count + 1) * sizeof *grown);
            if (!grown) {
                snprintf(error, error_size, "out of memory");
                return -1;
            }
            options->overrides = grown;
            if (quantize_override_parse(value, &grown[options->override_count], error, error_size) != 0) return -1;
            options->override_count++;
        } else if (strcmp(arg, "--output-tensor-type") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_type_option(arg, value, &options->output_type, error, error_size) != 0)
                return -1;
            options->has_output_type = 1;
        } else if (strcmp(arg, "--token-embedding-type") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_type_option(arg, value, &options->embedding_type, error, error_size) != 0)
                return -1;
            options->has_embedding_type = 1;
        } else if (strcmp(arg, "--imatrix") == 0) {
            if (take_value(argc, argv, &i, &options->imatrix_path, error, error_size) != 0) return -1;
        } else if (strcmp(arg, "--method") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0) return -1;
            if (strcmp(value, "rtn") == 0)
                options->method = QUANTIZE_METHOD_RTN;
            else if (strcmp(value, "imatrix") == 0)
                options->method = QUANTIZE_METHOD_IMATRIX;
            else if (strcmp(value, "gptq") == 0)
                options->method = QUANTIZE_METHOD_GPTQ;
            else if (strcmp(value, "awq") == 0)
                options->method = QUANTIZE_METHOD_AWQ;
            else if (strcmp(value, "awq+gptq") == 0 || strcmp(value, "gptq+awq") == 0)
                options->method = QUANTIZE_METHOD_AWQ_GPTQ;
            else if (strcmp(value, "smoothquant") == 0)
                options->method = QUANTIZE_METHOD_SMOOTHQUANT;
            else {
                snprintf(error, error_size, "--method wants rtn, imatrix, gptq, awq, awq+gptq or smoothquant, got '%s'",
                         value);
                return -1;
            }
            method_given = 1;
        } else if (strcmp(arg, "--hessian") == 0) {
            if (take_value(argc, argv, &i, &options->hessian_path, error, error_size) != 0) return -1;
        } else if (strcmp(arg, "--gptq-damp") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0) return -1;
            char *end = NULL;
            const double damp = strtod(value, &end);
            if (!end || *end != '\0' || end == value || !(damp > 0.0 && damp <= 10.0)) {
                snprintf(error, error_size, "--gptq-damp wants a number in (0, 10], got '%s'", value);
                return -1;
            }
            options->gptq_damp = damp;
        } else if (strcmp(arg, "--gptq-act-order") == 0) {
            options->gptq_act_order = 1;
        } else if (strcmp(arg, "--awq-alpha") == 0 || strcmp(arg, "--smooth-alpha") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_unit_interval(arg, value, arg[2] == 'a' ? &options->awq_alpha : &options->smooth_alpha, error,
                                    error_size) != 0)
                return -1;
        } else if (strcmp(arg, "--arch") == 0) {
            if (take_value(argc, argv, &i, &options->arch, error, error_size) != 0) return -1;
            if (options->arch[0] == '\0') {
                snprintf(error, error_size, "--arch needs a non-empty name");
                return -1;
            }
        } else if (strcmp(arg, "--plan") == 0) {
            options->plan = 1;
        } else if (strcmp(arg, "--explain") == 0) {
            options->explain = 1;
        } else if (strcmp(arg, "--plan-file") == 0) {
            if (take_value(argc, argv, &i, &options->plan_file, error, error_size) != 0) return -1;
        } else if (strcmp(arg, "--plan-costs") == 0) {
            if (take_value(argc, argv, &i, &options->plan_costs, error, error_size) != 0) return -1;
        } else if (strcmp(arg, "--plan-out") == 0) {
            if (take_value(argc, argv, &i, &options->plan_out, error, error_size) != 0) return -1;
        } else if (strcmp(arg, "--device") == 0) {
            if (take_value(argc, argv, &i, &options->plan_device, error, error_size) != 0) return -1;
        } else if (strcmp(arg, "--target-bpw") == 0 || strcmp(arg, "--target-ms") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0) return -1;
            char *end = NULL;
            const double v = strtod(value, &end);
            const int bpw = arg[9] == 'b';
            if (!end || *end != '\0' || end == value || !(v > 0.0 && v <= (bpw ? 32.0 : 1e6))) {
                snprintf(error, error_size, "%s wants a number in (0, %s], got '%s'", arg, bpw ? "32" : "1e6", value);
                return -1;
            }
            *(bpw ? &options->target_bpw : &options->target_ms) = v;
        } else if (strcmp(arg, "--target-size") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0) return -1;
            uint64_t bytes = 0;
            if (parse_bytes(value, &bytes) != 0) {
                snprintf(error, error_size, "--target-size wants a byte count such as 80M, got '%s'", value);
                return -1;
            }
            options->target_bytes = bytes;
        } else if (strcmp(arg, "--plan-sensitivity") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_sensitivities(value, options, error, error_size) != 0)
                return -1;
        } else if (strcmp(arg, "--plan-formats") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_format_list(value, options, error, error_size) != 0)
                return -1;
        } else if (strcmp(arg, "--threads") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0) return -1;
            char *end = NULL;
            long threads = strtol(value, &end, 10);
            if (!end || *end != '\0' || end == value || threads < 1 || threads > 1024) {
                snprintf(error, error_size, "--threads wants a number from 1 to 1024, got '%s'", value);
                return -1;
            }
            options->threads = (int)threads;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            snprintf(error, error_size, "unknown option '%s'", arg);
            return -1;
        } else {
            if (n_positional == 3) {
                snprintf(error, error_size, "too many arguments ('%s')", arg);
                return -1;
            }
            positional[n_positional++] = arg;
        }
    }
    const int planning = options->plan || options->plan_file;
    if (planning && n_positional == 2) positional[n_positional++] = "Q4_K_M"; /* only the file type and the rest */
    if (n_positional != 3) {
        snprintf(error, error_size, "expected in-file, out-file and TYPE (got %d argument%s)", n_positional,
                 n_positional == 1 ? "" : "s");
        return -1;
    }
    if (check_plan_options(options, error, error_size) != 0) return -1;
    if (!method_given) options->method = options->imatrix_path ? QUANTIZE_METHOD_IMATRIX : QUANTIZE_METHOD_RTN;
    if (options->method == QUANTIZE_METHOD_RTN && options->imatrix_path) {
        snprintf(error, error_size, "--method rtn uses no importance matrix: drop --imatrix or pick another method");
        return -1;
    }
    if (options->method == QUANTIZE_METHOD_IMATRIX && !options->imatrix_path) {
        snprintf(error, error_size, "--method imatrix needs --imatrix FILE");
        return -1;
    }
    const int uses_hessian = options->method == QUANTIZE_METHOD_GPTQ || quantize_method_scales_inputs(options->method);
    if (uses_hessian && !options->hessian_path) {
        snprintf(error, error_size, "--method %s needs --hessian FILE (lowbit-calibrate writes one)",
                 options->method == QUANTIZE_METHOD_GPTQ          ? "gptq"
                 : options->method == QUANTIZE_METHOD_SMOOTHQUANT ? "smoothquant"
                                                                  : "awq");
        return -1;
    }
    if (!uses_hessian && options->hessian_path && !options->plan) {
        snprintf(error, error_size,
                 "--hessian is only used by --plan and --method gptq, awq, awq+gptq and smoothquant");
        return -1;
    }
    if (options->gptq_act_order && options->method != QUANTIZE_METHOD_GPTQ &&
        options->method != QUANTIZE_METHOD_AWQ_GPTQ) {
        snprintf(error, error_size, "--gptq-act-order is only used by --method gptq and awq+gptq");
        return -1;
    }
    if (options->smooth_alpha >= 0.0 && options->method != QUANTIZE_METHOD_SMOOTHQUANT) {
        snprintf(error, error_size, "--smooth-alpha is only used by --method smoothquant");
        return -1;
    }
    if (options->smooth_alpha < 0.0) options->smooth_alpha = 0.5;
    if (options->awq_alpha >= 0.0 && options->method != QUANTIZE_METHOD_AWQ &&
        options->method != QUANTIZE_METHOD_AWQ_GPTQ) {
        snprintf(error, error_size, "--awq-alpha is only used by --method awq and awq+gptq");
        return -1;
    }
    options->input = positional[0];
    options->output = positional[1];
    options->type_name = positional[2];
    options->preset = quantize_preset_find(options->type_name);
    if (!options->preset) {
        snprintf(error, error_size, "unknown or unsupported TYPE '%s' (see --help for the list)", options->type_name);
        return -1;
    }
    return 0;
}

void quantize_options_free(quantize_options *options)
{
    for (size_t i = 0; i < options->override_count; ++i)
        quantize_override_free(&options->overrides[i]);
    free(options->overrides);
    options->overrides = NULL;
    options->override_count = 0;
}
