/* quantize_mixplan.c — the mixed-precision planner of quantize_mixplan.h: candidate errors on the calibration
 * statistics, candidate GEMV times on a device, the knapsack solve, and the plan file (written and applied). */
#include "tools/quantize/quantize_mixplan.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "host/tuning/json.h"
#include "lowbit/lowbit.h"
#include "tools/common/llc.h"
#include "tools/common/tool_util.h"
#include "tools/quantize/quantize_plan.h"
#include "tools/tune/tune.h"

#define MIX_MAX_CANDIDATES 24
#define MIX_TIME_REPEAT 5
#define MIX_MAX_EXCHANGES 1000    /* pair exchanges after the greedy and the fill */
#define MIX_EXCHANGE_CHOICES 4096 /* ... tried while the choices of all items together are at most this many */
#define MIX_TIME_LIMIT 30.0       /* seconds one GEMV call may take before the candidate is dropped */

/* The K-quants and IQ4_XS need rows of 256; the 32-block formats fit every GGUF model's matrices. Q2_K and the
 * 1-2 bit grids are opt-in (--plan-formats): their errors are far larger than the ones the sensitivities are
 * measured at, and the linear error model underestimates what they cost (docs/planner.md, measured). */
static const char *const default_candidates[] = {"Q3_K", "Q4_0", "Q4_1", "IQ4_NL", "Q4_K", "IQ4_XS",
                                                 "Q5_0", "Q5_1", "Q5_K", "Q6_K",   "Q8_0"};

/* One candidate of one tensor. */
typedef struct mix_option {
    lowbit_format format;
    quantize_mix_choice cost; /* bytes, seconds (0 without --device), relative output error */
} mix_option;

typedef struct mix_tensor {
    size_t index; /* into the summary */
    size_t rows, cols;
    mix_option options[MIX_MAX_CANDIDATES];
    size_t count, pick;
    const char *weighting; /* "hessian", "imatrix" or "none" */
    double sensitivity;    /* --plan-sensitivity weight of its errors (1 when none matches) */
    char why[160];
} mix_tensor;

/* The --plan-sensitivity weight of tensor `name`: the first entry whose key occurs in the name, else 1. */
static double sensitivity_of(const quantize_options *o, const char *name)
{
    for (size_t i = 0; i < o->sensitivity_count; ++i)
        if (strstr(name, o->sensitivities[i].key)) return o->sensitivities[i].weight;
    return 1.0;
}

static int fail(char *error, size_t error_size, const char *what, const char *detail)
{
    snprintf(error, error_size, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

/* --- the solver --------------------------------------------------------------------------------- */
static double resource(const quantize_mix_choice *c, double byte_budget, double time_budget)
{
    return (byte_budget > 0 ? c->bytes / byte_budget : 0.0) + (time_budget > 0 ? c->seconds / time_budget : 0.0);
}

static int fits(double bytes, double seconds, double byte_budget, double time_budget)
{
    /* a relative slack of 1e-12 so that a budget equal to a sum of choices is met exactly */
    return (byte_budget <= 0 || bytes <= byte_budget * (1 + 1e-12)) &&
           (time_budget <= 0 || seconds <= time_budget * (1 + 1e-12));
}

/* The next choice on item i's lower convex hull after `from`: the steepest error drop per resource, or SIZE_MAX. */
static size_t hull_next(const quantize_mix_choice *c, size_t size, size_t from, double byte_budget, double time_budget)
{
    const double r0 = resource(&c[from], byte_budget, time_budget);
    size_t best = (size_t)-1;
    double best_slope = 0.0;
    for (size_t j = 0; j < size; ++j) {
        const double dr = resource(&c[j], byte_budget, time_budget) - r0, de = c[from].error - c[j].error;
        if (dr <= 0 || de <= 0) continue;
        if (best == (size_t)-1 || de / dr > best_slope) best = j, best_slope = de / dr;
    }
    return best;
}

/* One exchange: the pair of changes in two items (one usually a step down that pays for the other's step up) with
 * the largest error drop that fits; 1 when one was made. Quadratic in the total number of choices, so only run
 * while that is at most MIX_EXCHANGE_CHOICES. */
static int exchange(const quantize_mix_choice *const *choices, const size_t *sizes, size_t count, double byte_budget,
                    double time_budget, size_t *picks, double *bytes, double *seconds)
{
    size_t total = 0;
    for (size_t i = 0; i < count; ++i)
        total += sizes[i];
    if (total > MIX_EXCHANGE_CHOICES) return 0;
    size_t bi = 0, ba = 0, bk = 0, bc = 0;
    double best = -1e-12 * (1.0 + fabs(choices[0][picks[0]].error));
    int found = 0;
    for (size_t i = 0; i < count; ++i)
        for (size_t a = 0; a < sizes[i]; ++a) {
            if (a == picks[i]) continue;
            const quantize_mix_choice *fi = &choices[i][picks[i]], *ti = &choices[i][a];
            const double b1 = *bytes - fi->bytes + ti->bytes, s1 = *seconds - fi->seconds + ti->seconds,
                         e1 = ti->error - fi->error;
            for (size_t k = i + 1; k < count; ++k)
                for (size_t c = 0; c < sizes[k]; ++c) {
                    if (c == picks[k]) continue;
                    const quantize_mix_choice *fk = &choices[k][picks[k]], *tk = &choices[k][c];
                    const double de = e1 + tk->error - fk->error;
                    if (de >= best ||
                        !fits(b1 - fk->bytes + tk->bytes, s1 - fk->seconds + tk->seconds, byte_budget, time_budget))
                        continue;
                    best = de, bi = i, ba = a, bk = k, bc = c, found = 1;
                }
        }
    if (!found) return 0;
    *bytes +=
        choices[bi][ba].bytes - choices[bi][picks[bi]].bytes + choices[bk][bc].bytes - choices[bk][picks[bk]].bytes;
    *seconds += choices[bi][ba].seconds - choices[bi][picks[bi]].seconds + choices[bk][bc].seconds -
                choices[bk][picks[bk]].seconds;
    picks[bi] = ba, picks[bk] = bc;
    return 1;
}

int quantize_mix_solve(const quantize_mix_choice *const *choices, const size_t *sizes, size_t count, double byte_budget,
                       double time_budget, size_t *picks)
{
    double bytes = 0.0, seconds = 0.0;
    for (size_t i = 0; i < count; ++i) {
        /* start from the cheapest in the combined resource (the lower error among equals) */
        size_t best = 0;
        for (size_t j = 1; j < sizes[i]; ++j) {
            const double rj = resource(&choices[i][j], byte_budget, time_budget),
                         rb = resource(&choices[i][best], byte_budget, time_budget);
            if (rj < rb || (rj == rb && choices[i][j].error < choices[i][best].error)) best = j;
        }
        picks[i] = best;
        bytes += choices[i][best].bytes;
        seconds += choices[i][best].seconds;
    }
    if (!fits(bytes, seconds, byte_budget, time_budget)) return -1;
    unsigned char *stuck = calloc(count ? count : 1, 1);
    if (!stuck) return -1;
    /* the Lagrangian greedy: the steepest hull step of all items while it fits */
    for (;;) {
        size_t item = (size_t)-1, next = 0;
        double best_slope = 0.0;
        for (size_t i = 0; i < count; ++i) {
            if (stuck[i]) continue;
            const size_t j = hull_next(choices[i], sizes[i], picks[i], byte_budget, time_budget);
            if (j == (size_t)-1) {
                stuck[i] = 1;
                continue;
            }
            const double dr = resource(&choices[i][j], byte_budget, time_budget) -
                              resource(&choices[i][picks[i]], byte_budget, time_budget),
                         slope = (choices[i][picks[i]].error - choices[i][j].error) / dr;
            if (item == (size_t)-1 || slope > best_slope) item = i, next = j, best_slope = slope;
        }
        if (item == (size_t)-1) break;
        const quantize_mix_choice *from = &choices[item][picks[item]], *to = &choices[item][next];
        const double nb = bytes - from->bytes + to->bytes, ns = seconds - from->seconds + to->seconds;
        if (!fits(nb, ns, byte_budget, time_budget)) {
            stuck[item] = 1; /* its hull step does not fit; smaller steps come in the fill below */
            continue;
        }
        picks[item] = next, bytes = nb, seconds = ns;
    }
    free(stuck);
    /* fill: the single change with the largest error drop that still fits, until none does; then exchanges */
    for (int exchanges = 0;; ++exchanges) {
        size_t item = (size_t)-1, next = 0;
        double best_drop = 0.0;
        for (size_t i = 0; i < count; ++i)
            for (size_t j = 0; j < sizes[i]; ++j) {
                const quantize_mix_choice *from = &choices[i][picks[i]], *to = &choices[i][j];
                const double drop = from->error - to->error;
                if (drop <= best_drop || !fits(bytes - from->bytes + to->bytes, seconds - from->seconds + to->seconds,
                                               byte_budget, time_budget))
                    continue;
                item = i, next = j, best_drop = drop;
            }
        if (item == (size_t)-1) {
            if (exchanges >= MIX_MAX_EXCHANGES ||
                !exchange(choices, sizes, count, byte_budget, time_budget, picks, &bytes, &seconds))
                break;
            continue;
        }
        bytes += choices[item][next].bytes - choices[item][picks[item]].bytes;
        seconds += choices[item][next].seconds - choices[item][picks[item]].seconds;
        picks[item] = next;
    }
    return 0;
}

/* --- errors ------------------------------------------------------------------------------------- */
typedef struct error_task {
    const float *w, *q; /* q NULL: the energy of w itself */
    const float *h;     /* cols × cols, or NULL */
    const float *diag;  /* cols weights, or NULL (with h NULL) */
    size_t cols, first, last;
    double sum;
} error_task;

/* Σ over rows of d·H·dᵀ (or Σ diag·d², or Σ d²) with d = w − q, over rows [first, last). */
static void *error_rows(void *arg)
{
    error_task *t = arg;
    const size_t cols = t->cols;
    float *d = malloc(cols * sizeof *d);
    double sum = 0.0;
    for (size_t r = t->first; d && r < t->last; ++r) {
        const float *w = t->w + r * cols, *q = t->q ? t->q + r * cols : NULL;
        for (size_t j = 0; j < cols; ++j)
            d[j] = q ? w[j] - q[j] : w[j];
        if (t->h) {
            for (size_t i = 0; i < cols; ++i) {
                const float *hr = t->h + i * cols;
                float lane[8] = {0};
                size_t j = 0;
                for (; j + 8 <= cols; j += 8)
                    for (size_t k = 0; k < 8; ++k)
                        lane[k] += hr[j + k] * d[j + k];
                float s = 0.0f;
                for (; j < cols; ++j)
                    s += hr[j] * d[j];
                for (size_t k = 0; k < 8; ++k)
                    s += lane[k];
                sum += (double)d[i] * s;
            }
        } else {
            for (size_t j = 0; j < cols; ++j)
                sum += (t->diag ? (double)t->diag[j] : 1.0) * (double)d[j] * d[j];
        }
    }
    if (!d) sum = NAN;
    free(d);
    t->sum = sum;
    return NULL;
}

static double weighted_energy(const float *w, const float *q, size_t rows, size_t cols, const float *h,
                              const float *diag, int threads)
{
    error_task tasks[TOOL_MAX_THREADS];
    int n = threads < 1 ? 1 : threads > TOOL_MAX_THREADS ? TOOL_MAX_THREADS : threads;
    if ((size_t)n > rows) n = (int)rows;
    for (int i = 0; i < n; ++i)
        tasks[i] =
            (error_task){w, q, h, diag, cols, rows * (size_t)i / (size_t)n, rows * (size_t)(i + 1) / (size_t)n, 0.0};
    tool_parallel(n, error_rows, tasks, sizeof tasks[0]);
    double sum = 0.0;
    for (int i = 0; i < n; ++i)
        sum += tasks[i].sum;
    return sum;
}

/* --- timing ------------------------------------------------------------------------------------- */
typedef struct mix_timer {
    lowbit_context *context;
    size_t device;
    lowbit_device_info info;
    struct {
        lowbit_format format;
        size_t rows, cols;
        double seconds; /* negative: did not run on the device */
    } seen[512];
    size_t seen_count;
} mix_timer;

/* Median seconds of one GEMV (n = 1) of a rows × cols `format` matrix on the device with the parameters the
 * runtime would use there; negative when it cannot run there (failed, wrong, fell back to the CPU). */
static double time_candidate(mix_timer *t, lowbit_format format, size_t rows, size_t cols, FILE *progress)
{
    for (size_t i = 0; i < t->seen_count; ++i)
        if (t->seen[i].format == format && t->seen[i].rows == rows && t->seen[i].cols == cols)
            return t->seen[i].seconds;
    tune_candidate candidate = {{0}};
    char level[32];
    if (lowbit_device_tuning(t->context, t->device, format, 1, rows, cols, candidate.params, sizeof candidate.params,
                             level, sizeof level) != LOWBIT_OK)
        candidate.params[0] = '\0';
    tune_data data;
    double seconds = -1.0;
    if (tune_data_make(format, rows, cols, 1, 1, &data) == 0) {
        tune_result result;
        tune_measure(t->info.id, tune_scope(&t->info), &candidate, &data, 4 * tool_device_cache_bytes(&t->info, NULL),
                     MIX_TIME_REPEAT, MIX_TIME_LIMIT, &result);
        if (result.status == TUNE_OK) seconds = result.seconds;
        if (progress && result.status != TUNE_OK)
            fprintf(progress, "lowbit-quantize: plan: %s %zux%zu does not run on %s (%s): not a candidate there\n",
                    lowbit_format_name(format), rows, cols, t->info.id, result.why);
        tune_data_free(&data);
    }
    if (t->seen_count < sizeof t->seen / sizeof t->seen[0]) {
        t->seen[t->seen_count].format = format, t->seen[t->seen_count].rows = rows, t->seen[t->seen_count].cols = cols;
        t->seen[t->seen_count++].seconds = seconds;
    }
    return seconds;
}

/* --- planning ----------------------------------------------------------------------------------- */
static int pinned(const quantize_options *o, const char *name)
{
    for (size_t i = 0; i < o->override_count; ++i)
        if (regexec(&o->overrides[i].regex, name, 0, NULL, 0) == 0) return 1;
    return (o->has_output_type && quantize_is_output_name(name)) ||
           (o->has_embedding_type && quantize_is_embedding_name(name));
}

/* A matrix the planner may set: one the TYPE rules quantize, or one they copy only because its format is already
 * the rules' choice (a Q4_K_M input under the Q4_K_M rules), unless an option pins it. */
static int plannable(const quantize_options *o, const quantize_tensor_result *r)
{
    return (r->quantized || r->requantizable) && r->n_dims == 2 && !pinned(o, r->name);
}

static void set_target(quantize_tensor_result *r, lowbit_format format, const char *reason)
{
    r->target_type = r->wanted_type = format;
    r->fallback = 0;
    r->reason = reason;
    r->quantized = (int)format != r->source_type;
    if (!r->quantized) { /* the source's own blocks: copied, which is exact */
        r->needs_imatrix = 0;
        r->target_bytes = r->source_bytes;
        return;
    }
    const size_t cols = (size_t)r->ne[0];
    r->target_bytes = lowbit_format_row_size(format, cols) * (r->elements / cols);
    r->needs_imatrix = quantize_format_needs_importance(r->name, format, 0);
}

/* --plan-costs: the candidates an earlier plan measured for a tensor of this name and shape, or NULL. */
typedef struct mix_costs {
    json_document *doc;
    const json_value *tensors;
    int same_device; /* the earlier plan timed on the same --device */
} mix_costs;

static const json_value *cached_candidates(const mix_costs *costs, const char *name, size_t rows, size_t cols)
{
    if (!costs || !costs->tensors) return NULL;
    for (size_t i = 0; i < costs->tensors->as.array.count; ++i) {
        const json_value *t = &costs->tensors->as.array.items[i], *n = json_object_get(t, "name"),
                         *r = json_object_get(t, "rows"), *c = json_object_get(t, "cols"),
                         *list = json_object_get(t, "candidates");
        if (n && n->type == JSON_STRING && strcmp(n->as.string.chars, name) == 0 && r && r->type == JSON_NUMBER &&
            r->as.number == (double)rows && c && c->type == JSON_NUMBER && c->as.number == (double)cols && list &&
            list->type == JSON_ARRAY)
            return list;
    }
    return NULL;
}

/* The cached cost of `format` from a candidates array: 1 when found with a usable error (and time, if timed). */
static int cached_cost(const json_value *list, lowbit_format format, int need_seconds, quantize_mix_choice *out)
{
    for (size_t i = 0; list && i < list->as.array.count; ++i) {
        const json_value *c = &list->as.array.items[i], *f = json_object_get(c, "format"),
                         *e = json_object_get(c, "error"), *sec = json_object_get(c, "seconds");
        if (!f || f->type != JSON_STRING || strcmp(f->as.string.chars, lowbit_format_name(format)) != 0) continue;
        if (!e || e->type != JSON_NUMBER || !(e->as.number >= 0)) return 0;
        if (need_seconds && (!sec || sec->type != JSON_NUMBER || !(sec->as.number > 0))) return 0;
        out->error = e->as.number;
        out->seconds = need_seconds ? sec->as.number : 0.0;
        return 1;
    }
    return 0;
}

/* Measures every candidate of tensor m (reusing --plan-costs where it can); 0, or -1 with a message. */
static int measure_tensor(const quantize_options *o, const quantize_mixplan_source *source, quantize_summary *summary,
                          mix_tensor *m, const lowbit_format *formats, size_t format_count, mix_timer *timer,
                          const mix_costs *costs, FILE *progress, char *error, size_t error_size)
{
    const quantize_tensor_result *r = &summary->tensors[m->index];
    size_t h_cols = 0, h_index = 0;
    const float *h = source->hessians ? quantize_hessians_find(source->hessians, r->name, &h_cols, &h_index) : NULL;
    if (h && h_cols != m->cols) h = NULL;
    const quantize_imatrix_entry *entry = source->imatrix ? quantize_imatrix_find(source->imatrix, r->name) : NULL;
    if (entry && entry->count != m->cols) entry = NULL;
    float *diag = NULL;
    if (h) {
        diag = malloc(m->cols * sizeof *diag);
        if (!diag) return fail(error, error_size, "out of memory", NULL);
        for (size_t j = 0; j < m->cols; ++j)
            diag[j] = h[j * m->cols + j];
    }
    const float *importance = h ? diag : entry ? entry->values : NULL;
    m->weighting = h ? "hessian" : entry ? "imatrix" : "none";
    const json_value *cached = cached_candidates(costs, r->name, m->rows, m->cols);
    float *w = NULL, *q = NULL;
    double energy = 0.0;
    const int threads = tool_thread_count(o->threads);
    m->count = 0;
    for (size_t f = 0; f < format_count; ++f) {
        const size_t row = lowbit_format_row_size(formats[f], m->cols);
        if (row == 0) continue; /* the row length is no multiple of its block */
        quantize_mix_choice reuse;
        if (cached_cost(cached, formats[f], 0, &reuse)) {
            /* the error does not depend on the device; a time is reused only from the same device */
            double seconds = 0.0;
            if (timer && !(costs->same_device && cached_cost(cached, formats[f], 1, &reuse)) &&
                (seconds = time_candidate(timer, formats[f], m->rows, m->cols, progress)) < 0)
                continue;
            if (timer && seconds == 0.0) seconds = reuse.seconds;
            m->options[m->count++] = (mix_option){formats[f], {(double)(row * m->rows), seconds, reuse.error}};
            continue;
        }
        double e = 0.0; /* the source's own format: that choice copies its blocks, nothing to measure */
        if ((int)formats[f] != r->source_type) {
            if (!w) {
                w = source->load(source->user, m->index);
                q = malloc(m->rows * m->cols * sizeof *q);
                if (!w || !q) {
                    free(w), free(q), free(diag);
                    return fail(error, error_size, "cannot read the tensor", r->name);
                }
                energy = weighted_energy(w, NULL, m->rows, m->cols, h, h ? NULL : importance, threads);
            }
            void *packed = malloc(row * m->rows);
            if (!packed) continue;
            e = NAN;
            if (lowbit_quantize(formats[f], w, m->rows, m->cols, packed, row * m->rows, importance, o->threads) ==
                    LOWBIT_OK &&
                lowbit_dequantize(formats[f], packed, row * m->rows, m->rows, m->cols, q) == LOWBIT_OK)
                e = weighted_energy(w, q, m->rows, m->cols, h, h ? NULL : importance, threads) /
                    (energy > 0 ? energy : 1.0);
            free(packed);
            if (!isfinite(e)) continue;
        }
        double seconds = 0.0;
        if (timer && (seconds = time_candidate(timer, formats[f], m->rows, m->cols, progress)) < 0) continue;
        m->options[m->count++] = (mix_option){formats[f], {(double)(row * m->rows), seconds, e}};
    }
    free(w), free(q), free(diag);
    if (m->count == 0) {
        snprintf(error, error_size, "no candidate format fits tensor '%s' (rows of %zu)%s", r->name, m->cols,
                 timer ? " and runs on the device" : "");
        return -1;
    }
    return 0;
}

static void explain_choice(mix_tensor *m, double byte_budget, double time_budget, int moved)
{
    const quantize_mix_choice *c = &m->options[m->pick].cost;
    double best_slope = 0.0;
    size_t next = (size_t)-1;
    for (size_t j = 0; j < m->count; ++j) {
        const double dr = resource(&m->options[j].cost, byte_budget, time_budget) -
                          resource(c, byte_budget, time_budget),
                     de = c->error - m->options[j].cost.error;
        if (dr > 0 && de > 0 && (next == (size_t)-1 || de / dr > best_slope)) next = j, best_slope = de / dr;
    }
    if (next == (size_t)-1) {
        snprintf(m->why, sizeof m->why, "%s", moved ? "its most accurate candidate" : "no candidate is more accurate");
        return;
    }
    const quantize_mix_choice *n = &m->options[next].cost;
    snprintf(m->why, sizeof m->why, "next: %s would cut the error by %.3g for %+.1f KiB%s; upgrades elsewhere pay more",
             lowbit_format_name(m->options[next].format), c->error - n->error, (n->bytes - c->bytes) / 1024.0,
             time_budget > 0 ? " and more time" : "");
}

/* --- the plan file ------------------------------------------------------------------------------ */
static int write_plan(const char *path, const quantize_summary *summary, const mix_tensor *mixes, size_t mix_count,
                      double byte_budget, double time_budget, const char *device, double total_bytes,
                      double total_elements, double error_sum, double seconds_sum, char *error, size_t error_size)
{
    json_buffer b = {0};
    json_appendf(&b, "{\n  \"kind\": \"%s\",\n  \"version\": %d,\n  \"model\": ", QUANTIZE_PLAN_KIND,
                 QUANTIZE_PLAN_VERSION);
    json_append_string(&b, summary->input);
    json_appendf(&b, ",\n  \"budget\": {\"bytes\": ");
    json_append_number(&b, byte_budget);
    json_appendf(&b, ", \"seconds\": ");
    json_append_number(&b, time_budget);
    json_appendf(&b, ", \"device\": ");
    if (device)
        json_append_string(&b, device);
    else
        json_append(&b, "null", 4);
    json_appendf(&b, "},\n  \"predicted\": {\"bytes\": ");
    json_append_number(&b, total_bytes);
    json_appendf(&b, ", \"bpw\": ");
    json_append_number(&b, total_elements > 0 ? 8.0 * total_bytes / total_elements : 0.0);
    json_appendf(&b, ", \"error\": ");
    json_append_number(&b, error_sum);
    json_appendf(&b, ", \"seconds\": ");
    json_append_number(&b, seconds_sum);
    json_appendf(&b, "},\n  \"tensors\": [");
    for (size_t i = 0; i < mix_count; ++i) {
        const mix_tensor *m = &mixes[i];
        const mix_option *c = &m->options[m->pick];
        json_appendf(&b, "%s\n    {\"name\": ", i ? "," : "");
        json_append_string(&b, summary->tensors[m->index].name);
        json_appendf(&b, ", \"format\": \"%s\", \"rows\": %zu, \"cols\": %zu, \"bytes\": %.0f, \"error\": ",
                     lowbit_format_name(c->format), m->rows, m->cols, c->cost.bytes);
        json_append_number(&b, c->cost.error);
        json_appendf(&b, ", \"seconds\": ");
        json_append_number(&b, c->cost.seconds);
        json_appendf(&b, ", \"weighting\": \"%s\", \"sensitivity\": ", m->weighting);
        json_append_number(&b, m->sensitivity);
        json_appendf(&b, ",\n     \"candidates\": [");
        for (size_t j = 0; j < m->count; ++j) {
            json_appendf(&b, "%s{\"format\": \"%s\", \"bytes\": %.0f, \"error\": ", j ? ", " : "",
                         lowbit_format_name(m->options[j].format), m->options[j].cost.bytes);
            json_append_number(&b, m->options[j].cost.error);
            json_appendf(&b, ", \"seconds\": ");
            json_append_number(&b, m->options[j].cost.seconds);
            json_append(&b, "}", 1);
        }
        json_append(&b, "]}", 2);
    }
    json_appendf(&b, "\n  ]\n}\n");
    int rc = b.failed ? fail(error, error_size, "out of memory writing the plan", NULL)
                      : json_write_file(path, b.data, b.length, error, error_size);
    json_buffer_free(&b);
    return rc;
}

static int plan_error(char *error, size_t error_size, const char *path, const char *what, const char *detail)
{
    snprintf(error, error_size, "plan file %s: %s%s%s", path, what, detail ? " " : "", detail ? detail : "");
    return -1;
}

/* --plan-file: every entry names a tensor the TYPE rules quantize and a format that fits its rows. */
/* Reads a plan file: valid JSON, "kind" a lowbit-quantize plan, a "tensors" array. 0 with the document (the
 * caller frees it), or -1 with a message naming the file. Shared by --plan-file and --plan-costs. */
static int read_plan(const char *path, json_document **doc, const json_value **tensors, char *error, size_t error_size)
{
    unsigned char *text = NULL;
    size_t size = 0;
    char why[512];
    if (tool_read_regular_file(path, "plan file", &text, &size, error, error_size) != 0) return -1;
    *doc = json_parse((const char *)text, size, why, sizeof why);
    free(text);
    if (!*doc) return plan_error(error, error_size, path, "is not valid JSON:", why);
    const json_value *root = json_document_root(*doc), *kind = json_object_get(root, "kind");
    *tensors = json_object_get(root, "tensors");
    const char *wrong = !kind || kind->type != JSON_STRING || strcmp(kind->as.string.chars, QUANTIZE_PLAN_KIND) != 0
                            ? "is not a lowbit-quantize plan (\"kind\" is missing or wrong)"
                        : !*tensors || (*tensors)->type != JSON_ARRAY ? "has no \"tensors\" array"
                                                                      : NULL;
    if (!wrong) return 0;
    json_document_free(*doc);
    *doc = NULL;
    return plan_error(error, error_size, path, wrong, NULL);
}

static int apply_plan(const quantize_options *o, quantize_summary *summary, FILE *out, char *error, size_t error_size)
{
    json_document *doc = NULL;
    const json_value *tensors = NULL;
    if (read_plan(o->plan_file, &doc, &tensors, error, error_size) != 0) return -1;
    const json_value *version = json_object_get(json_document_root(doc), "version");
    int rc = -1;
    char why[64];
    unsigned char *seen = calloc(summary->tensor_count ? summary->tensor_count : 1, 1);
    if (!seen) {
        fail(error, error_size, "out of memory", NULL);
        goto done;
    }
    if (!version || version->type != JSON_NUMBER || version->as.number != QUANTIZE_PLAN_VERSION) {
        plan_error(error, error_size, o->plan_file, "has an unsupported \"version\" (this lowbit reads 1)", NULL);
        goto done;
    }
    for (size_t i = 0; i < tensors->as.array.count; ++i) {
        const json_value *t = &tensors->as.array.items[i], *name = json_object_get(t, "name"),
                         *format = json_object_get(t, "format");
        char where[64];
        snprintf(where, sizeof where, "tensors[%zu]", i);
        if (!name || name->type != JSON_STRING || !format || format->type != JSON_STRING) {
            plan_error(error, error_size, o->plan_file, where, "needs string \"name\" and \"format\"");
            goto done;
        }
        size_t k = 0;
        while (k < summary->tensor_count && strcmp(summary->tensors[k].name, name->as.string.chars) != 0)
            ++k;
        char quoted[64];
        json_quote(name->as.string.chars, name->as.string.length, quoted, sizeof quoted);
        if (k == summary->tensor_count) {
            snprintf(error, error_size, "plan file %s: %s names tensor \"%s\", which the model does not have",
                     o->plan_file, where, quoted);
            goto done;
        }
        quantize_tensor_result *r = &summary->tensors[k];
        lowbit_format chosen;
        if (seen[k]) {
            snprintf(error, error_size, "plan file %s: tensor \"%s\" appears twice", o->plan_file, quoted);
            goto done;
        }
        if (!r->quantized && !r->requantizable) {
            snprintf(error, error_size, "plan file %s: tensor \"%s\" is not quantized (%s), so a plan cannot set it",
                     o->plan_file, quoted, r->reason ? r->reason : "kept");
            goto done;
        }
        if (quantize_format_parse(format->as.string.chars, &chosen) != 0 ||
            lowbit_format_row_size(chosen, (size_t)r->ne[0]) == 0) {
            json_quote(format->as.string.chars, format->as.string.length, why, 64);
            snprintf(error, error_size,
                     "plan file %s: tensor \"%s\": format \"%s\" is unknown or does not fit rows of %llu", o->plan_file,
                     quoted, why, (unsigned long long)r->ne[0]);
            goto done;
        }
        seen[k] = 1;
        set_target(r, chosen, "plan file");
    }
    if (o->explain) {
        fprintf(out, "%-36s %-8s %10s\n", "tensor", "format", "bytes");
        for (size_t k = 0; k < summary->tensor_count; ++k)
            if (seen[k])
                fprintf(out, "%-36s %-8s %10llu\n", summary->tensors[k].name,
                        lowbit_format_name(summary->tensors[k].target_type),
                        (unsigned long long)summary->tensors[k].target_bytes);
    }
    rc = 0;
done:
    free(seen);
    json_document_free(doc);
    return rc;
}

/* --plan-costs FILE: an earlier plan of the same kind, whose candidates' errors (and times, when it was timed on
 * the same device) are reused for tensors of the same name and shape. */
static int load_costs(const quantize_options *o, mix_costs *costs, const mix_timer *timer, char *error,
                      size_t error_size)
{
    if (read_plan(o->plan_costs, &costs->doc, &costs->tensors, error, error_size) != 0) return -1;
    const json_value *budget = json_object_get(json_document_root(costs->doc), "budget"),
                     *device = json_object_get(budget, "device");
    costs->same_device =
        timer && device && device->type == JSON_STRING && strcmp(device->as.string.chars, timer->info.id) == 0;
    return 0;
}

static void print_explain(FILE *out, const quantize_summary *summary, const mix_tensor *mixes, size_t count, int timed)
{
    fprintf(out, "%-32s %-11s %-7s %6s %10s %10s %9s  %s\n", "tensor", "shape", "format", "bpw", "KiB", "rel.error",
            timed ? "us/token" : "", "why");
    for (size_t i = 0; i < count; ++i) {
        const mix_tensor *m = &mixes[i];
        const mix_option *c = &m->options[m->pick];
        char shape[32], time[24] = "";
        snprintf(shape, sizeof shape, "%zux%zu", m->rows, m->cols);
        if (timed) snprintf(time, sizeof time, "%.1f", c->cost.seconds * 1e6);
        fprintf(out, "%-32s %-11s %-7s %6.3f %10.1f %10.3g %9s  %s\n", summary->tensors[m->index].name, shape,
                lowbit_format_name(c->format), 8.0 * c->cost.bytes / ((double)m->rows * (double)m->cols),
                c->cost.bytes / 1024.0, c->cost.error, time, m->why);
    }
}

int quantize_mixplan_run(const quantize_options *o, quantize_summary *summary, const quantize_mixplan_source *source,
                         FILE *out, FILE *progress, char *error, size_t error_size)
{
    if (o->plan_file) return apply_plan(o, summary, out, error, error_size);
    if (!o->plan) return 0;
    lowbit_format formats[MIX_MAX_CANDIDATES];
    size_t format_count = 0;
    if (o->plan_format_count) {
        for (size_t i = 0; i < o->plan_format_count && format_count < MIX_MAX_CANDIDATES; ++i)
            formats[format_count++] = o->plan_formats[i];
    } else {
        for (size_t i = 0; i < sizeof default_candidates / sizeof default_candidates[0]; ++i)
            if (quantize_format_parse(default_candidates[i], &formats[format_count]) == 0) ++format_count;
    }
    /* the matrices to plan; everything else keeps what the TYPE rules gave it */
    mix_tensor *mixes = calloc(summary->tensor_count ? summary->tensor_count : 1, sizeof *mixes);
    if (!mixes) return fail(error, error_size, "out of memory", NULL);
    size_t mix_count = 0;
    double fixed_bytes = 0.0, total_elements = 0.0;
    for (size_t i = 0; i < summary->tensor_count; ++i) {
        const quantize_tensor_result *r = &summary->tensors[i];
        total_elements += (double)r->elements;
        if (plannable(o, r)) {
            mixes[mix_count].index = i;
            mixes[mix_count].sensitivity = sensitivity_of(o, r->name);
            mixes[mix_count].cols = (size_t)r->ne[0];
            mixes[mix_count++].rows = (size_t)r->ne[1];
        } else {
            fixed_bytes += (double)r->target_bytes;
        }
    }
    int rc = -1;
    mix_timer *timer = NULL;
    mix_costs costs = {0};
    const quantize_mix_choice **choices = calloc(mix_count ? mix_count : 1, sizeof *choices);
    size_t *sizes = calloc(mix_count ? mix_count : 1, sizeof *sizes),
           *picks = calloc(mix_count ? mix_count : 1, sizeof *picks);
    quantize_mix_choice *flat = calloc(mix_count ? mix_count * MIX_MAX_CANDIDATES : 1, sizeof *flat);
    if (!choices || !sizes || !picks || !flat) {
        fail(error, error_size, "out of memory", NULL);
        goto done;
    }
    if (mix_count == 0) {
        fail(error, error_size, "--plan found no matrix to plan (every tensor is kept or pinned)", NULL);
        goto done;
    }
    if (o->plan_device) {
        timer = calloc(1, sizeof *timer);
        lowbit_context_options context_options = {.struct_size = sizeof context_options};
        if (timer) timer->info.struct_size = sizeof timer->info;
        if (!timer || lowbit_context_create(&context_options, &timer->context) != LOWBIT_OK ||
            lowbit_device_find(timer->context, o->plan_device, &timer->device) != LOWBIT_OK ||
            lowbit_device_get_info(timer->context, timer->device, &timer->info) != LOWBIT_OK) {
            fail(error, error_size, "--device", timer ? lowbit_last_error() : "out of memory");
            goto done;
        }
    }
    if (o->plan_costs && load_costs(o, &costs, timer, error, error_size) != 0) goto done;
    const double start = tool_now_seconds();
    for (size_t i = 0; i < mix_count; ++i) {
        if (progress)
            fprintf(progress, "lowbit-quantize: plan [%zu/%zu] %s (%zux%zu), %.0f s\n", i + 1, mix_count,
                    summary->tensors[mixes[i].index].name, mixes[i].rows, mixes[i].cols, tool_now_seconds() - start);
        if (measure_tensor(o, source, summary, &mixes[i], formats, format_count, timer, &costs, progress, error,
                           error_size) != 0)
            goto done;
        for (size_t j = 0; j < mixes[i].count; ++j) {
            flat[i * MIX_MAX_CANDIDATES + j] = mixes[i].options[j].cost;
            flat[i * MIX_MAX_CANDIDATES + j].error *= mixes[i].sensitivity; /* the solve weighs, the file keeps raw */
        }
        choices[i] = flat + i * MIX_MAX_CANDIDATES;
        sizes[i] = mixes[i].count;
    }
    const double byte_budget = o->target_bytes     ? (double)o->target_bytes - fixed_bytes
                               : o->target_bpw > 0 ? o->target_bpw * total_elements / 8.0 - fixed_bytes
                                                   : 0.0;
    const double time_budget = o->target_ms > 0 ? o->target_ms * 1e-3 : 0.0;
    if ((o->target_bytes || o->target_bpw > 0) && byte_budget <= 0) {
        snprintf(error, error_size, "the budget is smaller than the %.0f bytes of the tensors left out of the plan",
                 fixed_bytes);
        goto done;
    }
    if (quantize_mix_solve(choices, sizes, mix_count, byte_budget, time_budget, picks) != 0) {
        double min_bytes = fixed_bytes, min_seconds = 0.0;
        for (size_t i = 0; i < mix_count; ++i) {
            double b = INFINITY, s = INFINITY;
            for (size_t j = 0; j < sizes[i]; ++j)
                b = fmin(b, choices[i][j].bytes), s = fmin(s, choices[i][j].seconds);
            min_bytes += b, min_seconds += s;
        }
        char time_text[64] = "";
        if (timer) snprintf(time_text, sizeof time_text, "; the fastest take %.3f ms on the device", min_seconds * 1e3);
        snprintf(error, error_size, "the budget cannot be met: the smallest candidates make %.3f bpw (%.0f bytes)%s",
                 8.0 * min_bytes / total_elements, min_bytes, time_text);
        goto done;
    }
    double total_bytes = fixed_bytes, error_sum = 0.0, seconds_sum = 0.0;
    for (size_t i = 0; i < mix_count; ++i) {
        mix_tensor *m = &mixes[i];
        m->pick = picks[i];
        size_t cheapest = 0;
        for (size_t j = 1; j < m->count; ++j)
            if (m->options[j].cost.bytes < m->options[cheapest].cost.bytes) cheapest = j;
        explain_choice(m, byte_budget, time_budget, m->pick != cheapest);
        total_bytes += m->options[m->pick].cost.bytes;
        error_sum += m->sensitivity * m->options[m->pick].cost.error;
        seconds_sum += m->options[m->pick].cost.seconds;
        set_target(&summary->tensors[m->index], m->options[m->pick].format, "plan");
    }
    char path[4096];
    if (o->plan_out)
        snprintf(path, sizeof path, "%s", o->plan_out);
    else
        snprintf(path, sizeof path, "%s.plan.json", o->output);
    if (write_plan(path, summary, mixes, mix_count, byte_budget, time_budget, timer ? timer->info.id : NULL,
                   total_bytes, total_elements, error_sum, seconds_sum, error, error_size) != 0)
        goto done;
    if (o->explain) print_explain(out, summary, mixes, mix_count, timer != NULL);
    if (progress) {
        fprintf(progress,
                "lowbit-quantize: plan: %zu matrices, %.3f bits per weight (%.0f bytes), summed relative "
                "error %.4g",
                mix_count, 8.0 * total_bytes / total_elements, total_bytes, error_sum);
        if (timer) fprintf(progress, ", %.3f ms of GEMV per token on %s", seconds_sum * 1e3, timer->info.id);
        fprintf(progress, "; written to %s\n", path);
    }
    rc = 0;
done:
    json_document_free(costs.doc);
    if (timer && timer->context) lowbit_context_destroy(timer->context);
    free(timer);
    free(choices), free(sizes), free(picks), free(flat), free(mixes);
    return rc;
}
