/* lowbit_export.h — LOWBIT_API marks the functions liblowbit.so exports. The library is compiled with
 * hidden visibility, so a function without LOWBIT_API on its public declaration stays internal. */
#ifndef LOWBIT_EXPORT_H
#define LOWBIT_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define LOWBIT_API __attribute__((visibility("default")))
#else
#define LOWBIT_API
#endif

#endif
