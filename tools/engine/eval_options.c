/* eval_options.c — parsing and validation of lowbit-eval's arguments. */
#define _POSIX_C_SOURCE 200809L
#include "tools/engine/eval_options.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/engine/eval_reference.h"

void eval_options_usage(FILE *out)
{
    fprintf(out,
            "usage: lowbit-eval --reference REF.gguf --model CAND.gguf --text FILE [options]\n"
            "       lowbit-eval --reference REF.gguf --text FILE --save-reference REF.lbref [--model CAND.gguf]\n"
            "       lowbit-eval --reference-logits REF.lbref --model CAND.gguf [--text FILE] [options]\n"
            "  What a quantization costs: the candidate's next-token distributions against the reference's over\n"
            "  a text, through the pinned llama.cpp engine. The text is cut into consecutive chunks of --ctx\n"
            "  tokens, each run from an empty KV memory; the second half of each chunk is scored (the first half\n"
            "  is context), as llama-perplexity does. Reported: KL divergence (mean ± standard error, median,\n"
            "  99th percentile, max), top-1 agreement, perplexity of both models and its change.\n"
            "options:\n"
            "  --reference FILE          the reference model (GGUF), e.g. the F16/F32 or Q8_0 original\n"
            "  --model FILE              the candidate model (GGUF); its vocabulary must match the reference's\n"
            "  --text FILE               UTF-8 text to score (optional with --reference-logits, whose file\n"
            "                            holds the tokens; given, its tokens must match them)\n"
            "  --ctx N                   tokens per chunk (default %d; %d to %d)\n"
            "  --chunks N                chunks to score (default: all that fit)\n"
            "  --skip-chunks N           skip the first N chunks of the text (default 0)\n"
            "  --threads N               CPU threads (default: all cores)\n"
            "  --ngl N                   layers offloaded to GPU-type devices (default 0: CPU; 99: all)\n"
            "  --save-reference FILE     also write the reference's log-probabilities (16-bit) to FILE\n"
            "  --reference-logits FILE   score against a file written by --save-reference instead of\n"
            "                            running the reference (its --ctx and --skip-chunks apply)\n"
            "  --json                    one JSON object on stdout instead of the table\n"
            "  --verbose                 the engine's own log on stderr\n"
            "  -h, --help                this text\n"
            "Progress goes to stderr. Exit status: 0 done, 1 failed, 2 usage error.\n"
            "With GGML_BACKEND_PATH=.../libggml-lowbit.so (of this program's build folder) the engine loads\n"
            "lowbit's adapter: LOWBIT_cpu takes the matmuls of the CPU layers, and --ngl 99 offloads every layer\n"
            "to a LOWBIT_opencl/vulkan device (LOWBIT_GGML_DEVICES picks them).\n",
            EVAL_DEFAULT_CTX, EVAL_MIN_CTX, EVAL_MAX_CTX);
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

static int parse_int(const char *option, const char *value, long low, long high, int *out, char *error,
                     size_t error_size)
{
    char *end = NULL;
    errno = 0;
    long number = strtol(value, &end, 10);
    if (errno != 0 || !end || *end != '\0' || end == value || number < low || number > high) {
        snprintf(error, error_size, "%s wants a number from %ld to %ld, got '%s'", option, low, high, value);
        return -1;
    }
    *out = (int)number;
    return 0;
}

static int check_input(const char *option, const char *path, struct stat *st, char *error, size_t error_size)
{
    if (!*path) {
        snprintf(error, error_size, "%s needs a non-empty path", option);
        return -1;
    }
    if (stat(path, st) != 0) {
        snprintf(error, error_size, "%s '%s': %s", option, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(error, error_size, "%s '%s' is not a regular file", option, path);
        return -1;
    }
    if (st->st_size == 0) {
        snprintf(error, error_size, "%s '%s' is empty", option, path);
        return -1;
    }
    return 0;
}

/* The output must not replace an input, nor be a directory, and its folder must exist. */
static int check_output(const char *path, const struct stat *inputs, int input_count, char *error, size_t error_size)
{
    struct stat st;
    if (!*path) {
        snprintf(error, error_size, "--save-reference needs a non-empty path");
        return -1;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            snprintf(error, error_size, "--save-reference '%s' exists and is not a regular file", path);
            return -1;
        }
        for (int i = 0; i < input_count; ++i)
            if (inputs[i].st_dev == st.st_dev && inputs[i].st_ino == st.st_ino) {
                snprintf(error, error_size, "--save-reference '%s' is one of the inputs; refusing to overwrite it",
                         path);
                return -1;
            }
    }
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char folder[PATH_MAX];
        const size_t length = (size_t)(slash - path);
        if (length >= sizeof folder) {
            snprintf(error, error_size, "--save-reference: path too long");
            return -1;
        }
        memcpy(folder, path, length);
        folder[length] = '\0';
        if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(error, error_size, "--save-reference '%s': folder '%s' does not exist", path, folder);
            return -1;
        }
    }
    return 0;
}

int eval_options_parse(int argc, char **argv, eval_options *options, char *error, size_t error_size)
{
    memset(options, 0, sizeof *options);
    options->n_ctx = EVAL_DEFAULT_CTX;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i], *value = NULL;
        const char **path = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            options->help = 1;
            return 0;
        } else if (strcmp(arg, "--json") == 0)
            options->json = 1;
        else if (strcmp(arg, "--verbose") == 0)
            options->verbose = 1;
        else if (strcmp(arg, "--reference") == 0)
            path = &options->reference;
        else if (strcmp(arg, "--model") == 0)
            path = &options->model;
        else if (strcmp(arg, "--text") == 0)
            path = &options->text;
        else if (strcmp(arg, "--save-reference") == 0)
            path = &options->save_reference;
        else if (strcmp(arg, "--reference-logits") == 0)
            path = &options->reference_logits;
        else if (strcmp(arg, "--ctx") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_int(arg, value, EVAL_MIN_CTX, EVAL_MAX_CTX, &options->n_ctx, error, error_size) != 0)
                return -1;
            options->ctx_given = 1;
        } else if (strcmp(arg, "--chunks") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_int(arg, value, 1, INT_MAX, &options->chunks, error, error_size) != 0)
                return -1;
            options->chunks_given = 1;
        } else if (strcmp(arg, "--skip-chunks") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_int(arg, value, 0, INT_MAX, &options->skip_chunks, error, error_size) != 0)
                return -1;
            options->skip_given = 1;
        } else if (strcmp(arg, "--threads") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_int(arg, value, 1, 1024, &options->threads, error, error_size) != 0)
                return -1;
        } else if (strcmp(arg, "--ngl") == 0) {
            if (take_value(argc, argv, &i, &value, error, error_size) != 0 ||
                parse_int(arg, value, 0, 100000, &options->n_gpu_layers, error, error_size) != 0)
                return -1;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            snprintf(error, error_size, "unknown option '%s'", arg);
            return -1;
        } else {
            snprintf(error, error_size, "unexpected argument '%s' (every input is named by an option)", arg);
            return -1;
        }
        if (path) {
            if (*path) {
                snprintf(error, error_size, "%s given twice", arg);
                return -1;
            }
            if (take_value(argc, argv, &i, path, error, error_size) != 0) return -1;
        }
    }

    if (options->reference && options->reference_logits) {
        snprintf(error, error_size, "--reference and --reference-logits exclude each other");
        return -1;
    }
    if (!options->reference && !options->reference_logits) {
        snprintf(error, error_size, "no reference: give --reference REF.gguf (or --reference-logits FILE)");
        return -1;
    }
    if (options->reference_logits && options->save_reference) {
        snprintf(error, error_size, "--save-reference needs --reference (the model whose logits it saves)");
        return -1;
    }
    if (!options->model && !options->save_reference) {
        snprintf(error, error_size, "no candidate: give --model CAND.gguf");
        return -1;
    }
    if (!options->text && !options->reference_logits) {
        snprintf(error, error_size, "no text: give --text FILE");
        return -1;
    }
    struct stat inputs[4];
    int input_count = 0;
    const struct {
        const char *option, *path;
    } files[] = {{"--reference", options->reference},
                 {"--model", options->model},
                 {"--text", options->text},
                 {"--reference-logits", options->reference_logits}};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; ++k) {
        if (!files[k].path) continue;
        if (check_input(files[k].option, files[k].path, &inputs[input_count], error, error_size) != 0) return -1;
        input_count++;
    }
    if (options->save_reference && check_output(options->save_reference, inputs, input_count, error, error_size) != 0)
        return -1;
    return 0;
}
