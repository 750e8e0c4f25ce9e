/* gguf_value.c — typed access to GGUF KV values and array elements, widening integers and refusing
 * conversions that would lose information. */
#include <string.h>

#include "../error.h"
#include "io_internal.h"

static int is_signed(lowbit_gguf_type t)
{
    return t == LOWBIT_GGUF_INT8 || t == LOWBIT_GGUF_INT16 || t == LOWBIT_GGUF_INT32 || t == LOWBIT_GGUF_INT64;
}

static int is_unsigned(lowbit_gguf_type t)
{
    return t == LOWBIT_GGUF_UINT8 || t == LOWBIT_GGUF_UINT16 || t == LOWBIT_GGUF_UINT32 || t == LOWBIT_GGUF_UINT64 ||
           t == LOWBIT_GGUF_BOOL;
}

static int64_t sign_extend(lowbit_gguf_type t, uint64_t bits)
{
    switch (t) {
    case LOWBIT_GGUF_INT8: return (int8_t)(uint8_t)bits;
    case LOWBIT_GGUF_INT16: return (int16_t)(uint16_t)bits;
    case LOWBIT_GGUF_INT32: return (int32_t)(uint32_t)bits;
    default: return (int64_t)bits;
    }
}

static lowbit_status to_uint(lowbit_gguf_type t, uint64_t bits, uint64_t *out)
{
    if (is_unsigned(t)) {
        *out = bits;
        return LOWBIT_OK;
    }
    if (is_signed(t)) {
        int64_t v = sign_extend(t, bits);
        if (v < 0) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value %lld is negative", (long long)v);
        *out = (uint64_t)v;
        return LOWBIT_OK;
    }
    return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value of type %d is not an integer", (int)t);
}

static lowbit_status to_int(lowbit_gguf_type t, uint64_t bits, int64_t *out)
{
    if (is_signed(t)) {
        *out = sign_extend(t, bits);
        return LOWBIT_OK;
    }
    if (is_unsigned(t)) {
        if (bits > (uint64_t)INT64_MAX)
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value %llu does not fit in int64",
                                (unsigned long long)bits);
        *out = (int64_t)bits;
        return LOWBIT_OK;
    }
    return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value of type %d is not an integer", (int)t);
}

static lowbit_status to_float(lowbit_gguf_type t, uint64_t bits, double *out)
{
    if (t == LOWBIT_GGUF_FLOAT32) {
        uint32_t b = (uint32_t)bits;
        float f;
        memcpy(&f, &b, sizeof f);
        *out = f;
        return LOWBIT_OK;
    }
    if (t == LOWBIT_GGUF_FLOAT64) {
        memcpy(out, &bits, sizeof *out);
        return LOWBIT_OK;
    }
    return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value of type %d is not a float", (int)t);
}

static lowbit_status to_bool(lowbit_gguf_type t, uint64_t bits, int *out)
{
    if (t != LOWBIT_GGUF_BOOL)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value of type %d is not a bool", (int)t);
    *out = bits != 0;
    return LOWBIT_OK;
}

#define CHECK_VALUE(v, out, fn)                                                                                        \
    do {                                                                                                               \
        if (!(v) || !(out)) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, fn ": value and output are required");  \
    } while (0)

lowbit_status lowbit_gguf_value_type(const lowbit_gguf_value *value, lowbit_gguf_type *type)
{
    CHECK_VALUE(value, type, "lowbit_gguf_value_type");
    *type = value->type;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_value_get_uint(const lowbit_gguf_value *value, uint64_t *out)
{
    CHECK_VALUE(value, out, "lowbit_gguf_value_get_uint");
    return to_uint(value->type, value->as.bits, out);
}

lowbit_status lowbit_gguf_value_get_int(const lowbit_gguf_value *value, int64_t *out)
{
    CHECK_VALUE(value, out, "lowbit_gguf_value_get_int");
    return to_int(value->type, value->as.bits, out);
}

lowbit_status lowbit_gguf_value_get_float(const lowbit_gguf_value *value, double *out)
{
    CHECK_VALUE(value, out, "lowbit_gguf_value_get_float");
    return to_float(value->type, value->as.bits, out);
}

lowbit_status lowbit_gguf_value_get_bool(const lowbit_gguf_value *value, int *out)
{
    CHECK_VALUE(value, out, "lowbit_gguf_value_get_bool");
    return to_bool(value->type, value->as.bits, out);
}

lowbit_status lowbit_gguf_value_get_string(const lowbit_gguf_value *value, const char **string, size_t *length)
{
    CHECK_VALUE(value, string, "lowbit_gguf_value_get_string");
    if (value->type != LOWBIT_GGUF_STRING)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "GGUF value of type %d is not a string", (int)value->type);
    *string = value->as.string.chars;
    if (length) *length = value->as.string.length;
    return LOWBIT_OK;
}

static lowbit_status check_array(const lowbit_gguf_value *value, const char *fn)
{
    if (value->type != LOWBIT_GGUF_ARRAY)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: GGUF value of type %d is not an array", fn,
                            (int)value->type);
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_value_get_array(const lowbit_gguf_value *value, lowbit_gguf_type *element_type, size_t *count)
{
    if (!value) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_gguf_value_get_array: value is NULL");
    lowbit_status s = check_array(value, "lowbit_gguf_value_get_array");
    if (s) return s;
    if (element_type) *element_type = value->as.array.element_type;
    if (count) *count = value->as.array.count;
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_value_get_element(const lowbit_gguf_value *value, size_t index,
                                            const lowbit_gguf_value **element)
{
    CHECK_VALUE(value, element, "lowbit_gguf_value_get_element");
    lowbit_status s = check_array(value, "lowbit_gguf_value_get_element");
    if (s) return s;
    if (!value->as.array.items && value->as.array.count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_gguf_value_get_element: an array of numbers has no element values; use "
                            "lowbit_gguf_array_get_*");
    if (index >= value->as.array.count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_gguf_value_get_element: index %zu out of range (%zu)", index,
                            value->as.array.count);
    *element = &value->as.array.items[index];
    return LOWBIT_OK;
}

lowbit_status lowbit_gguf_value_get_array_data(const lowbit_gguf_value *value, const void **data, size_t *size)
{
    CHECK_VALUE(value, data, "lowbit_gguf_value_get_array_data");
    lowbit_status s = check_array(value, "lowbit_gguf_value_get_array_data");
    if (s) return s;
    size_t element = lowbit_gguf_scalar_size(value->as.array.element_type);
    if (!element)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_gguf_value_get_array_data: array elements are not numbers");
    *data = value->as.array.data;
    if (size) *size = value->as.array.count * element;
    return LOWBIT_OK;
}

/* Loads element `index` of a numeric array as zero-extended bits. */
static lowbit_status element_bits(const lowbit_gguf_value *array, size_t index, const char *fn, uint64_t *bits)
{
    if (!array) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: array is NULL", fn);
    lowbit_status s = check_array(array, fn);
    if (s) return s;
    size_t element = lowbit_gguf_scalar_size(array->as.array.element_type);
    if (!element) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: array elements are not numbers", fn);
    if (index >= array->as.array.count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: index %zu out of range (%zu)", fn, index,
                            array->as.array.count);
    const uint8_t *p = array->as.array.data + index * element;
    *bits = 0;
    for (size_t i = 0; i < element; ++i)
        *bits |= (uint64_t)p[i] << (8 * i);
    return LOWBIT_OK;
}

#define ARRAY_GETTER(fn, ctype, convert)                                                                               \
    lowbit_status fn(const lowbit_gguf_value *array, size_t index, ctype *out)                                         \
    {                                                                                                                  \
        uint64_t bits = 0;                                                                                             \
        if (!out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, #fn ": output pointer is NULL");                  \
        lowbit_status s = element_bits(array, index, #fn, &bits);                                                      \
        return s ? s : convert(array->as.array.element_type, bits, out);                                               \
    }

ARRAY_GETTER(lowbit_gguf_array_get_uint, uint64_t, to_uint)
ARRAY_GETTER(lowbit_gguf_array_get_int, int64_t, to_int)
ARRAY_GETTER(lowbit_gguf_array_get_float, double, to_float)
ARRAY_GETTER(lowbit_gguf_array_get_bool, int, to_bool)
