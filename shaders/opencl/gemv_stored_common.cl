/* gemv_stored_common.cl — helpers for reading stored (GGUF) blocks from a plain byte buffer, embedded
 * ahead of a family file and gemv_stored.cl. Blocks are only 2-byte aligned, so fields are read with
 * byte vectors and ushort loads at their offsets; halves are converted in integer code (no cl_khr_fp16:
 * they are only stored, the arithmetic is f32). */

/* Everything per chunk is forced inline: CPU drivers otherwise call it and keep accumulators in memory. */
#define GEMV_INLINE static inline __attribute__((always_inline))

GEMV_INLINE uint load_u16(__global const uchar *p)
{
    return (uint)*(__global const ushort *)p;
}

/* IEEE half → f32, exact for every input, in a few integer operations. CPU drivers convert vload_half
 * of a lone half out of line, which cost the stored-layout kernels half their speed (a block's scales
 * are read one at a time here). Normals rebias the exponent (+112), subnormals are m·2⁻²⁴ (exact in
 * f32, no denormal arithmetic), infinities and NaNs keep an all-ones exponent and their payload. */
GEMV_INLINE float half_bits_to_float(uint bits)
{
    const uint magnitude = bits & 0x7FFFu, sign = (bits & 0x8000u) << 16;
    const float normal = as_float((magnitude << 13) + 0x38000000u);
    const float subnormal = (float)magnitude * 0x1.0p-24f;
    const float special = as_float((magnitude << 13) | 0x7F800000u);
    const float value = magnitude < 0x0400u ? subnormal : magnitude >= 0x7C00u ? special : normal;
    return as_float(as_uint(value) | sign);
}

GEMV_INLINE float load_f16(__global const uchar *p)
{
    return half_bits_to_float(load_u16(p));
}

/* The 16 non-linear levels of IQ4_NL and IQ4_XS, {−127, −104, −83, −65, −49, −35, −22, −10, 1, 13, 25,
 * 38, 53, 69, 89, 113}, for a vector of nibbles. CPU drivers turn a 16-entry shuffle() or table lookup
 * into lane-by-lane code (slower than the rest of the kernel by far), so the levels come from a
 * degree-6 least-squares polynomial in the nibble, within 0.36 of every level, rounded to the integer:
 * exact, in a few vector operations. */
GEMV_INLINE int16 iq4_level_ints(uchar16 nibbles)
{
    const float16 q = convert_float16(nibbles);
    float16 r = fma(q, (float16)3.78396981e-05f, (float16)-0.00161844085f);
    r = fma(r, q, (float16)0.0269199349f);
    r = fma(r, q, (float16)-0.141372949f);
    r = fma(r, q, (float16)-0.933941603f);
    r = fma(r, q, (float16)24.1635971f);
    r = fma(r, q, (float16)-127.01664f);
    /* Round by truncating a positive value: r + 128.5 lies in (level + 128.14, level + 128.86). */
    return convert_int16(r + 128.5f) - (int16)128;
}
GEMV_INLINE float16 iq4_levels(uchar16 nibbles)
{
    return convert_float16(iq4_level_ints(nibbles));
}

/* 16 bytes at an even offset, loaded as eight ushorts: a byte vload16 can reach CPU compilers as sixteen
 * byte loads. */
GEMV_INLINE uchar16 load_bytes16(__global const uchar *p)
{
    return as_uchar16(vload8(0, (__global const ushort *)p));
}

/* Bit `shift` of each byte, as 0 or 1. */
GEMV_INLINE uchar16 bit_plane(uchar16 bytes, uint shift)
{
    return (bytes >> (uchar16)(uchar)shift) & (uchar16)1;
}
