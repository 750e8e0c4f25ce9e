/* mapped_file.c — maps a model file read-only so tensor data is used in place, never copied, and
 * records the file's identity so a writer can refuse to overwrite its own input. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "io_internal.h"

lowbit_status lowbit_mapped_file_open(const char *path, lowbit_mapped_file *file)
{
    memset(file, 0, sizeof *file);
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer; the regular-file
     * check below refuses it (and devices, directories) before anything is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return lowbit_error(LOWBIT_ERROR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return lowbit_error(LOWBIT_ERROR_IO, "cannot stat '%s': %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lowbit_error(LOWBIT_ERROR_IO, "'%s' is %s, not a regular file", path, lowbit_file_kind(st.st_mode));
    }
    if (st.st_size <= 0) {
        close(fd);
        return lowbit_error(LOWBIT_ERROR_CORRUPT, "'%s' is empty", path);
    }
    if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "'%s' is too large to map on this system", path);
    }
    void *mapping = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd); /* the mapping keeps the file alive */
    if (mapping == MAP_FAILED) return lowbit_error(LOWBIT_ERROR_IO, "cannot map '%s': %s", path, strerror(err));
    file->data = mapping;
    file->size = (size_t)st.st_size;
    file->owns_mapping = 1;
    file->has_identity = 1;
    file->device = st.st_dev;
    file->inode = st.st_ino;
    return LOWBIT_OK;
}

const char *lowbit_file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISREG(mode)) return "a regular file";
    return "a special file";
}

void lowbit_mapped_file_borrow(const void *data, size_t size, lowbit_mapped_file *file)
{
    memset(file, 0, sizeof *file);
    file->data = data;
    file->size = size;
}

void lowbit_mapped_file_close(lowbit_mapped_file *file)
{
    if (file->owns_mapping && file->data) munmap((void *)file->data, file->size);
    memset(file, 0, sizeof *file);
}
