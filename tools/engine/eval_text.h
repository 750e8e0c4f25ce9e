/* eval_text.h — checks on the text a model is scored on, before the engine's tokenizer sees it. */
#ifndef LOWBIT_EVAL_TEXT_H
#define LOWBIT_EVAL_TEXT_H

#include <stddef.h>

/* Offset of the first byte that is not part of valid UTF-8 (overlong forms, surrogates and code points past
 * U+10FFFF are invalid), or `size` when all of it is valid. */
size_t eval_text_utf8_invalid_at(const unsigned char *text, size_t size);

#endif
