/* tool_util.c — helpers shared by the command-line tools. */
#include "tool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lowbit/lowbit_format.h"

void tool_json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; ++p) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

const char *tool_human_bytes(uint64_t bytes, char *buffer, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    int unit = 0;
    while (value >= 1024.0 && unit < 4)
        value /= 1024.0, ++unit;
    snprintf(buffer, size, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
    return buffer;
}

double tool_now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

const char *tool_format_list(uint64_t formats, char *buffer, size_t size)
{
    buffer[0] = '\0';
    size_t used = 0;
    for (int f = 0; f < 64 && used + 1 < size; ++f) {
        if (!(formats & (1ull << f))) continue;
        int n = snprintf(buffer + used, size - used, "%s%s", used ? " " : "", lowbit_format_name(f));
        if (n < 0) break;
        used += (size_t)n;
    }
    return buffer;
}

int tool_parse_size(const char *text, size_t *value)
{
    if (!text || !*text) return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || *end != '\0' || parsed == 0 || text[0] == '-' || parsed > (unsigned long long)SIZE_MAX) return -1;
    *value = (size_t)parsed;
    return 0;
}

void tool_reference_matmul(const float *w, size_t rows, size_t cols, const float *x, size_t n, double *y)
{
    for (size_t i = 0; i < n; ++i)
        for (size_t r = 0; r < rows; ++r) {
            double sum = 0.0;
            for (size_t c = 0; c < cols; ++c)
                sum += (double)w[r * cols + c] * (double)x[i * cols + c];
            y[i * rows + r] = sum;
        }
}

double tool_nmse(const float *y, const double *reference, size_t count)
{
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < count; ++i) {
        double d = (double)y[i] - reference[i];
        error += d * d;
        norm += reference[i] * reference[i];
    }
    return norm > 0.0 ? error / norm : error;
}

int tool_read_regular_file(const char *path, const char *what, unsigned char **data, size_t *size, char *error,
                           size_t error_size)
{
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: a FIFO would otherwise block the open until some writer appears */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(error, error_size, "%s: cannot open '%s': %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(error, error_size, "%s: '%s' is not a regular file", what, path);
        close(fd);
        return -1;
    }
    if ((uintmax_t)st.st_size >= (uintmax_t)SIZE_MAX) {
        snprintf(error, error_size, "%s: '%s' is too large", what, path);
        close(fd);
        return -1;
    }
    size_t length = (size_t)st.st_size, done = 0;
    unsigned char *bytes = malloc(length ? length : 1);
    while (bytes && done < length) {
        ssize_t got = read(fd, bytes + done, length - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break; /* an error, or the file shrank while being read */
        done += (size_t)got;
    }
    close(fd);
    if (!bytes || done != length) {
        snprintf(error, error_size, "%s: cannot read '%s'%s", what, path, bytes ? "" : " (out of memory)");
        free(bytes);
        return -1;
    }
    *data = bytes;
    *size = length;
    return 0;
}

int tool_thread_count(int requested)
{
    if (requested <= 0) {
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        requested = online > 0 ? (int)online : 1;
    }
    return requested > TOOL_MAX_THREADS ? TOOL_MAX_THREADS : requested;
}

void tool_parallel(int n, void *(*fn)(void *), void *tasks, size_t task_size)
{
    pthread_t ids[TOOL_MAX_THREADS];
    int started[TOOL_MAX_THREADS] = {0};
    if (n > TOOL_MAX_THREADS) n = TOOL_MAX_THREADS;
    for (int i = 1; i < n; ++i)
        started[i] = pthread_create(&ids[i], NULL, fn, (char *)tasks + (size_t)i * task_size) == 0;
    for (int i = 1; i < n; ++i)
        if (!started[i]) fn((char *)tasks + (size_t)i * task_size);
    if (n > 0) fn(tasks);
    for (int i = 1; i < n; ++i)
        if (started[i]) pthread_join(ids[i], NULL);
}

int tool_split_list(char *text, char **items, size_t max, size_t *count)
{
    *count = 0;
    for (char *save = NULL, *item = strtok_r(text, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*count == max) return -1;
        items[(*count)++] = item;
    }
    return *count ? 0 : -1;
}

int tool_parse_shape(const char *text, size_t *rows, size_t *cols)
{
    char first[32], second[32];
    const char *x = strchr(text, 'x');
    if (!x || (size_t)(x - text) >= sizeof first || strlen(x + 1) >= sizeof second) return -1;
    memcpy(first, text, (size_t)(x - text));
    first[x - text] = '\0';
    strcpy(second, x + 1);
    if (tool_parse_size(first, rows) != 0 || tool_parse_size(second, cols) != 0) return -1;
    return *rows <= 1u << 20 && *cols <= 1u << 20 ? 0 : -1;
}

int tool_plot_begin(tool_plot *plot)
{
    snprintf(plot->data_path, sizeof plot->data_path, "/tmp/lowbit-plot-data-XXXXXX");
    snprintf(plot->script_path, sizeof plot->script_path, "/tmp/lowbit-plot-script-XXXXXX");
    plot->data = plot->script = NULL;
    int data_fd = mkstemp(plot->data_path), script_fd = data_fd < 0 ? -1 : mkstemp(plot->script_path);
    if (data_fd >= 0) plot->data = fdopen(data_fd, "w");
    if (script_fd >= 0) plot->script = fdopen(script_fd, "w");
    if (plot->data && plot->script) return 0;
    if (plot->data)
        fclose(plot->data);
    else if (data_fd >= 0)
        close(data_fd);
    if (plot->script)
        fclose(plot->script);
    else if (script_fd >= 0)
        close(script_fd);
    if (data_fd >= 0) unlink(plot->data_path);
    if (script_fd >= 0) unlink(plot->script_path);
    return -1;
}

int tool_plot_finish(tool_plot *plot)
{
    int written = fclose(plot->data) == 0;
    written &= fclose(plot->script) == 0;
    char command[160];
    snprintf(command, sizeof command, "gnuplot '%s' 2>&1", plot->script_path);
    int status = written ? system(command) : -1;
    unlink(plot->data_path);
    unlink(plot->script_path);
    return status == 0 ? 0 : -1;
}

void tool_copy_safetensors_metadata(const lowbit_safetensors *file, lowbit_gguf_writer *writer)
{
    size_t meta_count = 0;
    lowbit_safetensors_metadata_count(file, &meta_count);
    for (size_t m = 0; m < meta_count; ++m) {
        const char *key = NULL, *value = NULL;
        char gguf_key[512];
        if (lowbit_safetensors_metadata_get(file, m, &key, &value) != LOWBIT_OK) continue;
        snprintf(gguf_key, sizeof gguf_key, "safetensors.%s", key);
        lowbit_gguf_writer_set_string(writer, gguf_key, value);
    }
}
