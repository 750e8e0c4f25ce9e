/* ggml_lowbit_backend.c — the backend (stream) of one lowbit device: synchronous graph execution, node by
 * node, of what supports_op claimed, with scratch memory for gathered operands. */
#include <stdlib.h>

#include "ggml_lowbit.h"

static ggml_lowbit_backend *backend_state(ggml_backend_t backend) { return (ggml_lowbit_backend *)backend->context; }

static const char *backend_get_name(ggml_backend_t backend) { return backend_state(backend)->device->name; }

static void backend_free(ggml_backend_t backend)
{
    ggml_lowbit_backend *state = backend_state(backend);
    /* one line per backend that did work: how a user (and the real-model tests) see that lowbit ran the graph */
    if (state->nodes[0] + state->nodes[1] + state->nodes[2])
        ggml_lowbit_log(GGML_LOG_LEVEL_INFO,
                        "%s: ran %llu MUL_MAT, %llu MUL_MAT_ID and %llu GET_ROWS nodes (%llu lowbit matmul calls, "
                        "%llu of them on lowbit's CPU backend after a device fault)",
                        state->device->name, state->nodes[0], state->nodes[1], state->nodes[2], state->calls,
                        state->fallbacks);
    free(state->scratch_x);
    free(state->scratch_y);
    free(state->scratch_w);
    free(state);
    free(backend);
}

static enum ggml_status backend_graph_compute(ggml_backend_t backend, struct ggml_cgraph *graph)
{
    ggml_lowbit_backend *state = backend_state(backend);
    for (int i = 0; i < ggml_graph_n_nodes(graph); ++i) {
        enum ggml_status status = ggml_lowbit_compute_node(state, ggml_graph_node(graph, i));
        if (status != GGML_STATUS_SUCCESS) return status;
    }
    return GGML_STATUS_SUCCESS;
}

static const struct ggml_backend_i backend_interface = {
    .get_name = backend_get_name,
    .free = backend_free,
    .set_tensor_async = NULL,
    .get_tensor_async = NULL,
    .set_tensor_2d_async = NULL,
    .get_tensor_2d_async = NULL,
    .cpy_tensor_async = NULL,
    .synchronize = NULL, /* every call returns with its work done */
    .graph_plan_create = NULL,
    .graph_plan_free = NULL,
    .graph_plan_update = NULL,
    .graph_plan_compute = NULL,
    .graph_compute = backend_graph_compute,
    .event_record = NULL,
    .event_wait = NULL,
    .graph_optimize = NULL,
};

static ggml_guid_t backend_guid(void)
{
    static ggml_guid guid = {0x6c, 0x6f, 0x77, 0x62, 0x69, 0x74, 0x2d, 0x67,
                             0x67, 0x6d, 0x6c, 0x2d, 0x76, 0x31, 0x00, 0x01}; /* "lowbit-ggml-v1" */
    return &guid;
}

ggml_backend_t ggml_lowbit_backend_init(ggml_lowbit_device *device)
{
    ggml_lowbit_backend *state = calloc(1, sizeof *state);
    ggml_backend_t backend = calloc(1, sizeof *backend);
    if (!state || !backend) {
        free(state);
        free(backend);
        ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "%s: out of memory starting a backend", device->name);
        return NULL;
    }
    state->device = device;
    backend->guid = backend_guid();
    backend->iface = backend_interface;
    backend->device = &device->ggml;
    backend->context = state;
    return backend;
}

void *ggml_lowbit_scratch(ggml_lowbit_backend *backend, int slot, size_t size)
{
    void **memory = slot == 0 ? &backend->scratch_x : slot == 1 ? &backend->scratch_y : &backend->scratch_w;
    size_t *capacity = slot == 0   ? &backend->scratch_x_size
                       : slot == 1 ? &backend->scratch_y_size
                                   : &backend->scratch_w_size;
    if (size <= *capacity && *memory) return *memory;
    void *grown = malloc(size ? size : 1);
    if (!grown) {
        ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "%s: cannot allocate %zu bytes of scratch", backend->device->name, size);
        return NULL;
    }
    free(*memory);
    *memory = grown;
    *capacity = size;
    return grown;
}
