/* fake_ggml.c — a stand-in for another ggml: loaded with RTLD_GLOBAL ahead of libggml-lowbit, its
 * ggml_version() and ggml_log_get() are the ones the adapter binds to, so a test can make the adapter believe
 * it runs inside a different ggml version and read what it logs. */
#include <stdio.h>
#include <string.h>

#define FAKE_EXPORT __attribute__((visibility("default")))

typedef void (*fake_log_callback)(int level, const char *text, void *user_data);

static const char *fake_version = "0.0.0";
static char fake_log[4096];

static void fake_log_capture(int level, const char *text, void *user_data)
{
    (void)level, (void)user_data;
    strncat(fake_log, text, sizeof fake_log - strlen(fake_log) - 1);
}

FAKE_EXPORT const char *ggml_version(void) { return fake_version; }

FAKE_EXPORT void ggml_log_get(fake_log_callback *callback, void **user_data)
{
    *callback = fake_log_capture;
    *user_data = NULL;
}

/* test hooks */
FAKE_EXPORT void fake_ggml_set_version(const char *version) { fake_version = version; }
FAKE_EXPORT const char *fake_ggml_log_text(void) { return fake_log; }
FAKE_EXPORT void fake_ggml_log_clear(void) { fake_log[0] = '\0'; }
