/* params.h — the context's parameter string: lowbit_context_options.params, else the LOWBIT_PARAMS environment
 * variable. Comma-separated key=value pairs; the host validates the string when a context is made and hands it to
 * every backend (lowbit_host_api.params), which reads it with the same parser. Header-only, so the host, the
 * built-in CPU backend and each plugin share one parser without a shared library between them.
 *
 * Keys:
 *   dot=auto|float|int  the matmul path. float: dequantize-fused kernels on f32 activations. int: X is quantized
 *                       per call to 8-bit blocks (Q8_1's rule: per 32 elements d = max|x|/127, q = round(x/d))
 *                       and the dot products run in integers, for every format that has an integer-dot kernel
 *                       (the others run the float path). auto (the default): each backend picks per format
 *                       and batch size from what it measured faster (docs/integer-dot.md). */
#ifndef LOWBIT_BACKEND_PARAMS_H
#define LOWBIT_BACKEND_PARAMS_H

#include <stdio.h>
#include <string.h>

typedef enum lowbit_dot_path { LOWBIT_DOT_AUTO = 0, LOWBIT_DOT_FLOAT = 1, LOWBIT_DOT_INT = 2 } lowbit_dot_path;

typedef struct lowbit_params {
    lowbit_dot_path dot;
} lowbit_params;

/* Parses `text` (NULL or "" → the defaults). Returns 0, or -1 with `why` naming the offending key and value; on
 * failure *out holds the defaults. */
static inline int lowbit_params_parse(const char *text, lowbit_params *out, char *why, size_t why_size)
{
    lowbit_params parsed = {LOWBIT_DOT_AUTO};
    *out = parsed;
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
            snprintf(why, why_size, "parameter '%s' is not key=value", item);
            return -1;
        }
        *value++ = '\0';
        if (strcmp(item, "dot") == 0) {
            if (strcmp(value, "auto") == 0)
                parsed.dot = LOWBIT_DOT_AUTO;
            else if (strcmp(value, "float") == 0)
                parsed.dot = LOWBIT_DOT_FLOAT;
            else if (strcmp(value, "int") == 0)
                parsed.dot = LOWBIT_DOT_INT;
            else {
                snprintf(why, why_size, "parameter dot='%s': use auto, float or int", value);
                return -1;
            }
        } else {
            snprintf(why, why_size, "unknown parameter '%s' (value '%s'); known: dot", item, value);
            return -1;
        }
        text += length;
        if (*text == ',') ++text;
    }
    *out = parsed;
    return 0;
}

#endif
