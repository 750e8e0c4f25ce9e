/* format_facts.c — the plugins' view of lowbit_formats.h. */
#include "format_facts.h"

#include <stdint.h>

#include "shaders/common/lowbit_formats.h"

typedef struct fact {
    int id;
    const char *name;
    size_t block, bytes;
} fact;

#define FACT(F) {LOWBIT_##F##_ID, #F, LOWBIT_##F##_BLOCK, LOWBIT_##F##_BYTES},
static const fact facts[] = {LOWBIT_GGUF_TYPES(FACT)};

static const fact *fact_get(lowbit_format format)
{
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; ++i)
        if (facts[i].id == (int)format) return &facts[i];
    return NULL;
}

const char *lowbit_facts_name(lowbit_format format)
{
    const fact *f = fact_get(format);
    return f ? f->name : "an unknown format";
}

size_t lowbit_facts_row_bytes(lowbit_format format, size_t cols)
{
    const fact *f = fact_get(format);
    if (!f || cols % f->block != 0 || cols / f->block > SIZE_MAX / f->bytes) return 0;
    return cols / f->block * f->bytes;
}
