/* kquants_search.h — the weighted scale searches of the K-quant formats (kquants_search.c), shared by the
 * formats' packers in kquants.c: the plain sub-block fits, and the importance path that chooses the stored
 * integer scales and mins against Σ imp·(x − x̂)². */
#ifndef LOWBIT_KQUANTS_SEARCH_H
#define LOWBIT_KQUANTS_SEARCH_H

#define QK_K 256

/* Round half to even and clamp; NaN goes to `lo`, so bad input never reaches an undefined cast. */
static inline int clamp_round(float v, int lo, int hi)
{
    if (!(v >= (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    /* v is now a small in-range value: adding 1.5·2^23 rounds it to an integer (half to even) in the
     * FPU's default mode, several times faster than an lrintf call in the search loops */
    return (int)((v + 12582912.0f) - 12582912.0f);
}

/* Plain sub-block weights av_x + |x|. */
void lowbit_kq_element_weights(const float *x, int n, float *w);
/* Asymmetric fit x ≈ scale·L − neg_min, L ∈ 0..nmax; returns the scale. */
float lowbit_kq_search_scale_min(int n, int nmax, const float *x, const float *w, unsigned char *L, float *neg_min,
                                 float rmin, float rdelta, int nstep);
/* Symmetric fit x ≈ scale·(L − nmax), L ∈ 0..2·nmax−1 (w NULL: x²); returns the scale. */
float lowbit_kq_search_scale_symmetric(int n, int nmax, const float *x, const float *w, unsigned char *L);
/* The symmetric fit refined one quant at a time (w = x²); returns the scale. */
float lowbit_kq_refine_scale_symmetric(int n, int nmax, const float *x, unsigned char *L);

/* An asymmetric K format (x ≈ d·ls·l − dmin·lm): n_sub sub-blocks of len elements, quants 0..nmax, stored
 * sub-block scales and mins 0..smax, and how far around its target each sub-block's search goes. */
typedef struct lowbit_kq_asym_shape {
    int n_sub, len, nmax, smax, radius;
} lowbit_kq_asym_shape;

/* A symmetric K format (x ≈ d·sc·l; both, Q3_K and Q6_K, have 16 sub-blocks of 16): quants −nmax..nmax−1,
 * stored sub-block scales −smin..smin−1, and how far around its target each sub-block's search goes. */
typedef struct lowbit_kq_sym_shape {
    int nmax, smin, radius;
} lowbit_kq_sym_shape;

/* The importance path of an asymmetric format (Q2_K, Q4_K, Q5_K): super-block d, dmin and the integer
 * sub-block scales ls and mins lm. */
void lowbit_kq_asym_quantize(const lowbit_kq_asym_shape *g, const float *x, const float *imp, float *d, float *dmin,
                             int *ls, int *lm);
/* The importance path of a symmetric format (Q3_K, Q6_K): super-block d and the integer sub-block scales. */
void lowbit_kq_sym_quantize(const lowbit_kq_sym_shape *g, const float *x, const float *imp, float *d_out, int *sc);

#endif
