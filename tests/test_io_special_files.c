/* test_io_special_files.c — regressions: the readers hung forever on a FIFO (opened before the regular-file
 * check), and the writer's rename turned a FIFO, a device node or a symbolic link given as the destination
 * into a regular file. Readers now refuse at once; the writer refuses special files and writes through a
 * link to a regular file, keeping the link. An alarm turns a hang into a failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lowbit/lowbit_io.h"
#include "test_support.h"

static char test_dir[512];

static void path_in_test_dir(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", test_dir, name);
}

static int make_test_dir(void **state)
{
    (void)state;
    alarm(60); /* a blocking open would otherwise hang the test until ctest's timeout */
    return test_temp_dir_create(test_dir, sizeof test_dir, "test_io_special_files");
}

static int remove_test_dir(void **state)
{
    (void)state;
    alarm(0);
    test_temp_dir_remove(test_dir);
    return 0;
}

static lowbit_gguf_writer *small_writer(void)
{
    static const uint8_t bytes[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const uint64_t ne[] = {4};
    lowbit_gguf_writer *writer = NULL;
    assert_int_equal(lowbit_gguf_writer_create(&writer), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_set_string(writer, "general.architecture", "llama"), LOWBIT_OK);
    assert_int_equal(lowbit_gguf_writer_add_tensor(writer, "t", LOWBIT_FORMAT_F32, 1, ne, bytes, sizeof bytes),
                     LOWBIT_OK);
    return writer;
}

static void assert_mode(const char *path, mode_t type)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & S_IFMT, type);
}

static void test_readers_refuse_fifo_and_directory_without_blocking(void **state)
{
    (void)state;
    char fifo[1024];
    path_in_test_dir(fifo, sizeof fifo, "model.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *paths[] = {fifo, test_dir};
    for (size_t i = 0; i < 2; ++i) {
        lowbit_gguf *gguf = (lowbit_gguf *)0x1;
        assert_int_equal(lowbit_gguf_open(paths[i], &gguf), LOWBIT_ERROR_IO);
        assert_null(gguf);
        assert_non_null(strstr(lowbit_last_error(), i == 0 ? "is a FIFO, not a regular file" : "is a directory"));
        lowbit_safetensors *file = NULL;
        assert_int_equal(lowbit_safetensors_open(paths[i], &file), LOWBIT_ERROR_IO);
        assert_null(file);
        assert_non_null(strstr(lowbit_last_error(), "not a regular file"));
    }
}

static void test_writer_refuses_special_destinations(void **state)
{
    (void)state;
    char fifo[1024], device[1024], link_to_fifo[1024], dangling[1024];
    path_in_test_dir(fifo, sizeof fifo, "out.fifo");
    path_in_test_dir(device, sizeof device, "null");
    path_in_test_dir(link_to_fifo, sizeof link_to_fifo, "link-to-fifo.gguf");
    path_in_test_dir(dangling, sizeof dangling, "dangling.gguf");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(fifo, link_to_fifo), 0);
    assert_int_equal(symlink("no-such-file.gguf", dangling), 0);
    /* a private copy of /dev/null (root only): the real one is never put at risk */
    int have_device = mknod(device, S_IFCHR | 0600, makedev(1, 3)) == 0;

    lowbit_gguf_writer *writer = small_writer();
    assert_int_equal(lowbit_gguf_writer_write(writer, fifo), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "it is a FIFO, not a regular file"));
    assert_mode(fifo, S_IFIFO);
    assert_int_equal(lowbit_gguf_writer_write(writer, test_dir), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "it is a directory"));
    assert_int_equal(lowbit_gguf_writer_write(writer, link_to_fifo), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "which is a FIFO"));
    assert_mode(link_to_fifo, S_IFLNK);
    assert_mode(fifo, S_IFIFO);
    assert_int_equal(lowbit_gguf_writer_write(writer, dangling), LOWBIT_ERROR_IO);
    assert_mode(dangling, S_IFLNK);
    if (have_device) {
        assert_int_equal(lowbit_gguf_writer_write(writer, device), LOWBIT_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(lowbit_last_error(), "it is a character device"));
        assert_mode(device, S_IFCHR);
    } else {
        print_message("not root: the device-node case was skipped (FIFO, directory and links were checked)\n");
    }
    /* nothing was left behind: the test folder holds exactly what the test made */
    DIR *dir = opendir(test_dir);
    assert_non_null(dir);
    size_t entries = 0;
    for (struct dirent *entry; (entry = readdir(dir));)
        entries += entry->d_name[0] != '.';
    closedir(dir);
    assert_int_equal(entries, 3 + (size_t)have_device);
    lowbit_gguf_writer_destroy(writer);
}

static void test_writer_writes_through_a_link_to_a_regular_file(void **state)
{
    (void)state;
    char target[1024], link[1024];
    path_in_test_dir(target, sizeof target, "real.gguf");
    path_in_test_dir(link, sizeof link, "link.gguf");
    FILE *old = fopen(target, "w");
    assert_non_null(old);
    fputs("old contents", old);
    fclose(old);
    assert_int_equal(symlink("real.gguf", link), 0);
    lowbit_gguf_writer *writer = small_writer();
    assert_int_equal(lowbit_gguf_writer_write(writer, link), LOWBIT_OK);
    lowbit_gguf_writer_destroy(writer);
    assert_mode(link, S_IFLNK); /* the link stays a link ... */
    assert_mode(target, S_IFREG);
    lowbit_gguf *gguf = NULL; /* ... and its target holds the new file */
    assert_int_equal(lowbit_gguf_open(target, &gguf), LOWBIT_OK);
    size_t count = 0;
    assert_int_equal(lowbit_gguf_tensor_count(gguf, &count), LOWBIT_OK);
    assert_int_equal(count, 1);
    lowbit_gguf_close(gguf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readers_refuse_fifo_and_directory_without_blocking, make_test_dir,
                                        remove_test_dir),
        cmocka_unit_test_setup_teardown(test_writer_refuses_special_destinations, make_test_dir, remove_test_dir),
        cmocka_unit_test_setup_teardown(test_writer_writes_through_a_link_to_a_regular_file, make_test_dir,
                                        remove_test_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
