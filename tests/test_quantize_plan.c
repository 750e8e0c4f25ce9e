/* test_quantize_plan.c — tools/quantize planning and imatrix parsing: preset mix rules, overrides, shape
 * fallbacks, tensors kept float, and legacy .dat imatrix files good and bad. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "tools/quantize/quantize_imatrix.h"
#include "tools/quantize/quantize_plan.h"

static quantize_rules rules_for(const char *preset, uint32_t n_layer)
{
    quantize_rules rules;
    memset(&rules, 0, sizeof rules);
    rules.preset = quantize_preset_find(preset);
    assert_non_null(rules.preset);
    rules.arch = "llama";
    rules.n_layer = n_layer;
    rules.n_gqa = 1;
    rules.has_output_tensor = 1;
    return rules;
}

static quantize_tensor_plan plan_for(const quantize_rules *rules, const char *name, uint64_t cols, uint64_t rows)
{
    quantize_tensor_desc desc = {name, rows > 1 ? 2u : 1u, {cols, rows, 1, 1}, LOWBIT_FORMAT_F32};
    quantize_tensor_plan plan;
    char error[256];
    assert_int_equal(quantize_plan_tensor(rules, &desc, &plan, error, sizeof error), 0);
    return plan;
}

static void test_presets(void **state)
{
    (void)state;
    assert_int_equal(quantize_preset_find("q4_k_m")->file_type, 15);
    assert_int_equal(quantize_preset_find("Q4_K")->file_type, 15); /* llama-quantize alias */
    assert_int_equal(quantize_preset_find("Q8_0")->file_type, 7);
    assert_int_equal(quantize_preset_find("Q2_K")->file_type, 10);
    assert_int_equal(quantize_preset_find("IQ4_XS")->file_type, 30);
    assert_int_equal(quantize_preset_find("BF16")->file_type, 32);
    assert_int_equal(quantize_preset_find("TQ1_0")->file_type, 36);
    assert_null(quantize_preset_find("Q8_K")); /* activation-only */
    assert_null(quantize_preset_find("Q9_Z"));
    assert_null(quantize_preset_find(NULL));
}

/* 32 layers: use_more_bits picks 0-3, 28-31 and every third from 6 to 27 (16 layers). */
static void test_q4_k_m_32_layers(void **state)
{
    (void)state;
    quantize_rules rules = rules_for("Q4_K_M", 32);
    int q6 = 0;
    for (int layer = 0; layer < 32; ++layer) {
        char name[64];
        int more = layer < 4 || layer >= 28 || (layer - 4) % 3 == 2;
        assert_int_equal(quantize_use_more_bits(layer, 32), more);
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", layer);
        quantize_tensor_plan plan = plan_for(&rules, name, 4096, 1024);
        assert_int_equal(plan.target, more ? LOWBIT_FORMAT_Q6_K : LOWBIT_FORMAT_Q4_K);
        q6 += plan.target == LOWBIT_FORMAT_Q6_K;
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", layer);
        assert_int_equal(plan_for(&rules, name, 14336, 4096).target, more ? LOWBIT_FORMAT_Q6_K : LOWBIT_FORMAT_Q4_K);
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", layer);
        assert_int_equal(plan_for(&rules, name, 4096, 4096).target, LOWBIT_FORMAT_Q4_K);
    }
    assert_int_equal(q6, 16);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).target, LOWBIT_FORMAT_Q4_K);
    /* the fused qkv (and MLA's kv_b) matrix follows the attn_v rules in the pinned llama-quantize */
    assert_int_equal(plan_for(&rules, "blk.0.attn_qkv.weight", 4096, 4096).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "blk.5.attn_qkv.weight", 4096, 4096).target, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan_for(&rules, "blk.0.attn_kv_b.weight", 512, 4096).target, LOWBIT_FORMAT_Q6_K);
    /* the feed-forward roles match their expert variants too */
    assert_int_equal(plan_for(&rules, "blk.0.ffn_down_exps.weight", 14336, 4096).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "blk.5.ffn_down_exps.weight", 14336, 4096).target, LOWBIT_FORMAT_Q4_K);
    /* an output row that 256 does not divide gets Q8_0 by rule, not as a fallback */
    quantize_tensor_plan plan = plan_for(&rules, "output.weight", 4128, 100);
    assert_int_equal(plan.target, LOWBIT_FORMAT_Q8_0);
    assert_int_equal(plan.fallback, 0);
    /* Hugging Face names (a safetensors input) get the same mix */
    assert_int_equal(plan_for(&rules, "model.layers.0.self_attn.v_proj.weight", 4096, 1024).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "model.layers.5.self_attn.v_proj.weight", 4096, 1024).target, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan_for(&rules, "model.layers.31.mlp.down_proj.weight", 14336, 4096).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "lm_head.weight", 4096, 32000).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "model.layers.0.self_attn.xv_proj.weight", 4096, 1024).target,
                     LOWBIT_FORMAT_Q4_K);
    /* tied embeddings: no output.weight, so token_embd is treated as the output */
    rules.has_output_tensor = 0;
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).target, LOWBIT_FORMAT_Q6_K);
    /* --pure: no mix rules */
    rules = rules_for("Q4_K_M", 32);
    rules.pure = 1;
    assert_int_equal(plan_for(&rules, "blk.0.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q4_K);
}

static void test_other_presets(void **state)
{
    (void)state;
    quantize_rules rules = rules_for("Q2_K", 32);
    assert_int_equal(plan_for(&rules, "blk.5.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q3_K);
    assert_int_equal(plan_for(&rules, "blk.5.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q3_K);
    assert_int_equal(plan_for(&rules, "blk.5.attn_output.weight", 4096, 4096).target, LOWBIT_FORMAT_Q3_K);
    assert_int_equal(plan_for(&rules, "blk.5.attn_q.weight", 4096, 4096).target, LOWBIT_FORMAT_Q2_K);
    rules.n_gqa = 4;
    assert_int_equal(plan_for(&rules, "blk.5.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q4_K);
    rules = rules_for("Q3_K_M", 32);
    assert_int_equal(plan_for(&rules, "blk.1.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "blk.2.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan_for(&rules, "blk.1.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "blk.2.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan_for(&rules, "blk.2.attn_output.weight", 4096, 4096).target, LOWBIT_FORMAT_Q4_K);
    rules = rules_for("Q4_K_S", 32);
    assert_int_equal(plan_for(&rules, "blk.3.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "blk.4.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan_for(&rules, "blk.3.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "blk.4.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q4_K);
    rules = rules_for("Q4_0", 32);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan_for(&rules, "blk.0.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q4_0);
    rules = rules_for("Q8_0", 32);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q8_0);
    rules = rules_for("IQ4_XS", 32); /* without an imatrix the first eighth of ffn_down gets Q5_K */
    assert_int_equal(plan_for(&rules, "blk.3.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "blk.4.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_IQ4_XS);
    rules.n_gqa = 4;
    assert_int_equal(plan_for(&rules, "blk.9.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q5_K);
    rules.has_imatrix = 1;
    assert_int_equal(plan_for(&rules, "blk.3.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_IQ4_XS);
    rules = rules_for("Q4_0", 32); /* with an imatrix the first eighth of ffn_down gets Q4_1 */
    rules.has_imatrix = 1;
    assert_int_equal(plan_for(&rules, "blk.3.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q4_1);
    assert_int_equal(plan_for(&rules, "blk.4.ffn_down.weight", 14336, 4096).target, LOWBIT_FORMAT_Q4_0);
    rules = rules_for("Q4_K_M", 32); /* 8-expert models: attn_v/attn_k Q8_0, attn_output Q5_K */
    rules.n_expert = 8;
    assert_int_equal(plan_for(&rules, "blk.9.attn_k.weight", 4096, 1024).target, LOWBIT_FORMAT_Q8_0);
    assert_int_equal(plan_for(&rules, "blk.9.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_Q8_0);
    assert_int_equal(plan_for(&rules, "blk.9.attn_output.weight", 4096, 4096).target, LOWBIT_FORMAT_Q5_K);
    rules = rules_for("TQ2_0", 32);
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).target, LOWBIT_FORMAT_Q4_K);
    /* float presets have no mix rules */
    rules = rules_for("F16", 32);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_F16);
    assert_int_equal(plan_for(&rules, "blk.0.attn_v.weight", 4096, 1024).target, LOWBIT_FORMAT_F16);
}

static quantize_tensor_plan plan_at(const quantize_rules *rules, int layer, const char *role, uint64_t cols,
                                    uint64_t rows)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, role);
    return plan_for(rules, name, cols, rows);
}

#define TARGET(rules, layer, role) plan_at(&(rules), layer, role, 4096, 4096).target

/* The grid presets (llama-quantize's IQ1_S … IQ3_M and Q2_K_S), 32 layers, GQA 1 unless set. */
static void test_grid_presets(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int file_type;
        lowbit_format base;
    } presets[] = {{"IQ2_XXS", 19, LOWBIT_FORMAT_IQ2_XXS}, {"IQ2_XS", 20, LOWBIT_FORMAT_IQ2_XS},
                   {"Q2_K_S", 21, LOWBIT_FORMAT_Q2_K},     {"IQ3_XS", 22, LOWBIT_FORMAT_IQ3_S},
                   {"IQ3_XXS", 23, LOWBIT_FORMAT_IQ3_XXS}, {"IQ1_S", 24, LOWBIT_FORMAT_IQ1_S},
                   {"IQ3_S", 26, LOWBIT_FORMAT_IQ3_S},     {"IQ3_M", 27, LOWBIT_FORMAT_IQ3_S},
                   {"IQ2_S", 28, LOWBIT_FORMAT_IQ2_XS},    {"IQ2_M", 29, LOWBIT_FORMAT_IQ2_S},
                   {"IQ1_M", 31, LOWBIT_FORMAT_IQ1_M}};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; ++i) {
        const quantize_preset *preset = quantize_preset_find(presets[i].name);
        assert_non_null(preset);
        assert_int_equal(preset->file_type, presets[i].file_type);
        assert_int_equal(preset->base, presets[i].base);
        quantize_rules rules = rules_for(presets[i].name, 32);
        rules.pure = 1;
        assert_int_equal(TARGET(rules, 9, "attn_q"), presets[i].base);
    }
    /* IQ2_XXS / IQ2_XS / IQ1_S / IQ1_M: Q2_K for attn_v, the first eighth of ffn_down and the embeddings, Q5_K
     * for the output; IQ1_* also give attn_output IQ2_XXS */
    quantize_rules rules = rules_for("IQ2_XXS", 32);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q2_K);
    assert_int_equal(TARGET(rules, 3, "ffn_down"), LOWBIT_FORMAT_Q2_K);
    assert_int_equal(TARGET(rules, 4, "ffn_down"), LOWBIT_FORMAT_IQ2_XXS);
    assert_int_equal(TARGET(rules, 9, "attn_output"), LOWBIT_FORMAT_IQ2_XXS);
    assert_int_equal(TARGET(rules, 9, "ffn_up"), LOWBIT_FORMAT_IQ2_XXS);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).target, LOWBIT_FORMAT_Q2_K);
    rules.n_gqa = 4;
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q4_K);
    rules = rules_for("IQ1_S", 32);
    assert_int_equal(TARGET(rules, 9, "attn_output"), LOWBIT_FORMAT_IQ2_XXS);
    assert_int_equal(TARGET(rules, 9, "attn_k"), LOWBIT_FORMAT_IQ1_S);
    rules.n_expert = 8; /* experts: attn_k Q4_K, attn_output Q5_K, attn_v Q4_K (not the Q8_0 of other presets) */
    assert_int_equal(TARGET(rules, 9, "attn_k"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 9, "attn_output"), LOWBIT_FORMAT_Q5_K);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q4_K);
    /* IQ2_S / IQ2_M step up to IQ3_S instead */
    rules = rules_for("IQ2_M", 32);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 0, "ffn_down"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 9, "attn_output"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 9, "ffn_gate"), LOWBIT_FORMAT_IQ2_S);
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).target, LOWBIT_FORMAT_IQ3_S);
    /* IQ3_XXS: attn_q/attn_k IQ2_S, attn_output IQ3_S; without an imatrix attn_v IQ3_S and ffn_down Q4_K/Q3_K */
    rules = rules_for("IQ3_XXS", 32);
    assert_int_equal(TARGET(rules, 9, "attn_q"), LOWBIT_FORMAT_IQ2_S);
    assert_int_equal(TARGET(rules, 9, "attn_k"), LOWBIT_FORMAT_IQ2_S);
    assert_int_equal(TARGET(rules, 9, "attn_output"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 3, "ffn_down"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 9, "ffn_down"), LOWBIT_FORMAT_Q3_K);
    assert_int_equal(TARGET(rules, 9, "ffn_up"), LOWBIT_FORMAT_IQ3_XXS);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q5_K);
    rules.has_imatrix = 1;
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_IQ3_XXS);
    assert_int_equal(TARGET(rules, 3, "ffn_down"), LOWBIT_FORMAT_IQ3_XXS);
    /* IQ3_XS: IQ3_XXS for attn_q/attn_k and the middle three quarters of ffn_gate/ffn_up */
    rules = rules_for("IQ3_XS", 32);
    assert_int_equal(TARGET(rules, 9, "attn_q"), LOWBIT_FORMAT_IQ3_XXS);
    assert_int_equal(TARGET(rules, 9, "attn_k"), LOWBIT_FORMAT_IQ3_XXS);
    assert_int_equal(TARGET(rules, 3, "ffn_gate"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 4, "ffn_gate"), LOWBIT_FORMAT_IQ3_XXS);
    assert_int_equal(TARGET(rules, 27, "ffn_up"), LOWBIT_FORMAT_IQ3_XXS);
    assert_int_equal(TARGET(rules, 28, "ffn_up"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_IQ3_S);
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q6_K);
    rules.n_gqa = 4;
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q4_K);
    /* IQ3_M: Q4_K for attn_v, attn_output, attn_qkv and the first eighth of ffn_down */
    rules = rules_for("IQ3_M", 32);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 9, "attn_qkv"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 9, "attn_output"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 3, "ffn_down"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 4, "ffn_down"), LOWBIT_FORMAT_IQ3_S);
    /* Q2_K_S: Q4_K for the first eighth of ffn_down, and attn_v when GQA >= 4 */
    rules = rules_for("Q2_K_S", 32);
    assert_int_equal(TARGET(rules, 3, "ffn_down"), LOWBIT_FORMAT_Q4_K);
    assert_int_equal(TARGET(rules, 4, "ffn_down"), LOWBIT_FORMAT_Q2_K);
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q2_K);
    rules.n_gqa = 4;
    assert_int_equal(TARGET(rules, 9, "attn_v"), LOWBIT_FORMAT_Q4_K);
    /* a Hugging Face name gets the same role */
    rules = rules_for("IQ2_M", 32);
    assert_int_equal(plan_for(&rules, "model.layers.9.self_attn.o_proj.weight", 4096, 4096).target,
                     LOWBIT_FORMAT_IQ3_S);
    /* a row no 256-block fits falls back to IQ4_NL */
    assert_int_equal(plan_at(&rules, 9, "ffn_up", 4128, 64).target, LOWBIT_FORMAT_IQ4_NL);
}

/* Which tensors llama-quantize would refuse to make without importance data. */
static void test_needs_imatrix(void **state)
{
    (void)state;
    quantize_rules rules = rules_for("IQ2_XXS", 32);
    assert_int_equal(plan_at(&rules, 9, "attn_q", 4096, 4096).needs_imatrix, 1);
    assert_int_equal(plan_at(&rules, 9, "attn_v", 4096, 1024).needs_imatrix, 0); /* Q2_K outside Q2_K_S */
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).needs_imatrix, 0);
    assert_int_equal(plan_at(&rules, 9, "attn_q", 4128, 64).needs_imatrix, 0); /* fell back to IQ4_NL */
    rules.has_output_tensor = 0;                                               /* tied: the embeddings are exempt too */
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).needs_imatrix, 0);
    rules = rules_for("IQ3_XXS", 32);
    assert_int_equal(plan_at(&rules, 9, "ffn_up", 4096, 4096).needs_imatrix, 1);
    assert_int_equal(plan_at(&rules, 9, "attn_output", 4096, 4096).needs_imatrix, 0); /* IQ3_S */
    rules = rules_for("Q2_K_S", 32);
    assert_int_equal(plan_at(&rules, 9, "ffn_up", 4096, 4096).needs_imatrix, 1);
    rules = rules_for("Q2_K", 32);
    assert_int_equal(plan_at(&rules, 9, "ffn_up", 4096, 4096).needs_imatrix, 0);
    rules = rules_for("IQ3_S", 32);
    assert_int_equal(plan_at(&rules, 9, "ffn_up", 4096, 4096).needs_imatrix, 0);
    /* --tensor-type into a grid format needs one as well */
    rules = rules_for("Q4_K_M", 32);
    quantize_override override;
    char error[256];
    assert_int_equal(quantize_override_parse("ffn_up=IQ2_XS", &override, error, sizeof error), 0);
    rules.overrides = &override;
    rules.override_count = 1;
    assert_int_equal(plan_at(&rules, 9, "ffn_up", 4096, 4096).needs_imatrix, 1);
    quantize_override_free(&override);
}

static void test_overrides(void **state)
{
    (void)state;
    quantize_override overrides[2];
    char error[256];
    assert_int_equal(quantize_override_parse("attn_v=Q8_0", &overrides[0], error, sizeof error), 0);
    assert_int_equal(
        quantize_override_parse("blk\\.[0-9]+\\.ffn_(up|down)\\.weight$=q5_k", &overrides[1], error, sizeof error), 0);
    quantize_rules rules = rules_for("Q4_K_M", 32);
    rules.overrides = overrides;
    rules.override_count = 2;
    quantize_tensor_plan plan = plan_for(&rules, "blk.0.attn_v.weight", 4096, 1024);
    assert_int_equal(plan.target, LOWBIT_FORMAT_Q8_0);
    assert_string_equal(plan.reason, "--tensor-type");
    assert_int_equal(plan_for(&rules, "blk.7.ffn_down.weight", 4096, 1024).target, LOWBIT_FORMAT_Q5_K);
    assert_int_equal(plan_for(&rules, "blk.7.attn_q.weight", 4096, 1024).target, LOWBIT_FORMAT_Q4_K);
    rules.has_output_type = 1;
    rules.output_type = LOWBIT_FORMAT_Q4_0;
    rules.has_embedding_type = 1;
    rules.embedding_type = LOWBIT_FORMAT_Q8_0;
    assert_int_equal(plan_for(&rules, "output.weight", 4096, 32000).target, LOWBIT_FORMAT_Q4_0);
    assert_int_equal(plan_for(&rules, "token_embd.weight", 4096, 32000).target, LOWBIT_FORMAT_Q8_0);
    quantize_override_free(&overrides[0]);
    quantize_override_free(&overrides[1]);
    quantize_override bad;
    assert_int_equal(quantize_override_parse("(unclosed=Q4_0", &bad, error, sizeof error), -1);
    assert_non_null(strstr(error, "regular expression"));
    assert_int_equal(quantize_override_parse("attn_v=Q9_9", &bad, error, sizeof error), -1);
    assert_int_equal(quantize_override_parse("attn_v", &bad, error, sizeof error), -1);
    assert_int_equal(quantize_override_parse("=Q4_0", &bad, error, sizeof error), -1);
}

static void test_fallbacks_and_kept(void **state)
{
    (void)state;
    quantize_rules rules = rules_for("Q4_K_M", 32);
    quantize_tensor_plan plan = plan_for(&rules, "blk.9.attn_q.weight", 96, 64); /* 96 = 3·32 */
    assert_int_equal(plan.wanted, LOWBIT_FORMAT_Q4_K);
    assert_int_equal(plan.target, LOWBIT_FORMAT_Q5_0);
    assert_int_equal(plan.fallback, 1);
    plan = plan_for(&rules, "blk.9.attn_v.weight", 160, 64); /* 160 = 5·32, layer 9 wants Q6_K */
    assert_int_equal(plan.wanted, LOWBIT_FORMAT_Q6_K);
    assert_int_equal(plan.target, LOWBIT_FORMAT_Q8_0);
    plan = plan_for(&rules, "blk.9.attn_q.weight", 100, 64); /* 32 does not divide 100 */
    assert_int_equal(plan.target, LOWBIT_FORMAT_F16);
    assert_int_equal(plan.fallback, 1);
    assert_int_equal(plan.quantize, 1);
    rules = rules_for("Q2_K", 32);
    assert_int_equal(plan_for(&rules, "blk.9.attn_q.weight", 96, 64).target, LOWBIT_FORMAT_Q4_0);
    rules = rules_for("IQ4_XS", 32);
    assert_int_equal(plan_for(&rules, "blk.9.attn_q.weight", 160, 64).target, LOWBIT_FORMAT_IQ4_NL);
    /* kept float: vectors, norms (even 2-D ones), position embeddings, [n, 1] tensors */
    rules = rules_for("Q4_K_M", 32);
    plan = plan_for(&rules, "blk.0.attn_norm.weight", 4096, 1);
    assert_int_equal(plan.quantize, 0);
    assert_int_equal(plan.target, LOWBIT_FORMAT_F32);
    assert_int_equal(plan_for(&rules, "blk.0.attn_q.bias", 4096, 1).quantize, 0);
    assert_int_equal(plan_for(&rules, "blk.0.ffn_norm.weight", 4096, 2).quantize, 0);
    assert_int_equal(plan_for(&rules, "position_embd.weight", 4096, 2048).quantize, 0);
    assert_int_equal(plan_for(&rules, "blk.0.ffn_gate_inp.weight", 4096, 8).quantize, 0);
}

static void test_requantize(void **state)
{
    (void)state;
    quantize_rules rules = rules_for("Q8_0", 32);
    quantize_tensor_desc desc = {"blk.0.attn_q.weight", 2, {4096, 4096, 1, 1}, LOWBIT_FORMAT_Q4_K};
    quantize_tensor_plan plan;
    char error[256];
    assert_int_equal(quantize_plan_tensor(&rules, &desc, &plan, error, sizeof error), -1);
    assert_non_null(strstr(error, "--allow-requantize"));
    rules.allow_requantize = 1;
    assert_int_equal(quantize_plan_tensor(&rules, &desc, &plan, error, sizeof error), 0);
    assert_int_equal(plan.quantize, 1);
    desc.type = LOWBIT_FORMAT_Q8_0; /* already the wanted type: copied, never an error */
    rules.allow_requantize = 0;
    assert_int_equal(quantize_plan_tensor(&rules, &desc, &plan, error, sizeof error), 0);
    assert_int_equal(plan.quantize, 0);
}

static void test_layer_index(void **state)
{
    (void)state;
    assert_int_equal(quantize_layer_index("blk.17.attn_v.weight"), 17);
    assert_int_equal(quantize_layer_index("model.layers.3.mlp.down_proj.weight"), 3);
    assert_int_equal(quantize_layer_index("output.weight"), -1);
    assert_int_equal(quantize_layer_index("blk.x.attn_v.weight"), -1);
}

/* Appends little-endian int32 / raw bytes to a growing buffer. */
typedef struct buffer {
    unsigned char data[4096];
    size_t size;
} buffer;

static void put_i32(buffer *b, int32_t v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; ++i)
        b->data[b->size++] = (unsigned char)(u >> (8 * i));
}

static void put_f32(buffer *b, float v)
{
    int32_t i;
    memcpy(&i, &v, 4);
    put_i32(b, i);
}

static void put_entry(buffer *b, const char *name, int32_t ncall, int32_t nval, float first)
{
    put_i32(b, (int32_t)strlen(name));
    memcpy(b->data + b->size, name, strlen(name));
    b->size += strlen(name);
    put_i32(b, ncall);
    put_i32(b, nval);
    for (int32_t i = 0; i < nval; ++i)
        put_f32(b, first + (float)i);
}

static void test_imatrix_dat(void **state)
{
    (void)state;
    buffer b = {.size = 0};
    put_i32(&b, 2);
    put_entry(&b, "blk.0.attn_q.weight", 4, 8, 4.0f);
    put_entry(&b, "blk.0.attn_v.weight", 0, 4, 1.0f);
    put_i32(&b, 10); /* trailing last-call field: ignored */
    quantize_imatrix imatrix;
    char error[256];
    assert_int_equal(quantize_imatrix_parse_dat(b.data, b.size, &imatrix, error, sizeof error), 0);
    assert_int_equal(imatrix.count, 2);
    const quantize_imatrix_entry *q = quantize_imatrix_find(&imatrix, "blk.0.attn_q.weight");
    assert_non_null(q);
    assert_int_equal(q->count, 8);
    assert_true(q->values[0] == 1.0f && q->values[4] == 2.0f); /* (4 + i) / 4 */
    const quantize_imatrix_entry *v = quantize_imatrix_find(&imatrix, "blk.0.attn_v.weight");
    assert_true(v->values[3] == 4.0f); /* ncall 0: taken as is */
    assert_null(quantize_imatrix_find(&imatrix, "output.weight"));
    quantize_imatrix_free(&imatrix);

    /* truncated at every length */
    for (size_t cut = 0; cut + 4 < b.size; ++cut) {
        if (cut == b.size - 4) continue;
        int rc = quantize_imatrix_parse_dat(b.data, cut, &imatrix, error, sizeof error);
        assert_int_equal(rc, -1);
    }
    /* n_entries huge or negative */
    buffer huge = b;
    huge.data[3] = 0x7f;
    assert_int_equal(quantize_imatrix_parse_dat(huge.data, huge.size, &imatrix, error, sizeof error), -1);
    assert_non_null(strstr(error, "entry count"));
    huge.data[3] = 0xff;
    assert_int_equal(quantize_imatrix_parse_dat(huge.data, huge.size, &imatrix, error, sizeof error), -1);
    /* name_len negative */
    buffer negative = {.size = 0};
    put_i32(&negative, 1);
    put_i32(&negative, -5);
    put_i32(&negative, 0);
    put_i32(&negative, 0);
    put_i32(&negative, 0);
    assert_int_equal(quantize_imatrix_parse_dat(negative.data, negative.size, &imatrix, error, sizeof error), -1);
    assert_non_null(strstr(error, "name length"));
    /* nval negative, NaN value, duplicate name */
    buffer bad = {.size = 0};
    put_i32(&bad, 1);
    put_entry(&bad, "a.weight", 1, -3, 0.0f);
    assert_int_equal(quantize_imatrix_parse_dat(bad.data, bad.size, &imatrix, error, sizeof error), -1);
    bad.size = 0;
    put_i32(&bad, 1);
    put_entry(&bad, "a.weight", 1, 2, 0.0f);
    const uint32_t nan_bits = 0x7fc00000u;
    memcpy(bad.data + bad.size - 4, &nan_bits, 4);
    assert_int_equal(quantize_imatrix_parse_dat(bad.data, bad.size, &imatrix, error, sizeof error), -1);
    bad.size = 0;
    put_i32(&bad, 2);
    put_entry(&bad, "a.weight", 1, 2, 0.0f);
    put_entry(&bad, "a.weight", 1, 2, 0.0f);
    assert_int_equal(quantize_imatrix_parse_dat(bad.data, bad.size, &imatrix, error, sizeof error), -1);
    assert_non_null(strstr(error, "twice"));
    /* a GGUF imatrix that is not valid GGUF */
    assert_int_equal(quantize_imatrix_parse_gguf("GGUF\3\0\0\0", 8, &imatrix, error, sizeof error), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_q4_k_m_32_layers),
        cmocka_unit_test(test_other_presets),
        cmocka_unit_test(test_grid_presets),
        cmocka_unit_test(test_needs_imatrix),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_fallbacks_and_kept),
        cmocka_unit_test(test_requantize),
        cmocka_unit_test(test_layer_index),
        cmocka_unit_test(test_imatrix_dat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
