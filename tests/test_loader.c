/* test_loader.c — plugin loading (missing file, wrong ABI, no entry symbol, refusing entry, discovery
 * skipping bad plugins) and the CPU fallback when a device fails, using test-only plugins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

static char plugin_file[1024];

static const char *plugin(const char *name)
{
    const char *dir = getenv("LOWBIT_TEST_PLUGIN_DIR");
    assert_non_null(dir);
    snprintf(plugin_file, sizeof plugin_file, "%s/%s_plugin.so", dir, name);
    return plugin_file;
}

static lowbit_status create_with(const char *path, lowbit_context **context)
{
    const char *files[1] = {path};
    lowbit_context_options options = {sizeof options, 0, NULL, files, 1, NULL};
    return lowbit_context_create(&options, context);
}

static void test_missing_plugin_file(void **state)
{
    (void)state;
    lowbit_context *context = NULL;
    assert_int_equal(create_with("/nonexistent/liblowbit-nothing.so", &context), LOWBIT_ERROR_PLUGIN);
    assert_null(context);
    assert_non_null(strstr(lowbit_last_error(), "/nonexistent/liblowbit-nothing.so"));
    assert_non_null(strstr(lowbit_last_error(), "does not exist"));
}

static void test_wrong_abi_major(void **state)
{
    (void)state;
    lowbit_context *context = NULL;
    assert_int_equal(create_with(plugin("bad_abi"), &context), LOWBIT_ERROR_PLUGIN);
    assert_null(context);
    assert_non_null(strstr(lowbit_last_error(), "ABI 99.0"));
    assert_non_null(strstr(lowbit_last_error(), "speaks 1."));
}

static void test_missing_entry_symbol(void **state)
{
    (void)state;
    lowbit_context *context = NULL;
    assert_int_equal(create_with(plugin("no_entry"), &context), LOWBIT_ERROR_PLUGIN);
    assert_non_null(strstr(lowbit_last_error(), "not a lowbit plugin"));
    assert_non_null(strstr(lowbit_last_error(), "lowbit_backend_entry"));
}

static void test_entry_refuses_host(void **state)
{
    (void)state;
    lowbit_context *context = NULL;
    setenv("FAULTY_PLUGIN_REFUSE_ABI", "1", 1);
    assert_int_equal(create_with(plugin("faulty"), &context), LOWBIT_ERROR_PLUGIN);
    unsetenv("FAULTY_PLUGIN_REFUSE_ABI");
    assert_non_null(strstr(lowbit_last_error(), "refused to start"));
    assert_non_null(strstr(lowbit_last_error(), "needs backend ABI major 1"));
}

static void test_not_a_shared_library(void **state)
{
    (void)state;
    char path[] = "/tmp/lowbit-test-garbage-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not an ELF file", 15), 15);
    close(fd);
    lowbit_context *context = NULL;
    assert_int_equal(create_with(path, &context), LOWBIT_ERROR_PLUGIN);
    assert_non_null(strstr(lowbit_last_error(), "cannot load plugin"));
    unlink(path);
}

/* Discovery (no explicit files) skips a bad plugin with a warning and keeps working. */
static void test_discovery_skips_bad_plugins(void **state)
{
    (void)state;
    char dir[] = "/tmp/lowbit-test-plugins-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link_bad[1200], link_faulty[1200];
    snprintf(link_bad, sizeof link_bad, "%s/liblowbit-bad.so", dir);
    snprintf(link_faulty, sizeof link_faulty, "%s/liblowbit-faulty.so", dir);
    assert_int_equal(symlink(plugin("bad_abi"), link_bad), 0);
    assert_int_equal(symlink(plugin("faulty"), link_faulty), 0);
    lowbit_context_options options = {sizeof options, 0, dir, NULL, 0, NULL};
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_OK);
    size_t device = 0;
    assert_int_equal(lowbit_device_find(context, "faulty:0", &device), LOWBIT_OK);
    assert_int_equal(lowbit_device_find(context, "future:0", &device), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_context_destroy(context);
    unlink(link_bad);
    unlink(link_faulty);
    rmdir(dir);
}

static void check_fallback(unsigned flags)
{
    lowbit_context *context = NULL;
    assert_int_equal(create_with(plugin("faulty"), &context), LOWBIT_OK);
    size_t device = 0;
    assert_int_equal(lowbit_device_find(context, "faulty:0", &device), LOWBIT_OK);
    const size_t rows = 70, cols = 128, n = 3;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, rows, cols, 7, &size);
    float x[3 * 128], y[3 * 70];
    double reference[3 * 70];
    test_fill_random(x, n * cols, 8, 1.0f);
    test_reference_matmul(LOWBIT_FORMAT_Q4_0, packed, size, rows, cols, x, n, reference);
    lowbit_weights *weights = NULL;
    assert_int_equal(
        lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_0, rows, cols, packed, size, flags, &weights),
        LOWBIT_OK);
    if (flags & LOWBIT_UPLOAD_BORROW_HOST) {
        /* borrowed bytes are read at fallback time: they must still be the caller's */
    } else {
        memset(packed, 0, size); /* lowbit kept its own copy */
    }
    assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
    assert_true(test_nmse(y, reference, n * rows) <= 1e-6);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    assert_int_equal(run.fell_back, 1);
    assert_string_equal(run.device_id, "cpu");
    assert_string_equal(run.requested_device_id, "faulty:0");
    assert_non_null(strstr(run.fallback_reason, "device lost"));
    lowbit_weights_destroy(weights);
    free(packed);
    lowbit_context_destroy(context);
}

static void test_fallback_with_copy(void **state)
{
    (void)state;
    check_fallback(0);
}

static void test_fallback_with_borrowed_bytes(void **state)
{
    (void)state;
    check_fallback(LOWBIT_UPLOAD_BORROW_HOST);
}

static void test_no_fallback_reports_the_device_error(void **state)
{
    (void)state;
    lowbit_context *context = NULL;
    assert_int_equal(create_with(plugin("faulty"), &context), LOWBIT_OK);
    size_t device = 0;
    assert_int_equal(lowbit_device_find(context, "faulty:0", &device), LOWBIT_OK);
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, 4, 32, 9, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q8_0, 4, 32, packed, size,
                                           LOWBIT_UPLOAD_NO_FALLBACK, &weights),
                     LOWBIT_OK);
    float x[32] = {1.0f}, y[4];
    assert_int_equal(lowbit_matmul(context, weights, x, y, 1), LOWBIT_ERROR_DEVICE);
    assert_non_null(strstr(lowbit_last_error(), "device lost"));
    assert_non_null(strstr(lowbit_last_error(), "NO_FALLBACK"));
    lowbit_weights_destroy(weights);
    free(packed);
    lowbit_context_destroy(context);
}

/* A plugin built for ABI 1.1 has no buffers or queues: the host refuses them on its device, naming why. */
static void test_old_plugin_has_no_queues(void **state)
{
    (void)state;
    lowbit_context *context = NULL;
    assert_int_equal(create_with(plugin("faulty"), &context), LOWBIT_OK);
    size_t device = 0;
    assert_int_equal(lowbit_device_find(context, "faulty:0", &device), LOWBIT_OK);
    lowbit_buffer *buffer = NULL;
    lowbit_queue *queue = NULL;
    assert_int_equal(lowbit_buffer_create(context, device, 64, 0, &buffer), LOWBIT_ERROR_UNSUPPORTED);
    assert_non_null(strstr(lowbit_last_error(), "ABI 1.2"));
    assert_null(buffer);
    assert_int_equal(lowbit_queue_create(context, device, &queue), LOWBIT_ERROR_UNSUPPORTED);
    assert_null(queue);
    lowbit_context_destroy(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_plugin_file),
        cmocka_unit_test(test_wrong_abi_major),
        cmocka_unit_test(test_missing_entry_symbol),
        cmocka_unit_test(test_entry_refuses_host),
        cmocka_unit_test(test_not_a_shared_library),
        cmocka_unit_test(test_discovery_skips_bad_plugins),
        cmocka_unit_test(test_fallback_with_copy),
        cmocka_unit_test(test_fallback_with_borrowed_bytes),
        cmocka_unit_test(test_no_fallback_reports_the_device_error),
        cmocka_unit_test(test_old_plugin_has_no_queues),
    };
    setenv("LOWBIT_LOG", "error", 1); /* the skipped-plugin and fallback warnings are expected here */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
