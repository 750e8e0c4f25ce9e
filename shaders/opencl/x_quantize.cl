/* x_quantize.cl — the integer-dot path's activations: X (f32, or halves with X_F16, read through activations.cl)
 * quantized to 8-bit blocks by ggml's Q8_1 rule, the same on every backend. One work-item per 32-element block
 * of the n·cols/32 blocks of n rows (cols is a multiple of 32, so block i is elements 32i.. of x):
 *   amax = max|x|, d = amax/127, id = d ? 1/d : 0, q = round(x·id) (half away from zero), s = Σq;
 *   a block holding NaN or Inf gets q = 0, d = NaN (d·s = NaN), so the rows it feeds come out NaN.
 * Output, the layout gemv_int.cl reads: xq[32i + k] = q (char), xd[i] = (d, d·s) (float2). The host builds
 * this with -cl-fp32-correctly-rounded-divide-sqrt where the device offers it, so d and 1/d are IEEE. */
__kernel void x_quantize(__global const X_TYPE *x, __global char *xq, __global float2 *xd, const uint blocks)
{
    const uint block = get_global_id(0);
    if (block >= blocks) return;
    const __global X_TYPE *p = x + (size_t)block * 32;
    const float16 a = x_load16(0, p), b = x_load16(1, p);
    const float16 m = fmax(fabs(a), fabs(b));
    const float8 m8 = fmax(m.lo, m.hi);
    const float4 m4 = fmax(m8.lo, m8.hi);
    const float2 m2 = fmax(m4.lo, m4.hi);
    const float amax = fmax(m2.x, m2.y);
    /* |x| < Inf fails for NaN and Inf alike (fmax above would have dropped a NaN). */
    const int finite = all(fabs(a) < INFINITY) && all(fabs(b) < INFINITY);
    float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    /* Saturating, so that a block whose 1/d overflows (amax below 127·2⁻¹²⁸) still converts defined values. */
    char16 q0 = convert_char16_sat(round(a * id)), q1 = convert_char16_sat(round(b * id));
    if (!finite) {
        q0 = q1 = (char16)0;
        d = NAN;
    }
    const short16 wide = convert_short16(q0) + convert_short16(q1);
    const int8 s8 = convert_int8(wide.lo) + convert_int8(wide.hi);
    const int4 s4 = s8.lo + s8.hi;
    const int2 s2 = s4.lo + s4.hi;
    vstore16(q0, 0, xq + (size_t)block * 32);
    vstore16(q1, 1, xq + (size_t)block * 32);
    xd[block] = (float2)(d, d * (float)(s2.x + s2.y));
}
