/* cpu_backend.c — the built-in CPU backend: always present, runs every format the CPU reference can
 * read, and is where every fallback lands. Threads split the rows of each call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../host/error.h"
#include "../../host/runtime.h"
#include "../common/cache_size.h"
#include "../common/params.h"
#include "cpu_gemv.h"
#include "cpu_simd.h"

typedef struct cpu_weights {
    lowbit_format format;
    size_t rows, cols;
    const void *data; /* the host keeps these bytes alive for the weights' lifetime */
} cpu_weights;

#define CPU_MAX_THREADS 64

typedef struct row_range_job row_range_job;
typedef struct cpu_pool cpu_pool;

typedef struct cpu_worker {
    cpu_pool *pool;
    int index;          /* runs jobs[index] of a generation when index < job_count */
    unsigned long seen; /* the last generation it took part in */
} cpu_worker;

/* Worker threads kept between calls: starting them per call cost ~30 µs each here, a tenth of a 4096×4096
 * Q4_0 GEMV and a third of a small model's decode step. One caller at a time uses them (owner); a caller
 * that finds them busy (another thread's matmul on the same context) starts threads of its own, as does a
 * forked child, which has none of the parent's workers. */
struct cpu_pool {
    pthread_mutex_t owner;
    pthread_mutex_t lock; /* guards the members below */
    pthread_cond_t wake, done;
    pthread_t handles[CPU_MAX_THREADS];
    cpu_worker workers[CPU_MAX_THREADS];
    int started; /* workers 1..started run */
    unsigned long generation;
    int remaining; /* workers still in the current generation */
    int quit;
    row_range_job *jobs;
    int job_count;
    pid_t pid; /* the process the workers belong to */
};

typedef struct cpu_backend {
    lowbit_backend backend;
    int threads;
    lowbit_params params; /* the context's parameters (dot, threads; params.h) */
    const lowbit_host_api *host;
    lowbit_device_info info;
    cpu_pool pool;
} cpu_backend;

static void read_cpu_name(char *name, size_t size, char *vendor, size_t vendor_size)
{
    snprintf(name, size, "CPU");
    snprintf(vendor, vendor_size, "unknown");
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file) return;
    char line[512];
    int have_name = 0, have_vendor = 0;
    while ((!have_name || !have_vendor) && fgets(line, sizeof line, file)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            ++value;
        value[strcspn(value, "\n")] = '\0';
        if (!have_name && strncmp(line, "model name", 10) == 0) {
            snprintf(name, size, "%s", value);
            have_name = 1;
        } else if (!have_vendor && strncmp(line, "vendor_id", 9) == 0) {
            snprintf(vendor, vendor_size, "%s", value);
            have_vendor = 1;
        }
    }
    fclose(file);
}

static lowbit_status cpu_device_count(void *self, size_t *count)
{
    (void)self;
    *count = 1;
    return LOWBIT_OK;
}

static lowbit_status cpu_device_info(void *self, size_t device, lowbit_device_info *info)
{
    cpu_backend *cpu = self;
    if (device != 0) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "cpu backend has one device, not %zu", device);
    size_t size = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    memcpy(info, &cpu->info, size);
    info->struct_size = size;
    return LOWBIT_OK;
}

static lowbit_status cpu_weights_upload(void *self, size_t device, const lowbit_backend_tensor *tensor, void **out)
{
    (void)self;
    (void)device;
    const lowbit_format_traits *traits = lowbit_format_get((int)tensor->format);
    if (!traits || !traits->can_dequantize)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "cpu backend cannot read %s weights",
                            lowbit_format_name((int)tensor->format));
    cpu_weights *weights = malloc(sizeof *weights);
    if (!weights) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: out of host memory");
    *weights = (cpu_weights){tensor->format, tensor->rows, tensor->cols, tensor->data};
    *out = weights;
    return LOWBIT_OK;
}

static void cpu_weights_release(void *self, void *weights)
{
    (void)self;
    free(weights);
}

struct row_range_job {
    const cpu_weights *weights;
    const float *x;
    float *y;
    size_t n, row_begin, row_end;
    float *scratch;
    const lowbit_cpu_q8 *q8; /* the quantized activations when the integer path runs, else NULL */
    const char *kernel;
};

static void *row_range_run(void *arg)
{
    row_range_job *job = arg;
    const cpu_weights *w = job->weights;
    if (job->q8)
        job->kernel = lowbit_cpu_gemv_int_rows(w->format, w->data, w->cols, job->q8, job->n, job->y, w->rows,
                                               job->row_begin, job->row_end);
    else
        job->kernel = lowbit_cpu_gemv_rows(w->format, w->data, w->cols, job->x, job->n, job->y, w->rows, job->row_begin,
                                           job->row_end, job->scratch);
    return NULL;
}

static void *pool_worker(void *arg)
{
    cpu_worker *self = arg;
    cpu_pool *pool = self->pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->quit && pool->generation == self->seen)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->quit) break;
        self->seen = pool->generation;
        row_range_job *job = self->index < pool->job_count ? &pool->jobs[self->index] : NULL;
        pthread_mutex_unlock(&pool->lock);
        if (job) row_range_run(job);
        pthread_mutex_lock(&pool->lock);
        if (--pool->remaining == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Runs jobs[1..count) on the pool's workers and jobs[0] here; 0 when the pool cannot take them (busy, another
 * process, or workers that fail to start), and the caller runs them some other way. */
static int pool_run(cpu_pool *pool, row_range_job *jobs, int count)
{
    if (pool->pid != getpid() || pthread_mutex_trylock(&pool->owner) != 0) return 0;
    pthread_mutex_lock(&pool->lock);
    while (pool->started < count - 1) { /* only the owner starts workers: the others are waiting */
        cpu_worker *worker = &pool->workers[pool->started + 1];
        *worker = (cpu_worker){pool, pool->started + 1, pool->generation};
        if (pthread_create(&pool->handles[pool->started + 1], NULL, pool_worker, worker) != 0) break;
        ++pool->started;
    }
    if (pool->started < count - 1) {
        pthread_mutex_unlock(&pool->lock);
        pthread_mutex_unlock(&pool->owner);
        return 0;
    }
    pool->jobs = jobs;
    pool->job_count = count;
    pool->remaining = pool->started;
    ++pool->generation;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    row_range_run(&jobs[0]);
    pthread_mutex_lock(&pool->lock);
    while (pool->remaining > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pool->jobs = NULL;
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_unlock(&pool->owner);
    return 1;
}

static void pool_init(cpu_pool *pool)
{
    pthread_mutex_init(&pool->owner, NULL);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->pid = getpid();
}

static void pool_destroy(cpu_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    if (pool->pid == getpid())
        for (int t = 1; t <= pool->started; ++t)
            pthread_join(pool->handles[t], NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->owner);
}

/* dot=auto: the integer path for every format that has one. Measured on a 2-core AMD EPYC (AVX2), int ÷ float speed
 * at n = 1 / 8 / 64 over 4096×14336 and 14336×4096 for Q4_0, Q4_K, Q6_K, Q8_0, IQ4_XS (docs/integer-dot.md): faster in
 * 27 of the 30 cases (Q4_K 1.68 / 1.44 / 1.50, IQ4_XS up to 9.1 at n = 1); the exceptions, Q4_0 and Q8_0 at n = 8 on
 * 14336×4096 (0.73, 0.82) and Q4_0 at n = 64 (0.99), are within the spread of the same cases on the other shape. */
static int cpu_dot_default(lowbit_format format, size_t n)
{
    (void)format, (void)n;
    return 1;
}

static lowbit_status cpu_matmul(void *self, lowbit_backend_matmul_args *args)
{
    cpu_backend *cpu = self;
    const cpu_weights *weights = args->weights;
    if (args->x_type != LOWBIT_ACTIVATION_F32 && args->x_type != LOWBIT_ACTIVATION_F16)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "cpu backend: activation type %d not supported",
                            (int)args->x_type);
    if (lowbit_fault_injected("cpu.run"))
        return lowbit_error(LOWBIT_ERROR_DEVICE, "cpu backend: injected fault (LOWBIT_FAULT=cpu.run)");
    /* f16 activations are converted once per call (n·cols values, small beside the weights), so every
     * kernel reads f32 rows from L1/L2 as it does for f32 activations. */
    float *x_wide = NULL;
    const float *x = args->x;
    if (args->x_type == LOWBIT_ACTIVATION_F16) {
        size_t count = args->n * weights->cols;
        x_wide = malloc(count * sizeof(float));
        if (!x_wide) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: no memory for f16 activations");
        const uint16_t *x16 = args->x;
        for (size_t i = 0; i < count; ++i)
            x_wide[i] = lowbit_fp16_to_fp32(x16[i]);
        x = x_wide;
    }
    /* the tuning database's entry for this format, batch and shape, with the context's parameters over it */
    lowbit_params params;
    char tuned[16];
    lowbit_params_for_matmul(cpu->host, &cpu->info, LOWBIT_PARAM_CPU, &cpu->params, args->n > 8 ? "gemm" : "gemv",
                             weights->format, args->n, weights->rows, weights->cols, &params, tuned, sizeof tuned);
    /* one thread per ~256k weights, so small calls do not pay for thread start-up */
    size_t work = weights->rows * weights->cols * args->n;
    int threads = params.values[LOWBIT_KEY_THREADS] ? (int)params.values[LOWBIT_KEY_THREADS] : cpu->threads;
    if ((size_t)threads > work / 262144 + 1) threads = (int)(work / 262144 + 1);
    if ((size_t)threads > weights->rows) threads = (int)weights->rows;
    if (threads < 1) threads = 1;
    float *scratch = malloc((size_t)threads * weights->cols * sizeof(float));
    if (!scratch) {
        free(x_wide);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: no memory for row scratch");
    }
    /* the integer path: X quantized once here (n·cols values), read by every thread */
    lowbit_cpu_q8 q8 = {NULL, NULL, NULL, NULL, NULL};
    const int use_int =
        lowbit_cpu_gemv_int_available(weights->format) &&
        (params.dot == LOWBIT_DOT_INT || (params.dot == LOWBIT_DOT_AUTO && cpu_dot_default(weights->format, args->n)));
    if (use_int) {
        const size_t count = args->n * weights->cols, blocks = count / 32;
        q8.q = malloc(count);
        /* per 32: d and s (Q8_1 rule), or Σq beside a d per 256 (Q8_K) */
        float *scales = malloc(2 * blocks * sizeof(float));
        if (!q8.q || !scales) {
            free(q8.q), free(scales), free(scratch), free(x_wide);
            return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: no memory for quantized activations");
        }
        if (lowbit_cpu_gemv_int_superblock(weights->format)) {
            q8.d256 = scales;
            q8.sum32 = (int32_t *)(void *)(scales + blocks);
            lowbit_cpu_quantize_q8_k(x, args->n, weights->cols, &q8);
        } else {
            q8.d = scales;
            q8.s = scales + blocks;
            lowbit_cpu_quantize_q8(x, args->n, weights->cols, &q8);
        }
    }
    row_range_job jobs[CPU_MAX_THREADS];
    pthread_t handles[CPU_MAX_THREADS];
    for (int t = 0; t < threads; ++t) {
        jobs[t] = (row_range_job){weights,
                                  x,
                                  args->y,
                                  args->n,
                                  weights->rows * (size_t)t / (size_t)threads,
                                  weights->rows * (size_t)(t + 1) / (size_t)threads,
                                  scratch + (size_t)t * weights->cols,
                                  use_int ? &q8 : NULL,
                                  NULL};
    }
    if (threads == 1) {
        row_range_run(&jobs[0]);
    } else if (!pool_run(&cpu->pool, jobs, threads)) {
        int started = 0;
        for (int t = 1; t < threads; ++t) {
            if (pthread_create(&handles[t], NULL, row_range_run, &jobs[t]) != 0) break;
            started = t;
        }
        for (int t = started + 1; t < threads; ++t)
            row_range_run(&jobs[t]); /* threads that did not start */
        row_range_run(&jobs[0]);
        for (int t = 1; t <= started; ++t)
            pthread_join(handles[t], NULL);
    }
    /* Test hook (LOWBIT_FAULT=cpu.wrong): the single-thread variant answers wrong, as a broken kernel variant would,
     * so the tests see lowbit-tune's verification reject a candidate. */
    if (threads == 1 && lowbit_fault_injected("cpu.wrong"))
        for (size_t i = 0; i < args->n * weights->rows; i += 7)
            args->y[i] = args->y[i] * 1.5f + 1.0f;
    snprintf(args->kernel, sizeof args->kernel, "%s threads=%d%s%s%s", jobs[0].kernel, threads, x_wide ? " x=f16" : "",
             tuned[0] ? " tuned=" : "", tuned);
    if (use_int && args->struct_size >= offsetof(lowbit_backend_matmul_args, activations_quantized) + sizeof(int))
        args->activations_quantized = 1;
    free(q8.q);
    free(q8.d ? q8.d : q8.d256);
    free(scratch);
    free(x_wide);
    return LOWBIT_OK;
}

typedef struct stream_job {
    const float *data;
    size_t count;
    float sum;
} stream_job;

/* Sums a contiguous range with 64 independent lanes: a plain streaming read the compiler vectorizes at the
 * CPU's widest vectors (multiversioned), with enough independent adds in flight that the loads, not the add
 * latency, bound it — a narrower, shallower loop under-read this machine's bandwidth by a quarter. */
LOWBIT_MULTIVERSION static float stream_sum(const float *data, size_t count)
{
    float lanes[64] = {0};
    size_t body = count - count % 64;
    for (size_t i = 0; i < body; i += 64)
        for (int k = 0; k < 64; ++k)
            lanes[k] += data[i + k];
    float sum = 0.0f;
    for (int k = 0; k < 64; ++k)
        sum += lanes[k];
    return sum;
}

static void *stream_read(void *arg)
{
    stream_job *job = arg;
    float sum = stream_sum(job->data, job->count);
    job->sum = sum;
    return NULL;
}

static lowbit_status cpu_measure_bandwidth(void *self, size_t device, size_t bytes, double *bytes_per_second)
{
    cpu_backend *cpu = self;
    (void)device;
    if (bytes == 0) {
        /* the default: LOWBIT_CACHE_MULTIPLE x the host's last-level cache, at least 256 MiB (cache_size.h), so the
         * probe streams from DRAM; at most half the host's memory */
        uint64_t wanted = lowbit_default_probe_bytes(1);
        if (cpu->info.global_memory && wanted > cpu->info.global_memory / 2) wanted = cpu->info.global_memory / 2;
        bytes = wanted > SIZE_MAX ? SIZE_MAX : (size_t)wanted;
    }
    size_t count = bytes / sizeof(float);
    if (count == 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "cpu bandwidth probe: %zu bytes is too small", bytes);
    float *data = malloc(count * sizeof(float));
    if (!data) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu bandwidth probe: no %zu-byte buffer", bytes);
    for (size_t i = 0; i < count; ++i)
        data[i] = (float)(i & 1023); /* touch every page */
    double best = 0.0;
    for (int run = 0; run < 5; ++run) {
        stream_job jobs[CPU_MAX_THREADS];
        pthread_t handles[CPU_MAX_THREADS];
        int threads = cpu->threads, started = 0;
        double start = lowbit_now_seconds();
        for (int t = 0; t < threads; ++t) {
            size_t begin = count * (size_t)t / (size_t)threads, end = count * (size_t)(t + 1) / (size_t)threads;
            jobs[t] = (stream_job){data + begin, end - begin, 0.0f};
        }
        for (int t = 1; t < threads; ++t) {
            if (pthread_create(&handles[t], NULL, stream_read, &jobs[t]) != 0) break;
            started = t;
        }
        for (int t = started + 1; t < threads; ++t)
            stream_read(&jobs[t]);
        stream_read(&jobs[0]);
        for (int t = 1; t <= started; ++t)
            pthread_join(handles[t], NULL);
        double elapsed = lowbit_now_seconds() - start;
        volatile float sink = jobs[0].sum; /* keeps the reads */
        (void)sink;
        if (elapsed > 0.0 && (double)(count * sizeof(float)) / elapsed > best)
            best = (double)(count * sizeof(float)) / elapsed;
    }
    free(data);
    *bytes_per_second = best;
    return LOWBIT_OK;
}

/* --- ABI 1.2: buffers are host memory and every queued operation runs when it is enqueued ---------- */
static lowbit_status cpu_buffer_create(void *self, size_t device, size_t size, unsigned flags, void **buffer,
                                       void **host_pointer)
{
    (void)self, (void)device, (void)flags;
    if (lowbit_fault_injected("cpu.alloc"))
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: injected fault (LOWBIT_FAULT=cpu.alloc)");
    /* 64-byte aligned like the kernels' own rows, so a buffer at offset 0 reads as fast as any array */
    void *memory = NULL;
    if (posix_memalign(&memory, 64, size) != 0 || !memory)
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: no host memory for a %zu-byte buffer", size);
    *buffer = memory;
    *host_pointer = memory;
    return LOWBIT_OK;
}

static void cpu_buffer_release(void *self, void *buffer)
{
    (void)self;
    free(buffer);
}

static lowbit_status cpu_queue_create(void *self, size_t device, void **queue)
{
    (void)device;
    *queue = self; /* nothing to hold: operations complete at enqueue */
    return LOWBIT_OK;
}

static void cpu_queue_release(void *self, void *queue) { (void)self, (void)queue; }

static lowbit_status cpu_copy(lowbit_backend_copy_args *args, int to_buffer)
{
    if (lowbit_fault_injected("cpu.copy"))
        return lowbit_error(LOWBIT_ERROR_DEVICE, "cpu backend: injected fault (LOWBIT_FAULT=cpu.copy)");
    unsigned char *memory = (unsigned char *)args->buffer + args->offset;
    if (to_buffer)
        memcpy(memory, args->host, args->size);
    else
        memcpy(args->host, memory, args->size);
    args->event = NULL;
    return LOWBIT_OK;
}

static lowbit_status cpu_enqueue_write(void *self, void *queue, lowbit_backend_copy_args *args)
{
    (void)self, (void)queue;
    return cpu_copy(args, 1);
}

static lowbit_status cpu_enqueue_read(void *self, void *queue, lowbit_backend_copy_args *args)
{
    (void)self, (void)queue;
    return cpu_copy(args, 0);
}

static lowbit_status cpu_enqueue_matmul(void *self, void *queue, lowbit_backend_queued_matmul_args *args)
{
    (void)queue;
    lowbit_backend_matmul_args call = {sizeof call,
                                       args->weights,
                                       (const unsigned char *)args->x + args->x_offset,
                                       args->x_type,
                                       (float *)(void *)((unsigned char *)args->y + args->y_offset),
                                       args->n,
                                       "",
                                       0.0,
                                       0};
    lowbit_status status = cpu_matmul(self, &call);
    memcpy(args->kernel, call.kernel, sizeof args->kernel);
    args->event = NULL;
    return status;
}

static lowbit_status cpu_queue_noop(void *self, void *queue)
{
    (void)self, (void)queue;
    return LOWBIT_OK;
}

/* The CPU backend never returns an event (every operation is complete), so these see none. */
static lowbit_status cpu_event_wait(void *self, void *event)
{
    (void)self, (void)event;
    return LOWBIT_OK;
}

static lowbit_status cpu_event_query(void *self, void *event, int *complete)
{
    (void)self, (void)event;
    *complete = 1;
    return LOWBIT_OK;
}

static void cpu_event_release(void *self, void *event) { (void)self, (void)event; }

static void cpu_destroy(void *self)
{
    cpu_backend *cpu = self;
    pool_destroy(&cpu->pool);
    free(cpu);
}

lowbit_status lowbit_cpu_backend_create(const lowbit_host_api *host, lowbit_backend **out)
{
    cpu_backend *cpu = calloc(1, sizeof *cpu);
    if (!cpu) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "cpu backend: out of host memory");
    char why[160];
    cpu->host = host;
    if (!host || host->struct_size < offsetof(lowbit_host_api, params) + sizeof host->params ||
        lowbit_params_parse_for(host->params, LOWBIT_PARAM_CPU, &cpu->params, why, sizeof why) != 0)
        memset(&cpu->params, 0, sizeof cpu->params); /* the host has validated the string */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cpu->threads = cores < 1 ? 1 : cores > CPU_MAX_THREADS ? CPU_MAX_THREADS : (int)cores;
    /* LOWBIT_CPU_THREADS=N (1..64) caps the threads of one matmul: an engine whose own threads keep cores busy
     * between its ops (ggml-cpu's OpenMP workers spin after each graph part) leaves lowbit fewer free cores. */
    const char *threads = getenv("LOWBIT_CPU_THREADS");
    if (threads && *threads) {
        lowbit_log(LOWBIT_LOG_WARN, "LOWBIT_CPU_THREADS is deprecated and goes in the next version; write "
                                    "LOWBIT_PARAMS=cpu.threads=N instead");
        char *end = NULL;
        long value = strtol(threads, &end, 10);
        if (*end != '\0' || value < 1 || value > CPU_MAX_THREADS)
            lowbit_log(LOWBIT_LOG_WARN, "LOWBIT_CPU_THREADS='%s' is not 1..%d: ignored", threads, CPU_MAX_THREADS);
        else
            cpu->threads = (int)value;
    }
    pool_init(&cpu->pool);
    lowbit_device_info *info = &cpu->info;
    info->struct_size = sizeof *info;
    info->api = LOWBIT_API_CPU;
    snprintf(info->id, sizeof info->id, "cpu");
    read_cpu_name(info->name, sizeof info->name, info->vendor, sizeof info->vendor);
    snprintf(info->driver_version, sizeof info->driver_version, "lowbit %s", lowbit_version_string());
    snprintf(info->api_version, sizeof info->api_version, "built-in");
    info->is_cpu_device = 1;
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    info->global_memory = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
    info->max_allocation = info->global_memory;
    info->max_buffer_range = info->global_memory;
    info->max_workgroup_size = 1;
    info->compute_units = (uint32_t)cpu->threads;
    for (int f = 0; f < LOWBIT_FORMAT_COUNT; ++f) {
        const lowbit_format_traits *traits = lowbit_format_get(f);
        if (traits && traits->can_dequantize && !traits->is_activation_only) info->formats |= 1ull << f;
    }
    cpu->backend = (lowbit_backend){.struct_size = sizeof(lowbit_backend),
                                    .abi_major = LOWBIT_BACKEND_ABI_MAJOR,
                                    .abi_minor = LOWBIT_BACKEND_ABI_MINOR,
                                    .name = "cpu",
                                    .api = LOWBIT_API_CPU,
                                    .self = cpu,
                                    .device_count = cpu_device_count,
                                    .device_info = cpu_device_info,
                                    .weights_upload = cpu_weights_upload,
                                    .weights_release = cpu_weights_release,
                                    .matmul = cpu_matmul,
                                    .destroy = cpu_destroy,
                                    .measure_bandwidth = cpu_measure_bandwidth,
                                    .buffer_create = cpu_buffer_create,
                                    .buffer_release = cpu_buffer_release,
                                    .queue_create = cpu_queue_create,
                                    .queue_release = cpu_queue_release,
                                    .enqueue_write = cpu_enqueue_write,
                                    .enqueue_read = cpu_enqueue_read,
                                    .enqueue_matmul = cpu_enqueue_matmul,
                                    .queue_flush = cpu_queue_noop,
                                    .queue_finish = cpu_queue_noop,
                                    .event_wait = cpu_event_wait,
                                    .event_query = cpu_event_query,
                                    .event_release = cpu_event_release};
    *out = &cpu->backend;
    return LOWBIT_OK;
}
