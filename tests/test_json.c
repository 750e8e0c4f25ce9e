/* test_json.c — the strict JSON reader of host/tuning/json.h on its own: the nesting limit, and the texts it must
 * accept or refuse with the position and reason it names (the tuning database's use of it: test_tuning_db.c). */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/tuning/json.h"

static char why[1024];

static void test_json_reader(void **state)
{
    (void)state;
    char deep[100];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    json_document *d = json_parse(deep, 64, why, sizeof why); /* 32 levels: the limit */
    assert_non_null(d);
    json_document_free(d);
    char deeper[100] = "{\"a\":"; /* 33 levels */
    memcpy(deeper + 5, deep, 64);
    memcpy(deeper + 69, "}", 2);
    d = json_parse(deeper, strlen(deeper), why, sizeof why);
    assert_null(d);
    assert_string_equal(why, "line 1 column 37 (offset 36): expected at most 32 nested arrays and objects");

    static const struct {
        const char *text;
        double value;
    } numbers[] = {{"0", 0},
                   {"-0", -0.0},
                   {"1E+2", 100},
                   {"1e-2", 0.01},
                   {"-12.5e1", -125},
                   {"1e-400", 0},
                   {"0.5", 0.5},
                   {"123456789", 123456789},
                   {"2.2250738585072014e-308", 2.2250738585072014e-308}};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; ++i) {
        d = json_parse(numbers[i].text, strlen(numbers[i].text), why, sizeof why);
        assert_non_null(d);
        assert_int_equal(json_document_root(d)->type, JSON_NUMBER);
        assert_true(json_document_root(d)->as.number == numbers[i].value);
        json_document_free(d);
    }
    const char text[] = " {\"a\" : [true, false, null, \"s\\u0000t\"], \"b\": {}, \"\": []} ";
    d = json_parse(text, sizeof text - 1, why, sizeof why);
    assert_non_null(d);
    const json_value *root = json_document_root(d);
    assert_int_equal(root->type, JSON_OBJECT);
    assert_int_equal(root->offset, 1);
    assert_int_equal(root->as.object.count, 3);
    const json_value *a = json_object_get(root, "a");
    assert_non_null(a);
    assert_int_equal(a->type, JSON_ARRAY);
    assert_int_equal(a->as.array.count, 4);
    assert_int_equal(a->as.array.items[0].type, JSON_TRUE);
    assert_int_equal(a->as.array.items[1].type, JSON_FALSE);
    assert_int_equal(a->as.array.items[2].type, JSON_NULL);
    assert_int_equal(a->as.array.items[3].as.string.length, 3);
    assert_memory_equal(a->as.array.items[3].as.string.chars, "s\0t", 4);
    assert_int_equal(json_object_get(root, "b")->as.object.count, 0);
    assert_int_equal(json_object_get(root, "")->as.array.count, 0);
    assert_null(json_object_get(root, "c"));
    assert_null(json_object_get(a, "a"));
    json_document_free(d);
    assert_null(json_parse(NULL, 0, why, sizeof why));
    assert_non_null(strstr(why, "end of text"));
    assert_null(json_parse("[", 1, NULL, 0)); /* no message buffer */
    json_document_free(NULL);

    /* writer: escapes and numbers read back exactly */
    json_buffer b = {0};
    json_append_string(&b, "a\"b\\c\n\x1f\xc3\xa9");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u001f\xc3\xa9\"");
    static const double values[] = {
        0, -0.0, 0.1, 0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, 123456789012345678.0, 1.0 / 3, 2.5e-3};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; ++i) {
        b.length = 0;
        json_append_number(&b, values[i]);
        assert_false(b.failed);
        d = json_parse(b.data, b.length, why, sizeof why);
        assert_non_null(d);
        assert_memory_equal(&json_document_root(d)->as.number, &values[i], sizeof(double));
        json_document_free(d);
    }
    b.length = 0;
    json_append_number(&b, 0.1);
    assert_string_equal(b.data, "0.1");
    json_append_number(&b, 1.0 / 0.0);
    assert_true(b.failed);
    json_buffer_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
