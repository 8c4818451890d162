/* ev_checks.c - the verification result list: one named PASS/FAIL/SKIP entry per check, printed as
 * text lines or as one JSON object (jansson, fixed key order). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

#define MAX_CHECKS 256

typedef struct {
    char *name;
    af_check_status st;
    char *detail;
} check;

struct af_checks_st {
    check *v;
    size_t n, cap;
};

AF_CHECKS *af_checks_new(void)
{
    AF_CHECKS *c = OPENSSL_zalloc(sizeof(*c));

    if (c == NULL)
        AF_ERR(AF_R_MALLOC, "check list");
    return c;
}

void af_checks_free(AF_CHECKS *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++) {
        OPENSSL_free(c->v[i].name);
        OPENSSL_free(c->v[i].detail);
    }
    OPENSSL_free(c->v);
    OPENSSL_free(c);
}

int af_checks_add(AF_CHECKS *c, const char *name, af_check_status st, const char *fmt, ...)
{
    char buf[1024] = "";
    check *e;
    size_t i;

    if (c == NULL || name == NULL)
        return 0;
    if (c->n == MAX_CHECKS) {
        AF_ERR(AF_R_TOO_LARGE, "more than %d checks", MAX_CHECKS);
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 16 : c->cap * 2;
        check *v = OPENSSL_realloc(c->v, cap * sizeof(*v));

        if (v == NULL) {
            AF_ERR(AF_R_MALLOC, "check list");
            return 0;
        }
        c->v = v;
        c->cap = cap;
    }
    if (fmt != NULL) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
    }
    /* Details quote untrusted input (identifiers, hints): keep them printable ASCII so the text
     * and JSON outputs stay one clean line. */
    for (e = NULL, i = 0; buf[i] != '\0'; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
            buf[i] = '?';
    e = &c->v[c->n];
    e->name = OPENSSL_strdup(name);
    e->detail = OPENSSL_strdup(buf);
    e->st = st;
    if (e->name == NULL || e->detail == NULL) {
        OPENSSL_free(e->name);
        OPENSSL_free(e->detail);
        AF_ERR(AF_R_MALLOC, "check list");
        return 0;
    }
    c->n++;
    return 1;
}

size_t af_checks_count(const AF_CHECKS *c)
{
    return c == NULL ? 0 : c->n;
}

const char *af_checks_name(const AF_CHECKS *c, size_t i)
{
    return c == NULL || i >= c->n ? NULL : c->v[i].name;
}

af_check_status af_checks_status(const AF_CHECKS *c, size_t i)
{
    return c == NULL || i >= c->n ? AF_CHECK_FAIL : c->v[i].st;
}

const char *af_checks_detail(const AF_CHECKS *c, size_t i)
{
    return c == NULL || i >= c->n ? NULL : c->v[i].detail;
}

int af_checks_first_failure(const AF_CHECKS *c)
{
    size_t i;

    for (i = 0; c != NULL && i < c->n; i++)
        if (c->v[i].st == AF_CHECK_FAIL)
            return (int)i;
    return -1;
}

int af_checks_passed(const AF_CHECKS *c)
{
    return c != NULL && c->n > 0 && af_checks_first_failure(c) < 0;
}

static const char *status_text(af_check_status st)
{
    return st == AF_CHECK_PASS ? "pass" : st == AF_CHECK_SKIP ? "skip" : "fail";
}

int af_checks_print(BIO *out, const AF_CHECKS *c)
{
    size_t i;

    for (i = 0; c != NULL && i < c->n; i++) {
        const char *s = c->v[i].st == AF_CHECK_PASS   ? "PASS"
                        : c->v[i].st == AF_CHECK_SKIP ? "SKIP"
                                                      : "FAIL";

        if (c->v[i].detail[0] != '\0')
            BIO_printf(out, "%s %s: %s\n", s, c->v[i].name, c->v[i].detail);
        else
            BIO_printf(out, "%s %s\n", s, c->v[i].name);
    }
    return 1;
}

char *af_checks_to_json(const AF_CHECKS *c)
{
    json_t *root = json_object(), *arr = json_array();
    char *txt = NULL, *out = NULL;
    size_t i;

    if (root == NULL || arr == NULL)
        goto done;
    if (json_object_set_new(root, "passed", json_boolean(af_checks_passed(c))) != 0)
        goto done;
    for (i = 0; c != NULL && i < c->n; i++) {
        json_t *o = json_object();

        if (o == NULL || json_object_set_new(o, "name", json_string(c->v[i].name)) != 0 ||
            json_object_set_new(o, "status", json_string(status_text(c->v[i].st))) != 0 ||
            json_object_set_new(o, "detail", json_string(c->v[i].detail)) != 0 ||
            json_array_append_new(arr, o) != 0) {
            json_decref(o);
            goto done;
        }
    }
    if (json_object_set(root, "checks", arr) != 0)
        goto done;
    txt = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (txt != NULL && (out = OPENSSL_malloc(strlen(txt) + 2)) != NULL) {
        strcpy(out, txt);
        strcat(out, "\n");
    }
done:
    if (out == NULL)
        AF_ERR(AF_R_MALLOC, "JSON results");
    free(txt);
    json_decref(arr);
    json_decref(root);
    return out;
}
