/* eval_reference.h — the reference file of lowbit-eval (--save-reference / --reference-logits): the reference
 * model's log-probabilities at every scored token, 16 bits per vocabulary entry, so one reference run serves
 * any number of candidates. Read as untrusted input: every size, count and value is checked.
 *
 * Layout (little-endian throughout):
 *   header, 64 bytes:
 *     0  char[8]  magic "LBEVALRF"           32  u32 chunk_count
 *     8  u32 version (1)                      36  u32 reserved, 0
 *    12  u32 header_size (64)                 40  u64 scored_count = chunk_count · scored_per_chunk
 *    16  u32 n_vocab                          48  u64 token_hash: FNV-1a 64 of the token section's bytes
 *    20  u32 n_ctx                            56  u32 record_size = 24 + 2 · n_vocab
 *    24  u32 skip_chunks                      60  u32 scored_per_chunk = n_ctx − 1 − n_ctx/2
 *    28  u32 first_scored = n_ctx/2
 *   tokens: chunk_count · n_ctx × i32, the evaluated chunks as the engine saw them (BOS substituted);
 *   records: scored_count of them, chunk by chunk, position first_scored .. n_ctx − 2 of each (the logits at
 *   position j predict token j + 1):
 *     0  f64 nll: −log p(next token), exact         16  u32 top: the argmax, exact
 *     8  f32 offset: the largest log-probability     20  u32 reserved, 0
 *    12  f32 scale                                   24  u16 code[n_vocab]
 *   log p_i = offset − scale · code_i (code 65535: p_i = 0), renormalized on reading; code[top] is 0 and the
 *   scale spans the whole range of the token's log-probabilities in 65534 steps.
 * The file size must be exactly 64 + 4 · chunk_count · n_ctx + scored_count · record_size. */
#ifndef LOWBIT_EVAL_REFERENCE_H
#define LOWBIT_EVAL_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#define EVAL_REFERENCE_MAGIC "LBEVALRF"
#define EVAL_REFERENCE_VERSION 1u
#define EVAL_REFERENCE_HEADER_SIZE 64u
#define EVAL_REFERENCE_RECORD_FIXED 24u
#define EVAL_REFERENCE_CODE_MAX 65534u  /* the lowest representable log-probability */
#define EVAL_REFERENCE_CODE_ZERO 65535u /* probability zero (a -inf logit) */
#define EVAL_REFERENCE_MAX_VOCAB (1u << 24)
#define EVAL_MIN_CTX 8
#define EVAL_MAX_CTX (1 << 20)

typedef struct eval_reference_header {
    uint32_t version, n_vocab, n_ctx, skip_chunks, first_scored, chunk_count, scored_per_chunk, record_size;
    uint64_t scored_count, token_hash;
} eval_reference_header;

/* A consistent header for these parameters (token_hash 0 until the tokens are known). */
void eval_reference_header_init(eval_reference_header *header, uint32_t n_vocab, uint32_t n_ctx, uint32_t skip_chunks,
                                uint32_t chunk_count);
void eval_reference_header_encode(const eval_reference_header *header, unsigned char out[EVAL_REFERENCE_HEADER_SIZE]);
/* Decodes and checks `size` bytes of header against a file of `file_size` bytes. Returns 0, or -1 with a
 * message (truncated, wrong magic or version, inconsistent fields, size mismatch). */
int eval_reference_header_decode(const unsigned char *bytes, size_t size, uint64_t file_size,
                                 eval_reference_header *header, char *error, size_t error_size);
/* Bytes of a whole file with this header, or 0 when that overflows 64 bits. */
uint64_t eval_reference_file_size(const eval_reference_header *header);
/* FNV-1a 64 of the tokens as little-endian i32 bytes. */
uint64_t eval_reference_token_hash(const int32_t *tokens, size_t count);

typedef struct eval_reference_record {
    double nll;
    float offset, scale;
    uint32_t top;
} eval_reference_record;

/* Encodes the record of one position from its raw logits into out[header->record_size]. Returns -1 (message)
 * on NaN/+inf logits or a `next` outside the vocabulary. */
int eval_reference_record_encode(const eval_reference_header *header, const float *logits, int32_t next,
                                 unsigned char *out, char *error, size_t error_size);
/* Decodes and checks one record; fills log_probs[n_vocab] with the renormalized log-probabilities. */
int eval_reference_record_decode(const eval_reference_header *header, const unsigned char *bytes,
                                 eval_reference_record *record, double *log_probs, char *error, size_t error_size);

/* Writing: into a temporary file beside `path`, renamed over it by commit (so a crash or an error never leaves a
 * partial file under the name). `tokens`: chunk_count · n_ctx of them; the header's token_hash is set here. */
typedef struct eval_reference_writer eval_reference_writer;
int eval_reference_writer_open(const char *path, const eval_reference_header *header, const int32_t *tokens,
                               eval_reference_writer **out, char *error, size_t error_size);
int eval_reference_writer_add(eval_reference_writer *writer, const float *logits, int32_t next, char *error,
                              size_t error_size);
/* Checks that every record came, syncs and renames; frees the writer either way. */
int eval_reference_writer_commit(eval_reference_writer *writer, char *error, size_t error_size);
void eval_reference_writer_abort(eval_reference_writer *writer); /* removes the temporary file; NULL is fine */

/* Reading: header and tokens checked at open (file size, hash, every token < n_vocab), records one at a time. */
typedef struct eval_reference_reader eval_reference_reader;
int eval_reference_reader_open(const char *path, eval_reference_reader **out, char *error, size_t error_size);
const eval_reference_header *eval_reference_reader_header(const eval_reference_reader *reader);
const int32_t *eval_reference_reader_tokens(const eval_reference_reader *reader);
/* The next record; log_probs[n_vocab]. */
int eval_reference_reader_next(eval_reference_reader *reader, eval_reference_record *record, double *log_probs,
                               char *error, size_t error_size);
void eval_reference_reader_close(eval_reference_reader *reader);

#endif
