/* lowbit_formats.h — every stored format's facts, written once, read as is by C (host, CPU backend, GPU
 * plugins' upload code, GGUF I/O), by the OpenCL kernels (embedded ahead of them) and by the Vulkan
 * shaders (#include through glslc). Only #defines of integer constants and one X-macro list, so all
 * three preprocessors accept it. Layouts and element orders are described in docs/formats.md §2–§3.
 *
 * Per format NAME:
 *   LOWBIT_NAME_ID      the ggml / GGUF type id (lowbit_format's value)
 *   LOWBIT_NAME_BLOCK   elements per block
 *   LOWBIT_NAME_BYTES   bytes per block (the GGUF storage; blocks are packed, no padding)
 *   LOWBIT_NAME_<FIELD> byte offset of each field inside the block, in storage order
 * host/format/format.c ties the offsets to the sizes with static asserts (fields in order, the last
 * one ending at BYTES). */
#ifndef LOWBIT_FORMATS_H
#define LOWBIT_FORMATS_H

/* --- floats ------------------------------------------------------------------------------------------ */
#define LOWBIT_F32_ID 0
#define LOWBIT_F32_BLOCK 1
#define LOWBIT_F32_BYTES 4
#define LOWBIT_F16_ID 1
#define LOWBIT_F16_BLOCK 1
#define LOWBIT_F16_BYTES 2
#define LOWBIT_BF16_ID 30
#define LOWBIT_BF16_BLOCK 1
#define LOWBIT_BF16_BYTES 2

/* --- legacy 32-element formats (docs/formats.md §3.1) -------------------------------------------------- */
#define LOWBIT_Q4_0_ID 2
#define LOWBIT_Q4_0_BLOCK 32
#define LOWBIT_Q4_0_BYTES 18 /* f16 d, qs[16] */
#define LOWBIT_Q4_0_D 0
#define LOWBIT_Q4_0_QS 2
#define LOWBIT_Q4_1_ID 3
#define LOWBIT_Q4_1_BLOCK 32
#define LOWBIT_Q4_1_BYTES 20 /* f16 d, f16 m, qs[16] */
#define LOWBIT_Q4_1_D 0
#define LOWBIT_Q4_1_M 2
#define LOWBIT_Q4_1_QS 4
#define LOWBIT_Q5_0_ID 6
#define LOWBIT_Q5_0_BLOCK 32
#define LOWBIT_Q5_0_BYTES 22 /* f16 d, qh[4], qs[16] */
#define LOWBIT_Q5_0_D 0
#define LOWBIT_Q5_0_QH 2
#define LOWBIT_Q5_0_QS 6
#define LOWBIT_Q5_1_ID 7
#define LOWBIT_Q5_1_BLOCK 32
#define LOWBIT_Q5_1_BYTES 24 /* f16 d, f16 m, qh[4], qs[16] */
#define LOWBIT_Q5_1_D 0
#define LOWBIT_Q5_1_M 2
#define LOWBIT_Q5_1_QH 4
#define LOWBIT_Q5_1_QS 8
#define LOWBIT_Q8_0_ID 8
#define LOWBIT_Q8_0_BLOCK 32
#define LOWBIT_Q8_0_BYTES 34 /* f16 d, int8 qs[32] */
#define LOWBIT_Q8_0_D 0
#define LOWBIT_Q8_0_QS 2
#define LOWBIT_Q8_1_ID 9
#define LOWBIT_Q8_1_BLOCK 32
#define LOWBIT_Q8_1_BYTES 36 /* f16 d, f16 s (d · Σq), int8 qs[32]; activations only */
#define LOWBIT_Q8_1_D 0
#define LOWBIT_Q8_1_S 2
#define LOWBIT_Q8_1_QS 4
#define LOWBIT_IQ4_NL_ID 20
#define LOWBIT_IQ4_NL_BLOCK 32
#define LOWBIT_IQ4_NL_BYTES 18 /* f16 d, qs[16] (indices into the 16 IQ4 levels) */
#define LOWBIT_IQ4_NL_D 0
#define LOWBIT_IQ4_NL_QS 2

/* --- K-quants: 256-element super-blocks (docs/formats.md §3.2) ---------------------------------------- */
#define LOWBIT_QK_K 256
#define LOWBIT_Q2_K_ID 10
#define LOWBIT_Q2_K_BLOCK 256
#define LOWBIT_Q2_K_BYTES 84 /* scales[16] (scale | min << 4), qs[64], f16 d, f16 dmin */
#define LOWBIT_Q2_K_SCALES 0
#define LOWBIT_Q2_K_QS 16
#define LOWBIT_Q2_K_D 80
#define LOWBIT_Q2_K_DMIN 82
#define LOWBIT_Q3_K_ID 11
#define LOWBIT_Q3_K_BLOCK 256
#define LOWBIT_Q3_K_BYTES 110 /* hmask[32], qs[64], scales[12], f16 d */
#define LOWBIT_Q3_K_HMASK 0
#define LOWBIT_Q3_K_QS 32
#define LOWBIT_Q3_K_SCALES 96
#define LOWBIT_Q3_K_D 108
#define LOWBIT_Q4_K_ID 12
#define LOWBIT_Q4_K_BLOCK 256
#define LOWBIT_Q4_K_BYTES 144 /* f16 d, f16 dmin, scales[12], qs[128] */
#define LOWBIT_Q4_K_D 0
#define LOWBIT_Q4_K_DMIN 2
#define LOWBIT_Q4_K_SCALES 4
#define LOWBIT_Q4_K_QS 16
#define LOWBIT_Q5_K_ID 13
#define LOWBIT_Q5_K_BLOCK 256
#define LOWBIT_Q5_K_BYTES 176 /* f16 d, f16 dmin, scales[12], qh[32], qs[128] */
#define LOWBIT_Q5_K_D 0
#define LOWBIT_Q5_K_DMIN 2
#define LOWBIT_Q5_K_SCALES 4
#define LOWBIT_Q5_K_QH 16
#define LOWBIT_Q5_K_QS 48
#define LOWBIT_Q6_K_ID 14
#define LOWBIT_Q6_K_BLOCK 256
#define LOWBIT_Q6_K_BYTES 210 /* ql[128], qh[64], int8 scales[16], f16 d */
#define LOWBIT_Q6_K_QL 0
#define LOWBIT_Q6_K_QH 128
#define LOWBIT_Q6_K_SCALES 192
#define LOWBIT_Q6_K_D 208
#define LOWBIT_Q8_K_ID 15
#define LOWBIT_Q8_K_BLOCK 256
#define LOWBIT_Q8_K_BYTES 292 /* f32 d, int8 qs[256], int16 bsums[16]; activations only */
#define LOWBIT_Q8_K_D 0
#define LOWBIT_Q8_K_QS 4
#define LOWBIT_Q8_K_BSUMS 260
#define LOWBIT_IQ4_XS_ID 23
#define LOWBIT_IQ4_XS_BLOCK 256
#define LOWBIT_IQ4_XS_BYTES 136 /* f16 d, u16 scales_h, scales_l[4], qs[128] */
#define LOWBIT_IQ4_XS_D 0
#define LOWBIT_IQ4_XS_SCALES_H 2
#define LOWBIT_IQ4_XS_SCALES_L 4
#define LOWBIT_IQ4_XS_QS 8

/* --- ternary (docs/formats.md §3.3) --------------------------------------------------------------------- */
#define LOWBIT_TQ1_0_ID 34
#define LOWBIT_TQ1_0_BLOCK 256
#define LOWBIT_TQ1_0_BYTES 54 /* qs[48] (5 trits a byte), qh[4] (4 trits a byte), f16 d */
#define LOWBIT_TQ1_0_QS 0
#define LOWBIT_TQ1_0_QH 48
#define LOWBIT_TQ1_0_D 52
#define LOWBIT_TQ2_0_ID 35
#define LOWBIT_TQ2_0_BLOCK 256
#define LOWBIT_TQ2_0_BYTES 66 /* qs[64] (2 bits each), f16 d */
#define LOWBIT_TQ2_0_QS 0
#define LOWBIT_TQ2_0_D 64

/* --- FP4 microscaling (docs/formats.md §3.5) -------------------------------------------------------------- */
#define LOWBIT_MXFP4_ID 39
#define LOWBIT_MXFP4_BLOCK 32
#define LOWBIT_MXFP4_BYTES 17 /* E8M0 e, qs[16] (E2M1 codes) */
#define LOWBIT_MXFP4_E 0
#define LOWBIT_MXFP4_QS 1
#define LOWBIT_NVFP4_ID 40
#define LOWBIT_NVFP4_BLOCK 64
#define LOWBIT_NVFP4_SUB 16   /* elements per UE4M3 scale */
#define LOWBIT_NVFP4_BYTES 36 /* UE4M3 d[4], qs[32] (E2M1 codes, 8 bytes per sub-block) */
#define LOWBIT_NVFP4_D 0
#define LOWBIT_NVFP4_QS 4

/* --- sign and 2-bit formats (docs/formats.md §3.6) ------------------------------------------------------- */
#define LOWBIT_Q1_0_ID 41
#define LOWBIT_Q1_0_BLOCK 128
#define LOWBIT_Q1_0_BYTES 18 /* f16 d, qs[16] (one sign bit per element) */
#define LOWBIT_Q1_0_D 0
#define LOWBIT_Q1_0_QS 2
#define LOWBIT_Q2_0_ID 42
#define LOWBIT_Q2_0_BLOCK 64
#define LOWBIT_Q2_0_BYTES 18 /* f16 d, qs[16] (2 bits per element) */
#define LOWBIT_Q2_0_D 0
#define LOWBIT_Q2_0_QS 2

/* --- grid / codebook formats (docs/formats.md §3.7; codebooks in lowbit_grids.h) ----------------------- */
#define LOWBIT_IQ2_XXS_ID 16
#define LOWBIT_IQ2_XXS_BLOCK 256
#define LOWBIT_IQ2_XXS_BYTES 66 /* f16 d, u16 qs[32]: per 32 elements, 4 grid bytes + a u32 of signs and scale */
#define LOWBIT_IQ2_XXS_D 0
#define LOWBIT_IQ2_XXS_QS 2
#define LOWBIT_IQ2_XS_ID 17
#define LOWBIT_IQ2_XS_BLOCK 256
#define LOWBIT_IQ2_XS_BYTES 74 /* f16 d, u16 qs[32], scales[8] */
#define LOWBIT_IQ2_XS_D 0
#define LOWBIT_IQ2_XS_QS 2
#define LOWBIT_IQ2_XS_SCALES 66
#define LOWBIT_IQ2_S_ID 22
#define LOWBIT_IQ2_S_BLOCK 256
#define LOWBIT_IQ2_S_BYTES 82 /* f16 d, qs[64] (32 grid bytes, then 32 sign bytes), qh[8], scales[8] */
#define LOWBIT_IQ2_S_D 0
#define LOWBIT_IQ2_S_QS 2
#define LOWBIT_IQ2_S_QH 66
#define LOWBIT_IQ2_S_SCALES 74
#define LOWBIT_IQ3_XXS_ID 18
#define LOWBIT_IQ3_XXS_BLOCK 256
#define LOWBIT_IQ3_XXS_BYTES 98 /* f16 d, qs[96] (64 grid bytes, then 8 u32 of signs and scales) */
#define LOWBIT_IQ3_XXS_D 0
#define LOWBIT_IQ3_XXS_QS 2
#define LOWBIT_IQ3_S_ID 21
#define LOWBIT_IQ3_S_BLOCK 256
#define LOWBIT_IQ3_S_BYTES 110 /* f16 d, qs[64], qh[8], signs[32], scales[4] */
#define LOWBIT_IQ3_S_D 0
#define LOWBIT_IQ3_S_QS 2
#define LOWBIT_IQ3_S_QH 66
#define LOWBIT_IQ3_S_SIGNS 74
#define LOWBIT_IQ3_S_SCALES 106
#define LOWBIT_IQ1_S_ID 19
#define LOWBIT_IQ1_S_BLOCK 256
#define LOWBIT_IQ1_S_BYTES 50 /* f16 d, qs[32], u16 qh[8] */
#define LOWBIT_IQ1_S_D 0
#define LOWBIT_IQ1_S_QS 2
#define LOWBIT_IQ1_S_QH 34
#define LOWBIT_IQ1_M_ID 29
#define LOWBIT_IQ1_M_BLOCK 256
#define LOWBIT_IQ1_M_BYTES 56 /* qs[32], qh[16], scales[8] (the f16 scale spread over their top nibbles) */
#define LOWBIT_IQ1_M_QS 0
#define LOWBIT_IQ1_M_QH 32
#define LOWBIT_IQ1_M_SCALES 48

/* --- plain integer / f64 tensors a GGUF file may hold (never weights of a matmul) ------------------------ */
#define LOWBIT_I8_ID 24
#define LOWBIT_I8_BLOCK 1
#define LOWBIT_I8_BYTES 1
#define LOWBIT_I16_ID 25
#define LOWBIT_I16_BLOCK 1
#define LOWBIT_I16_BYTES 2
#define LOWBIT_I32_ID 26
#define LOWBIT_I32_BLOCK 1
#define LOWBIT_I32_BYTES 4
#define LOWBIT_I64_ID 27
#define LOWBIT_I64_BLOCK 1
#define LOWBIT_I64_BYTES 8
#define LOWBIT_F64_ID 28
#define LOWBIT_F64_BLOCK 1
#define LOWBIT_F64_BYTES 8

/* Every GGUF type, for C tables: X(NAME) per type, in id order; LOWBIT_##NAME##_ID etc. give its facts.
 * (Ids 4, 5 and 31–33 were removed from ggml and belong to no format.) */
/* clang-format off */
#define LOWBIT_GGUF_TYPES(X)                                                                                           \
    X(F32) X(F16) X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q8_0) X(Q8_1) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K)                      \
    X(Q6_K) X(Q8_K) X(IQ2_XXS) X(IQ2_XS) X(IQ3_XXS) X(IQ1_S) X(IQ4_NL) X(IQ3_S) X(IQ2_S) X(IQ4_XS) X(I8) X(I16)        \
    X(I32) X(I64) X(F64) X(IQ1_M) X(BF16) X(TQ1_0) X(TQ2_0) X(MXFP4) X(NVFP4) X(Q1_0) X(Q2_0)
/* clang-format on */

/* The block formats that every backend runs through its generic stored-block path, one row each:
 * X(NAME, name, cl, vk) — NAME as in LOWBIT_<NAME>_*, `name` the lower-case suffix of its kernels' names
 * (gemv_<name>, gemm_<name>, cpu_gemv_<name>) and of its block decoder lowbit_decode_<name>
 * (host/format/block_decode.h); `cl` the OpenCL family file that holds its load_chunk
 * (shaders/opencl/gemv_<cl>.cl); `vk` which Vulkan modules decode it: `raw` (gemv_raw, gemm) or `grid` (their
 * *_grid builds, with the codebooks). The CPU backend's block kernels and the OpenCL and Vulkan kernel tables
 * are generated from this list. */
/* clang-format off */
#define LOWBIT_BLOCK_FORMATS(X)                                                                                        \
    X(Q4_1, q4_1, legacy, raw) X(Q5_0, q5_0, legacy, raw) X(Q5_1, q5_1, legacy, raw)                                  \
    X(IQ4_NL, iq4_nl, legacy, raw)                                                                                     \
    X(Q2_K, q2_k, kquants, raw) X(Q3_K, q3_k, kquants, raw) X(Q4_K, q4_k, kquants, raw)                               \
    X(Q5_K, q5_k, kquants, raw) X(Q6_K, q6_k, kquants, raw) X(IQ4_XS, iq4_xs, kquants, raw)                           \
    X(TQ1_0, tq1_0, kquants, raw) X(TQ2_0, tq2_0, kquants, raw)                                                        \
    X(MXFP4, mxfp4, fp4, raw) X(NVFP4, nvfp4, fp4, raw)                                                                \
    X(Q1_0, q1_0, q1q2, raw) X(Q2_0, q2_0, q1q2, raw)                                                                  \
    X(IQ2_XXS, iq2_xxs, grid, grid) X(IQ2_XS, iq2_xs, grid, grid) X(IQ2_S, iq2_s, grid, grid)                         \
    X(IQ3_XXS, iq3_xxs, grid, grid) X(IQ3_S, iq3_s, grid, grid) X(IQ1_S, iq1_s, grid, grid)                           \
    X(IQ1_M, iq1_m, grid, grid)
/* clang-format on */

#endif
