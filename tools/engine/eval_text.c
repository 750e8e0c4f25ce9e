/* eval_text.c — UTF-8 validation of a text file's bytes (RFC 3629), so a binary file given as --text is
 * refused with the offset of its first bad byte instead of being tokenized as noise. */
#include "tools/engine/eval_text.h"

size_t eval_text_utf8_invalid_at(const unsigned char *text, size_t size)
{
    size_t i = 0;
    while (i < size) {
        const unsigned char lead = text[i];
        if (lead < 0x80) {
            ++i;
            continue;
        }
        size_t length;
        unsigned char low = 0x80, high = 0xBF; /* the allowed range of the second byte */
        if (lead >= 0xC2 && lead <= 0xDF)
            length = 2;
        else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            if (lead == 0xE0) low = 0xA0;  /* overlong */
            if (lead == 0xED) high = 0x9F; /* UTF-16 surrogates */
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            if (lead == 0xF0) low = 0x90;  /* overlong */
            if (lead == 0xF4) high = 0x8F; /* past U+10FFFF */
        } else
            return i;
        if (size - i < length || text[i + 1] < low || text[i + 1] > high) return i;
        for (size_t k = 2; k < length; ++k)
            if ((text[i + k] & 0xC0) != 0x80) return i;
        i += length;
    }
    return size;
}
