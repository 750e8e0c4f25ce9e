/* quantize_plan.c — per-tensor format choice: which tensors stay float, the preset mix
 * rules of llama-quantize, user overrides and the shape fallback (docs/formats.md §4.9, §4.10). */
#define _POSIX_C_SOURCE 200809L /* regex.h, strcasecmp */
#include "tools/quantize/quantize_plan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F(id) LOWBIT_FORMAT_##id
static const quantize_preset presets[] = {
    {QUANTIZE_PRESET_Q4_0, "Q4_0", 2, F(Q4_0)},
    {QUANTIZE_PRESET_Q4_1, "Q4_1", 3, F(Q4_1)},
    {QUANTIZE_PRESET_Q5_0, "Q5_0", 8, F(Q5_0)},
    {QUANTIZE_PRESET_Q5_1, "Q5_1", 9, F(Q5_1)},
    {QUANTIZE_PRESET_Q8_0, "Q8_0", 7, F(Q8_0)},
    {QUANTIZE_PRESET_Q2_K, "Q2_K", 10, F(Q2_K)},
    {QUANTIZE_PRESET_Q2_K_S, "Q2_K_S", 21, F(Q2_K)},
    {QUANTIZE_PRESET_Q3_K_S, "Q3_K_S", 11, F(Q3_K)},
    {QUANTIZE_PRESET_Q3_K_M, "Q3_K_M", 12, F(Q3_K)},
    {QUANTIZE_PRESET_Q3_K_L, "Q3_K_L", 13, F(Q3_K)},
    {QUANTIZE_PRESET_Q4_K_S, "Q4_K_S", 14, F(Q4_K)},
    {QUANTIZE_PRESET_Q4_K_M, "Q4_K_M", 15, F(Q4_K)},
    {QUANTIZE_PRESET_Q5_K_S, "Q5_K_S", 16, F(Q5_K)},
    {QUANTIZE_PRESET_Q5_K_M, "Q5_K_M", 17, F(Q5_K)},
    {QUANTIZE_PRESET_Q6_K, "Q6_K", 18, F(Q6_K)},
    {QUANTIZE_PRESET_IQ1_S, "IQ1_S", 24, F(IQ1_S)},
    {QUANTIZE_PRESET_IQ1_M, "IQ1_M", 31, F(IQ1_M)},
    {QUANTIZE_PRESET_IQ2_XXS, "IQ2_XXS", 19, F(IQ2_XXS)},
    {QUANTIZE_PRESET_IQ2_XS, "IQ2_XS", 20, F(IQ2_XS)},
    {QUANTIZE_PRESET_IQ2_S, "IQ2_S", 28, F(IQ2_XS)}, /* the preset IQ2_S is mostly the format IQ2_XS */
    {QUANTIZE_PRESET_IQ2_M, "IQ2_M", 29, F(IQ2_S)},
    {QUANTIZE_PRESET_IQ3_XXS, "IQ3_XXS", 23, F(IQ3_XXS)},
    {QUANTIZE_PRESET_IQ3_XS, "IQ3_XS", 22, F(IQ3_S)},
    {QUANTIZE_PRESET_IQ3_S, "IQ3_S", 26, F(IQ3_S)},
    {QUANTIZE_PRESET_IQ3_M, "IQ3_M", 27, F(IQ3_S)},
    {QUANTIZE_PRESET_IQ4_NL, "IQ4_NL", 25, F(IQ4_NL)},
    {QUANTIZE_PRESET_IQ4_XS, "IQ4_XS", 30, F(IQ4_XS)},
    {QUANTIZE_PRESET_TQ1_0, "TQ1_0", 36, F(TQ1_0)},
    {QUANTIZE_PRESET_TQ2_0, "TQ2_0", 37, F(TQ2_0)},
    {QUANTIZE_PRESET_MXFP4_MOE, "MXFP4_MOE", 38, F(MXFP4)},
    {QUANTIZE_PRESET_NVFP4, "NVFP4", 39, F(NVFP4)},
    {QUANTIZE_PRESET_Q1_0, "Q1_0", 40, F(Q1_0)},
    {QUANTIZE_PRESET_Q2_0, "Q2_0", 41, F(Q2_0)},
    {QUANTIZE_PRESET_F16, "F16", 1, F(F16)},
    {QUANTIZE_PRESET_BF16, "BF16", 32, F(BF16)},
    {QUANTIZE_PRESET_F32, "F32", 0, F(F32)},
};
#define PRESET_COUNT (sizeof presets / sizeof presets[0])

static int format_can_quantize(int format)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    return traits && traits->can_quantize && !traits->is_activation_only;
}

const quantize_preset *quantize_preset_at(size_t index) { return index < PRESET_COUNT ? &presets[index] : NULL; }

const quantize_preset *quantize_preset_find(const char *name)
{
    static const struct {
        const char *alias, *preset;
    } aliases[] = {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; ++i)
        if (strcasecmp(name, aliases[i].alias) == 0) name = aliases[i].preset;
    for (size_t i = 0; i < PRESET_COUNT; ++i)
        if (strcasecmp(name, presets[i].name) == 0) return format_can_quantize(presets[i].base) ? &presets[i] : NULL;
    return NULL;
}

int quantize_format_parse(const char *name, lowbit_format *out)
{
    lowbit_format format;
    if (!name || lowbit_format_from_name(name, &format) != 0 || !format_can_quantize(format)) return -1;
    *out = format;
    return 0;
}

int quantize_use_more_bits(int layer, int n_layer)
{
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

int quantize_layer_index(const char *name)
{
    static const char *const prefixes[] = {"blk.", "layers."};
    for (size_t p = 0; p < 2; ++p) {
        const char *at = strstr(name, prefixes[p]);
        if (!at) continue;
        at += strlen(prefixes[p]);
        if (!isdigit((unsigned char)*at)) continue;
        long value = 0;
        while (isdigit((unsigned char)*at) && value < 1000000)
            value = value * 10 + (*at++ - '0');
        if (*at == '.' || *at == '\0') return (int)value;
    }
    return -1;
}

static int ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* A tensor's role as the mix rules know it, in the order llama-quantize tests them: the GGUF name part
 * anywhere in the name ("blk.N.attn_v.weight", "blk.N.ffn_down_exps.weight"), or the Hugging Face name of
 * the same matrix ("….v_proj.weight") so a safetensors input gets the same mix. */
typedef enum tensor_role {
    ROLE_OTHER,
    ROLE_ATTN_QKV,
    ROLE_ATTN_KV_B,
    ROLE_ATTN_V,
    ROLE_ATTN_K,
    ROLE_ATTN_Q,
    ROLE_ATTN_OUTPUT,
    ROLE_FFN_UP,
    ROLE_FFN_GATE,
    ROLE_FFN_DOWN
} tensor_role;

/* `part` ends in ".weight" for the attention matrices (so "attn_q" never matches "attn_qkv"); the
 * feed-forward ones match any variant ("ffn_up_exps", "ffn_up_shexp"). */
static const struct {
    tensor_role role;
    const char *part, *hf_name;
} roles[] = {
    {ROLE_ATTN_QKV, "attn_qkv.weight", "qkv_proj"},
    {ROLE_ATTN_KV_B, "attn_kv_b.weight", "kv_b_proj"},
    {ROLE_ATTN_V, "attn_v.weight", "v_proj"},
    {ROLE_ATTN_K, "attn_k.weight", "k_proj"},
    {ROLE_ATTN_Q, "attn_q.weight", "q_proj"},
    {ROLE_ATTN_OUTPUT, "attn_output.weight", "o_proj"},
    {ROLE_FFN_UP, "ffn_up", "up_proj"},
    {ROLE_FFN_GATE, "ffn_gate", "gate_proj"},
    {ROLE_FFN_DOWN, "ffn_down", "down_proj"},
};

/* "….<hf_name>.weight" with a '.' (or the start) before the name. */
static int has_hf_name(const char *name, const char *hf_name)
{
    const size_t n = strlen(name), m = strlen(hf_name) + strlen(".weight");
    if (n < m || strcmp(name + n - strlen(".weight"), ".weight") != 0) return 0;
    const char *at = name + n - m;
    return strncmp(at, hf_name, strlen(hf_name)) == 0 && (at == name || at[-1] == '.');
}

static tensor_role role_of(const char *name)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; ++i)
        if (strstr(name, roles[i].part) || has_hf_name(name, roles[i].hf_name)) return roles[i].role;
    return ROLE_OTHER;
}

/* The attention-v rules also govern the fused qkv matrix and MLA's kv_b: they feed the values. */
static int is_value_like(tensor_role role)
{
    return role == ROLE_ATTN_V || role == ROLE_ATTN_QKV || role == ROLE_ATTN_KV_B;
}

int quantize_is_output_name(const char *name)
{
    return strcmp(name, "output.weight") == 0 || strcmp(name, "lm_head.weight") == 0;
}

int quantize_is_embedding_name(const char *name)
{
    return strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0 ||
           ends_with(name, "embed_tokens.weight");
}

static int is_float_type(int type)
{
    return type == LOWBIT_FORMAT_F32 || type == LOWBIT_FORMAT_F16 || type == LOWBIT_FORMAT_BF16;
}

/* Dimensions that count: trailing 1s do not (a [4096, 1] tensor is a vector). */
static uint32_t effective_dims(const quantize_tensor_desc *tensor)
{
    uint32_t dims = tensor->n_dims < 4 ? tensor->n_dims : 4;
    while (dims > 1 && tensor->ne[dims - 1] == 1)
        --dims;
    return dims;
}

/* Tensors llama-quantize never quantizes, whatever the preset. NULL when the tensor may be quantized. */
static const char *keep_reason(const quantize_tensor_desc *tensor)
{
    static const char *const kept_parts[] = {
        "ffn_gate_inp.weight", "position_embd",     "pos_embd",         "token_types", "ssm_conv1d.weight",
        "attn_rel_b",          "time_mix_first",    "time_mix_lerp",    "time_mix_w0", "time_mix_w1",
        "time_mix_w2",         "time_mix_decay_w1", "time_mix_decay_w2"};
    if (!ends_with(tensor->name, "weight")) return "not a weight";
    for (uint32_t d = 0; d < 4; ++d)
        if (tensor->ne[d] == 0) return "empty";
    if (effective_dims(tensor) < 2) return "1-D";
    if (strstr(tensor->name, "_norm.weight")) return "norm";
    for (size_t i = 0; i < sizeof kept_parts / sizeof kept_parts[0]; ++i)
        if (strstr(tensor->name, kept_parts[i])) return "kept float by rule";
    if (!is_float_type(tensor->type) && lowbit_format_get(tensor->type) == NULL) return "not a float tensor";
    return NULL;
}

static int is_output(const quantize_rules *rules, const char *name)
{
    return quantize_is_output_name(name) || (!rules->has_output_tensor && quantize_is_embedding_name(name));
}

static int is_falcon(const quantize_rules *rules) { return rules->arch && strcmp(rules->arch, "falcon") == 0; }

/* The presets whose default is a 1- or 2-bit grid format share one set of rules. */
static int is_low_grid_preset(quantize_preset_id p)
{
    return p == QUANTIZE_PRESET_IQ1_S || p == QUANTIZE_PRESET_IQ1_M || p == QUANTIZE_PRESET_IQ2_XXS ||
           p == QUANTIZE_PRESET_IQ2_XS || p == QUANTIZE_PRESET_IQ2_S || p == QUANTIZE_PRESET_IQ2_M;
}

/* 1- to 3-bit grid presets: their output matrix gets Q5_K rather than Q6_K. */
static int is_grid_preset(quantize_preset_id p) { return is_low_grid_preset(p) || p == QUANTIZE_PRESET_IQ3_XXS; }

static lowbit_format embedding_rule(quantize_preset_id p, lowbit_format type)
{
    if (p == QUANTIZE_PRESET_IQ2_XXS || p == QUANTIZE_PRESET_IQ2_XS || p == QUANTIZE_PRESET_IQ1_S ||
        p == QUANTIZE_PRESET_IQ1_M)
        return F(Q2_K);
    if (p == QUANTIZE_PRESET_IQ2_S || p == QUANTIZE_PRESET_IQ2_M || p == QUANTIZE_PRESET_IQ3_XXS) return F(IQ3_S);
    /* ternary and 2-bit embeddings lose too much */
    if (p == QUANTIZE_PRESET_TQ1_0 || p == QUANTIZE_PRESET_TQ2_0 || p == QUANTIZE_PRESET_Q2_0) return F(Q4_K);
    return type;
}

/* IQ1_S … IQ2_M: a step up for the value and early ffn_down matrices, everything else the grid format. */
static lowbit_format low_grid_rule(const quantize_rules *rules, tensor_role role, int layer, int n_layer,
                                   lowbit_format type)
{
    const quantize_preset_id p = rules->preset->id;
    const int wide = p == QUANTIZE_PRESET_IQ2_S || p == QUANTIZE_PRESET_IQ2_M;
    const lowbit_format step = wide ? F(IQ3_S) : F(Q2_K);
    if (is_value_like(role)) return rules->n_gqa >= 4 || rules->n_expert >= 4 ? F(Q4_K) : step;
    if (role == ROLE_ATTN_K && rules->n_expert == 8) return F(Q4_K);
    if (role == ROLE_FFN_DOWN) return layer < n_layer / 8 ? step : type;
    if (role == ROLE_ATTN_OUTPUT) {
        if (rules->n_expert == 8) return F(Q5_K);
        if (p == QUANTIZE_PRESET_IQ1_S || p == QUANTIZE_PRESET_IQ1_M) return F(IQ2_XXS);
        if (wide) return F(IQ3_S);
    }
    return type;
}

static lowbit_format value_rule(const quantize_rules *rules, int layer, int n_layer, lowbit_format type)
{
    const quantize_preset_id p = rules->preset->id;
    const int gqa4 = rules->n_gqa >= 4;
    if (p == QUANTIZE_PRESET_Q2_K)
        type = gqa4 ? F(Q4_K) : F(Q3_K);
    else if (p == QUANTIZE_PRESET_Q2_K_S && gqa4)
        type = F(Q4_K);
    else if (p == QUANTIZE_PRESET_IQ3_XXS)
        type = gqa4 ? F(Q4_K) : rules->has_imatrix ? F(IQ3_XXS) : F(IQ3_S);
    else if ((p == QUANTIZE_PRESET_IQ3_XS || p == QUANTIZE_PRESET_IQ3_S) && gqa4)
        type = F(Q4_K);
    else if (p == QUANTIZE_PRESET_IQ3_M)
        type = F(Q4_K);
    else if (p == QUANTIZE_PRESET_Q3_K_M)
        type = layer < 2 ? F(Q5_K) : F(Q4_K);
    else if (p == QUANTIZE_PRESET_Q3_K_L)
        type = F(Q5_K);
    else if ((p == QUANTIZE_PRESET_IQ4_NL || p == QUANTIZE_PRESET_IQ4_XS) && gqa4)
        type = F(Q5_K);
    else if ((p == QUANTIZE_PRESET_Q4_K_M || p == QUANTIZE_PRESET_Q5_K_M) && quantize_use_more_bits(layer, n_layer))
        type = F(Q6_K);
    else if (p == QUANTIZE_PRESET_Q4_K_S && layer < 4)
        type = F(Q5_K);
    return rules->n_expert == 8 ? F(Q8_0) : type;
}

static lowbit_format ffn_down_rule(const quantize_rules *rules, int layer, int n_layer, lowbit_format type)
{
    const quantize_preset_id p = rules->preset->id;
    const int falcon = is_falcon(rules), first_eighth = layer < n_layer / 8;
    const int more = quantize_use_more_bits(layer, n_layer);
    switch (p) {
    case QUANTIZE_PRESET_Q2_K: return F(Q3_K);
    case QUANTIZE_PRESET_Q2_K_S: return first_eighth ? F(Q4_K) : type;
    case QUANTIZE_PRESET_IQ3_XXS:
        if (rules->has_imatrix) return type;
        return first_eighth ? F(Q4_K) : F(Q3_K);
    case QUANTIZE_PRESET_Q3_K_M:
        if (layer < n_layer / 16) return F(Q5_K);
        return !falcon || more ? F(Q4_K) : F(Q3_K);
    case QUANTIZE_PRESET_IQ3_M: return first_eighth || (rules->n_expert == 8 && more) ? F(Q4_K) : type;
    case QUANTIZE_PRESET_Q3_K_L: return falcon ? F(Q4_K) : F(Q5_K);
    case QUANTIZE_PRESET_Q4_K_M:
        if (!falcon) return more ? F(Q6_K) : type;
        return layer < n_layer / 16 ? F(Q6_K) : more ? F(Q5_K) : F(Q4_K);
    case QUANTIZE_PRESET_IQ4_NL:
    case QUANTIZE_PRESET_IQ4_XS: return first_eighth && !rules->has_imatrix ? F(Q5_K) : type;
    case QUANTIZE_PRESET_Q5_K_M: return more ? F(Q6_K) : type;
    case QUANTIZE_PRESET_Q4_K_S: return !falcon && first_eighth ? F(Q5_K) : type;
    case QUANTIZE_PRESET_Q4_0: return rules->has_imatrix && first_eighth ? F(Q4_1) : type;
    case QUANTIZE_PRESET_Q5_0: return rules->has_imatrix && first_eighth ? F(Q5_1) : type;
    default: return type;
    }
}

static lowbit_format attn_output_rule(const quantize_rules *rules, lowbit_format type)
{
    const quantize_preset_id p = rules->preset->id;
    if (is_falcon(rules)) return p == QUANTIZE_PRESET_Q3_K_L ? F(Q4_K) : type;
    if (rules->n_expert == 8) {
        static const quantize_preset_id bumped[] = {
            QUANTIZE_PRESET_Q2_K,   QUANTIZE_PRESET_IQ3_XS, QUANTIZE_PRESET_IQ3_XXS, QUANTIZE_PRESET_Q3_K_S,
            QUANTIZE_PRESET_Q3_K_M, QUANTIZE_PRESET_IQ4_NL, QUANTIZE_PRESET_Q4_K_S,  QUANTIZE_PRESET_Q4_K_M,
            QUANTIZE_PRESET_IQ3_S,  QUANTIZE_PRESET_IQ3_M,  QUANTIZE_PRESET_IQ4_XS};
        for (size_t i = 0; i < sizeof bumped / sizeof bumped[0]; ++i)
            if (p == bumped[i]) return F(Q5_K);
        return type;
    }
    switch (p) {
    case QUANTIZE_PRESET_Q2_K: return F(Q3_K);
    case QUANTIZE_PRESET_IQ3_XXS: return F(IQ3_S);
    case QUANTIZE_PRESET_Q3_K_M: return F(Q4_K);
    case QUANTIZE_PRESET_Q3_K_L: return F(Q5_K);
    case QUANTIZE_PRESET_IQ3_M: return F(Q4_K);
    default: return type;
    }
}

/* The preset mix rules of the pinned llama-quantize: returns the format a quantized preset gives this
 * tensor. Layer positions come from the name (llama-quantize counts tensors; the same for one matrix of
 * each role per layer). Not reproduced: its bump of 70B models' attn_v (lowbit does not know the size
 * class) and the GLM-5-next rule. */
static lowbit_format mix_rule(const quantize_rules *rules, const quantize_tensor_desc *tensor, lowbit_format type)
{
    const quantize_preset_id p = rules->preset->id;
    const char *name = tensor->name;
    int n_layer = (int)rules->n_layer;
    int layer = quantize_layer_index(name);
    if (layer < 0) layer = 0;
    if (n_layer <= layer) n_layer = layer + 1; /* no block_count: never index past the end */

    if (is_output(rules, name)) {
        if (p == QUANTIZE_PRESET_MXFP4_MOE || is_falcon(rules) || tensor->ne[0] % 256 != 0) return F(Q8_0);
        if (is_grid_preset(p)) return F(Q5_K);
        return type == F(Q8_0) ? type : F(Q6_K);
    }
    /* MXFP4_MOE: the experts' stacked matrices in MXFP4, every other matrix in Q8_0 */
    if (p == QUANTIZE_PRESET_MXFP4_MOE) return tensor->n_dims >= 3 && tensor->ne[2] > 1 ? F(MXFP4) : F(Q8_0);
    if (quantize_is_embedding_name(name)) return embedding_rule(p, type);
    const tensor_role role = role_of(name);
    if (is_low_grid_preset(p)) return low_grid_rule(rules, role, layer, n_layer, type);
    const int iq3_xs = p == QUANTIZE_PRESET_IQ3_XS, iq3_xxs = p == QUANTIZE_PRESET_IQ3_XXS;
    switch (role) {
    case ROLE_ATTN_QKV:
    case ROLE_ATTN_KV_B:
    case ROLE_ATTN_V: return value_rule(rules, layer, n_layer, type);
    case ROLE_ATTN_K:
        if (rules->n_expert == 8) return F(Q8_0);
        return iq3_xs ? F(IQ3_XXS) : iq3_xxs ? F(IQ2_S) : type;
    case ROLE_ATTN_Q: return iq3_xs ? F(IQ3_XXS) : iq3_xxs ? F(IQ2_S) : type;
    case ROLE_FFN_DOWN: return ffn_down_rule(rules, layer, n_layer, type);
    case ROLE_ATTN_OUTPUT: return attn_output_rule(rules, type);
    case ROLE_FFN_UP:
    case ROLE_FFN_GATE: return iq3_xs && layer >= n_layer / 8 && layer < 7 * n_layer / 8 ? F(IQ3_XXS) : type;
    default: return type;
    }
}

/* llama-quantize refuses to make these without importance data (outside the embeddings and the output):
 * the grid formats below 3.5 bits, and Q2_K in a Q2_K_S file. */
int quantize_format_needs_importance(const char *name, lowbit_format target, int q2_k_s)
{
    if (quantize_is_output_name(name) || quantize_is_embedding_name(name)) return 0;
    switch (target) {
    case F(IQ1_S):
    case F(IQ1_M):
    case F(IQ2_XXS):
    case F(IQ2_XS):
    case F(IQ2_S):
    case F(IQ3_XXS): return 1;
    case F(Q2_K): return q2_k_s;
    default: return 0;
    }
}

static int needs_importance(const quantize_rules *rules, const char *name, lowbit_format target)
{
    return quantize_format_needs_importance(name, target, rules->preset->id == QUANTIZE_PRESET_Q2_K_S);
}
#undef F

int quantize_plan_tensor(const quantize_rules *rules, const quantize_tensor_desc *tensor, quantize_tensor_plan *plan,
                         char *error, size_t error_size)
{
    memset(plan, 0, sizeof *plan);
    plan->target = plan->wanted = tensor->type;
    const char *kept = keep_reason(tensor);
    if (kept) {
        plan->reason = kept;
        return 0;
    }
    lowbit_format type = rules->preset->base;
    plan->reason = "preset";
    const lowbit_format_traits *base = lowbit_format_get(type);
    const int base_quantized = base && base->block_size > 1;
    if (!rules->pure && base_quantized) {
        lowbit_format mixed = mix_rule(rules, tensor, type);
        if (mixed != type) plan->reason = "mix rule";
        type = mixed;
    }
    if (rules->has_embedding_type && quantize_is_embedding_name(tensor->name)) {
        type = rules->embedding_type;
        plan->reason = "--token-embedding-type";
    }
    if (rules->has_output_type && quantize_is_output_name(tensor->name)) {
        type = rules->output_type;
        plan->reason = "--output-tensor-type";
    }
    for (size_t i = 0; i < rules->override_count; ++i) {
        if (regexec(&rules->overrides[i].regex, tensor->name, 0, NULL, 0) == 0) {
            type = rules->overrides[i].format;
            plan->reason = "--tensor-type";
            break; /* the first matching pattern wins */
        }
    }
    plan->wanted = (int)type;
    lowbit_format fitted = lowbit_format_fallback(type, (size_t)tensor->ne[0]);
    /* a float target never needs a fallback; the fallback function only knows block formats */
    if (is_float_type((int)type)) fitted = type;
    if (fitted != type) plan->fallback = 1;
    plan->target = (int)fitted;
    if (plan->target == tensor->type) {
        plan->reason = plan->fallback ? "fallback to the source type" : "already in the wanted type";
        const lowbit_format_traits *own = lowbit_format_get(tensor->type);
        plan->same_type = own && own->can_dequantize && (is_float_type(tensor->type) || rules->allow_requantize);
        return 0;
    }
    if (!is_float_type(tensor->type) && !rules->allow_requantize) {
        snprintf(error, error_size,
                 "tensor '%s' is already quantized (%s); requantizing loses quality, pass --allow-requantize "
                 "to do it anyway",
                 tensor->name, lowbit_format_name(tensor->type));
        return -1;
    }
    const lowbit_format_traits *source = lowbit_format_get(tensor->type);
    if (!source || !source->can_dequantize) {
        snprintf(error, error_size, "tensor '%s': cannot read its type %s to requantize it", tensor->name,
                 lowbit_format_name(tensor->type));
        return -1;
    }
    plan->quantize = 1;
    plan->needs_imatrix = needs_importance(rules, tensor->name, fitted);
    return 0;
}

int quantize_override_parse(const char *text, quantize_override *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    const char *equals = text ? strrchr(text, '=') : NULL;
    if (!equals || equals == text || equals[1] == '\0') {
        snprintf(error, error_size, "--tensor-type wants REGEX=TYPE, got '%s'", text ? text : "");
        return -1;
    }
    if (quantize_format_parse(equals + 1, &out->format) != 0) {
        snprintf(error, error_size, "--tensor-type '%s': unknown or unsupported type '%s'", text, equals + 1);
        return -1;
    }
    size_t length = (size_t)(equals - text);
    out->pattern = malloc(length + 1);
    if (!out->pattern) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    memcpy(out->pattern, text, length);
    out->pattern[length] = '\0';
    int rc = regcomp(&out->regex, out->pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char message[256];
        regerror(rc, &out->regex, message, sizeof message);
        snprintf(error, error_size, "--tensor-type: bad regular expression '%s': %s", out->pattern, message);
        free(out->pattern);
        out->pattern = NULL;
        return -1;
    }
    return 0;
}

void quantize_override_free(quantize_override *override)
{
    if (!override || !override->pattern) return;
    regfree(&override->regex);
    free(override->pattern);
    override->pattern = NULL;
}
