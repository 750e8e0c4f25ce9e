/* stream_read.cl — the memory-bandwidth probe behind measure_bandwidth: the fastest plain read of a
 * buffer for each device class, reduced to a value that is stored only when it equals `sentinel` (the
 * host passes one the data cannot sum to), so the compiler must keep every load but nothing is written.
 *
 *   stream_read_row   CPU-class devices: each work-item reads its own contiguous range of 64-byte
 *                     vectors, four independent accumulators (PoCL turns strided access into gathers)
 *   stream_read_coop  GPUs: neighbouring work-items read neighbouring 16-byte vectors (coalesced),
 *                     striding by the global size
 * `count` is in vectors of the kernel's width (float16 / float4). */

__kernel void stream_read_row(__global const float *data, const ulong count, const ulong per_item,
                              __global float *sink, const float sentinel)
{
    const size_t item = get_global_id(0);
    const ulong begin = (ulong)item * per_item;
    const ulong end = min(begin + per_item, count);
    float16 a0 = (float16)0.0f, a1 = (float16)0.0f, a2 = (float16)0.0f, a3 = (float16)0.0f;
    ulong i = begin;
    for (; i + 4 <= end; i += 4) {
        a0 += vload16(i + 0, data);
        a1 += vload16(i + 1, data);
        a2 += vload16(i + 2, data);
        a3 += vload16(i + 3, data);
    }
    for (; i < end; ++i)
        a0 += vload16(i, data);
    const float16 a = (a0 + a1) + (a2 + a3);
    const float8 b = a.lo + a.hi;
    const float4 c = b.lo + b.hi;
    const float total = (c.x + c.y) + (c.z + c.w);
    if (total == sentinel) sink[item & 255] = total;
}

__kernel void stream_read_coop(__global const float4 *data, const ulong count, const ulong per_item,
                               __global float *sink, const float sentinel)
{
    (void)per_item;
    const size_t item = get_global_id(0), stride = get_global_size(0);
    float4 a0 = (float4)0.0f, a1 = (float4)0.0f;
    ulong i = item;
    for (; i + stride < count; i += 2 * stride) {
        a0 += data[i];
        a1 += data[i + stride];
    }
    if (i < count) a0 += data[i];
    const float4 a = a0 + a1;
    const float total = (a.x + a.y) + (a.z + a.w);
    if (total == sentinel) sink[item & 255] = total;
}
