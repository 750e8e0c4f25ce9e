/* lowbit-tune — measures kernel parameters per device, format, batch class and shape, and writes the winners to
 * the tuning database that every later lowbit context reads (<cache folder>/tuning/<api>-<device>.json). Each
 * candidate is checked against the f64 reference before it is timed; the journal makes an interrupted run resume
 * without measuring anything twice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/common/llc.h"
#include "tools/common/tool_util.h"
#include "tools/tune/tune.h"

static void usage(void)
{
    printf("usage: lowbit-tune [options]\n"
           "Tunes lowbit's kernel parameters on each device and writes the tuning database later contexts use.\n\n"
           "  --device LIST         devices to tune (cpu, opencl:0, vulkan:0, all; default all)\n"
           "  --formats LIST        weight formats (default Q4_0,Q4_K,Q6_K,Q8_0)\n"
           "  --n LIST              batch sizes (default 1,8: the GEMV classes; n >= 9 tunes the GEMM tiles)\n"
           "  --shapes LIST         matrix shapes ROWSxCOLS (default 4096x4096)\n"
           "  --model FILE.gguf     adds the distinct matrix shapes of a model\n"
           "  --space 'k=v,v;k=v'   replaces the values tried for a key (layout=row,coop;wg=8,16;rows=16,...),\n"
           "                        keys and values as in LOWBIT_PARAMS\n"
           "  --strategy S          auto (exhaustive up to --max-candidates, else annealing), exhaustive, random,\n"
           "                        anneal\n"
           "  --max-candidates N    candidates measured per case (default 24)\n"
           "  --budget SECONDS      time per case (default 120; 0 = none)\n"
           "  --total-budget S      time for the whole run (default none)\n"
           "  --repeat N            timed calls per candidate, the median kept (default 9)\n"
           "  --noise F             a candidate must beat the default by more than this fraction (default 0.05)\n"
           "  --output FILE         the database to write (default <cache>/tuning/<api>-<device>.json per device)\n"
           "  --journal FILE        the resumable record of measured candidates (default <cache>/tune-journal.jsonl)\n"
           "  --json FILE           every case, default and tuned, as JSON\n"
           "  --plot FILE.png       speed-up per case (gnuplot)\n"
           "  --list                print the cases and their candidates, measure nothing\n"
           "  --stop-after N        measure at most N new candidates, then stop (exit 3; run again to resume)\n"
           "  --seed N              random and annealing order (default 1)\n"
           "  --no-progress         no progress line on stderr\n\n"
           "<cache> is LOWBIT_CACHE_DIR, else $XDG_CACHE_HOME/lowbit, else ~/.cache/lowbit.\n");
}

/* LOWBIT_CACHE_DIR, else $XDG_CACHE_HOME/lowbit, else $HOME/.cache/lowbit (what the library reads). */
static int cache_dir(char *out, size_t size)
{
    const char *dir = getenv("LOWBIT_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(out, size, "%s", dir);
    else if (xdg && *xdg)
        snprintf(out, size, "%s/lowbit", xdg);
    else if (home && *home)
        snprintf(out, size, "%s/.cache/lowbit", home);
    else
        return -1;
    return 0;
}

static void make_parents(const char *path)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *p = copy + 1; *p; ++p)
        if (*p == '/') {
            *p = '\0';
            mkdir(copy, 0755);
            *p = '/';
        }
}

/* "opencl-cpu-haswell-amd-epyc-7b13.json": api and device name, lowercased, anything else a dash. */
static void database_name(const lowbit_device_info *info, char *out, size_t size)
{
    char slug[96];
    size_t used = 0;
    for (const char *c = info->name; *c && used + 1 < sizeof slug; ++c) {
        char ch = *c;
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (keep)
            slug[used++] = ch;
        else if (used && slug[used - 1] != '-')
            slug[used++] = '-';
    }
    while (used && slug[used - 1] == '-')
        --used;
    slug[used] = '\0';
    snprintf(out, size, "%s-%s.json", tune_scope(info), used ? slug : "device");
}

typedef struct run_state {
    const tune_options *o;
    tune_journal *journal;
    size_t measured_total, case_index, case_count;
    double started;
    int stopped;
} run_state;

static void progress(const run_state *s, const tune_case *c, size_t done, size_t planned)
{
    if (!s->o->progress) return;
    double elapsed = tool_now_seconds() - s->started;
    double fraction =
        ((double)s->case_index + (planned ? (double)done / (double)planned : 1.0)) / (double)s->case_count;
    double eta = fraction > 0.0 ? elapsed / fraction - elapsed : 0.0;
    int bar = (int)(fraction * 20.0);
    fprintf(stderr, "\rlowbit-tune: [%.*s%*s] case %zu/%zu %s %s n=%zu: %zu/%zu, ETA %dm%02ds   ", bar,
            "####################", 20 - bar, "", s->case_index + 1, s->case_count, c->info.id,
            lowbit_format_name(c->format), c->n, done, planned, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

/* One candidate's result, from the journal when it has it, else measured (and journaled). -1 when the run must stop
 * (--stop-after reached, or the journal cannot be written). */
static int evaluate(run_state *s, tune_case *c, const tune_candidate *candidate, const tune_data *data,
                    uint64_t copies_goal, double timeout, tune_result *result)
{
    if (tune_journal_find(s->journal, c->key, candidate->params, result)) {
        c->journaled++;
    } else {
        if (s->o->stop_after && s->measured_total >= s->o->stop_after) {
            s->stopped = 1;
            return -1;
        }
        tune_measure(c->info.id, tune_scope(&c->info), candidate, data, copies_goal, s->o->repeat, timeout, result);
        if (tune_journal_add(s->journal, c->key, candidate->params, result) != 0) return -1;
        c->measured++;
        s->measured_total++;
    }
    if (result->status == TUNE_WRONG) c->wrong++;
    if (result->status != TUNE_OK && result->status != TUNE_WRONG) c->failed++;
    return 0;
}

static unsigned next_random(unsigned *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The search's winner against the default once more, CONFIRM_ROUNDS times each, interleaved (default, winner,
 * default, ...) in fresh contexts, so a drift of the machine during the search cannot crown a candidate: the medians
 * of these rounds decide, and are what the table, the JSON and the database report. */
enum { CONFIRM_ROUNDS = 5 };
static void confirm(run_state *s, tune_case *c, const tune_candidate *winner, const tune_data *data,
                    uint64_t copies_goal, double timeout)
{
    double base[CONFIRM_ROUNDS], tuned[CONFIRM_ROUNDS];
    tune_candidate baseline = {""};
    tune_result result, kept;
    for (int r = 0; r < CONFIRM_ROUNDS; ++r) {
        tune_measure(c->info.id, tune_scope(&c->info), &baseline, data, copies_goal, s->o->repeat, timeout, &result);
        if (result.status != TUNE_OK) return;
        base[r] = result.seconds;
        tune_measure(c->info.id, tune_scope(&c->info), winner, data, copies_goal, s->o->repeat, timeout, &result);
        if (result.status != TUNE_OK) return;
        tuned[r] = result.seconds;
        kept = result;
    }
    qsort(base, CONFIRM_ROUNDS, sizeof base[0], compare_doubles);
    qsort(tuned, CONFIRM_ROUNDS, sizeof tuned[0], compare_doubles);
    c->baseline.seconds = base[CONFIRM_ROUNDS / 2];
    c->best_result = c->baseline;
    if (tuned[CONFIRM_ROUNDS / 2] < base[CONFIRM_ROUNDS / 2] * (1.0 - s->o->noise)) {
        c->best = *winner;
        c->best_result = kept;
        c->best_result.seconds = tuned[CONFIRM_ROUNDS / 2];
    }
}

/* The order candidates are tried in: as listed (exhaustive), shuffled (random), or chosen one at a time by
 * simulated annealing over single-key moves (anneal). Returns -1 when the run must stop. */
static int search(run_state *s, tune_case *c, const tune_candidate *space, size_t count, const tune_data *data,
                  uint64_t copies_goal)
{
    const tune_options *o = s->o;
    tune_strategy strategy = o->strategy;
    if (strategy == TUNE_AUTO) strategy = count <= o->max_candidates ? TUNE_EXHAUSTIVE : TUNE_ANNEAL;
    size_t planned = count < o->max_candidates ? count : o->max_candidates;
    unsigned random = o->seed * 2654435761u + (unsigned)c->format * 97u + (unsigned)c->n + 1u;
    size_t *order = malloc(count * sizeof *order);
    unsigned char *tried = calloc(count, 1);
    tune_result *results = calloc(count, sizeof *results);
    if (!order || !tried || !results) {
        free(order), free(tried), free(results);
        fprintf(stderr, "lowbit-tune: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < count; ++i)
        order[i] = i;
    if (strategy == TUNE_RANDOM)
        for (size_t i = count; i > 1; --i) {
            size_t j = next_random(&random) % i, t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
    double case_start = tool_now_seconds();
    double timeout = c->baseline.status == TUNE_OK ? fmax(1.0, 50.0 * c->baseline.seconds) : 10.0;
    size_t current = next_random(&random) % count, best = count;
    double temperature = 0.10;
    int status = 0;
    for (size_t step = 0; step < planned; ++step) {
        if (o->case_budget > 0.0 && tool_now_seconds() - case_start > o->case_budget) break;
        if (o->total_budget > 0.0 && tool_now_seconds() - s->started > o->total_budget) break;
        size_t pick = order[step];
        if (strategy == TUNE_ANNEAL) {
            /* a move: an untried candidate one key away from the current one, else two, else any untried */
            pick = count;
            for (size_t radius = 1; radius <= LOWBIT_KEY_COUNT && pick == count; radius = radius < 2 ? 2 : 99) {
                size_t seen = 0;
                for (size_t i = 0; i < count; ++i)
                    if (!tried[i] &&
                        (step == 0 ? i == current : tune_candidate_distance(&space[i], &space[current]) <= radius) &&
                        next_random(&random) % ++seen == 0)
                        pick = i;
            }
            if (pick == count) break;
        }
        tried[pick] = 1;
        progress(s, c, step, planned);
        if (evaluate(s, c, &space[pick], data, copies_goal, timeout, &results[pick]) != 0) {
            status = -1;
            break;
        }
        const tune_result *r = &results[pick];
        if (r->status == TUNE_OK && (best == count || r->seconds < results[best].seconds)) best = pick;
        if (strategy == TUNE_ANNEAL && r->status == TUNE_OK) {
            double now = results[current].status == TUNE_OK && tried[current] ? results[current].seconds : INFINITY;
            double delta = isfinite(now) ? (r->seconds - now) / now : -1.0;
            if (delta < 0.0 || (double)(next_random(&random) % 10000) / 10000.0 < exp(-delta / temperature))
                current = pick;
            temperature *= 0.85;
        } else if (strategy == TUNE_ANNEAL && !tried[current]) {
            current = pick;
        }
    }
    progress(s, c, planned, planned);
    /* the winner must beat the built-in default by more than the noise band; else the default stands */
    c->best.params[0] = '\0';
    c->best_result = c->baseline;
    /* a winner whose kernel is the default's (threads=2 on a 2-core CPU, the table's own wg and rows) is the default:
     * only noise made it faster */
    if (status == 0 && best != count && c->baseline.status == TUNE_OK &&
        results[best].seconds < c->baseline.seconds * (1.0 - o->noise) &&
        strcmp(results[best].kernel, c->baseline.kernel) != 0)
        confirm(s, c, &space[best], data, copies_goal, timeout);
    c->written = c->baseline.status == TUNE_OK;
    free(order), free(tried), free(results);
    return status;
}

int main(int argc, char **argv)
{
    tune_options o;
    int parsed = tune_options_parse(argc, argv, &o);
    if (parsed != 0) {
        if (parsed > 0) usage();
        tune_options_free(&o);
        return parsed > 0 ? 0 : 2;
    }
    if (o.progress < 0) o.progress = isatty(STDERR_FILENO);
    lowbit_context *context = NULL;
    lowbit_context_options context_options = {.struct_size = sizeof context_options, .params = "tuning=0"};
    size_t device_count = 0;
    if (lowbit_context_create(&context_options, &context) != LOWBIT_OK ||
        lowbit_device_count(context, &device_count) != LOWBIT_OK) {
        fprintf(stderr, "lowbit-tune: %s\n", lowbit_last_error());
        tune_options_free(&o);
        return 1;
    }
    for (size_t i = 0; i < o.device_count; ++i) {
        size_t index;
        if (lowbit_device_find(context, o.devices[i], &index) != LOWBIT_OK) {
            fprintf(stderr, "lowbit-tune: %s\n", lowbit_last_error());
            lowbit_context_destroy(context);
            tune_options_free(&o);
            return 2;
        }
    }
    char cache[900], journal_path[1024];
    if (cache_dir(cache, sizeof cache) != 0 && (!o.output || !o.journal)) {
        fprintf(stderr, "lowbit-tune: no cache folder (set LOWBIT_CACHE_DIR, or give --output and --journal)\n");
        lowbit_context_destroy(context);
        tune_options_free(&o);
        return 2;
    }
    snprintf(journal_path, sizeof journal_path, "%s", o.journal ? o.journal : "");
    if (!o.journal) snprintf(journal_path, sizeof journal_path, "%s/tune-journal.jsonl", cache);
    /* the cases: every selected device × format × shape × n */
    size_t capacity = device_count * o.format_count * o.shape_count * o.n_count;
    tune_case *cases = calloc(capacity ? capacity : 1, sizeof *cases);
    tune_candidate *space = malloc(TUNE_MAX_CANDIDATES * sizeof *space);
    if (!cases || !space) {
        fprintf(stderr, "lowbit-tune: out of memory\n");
        return 1;
    }
    size_t case_count = 0;
    for (size_t f = 0; f < o.format_count; ++f)
        for (size_t sh = 0; sh < o.shape_count; ++sh)
            for (size_t k = 0; k < o.n_count; ++k)
                for (size_t d = 0; d < device_count; ++d) {
                    tune_case *c = &cases[case_count];
                    memset(c, 0, sizeof *c);
                    c->info.struct_size = sizeof c->info;
                    lowbit_device_get_info(context, d, &c->info);
                    int selected = o.device_count == 0;
                    for (size_t i = 0; i < o.device_count; ++i)
                        selected |= strcmp(o.devices[i], c->info.id) == 0;
                    if (!selected) continue;
                    if (!(c->info.formats >> o.formats[f] & 1u)) {
                        fprintf(stderr, "lowbit-tune: %s has no %s kernel; skipped\n", c->info.id,
                                lowbit_format_name(o.formats[f]));
                        continue;
                    }
                    if (lowbit_format_row_size(o.formats[f], o.shapes[sh].cols) == 0) continue;
                    c->device = d, c->format = o.formats[f], c->n = o.ns[k], c->shape = o.shapes[sh];
                    snprintf(c->key, sizeof c->key, "%s|%s|%s|%s|%s|%zu|%zux%zu", tune_scope(&c->info), c->info.vendor,
                             c->info.name, c->info.driver_version, lowbit_format_name(c->format), c->n, c->shape.rows,
                             c->shape.cols);
                    c->space = tune_space_build(&c->info, c->n, &o, space, TUNE_MAX_CANDIDATES);
                    case_count++;
                }
    if (case_count == 0) {
        fprintf(stderr, "lowbit-tune: nothing to tune (no selected device runs the formats asked for)\n");
        return 2;
    }
    if (o.list) {
        for (size_t i = 0; i < case_count; ++i) {
            tune_case *c = &cases[i];
            size_t count = tune_space_build(&c->info, c->n, &o, space, TUNE_MAX_CANDIDATES);
            printf("%s %s n=%zu %zux%zu: %zu candidates\n", c->info.id, lowbit_format_name(c->format), c->n,
                   c->shape.rows, c->shape.cols, count);
            for (size_t j = 0; j < count; ++j)
                printf("  %s\n", space[j].params);
        }
        free(cases), free(space);
        lowbit_context_destroy(context);
        tune_options_free(&o);
        return 0;
    }
    make_parents(journal_path);
    run_state state = {.o = &o, .case_count = case_count, .started = tool_now_seconds()};
    if (!(state.journal = tune_journal_open(journal_path))) return 1;
    int failed = 0;
    tune_data data = {0};
    for (size_t i = 0; i < case_count && !state.stopped && !failed; ++i) {
        tune_case *c = &cases[i];
        state.case_index = i;
        if (data.format != c->format || data.rows != c->shape.rows || data.cols != c->shape.cols || data.n != c->n ||
            !data.packed) {
            tune_data_free(&data);
            if (tune_data_make(c->format, c->shape.rows, c->shape.cols, c->n, o.seed, &data) != 0) {
                failed = 1;
                break;
            }
        }
        uint64_t copies_goal = 4 * tool_device_cache_bytes(&c->info, NULL);
        tune_candidate baseline = {""};
        if (evaluate(&state, c, &baseline, &data, copies_goal, o.case_budget > 0 ? o.case_budget : 60.0,
                     &c->baseline) != 0) {
            failed = !state.stopped;
            break;
        }
        size_t count = tune_space_build(&c->info, c->n, &o, space, TUNE_MAX_CANDIDATES);
        if (count && search(&state, c, space, count, &data, copies_goal) != 0) failed = !state.stopped;
    }
    tune_data_free(&data);
    if (o.progress) fprintf(stderr, "\n");
    double total = tool_now_seconds() - state.started;
    size_t journaled = 0;
    for (size_t i = 0; i < case_count; ++i)
        journaled += cases[i].journaled;
    tune_print_table(cases, case_count);
    printf("%zu candidates measured, %zu taken from the journal (%s), in %.1f s\n", state.measured_total, journaled,
           journal_path, total);
    int status = failed ? 1 : state.stopped ? 3 : 0;
    if (!state.stopped && !failed) {
        for (size_t d = 0; d < device_count; ++d) {
            int any = 0;
            for (size_t i = 0; i < case_count; ++i)
                any |= cases[i].device == d && cases[i].written;
            if (!any) continue;
            char path[1200], name[160];
            database_name(&cases[0].info, name, sizeof name);
            for (size_t i = 0; i < case_count; ++i)
                if (cases[i].device == d) database_name(&cases[i].info, name, sizeof name);
            if (o.output)
                snprintf(path, sizeof path, "%s", o.output);
            else
                snprintf(path, sizeof path, "%s/tuning/%s", cache, name);
            make_parents(path);
            if (tune_write_database(path, cases, case_count, d, o.repeat) != 0)
                status = 1;
            else
                printf("database: %s\n", path);
        }
    } else if (state.stopped) {
        printf("stopped after %zu new measurements (--stop-after); run the same command again to resume\n",
               state.measured_total);
    }
    if (o.json && tune_write_json(o.json, cases, case_count, total) != 0) {
        fprintf(stderr, "lowbit-tune: cannot write %s\n", o.json);
        status = 1;
    }
    if (o.plot && tune_write_plot(o.plot, cases, case_count) != 0) {
        fprintf(stderr, "lowbit-tune: cannot draw %s (is gnuplot installed?)\n", o.plot);
        status = 1;
    }
    tune_journal_close(state.journal);
    free(cases), free(space);
    lowbit_context_destroy(context);
    tune_options_free(&o);
    return status;
}
