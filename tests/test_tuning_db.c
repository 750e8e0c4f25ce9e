/* test_tuning_db.c — the tuning database (host/tuning/tuning_db.c) read through host/tuning/json.c (whose reader
 * has its own test, test_json.c): a
 * valid database with every field and the defaults, lookup at every level with the tie rules, overlays and put,
 * the write → load round trip, a table of malformed texts with the message each must give, every truncation of
 * a valid text, and 20000 deterministic mutations of it (the sanitizer build catches memory errors). */
#include "test_support.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/common/params.h"
#include "host/tuning/json.h"
#include "host/tuning/tuning_db.h"

/* data/tuning.json, compiled into the library (CMakeLists.txt) */
extern const unsigned char lowbit_tuning_shipped[];
extern const unsigned long lowbit_tuning_shipped_size;

static char why[1024];

static const char valid_text[] =
    "{\n"
    "  \"lowbit_tuning\": 1,\n"
    "  \"entries\": [\n"
    "    {\"api\": \"opencl\", \"vendor\": \"AMD\", \"device\": \"cpu-haswell-AMD EPYC\", \"driver\": \"PoCL 3.1*\",\n"
    "     \"class\": \"cpu\", \"family\": \"gemv\", \"format\": \"q4_0\", \"n\": \"1\", \"shape\": \"small\",\n"
    "     \"params\": \"layout=row,wg=8,rows=16\", \"seconds\": 0.0012, \"default_seconds\": 1.5e-3,\n"
    "     \"tool\": \"lowbit-tune 0.3.0\", \"date\": \"2026-12-03\", \"repeats\": 9, \"spread\": 0.03},\n"
    "    {\"family\": \"gemm\", \"api\": \"vulkan\", \"params\": \"wg=64\\u002c rows=\\\"2\\\"\",\n"
    "     \"device\": \"caf\\u00e9 \\ud83d\\ude00 \\/\"},\n"
    "    {\"api\": \"cpu\", \"family\": \"gemv\", \"params\": \"\", \"repeats\": 1e3, \"seconds\": 0}\n"
    "  ]\n"
    "}\n";

/* accepts everything but strings containing "bad" */
static int check_params(const char *params, char *reason, size_t reason_size)
{
    if (strstr(params, "bad")) {
        snprintf(reason, reason_size, "the word bad is not a parameter");
        return -1;
    }
    return 0;
}

static int load(tuning_db *db, const char *text)
{
    return tuning_db_load_text(db, text, strlen(text), "t.json", check_params, why, sizeof why);
}

static void test_parse_valid(void **state)
{
    (void)state;
    tuning_db *db = tuning_db_create();
    assert_non_null(db);
    assert_int_equal(load(db, valid_text), 0);
    assert_string_equal(why, "");
    assert_int_equal(tuning_db_count(db), 3);
    assert_null(tuning_db_entry(db, 3));

    const tuning_entry *e = tuning_db_entry(db, 0);
    assert_string_equal(e->api, "opencl");
    assert_string_equal(e->vendor, "AMD");
    assert_string_equal(e->device, "cpu-haswell-AMD EPYC");
    assert_string_equal(e->driver, "PoCL 3.1*");
    assert_string_equal(e->device_class, "cpu");
    assert_string_equal(e->family, "gemv");
    assert_string_equal(e->format, "q4_0");
    assert_string_equal(e->n_class, "1");
    assert_string_equal(e->shape, "small");
    assert_string_equal(e->params, "layout=row,wg=8,rows=16");
    assert_true(e->seconds == 0.0012);
    assert_true(e->default_seconds == 0.0015);
    assert_true(e->spread == 0.03);
    assert_string_equal(e->tool, "lowbit-tune 0.3.0");
    assert_string_equal(e->date, "2026-12-03");
    assert_int_equal(e->repeats, 9);

    e = tuning_db_entry(db, 1); /* defaults, and escapes decoded to UTF-8 */
    assert_string_equal(e->api, "vulkan");
    assert_string_equal(e->vendor, "*");
    assert_string_equal(e->device, "caf\xc3\xa9 \xf0\x9f\x98\x80 /");
    assert_string_equal(e->driver, "*");
    assert_string_equal(e->device_class, "*");
    assert_string_equal(e->family, "gemm");
    assert_string_equal(e->format, "*");
    assert_string_equal(e->n_class, "*");
    assert_string_equal(e->shape, "*");
    assert_string_equal(e->params, "wg=64, rows=\"2\"");
    assert_true(e->seconds == -1 && e->default_seconds == -1 && e->spread == -1);
    assert_string_equal(e->tool, "");
    assert_string_equal(e->date, "");
    assert_int_equal(e->repeats, 0);

    e = tuning_db_entry(db, 2);
    assert_string_equal(e->params, "");
    assert_int_equal(e->repeats, 1000);
    assert_true(e->seconds == 0);

    /* an empty database, and no callback */
    assert_int_equal(tuning_db_load_text(db, "{\"entries\":[],\"lowbit_tuning\":1.0}", 34, NULL, NULL, why, sizeof why),
                     0);
    assert_int_equal(tuning_db_count(db), 3);
    tuning_db_destroy(db);
    tuning_db_destroy(NULL);
}

static void add(tuning_db *db, const char *api, const char *vendor, const char *device, const char *driver,
                const char *device_class, const char *family, const char *format, const char *n_class,
                const char *shape, const char *params)
{
    tuning_entry e;
    tuning_entry_init(&e);
    snprintf(e.api, sizeof e.api, "%s", api);
    snprintf(e.vendor, sizeof e.vendor, "%s", vendor);
    snprintf(e.device, sizeof e.device, "%s", device);
    snprintf(e.driver, sizeof e.driver, "%s", driver);
    snprintf(e.device_class, sizeof e.device_class, "%s", device_class);
    snprintf(e.family, sizeof e.family, "%s", family);
    snprintf(e.format, sizeof e.format, "%s", format);
    snprintf(e.n_class, sizeof e.n_class, "%s", n_class);
    snprintf(e.shape, sizeof e.shape, "%s", shape);
    snprintf(e.params, sizeof e.params, "%s", params);
    assert_int_equal(tuning_db_put(db, &e), 0);
}

static const char *lookup(const tuning_db *db, const tuning_device *device, const char *family, const char *format,
                          size_t n, size_t rows, size_t cols, tuning_level *level)
{
    tuning_query query = {family, format, n, rows, cols};
    const tuning_entry *e = tuning_db_lookup(db, device, &query, level);
    return e ? e->params : NULL;
}

static void test_classes(void **state)
{
    (void)state;
    assert_string_equal(tuning_n_class(0), "1");
    assert_string_equal(tuning_n_class(1), "1");
    assert_string_equal(tuning_n_class(2), "2-8");
    assert_string_equal(tuning_n_class(8), "2-8");
    assert_string_equal(tuning_n_class(9), "9+");
    assert_string_equal(tuning_n_class(1000), "9+");
    assert_string_equal(tuning_n_class(SIZE_MAX), "9+");
    assert_string_equal(tuning_shape_class(2048, 2047), "small"); /* 4192256 */
    assert_string_equal(tuning_shape_class(4194303, 1), "small");
    assert_string_equal(tuning_shape_class(4194304, 1), "large");
    assert_string_equal(tuning_shape_class(2048, 2048), "large"); /* exactly 4194304 */
    assert_string_equal(tuning_shape_class(1, 4194304), "large");
    assert_string_equal(tuning_shape_class(0, 4194304), "small");
    assert_string_equal(tuning_shape_class(4194304, 0), "small");
    assert_string_equal(tuning_shape_class(SIZE_MAX, SIZE_MAX), "large");
    assert_string_equal(tuning_level_name(TUNING_LEVEL_NONE), "default");
    assert_string_equal(tuning_level_name(TUNING_LEVEL_CLASS), "class");
    assert_string_equal(tuning_level_name(TUNING_LEVEL_VENDOR), "vendor");
    assert_string_equal(tuning_level_name(TUNING_LEVEL_DRIVER), "driver");
    assert_string_equal(tuning_level_name(TUNING_LEVEL_DEVICE), "device");
}

static void test_lookup_levels(void **state)
{
    (void)state;
    tuning_db *db = tuning_db_create();
    tuning_device pocl = {"opencl", "AuthenticAMD", "cpu-haswell-AMD EPYC", "PoCL 3.1+debian", 1};
    tuning_device gpu = {"opencl", "NVIDIA", "H200", "550.54", 0};
    tuning_level level = TUNING_LEVEL_DEVICE;

    assert_null(lookup(db, &pocl, "gemv", "q4_0", 1, 64, 64, &level));
    assert_int_equal(level, TUNING_LEVEL_NONE);
    add(db, "opencl", "*", "*", "*", "cpu", "gemv", "*", "*", "*", "class-cpu");
    add(db, "opencl", "*", "*", "*", "gpu", "gemv", "*", "*", "*", "class-gpu");
    assert_string_equal(lookup(db, &pocl, "gemv", "q4_0", 1, 64, 64, &level), "class-cpu");
    assert_int_equal(level, TUNING_LEVEL_CLASS);
    assert_string_equal(lookup(db, &gpu, "gemv", "q4_0", 1, 64, 64, &level), "class-gpu");
    assert_int_equal(level, TUNING_LEVEL_CLASS);
    assert_null(lookup(db, &pocl, "gemm", "q4_0", 1, 64, 64, &level)); /* family must be equal */
    assert_int_equal(level, TUNING_LEVEL_NONE);
    tuning_device vk = {"vulkan", "AuthenticAMD", "cpu-haswell-AMD EPYC", "PoCL 3.1+debian", 1};
    assert_null(lookup(db, &vk, "gemv", "q4_0", 1, 64, 64, &level)); /* api must be equal */

    add(db, "opencl", "AuthenticAMD", "*", "*", "*", "gemv", "*", "*", "*", "vendor");
    assert_string_equal(lookup(db, &pocl, "gemv", "q4_0", 1, 64, 64, &level), "vendor");
    assert_int_equal(level, TUNING_LEVEL_VENDOR);
    assert_string_equal(lookup(db, &gpu, "gemv", "q4_0", 1, 64, 64, &level), "class-gpu");

    /* an exact device with driver "*" is still a vendor-level entry */
    add(db, "opencl", "*", "H200", "*", "*", "gemv", "*", "*", "*", "vendor-by-device");
    assert_string_equal(lookup(db, &gpu, "gemv", "q4_0", 1, 64, 64, &level), "vendor-by-device");
    assert_int_equal(level, TUNING_LEVEL_VENDOR);

    add(db, "opencl", "*", "*", "PoCL 3.1*", "*", "gemv", "*", "*", "*", "driver-prefix");
    add(db, "opencl", "*", "*", "PoCL 4*", "*", "gemv", "*", "*", "*", "driver-other");
    assert_string_equal(lookup(db, &pocl, "gemv", "q4_0", 1, 64, 64, &level), "driver-prefix");
    assert_int_equal(level, TUNING_LEVEL_DRIVER);
    /* a prefix pattern with an exact device is a driver-level entry, not a device-level one */
    add(db, "opencl", "*", "H200", "55*", "*", "gemv", "*", "*", "*", "driver-device-prefix");
    assert_string_equal(lookup(db, &gpu, "gemv", "q4_0", 1, 64, 64, &level), "driver-device-prefix");
    assert_int_equal(level, TUNING_LEVEL_DRIVER);
    add(db, "opencl", "*", "*", "550.54", "*", "gemv", "*", "*", "*", "driver-exact");
    add(db, "opencl", "*", "*", "550.5", "*", "gemv", "*", "*", "*", "driver-exact-not-prefix");
    tuning_device gpu_other = {"opencl", "NVIDIA", "L4", "550.54", 0};
    assert_string_equal(lookup(db, &gpu_other, "gemv", "q4_0", 1, 64, 64, &level), "driver-exact");
    assert_int_equal(level, TUNING_LEVEL_DRIVER);

    add(db, "opencl", "*", "cpu-haswell-AMD EPYC", "PoCL 3.1+debian", "*", "gemv", "*", "*", "*", "device");
    add(db, "opencl", "*", "cpu-haswell-AMD EPYC", "PoCL 3.0", "*", "gemv", "*", "*", "*", "device-other-driver");
    assert_string_equal(lookup(db, &pocl, "gemv", "q4_0", 1, 64, 64, &level), "device");
    assert_int_equal(level, TUNING_LEVEL_DEVICE);
    /* a device whose strings are missing matches only "*" */
    tuning_device unknown = {"opencl", NULL, NULL, NULL, 1};
    assert_string_equal(lookup(db, &unknown, "gemv", "q4_0", 1, 64, 64, &level), "class-cpu");
    assert_int_equal(level, TUNING_LEVEL_CLASS);
    tuning_db_destroy(db);

    /* ties: on equal level more exact (format, n, shape) wins; on a full tie the last one */
    db = tuning_db_create();
    add(db, "cpu", "*", "*", "*", "*", "gemv", "q4_0", "*", "*", "format");
    add(db, "cpu", "*", "*", "*", "*", "gemv", "*", "*", "*", "any");
    add(db, "cpu", "*", "*", "*", "*", "gemv", "*", "1", "small", "n-shape");
    tuning_device cpu = {"cpu", "x86", "cpu", "1", 1};
    assert_string_equal(lookup(db, &cpu, "gemv", "Q8_0", 1, 64, 64, &level), "n-shape");
    assert_string_equal(lookup(db, &cpu, "gemv", "Q8_0", 4, 64, 64, &level), "any");
    assert_string_equal(lookup(db, &cpu, "gemv", "Q4_0", 4, 64, 64, &level), "format"); /* query in any case */
    assert_string_equal(lookup(db, &cpu, "gemv", NULL, 4, 64, 64, &level), "any");
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 1, 64, 64, &level), "n-shape"); /* 2 exact beat 1 */
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 1, 4096, 4096, &level), "format");
    add(db, "cpu", "*", "*", "*", "*", "gemv", "q4_0", "*", "large", "format-large");
    add(db, "cpu", "*", "*", "*", "*", "gemv", "*", "9+", "large", "n-large");
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 16, 4096, 4096, &level), "n-large"); /* tie: last wins */
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 8, 4096, 4096, &level), "format-large");
    assert_string_equal(lookup(db, &cpu, "gemv", "q8_0", 8, 4096, 4096, &level), "any");
    assert_int_equal(level, TUNING_LEVEL_CLASS);
    /* a higher level beats any number of exact problem fields */
    add(db, "cpu", "x86", "*", "*", "*", "gemv", "*", "*", "*", "vendor");
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 16, 4096, 4096, &level), "vendor");
    assert_int_equal(level, TUNING_LEVEL_VENDOR);
    assert_null(tuning_db_lookup(db, NULL, NULL, &level));
    assert_int_equal(level, TUNING_LEVEL_NONE);
    tuning_db_destroy(db);
}

static void test_overlay_and_put(void **state)
{
    (void)state;
    tuning_db *db = tuning_db_create();
    const char *first = "{\"lowbit_tuning\":1,\"entries\":["
                        "{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"shipped\"},"
                        "{\"api\":\"cpu\",\"family\":\"gemm\",\"params\":\"shipped-gemm\"}]}";
    const char *second =
        "{\"lowbit_tuning\":1,\"entries\":[{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"user\"}]}";
    assert_int_equal(load(db, first), 0);
    assert_int_equal(load(db, second), 0);
    assert_int_equal(tuning_db_count(db), 3); /* appended, in load order */
    tuning_device cpu = {"cpu", "x", "y", "z", 1};
    tuning_level level;
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 1, 1, 32, &level), "user");
    assert_string_equal(lookup(db, &cpu, "gemm", "q4_0", 1, 1, 32, &level), "shipped-gemm");

    /* put: the same key replaces in place, another key appends */
    tuning_entry e = *tuning_db_entry(db, 1);
    snprintf(e.params, sizeof e.params, "replaced");
    e.seconds = 2.5;
    assert_int_equal(tuning_db_put(db, &e), 0);
    assert_int_equal(tuning_db_count(db), 3);
    assert_string_equal(tuning_db_entry(db, 1)->params, "replaced");
    assert_true(tuning_db_entry(db, 1)->seconds == 2.5);
    snprintf(e.shape, sizeof e.shape, "large");
    assert_int_equal(tuning_db_put(db, &e), 0);
    assert_int_equal(tuning_db_count(db), 4);
    assert_string_equal(tuning_db_entry(db, 3)->shape, "large");
    /* where overlays repeat a key, put replaces the last of them: the one lookup answers with */
    tuning_entry gemv = *tuning_db_entry(db, 0);
    snprintf(gemv.params, sizeof gemv.params, "put");
    assert_int_equal(tuning_db_put(db, &gemv), 0);
    assert_int_equal(tuning_db_count(db), 4);
    assert_string_equal(tuning_db_entry(db, 0)->params, "shipped");
    assert_string_equal(tuning_db_entry(db, 2)->params, "put");
    assert_string_equal(lookup(db, &cpu, "gemv", "q4_0", 1, 1, 32, &level), "put");

    /* put refuses what a file could not hold */
    tuning_entry bad = e;
    snprintf(bad.api, sizeof bad.api, "cuda");
    assert_int_equal(tuning_db_put(db, &bad), -1);
    bad = e;
    memset(bad.vendor, 'v', sizeof bad.vendor); /* not terminated */
    assert_int_equal(tuning_db_put(db, &bad), -1);
    bad = e;
    bad.seconds = -0.5;
    assert_int_equal(tuning_db_put(db, &bad), -1);
    bad = e;
    bad.repeats = 1000001;
    assert_int_equal(tuning_db_put(db, &bad), -1);
    bad = e;
    snprintf(bad.date, sizeof bad.date, "2025-02-29");
    assert_int_equal(tuning_db_put(db, &bad), -1);
    snprintf(bad.date, sizeof bad.date, "2024-02-29");
    assert_int_equal(tuning_db_put(db, &bad), 0);
    assert_int_equal(tuning_db_put(NULL, &e), -1);
    assert_int_equal(tuning_db_count(db), 4);
    tuning_db_destroy(db);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *item; (item = readdir(d)) != NULL;)
        if (strcmp(item->d_name, ".") != 0 && strcmp(item->d_name, "..") != 0) ++n;
    closedir(d);
    return n;
}

static void assert_same_entries(const tuning_db *a, const tuning_db *b)
{
    assert_int_equal(tuning_db_count(a), tuning_db_count(b));
    for (size_t i = 0; i < tuning_db_count(a); ++i) {
        const tuning_entry *x = tuning_db_entry(a, i), *y = tuning_db_entry(b, i);
        assert_string_equal(x->api, y->api);
        assert_string_equal(x->vendor, y->vendor);
        assert_string_equal(x->device, y->device);
        assert_string_equal(x->driver, y->driver);
        assert_string_equal(x->device_class, y->device_class);
        assert_string_equal(x->family, y->family);
        assert_string_equal(x->format, y->format);
        assert_string_equal(x->n_class, y->n_class);
        assert_string_equal(x->shape, y->shape);
        assert_string_equal(x->params, y->params);
        assert_memory_equal(&x->seconds, &y->seconds, sizeof x->seconds); /* bit-identical */
        assert_memory_equal(&x->default_seconds, &y->default_seconds, sizeof x->seconds);
        assert_memory_equal(&x->spread, &y->spread, sizeof x->spread);
        assert_string_equal(x->tool, y->tool);
        assert_string_equal(x->date, y->date);
        assert_int_equal(x->repeats, y->repeats);
    }
}

static void test_write_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_tuning_db.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], nested[512];
    snprintf(path, sizeof path, "%s/tuning.json", dir);
    snprintf(nested, sizeof nested, "%s/a/b/c/tuning.json", dir);

    tuning_db *db = tuning_db_create();
    assert_int_equal(load(db, valid_text), 0);
    tuning_entry e;
    tuning_entry_init(&e);
    snprintf(e.api, sizeof e.api, "vulkan");
    snprintf(e.family, sizeof e.family, "gemm");
    snprintf(e.params, sizeof e.params, "tab\there");
    assert_int_equal(tuning_db_put(db, &e), -1); /* no control characters */
    snprintf(e.params, sizeof e.params, "\"quoted\" back\\slash caf\xc3\xa9 \xf0\x9f\x98\x80");
    snprintf(e.tool, sizeof e.tool, "t");
    e.seconds = 0.1 + 0.2; /* needs 17 digits */
    e.default_seconds = 5e-324;
    e.spread = 1.7976931348623157e308;
    e.repeats = 1000000;
    assert_int_equal(tuning_db_put(db, &e), 0);

    assert_int_equal(tuning_db_write_file(db, path, why, sizeof why), 0);
    assert_int_equal(count_files(dir), 1); /* no temporary file left behind */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    tuning_db *back = tuning_db_create();
    assert_int_equal(tuning_db_load_file(back, path, check_params, why, sizeof why), 0);
    assert_same_entries(db, back);
    tuning_db_destroy(back);

    /* the layout: 2-space indentation, one entry per object, optional fields omitted */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char text[8192];
    size_t length = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[length] = '\0';
    assert_non_null(strstr(text, "{\n  \"lowbit_tuning\": 1,\n  \"entries\": [\n    {\n      \"api\": \"opencl\",\n"
                                 "      \"vendor\": \"AMD\",\n"));
    assert_non_null(strstr(text, "      \"seconds\": 0.0012,\n      \"default_seconds\": 0.0015,\n"));
    assert_non_null(strstr(text, "\"params\": \"\\\"quoted\\\" back\\\\slash caf\xc3\xa9 \xf0\x9f\x98\x80\""));
    assert_non_null(strstr(text, "\"seconds\": 0.30000000000000004,"));
    assert_non_null(strstr(text, "\"params\": \"\",\n      \"seconds\": 0,\n      \"repeats\": 1000\n    },\n    {\n"));
    assert_null(strstr(text, "\"tool\": \"\""));
    assert_non_null(
        strstr(text, "      \"repeats\": 1000000,\n      \"spread\": 1.7976931348623157e+308\n    }\n  ]\n}\n"));

    /* a missing nested folder is created; overwriting replaces */
    assert_int_equal(tuning_db_write_file(db, nested, why, sizeof why), 0);
    assert_int_equal(tuning_db_write_file(db, nested, why, sizeof why), 0);
    snprintf(text, sizeof text, "%s/a/b/c", dir);
    assert_int_equal(count_files(text), 1);
    back = tuning_db_create();
    assert_int_equal(tuning_db_load_file(back, nested, NULL, why, sizeof why), 0);
    assert_same_entries(db, back);
    tuning_db_destroy(back);

    /* an empty database round-trips too */
    tuning_db *empty = tuning_db_create();
    assert_int_equal(tuning_db_write_file(empty, path, why, sizeof why), 0);
    back = tuning_db_create();
    assert_int_equal(tuning_db_load_file(back, path, NULL, why, sizeof why), 0);
    assert_int_equal(tuning_db_count(back), 0);
    tuning_db_destroy(back);
    tuning_db_destroy(empty);

    /* a parent that is a file: an error naming the path, nothing left behind */
    snprintf(text, sizeof text, "%s/tuning.json/x.json", dir);
    assert_int_equal(tuning_db_write_file(db, text, why, sizeof why), -1);
    assert_non_null(strstr(why, text));
    assert_int_equal(count_files(dir), 2);

    /* load_file: missing, a folder, a FIFO */
    back = tuning_db_create();
    snprintf(text, sizeof text, "%s/missing.json", dir);
    assert_int_equal(tuning_db_load_file(back, text, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, text));
    assert_non_null(strstr(why, "No such file or directory"));
    assert_int_equal(tuning_db_load_file(back, dir, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "regular file"));
    snprintf(text, sizeof text, "%s/fifo.json", dir);
    assert_int_equal(mkfifo(text, 0600), 0);
    assert_int_equal(tuning_db_load_file(back, text, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "regular file"));
    /* a bad file: the message starts with its path */
    snprintf(text, sizeof text, "%s/bad.json", dir);
    f = fopen(text, "wb");
    assert_non_null(f);
    fputs("{\"lowbit_tuning\": 2, \"entries\": []}", f);
    fclose(f);
    assert_int_equal(tuning_db_load_file(back, text, NULL, why, sizeof why), -1);
    assert_true(strncmp(why, text, strlen(text)) == 0);
    assert_non_null(strstr(why, "version 2"));
    assert_int_equal(tuning_db_count(back), 0);
    tuning_db_destroy(back);

    tuning_db_destroy(db);
    assert_int_equal(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Loads `text` into a database that already holds one entry; it must fail, add nothing, and say `expect`. */
static void expect_error(const char *text, size_t length, const char *expect, const char *expect2)
{
    tuning_db *db = tuning_db_create();
    assert_int_equal(
        load(db, "{\"lowbit_tuning\":1,\"entries\":[{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"\"}]}"), 0);
    char *copy = malloc(length ? length : 1); /* exactly sized: the sanitizer sees any read past the end */
    assert_non_null(copy);
    if (length) memcpy(copy, text, length);
    int result = tuning_db_load_text(db, copy, length, "t.json", check_params, why, sizeof why);
    free(copy);
    if (result != -1 || !strstr(why, expect) || (expect2 && !strstr(why, expect2)) || strncmp(why, "t.json: ", 8) != 0)
        print_error("text: %s\nmessage: %s\nexpected: %s / %s\n", text, why, expect, expect2 ? expect2 : "");
    assert_int_equal(result, -1);
    assert_non_null(strstr(why, expect));
    if (expect2) assert_non_null(strstr(why, expect2));
    assert_true(strncmp(why, "t.json: ", 8) == 0);
    assert_non_null(strstr(why, "offset "));
    assert_int_equal(tuning_db_count(db), 1);
    tuning_db_destroy(db);
}

#define HEAD "{\"lowbit_tuning\":1,\"entries\":["
#define TAIL "]}"
#define ENTRY(extra) HEAD "{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"x\"" extra "}" TAIL
#define ERROR(text, expect, expect2) expect_error(text, sizeof(text) - 1, expect, expect2)

static void test_errors(void **state)
{
    (void)state;
    ERROR("", "expected a value", "end of text");
    ERROR("   \n ", "line 2 column 2 (offset 5)", "expected a value");
    ERROR("\xef\xbb\xbf{}", "byte 0xEF", NULL);
    /* truncated */
    ERROR(HEAD "{\"api\": \"cpu\"", "expected ',' or '}' after an object member", "end of text");
    ERROR(HEAD "{\"api\": \"cp", "closing the string", "end of text");
    ERROR(HEAD "{\"api\"", "expected ':'", "end of text");
    ERROR(HEAD, "expected a value", "end of text");
    ERROR("{\"lowbit_tuning\":1,\"entries\":[]", "expected ',' or '}'", "end of text");
    /* version */
    ERROR("{\"lowbit_tuning\":2,\"entries\":[]}", "unsupported version 2", "version 1");
    ERROR("{\"lowbit_tuning\":\"1\",\"entries\":[]}", "lowbit_tuning: expected the number 1, found a string", NULL);
    ERROR("{\"entries\":[]}", "expected the key \"lowbit_tuning\"", NULL);
    ERROR("{}", "expected the key \"lowbit_tuning\"", "line 1 column 1 (offset 0)");
    ERROR("[{}]", "expected an object at the top level", NULL);
    ERROR("{\"lowbit_tuning\":1}", "expected the key \"entries\"", NULL);
    /* unknown keys */
    ERROR(ENTRY(",\"colour\":\"red\""), "entries[0]: unknown key \"colour\"", NULL);
    ERROR(HEAD "{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"x\"},{\"api\":\"cpu\",\"famly\":\"gemv\"}" TAIL,
          "entries[1]: unknown key \"famly\"", "line 1 column 87 (offset 86)");
    ERROR("{\"lowbit_tuning\":1,\"entries\":[],\"extra\":0}", "unknown key \"extra\" at the top level", NULL);
    /* wrong types */
    ERROR("[]", "expected an object at the top level, found an array", NULL);
    ERROR("{\"lowbit_tuning\":1,\"entries\":{}}", "entries: expected an array, found an object", NULL);
    ERROR(HEAD "1" TAIL, "entries[0]: expected an object, found a number", NULL);
    ERROR(HEAD "{\"api\":5,\"family\":\"gemv\",\"params\":\"x\"}" TAIL,
          "entries[0].api: expected a string, found a number", NULL);
    ERROR(ENTRY(",\"seconds\":\"fast\""), "entries[0].seconds: expected a number, found a string", NULL);
    ERROR(ENTRY(",\"repeats\":true"), "entries[0].repeats: expected a number, found true", NULL);
    ERROR(ENTRY(",\"tool\":null"), "entries[0].tool: expected a string, found null", NULL);
    /* duplicate keys, in an entry, at the top level, in a large object */
    ERROR(HEAD "{\"api\":\"cpu\",\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"x\"}" TAIL,
          "expected unique keys in an object, found a second \"api\"", "offset 43");
    ERROR("{\"lowbit_tuning\":1,\"entries\":[],\"lowbit_tuning\":1}", "a second \"lowbit_tuning\"", NULL);
    ERROR("{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,"
          "\"n\":1,\"o\":1,\"p\":1,\"q\":1,\"r\":1,\"e\":2,\"c\":2}",
          "a second \"e\"", NULL);
    /* strings */
    ERROR(ENTRY(",\"tool\":\"a\\x\""), "expected an escape", "found \\ and 'x'");
    ERROR(ENTRY(",\"tool\":\"a\\u12\""), "four hex digits", NULL);
    ERROR(ENTRY(",\"tool\":\"a\\u12G4\""), "four hex digits", NULL);
    ERROR(ENTRY(",\"tool\":\"\\ud800\""), "lone surrogate", "\\uD800");
    ERROR(ENTRY(",\"tool\":\"\\ud800\\u0041\""), "lone surrogate", NULL);
    ERROR(ENTRY(",\"tool\":\"\\udc00\\ud800\""), "lone surrogate", "\\uDC00");
    ERROR(ENTRY(",\"tool\":\"\\ud83d\""), "lone surrogate", NULL);
    ERROR(ENTRY(",\"tool\":\"a\nb\""), "control character 0x0A", "line 1 column 82 (offset 81)");
    ERROR(ENTRY(",\"tool\":\"a\tb\""), "control character 0x09", NULL);
    ERROR(ENTRY(",\"tool\":\"\xff\""), "expected UTF-8", "0xFF");
    ERROR(ENTRY(",\"tool\":\"\xc0\xaf\""), "expected UTF-8", NULL);         /* overlong */
    ERROR(ENTRY(",\"tool\":\"\xed\xa0\x80\""), "expected UTF-8", NULL);     /* an encoded surrogate */
    ERROR(ENTRY(",\"tool\":\"\xf4\x90\x80\x80\""), "expected UTF-8", NULL); /* above U+10FFFF */
    ERROR(ENTRY(",\"tool\":\"\xe2\x82\""), "expected UTF-8", NULL);         /* truncated sequence */
    ERROR(ENTRY(",\"tool\":\"a\\u0000b\""), "entries[0].tool", "NUL");
    ERROR(ENTRY(",\"tool\":\"a\\u007f\""), "entries[0].tool", "control");
    /* nesting */
    {
        char deep[100];
        memset(deep, '[', 33);
        memset(deep + 33, ']', 33);
        deep[66] = '\0';
        ERROR(deep, "expected at most 32 nested arrays and objects", "offset 32");
    }
    /* numbers */
    ERROR(ENTRY(",\"seconds\":01"), "leading 0", NULL);
    ERROR(ENTRY(",\"seconds\":1."), "a digit after the decimal point", "found '}'");
    ERROR(ENTRY(",\"seconds\":-"), "a digit after '-'", NULL);
    ERROR(ENTRY(",\"seconds\":1e"), "a digit in the exponent", NULL);
    ERROR(ENTRY(",\"seconds\":1e+"), "a digit in the exponent", NULL);
    ERROR(ENTRY(",\"seconds\":+1"), "expected a value", NULL);
    ERROR(ENTRY(",\"seconds\":.5"), "expected a value", NULL);
    ERROR(ENTRY(",\"seconds\":NaN"), "expected a value", NULL);
    ERROR(ENTRY(",\"seconds\":Infinity"), "expected a value", NULL);
    ERROR(ENTRY(",\"seconds\":-Infinity"), "a digit after '-'", NULL);
    ERROR(ENTRY(",\"seconds\":1e400"), "range of a double", NULL);
    ERROR(ENTRY(",\"seconds\":-1"), "entries[0].seconds: expected a number >= 0, found -1", NULL);
    ERROR(ENTRY(",\"spread\":-0.5"), "entries[0].spread", ">= 0");
    ERROR(ENTRY(",\"repeats\":0"), "entries[0].repeats: expected an integer from 1 to 1000000", NULL);
    ERROR(ENTRY(",\"repeats\":1.5"), "entries[0].repeats", "integer");
    ERROR(ENTRY(",\"repeats\":1000001"), "entries[0].repeats", NULL);
    ERROR(ENTRY(",\"repeats\":1e300"), "entries[0].repeats", NULL);
    ERROR(ENTRY(",\"seconds\":tru"), "expected 'true'", NULL);
    /* trailing garbage */
    ERROR("{\"lowbit_tuning\":1,\"entries\":[]} x", "expected the end of the text", "found 'x'");
    ERROR("{\"lowbit_tuning\":1,\"entries\":[]}{}", "expected the end of the text", NULL);
    ERROR("{\"lowbit_tuning\":1,\"entries\":[]}\0", "expected the end of the text", "byte 0x00"); /* embedded NUL */
    ERROR("{\"lowbit_tuning\":1,\"entries\":[1,]}", "expected a value", "found ']'");
    ERROR("{\"lowbit_tuning\":1,\"entries\":[],}", "a string key", "found '}'");
    ERROR("{'lowbit_tuning':1}", "a string key", NULL);
    /* the callback names the entry */
    ERROR(HEAD "{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"x\"},{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":"
               "\"a bad one\"}" TAIL,
          "entries[1].params", "the word bad is not a parameter");
    /* values */
    ERROR(HEAD "{\"api\":\"cuda\",\"family\":\"gemv\",\"params\":\"x\"}" TAIL,
          "entries[0].api: expected \"cpu\", \"opencl\" or \"vulkan\"; found \"cuda\"", NULL);
    ERROR(HEAD "{\"api\":\"cpu\",\"family\":\"gemvv\",\"params\":\"x\"}" TAIL, "entries[0].family",
          "\"gemv\" or \"gemm\"");
    ERROR(ENTRY(",\"format\":\"Q4_0\""), "entries[0].format", "lowercase");
    ERROR(ENTRY(",\"format\":\"q9_9\""), "entries[0].format", NULL);
    ERROR(ENTRY(",\"n\":\"3\""), "entries[0].n", "\"9+\"");
    ERROR(ENTRY(",\"shape\":\"huge\""), "entries[0].shape", NULL);
    ERROR(ENTRY(",\"class\":\"npu\""), "entries[0].class", NULL);
    ERROR(ENTRY(",\"date\":\"2026-02-30\""), "entries[0].date", "YYYY-MM-DD");
    ERROR(ENTRY(",\"date\":\"26-02-03\""), "entries[0].date", NULL);
    ERROR(ENTRY(",\"driver\":\"a*b\""), "entries[0].driver", "prefix");
    ERROR(ENTRY(",\"vendor\":\"AMD*\""), "entries[0].vendor", NULL);
    ERROR(ENTRY(",\"device\":\"*x\""), "entries[0].device", NULL);
    /* too-long strings */
    {
        char text[1024];
        char long_name[300];
        memset(long_name, 'v', 256);
        long_name[256] = '\0';
        snprintf(text, sizeof text, ENTRY(",\"vendor\":\"%s\""), long_name);
        expect_error(text, strlen(text), "entries[0].vendor: expected at most 255 bytes, found 256", NULL);
        long_name[255] = '\0'; /* 255: fine */
        snprintf(text, sizeof text, ENTRY(",\"vendor\":\"%s\",\"device\":\"%s\",\"driver\":\"%s\""), long_name,
                 long_name, long_name);
        tuning_db *db = tuning_db_create();
        assert_int_equal(load(db, text), 0);
        assert_int_equal(strlen(tuning_db_entry(db, 0)->driver), 255);
        tuning_db_destroy(db);
        memset(long_name, 'p', 256);
        long_name[256] = '\0';
        snprintf(text, sizeof text, HEAD "{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"%s\"}" TAIL, long_name);
        expect_error(text, strlen(text), "entries[0].params: expected at most 255 bytes", NULL);
        long_name[64] = '\0';
        snprintf(text, sizeof text, ENTRY(",\"tool\":\"%s\""), long_name);
        expect_error(text, strlen(text), "entries[0].tool: expected at most 63 bytes, found 64", NULL);
    }
    /* missing required fields */
    ERROR(HEAD "{\"api\":\"cpu\",\"family\":\"gemv\"}" TAIL, "entries[0]: expected the required key \"params\"", NULL);
    ERROR(HEAD "{\"family\":\"gemv\",\"params\":\"x\"}" TAIL, "entries[0]: expected the required key \"api\"", NULL);
    ERROR(HEAD "{\"api\":\"cpu\",\"params\":\"x\"}" TAIL, "entries[0]: expected the required key \"family\"", NULL);
    /* positions count lines and characters */
    ERROR("{\n  \"lowbit_tuning\": 1,\n  \"entries\": [\n    {\"tool\": \"caf\xc3\xa9\", \"x\": 1}]}",
          "line 4 column 22 (offset 61): entries[0]: unknown key \"x\"", NULL);

    /* more than 65536 entries */
    {
        static const char one[] = "{\"api\":\"cpu\",\"family\":\"gemv\",\"params\":\"x\"},";
        size_t count = 65537, length = strlen(HEAD) + count * (sizeof one - 1) + strlen(TAIL);
        char *text = malloc(length + 1);
        assert_non_null(text);
        char *p = text;
        memcpy(p, HEAD, strlen(HEAD));
        p += strlen(HEAD);
        for (size_t i = 0; i < count; ++i, p += sizeof one - 1)
            memcpy(p, one, sizeof one - 1);
        memcpy(p - 1, TAIL, strlen(TAIL) + 1); /* over the last ',' */
        expect_error(text, strlen(text), "entries: expected at most 65536 entries, found 65537", NULL);
        /* 65536 load */
        memcpy(text + strlen(HEAD) + 65536 * (sizeof one - 1) - 1, TAIL, strlen(TAIL) + 1);
        tuning_db *db = tuning_db_create();
        assert_int_equal(load(db, text), 0);
        assert_int_equal(tuning_db_count(db), 65536);
        tuning_db_destroy(db);
        free(text);
    }
}

/* The database shipped with lowbit loads, and every entry's parameters pass the host's check (params.h), as when a
 * context loads it (host/tuning/tuning_host.c). */
static int host_params(const char *params, char *reason, size_t reason_size)
{
    lowbit_params parsed;
    return lowbit_params_parse(params, &parsed, reason, reason_size);
}

static void test_shipped(void **state)
{
    (void)state;
    tuning_db *db = tuning_db_create();
    int result = tuning_db_load_text(db, (const char *)lowbit_tuning_shipped, (size_t)lowbit_tuning_shipped_size,
                                     "data/tuning.json", host_params, why, sizeof why);
    if (result) print_error("%s\n", why);
    assert_int_equal(result, 0);
    tuning_db_destroy(db);
}

/* xorshift64: the fuzz loop's deterministic choices */
static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_load(const char *bytes, size_t length, size_t *successes)
{
    char *copy = malloc(length ? length : 1);
    assert_non_null(copy);
    if (length) memcpy(copy, bytes, length);
    tuning_db *db = tuning_db_create();
    why[0] = 'x';
    why[1] = '\0';
    int result = tuning_db_load_text(db, copy, length, "fuzz", check_params, why, sizeof why);
    free(copy);
    if (result == 0) {
        ++*successes;
        assert_string_equal(why, "");
        tuning_device device = {"opencl", "AMD", "cpu-haswell-AMD EPYC", "PoCL 3.1", 1};
        tuning_query query = {"gemv", "q4_0", 1, 64, 64};
        tuning_level level;
        (void)tuning_db_lookup(db, &device, &query, &level);
    } else {
        assert_int_equal(result, -1);
        assert_int_equal(tuning_db_count(db), 0);
        assert_true(strncmp(why, "fuzz: ", 6) == 0 && strlen(why) > 6);
    }
    tuning_db_destroy(db);
}

static void test_truncations(void **state)
{
    (void)state;
    size_t successes = 0, length = strlen(valid_text);
    for (size_t cut = 0; cut < length; ++cut)
        check_load(valid_text, cut, &successes);
    /* only the cut that drops the final newline */
    assert_int_equal(successes, 1);
}

static void test_fuzz(void **state)
{
    (void)state;
    static const char punctuation[] = "{}[]:,\"\\-+.0123456789eEtrufalsn \n\x01\x7f\x80\xc3\xed\xff";
    size_t base = strlen(valid_text), successes = 0;
    char *buffer = malloc(base + 64);
    assert_non_null(buffer);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int round = 0; round < 20000; ++round) {
        memcpy(buffer, valid_text, base);
        size_t length = base;
        int mutations = 1 + (int)(next(&seed) % 4);
        for (int m = 0; m < mutations && length > 0; ++m) {
            size_t at = (size_t)(next(&seed) % length);
            switch (next(&seed) % 4) {
            case 0: buffer[at] = (char)(buffer[at] ^ (char)(1 + next(&seed) % 255)); break;
            case 1:
                memmove(buffer + at, buffer + at + 1, length - at - 1);
                --length;
                break;
            case 2:
                if (length < base + 63) {
                    memmove(buffer + at + 1, buffer + at, length - at);
                    buffer[at] = punctuation[next(&seed) % (sizeof punctuation - 1)];
                    ++length;
                }
                break;
            default: length = at; break;
            }
        }
        check_load(buffer, length, &successes);
    }
    free(buffer);
    /* some mutations keep the text valid (whitespace, digits of a number, characters of a string) */
    assert_true(successes > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),      cmocka_unit_test(test_classes),
        cmocka_unit_test(test_lookup_levels),    cmocka_unit_test(test_overlay_and_put),
        cmocka_unit_test(test_write_round_trip), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_truncations),      cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
