/* quantize_plan.h — lowbit-quantize's planning: llama.cpp-compatible presets, their per-tensor mix
 * rules, user overrides and shape fallbacks, decided per tensor without touching tensor data. */
#ifndef LOWBIT_QUANTIZE_PLAN_H
#define LOWBIT_QUANTIZE_PLAN_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "lowbit/lowbit_format.h"

/* Which rule set a preset uses (the preset names llama-quantize accepts). */
typedef enum quantize_preset_id {
    QUANTIZE_PRESET_F32,
    QUANTIZE_PRESET_F16,
    QUANTIZE_PRESET_BF16,
    QUANTIZE_PRESET_Q4_0,
    QUANTIZE_PRESET_Q4_1,
    QUANTIZE_PRESET_Q5_0,
    QUANTIZE_PRESET_Q5_1,
    QUANTIZE_PRESET_Q8_0,
    QUANTIZE_PRESET_Q2_K,
    QUANTIZE_PRESET_Q3_K_S,
    QUANTIZE_PRESET_Q3_K_M,
    QUANTIZE_PRESET_Q3_K_L,
    QUANTIZE_PRESET_Q4_K_S,
    QUANTIZE_PRESET_Q4_K_M,
    QUANTIZE_PRESET_Q5_K_S,
    QUANTIZE_PRESET_Q5_K_M,
    QUANTIZE_PRESET_Q6_K,
    QUANTIZE_PRESET_IQ4_NL,
    QUANTIZE_PRESET_IQ4_XS,
    QUANTIZE_PRESET_TQ1_0,
    QUANTIZE_PRESET_TQ2_0,
    QUANTIZE_PRESET_MXFP4_MOE,
    QUANTIZE_PRESET_NVFP4,
    QUANTIZE_PRESET_Q1_0,
    QUANTIZE_PRESET_Q2_0,
    QUANTIZE_PRESET_Q2_K_S,
    QUANTIZE_PRESET_IQ1_S,
    QUANTIZE_PRESET_IQ1_M,
    QUANTIZE_PRESET_IQ2_XXS,
    QUANTIZE_PRESET_IQ2_XS,
    QUANTIZE_PRESET_IQ2_S,
    QUANTIZE_PRESET_IQ2_M,
    QUANTIZE_PRESET_IQ3_XXS,
    QUANTIZE_PRESET_IQ3_XS,
    QUANTIZE_PRESET_IQ3_S,
    QUANTIZE_PRESET_IQ3_M
} quantize_preset_id;

typedef struct quantize_preset {
    quantize_preset_id id;
    const char *name;   /* "Q4_K_M" */
    int file_type;      /* llama_ftype written to general.file_type */
    lowbit_format base; /* format of every tensor no rule changes */
} quantize_preset;

/* Case-insensitive; "Q3_K", "Q4_K", "Q5_K" are llama-quantize's aliases of the _M presets. NULL when
 * unknown or when this build cannot produce the base format. */
const quantize_preset *quantize_preset_find(const char *name);
/* The i-th preset (NULL past the end), for help text. */
const quantize_preset *quantize_preset_at(size_t index);

/* One --tensor-type REGEX=TYPE. */
typedef struct quantize_override {
    char *pattern;
    regex_t regex;
    lowbit_format format;
} quantize_override;

/* Everything the rules read about the model and the options. */
typedef struct quantize_rules {
    const quantize_preset *preset;
    int pure; /* --pure: every quantizable tensor gets the base format */
    int allow_requantize;
    int has_output_type, has_embedding_type;
    lowbit_format output_type, embedding_type;
    const quantize_override *overrides;
    size_t override_count;
    const char *arch;      /* general.architecture ("" when unknown) */
    uint32_t n_layer;      /* <arch>.block_count, 0 when unknown */
    uint32_t n_gqa;        /* head_count / head_count_kv, 1 when unknown */
    uint32_t n_expert;     /* <arch>.expert_count, 0 when none */
    int has_output_tensor; /* 0: token_embd doubles as the output (tied) and is treated like it */
    int has_imatrix;
} quantize_rules;

/* A tensor as the planner sees it. */
typedef struct quantize_tensor_desc {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    int type; /* source ggml type */
} quantize_tensor_desc;

typedef struct quantize_tensor_plan {
    int quantize;       /* 1: produce `target` from the source floats; 0: copy the source as is */
    int target;         /* format written (the source type when copied) */
    int wanted;         /* what the rules asked for before the shape fallback */
    int fallback;       /* 1 when target != wanted because the row length does not fit */
    int needs_imatrix;  /* 1: the target is one llama-quantize refuses to make without importance data */
    int same_type;      /* 1: copied only because the rules' format is the source's own, which a readable
                           source could be requantized from (what --plan may choose to do) */
    const char *reason; /* why: "preset", "mix rule", "--tensor-type", "1-D", ... (static text) */
} quantize_tensor_plan;

/* llama.cpp's use_more_bits(i, n): first and last eighth of the layers and every third in between. */
int quantize_use_more_bits(int layer, int n_layer);
/* Layer index from "blk.N.…" (or "layers.N."); -1 when the name has none. */
int quantize_layer_index(const char *name);

/* "output.weight" / "lm_head.weight" and "token_embd.weight" / "per_layer_token_embd.weight" /
 * "*embed_tokens.weight". */
int quantize_is_output_name(const char *name);
int quantize_is_embedding_name(const char *name);

/* Whether llama-quantize refuses to make `target` for tensor `name` without importance data (the grid formats
 * below 3.5 bits outside the embeddings and the output; Q2_K too when q2_k_s, the Q2_K_S preset). */
int quantize_format_needs_importance(const char *name, lowbit_format target, int q2_k_s);

/* Plans one tensor. Returns 0, or -1 with a message in `error` (requantizing without permission). */
int quantize_plan_tensor(const quantize_rules *rules, const quantize_tensor_desc *tensor, quantize_tensor_plan *plan,
                         char *error, size_t error_size);

/* Parses "REGEX=TYPE" (TYPE a format name) and compiles the regex (POSIX extended). Returns 0, or -1
 * with a message. Free with quantize_override_free. */
int quantize_override_parse(const char *text, quantize_override *out, char *error, size_t error_size);
void quantize_override_free(quantize_override *override);
/* A format a tensor can be given by name: anything lowbit can quantize that is not activation-only. */
int quantize_format_parse(const char *name, lowbit_format *out);

#endif
