/* format_facts.h — what a plugin needs to know of a format (its name for messages, the stored row size),
 * read from shaders/common/lowbit_formats.h. Plugins never call into liblowbit (the host may have loaded it
 * privately), so they link this instead of lowbit_format_get(). */
#ifndef LOWBIT_FORMAT_FACTS_H
#define LOWBIT_FORMAT_FACTS_H

#include <stddef.h>

#include "lowbit/lowbit_format.h"

/* "Q4_K"; "an unknown format" for an id that is no GGUF type. */
const char *lowbit_facts_name(lowbit_format format);
/* Bytes of one stored (GGUF) row of `cols` elements; 0 for an unknown format or cols not a multiple of its
 * block (or an overflow). */
size_t lowbit_facts_row_bytes(lowbit_format format, size_t cols);

#endif
