/* test_ggml_version.c — the ggml adapter's version gate: the comparison on its own, then libggml-lowbit loaded
 * into a fake ggml (tests/ggml/fake_ggml.c) that reports another version, which it refuses with a message
 * naming both versions, and the pinned version, which it accepts. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/ggml/ggml_lowbit_version.h"
#include "test_support.h"

static void test_same_version_is_accepted(void **state)
{
    (void)state;
    char message[512] = "unchanged";
    assert_int_equal(ggml_lowbit_version_check("0.25.3", "0.25.3", 2, message, sizeof message), 1);
    assert_string_equal(message, "");
}

static void test_other_version_is_refused_naming_both(void **state)
{
    (void)state;
    char message[512];
    assert_int_equal(ggml_lowbit_version_check("0.26.0", "0.25.3", 2, message, sizeof message), 0);
    assert_non_null(strstr(message, "built for ggml 0.25.3"));
    assert_non_null(strstr(message, "GGML_BACKEND_API_VERSION 2"));
    assert_non_null(strstr(message, "loaded into ggml 0.26.0"));
    /* a prefix of the other is no match */
    assert_int_equal(ggml_lowbit_version_check("0.25.30", "0.25.3", 2, message, sizeof message), 0);
}

static void test_unknown_version_is_refused(void **state)
{
    (void)state;
    char message[512];
    assert_int_equal(ggml_lowbit_version_check(NULL, "0.25.3", 2, message, sizeof message), 0);
    assert_non_null(strstr(message, "0.25.3"));
    assert_non_null(strstr(message, "no ggml_version()"));
    assert_int_equal(ggml_lowbit_version_check(NULL, "0.25.3", 2, NULL, 0), 0);
}

typedef struct {
    void *fake, *plugin;
    void (*set_version)(const char *);
    const char *(*log_text)(void);
    void (*log_clear)(void);
    int (*score)(void);
    void *(*init)(void);
} loaded_plugin;

/* The fake ggml first and global, so the plugin's ggml_version/ggml_log_get bind to it; the rest of ggml
 * (libggml-base) comes from the plugin's own dependencies. */
static void load_into_fake_ggml(loaded_plugin *loaded)
{
    const char *plugin = getenv("LOWBIT_TEST_GGML_PLUGIN"), *fake = getenv("LOWBIT_TEST_FAKE_GGML");
    if (!plugin || !fake) skip(); /* the adapter is not built (-DLOWBIT_GGML=OFF) */
    loaded->fake = dlopen(fake, RTLD_NOW | RTLD_GLOBAL);
    if (!loaded->fake) fail_msg("cannot open %s: %s", fake, dlerror());
    *(void **)&loaded->set_version = dlsym(loaded->fake, "fake_ggml_set_version");
    *(void **)&loaded->log_text = dlsym(loaded->fake, "fake_ggml_log_text");
    *(void **)&loaded->log_clear = dlsym(loaded->fake, "fake_ggml_log_clear");
    assert_non_null(loaded->set_version);
    assert_non_null(loaded->log_text);
    assert_non_null(loaded->log_clear);
    loaded->plugin = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
    if (!loaded->plugin) fail_msg("cannot open %s: %s", plugin, dlerror());
    *(void **)&loaded->score = dlsym(loaded->plugin, "ggml_backend_score");
    *(void **)&loaded->init = dlsym(loaded->plugin, "ggml_backend_init");
    assert_non_null(loaded->score);
    assert_non_null(loaded->init);
}

static void test_plugin_refuses_another_ggml(void **state)
{
    (void)state;
    loaded_plugin loaded;
    load_into_fake_ggml(&loaded);
    const char *pinned = getenv("LOWBIT_TEST_GGML_VERSION");
    assert_non_null(pinned);

    loaded.set_version("0.99.1");
    loaded.log_clear();
    assert_int_equal(loaded.score(), 0);
    const char *log = loaded.log_text();
    assert_non_null(strstr(log, "loaded into ggml 0.99.1"));
    char built[64];
    snprintf(built, sizeof built, "built for ggml %s", pinned);
    assert_non_null(strstr(log, built));

    loaded.log_clear();
    assert_null(loaded.init());
    assert_non_null(strstr(loaded.log_text(), "refusing to load"));
}

static void test_plugin_accepts_the_pinned_ggml(void **state)
{
    (void)state;
    loaded_plugin loaded;
    load_into_fake_ggml(&loaded);
    loaded.set_version(getenv("LOWBIT_TEST_GGML_VERSION"));
    loaded.log_clear();
    assert_true(loaded.score() > 0);
    void *reg = loaded.init();
    assert_non_null(reg);
    /* struct ggml_backend_reg starts with int api_version */
    assert_int_equal(*(const int *)reg, 2);
    assert_null(strstr(loaded.log_text(), "refusing"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_version_is_accepted),
        cmocka_unit_test(test_other_version_is_refused_naming_both),
        cmocka_unit_test(test_unknown_version_is_refused),
        cmocka_unit_test(test_plugin_refuses_another_ggml),
        cmocka_unit_test(test_plugin_accepts_the_pinned_ggml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
