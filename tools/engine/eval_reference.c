/* eval_reference.c — writing and reading lowbit-eval's reference file (layout in eval_reference.h): 16-bit
 * log-probabilities per scored token, a header that ties them to one tokenized text and context length, and
 * the checks that make a truncated, foreign or hostile file a clear error instead of a wrong answer. */
#define _POSIX_C_SOURCE 200809L /* fdopen, fileno, fsync, mkstemp */
#include "tools/engine/eval_reference.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/engine/eval_math.h"

static void put_u16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_f32(unsigned char *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u32(p, bits);
}
static void put_f64(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u64(p, bits);
}
static uint32_t get_u16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }
static float get_f32(const unsigned char *p)
{
    uint32_t bits = get_u32(p);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
static double get_f64(const unsigned char *p)
{
    uint64_t bits = get_u64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

void eval_reference_header_init(eval_reference_header *header, uint32_t n_vocab, uint32_t n_ctx, uint32_t skip_chunks,
                                uint32_t chunk_count)
{
    memset(header, 0, sizeof *header);
    header->version = EVAL_REFERENCE_VERSION;
    header->n_vocab = n_vocab;
    header->n_ctx = n_ctx;
    header->skip_chunks = skip_chunks;
    header->first_scored = n_ctx / 2;
    header->chunk_count = chunk_count;
    header->scored_per_chunk = n_ctx - 1 - n_ctx / 2;
    header->scored_count = (uint64_t)chunk_count * header->scored_per_chunk;
    header->record_size = EVAL_REFERENCE_RECORD_FIXED + 2 * n_vocab;
}

void eval_reference_header_encode(const eval_reference_header *header, unsigned char out[EVAL_REFERENCE_HEADER_SIZE])
{
    memset(out, 0, EVAL_REFERENCE_HEADER_SIZE);
    memcpy(out, EVAL_REFERENCE_MAGIC, 8);
    put_u32(out + 8, header->version);
    put_u32(out + 12, EVAL_REFERENCE_HEADER_SIZE);
    put_u32(out + 16, header->n_vocab);
    put_u32(out + 20, header->n_ctx);
    put_u32(out + 24, header->skip_chunks);
    put_u32(out + 28, header->first_scored);
    put_u32(out + 32, header->chunk_count);
    put_u64(out + 40, header->scored_count);
    put_u64(out + 48, header->token_hash);
    put_u32(out + 56, header->record_size);
    put_u32(out + 60, header->scored_per_chunk);
}

uint64_t eval_reference_file_size(const eval_reference_header *header)
{
    const uint64_t limit = UINT64_MAX;
    const uint64_t tokens = (uint64_t)header->chunk_count * header->n_ctx; /* < 2^52: no overflow */
    if (header->record_size &&
        header->scored_count > (limit - EVAL_REFERENCE_HEADER_SIZE - 4 * tokens) / header->record_size)
        return 0;
    return EVAL_REFERENCE_HEADER_SIZE + 4 * tokens + header->scored_count * header->record_size;
}

int eval_reference_header_decode(const unsigned char *bytes, size_t size, uint64_t file_size,
                                 eval_reference_header *header, char *error, size_t error_size)
{
    memset(header, 0, sizeof *header);
    if (size < EVAL_REFERENCE_HEADER_SIZE || file_size < EVAL_REFERENCE_HEADER_SIZE) {
        snprintf(error, error_size, "truncated: %llu bytes, shorter than the %u-byte header",
                 (unsigned long long)(size < file_size ? size : file_size), EVAL_REFERENCE_HEADER_SIZE);
        return -1;
    }
    if (memcmp(bytes, EVAL_REFERENCE_MAGIC, 8) != 0) {
        snprintf(error, error_size, "not a lowbit-eval reference file (no '%s' magic)", EVAL_REFERENCE_MAGIC);
        return -1;
    }
    header->version = get_u32(bytes + 8);
    if (header->version != EVAL_REFERENCE_VERSION) {
        snprintf(error, error_size, "format version %u; this lowbit-eval reads version %u", header->version,
                 EVAL_REFERENCE_VERSION);
        return -1;
    }
    const uint32_t header_size = get_u32(bytes + 12);
    header->n_vocab = get_u32(bytes + 16);
    header->n_ctx = get_u32(bytes + 20);
    header->skip_chunks = get_u32(bytes + 24);
    header->first_scored = get_u32(bytes + 28);
    header->chunk_count = get_u32(bytes + 32);
    const uint32_t reserved = get_u32(bytes + 36);
    header->scored_count = get_u64(bytes + 40);
    header->token_hash = get_u64(bytes + 48);
    header->record_size = get_u32(bytes + 56);
    header->scored_per_chunk = get_u32(bytes + 60);

    const char *problem = NULL;
    if (header_size != EVAL_REFERENCE_HEADER_SIZE || reserved != 0)
        problem = "header size or reserved field";
    else if (header->n_vocab < 2 || header->n_vocab > EVAL_REFERENCE_MAX_VOCAB)
        problem = "vocabulary size";
    else if (header->n_ctx < EVAL_MIN_CTX || header->n_ctx > EVAL_MAX_CTX)
        problem = "context length";
    else if (header->chunk_count < 1 || header->chunk_count > INT32_MAX || header->skip_chunks > INT32_MAX)
        problem = "chunk count";
    else if (header->first_scored != header->n_ctx / 2 ||
             header->scored_per_chunk != header->n_ctx - 1 - header->n_ctx / 2 ||
             header->scored_count != (uint64_t)header->chunk_count * header->scored_per_chunk)
        problem = "scored-token counts";
    else if (header->record_size != EVAL_REFERENCE_RECORD_FIXED + 2 * header->n_vocab)
        problem = "record size";
    if (problem) {
        snprintf(error, error_size, "corrupt header (%s)", problem);
        return -1;
    }
    const uint64_t expected = eval_reference_file_size(header);
    if (expected == 0 || expected != file_size) {
        snprintf(error, error_size,
                 "%s: the header describes %llu bytes (%u chunks of %u tokens, vocabulary %u), the "
                 "file has %llu",
                 file_size < expected ? "truncated" : "size mismatch", (unsigned long long)expected,
                 header->chunk_count, header->n_ctx, header->n_vocab, (unsigned long long)file_size);
        return -1;
    }
    return 0;
}

uint64_t eval_reference_token_hash(const int32_t *tokens, size_t count)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < count; ++i) {
        unsigned char bytes[4];
        put_u32(bytes, (uint32_t)tokens[i]);
        for (int k = 0; k < 4; ++k) {
            hash ^= bytes[k];
            hash *= 0x100000001b3ull;
        }
    }
    return hash;
}

int eval_reference_record_encode(const eval_reference_header *header, const float *logits, int32_t next,
                                 unsigned char *out, char *error, size_t error_size)
{
    const int n = (int)header->n_vocab;
    double log_sum_exp;
    int32_t top;
    if (next < 0 || next >= n) {
        snprintf(error, error_size, "token %d is outside the vocabulary (%d)", (int)next, n);
        return -1;
    }
    if (eval_log_sum_exp(logits, n, &log_sum_exp, &top) != 0) {
        snprintf(error, error_size, "the reference produced NaN or infinite logits");
        return -1;
    }
    const double highest = (double)logits[top] - log_sum_exp;
    double lowest = highest;
    for (int i = 0; i < n; ++i)
        if (logits[i] != -INFINITY && (double)logits[i] - log_sum_exp < lowest)
            lowest = (double)logits[i] - log_sum_exp;
    const float offset = (float)highest;
    const float scale = (float)((highest - lowest) / EVAL_REFERENCE_CODE_MAX);
    put_f64(out, log_sum_exp - (double)logits[next]);
    put_f32(out + 8, offset);
    put_f32(out + 12, scale);
    put_u32(out + 16, (uint32_t)top);
    put_u32(out + 20, 0);
    unsigned char *codes = out + EVAL_REFERENCE_RECORD_FIXED;
    for (int i = 0; i < n; ++i) {
        uint32_t code = 0;
        if (logits[i] == -INFINITY)
            code = EVAL_REFERENCE_CODE_ZERO;
        else if (scale > 0.0f && i != top) {
            const double steps = ((double)offset - ((double)logits[i] - log_sum_exp)) / (double)scale;
            code = steps <= 0.0                       ? 0
                   : steps >= EVAL_REFERENCE_CODE_MAX ? EVAL_REFERENCE_CODE_MAX
                                                      : (uint32_t)lround(steps);
        }
        put_u16(codes + 2 * (size_t)i, code);
    }
    return 0;
}

int eval_reference_record_decode(const eval_reference_header *header, const unsigned char *bytes,
                                 eval_reference_record *record, double *log_probs, char *error, size_t error_size)
{
    const uint32_t n = header->n_vocab;
    record->nll = get_f64(bytes);
    record->offset = get_f32(bytes + 8);
    record->scale = get_f32(bytes + 12);
    record->top = get_u32(bytes + 16);
    const unsigned char *codes = bytes + EVAL_REFERENCE_RECORD_FIXED;
    const char *problem = NULL;
    if (!isfinite(record->nll) || record->nll < 0.0) problem = "negative or non-finite NLL";
    /* the largest of n log-probabilities lies in [−log n, 0] */
    else if (!isfinite(record->offset) || record->offset > 0.0f || record->offset < -(log((double)n) + 1.0))
        problem = "offset out of range";
    else if (!isfinite(record->scale) || record->scale < 0.0f)
        problem = "scale out of range";
    else if (record->top >= n || get_u16(codes + 2 * (size_t)record->top) != 0)
        problem = "top token";
    else if (get_u32(bytes + 20) != 0)
        problem = "reserved field";
    if (problem) {
        snprintf(error, error_size, "corrupt record (%s)", problem);
        return -1;
    }
    /* code[top] is 0, so offset is the maximum and the sum below is >= 1 */
    double sum = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t code = get_u16(codes + 2 * (size_t)i);
        log_probs[i] =
            code == EVAL_REFERENCE_CODE_ZERO ? -INFINITY : (double)record->offset - (double)record->scale * code;
        sum += exp(log_probs[i] - (double)record->offset);
    }
    const double log_sum_exp = (double)record->offset + log(sum);
    for (uint32_t i = 0; i < n; ++i)
        log_probs[i] -= log_sum_exp;
    return 0;
}

struct eval_reference_writer {
    eval_reference_header header;
    FILE *file;
    char *path, *temporary;
    unsigned char *record;
    uint64_t written;
};

void eval_reference_writer_abort(eval_reference_writer *writer)
{
    if (!writer) return;
    if (writer->file) fclose(writer->file);
    if (writer->temporary) unlink(writer->temporary);
    free(writer->temporary);
    free(writer->path);
    free(writer->record);
    free(writer);
}

int eval_reference_writer_open(const char *path, const eval_reference_header *header, const int32_t *tokens,
                               eval_reference_writer **out, char *error, size_t error_size)
{
    *out = NULL;
    eval_reference_writer *writer = calloc(1, sizeof *writer);
    size_t length = strlen(path) + sizeof ".tmp-XXXXXX";
    if (writer) {
        writer->header = *header;
        writer->path = strdup(path);
        writer->temporary = malloc(length);
        writer->record = malloc(header->record_size);
    }
    if (!writer || !writer->path || !writer->temporary || !writer->record) {
        snprintf(error, error_size, "out of memory");
        eval_reference_writer_abort(writer);
        return -1;
    }
    /* beside the destination, so the rename stays on one file system */
    snprintf(writer->temporary, length, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(writer->temporary);
    if (fd < 0) {
        snprintf(error, error_size, "--save-reference: cannot create a file beside '%s': %s", path, strerror(errno));
        free(writer->temporary);
        writer->temporary = NULL;
        eval_reference_writer_abort(writer);
        return -1;
    }
    fchmod(fd, 0644);
    writer->file = fdopen(fd, "wb");
    if (!writer->file) {
        close(fd);
        snprintf(error, error_size, "--save-reference: cannot open '%s': %s", writer->temporary, strerror(errno));
        eval_reference_writer_abort(writer);
        return -1;
    }
    const size_t token_count = (size_t)header->chunk_count * header->n_ctx;
    writer->header.token_hash = eval_reference_token_hash(tokens, token_count);
    unsigned char bytes[EVAL_REFERENCE_HEADER_SIZE];
    eval_reference_header_encode(&writer->header, bytes);
    int ok = fwrite(bytes, sizeof bytes, 1, writer->file) == 1;
    for (size_t i = 0; ok && i < token_count; ++i) {
        unsigned char token[4];
        put_u32(token, (uint32_t)tokens[i]);
        ok = fwrite(token, sizeof token, 1, writer->file) == 1;
    }
    if (!ok) {
        snprintf(error, error_size, "--save-reference: writing '%s': %s", writer->temporary, strerror(errno));
        eval_reference_writer_abort(writer);
        return -1;
    }
    *out = writer;
    return 0;
}

int eval_reference_writer_add(eval_reference_writer *writer, const float *logits, int32_t next, char *error,
                              size_t error_size)
{
    if (writer->written >= writer->header.scored_count) {
        snprintf(error, error_size, "--save-reference: more records than the header announces");
        return -1;
    }
    if (eval_reference_record_encode(&writer->header, logits, next, writer->record, error, error_size) != 0) return -1;
    if (fwrite(writer->record, writer->header.record_size, 1, writer->file) != 1) {
        snprintf(error, error_size, "--save-reference: writing '%s': %s", writer->temporary, strerror(errno));
        return -1;
    }
    writer->written++;
    return 0;
}

int eval_reference_writer_commit(eval_reference_writer *writer, char *error, size_t error_size)
{
    int rc = 0;
    if (writer->written != writer->header.scored_count) {
        snprintf(error, error_size, "--save-reference: %llu of %llu records written",
                 (unsigned long long)writer->written, (unsigned long long)writer->header.scored_count);
        rc = -1;
    } else if (fflush(writer->file) != 0 || fsync(fileno(writer->file)) != 0) {
        snprintf(error, error_size, "--save-reference: writing '%s': %s", writer->temporary, strerror(errno));
        rc = -1;
    }
    FILE *file = writer->file;
    writer->file = NULL;
    if (fclose(file) != 0 && rc == 0) {
        snprintf(error, error_size, "--save-reference: closing '%s': %s", writer->temporary, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(writer->temporary, writer->path) != 0) {
        snprintf(error, error_size, "--save-reference: cannot rename '%s' to '%s': %s", writer->temporary, writer->path,
                 strerror(errno));
        rc = -1;
    }
    if (rc == 0) {
        free(writer->temporary); /* renamed: nothing to remove */
        writer->temporary = NULL;
    }
    eval_reference_writer_abort(writer);
    return rc;
}

struct eval_reference_reader {
    eval_reference_header header;
    FILE *file;
    char *path;
    int32_t *tokens;
    unsigned char *record;
    uint64_t read;
};

void eval_reference_reader_close(eval_reference_reader *reader)
{
    if (!reader) return;
    if (reader->file) fclose(reader->file);
    free(reader->path);
    free(reader->tokens);
    free(reader->record);
    free(reader);
}

int eval_reference_reader_open(const char *path, eval_reference_reader **out, char *error, size_t error_size)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO would otherwise block the open until a writer appears */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(error, error_size, "--reference-logits: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(error, error_size, "--reference-logits: '%s' is not a regular file", path);
        close(fd);
        return -1;
    }
    eval_reference_reader *reader = calloc(1, sizeof *reader);
    if (!reader || !(reader->path = strdup(path)) || !(reader->file = fdopen(fd, "rb"))) {
        snprintf(error, error_size, "--reference-logits: cannot open '%s': %s", path, strerror(errno));
        if (!reader || !reader->file) close(fd);
        eval_reference_reader_close(reader);
        return -1;
    }
    unsigned char bytes[EVAL_REFERENCE_HEADER_SIZE];
    size_t got = fread(bytes, 1, sizeof bytes, reader->file);
    char problem[512];
    if (eval_reference_header_decode(bytes, got, (uint64_t)st.st_size, &reader->header, problem, sizeof problem) != 0) {
        snprintf(error, error_size, "--reference-logits: '%s': %s", path, problem);
        eval_reference_reader_close(reader);
        return -1;
    }
    const size_t token_count = (size_t)reader->header.chunk_count * reader->header.n_ctx;
    reader->tokens = malloc(token_count * sizeof *reader->tokens);
    reader->record = malloc(reader->header.record_size);
    unsigned char *raw = malloc(token_count * 4);
    if (!reader->tokens || !reader->record || !raw) {
        snprintf(error, error_size, "--reference-logits: out of memory reading '%s'", path);
        free(raw);
        eval_reference_reader_close(reader);
        return -1;
    }
    const char *failure = NULL;
    if (fread(raw, 4, token_count, reader->file) != token_count) failure = "truncated while reading its tokens";
    for (size_t i = 0; !failure && i < token_count; ++i) {
        uint32_t token = get_u32(raw + 4 * i);
        if (token >= reader->header.n_vocab) failure = "a token outside its vocabulary";
        reader->tokens[i] = (int32_t)token;
    }
    free(raw);
    if (!failure && eval_reference_token_hash(reader->tokens, token_count) != reader->header.token_hash)
        failure = "its tokens do not match their hash (corrupt)";
    if (failure) {
        snprintf(error, error_size, "--reference-logits: '%s': %s", path, failure);
        eval_reference_reader_close(reader);
        return -1;
    }
    *out = reader;
    return 0;
}

const eval_reference_header *eval_reference_reader_header(const eval_reference_reader *reader)
{
    return &reader->header;
}

const int32_t *eval_reference_reader_tokens(const eval_reference_reader *reader) { return reader->tokens; }

int eval_reference_reader_next(eval_reference_reader *reader, eval_reference_record *record, double *log_probs,
                               char *error, size_t error_size)
{
    char problem[256];
    if (reader->read >= reader->header.scored_count) {
        snprintf(error, error_size, "--reference-logits: '%s': no more records", reader->path);
        return -1;
    }
    if (fread(reader->record, reader->header.record_size, 1, reader->file) != 1) {
        snprintf(error, error_size, "--reference-logits: '%s': truncated at record %llu", reader->path,
                 (unsigned long long)reader->read);
        return -1;
    }
    if (eval_reference_record_decode(&reader->header, reader->record, record, log_probs, problem, sizeof problem) !=
        0) {
        snprintf(error, error_size, "--reference-logits: '%s': record %llu: %s", reader->path,
                 (unsigned long long)reader->read, problem);
        return -1;
    }
    reader->read++;
    return 0;
}
