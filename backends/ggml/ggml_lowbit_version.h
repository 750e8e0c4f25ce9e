/* ggml_lowbit_version.h — the load-time gate of libggml-lowbit: the ggml it runs in must be the one its
 * headers came from. Plain C, no ggml headers, so a test compiles it alone. */
#ifndef GGML_LOWBIT_VERSION_H
#define GGML_LOWBIT_VERSION_H

#include <stddef.h>

/* 1 when `running` (what the loaded ggml's ggml_version() says; NULL when that ggml has no such function)
 * equals `built` (the version of the headers the adapter was compiled against). Otherwise 0, and `message`
 * names both versions and what to do. */
int ggml_lowbit_version_check(const char *running, const char *built, int built_api_version, char *message,
                              size_t message_size);

#endif
