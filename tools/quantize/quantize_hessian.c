/* quantize_hessian.c — loads and validates a lowbit-calibrate Hessian file (format in the header). */
#include "tools/quantize/quantize_hessian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "lowbit/lowbit_io.h"

typedef struct hessian_weight {
    const char *name; /* owned by the mapped file */
    size_t input;
} hessian_weight;

struct quantize_hessians {
    lowbit_gguf *gguf;
    hessian_weight *weights;
    size_t weight_count;
    const float **data;       /* per Hessian: cols × cols floats, mapped */
    const char **input_names; /* per Hessian, NULL when the file has none */
    const float **absmax;     /* per Hessian: cols floats, mapped; NULL when the file has none */
    size_t *cols;
    size_t count;
};

static int bad(char *error, size_t error_size, const char *path, const char *what)
{
    snprintf(error, error_size, "%s: not a usable lowbit-calibrate Hessian file: %s", path, what);
    return -1;
}

/* The array value under `key` with the element type asked, or NULL. */
static const lowbit_gguf_value *array_kv(const lowbit_gguf *g, const char *key, lowbit_gguf_type want, size_t *count)
{
    const lowbit_gguf_value *v = NULL;
    lowbit_gguf_type type;
    if (lowbit_gguf_kv_find(g, key, &v) != LOWBIT_OK || !v) return NULL;
    if (lowbit_gguf_value_get_array(v, &type, count) != LOWBIT_OK) return NULL;
    /* integer arrays are accepted at any width the getters can widen */
    if (type != want && !(want == LOWBIT_GGUF_UINT64 && type != LOWBIT_GGUF_STRING && type != LOWBIT_GGUF_ARRAY &&
                          type != LOWBIT_GGUF_FLOAT32 && type != LOWBIT_GGUF_FLOAT64))
        return NULL;
    return v;
}

/* The optional "absmax.<i>" tensors: all or none, each F32 of the Hessian's cols, finite and ≥ 0. */
static int load_absmax(quantize_hessians *h, const char *path, char *error, size_t error_size)
{
    size_t found = 0;
    for (size_t i = 0; i < h->count; ++i) {
        char name[64];
        size_t index = 0;
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        snprintf(name, sizeof name, "absmax.%zu", i);
        if (lowbit_gguf_tensor_find(h->gguf, name, &index) != LOWBIT_OK || index == LOWBIT_NOT_FOUND) continue;
        if (lowbit_gguf_tensor_get(h->gguf, index, &info) != LOWBIT_OK || info.type != LOWBIT_FORMAT_F32 ||
            info.n_dims != 1 || info.ne[0] != h->cols[i] || info.size != h->cols[i] * sizeof(float)) {
            snprintf(error, error_size, "%s: tensor '%s' is not an F32 vector of the Hessian's %zu columns", path, name,
                     h->cols[i]);
            return -1;
        }
        const float *m = info.data;
        for (size_t j = 0; j < h->cols[i]; ++j)
            if (!(m[j] >= 0.0f && m[j] <= 3.4e38f)) {
                snprintf(error, error_size, "%s: tensor '%s' holds a negative or non-finite maximum at %zu", path, name,
                         j);
                return -1;
            }
        h->absmax[i] = m;
        found++;
    }
    if (found != 0 && found != h->count) {
        snprintf(error, error_size, "%s: %zu of %zu Hessians have an absmax tensor (want all or none)", path, found,
                 h->count);
        return -1;
    }
    return 0;
}

int quantize_hessians_load(const char *path, quantize_hessians **out, char *error, size_t error_size)
{
    *out = NULL;
    quantize_hessians *h = calloc(1, sizeof *h);
    if (!h) return bad(error, error_size, path, "out of memory");
    lowbit_status status = lowbit_gguf_open(path, &h->gguf);
    if (status != LOWBIT_OK) {
        snprintf(error, error_size, "%s: cannot read the Hessian file: %s", path, lowbit_last_error());
        free(h);
        return -1;
    }
    const lowbit_gguf_value *v = NULL;
    const char *type = NULL;
    uint64_t version = 0;
    size_t n_weights = 0, n_inputs = 0, n_tokens = 0;
    const lowbit_gguf_value *weights, *inputs, *tokens;
    int rc = -1;
    if (lowbit_gguf_kv_find(h->gguf, "general.type", &v) != LOWBIT_OK || !v ||
        lowbit_gguf_value_get_string(v, &type, NULL) != LOWBIT_OK || strcmp(type, QUANTIZE_HESSIAN_TYPE) != 0) {
        bad(error, error_size, path, "general.type is not \"" QUANTIZE_HESSIAN_TYPE "\" (lowbit-calibrate writes it)");
        goto done;
    }
    if (lowbit_gguf_kv_find(h->gguf, "lowbit.hessian.version", &v) != LOWBIT_OK || !v ||
        lowbit_gguf_value_get_uint(v, &version) != LOWBIT_OK || version != QUANTIZE_HESSIAN_VERSION) {
        bad(error, error_size, path, "lowbit.hessian.version is missing or not 1");
        goto done;
    }
    weights = array_kv(h->gguf, "lowbit.hessian.weights", LOWBIT_GGUF_STRING, &n_weights);
    inputs = array_kv(h->gguf, "lowbit.hessian.inputs", LOWBIT_GGUF_UINT64, &n_inputs);
    tokens = array_kv(h->gguf, "lowbit.hessian.tokens", LOWBIT_GGUF_UINT64, &n_tokens);
    if (!weights || !inputs || !tokens || n_weights == 0 || n_inputs != n_weights || n_tokens == 0) {
        bad(error, error_size, path, "lowbit.hessian.weights/inputs/tokens are missing, empty or of unequal length");
        goto done;
    }
    h->count = n_tokens;
    h->weight_count = n_weights;
    h->weights = calloc(n_weights, sizeof *h->weights);
    h->data = calloc(n_tokens, sizeof *h->data);
    h->cols = calloc(n_tokens, sizeof *h->cols);
    h->input_names = calloc(n_tokens, sizeof *h->input_names);
    h->absmax = calloc(n_tokens, sizeof *h->absmax);
    if (!h->weights || !h->data || !h->cols || !h->input_names || !h->absmax) {
        bad(error, error_size, path, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_tokens; ++i) {
        char name[64];
        size_t index = 0;
        uint64_t count = 0;
        lowbit_gguf_tensor_info info = {.struct_size = sizeof info};
        snprintf(name, sizeof name, "hessian.%zu", i);
        if (lowbit_gguf_array_get_uint(tokens, i, &count) != LOWBIT_OK || count == 0 ||
            lowbit_gguf_tensor_find(h->gguf, name, &index) != LOWBIT_OK || index == LOWBIT_NOT_FOUND ||
            lowbit_gguf_tensor_get(h->gguf, index, &info) != LOWBIT_OK) {
            snprintf(error, error_size, "%s: Hessian %zu has no tensor '%s' or no token count", path, i, name);
            goto done;
        }
        if (info.type != LOWBIT_FORMAT_F32 || info.n_dims != 2 || info.ne[0] != info.ne[1] || info.ne[0] == 0 ||
            info.ne[0] > 65536 || info.size != info.ne[0] * info.ne[0] * sizeof(float)) {
            snprintf(error, error_size, "%s: tensor '%s' is not a square F32 matrix", path, name);
            goto done;
        }
        h->data[i] = info.data;
        h->cols[i] = (size_t)info.ne[0];
    }
    if (load_absmax(h, path, error, error_size) != 0) goto done;
    for (size_t i = 0; i < n_weights; ++i) {
        const lowbit_gguf_value *element = NULL;
        uint64_t input = 0;
        if (lowbit_gguf_value_get_element(weights, i, &element) != LOWBIT_OK ||
            lowbit_gguf_value_get_string(element, &h->weights[i].name, NULL) != LOWBIT_OK ||
            lowbit_gguf_array_get_uint(inputs, i, &input) != LOWBIT_OK || input >= n_tokens) {
            snprintf(error, error_size, "%s: weight entry %zu is unreadable or names Hessian %llu of %zu", path, i,
                     (unsigned long long)input, n_tokens);
            goto done;
        }
        h->weights[i].input = (size_t)input;
    }
    size_t n_names = 0;
    const lowbit_gguf_value *names = array_kv(h->gguf, "lowbit.hessian.input_names", LOWBIT_GGUF_STRING, &n_names);
    for (size_t i = 0; names && n_names == n_tokens && i < n_tokens; ++i) {
        const lowbit_gguf_value *element = NULL;
        if (lowbit_gguf_value_get_element(names, i, &element) != LOWBIT_OK ||
            lowbit_gguf_value_get_string(element, &h->input_names[i], NULL) != LOWBIT_OK)
            h->input_names[i] = NULL;
    }
    rc = 0;
done:
    if (rc != 0) {
        quantize_hessians_free(h);
        return -1;
    }
    *out = h;
    return 0;
}

const float *quantize_hessians_find(const quantize_hessians *h, const char *name, size_t *cols, size_t *index)
{
    if (!h || !name) return NULL;
    for (size_t i = 0; i < h->weight_count; ++i)
        if (strcmp(h->weights[i].name, name) == 0) {
            const size_t input = h->weights[i].input;
            if (cols) *cols = h->cols[input];
            if (index) *index = input;
            return h->data[input];
        }
    return NULL;
}

size_t quantize_hessians_weight_count(const quantize_hessians *h) { return h ? h->weight_count : 0; }

const char *quantize_hessians_input_name(const quantize_hessians *h, size_t index)
{
    return h && index < h->count ? h->input_names[index] : NULL;
}

const float *quantize_hessians_absmax(const quantize_hessians *h, size_t index)
{
    return h && index < h->count ? h->absmax[index] : NULL;
}

void quantize_hessians_free(quantize_hessians *h)
{
    if (!h) return;
    free(h->absmax);
    free(h->input_names);
    free(h->weights);
    free(h->data);
    free(h->cols);
    lowbit_gguf_close(h->gguf);
    free(h);
}
