/* engine_session.h — one model of the pinned llama.cpp engine (libllama's C API) opened for scoring text:
 * model, context and vocabulary behind one handle, with whole-file tokenization and evaluation of one
 * sequence at a time from an empty KV memory. Shared by lowbit-eval and lowbit-calibrate. */
#ifndef LOWBIT_ENGINE_SESSION_H
#define LOWBIT_ENGINE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "ggml-backend.h"

typedef struct engine_session engine_session; /* opaque: model + context + vocab */

typedef struct engine_options {
    const char *model_path;
    int n_ctx;        /* the context (KV memory) in tokens: the longest sequence engine_eval_chunk takes */
    int threads;      /* 0: every online core */
    int n_gpu_layers; /* layers offloaded to the engine's GPU-type devices; 0 = CPU */
    ggml_backend_sched_eval_callback cb_eval; /* optional: sees every graph node (imatrix collection) */
    void *cb_user_data;
    int verbose; /* 1: the engine's own log goes to stderr (while any verbose session is open) */
} engine_options;

/* Loads the model and makes its context. The first open in a process initializes the engine's backends
 * (and loads the out-of-tree backend GGML_BACKEND_PATH names, as llama.cpp's tools do); the last close frees
 * them. Returns 0, or -1 with a message in `error` (and *out NULL). */
int engine_open(const engine_options *o, engine_session **out, char *error, size_t error_size);
void engine_close(engine_session *s); /* NULL is fine */

int engine_n_vocab(const engine_session *s);
/* The context length the session was opened with. */
int engine_n_ctx(const engine_session *s);
/* The beginning-of-sequence token when the model wants one at the start of every sequence, else -1. Chunks cut
 * from the middle of a text start with it in place of their first token (as llama-perplexity does). */
int32_t engine_bos_token(const engine_session *s);

/* Tokenizes a whole UTF-8 text file (validated: exists, regular, non-empty, valid UTF-8, at most
 * ENGINE_TEXT_MAX_BYTES), with the BOS token first when the model wants one; special-token text in the file is
 * read as plain text. *tokens is malloc'd (caller frees). Returns 0, or -1 with a message. */
#define ENGINE_TEXT_MAX_BYTES (256u * 1024u * 1024u)
int engine_tokenize_file(engine_session *s, const char *path, int32_t **tokens, size_t *count, char *error,
                         size_t error_size);

/* Clears the KV memory and evaluates tokens[0..n) as one sequence from position 0 (in pieces of the context's
 * batch size if needed), with logits for the positions >= first_logit (first_logit == n: none, for callers that
 * only watch cb_eval). 1 <= n <= engine_n_ctx(s); every token must be in the vocabulary. Returns 0, or -1 with a
 * message. */
int engine_eval_chunk(engine_session *s, const int32_t *tokens, int n, int first_logit, char *error, size_t error_size);
/* The engine_n_vocab(s) logits of position i of the last chunk (first_logit <= i < n), or NULL for any other i.
 * Valid until the next engine_eval_chunk or engine_close. */
const float *engine_logits(engine_session *s, int i);

#endif
