/* iquants.c — the non-linear 4-bit formats IQ4_NL (32-element blocks) and IQ4_XS (256-element super-
 * blocks with 6-bit sub-block scales): a weighted best-scale search over the kvalues grid, and
 * dequantizers that repeat the layout's float operations in order. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "block_decode.h"
#include "format_internal.h"

#define QK4_NL 32
#define IQ4_NL_BYTES 18
#define QK_K 256
#define IQ4_XS_BYTES 136

/* The 16 levels, denser near zero where weights cluster. */
static const signed char kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* Nearest grid level (ties to the lower level) by table: every midpoint between levels is a multiple
 * of 0.5, so t = ceil(2v) decides it — t/2 ≤ midpoint picks the lower level, including the tie itself.
 * The table covers t ∈ [−254, 226], i.e. v ∈ [kvalues[0], kvalues[15]]; outside it clamps. */
#define LEVEL_T_MIN (-254)
#define LEVEL_T_COUNT 481
typedef struct level_table {
    unsigned char index[LEVEL_T_COUNT];
} level_table;

static void level_table_init(level_table *table)
{
    int level = 0;
    for (int t = LEVEL_T_MIN; t < LEVEL_T_MIN + LEVEL_T_COUNT; ++t) {
        /* move up while t/2 lies past the midpoint to the next level: 2·(t/2) > kv[l] + kv[l+1] */
        while (level < 15 && t > kvalues[level] + kvalues[level + 1])
            ++level;
        table->index[t - LEVEL_T_MIN] = (unsigned char)level;
    }
}

static int nearest_level(const level_table *table, float v)
{
    if (!(v == v)) return 8; /* NaN: the level nearest 0 */
    if (v <= (float)kvalues[0]) return 0;
    if (v >= (float)kvalues[15]) return 15;
    const float twice = 2.0f * v;
    int t = (int)twice; /* truncates toward zero; ceil is one more when a positive fraction was cut */
    if ((float)t < twice) ++t;
    return table->index[t - LEVEL_T_MIN];
}

/* Weighted least-squares scale for 32 elements: candidate inverse scales put the largest-magnitude
 * element on (or a few units inside) either end of the grid; for each rounding the optimal scale is
 * Σwqx/Σwq², and the candidate with the best (Σwqx)²/Σwq² wins. Without an imatrix w = x², which
 * protects the large weights; with one, w = imp·sqrt(σ² + x²). */
static float search_grid_scale(const level_table *table, const float *x, const float *imp, float sigma2)
{
    float amax = 0.0f, max = 0.0f, w[QK4_NL];
    for (int j = 0; j < QK4_NL; ++j) {
        w[j] = imp ? imp[j] * sqrtf(sigma2 + x[j] * x[j]) : x[j] * x[j];
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (!(amax >= 1e-15f) || isinf(amax)) return 0.0f;
    float best = 0.0f, best_scale = 0.0f;
    /* Without importance only the negative end (kvalues[0], the level with no positive partner) anchors the
     * largest element. Trying the positive end as well lowers this x²-weighted error, but the KL divergence of
     * IQ4_XS (lowbit-eval, README) went both ways: Gemma 3 270M 0.198 with both ends, 0.178 with one
     * (llama.cpp's: 0.180); SmolLM2-135M 0.207 with both, 0.239 with one (llama.cpp's: 0.226). One end has the
     * smaller worst case against llama.cpp, so the plain path keeps to it. With importance both ends are tried,
     * which measured better than llama.cpp's imatrix quantization on both models. */
    for (int end = 0; end < (imp ? 2 : 1); ++end) {
        const float edge = end == 0 ? (float)kvalues[0] : (float)kvalues[15];
        for (int step = -7; step <= 7; ++step) {
            const float id = (edge + (end == 0 ? (float)step : -(float)step)) / max;
            float sum_qx = 0.0f, sum_q2 = 0.0f;
            for (int j = 0; j < QK4_NL; ++j) {
                const float q = (float)kvalues[nearest_level(table, id * x[j])];
                sum_qx += w[j] * q * x[j];
                sum_q2 += w[j] * q * q;
            }
            if (sum_q2 > 0.0f && sum_qx * sum_qx > best * sum_q2) {
                best_scale = sum_qx / sum_q2;
                best = best_scale * sum_qx;
            }
        }
    }
    /* all weights zero (an imatrix that ignores these columns): fit them unweighted instead */
    if (best_scale == 0.0f && imp) return search_grid_scale(table, x, NULL, 0.0f);
    return best_scale;
}

/* Levels of 32 elements for the scale the decoder sees; low nibble j, high nibble j + 16. */
static void store_levels(const level_table *table, const float *x, float d, unsigned char *qs)
{
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int L[QK4_NL];
    for (int j = 0; j < QK4_NL; ++j)
        L[j] = d != 0.0f ? nearest_level(table, id * x[j]) : 8;
    for (int j = 0; j < QK4_NL / 2; ++j)
        qs[j] = (unsigned char)(L[j] | (L[j + QK4_NL / 2] << 4));
}

static float mean_square(const float *x, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; ++i)
        sum += x[i] * x[i];
    return sum / (float)n;
}

void lowbit_quantize_row_iq4_nl(const float *src, void *dst, size_t cols, const float *importance)
{
    level_table table;
    level_table_init(&table);
    unsigned char *out = dst;
    for (size_t b = 0; b < cols / QK4_NL; ++b, out += IQ4_NL_BYTES) {
        const float *x = src + b * QK4_NL;
        const float *imp = importance ? importance + b * QK4_NL : NULL;
        const float scale = search_grid_scale(&table, x, imp, imp ? mean_square(x, QK4_NL) : 0.0f);
        lowbit_store_u16le(out, lowbit_fp32_to_fp16(scale));
        store_levels(&table, x, lowbit_fp16_to_fp32((uint16_t)lowbit_load_u16le(out)), out + 2);
    }
}

void lowbit_dequantize_row_iq4_nl(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 32; ++b)
        lowbit_decode_iq4_nl((const unsigned char *)src + b * 18, dst + b * 32);
}

/* IQ4_XS: f16 d, scales_h (2 high bits × 8), scales_l[4] (4 low bits × 8), qs[128];
 * x = d·(ls − 32)·kvalues[q]. */
void lowbit_quantize_row_iq4_xs(const float *src, void *dst, size_t cols, const float *importance)
{
    level_table table;
    level_table_init(&table);
    for (size_t b = 0; b < cols / QK_K; ++b) {
        const float *x = src + b * QK_K;
        const float *imp = importance ? importance + b * QK_K : NULL;
        unsigned char *out = (unsigned char *)dst + b * IQ4_XS_BYTES;
        const float sigma2 = imp ? mean_square(x, QK_K) : 0.0f;
        float scales[8], max_scale = 0.0f, amax = 0.0f;
        for (int ib = 0; ib < 8; ++ib) {
            scales[ib] = search_grid_scale(&table, x + 32 * ib, imp ? imp + 32 * ib : NULL, sigma2);
            if (fabsf(scales[ib]) > amax) {
                amax = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        memset(out, 0, IQ4_XS_BYTES);
        /* The largest sub-block scale lands on ls − 32 = −32, the end with no positive partner. d is
         * stored rounded away from zero so that end never clips, and the 6-bit scales are derived
         * against the stored d (coarse when d is a tiny f16 subnormal). */
        const float d_wanted = amax > 0.0f ? -max_scale / 32.0f : 0.0f;
        uint16_t d_bits = lowbit_fp32_to_fp16(d_wanted);
        if (fabsf(lowbit_fp16_to_fp32(d_bits)) < fabsf(d_wanted) && (d_bits & 0x7FFFu) < 0x7BFFu) ++d_bits;
        lowbit_store_u16le(out, d_bits);
        const float d_stored = lowbit_fp16_to_fp32(d_bits);
        const float id = d_stored != 0.0f ? 1.0f / d_stored : 0.0f;
        unsigned scales_h = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const float v = id * scales[ib];
            const int l = !(v >= -32.0f) ? -32 : (v >= 31.0f ? 31 : (int)lrintf(v));
            const int ls = l + 32;
            out[4 + ib / 2] |= (unsigned char)((ls & 0xF) << (4 * (ib % 2)));
            scales_h |= (unsigned)(ls >> 4) << (2 * ib);
            store_levels(&table, x + 32 * ib, d_stored * (float)l, out + 8 + 16 * ib);
        }
        lowbit_store_u16le(out + 2, scales_h);
    }
}

void lowbit_dequantize_row_iq4_xs(const void *src, float *dst, size_t cols)
{
    for (size_t b = 0; b < cols / 256; ++b)
        lowbit_decode_iq4_xs((const unsigned char *)src + b * 136, dst + b * 256);
}
