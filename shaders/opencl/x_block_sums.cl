/* x_block_sums.cl — Σx over each 32-element block of one activation row already on the device, for the queued
 * matmul's kernels built with X_BLOCK_SUMS (opencl_queue.c). Follows activations.cl (x_load, X_F16) and adds in
 * the order the host's block_sums (opencl_matmul.c) does, so both paths hand the GEMV the same sums. Lives beside
 * the plugin's C rather than in shaders/opencl/ because only the plugin's queue path runs it. */
__kernel void x_block_sums(__global const X_TYPE *x, __global float *sums, const uint blocks)
{
    const uint block = get_global_id(0);
    if (block >= blocks) return;
    float total = 0.0f;
    for (uint i = 0; i < 32; ++i)
        total += x_load((size_t)block * 32 + i, x);
    sums[block] = total;
}
