/* ggml_lowbit_version.c — compares the running ggml's version with the one libggml-lowbit was built for.
 * ggml changes its backend vtables without bumping GGML_BACKEND_API_VERSION, so only an exact match is safe. */
#include "ggml_lowbit_version.h"

#include <stdio.h>
#include <string.h>

int ggml_lowbit_version_check(const char *running, const char *built, int built_api_version, char *message,
                              size_t message_size)
{
    if (running && built && strcmp(running, built) == 0) {
        if (message && message_size) message[0] = '\0';
        return 1;
    }
    if (message && message_size)
        snprintf(message, message_size,
                 "libggml-lowbit was built for ggml %s (GGML_BACKEND_API_VERSION %d) but is loaded into ggml %s; "
                 "refusing to load, because ggml's backend interface differs between versions. Rebuild lowbit "
                 "against this ggml: cmake -DLOWBIT_GGML=ON -DLOWBIT_GGML_SOURCE=<its llama.cpp or ggml tree>",
                 built ? built : "(unknown)", built_api_version,
                 running ? running : "(unknown: it has no ggml_version(), so it is older than the pinned one)");
    return 0;
}
