/* ggml_lowbit_ops.c — the ops the adapter claims (MUL_MAT, MUL_MAT_ID, GET_ROWS and the layout-only ops) and
 * how each runs: ggml's strided, broadcast tensors turned into lowbit's packed Y = X·Wᵀ calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ggml_lowbit.h"

enum { SCRATCH_X, SCRATCH_Y, SCRATCH_W };

/* lowbit knows this ggml type as a weight format with the same block geometry (the ids are shared; the sizes
 * guard against a ggml that ever reused an id). */
static bool type_is_lowbit_weight(enum ggml_type type)
{
    const lowbit_format_traits *traits = lowbit_format_get((int)type);
    return traits && !traits->is_activation_only && traits->can_dequantize &&
           traits->block_size == (uint32_t)ggml_blck_size(type) && traits->type_size == ggml_type_size(type);
}

bool ggml_lowbit_type_runs(const ggml_lowbit_device *device, enum ggml_type type)
{
    return (unsigned)type < 64 && type_is_lowbit_weight(type) && ((device->info.formats >> (unsigned)type) & 1u);
}

/* Every input is read, and the output written, by the host (lowbit takes host pointers). */
static bool sources_in_host_memory(const struct ggml_tensor *op)
{
    for (int i = 0; i < GGML_MAX_SRC; ++i)
        if (op->src[i] && op->src[i]->buffer && !ggml_backend_buffer_is_host(op->src[i]->buffer)) return false;
    return !op->buffer || ggml_backend_buffer_is_host(op->buffer);
}

static bool activation_type(enum ggml_type type) { return type == GGML_TYPE_F32 || type == GGML_TYPE_F16; }

/* Weights: any strides between rows and matrices (rows are gathered when not packed), but each row's
 * blocks back to back. */
static bool weights_layout(const struct ggml_tensor *a)
{
    return a->nb[0] == ggml_type_size(a->type) && a->ne[0] > 0 && a->ne[0] % ggml_blck_size(a->type) == 0;
}

static bool mul_mat_supported(const ggml_lowbit_device *device, const struct ggml_tensor *op)
{
    const struct ggml_tensor *a = op->src[0], *b = op->src[1];
    if (op->type != GGML_TYPE_F32 || !ggml_is_contiguous(op)) return false;
    if (!ggml_lowbit_type_runs(device, a->type) || !activation_type(b->type) || !weights_layout(a)) return false;
    if (a->ne[0] != b->ne[0]) return false;
    for (int d = 1; d < 4; ++d)
        if (a->ne[d] <= 0 || b->ne[d] <= 0) return false;
    if (b->ne[2] % a->ne[2] || b->ne[3] % a->ne[3]) return false; /* broadcast of a over b's batches */
    return sources_in_host_memory(op);
}

static bool mul_mat_id_supported(const ggml_lowbit_device *device, const struct ggml_tensor *op)
{
    const struct ggml_tensor *a = op->src[0], *b = op->src[1], *ids = op->src[2];
    if (op->type != GGML_TYPE_F32 || !ggml_is_contiguous(op) || !ids || ids->type != GGML_TYPE_I32) return false;
    if (!ggml_lowbit_type_runs(device, a->type) || !activation_type(b->type) || !weights_layout(a)) return false;
    if (a->ne[0] != b->ne[0] || a->ne[3] != 1 || b->ne[3] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1) return false;
    if (ids->ne[1] != b->ne[2] || b->ne[1] <= 0 || ids->ne[0] % b->ne[1]) return false;
    return sources_in_host_memory(op);
}

/* Rows dequantized on the host by lowbit's bit-exact reference, for every format lowbit reads. */
static bool get_rows_supported(const struct ggml_tensor *op)
{
    const struct ggml_tensor *a = op->src[0], *rows = op->src[1];
    if (op->type != GGML_TYPE_F32 || op->nb[0] != sizeof(float) || rows->type != GGML_TYPE_I32) return false;
    if (!type_is_lowbit_weight(a->type) || !weights_layout(a)) return false;
    return sources_in_host_memory(op);
}

bool ggml_lowbit_supports_op(const ggml_lowbit_device *device, const struct ggml_tensor *op)
{
    switch (op->op) {
    case GGML_OP_NONE:
    case GGML_OP_RESHAPE:
    case GGML_OP_VIEW:
    case GGML_OP_PERMUTE:
    case GGML_OP_TRANSPOSE: return true;
    case GGML_OP_MUL_MAT: return mul_mat_supported(device, op);
    case GGML_OP_MUL_MAT_ID: return mul_mat_id_supported(device, op);
    case GGML_OP_GET_ROWS: return get_rows_supported(op);
    default: return false;
    }
}

/* --- running them ------------------------------------------------------------------------------------- */
static enum ggml_status failed(const ggml_lowbit_backend *backend, const struct ggml_tensor *node, const char *what)
{
    ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "%s: %s %s failed: %s", backend->device->name, ggml_op_name(node->op),
                    node->name, what);
    return GGML_STATUS_FAILED;
}

/* One activation row (cols elements of `b` starting at `source`, element stride nb0) packed into `row`. */
static void gather_row(char *row, const char *source, size_t element_size, size_t stride, size_t cols)
{
    if (stride == element_size) {
        memcpy(row, source, cols * element_size);
        return;
    }
    for (size_t i = 0; i < cols; ++i)
        memcpy(row + i * element_size, source + i * stride, element_size);
}

/* The weights of the matrix at `data` (rows at stride nb1), packed first when its rows are not adjacent. */
static lowbit_status matrix_weights(ggml_lowbit_backend *backend, const struct ggml_tensor *a, const char *data,
                                    lowbit_weights **weights, int *release)
{
    const size_t rows = (size_t)a->ne[1], cols = (size_t)a->ne[0];
    const size_t row_size = ggml_row_size(a->type, a->ne[0]);
    if (a->nb[1] != row_size) {
        char *packed = ggml_lowbit_scratch(backend, SCRATCH_W, rows * row_size);
        if (!packed) return LOWBIT_ERROR_OUT_OF_MEMORY;
        for (size_t r = 0; r < rows; ++r)
            memcpy(packed + r * row_size, data + r * a->nb[1], row_size);
        data = packed;
    }
    return ggml_lowbit_weights_get(backend->device, a, data, rows, cols, weights, release);
}

/* A matmul that lowbit moved to its CPU backend (a device fault, a failed upload) is logged once per device
 * as a warning, then at debug level. */
static void note_fallback(ggml_lowbit_backend *backend)
{
    ggml_lowbit_device *device = backend->device;
    if (device->info.api == LOWBIT_API_CPU) return;
    lowbit_run_info run = {.struct_size = sizeof run};
    if (lowbit_last_run(device->lowbit, &run) != LOWBIT_OK || !run.fell_back) return;
    backend->fallbacks++;
    enum ggml_log_level level =
        atomic_exchange(&device->fallback_logged, 1) ? GGML_LOG_LEVEL_DEBUG : GGML_LOG_LEVEL_WARN;
    ggml_lowbit_log(level, "%s: a matmul ran on lowbit's CPU backend instead: %s", device->name, run.fallback_reason);
}

static lowbit_status run_matmul(ggml_lowbit_backend *backend, const lowbit_weights *weights, const void *x,
                                enum ggml_type x_type, float *y, size_t n)
{
    lowbit_activation activation = x_type == GGML_TYPE_F16 ? LOWBIT_ACTIVATION_F16 : LOWBIT_ACTIVATION_F32;
    lowbit_status status = lowbit_matmul_ex(backend->device->lowbit, weights, x, activation, y, n);
    backend->calls++;
    if (status == LOWBIT_OK) note_fallback(backend);
    return status;
}

/* dst[n][m] = Σk a[m][k]·b[n][k] per batch; a's batch (i02, i03) serves b's batches i12 = i02·r2 … i02·r2 + r2 − 1
 * (and likewise i13 over r3), so each of a's matrices is uploaded once and multiplied with all of them. */
static enum ggml_status compute_mul_mat(ggml_lowbit_backend *backend, struct ggml_tensor *dst)
{
    const struct ggml_tensor *a = dst->src[0], *b = dst->src[1];
    const size_t cols = (size_t)a->ne[0], n = (size_t)b->ne[1];
    const int64_t r2 = b->ne[2] / a->ne[2], r3 = b->ne[3] / a->ne[3];
    const size_t x_size = ggml_type_size(b->type);
    const int rows_packed = b->nb[0] == x_size && b->nb[1] == cols * x_size;
    /* the r2 batches of b that share one matrix of a are one call when they follow each other in memory */
    const int group_packed = rows_packed && (r2 == 1 || b->nb[2] == n * b->nb[1]);
    for (int64_t i13 = 0; i13 < b->ne[3]; ++i13) {
        for (int64_t i02 = 0; i02 < a->ne[2]; ++i02) {
            const char *matrix = (const char *)a->data + i02 * a->nb[2] + (i13 / r3) * a->nb[3];
            lowbit_weights *weights = NULL;
            int release = 0;
            lowbit_status status = matrix_weights(backend, a, matrix, &weights, &release);
            if (status != LOWBIT_OK) return failed(backend, dst, lowbit_last_error());
            const int64_t first = i02 * r2;
            if (group_packed) {
                const char *x = (const char *)b->data + first * b->nb[2] + i13 * b->nb[3];
                float *y = (float *)((char *)dst->data + first * dst->nb[2] + i13 * dst->nb[3]);
                status = run_matmul(backend, weights, x, b->type, y, n * (size_t)r2);
            }
            for (int64_t i12 = first; !group_packed && i12 < first + r2 && status == LOWBIT_OK; ++i12) {
                const char *x = (const char *)b->data + i12 * b->nb[2] + i13 * b->nb[3];
                float *y = (float *)((char *)dst->data + i12 * dst->nb[2] + i13 * dst->nb[3]);
                if (!rows_packed) {
                    char *packed = ggml_lowbit_scratch(backend, SCRATCH_X, n * cols * x_size);
                    if (!packed) {
                        if (release) lowbit_weights_destroy(weights);
                        return failed(backend, dst, "out of host memory");
                    }
                    for (size_t r = 0; r < n; ++r)
                        gather_row(packed + r * cols * x_size, x + r * b->nb[1], x_size, b->nb[0], cols);
                    x = packed;
                }
                status = run_matmul(backend, weights, x, b->type, y, n);
            }
            if (release) lowbit_weights_destroy(weights);
            if (status != LOWBIT_OK) return failed(backend, dst, lowbit_last_error());
        }
    }
    return GGML_STATUS_SUCCESS;
}

/* dst[:, e, t] = as[ids[e, t]] · b[:, e mod ne11, t]: the (e, t) pairs are sorted by expert, each expert's
 * activations gathered into one call, and its outputs scattered back. */
static enum ggml_status compute_mul_mat_id(ggml_lowbit_backend *backend, struct ggml_tensor *dst)
{
    const struct ggml_tensor *as = dst->src[0], *b = dst->src[1], *ids = dst->src[2];
    const int64_t experts = as->ne[2], used = ids->ne[0], tokens = ids->ne[1];
    const size_t cols = (size_t)as->ne[0], rows = (size_t)as->ne[1], x_size = ggml_type_size(b->type);
    const size_t pairs = (size_t)(used * tokens);
    size_t *start = calloc((size_t)experts + 1, sizeof *start);
    int64_t *order = malloc(pairs * sizeof *order);
    enum ggml_status result = GGML_STATUS_SUCCESS;
    if (!start || !order) {
        free(start);
        free(order);
        return failed(backend, dst, "out of host memory");
    }
#define EXPERT_OF(pair)                                                                                                \
    (*(const int32_t *)((const char *)ids->data + ((pair) % used) * ids->nb[0] + ((pair) / used) * ids->nb[1]))
    for (size_t pair = 0; pair < pairs; ++pair) {
        int32_t expert = EXPERT_OF((int64_t)pair);
        if (expert < 0 || expert >= experts) {
            free(start);
            free(order);
            return failed(backend, dst, "expert id out of range");
        }
        ++start[expert + 1];
    }
    for (int64_t e = 0; e < experts; ++e)
        start[e + 1] += start[e];
    size_t *next = calloc((size_t)experts, sizeof *next);
    if (!next) result = failed(backend, dst, "out of host memory");
    for (size_t pair = 0; next && pair < pairs; ++pair) {
        int32_t expert = EXPERT_OF((int64_t)pair);
        order[start[expert] + next[expert]++] = (int64_t)pair;
    }
    free(next);
#undef EXPERT_OF
    for (int64_t expert = 0; expert < experts && result == GGML_STATUS_SUCCESS; ++expert) {
        const size_t count = start[expert + 1] - start[expert];
        if (!count) continue;
        char *x = ggml_lowbit_scratch(backend, SCRATCH_X, count * cols * x_size);
        float *y = ggml_lowbit_scratch(backend, SCRATCH_Y, count * rows * sizeof(float));
        if (!x || !y) {
            result = failed(backend, dst, "out of host memory");
            break;
        }
        for (size_t i = 0; i < count; ++i) {
            int64_t pair = order[start[expert] + i], e = pair % used, t = pair / used;
            const char *source = (const char *)b->data + (e % b->ne[1]) * b->nb[1] + t * b->nb[2];
            gather_row(x + i * cols * x_size, source, x_size, b->nb[0], cols);
        }
        lowbit_weights *weights = NULL;
        int release = 0;
        lowbit_status status =
            matrix_weights(backend, as, (const char *)as->data + expert * as->nb[2], &weights, &release);
        if (status == LOWBIT_OK) status = run_matmul(backend, weights, x, b->type, y, count);
        if (release) lowbit_weights_destroy(weights);
        if (status != LOWBIT_OK) {
            result = failed(backend, dst, lowbit_last_error());
            break;
        }
        for (size_t i = 0; i < count; ++i) {
            int64_t pair = order[start[expert] + i], e = pair % used, t = pair / used;
            memcpy((char *)dst->data + e * dst->nb[1] + t * dst->nb[2], y + i * rows, rows * sizeof(float));
        }
    }
    free(start);
    free(order);
    return result;
}

/* dst[:, i10, i11, i12] = a[:, rows[i10, i11, i12], i11, i12], each row dequantized by lowbit's reference. */
static enum ggml_status compute_get_rows(ggml_lowbit_backend *backend, struct ggml_tensor *dst)
{
    const struct ggml_tensor *a = dst->src[0], *rows = dst->src[1];
    const size_t row_size = ggml_row_size(a->type, a->ne[0]);
    for (int64_t i12 = 0; i12 < rows->ne[2]; ++i12)
        for (int64_t i11 = 0; i11 < rows->ne[1]; ++i11)
            for (int64_t i10 = 0; i10 < rows->ne[0]; ++i10) {
                const int32_t row = *(const int32_t *)((const char *)rows->data + i10 * rows->nb[0] +
                                                       i11 * rows->nb[1] + i12 * rows->nb[2]);
                if (row < 0 || row >= a->ne[1]) return failed(backend, dst, "row index out of range");
                const char *source = (const char *)a->data + row * a->nb[1] + i11 * a->nb[2] + i12 * a->nb[3];
                float *target = (float *)((char *)dst->data + i10 * dst->nb[1] + i11 * dst->nb[2] + i12 * dst->nb[3]);
                if (lowbit_dequantize((int)a->type, source, row_size, 1, (size_t)a->ne[0], target) != LOWBIT_OK)
                    return failed(backend, dst, lowbit_last_error());
            }
    return GGML_STATUS_SUCCESS;
}

static enum ggml_status counted(ggml_lowbit_backend *backend, int op, enum ggml_status status)
{
    if (status == GGML_STATUS_SUCCESS) backend->nodes[op]++;
    return status;
}

enum ggml_status ggml_lowbit_compute_node(ggml_lowbit_backend *backend, struct ggml_tensor *node)
{
    if (ggml_is_empty(node)) return GGML_STATUS_SUCCESS;
    switch (node->op) {
    case GGML_OP_NONE:
    case GGML_OP_RESHAPE:
    case GGML_OP_VIEW:
    case GGML_OP_PERMUTE:
    case GGML_OP_TRANSPOSE: return GGML_STATUS_SUCCESS;
    case GGML_OP_MUL_MAT: return counted(backend, 0, compute_mul_mat(backend, node));
    case GGML_OP_MUL_MAT_ID: return counted(backend, 1, compute_mul_mat_id(backend, node));
    case GGML_OP_GET_ROWS: return counted(backend, 2, compute_get_rows(backend, node));
    default: return failed(backend, node, "op not claimed by supports_op");
    }
}
