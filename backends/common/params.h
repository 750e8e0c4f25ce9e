/* params.h — lowbit's one parameter vocabulary: the context's parameter string (lowbit_context_options.params,
 * else the LOWBIT_PARAMS environment variable) and the tuning database's entries are both written in it.
 * Comma-separated key=value pairs; a key may carry a backend scope ("opencl.wg=64", "vulkan.layout=coop",
 * "cpu.threads=4"), and then only that backend applies it. The host validates the string when a context is made
 * and hands it to every backend (lowbit_host_api.params), which reads it with the same parser. Header-only, so the
 * host, the built-in CPU backend and each plugin share one parser (and one table of keys) without a shared library
 * between them.
 *
 * The table below (lowbit_param_keys) declares every key once: its name, kind, range or words, and the backends
 * that read it. The parser validates against it, `lowbit-tune` enumerates its candidates from it, and the docs
 * (CONTRIBUTING.md) list it. A key's default depends on the backend and device class and lives in that backend's
 * kernel table; a value the device cannot run (a workgroup past its limit, a tile past its local memory) is refused
 * by the backend, which names the key and value and lets the CPU answer. */
#ifndef LOWBIT_BACKEND_PARAMS_H
#define LOWBIT_BACKEND_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lowbit/lowbit_backend.h"

typedef enum lowbit_dot_path { LOWBIT_DOT_AUTO = 0, LOWBIT_DOT_FLOAT = 1, LOWBIT_DOT_INT = 2 } lowbit_dot_path;

/* Which backends read a key. */
enum { LOWBIT_PARAM_CPU = 1u << 0, LOWBIT_PARAM_OPENCL = 1u << 1, LOWBIT_PARAM_VULKAN = 1u << 2 };

typedef enum lowbit_param_kind {
    LOWBIT_PARAM_WORD,  /* one of `words`; stored as its index + 1 */
    LOWBIT_PARAM_COUNT, /* an integer in [min, max], a multiple of `step` */
    LOWBIT_PARAM_POW2   /* a power of two in [min, max] */
} lowbit_param_kind;

/* The keys, in the order of lowbit_kernel_params' fields (every field a uint32_t; 0 means "not set"). */
typedef enum lowbit_param_id {
    LOWBIT_KEY_DOT,       /* dot=auto|float|int: the matmul path (float: dequantize-fused kernels on f32
                           * activations; int: X quantized per call to 8-bit blocks, integer dot products; auto: each
                           * backend's measured choice, docs/integer-dot.md) */
    LOWBIT_KEY_TUNING,    /* tuning=0|1: consult the tuning database (default 1) */
    LOWBIT_KEY_LAYOUT,    /* layout=row|coop: GEMV work split. row: each invocation streams whole rows (CPU-class
                           * devices); coop: a workgroup shares each row and reduces (GPUs) */
    LOWBIT_KEY_WG,        /* wg=N: invocations per workgroup of the GEMV */
    LOWBIT_KEY_ROWS,      /* rows=N: weight rows per workgroup (coop) or per invocation (row) */
    LOWBIT_KEY_SUBGROUPS, /* subgroups=0|1|emulate: the coop reduction through subgroup operations (emulate: an OpenCL
                           * test hook, one-invocation subgroups) */
    LOWBIT_KEY_SUMS,      /* sums=0|1: OpenCL row layout reads Σx per block from the host */
    LOWBIT_KEY_GEMM,      /* gemm=0|1: the tiled GEMM for batches from gemm_min on (0: the looped GEMV always) */
    LOWBIT_KEY_GEMM_MIN,  /* gemm_min=N: the smallest batch the GEMM runs */
    LOWBIT_KEY_TILE_ROWS, /* tile_rows=N: weight rows per GEMM workgroup */
    LOWBIT_KEY_TILE_N,    /* tile_n=N: activation rows per GEMM workgroup */
    LOWBIT_KEY_TILE_K,    /* tile_k=N: elements per GEMM tile load, a multiple of 32 */
    LOWBIT_KEY_ITEM_ROWS, /* item_rows=N: weight rows per invocation of the GEMM */
    LOWBIT_KEY_ITEM_N,    /* item_n=N: activation rows per invocation of the GEMM */
    LOWBIT_KEY_STREAM,    /* stream=0|1: OpenCL's streaming GEMM (no local tiles; CPU-class devices) */
    LOWBIT_KEY_THREADS,   /* threads=N: threads of one CPU-backend matmul */
    LOWBIT_KEY_COUNT
} lowbit_param_id;

typedef struct lowbit_param_key {
    const char *name;
    lowbit_param_kind kind;
    const char *words[4]; /* LOWBIT_PARAM_WORD */
    uint32_t min, max, step;
    unsigned backends;
} lowbit_param_key;

#define LOWBIT_PARAM_GPU (LOWBIT_PARAM_OPENCL | LOWBIT_PARAM_VULKAN)
#define LOWBIT_PARAM_ALL (LOWBIT_PARAM_CPU | LOWBIT_PARAM_GPU)
static const lowbit_param_key lowbit_param_keys[LOWBIT_KEY_COUNT] = {
    [LOWBIT_KEY_DOT] = {"dot", LOWBIT_PARAM_WORD, {"auto", "float", "int"}, 0, 0, 0, LOWBIT_PARAM_ALL},
    [LOWBIT_KEY_TUNING] = {"tuning", LOWBIT_PARAM_WORD, {"0", "1"}, 0, 0, 0, LOWBIT_PARAM_ALL},
    [LOWBIT_KEY_LAYOUT] = {"layout", LOWBIT_PARAM_WORD, {"row", "coop"}, 0, 0, 0, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_WG] = {"wg", LOWBIT_PARAM_POW2, {0}, 1, 1024, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_ROWS] = {"rows", LOWBIT_PARAM_COUNT, {0}, 1, 4096, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_SUBGROUPS] = {"subgroups", LOWBIT_PARAM_WORD, {"0", "1", "emulate"}, 0, 0, 0, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_SUMS] = {"sums", LOWBIT_PARAM_WORD, {"0", "1"}, 0, 0, 0, LOWBIT_PARAM_OPENCL},
    [LOWBIT_KEY_GEMM] = {"gemm", LOWBIT_PARAM_WORD, {"0", "1"}, 0, 0, 0, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_GEMM_MIN] = {"gemm_min", LOWBIT_PARAM_COUNT, {0}, 2, 4096, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_TILE_ROWS] = {"tile_rows", LOWBIT_PARAM_COUNT, {0}, 1, 1024, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_TILE_N] = {"tile_n", LOWBIT_PARAM_COUNT, {0}, 1, 1024, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_TILE_K] = {"tile_k", LOWBIT_PARAM_COUNT, {0}, 32, 1024, 32, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_ITEM_ROWS] = {"item_rows", LOWBIT_PARAM_COUNT, {0}, 1, 64, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_ITEM_N] = {"item_n", LOWBIT_PARAM_COUNT, {0}, 1, 64, 1, LOWBIT_PARAM_GPU},
    [LOWBIT_KEY_STREAM] = {"stream", LOWBIT_PARAM_WORD, {"0", "1"}, 0, 0, 0, LOWBIT_PARAM_OPENCL},
    [LOWBIT_KEY_THREADS] = {"threads", LOWBIT_PARAM_COUNT, {0}, 1, 64, 1, LOWBIT_PARAM_CPU},
};

/* Parsed values, indexed by lowbit_param_id: 0 = not set; a WORD key holds its word's index + 1, the others
 * their number. */
typedef struct lowbit_params {
    lowbit_dot_path dot; /* values[LOWBIT_KEY_DOT] as the enum (AUTO when unset) */
    uint32_t values[LOWBIT_KEY_COUNT];
} lowbit_params;

/* The backend a scope names (a LOWBIT_PARAM_* bit), or 0. */
static inline unsigned lowbit_params_scope(const char *name, size_t length)
{
    static const char *const scopes[] = {"cpu", "opencl", "vulkan"};
    for (unsigned i = 0; i < 3; ++i)
        if (strlen(scopes[i]) == length && memcmp(scopes[i], name, length) == 0) return 1u << i;
    return 0;
}

/* Reads one value of `key` into *out (WORD: index + 1). 0, or -1 with `why`. */
static inline int lowbit_param_value(const lowbit_param_key *key, const char *value, uint32_t *out, char *why,
                                     size_t why_size)
{
    if (key->kind == LOWBIT_PARAM_WORD) {
        char words[48] = "";
        for (uint32_t w = 0; w < 4 && key->words[w]; ++w) {
            if (strcmp(value, key->words[w]) == 0) {
                *out = w + 1;
                return 0;
            }
            size_t used = strlen(words);
            snprintf(words + used, sizeof words - used, "%s%s", w ? "|" : "", key->words[w]);
        }
        snprintf(why, why_size, "parameter %s='%.40s': use %s", key->name, value, words);
        return -1;
    }
    uint64_t number = 0;
    size_t digits = 0;
    for (; value[digits] >= '0' && value[digits] <= '9' && digits < 10; ++digits)
        number = number * 10 + (uint64_t)(value[digits] - '0');
    int pow2 = number != 0 && (number & (number - 1)) == 0;
    if (digits == 0 || value[digits] != '\0' || number < key->min || number > key->max ||
        (key->step > 1 && number % key->step != 0) || (key->kind == LOWBIT_PARAM_POW2 && !pow2)) {
        snprintf(why, why_size, "parameter %s='%.40s': use %s %u..%u%s", key->name, value,
                 key->kind == LOWBIT_PARAM_POW2 ? "a power of two in" : "an integer in", key->min, key->max,
                 key->step > 1 ? (key->step == 32 ? ", a multiple of 32" : ", a multiple of the step") : "");
        return -1;
    }
    *out = (uint32_t)number;
    return 0;
}

/* Parses `text` (NULL or "" → nothing set) for the backend `scope` (a LOWBIT_PARAM_* bit; 0 for the host, which
 * validates every key and keeps only the unscoped ones). A key scoped to another backend is validated and skipped.
 * Returns 0, or -1 with `why` naming the offending key and value; on failure *out has nothing set. */
static inline int lowbit_params_parse_for(const char *text, unsigned scope, lowbit_params *out, char *why,
                                          size_t why_size)
{
    lowbit_params parsed;
    memset(&parsed, 0, sizeof parsed);
    memset(out, 0, sizeof *out);
    while (text && *text) {
        const char *end = strchr(text, ',');
        size_t length = end ? (size_t)(end - text) : strlen(text);
        char item[96];
        if (length == 0 || length >= sizeof item) {
            snprintf(why, why_size, "parameter '%.*s' is %s", (int)(length > 40 ? 40 : length), text,
                     length == 0 ? "empty" : "too long");
            return -1;
        }
        memcpy(item, text, length);
        item[length] = '\0';
        char *value = strchr(item, '=');
        if (!value) {
            snprintf(why, why_size, "parameter '%.60s' is not key=value", item);
            return -1;
        }
        *value++ = '\0';
        const char *name = item;
        unsigned item_scope = 0;
        const char *dot = strchr(item, '.');
        if (dot) {
            item_scope = lowbit_params_scope(item, (size_t)(dot - item));
            if (!item_scope) {
                snprintf(why, why_size, "parameter '%.40s': unknown scope '%.*s' (use cpu., opencl. or vulkan.)", item,
                         (int)(dot - item > 24 ? 24 : dot - item), item);
                return -1;
            }
            name = dot + 1;
        }
        size_t id = 0;
        while (id < LOWBIT_KEY_COUNT && strcmp(lowbit_param_keys[id].name, name) != 0)
            ++id;
        if (id == LOWBIT_KEY_COUNT) {
            snprintf(why, why_size, "unknown parameter '%.24s' (value '%.24s'); known:", name, value);
            for (size_t k = 0; k < LOWBIT_KEY_COUNT; ++k) {
                size_t used = strlen(why);
                if (used + 1 < why_size) snprintf(why + used, why_size - used, " %s", lowbit_param_keys[k].name);
            }
            return -1;
        }
        const lowbit_param_key *key = &lowbit_param_keys[id];
        if (item_scope && !(key->backends & item_scope)) {
            snprintf(why, why_size, "parameter '%.40s': the %.*s backend has no '%.24s'", item,
                     (int)(dot - item > 24 ? 24 : dot - item), item, name);
            return -1;
        }
        uint32_t number = 0;
        if (lowbit_param_value(key, value, &number, why, why_size) != 0) return -1;
        if (item_scope == 0 || item_scope == scope) parsed.values[id] = number;
        text += length;
        if (*text == ',') ++text;
    }
    parsed.dot = (lowbit_dot_path)(parsed.values[LOWBIT_KEY_DOT] ? parsed.values[LOWBIT_KEY_DOT] - 1 : 0);
    *out = parsed;
    return 0;
}

/* The host's form: validates every key, keeps the unscoped ones. */
static inline int lowbit_params_parse(const char *text, lowbit_params *out, char *why, size_t why_size)
{
    return lowbit_params_parse_for(text, 0, out, why, why_size);
}

/* Every key set in `over` replaces the one in `base` (the context's parameters over a tuning entry's). */
static inline void lowbit_params_overlay(lowbit_params *base, const lowbit_params *over)
{
    for (size_t id = 0; id < LOWBIT_KEY_COUNT; ++id)
        if (over->values[id]) base->values[id] = over->values[id];
    base->dot = (lowbit_dot_path)(base->values[LOWBIT_KEY_DOT] ? base->values[LOWBIT_KEY_DOT] - 1 : 0);
}

/* A WORD key's value as a 0-based index, or -1 when unset. */
static inline int lowbit_params_word(const lowbit_params *params, lowbit_param_id id)
{
    return params->values[id] ? (int)params->values[id] - 1 : -1;
}

/* Whether the tuning database may be consulted (tuning=0 turns it off). */
static inline int lowbit_params_tuning(const lowbit_params *params)
{
    return lowbit_params_word(params, LOWBIT_KEY_TUNING) != 0;
}

/* The parameters of one matmul on a backend (`scope`, a LOWBIT_PARAM_* bit): the tuning database's entry for it,
 * when the host has one and the context did not say tuning=0, with the context's own parameters (`context`,
 * parsed for the same scope) over it. `level` gets the level that answered ("device", "driver", ...), or "" when
 * the built-in defaults stand. A host older than the tuning database has no tuned_params: the defaults stand. */
static inline void lowbit_params_for_matmul(const lowbit_host_api *host, const lowbit_device_info *device,
                                            unsigned scope, const lowbit_params *context, const char *family,
                                            lowbit_format format, size_t n, size_t rows, size_t cols,
                                            lowbit_params *out, char *level, size_t level_size)
{
    char text[256], why[160];
    memset(out, 0, sizeof *out);
    if (level_size) level[0] = '\0';
    int answered = 0;
    if (host && lowbit_params_tuning(context) &&
        host->struct_size >= offsetof(lowbit_host_api, tuning) + sizeof host->tuning && host->tuned_params)
        answered =
            host->tuned_params(host, device, family, format, n, rows, cols, text, sizeof text, level, level_size) == 1;
    /* the host validated the entry when it loaded the database; a string this backend still cannot read counts
     * as no entry */
    if (!answered || lowbit_params_parse_for(text, scope, out, why, sizeof why) != 0) {
        memset(out, 0, sizeof *out);
        if (level_size) level[0] = '\0';
    }
    lowbit_params_overlay(out, context);
}

#endif
