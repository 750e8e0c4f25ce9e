/* quantize_imatrix.c — importance-matrix readers. Files are untrusted: every count is checked against
 * the bytes that remain before anything is allocated. */
#include "tools/quantize/quantize_imatrix.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_format.h"
#include "lowbit/lowbit_io.h"
#include "tools/common/tool_util.h"

#define IMATRIX_MAX_NAME 4096

static int add_entry(quantize_imatrix *imatrix, const char *name, size_t name_length, float *values, size_t count,
                     char *error, size_t error_size)
{
    for (size_t i = 0; i < imatrix->count; ++i) {
        if (strlen(imatrix->entries[i].name) == name_length &&
            memcmp(imatrix->entries[i].name, name, name_length) == 0) {
            snprintf(error, error_size, "imatrix: tensor '%.*s' appears twice", (int)name_length, name);
            return -1;
        }
    }
    quantize_imatrix_entry *grown = realloc(imatrix->entries, (imatrix->count + 1) * sizeof *grown);
    char *copy = malloc(name_length + 1);
    if (!grown || !copy) {
        free(copy);
        if (grown) imatrix->entries = grown;
        snprintf(error, error_size, "imatrix: out of memory");
        return -1;
    }
    imatrix->entries = grown;
    memcpy(copy, name, name_length);
    copy[name_length] = '\0';
    grown[imatrix->count].name = copy;
    grown[imatrix->count].values = values;
    grown[imatrix->count].count = count;
    imatrix->count++;
    return 0;
}

static int32_t read_i32(const unsigned char *at)
{
    uint32_t value = (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
    int32_t out;
    memcpy(&out, &value, sizeof out);
    return out;
}

static float read_f32(const unsigned char *at)
{
    uint32_t value = (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
    float out;
    memcpy(&out, &value, sizeof out);
    return out;
}

int quantize_imatrix_parse_dat(const void *data, size_t size, quantize_imatrix *out, char *error, size_t error_size)
{
    const unsigned char *bytes = data, *end = bytes + size, *at = bytes;
    memset(out, 0, sizeof *out);
    if (size < 4) {
        snprintf(error, error_size, "imatrix: file too short (%zu bytes) for the entry count", size);
        return -1;
    }
    int32_t n_entries = read_i32(at);
    at += 4;
    /* the smallest entry is 12 bytes of header plus a 1-byte name */
    if (n_entries <= 0 || (size_t)n_entries > (size - 4) / 13) {
        snprintf(error, error_size, "imatrix: entry count %d is impossible for a %zu-byte file", (int)n_entries, size);
        return -1;
    }
    for (int32_t e = 0; e < n_entries; ++e) {
        if ((size_t)(end - at) < 4) goto truncated;
        int32_t name_length = read_i32(at);
        at += 4;
        if (name_length <= 0 || name_length > IMATRIX_MAX_NAME) {
            snprintf(error, error_size, "imatrix: entry %d has a bad name length %d", (int)e, (int)name_length);
            goto fail;
        }
        if ((size_t)(end - at) < (size_t)name_length + 8) goto truncated;
        const char *name = (const char *)at;
        at += name_length;
        if (memchr(name, '\0', (size_t)name_length)) {
            snprintf(error, error_size, "imatrix: entry %d has a NUL byte in its name", (int)e);
            goto fail;
        }
        int32_t ncall = read_i32(at), nval = read_i32(at + 4);
        at += 8;
        if (ncall < 0 || nval <= 0) {
            snprintf(error, error_size, "imatrix: entry '%.*s' has ncall %d, nval %d", (int)name_length, name,
                     (int)ncall, (int)nval);
            goto fail;
        }
        if ((size_t)(end - at) / 4 < (size_t)nval) goto truncated;
        float *values = malloc((size_t)nval * sizeof *values);
        if (!values) {
            snprintf(error, error_size, "imatrix: out of memory");
            goto fail;
        }
        for (int32_t i = 0; i < nval; ++i) {
            float value = read_f32(at + 4 * (size_t)i);
            if (!isfinite(value) || value < 0.0f) {
                snprintf(error, error_size, "imatrix: entry '%.*s' value %d is %g (must be finite and >= 0)",
                         (int)name_length, name, (int)i, (double)value);
                free(values);
                goto fail;
            }
            values[i] = ncall > 0 ? value / (float)ncall : value;
        }
        at += 4 * (size_t)nval;
        if (add_entry(out, name, (size_t)name_length, values, (size_t)nval, error, error_size) != 0) {
            free(values);
            goto fail;
        }
    }
    return 0;
truncated:
    snprintf(error, error_size, "imatrix: file is truncated (entry %zu of %d)", out->count + 1, (int)n_entries);
fail:
    quantize_imatrix_free(out);
    return -1;
}

static const char in_sum2_suffix[] = ".in_sum2";

int quantize_imatrix_parse_gguf(const void *data, size_t size, quantize_imatrix *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    lowbit_gguf *gguf = NULL;
    if (lowbit_gguf_open_memory(data, size, &gguf) != LOWBIT_OK) {
        snprintf(error, error_size, "imatrix: not a valid GGUF file: %s", lowbit_last_error());
        return -1;
    }
    size_t tensor_count = 0;
    lowbit_gguf_tensor_count(gguf, &tensor_count);
    for (size_t t = 0; t < tensor_count; ++t) {
        lowbit_gguf_tensor_info sums = {.struct_size = sizeof sums}, counts = {.struct_size = sizeof counts};
        if (lowbit_gguf_tensor_get(gguf, t, &sums) != LOWBIT_OK) goto corrupt;
        size_t name_length = strlen(sums.name), suffix_length = sizeof in_sum2_suffix - 1;
        if (name_length <= suffix_length || strcmp(sums.name + name_length - suffix_length, in_sum2_suffix) != 0)
            continue;
        size_t base_length = name_length - suffix_length;
        char counts_name[IMATRIX_MAX_NAME + 16];
        if (base_length > IMATRIX_MAX_NAME) goto corrupt;
        snprintf(counts_name, sizeof counts_name, "%.*s.counts", (int)base_length, sums.name);
        size_t counts_index = LOWBIT_NOT_FOUND;
        lowbit_gguf_tensor_find(gguf, counts_name, &counts_index);
        if (counts_index == LOWBIT_NOT_FOUND) {
            snprintf(error, error_size, "imatrix: '%s' has no matching '%s'", sums.name, counts_name);
            goto fail;
        }
        if (lowbit_gguf_tensor_get(gguf, counts_index, &counts) != LOWBIT_OK) goto corrupt;
        if (sums.type != LOWBIT_FORMAT_F32 || counts.type != LOWBIT_FORMAT_F32) {
            snprintf(error, error_size, "imatrix: '%s' and its counts must be F32", sums.name);
            goto fail;
        }
        uint64_t per_row = sums.ne[0], n_mat = sums.element_count / (per_row ? per_row : 1);
        if (per_row == 0 || counts.element_count != n_mat || n_mat == 0) {
            snprintf(error, error_size, "imatrix: '%s' has %llu matrices but its counts tensor %llu values", sums.name,
                     (unsigned long long)n_mat, (unsigned long long)counts.element_count);
            goto fail;
        }
        float *values = malloc((size_t)sums.element_count * sizeof *values);
        if (!values) {
            snprintf(error, error_size, "imatrix: out of memory");
            goto fail;
        }
        for (uint64_t m = 0; m < n_mat; ++m) {
            float count = read_f32((const unsigned char *)counts.data + 4 * m);
            if (!isfinite(count) || count < 0.0f) {
                snprintf(error, error_size, "imatrix: '%s' has a bad count %g", counts_name, (double)count);
                free(values);
                goto fail;
            }
            for (uint64_t j = 0; j < per_row; ++j) {
                size_t index = (size_t)(m * per_row + j);
                float sum = read_f32((const unsigned char *)sums.data + 4 * index);
                if (!isfinite(sum) || sum < 0.0f) {
                    snprintf(error, error_size, "imatrix: '%s' value %zu is %g (must be finite and >= 0)", sums.name,
                             index, (double)sum);
                    free(values);
                    goto fail;
                }
                /* a matrix never seen in calibration gets uniform weights rather than all zeros */
                values[index] = count > 0.0f ? sum / count : 1.0f;
            }
        }
        if (add_entry(out, sums.name, base_length, values, (size_t)sums.element_count, error, error_size) != 0) {
            free(values);
            goto fail;
        }
    }
    if (out->count == 0) {
        snprintf(error, error_size, "imatrix: the GGUF file holds no '<tensor>.in_sum2' tensors");
        goto fail;
    }
    lowbit_gguf_close(gguf);
    return 0;
corrupt:
    snprintf(error, error_size, "imatrix: malformed GGUF tensor table: %s", lowbit_last_error());
fail:
    lowbit_gguf_close(gguf);
    quantize_imatrix_free(out);
    return -1;
}

int quantize_imatrix_load(const char *path, quantize_imatrix *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    unsigned char *data = NULL;
    size_t length = 0;
    if (tool_read_regular_file(path, "imatrix", &data, &length, error, error_size) != 0) return -1;
    int rc = length >= 4 && memcmp(data, "GGUF", 4) == 0
                 ? quantize_imatrix_parse_gguf(data, length, out, error, error_size)
                 : quantize_imatrix_parse_dat(data, length, out, error, error_size);
    free(data);
    return rc;
}

const quantize_imatrix_entry *quantize_imatrix_find(const quantize_imatrix *imatrix, const char *name)
{
    if (!imatrix) return NULL;
    for (size_t i = 0; i < imatrix->count; ++i)
        if (strcmp(imatrix->entries[i].name, name) == 0) return &imatrix->entries[i];
    return NULL;
}

void quantize_imatrix_free(quantize_imatrix *imatrix)
{
    if (!imatrix) return;
    for (size_t i = 0; i < imatrix->count; ++i) {
        free(imatrix->entries[i].name);
        free(imatrix->entries[i].values);
    }
    free(imatrix->entries);
    imatrix->entries = NULL;
    imatrix->count = 0;
}
