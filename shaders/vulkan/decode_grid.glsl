// decode_grid.glsl — dequant32 of the grid (codebook) formats IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S, built only into the *_grid modules (LOWBIT_RAW_GRID=1). The OpenCL side of the family is
// shaders/opencl/gemv_grid.cl. Included by decode_raw.glsl, after the byte access helpers it uses.

// --- grid (codebook) formats: lowbit_grids.h's compact codes, two 16-bit entries per word -----------------
// The format's codebook (lowbit_grids.h) follows the part's rows in the weight buffer, after their padding to
// whole 16-byte texels and 128 bytes (vulkan_memory.c puts it there): entry e is half e & 1 of word e >> 1.
uint grid_code(uint e)
{
    uint row_bytes = p.cols / block_elems() * block_bytes();
    uint base = ((p.rows * row_bytes + 15u) / 16u * 16u + 128u) / 4u;
    return (word_at(base + (e >> 1)) >> (16u * (e & 1u))) & 0xFFFFu;
}

// Elements 4h..4h+3 of an 8-element IQ2 entry: 2-bit codes c → 8 + 17c + (c >> 1) ∈ {8, 25, 43}
vec4 grid2_magnitudes(uint code, uint h)
{
    uvec4 c = (uvec4(code) >> (uvec4(0u, 2u, 4u, 6u) + 8u * h)) & 3u;
    return vec4(8u + 17u * c + (c >> 1));
}

// The 4 elements of an IQ3 entry: 3-bit codes c → 4 + 8c (7 → 62) for IQ3_XXS, 1 + 2c for IQ3_S
vec4 grid3_magnitudes(uint code)
{
    uvec4 c = (uvec4(code) >> uvec4(0u, 3u, 6u, 9u)) & 7u;
    if (FORMAT == F_IQ3_S) return vec4(1u + 2u * c);
    return vec4(4u + 8u * c + 2u * (c >> 2 & c >> 1 & c & 1u));
}

// Elements 4h..4h+3 of an 8-element IQ1 entry: 2-bit codes c → c − 1
vec4 grid1_values(uint code, uint h)
{
    uvec4 c = (uvec4(code) >> (uvec4(0u, 2u, 4u, 6u) + 8u * h)) & 3u;
    return vec4(c) - 1.0;
}

// ±1 for signs 4h..4h+3 of a sign byte (bit set: negative)
vec4 signs4(uint signs, uint h)
{
    uvec4 bit = (uvec4(signs) >> (uvec4(0u, 1u, 2u, 3u) + 4u * h)) & 1u;
    return vec4(1.0) - 2.0 * vec4(bit);
}

// 7 stored signs and their parity as the 8th
uint signs_from7(uint s7) { return s7 | ((uint(bitCount(s7)) & 1u) << 7); }

// The little-endian word at any byte offset
uint word_at_byte(uint byte)
{
    uint w[16];
    load_words(byte, 1u, w);
    return w[0];
}


void dequant32_grid(uint block, uint s, uint h[16], out vec4 w[8])
{
    uint b[16];
    if (FORMAT == F_IQ2_XXS) {
        // group s: 4 grid indices (bytes), then a word of four 7-bit sign sets and a 4-bit scale
        load_words(block + LOWBIT_IQ2_XXS_QS + 8u * s, 2u, b);
        float db = half_of(h, 0u) * (0.5 + float(b[1] >> 28)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code = grid_code((b[0] >> (8u * l)) & 0xFFu), sg = signs_from7((b[1] >> (7u * l)) & 127u);
            w[2u * l] = db * grid2_magnitudes(code, 0u) * signs4(sg, 0u);
            w[2u * l + 1u] = db * grid2_magnitudes(code, 1u) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ2_XS) {
        // group s: four u16 (9-bit grid index, 7-bit sign set), a scale byte (low nibble: l < 2)
        load_words(block + LOWBIT_IQ2_XS_QS + 8u * s, 2u, b);
        uint sc = word_at_byte(block + LOWBIT_IQ2_XS_SCALES + s) & 0xFFu;
        float d = half_of(h, 0u);
        float db0 = d * (0.5 + float(sc & 0xFu)) * 0.25, db1 = d * (0.5 + float(sc >> 4)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint q = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFFFu;
            uint code = grid_code(q & 511u), sg = signs_from7(q >> 9);
            float dl = l < 2u ? db0 : db1;
            w[2u * l] = dl * grid2_magnitudes(code, 0u) * signs4(sg, 0u);
            w[2u * l + 1u] = dl * grid2_magnitudes(code, 1u) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ2_S) {
        // group s: 4 low index bytes (qs), 4 sign bytes (qs + 32), qh[s] (2 high bits each), scales[s]
        uint lo = word_at_byte(block + LOWBIT_IQ2_S_QS + 4u * s);
        uint sgn = word_at_byte(block + LOWBIT_IQ2_S_QS + 32u + 4u * s);
        uint qh = word_at_byte(block + LOWBIT_IQ2_S_QH + s) & 0xFFu;
        uint sc = word_at_byte(block + LOWBIT_IQ2_S_SCALES + s) & 0xFFu;
        float d = half_of(h, 0u);
        float db0 = d * (0.5 + float(sc & 0xFu)) * 0.25, db1 = d * (0.5 + float(sc >> 4)) * 0.25;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint index = ((lo >> (8u * l)) & 0xFFu) | ((qh << (8u - 2u * l)) & 0x300u);
            uint code = grid_code(index), sg = (sgn >> (8u * l)) & 0xFFu;
            float dl = l < 2u ? db0 : db1;
            w[2u * l] = dl * grid2_magnitudes(code, 0u) * signs4(sg, 0u);
            w[2u * l + 1u] = dl * grid2_magnitudes(code, 1u) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ3_XXS) {
        // group s: 8 grid indices (4 elements each) at qs + 8s; a word of four 7-bit sign sets and a scale at
        // qs + 64 + 4s
        load_words(block + LOWBIT_IQ3_XXS_QS + 8u * s, 2u, b);
        uint aux = word_at_byte(block + LOWBIT_IQ3_XXS_QS + 64u + 4u * s);
        float db = half_of(h, 0u) * (0.5 + float(aux >> 28)) * 0.5;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint sg = signs_from7((aux >> (7u * l)) & 127u);
            uint i0 = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFu, i1 = (b[l >> 1] >> (16u * (l & 1u) + 8u)) & 0xFFu;
            w[2u * l] = db * grid3_magnitudes(grid_code(i0)) * signs4(sg, 0u);
            w[2u * l + 1u] = db * grid3_magnitudes(grid_code(i1)) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ3_S) {
        // group s: 8 index bytes (+ a 9th bit each from qh[s]), 4 sign bytes, a scale nibble (scales[s / 2])
        load_words(block + LOWBIT_IQ3_S_QS + 8u * s, 2u, b);
        uint qh = word_at_byte(block + LOWBIT_IQ3_S_QH + s) & 0xFFu;
        uint sgn = word_at_byte(block + LOWBIT_IQ3_S_SIGNS + 4u * s);
        uint sc = (word_at_byte(block + LOWBIT_IQ3_S_SCALES + (s >> 1)) >> (4u * (s & 1u))) & 0xFu;
        float db = half_of(h, 0u) * float(1u + 2u * sc);
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint pair = (b[l >> 1] >> (16u * (l & 1u))) & 0xFFFFu;
            uint i0 = (pair & 0xFFu) | ((qh << (8u - 2u * l)) & 256u);
            uint i1 = (pair >> 8) | ((qh << (7u - 2u * l)) & 256u);
            uint sg = (sgn >> (8u * l)) & 0xFFu;
            w[2u * l] = db * grid3_magnitudes(grid_code(i0)) * signs4(sg, 0u);
            w[2u * l + 1u] = db * grid3_magnitudes(grid_code(i1)) * signs4(sg, 1u);
        }
    } else if (FORMAT == F_IQ1_S) {
        // group s: 4 low index bytes at qs + 4s, a u16 qh[s]: 3 high bits per index, a 3-bit scale, the
        // sign of the shift (bit 15)
        uint lo = word_at_byte(block + LOWBIT_IQ1_S_QS + 4u * s);
        uint qh = word_at_byte(block + LOWBIT_IQ1_S_QH + 2u * s) & 0xFFFFu;
        float dl = half_of(h, 0u) * float(2u * ((qh >> 12) & 7u) + 1u);
        float delta = (qh & 0x8000u) != 0u ? -0.125 : 0.125;
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint code = grid_code(((lo >> (8u * l)) & 0xFFu) | (((qh >> (3u * l)) & 7u) << 8));
            w[2u * l] = dl * (grid1_values(code, 0u) + delta);
            w[2u * l + 1u] = dl * (grid1_values(code, 1u) + delta);
        }
    } else if (FORMAT == F_IQ1_M) {
        // the f16 d is the top nibbles of the 4 scale u16s; group s: 4 low index bytes at 4s, qh bytes 2s and
        // 2s + 1 (3 high bits and a shift sign per index), two 3-bit scales in scales u16 s / 2
        uint sc0 = h[0] & 0xFFFFu, sc1 = h[0] >> 16, sc2 = h[1] & 0xFFFFu, sc3 = h[1] >> 16;
        uint dbits = (sc0 >> 12) | ((sc1 >> 8) & 0x00F0u) | ((sc2 >> 4) & 0x0F00u) | (sc3 & 0xF000u);
        float d = unpackHalf2x16(dbits).x;
        uint sc = (h[s >> 2] >> (16u * ((s >> 1) & 1u))) & 0xFFFFu;
        float dl1 = d * float(2u * ((sc >> (6u * (s & 1u))) & 7u) + 1u);
        float dl2 = d * float(2u * ((sc >> (6u * (s & 1u) + 3u)) & 7u) + 1u);
        uint lo = word_at_byte(block + LOWBIT_IQ1_M_QS + 4u * s);
        uint qhw[16];
        load_words(block + LOWBIT_IQ1_M_QH, 4u, qhw);
        uint qh2 = (qhw[s >> 1] >> (16u * (s & 1u))) & 0xFFFFu; // qh[2s] | qh[2s + 1] << 8
        [[unroll]] for (uint l = 0; l < 4u; ++l) {
            uint qh = (qh2 >> (8u * (l >> 1))) & 0xFFu;
            uint high = (l & 1u) == 0u ? (qh << 8) & 0x700u : (qh << 4) & 0x700u;
            float delta = (qh & ((l & 1u) == 0u ? 0x08u : 0x80u)) != 0u ? -0.125 : 0.125;
            uint code = grid_code(((lo >> (8u * l)) & 0xFFu) | high);
            float dl = l < 2u ? dl1 : dl2;
            w[2u * l] = dl * (grid1_values(code, 0u) + delta);
            w[2u * l + 1u] = dl * (grid1_values(code, 1u) + delta);
        }
    } else {
        [[unroll]] for (uint i = 0; i < 8u; ++i) w[i] = vec4(0.0);
    }
}
