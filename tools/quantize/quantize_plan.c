/* quantize_plan.c — per-tensor format choice: which tensors stay float, the preset mix
 * rules of llama-quantize, user overrides and the shape fallback (docs/formats.md §4.9). */
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
    {QUANTIZE_PRESET_Q3_K_S, "Q3_K_S", 11, F(Q3_K)},
    {QUANTIZE_PRESET_Q3_K_M, "Q3_K_M", 12, F(Q3_K)},
    {QUANTIZE_PRESET_Q3_K_L, "Q3_K_L", 13, F(Q3_K)},
    {QUANTIZE_PRESET_Q4_K_S, "Q4_K_S", 14, F(Q4_K)},
    {QUANTIZE_PRESET_Q4_K_M, "Q4_K_M", 15, F(Q4_K)},
    {QUANTIZE_PRESET_Q5_K_S, "Q5_K_S", 16, F(Q5_K)},
    {QUANTIZE_PRESET_Q5_K_M, "Q5_K_M", 17, F(Q5_K)},
    {QUANTIZE_PRESET_Q6_K, "Q6_K", 18, F(Q6_K)},
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

/* The tensor's role as the mix rules know it: "attn_v" in "blk.N.attn_v.weight", or its Hugging Face
 * name ("v_proj") so a safetensors input gets the same mix. */
static int has_role(const char *name, const char *role)
{
    static const struct {
        const char *role, *alias;
    } aliases[] = {{"attn_v", "v_proj"},
                   {"attn_k", "k_proj"},
                   {"ffn_down", "down_proj"},
                   {"attn_output", "o_proj"},
                   {"attn_qkv", "qkv_proj"}};
    const char *names[2] = {role, NULL};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; ++i)
        if (strcmp(aliases[i].role, role) == 0) names[1] = aliases[i].alias;
    for (size_t n = 0; n < 2 && names[n]; ++n) {
        const char *at = strstr(name, names[n]);
        if (!at || (at != name && at[-1] != '.')) continue;
        if (strcmp(at + strlen(names[n]), ".weight") == 0) return 1;
    }
    return 0;
}

int quantize_is_output_name(const char *name)
{
    return strcmp(name, "output.weight") == 0 || strcmp(name, "lm_head.weight") == 0;
}

int quantize_is_embedding_name(const char *name)
{
    return strcmp(name, "token_embd.weight") == 0 || ends_with(name, "embed_tokens.weight");
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

/* The preset mix rules: returns the format a quantized preset gives this tensor. */
static lowbit_format mix_rule(const quantize_rules *rules, const quantize_tensor_desc *tensor, lowbit_format type)
{
    const quantize_preset_id p = rules->preset->id;
    const char *name = tensor->name;
    int n_layer = (int)rules->n_layer;
    int layer = quantize_layer_index(name);
    if (layer < 0) layer = 0;
    if (n_layer <= layer) n_layer = layer + 1; /* no block_count: never index past the end */
    const int k_preset = p == QUANTIZE_PRESET_Q2_K || p == QUANTIZE_PRESET_Q3_K_S || p == QUANTIZE_PRESET_Q3_K_M ||
                         p == QUANTIZE_PRESET_Q4_K_S || p == QUANTIZE_PRESET_Q4_K_M;

    if (is_output(rules, name)) {
        if (p == QUANTIZE_PRESET_MXFP4_MOE || is_falcon(rules) || tensor->ne[0] % 256 != 0) return F(Q8_0);
        return type == F(Q8_0) ? type : F(Q6_K);
    }
    /* MXFP4_MOE: the experts' stacked (3-D) matrices in MXFP4, every other matrix in Q8_0 */
    if (p == QUANTIZE_PRESET_MXFP4_MOE) return effective_dims(tensor) >= 3 ? F(MXFP4) : F(Q8_0);
    if (quantize_is_embedding_name(name)) {
        /* ternary and 2-bit embeddings lose too much */
        if (type == F(TQ1_0) || type == F(TQ2_0) || type == F(Q2_0)) return F(Q4_K);
        return type;
    }
    if (has_role(name, "attn_v")) {
        if (p == QUANTIZE_PRESET_Q2_K)
            type = rules->n_gqa >= 4 ? F(Q4_K) : F(Q3_K);
        else if (p == QUANTIZE_PRESET_Q3_K_M)
            type = layer < 2 ? F(Q5_K) : F(Q4_K);
        else if (p == QUANTIZE_PRESET_Q3_K_L)
            type = F(Q5_K);
        else if ((p == QUANTIZE_PRESET_IQ4_NL || p == QUANTIZE_PRESET_IQ4_XS) && rules->n_gqa >= 4)
            type = F(Q5_K);
        else if ((p == QUANTIZE_PRESET_Q4_K_M || p == QUANTIZE_PRESET_Q5_K_M) && quantize_use_more_bits(layer, n_layer))
            type = F(Q6_K);
        else if (p == QUANTIZE_PRESET_Q4_K_S && layer < 4)
            type = F(Q5_K);
        if (rules->n_expert == 8) type = F(Q8_0);
        return type;
    }
    if (has_role(name, "attn_k")) return rules->n_expert == 8 ? F(Q8_0) : type;
    if (has_role(name, "ffn_down")) {
        if (p == QUANTIZE_PRESET_Q2_K)
            type = F(Q3_K);
        else if (p == QUANTIZE_PRESET_Q3_K_M)
            type = layer < n_layer / 16 ? F(Q5_K) : F(Q4_K);
        else if (p == QUANTIZE_PRESET_Q3_K_L)
            type = is_falcon(rules) ? F(Q4_K) : F(Q5_K);
        else if (p == QUANTIZE_PRESET_Q4_K_M) {
            if (!is_falcon(rules) && quantize_use_more_bits(layer, n_layer))
                type = F(Q6_K);
            else if (is_falcon(rules) && layer < n_layer / 8)
                type = F(Q5_K);
        } else if (p == QUANTIZE_PRESET_Q5_K_M && quantize_use_more_bits(layer, n_layer))
            type = F(Q6_K);
        else if (p == QUANTIZE_PRESET_Q4_K_S && !is_falcon(rules) && layer < n_layer / 8)
            type = F(Q5_K);
        else if ((p == QUANTIZE_PRESET_IQ4_NL || p == QUANTIZE_PRESET_IQ4_XS) && !rules->has_imatrix &&
                 layer < n_layer / 8)
            type = F(Q5_K);
        else if ((p == QUANTIZE_PRESET_Q4_0 || p == QUANTIZE_PRESET_Q5_0) && rules->has_imatrix && layer < n_layer / 8)
            type = p == QUANTIZE_PRESET_Q4_0 ? F(Q4_1) : F(Q5_1);
        return type;
    }
    if (has_role(name, "attn_output")) {
        if (is_falcon(rules)) return p == QUANTIZE_PRESET_Q3_K_L ? F(Q4_K) : type;
        if (rules->n_expert == 8) return k_preset ? F(Q5_K) : type;
        if (p == QUANTIZE_PRESET_Q2_K) return F(Q3_K);
        if (p == QUANTIZE_PRESET_Q3_K_M) return F(Q4_K);
        if (p == QUANTIZE_PRESET_Q3_K_L) return F(Q5_K);
        return type;
    }
    if (has_role(name, "attn_qkv")) {
        if (p == QUANTIZE_PRESET_Q3_K_M || p == QUANTIZE_PRESET_Q3_K_L) return F(Q4_K);
        if (p == QUANTIZE_PRESET_Q4_K_M) return F(Q5_K);
        if (p == QUANTIZE_PRESET_Q5_K_M) return F(Q6_K);
    }
    return type;
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
