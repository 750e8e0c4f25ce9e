/* json_file.c — json.h's atomic file writer: a temporary file beside the target, synced, renamed over it (the
 * tuning database and lowbit-quantize's plans are written this way, so a reader never sees half a file). */
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of every folder above the file `path` */
static int make_parents(const char *path, char *why, size_t why_size)
{
    char *copy = strdup(path);
    if (!copy) {
        snprintf(why, why_size, "%s: out of memory", path);
        return -1;
    }
    for (char *p = copy + 1; *p; ++p) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            snprintf(why, why_size, "%s: creating the folder %s: %s", path, copy, strerror(errno));
            free(copy);
            return -1;
        }
        *p = '/';
    }
    free(copy);
    return 0;
}

static int write_all(int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int json_write_file(const char *path, const char *data, size_t length, char *why, size_t why_size)
{
    if (make_parents(path, why, why_size)) {
        return -1;
    }
    size_t path_length = strlen(path);
    char *temp = malloc(path_length + sizeof ".tmp.XXXXXX");
    if (!temp) {
        snprintf(why, why_size, "%s: out of memory", path);
        return -1;
    }
    memcpy(temp, path, path_length);
    memcpy(temp + path_length, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkostemp(temp, O_CLOEXEC);
    const char *step = "creating a temporary file";
    int ok = fd >= 0;
    if (ok) {
        step = "writing";
        ok = fchmod(fd, 0644) == 0 && write_all(fd, data, length) == 0;
        if (ok) {
            step = "syncing";
            ok = fsync(fd) == 0;
        }
        if (close(fd) != 0 && ok) {
            step = "closing";
            ok = 0;
        }
        if (ok) {
            step = "renaming the temporary file";
            ok = rename(temp, path) == 0;
        }
    }
    if (!ok) {
        int saved = errno;
        if (fd >= 0) unlink(temp);
        snprintf(why, why_size, "%s: %s %s: %s", path, step, temp, strerror(saved));
        free(temp);
        errno = saved;
        return -1;
    }
    free(temp);
    /* make the rename itself durable: sync the folder (best effort; some file systems refuse) */
    const char *slash = strrchr(path, '/');
    char *folder = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (folder) {
        int dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            (void)fsync(dir);
            close(dir);
        }
        free(folder);
    }
    return 0;
}
