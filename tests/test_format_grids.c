/* test_format_grids.c — host/format/grids.c and grid_decode.h: known-answer blocks of the grid formats IQ2_XXS,
 * IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and IQ1_M built by hand from the layout (docs/formats.md §3.7), with a few
 * codebook entries written out from ggml's tables; the CPU backend's fused kernels on random blocks (one-hot
 * activations read every weight back exactly). gguf-py checks every byte pattern: tests/oracle/format_oracle.py. */
#include <ctype.h>

#include "shaders/common/lowbit_formats.h"
#include "test_format_checks.h"

#define GRID_BLOCK 256

/* ggml's codebook entries used below (element j of the group first). */
static const int iq2xxs_1[8] = {43, 8, 8, 8, 8, 8, 8, 8}, iq2xxs_77[8] = {8, 8, 43, 25, 8, 8, 25, 8},
                 iq2xxs_255[8] = {8, 25, 8, 8, 25, 43, 43, 43};
static const int iq2xs_300[8] = {8, 25, 25, 8, 8, 25, 8, 25}, iq2xs_511[8] = {43, 43, 43, 43, 43, 43, 43, 43};
static const int iq2s_700[8] = {8, 8, 8, 43, 43, 8, 25, 25}, iq2s_1023[8] = {43, 43, 43, 43, 43, 43, 43, 43};
static const int iq2_0[8] = {8, 8, 8, 8, 8, 8, 8, 8}; /* entry 0 of every IQ2 grid */
static const int iq3xxs_0[4] = {4, 4, 4, 4}, iq3xxs_200[4] = {4, 62, 4, 44}, iq3xxs_255[4] = {4, 28, 52, 62};
static const int iq3s_0[4] = {1, 1, 1, 1}, iq3s_300[4] = {3, 5, 3, 7}, iq3s_511[4] = {1, 1, 15, 15};
static const int iq1s_0[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, iq1s_1[8] = {1, -1, -1, -1, -1, -1, -1, -1},
                 iq1s_1500[8] = {0, -1, -1, 0, -1, 0, -1, 1}, iq1s_2047[8] = {1, 1, 1, 1, 1, 1, 1, 1};

/* ggml's ksigns table at the indices used below: the 7 bits plus their parity as bit 7. */
#define KSIGNS_1 0x81u
#define KSIGNS_3 0x03u
#define KSIGNS_5 0x05u
#define KSIGNS_42 0xAAu
#define KSIGNS_64 0xC0u
#define KSIGNS_127 0xFFu

/* f16 0x3555 = 0.333251953125: a factor whose products round, so the order of operations shows. */
#define D_THIRD_BITS 0x3555u
#define D_THIRD 0.333251953125f

static void put_half(unsigned char *p, uint32_t h)
{
    p[0] = (unsigned char)(h & 0xFF);
    p[1] = (unsigned char)(h >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* One signed group: expected[j] = (dl·magnitude[j])·(bit j of signs ? −1 : 1), each product rounded. */
static void expect_group(float *expected, float dl, const int *magnitude, unsigned signs)
{
    for (int j = 0; j < 8; ++j) {
        const float p = dl * (float)magnitude[j];
        expected[j] = p * (((signs >> j) & 1u) ? -1.0f : 1.0f);
    }
}

/* Two IQ3 quads as one 8-element group (quad 0 is elements 0–3). */
static void expect_quads(float *expected, float dl, const int *quad0, const int *quad1, unsigned signs)
{
    int magnitude[8];
    for (int j = 0; j < 4; ++j) {
        magnitude[j] = quad0[j];
        magnitude[4 + j] = quad1[j];
    }
    expect_group(expected, dl, magnitude, signs);
}

/* One IQ1 group: expected[j] = dl·(value[j] + δ). */
static void expect_iq1_group(float *expected, float dl, const int *value, float delta)
{
    for (int j = 0; j < 8; ++j)
        expected[j] = dl * ((float)value[j] + delta);
}

static void check_block(lowbit_format format, const unsigned char *block, size_t bytes, const float *expected)
{
    float y[GRID_BLOCK];
    assert_int_equal(lowbit_format_row_size(format, GRID_BLOCK), bytes);
    assert_int_equal(lowbit_dequantize(format, block, bytes, 1, GRID_BLOCK, y), LOWBIT_OK);
    fmt_expect_floats(y, expected, GRID_BLOCK);
}

/* IQ2_XXS: sub-block 0 holds grid indices 1, 77, 255, 0 (w0 bytes), sign indices 1, 127, 3, 0 and s = 15;
 * sub-block 3 has s = 7; the rest are index 0, no signs, s = 0. Factor d·(0.5 + s)·0.25. */
static void test_iq2_xxs_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ2_XXS_BYTES] = {0};
    float expected[GRID_BLOCK];
    put_half(block, D_THIRD_BITS);
    put_u32(block + 2, 1u | 77u << 8 | 255u << 16);
    put_u32(block + 6, 1u | 127u << 7 | 3u << 14 | 15u << 28);
    put_u32(block + 2 + 8 * 3 + 4, 7u << 28);
    for (int b = 0; b < 8; ++b) {
        const float s = b == 0 ? 15.0f : b == 3 ? 7.0f : 0.0f, db = D_THIRD * (0.5f + s) * 0.25f;
        for (int l = 0; l < 4; ++l)
            expect_group(expected + 32 * b + 8 * l, db, iq2_0, 0);
    }
    const float db0 = D_THIRD * (0.5f + 15.0f) * 0.25f;
    expect_group(expected + 0, db0, iq2xxs_1, KSIGNS_1);
    expect_group(expected + 8, db0, iq2xxs_77, KSIGNS_127);
    expect_group(expected + 16, db0, iq2xxs_255, KSIGNS_3);
    check_block(LOWBIT_FORMAT_IQ2_XXS, block, sizeof block, expected);
    /* spot values: 43·(0.333251953125·15.5·0.25) rounded, negated by the parity bit at element 7 */
    assert_true(expected[0] == -(float)(43.0 * (double)(D_THIRD * 15.5f * 0.25f)));
    assert_true(expected[7] < 0.0f && expected[6] > 0.0f);
}

/* IQ2_XS: d = 2.5; sub-block 0 scales low nibble 10 (groups 0, 1), high nibble 3 (groups 2, 3); groups
 * 300|sign 1, 511|sign 127, 0|sign 5, 511|sign 64 (u16 each). */
static void test_iq2_xs_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ2_XS_BYTES] = {0};
    float expected[GRID_BLOCK];
    const float d = 2.5f;
    put_half(block, 0x4100);
    const uint32_t qs[4] = {300u | 1u << 9, 511u | 127u << 9, 0u | 5u << 9, 511u | 64u << 9};
    for (int l = 0; l < 4; ++l)
        put_half(block + 2 + 2 * l, qs[l]);
    block[LOWBIT_IQ2_XS_SCALES] = 0x3A;
    const float base = d * (0.5f + 0.0f) * 0.25f;
    for (int g = 4; g < 32; ++g)
        expect_group(expected + 8 * g, base, iq2_0, 0);
    const float lo = d * (0.5f + 10.0f) * 0.25f, hi = d * (0.5f + 3.0f) * 0.25f;
    expect_group(expected + 0, lo, iq2xs_300, KSIGNS_1);
    expect_group(expected + 8, lo, iq2xs_511, KSIGNS_127);
    expect_group(expected + 16, hi, iq2_0, KSIGNS_5);
    expect_group(expected + 24, hi, iq2xs_511, KSIGNS_64);
    check_block(LOWBIT_FORMAT_IQ2_XS, block, sizeof block, expected);
}

/* IQ2_S: d = −0.5, sub-block 2: indices 700, 1023, 0, 700 (low bytes qs[8..11], bits 8–9 in qh[2]), full sign
 * bytes 0x01, 0xFF, 0x80, 0xA5 (no parity rule), scales[2] = 0xF1. */
static void test_iq2_s_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ2_S_BYTES] = {0};
    float expected[GRID_BLOCK];
    const float d = -0.5f;
    put_half(block, 0xB800);
    const unsigned index[4] = {700, 1023, 0, 700}, signs[4] = {0x01, 0xFF, 0x80, 0xA5};
    for (int l = 0; l < 4; ++l) {
        block[LOWBIT_IQ2_S_QS + 8 + l] = (unsigned char)(index[l] & 0xFF);
        block[LOWBIT_IQ2_S_QH + 2] |= (unsigned char)((index[l] >> 8) << (2 * l));
        block[LOWBIT_IQ2_S_QS + 32 + 8 + l] = (unsigned char)signs[l];
    }
    assert_int_equal(block[LOWBIT_IQ2_S_QH + 2], 0x8E);
    block[LOWBIT_IQ2_S_SCALES + 2] = 0xF1;
    const float base = d * (0.5f + 0.0f) * 0.25f;
    for (int g = 0; g < 32; ++g)
        expect_group(expected + 8 * g, base, iq2_0, 0);
    const float lo = d * (0.5f + 1.0f) * 0.25f, hi = d * (0.5f + 15.0f) * 0.25f;
    expect_group(expected + 64, lo, iq2s_700, signs[0]);
    expect_group(expected + 72, lo, iq2s_1023, signs[1]);
    expect_group(expected + 80, hi, iq2_0, signs[2]);
    expect_group(expected + 88, hi, iq2s_700, signs[3]);
    check_block(LOWBIT_FORMAT_IQ2_S, block, sizeof block, expected);
    assert_true(expected[64] == 1.5f); /* (−0.5·1.5·0.25)·8, negated by sign bit 0 */
}

/* IQ3_XXS: sub-block 1 quads 200, 255, 0, 200, 255, 0, 0, 255 (qs[8..15]); its u32 (offset 66 + 4) holds sign
 * indices 1, 127, 42, 0 and s = 9: factor d·(0.5 + 9)·0.5. */
static void test_iq3_xxs_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ3_XXS_BYTES] = {0};
    float expected[GRID_BLOCK];
    put_half(block, D_THIRD_BITS);
    const unsigned char quads[8] = {200, 255, 0, 200, 255, 0, 0, 255};
    memcpy(block + LOWBIT_IQ3_XXS_QS + 8, quads, 8);
    put_u32(block + LOWBIT_IQ3_XXS_QS + 64 + 4, 1u | 127u << 7 | 42u << 14 | 9u << 28);
    const float base = D_THIRD * (0.5f + 0.0f) * 0.5f, db = D_THIRD * (0.5f + 9.0f) * 0.5f;
    for (int g = 0; g < 32; ++g)
        expect_quads(expected + 8 * g, g / 4 == 1 ? db : base, iq3xxs_0, iq3xxs_0, 0);
    expect_quads(expected + 32, db, iq3xxs_200, iq3xxs_255, KSIGNS_1);
    expect_quads(expected + 40, db, iq3xxs_0, iq3xxs_200, KSIGNS_127);
    expect_quads(expected + 48, db, iq3xxs_255, iq3xxs_0, KSIGNS_42);
    expect_quads(expected + 56, db, iq3xxs_0, iq3xxs_255, 0);
    check_block(LOWBIT_FORMAT_IQ3_XXS, block, sizeof block, expected);
    assert_true(expected[33] == db * 62.0f); /* code 7 is 62, not 60 */
}

/* IQ3_S: d = 1.5; scales[1] = 0xD4: sub-block 2 s = 4, sub-block 3 s = 13 (factor d·(1 + 2s)); sub-block 3
 * quads 300, 511, 0, 300, 511, 0, 0, 300 (bit 8 of each in qh[3] = 0x9B), sign bytes 0x01, 0xFE, 0x00, 0x5A. */
static void test_iq3_s_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ3_S_BYTES] = {0};
    float expected[GRID_BLOCK];
    const float d = 1.5f;
    put_half(block, 0x3E00);
    const unsigned quads[8] = {300, 511, 0, 300, 511, 0, 0, 300}, signs[4] = {0x01, 0xFE, 0x00, 0x5A};
    for (int k = 0; k < 8; ++k) {
        block[LOWBIT_IQ3_S_QS + 24 + k] = (unsigned char)(quads[k] & 0xFF);
        block[LOWBIT_IQ3_S_QH + 3] |= (unsigned char)((quads[k] >> 8) << k);
    }
    assert_int_equal(block[LOWBIT_IQ3_S_QH + 3], 0x9B);
    for (int l = 0; l < 4; ++l)
        block[LOWBIT_IQ3_S_SIGNS + 12 + l] = (unsigned char)signs[l];
    block[LOWBIT_IQ3_S_SCALES + 1] = 0xD4;
    for (int g = 0; g < 32; ++g) {
        const int b = g / 4;
        const float db = d * (float)(1 + 2 * (b == 2 ? 4 : b == 3 ? 13 : 0));
        expect_quads(expected + 8 * g, db, iq3s_0, iq3s_0, 0);
    }
    const float db = d * (float)(1 + 2 * 13);
    expect_quads(expected + 96, db, iq3s_300, iq3s_511, signs[0]);
    expect_quads(expected + 104, db, iq3s_0, iq3s_300, signs[1]);
    expect_quads(expected + 112, db, iq3s_511, iq3s_0, signs[2]);
    expect_quads(expected + 120, db, iq3s_0, iq3s_300, signs[3]);
    check_block(LOWBIT_FORMAT_IQ3_S, block, sizeof block, expected);
    assert_true(expected[96] == -(1.5f * 27.0f * 3.0f));
}

/* IQ1_S: sub-block 6: indices 1500, 2047, 1, 0 (bits 8–10 in qh[6] bits 3l..3l+2), s = 5, bit 15 set: δ = −0.125;
 * the others qh = 0: s = 0, δ = +0.125, index 0 (all −1). Element = d·(2s + 1)·(v + δ). */
static void test_iq1_s_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ1_S_BYTES] = {0};
    float expected[GRID_BLOCK];
    put_half(block, D_THIRD_BITS);
    const unsigned index[4] = {1500, 2047, 1, 0};
    uint32_t qh = 5u << 12 | 0x8000u;
    for (int l = 0; l < 4; ++l) {
        block[LOWBIT_IQ1_S_QS + 24 + l] = (unsigned char)(index[l] & 0xFF);
        qh |= (index[l] >> 8) << (3 * l);
    }
    assert_int_equal(qh, 0xD03D);
    put_half(block + LOWBIT_IQ1_S_QH + 2 * 6, qh);
    const float base = D_THIRD * (float)(2 * 0 + 1), dl = D_THIRD * (float)(2 * 5 + 1);
    for (int g = 0; g < 32; ++g)
        expect_iq1_group(expected + 8 * g, base, iq1s_0, 0.125f);
    expect_iq1_group(expected + 192, dl, iq1s_1500, -0.125f);
    expect_iq1_group(expected + 200, dl, iq1s_2047, -0.125f);
    expect_iq1_group(expected + 208, dl, iq1s_1, -0.125f);
    expect_iq1_group(expected + 216, dl, iq1s_0, -0.125f);
    check_block(LOWBIT_FORMAT_IQ1_S, block, sizeof block, expected);
    assert_true(expected[0] == D_THIRD * -0.875f);
}

/* IQ1_M: d = f16 0x3555 spread over the top nibbles of the four scale words (5, 5, 5, 3 from word 0 up);
 * word 0 also holds sub-block 0's s = 2, 0 and sub-block 1's s = 3, 6 (bits 0–11). Sub-block 1: indices 1500,
 * 2047, 1, 0 with δ signs +, −, −, + (qh[2] = 0xF5, qh[3] = 0x08). Element = d·(2s + 1)·(v + δ). */
static void test_iq1_m_known_block(void **state)
{
    (void)state;
    unsigned char block[LOWBIT_IQ1_M_BYTES] = {0};
    float expected[GRID_BLOCK];
    const uint32_t words[4] = {2u | 0u << 3 | 3u << 6 | 6u << 9 | 5u << 12, 5u << 12, 5u << 12, 3u << 12};
    for (int i = 0; i < 4; ++i)
        put_half(block + LOWBIT_IQ1_M_SCALES + 2 * i, words[i]);
    const unsigned char qs[4] = {1500 & 0xFF, 2047 & 0xFF, 1, 0}, qh[2] = {0x5 | 0xF << 4, 0x8 | 0x0 << 4};
    memcpy(block + LOWBIT_IQ1_M_QS + 4, qs, 4);
    memcpy(block + LOWBIT_IQ1_M_QH + 2, qh, 2);
    for (int g = 0; g < 32; ++g)
        expect_iq1_group(expected + 8 * g, D_THIRD * (float)(2 * 0 + 1), iq1s_0, 0.125f);
    for (int g = 0; g < 2; ++g)
        expect_iq1_group(expected + 8 * g, D_THIRD * (float)(2 * 2 + 1), iq1s_0, 0.125f);
    const float dl1 = D_THIRD * (float)(2 * 3 + 1), dl2 = D_THIRD * (float)(2 * 6 + 1);
    expect_iq1_group(expected + 32, dl1, iq1s_1500, 0.125f);
    expect_iq1_group(expected + 40, dl1, iq1s_2047, -0.125f);
    expect_iq1_group(expected + 48, dl2, iq1s_1, -0.125f);
    expect_iq1_group(expected + 56, dl2, iq1s_0, 0.125f);
    check_block(LOWBIT_FORMAT_IQ1_M, block, sizeof block, expected);
    assert_true(expected[39] == dl1 * 1.125f);
}

static const lowbit_format grid_formats[] = {LOWBIT_FORMAT_IQ2_XXS, LOWBIT_FORMAT_IQ2_XS, LOWBIT_FORMAT_IQ2_S,
                                             LOWBIT_FORMAT_IQ3_XXS, LOWBIT_FORMAT_IQ3_S,  LOWBIT_FORMAT_IQ1_S,
                                             LOWBIT_FORMAT_IQ1_M};

/* All seven are registered both ways (the quantizers are iq2_quant.c, iq3_quant.c and iq1_quant.c's, checked in
 * their own tests); a block quantizes (with an importance vector: ggml requires one for IQ2_XXS, IQ2_XS and
 * IQ1_S) and decodes back to finite values, and the argument checks hold. */
static void test_grid_registry(void **state)
{
    (void)state;
    float x[GRID_BLOCK], y[GRID_BLOCK], importance[GRID_BLOCK];
    test_fill_random(x, GRID_BLOCK, 5, 1.0f);
    for (int i = 0; i < GRID_BLOCK; ++i)
        importance[i] = 1.0f;
    for (size_t f = 0; f < sizeof grid_formats / sizeof grid_formats[0]; ++f) {
        const lowbit_format format = grid_formats[f];
        const lowbit_format_traits *traits = lowbit_format_get(format);
        assert_non_null(traits);
        assert_true(traits->can_dequantize);
        assert_true(traits->can_quantize);
        assert_false(traits->is_activation_only);
        assert_int_equal(traits->block_size, GRID_BLOCK);
        unsigned char out[LOWBIT_IQ3_S_BYTES];
        const size_t bytes = lowbit_format_row_size(format, GRID_BLOCK);
        assert_true(bytes <= sizeof out);
        assert_int_equal(lowbit_quantize(format, x, 1, GRID_BLOCK, out, bytes, importance, 1), LOWBIT_OK);
        assert_int_equal(lowbit_dequantize(format, out, bytes, 1, GRID_BLOCK, y), LOWBIT_OK);
        for (int i = 0; i < GRID_BLOCK; ++i)
            assert_true(isfinite(y[i]));
        fmt_check_argument_errors(format, 1);
    }
}

/* Random block bytes with a finite, moderate scale: f16 d = ±(0.5 .. 2)·2^k, k ∈ −4..3 (IQ1_M: assembled from
 * the scale words' top nibbles). */
static void random_grid_blocks(lowbit_format format, unsigned char *data, size_t blocks, uint64_t seed)
{
    const size_t size = lowbit_format_row_size(format, GRID_BLOCK);
    uint64_t state = seed;
    for (size_t i = 0; i < blocks * size; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        data[i] = (unsigned char)(state >> 56);
    }
    for (size_t b = 0; b < blocks; ++b) {
        unsigned char *block = data + b * size;
        const uint32_t d = (0x2C00u + 0x400u * (block[size - 1] % 8u)) | (block[size - 2] & 0x83FFu);
        if (format == LOWBIT_FORMAT_IQ1_M) {
            for (int i = 0; i < 4; ++i)
                block[LOWBIT_IQ1_M_SCALES + 2 * i + 1] =
                    (unsigned char)((block[LOWBIT_IQ1_M_SCALES + 2 * i + 1] & 0x0F) | (((d >> (4 * i)) & 0xF) << 4));
        } else {
            put_half(block, d);
        }
    }
}

/* The CPU backend's fused kernel (cpu_gemv_<format>, not the dequantize-a-row path) on random blocks: with one
 * one-hot activation row per column, Y reads every weight back, and it must equal lowbit_dequantize's exactly;
 * random activations agree with the f64 reference over the dequantized weights. */
static void test_grid_cpu_gemv(void **state)
{
    (void)state;
    const size_t rows = 5, cols = 512, blocks = rows * cols / GRID_BLOCK;
    const lowbit_context_options options = {.struct_size = sizeof options, .flags = LOWBIT_CONTEXT_NO_PLUGINS};
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(&options, &context), LOWBIT_OK);
    float *x = fmt_alloc(cols * cols * sizeof(float)), *y = fmt_alloc(cols * rows * sizeof(float));
    float *w = fmt_alloc(rows * cols * sizeof(float));
    double reference[3 * 5];
    for (size_t i = 0; i < cols; ++i)
        x[i * cols + i] = 1.0f;
    for (size_t f = 0; f < sizeof grid_formats / sizeof grid_formats[0]; ++f) {
        const lowbit_format format = grid_formats[f];
        const size_t size = rows * lowbit_format_row_size(format, cols);
        unsigned char *data = fmt_alloc(size);
        random_grid_blocks(format, data, blocks, 1000 + f);
        assert_int_equal(lowbit_dequantize(format, data, size, rows, cols, w), LOWBIT_OK);
        lowbit_weights *weights = NULL;
        assert_int_equal(lowbit_weights_upload(context, 0, format, rows, cols, data, size, 0, &weights), LOWBIT_OK);
        assert_int_equal(lowbit_matmul(context, weights, x, y, cols), LOWBIT_OK);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        char kernel[64];
        int length = snprintf(kernel, sizeof kernel, "cpu_gemv_%s", lowbit_format_name(format));
        for (int i = 0; i < length; ++i)
            kernel[i] = (char)tolower((unsigned char)kernel[i]);
        if (strncmp(run.kernel, kernel, strlen(kernel)) != 0)
            fail_msg("%s ran %s, not %s", lowbit_format_name(format), run.kernel, kernel);
        for (size_t c = 0; c < cols; ++c)
            for (size_t r = 0; r < rows; ++r)
                if (!(y[c * rows + r] == w[r * cols + c]))
                    fail_msg("%s row %zu col %zu: fused %.9g, dequantized %.9g", lowbit_format_name(format), r, c,
                             (double)y[c * rows + r], (double)w[r * cols + c]);
        float *xr = fmt_alloc(3 * cols * sizeof(float));
        test_fill_random(xr, 3 * cols, 77 + f, 1.0f);
        test_reference_matmul(format, data, size, rows, cols, xr, 3, reference);
        assert_int_equal(lowbit_matmul(context, weights, xr, y, 3), LOWBIT_OK);
        const double error = test_nmse(y, reference, 3 * rows);
        if (!(error <= TEST_NMSE_LIMIT)) fail_msg("%s: NMSE %.3e", lowbit_format_name(format), error);
        free(xr);
        lowbit_weights_destroy(weights);
        free(data);
    }
    free(w);
    free(y);
    free(x);
    lowbit_context_destroy(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iq2_xxs_known_block), cmocka_unit_test(test_iq2_xs_known_block),
        cmocka_unit_test(test_iq2_s_known_block),   cmocka_unit_test(test_iq3_xxs_known_block),
        cmocka_unit_test(test_iq3_s_known_block),   cmocka_unit_test(test_iq1_s_known_block),
        cmocka_unit_test(test_iq1_m_known_block),   cmocka_unit_test(test_grid_registry),
        cmocka_unit_test(test_grid_cpu_gemv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
