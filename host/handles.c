/* handles.c — the set of live handles (contexts, weights, buffers, queues, events), so calls with a destroyed or
 * foreign handle return LOWBIT_ERROR_INVALID_ARGUMENT instead of touching freed memory; and the per-kind sets a
 * destroyed context releases its leftovers from. */
#include <stdlib.h>

#include "runtime.h"

static pthread_mutex_t handles_mutex = PTHREAD_MUTEX_INITIALIZER;
static const void **handles;
static size_t handle_count, handle_capacity;

int lowbit_handle_register(const void *handle)
{
    pthread_mutex_lock(&handles_mutex);
    int ok = 1;
    if (handle_count == handle_capacity) {
        size_t capacity = handle_capacity ? handle_capacity * 2 : 64;
        const void **grown = realloc(handles, capacity * sizeof *grown);
        if (grown) {
            handles = grown;
            handle_capacity = capacity;
        } else {
            ok = 0;
        }
    }
    if (ok) handles[handle_count++] = handle;
    pthread_mutex_unlock(&handles_mutex);
    return ok;
}

int lowbit_handle_unregister(const void *handle)
{
    int found = 0;
    pthread_mutex_lock(&handles_mutex);
    for (size_t i = 0; i < handle_count && !found; ++i) {
        if (handles[i] == handle) {
            handles[i] = handles[--handle_count];
            found = 1;
        }
    }
    pthread_mutex_unlock(&handles_mutex);
    return found;
}

int lowbit_handle_is_live(const void *handle)
{
    if (!handle) return 0;
    pthread_mutex_lock(&handles_mutex);
    int live = 0;
    for (size_t i = 0; i < handle_count && !live; ++i)
        live = handles[i] == handle;
    pthread_mutex_unlock(&handles_mutex);
    return live;
}

int lowbit_handle_set_add(lowbit_handle_set *set, void *item)
{
    pthread_mutex_lock(&set->mutex);
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 64;
        void **grown = realloc(set->items, capacity * sizeof *grown);
        if (grown) {
            set->items = grown;
            set->capacity = capacity;
        }
    }
    int added = set->count < set->capacity;
    if (added) set->items[set->count++] = item;
    pthread_mutex_unlock(&set->mutex);
    if (added && !lowbit_handle_register(item)) {
        lowbit_handle_set_remove(set, item);
        added = 0;
    }
    return added;
}

int lowbit_handle_set_remove(lowbit_handle_set *set, void *item)
{
    lowbit_handle_unregister(item);
    int claimed = 0;
    pthread_mutex_lock(&set->mutex);
    for (size_t i = 0; i < set->count && !claimed; ++i) {
        if (set->items[i] == item) {
            set->items[i] = set->items[--set->count];
            claimed = 1;
        }
    }
    pthread_mutex_unlock(&set->mutex);
    return claimed;
}

void *lowbit_handle_set_find(lowbit_handle_set *set, const lowbit_context *context,
                             const lowbit_context *(*context_of)(const void *item))
{
    void *found = NULL;
    pthread_mutex_lock(&set->mutex);
    for (size_t i = 0; i < set->count && !found; ++i)
        if (context_of(set->items[i]) == context) found = set->items[i];
    pthread_mutex_unlock(&set->mutex);
    return found;
}
