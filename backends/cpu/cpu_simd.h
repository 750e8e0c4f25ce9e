/* cpu_simd.h — what the CPU backend's portable kernels share: function multiversioning (an AVX-512 and an
 * AVX2 clone beside the baseline, chosen at load time) and the lane-parallel dot product that lets GCC
 * vectorize float sums without reassociating them. */
#ifndef LOWBIT_CPU_SIMD_H
#define LOWBIT_CPU_SIMD_H

#include <stddef.h>

#define LANES 8

/* Not under ThreadSanitizer: target_clones dispatches through ifunc resolvers, which the dynamic linker runs
 * before the TSan runtime is up, so every TSan program would die at start. The intrinsics kernels
 * (cpu_gemv_x86.c) still run there, chosen at run time. */
#if defined(__SANITIZE_THREAD__)
#define LOWBIT_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOWBIT_THREAD_SANITIZER 1
#endif
#endif

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(LOWBIT_THREAD_SANITIZER)
#define LOWBIT_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define LOWBIT_MULTIVERSION
#endif

#define LOWBIT_ALWAYS_INLINE __attribute__((always_inline)) static inline

static inline float lanes_sum(const float lanes[LANES])
{
    float sum = 0.0f;
    for (int k = 0; k < LANES; ++k)
        sum += lanes[k];
    return sum;
}

/* acc[k] += Σ_j w[j*LANES+k]·x[j*LANES+k] over `count` elements (a multiple of LANES) */
LOWBIT_ALWAYS_INLINE void dot_accumulate(float acc[LANES], const float *w, const float *x, size_t count)
{
    for (size_t j = 0; j < count; j += LANES)
        for (int k = 0; k < LANES; ++k)
            acc[k] += w[j + k] * x[j + k];
}

#endif
