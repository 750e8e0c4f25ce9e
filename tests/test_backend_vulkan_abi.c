/* test_backend_vulkan_abi.c — the Vulkan plugin's entry point called directly (no host runtime): ABI major
 * refused, a newer minor accepted with a complete vtable, an older caller's shorter device-info struct; and a
 * Vulkan loader that finds no driver, which leaves the context open with no Vulkan device and no error. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_backend.h"
#include "test_support.h"

static char entry_error[256];
static void entry_log(lowbit_log_level level, const char *message) { (void)level, (void)message; }
static void entry_set_error(const char *message) { snprintf(entry_error, sizeof entry_error, "%s", message); }
static int entry_no_fault(const char *site) { return (void)site, 0; }
static uint64_t entry_no_cap(void) { return 0; }
static const char *entry_no_cache(void) { return NULL; }

static void test_entry_checks_abi(void **state)
{
    (void)state;
    const char *binary_dir = getenv("LOWBIT_TEST_BINARY_DIR");
    if (!binary_dir) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/lib/liblowbit-vulkan.so", binary_dir);
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) fail_msg("cannot open %s: %s", path, dlerror());
    void *symbol = dlsym(library, LOWBIT_BACKEND_ENTRY_SYMBOL);
    assert_non_null(symbol);
    lowbit_backend_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry);
    lowbit_host_api host = {sizeof host,
                            LOWBIT_BACKEND_ABI_MAJOR,
                            LOWBIT_BACKEND_ABI_MINOR,
                            entry_log,
                            entry_set_error,
                            entry_no_fault,
                            entry_no_cap,
                            entry_no_cache,
                            NULL,
                            NULL,
                            NULL};
    lowbit_backend *backend = NULL;
    entry_error[0] = '\0';
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR + 1, 0, &host, &backend), LOWBIT_ERROR_PLUGIN);
    assert_null(backend);
    assert_non_null(strstr(entry_error, "ABI"));
    /* a newer minor is fine; the vtable is complete */
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR + 3, &host, &backend), LOWBIT_OK);
    assert_non_null(backend);
    assert_int_equal(backend->abi_major, LOWBIT_BACKEND_ABI_MAJOR);
    assert_true(backend->struct_size >= sizeof *backend);
    assert_string_equal(backend->name, "vulkan");
    assert_int_equal(backend->api, LOWBIT_API_VULKAN);
    assert_true(backend->device_count && backend->device_info && backend->weights_upload && backend->weights_release &&
                backend->matmul && backend->destroy && backend->measure_bandwidth);
    size_t count = 99;
    assert_int_equal(backend->device_count(backend->self, &count), LOWBIT_OK);
    assert_true(count < 99);
    if (count > 0) { /* a caller with an older, shorter info struct gets only what it has room for */
        lowbit_device_info info;
        memset(&info, 0x5A, sizeof info);
        info.struct_size = offsetof(lowbit_device_info, name);
        assert_int_equal(backend->device_info(backend->self, 0, &info), LOWBIT_OK);
        assert_int_equal(info.struct_size, offsetof(lowbit_device_info, name));
        assert_int_equal(strncmp(info.id, "vulkan:0", 8), 0);
        assert_int_equal((unsigned char)info.name[0], 0x5A);
    }
    backend->destroy(backend->self);
    dlclose(library);
}

/* A loader that finds no ICD: the context still opens, with no Vulkan device and no error. */
static void test_no_driver_means_no_devices(void **state)
{
    (void)state;
    setenv("VK_ICD_FILENAMES", "/nonexistent/lowbit-test-icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/lowbit-test-icd.json", 1);
    lowbit_context *context = NULL;
    lowbit_status status = lowbit_context_create(NULL, &context);
    size_t count = 0;
    if (status == LOWBIT_OK) status = lowbit_device_count(context, &count);
    for (size_t i = 0; status == LOWBIT_OK && i < count; ++i) {
        lowbit_device_info info = {.struct_size = sizeof info};
        status = lowbit_device_get_info(context, i, &info);
        if (status == LOWBIT_OK && info.api == LOWBIT_API_VULKAN) fail_msg("%s listed without a driver", info.id);
    }
    lowbit_context_destroy(context);
    unsetenv("VK_ICD_FILENAMES");
    unsetenv("VK_DRIVER_FILES");
    assert_int_equal(status, LOWBIT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_checks_abi),
        cmocka_unit_test(test_no_driver_means_no_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
