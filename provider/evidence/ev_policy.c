/* ev_policy.c - the key-claim policy the verifier applies to the key element of the CSR key:
 * required values of the four PKCS#11 booleans, required/forbidden capabilities, and what to do
 * about absent claims; parsed from a small "name = value" file (format in evidence.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/params.h"
#include "evidence/ev_local.h"

#define MAX_POLICY_TEXT (64 * 1024)

/* -1 any, 0 must be false, 1 must be true */
struct af_policy_st {
    int sensitive, never_extractable, local, extractable;
    int reject_missing;
    unsigned int require_caps, forbid_caps;
};

AF_POLICY *af_policy_new(void)
{
    AF_POLICY *p = OPENSSL_zalloc(sizeof(*p));

    if (p == NULL) {
        AF_ERR(AF_R_MALLOC, "policy");
        return NULL;
    }
    p->sensitive = 1;
    p->never_extractable = 1;
    p->local = 1;
    p->extractable = 0;
    p->reject_missing = 1;
    return p;
}

void af_policy_free(AF_POLICY *p)
{
    OPENSSL_free(p);
}

AF_POLICY *af_policy_dup(const AF_POLICY *p)
{
    AF_POLICY *d = OPENSSL_memdup(p, sizeof(*p));

    if (d == NULL)
        AF_ERR(AF_R_MALLOC, "policy");
    return d;
}

static int cap_bits(const char *list, unsigned int *bits, int line)
{
    char buf[256], *tok, *save = NULL;

    *bits = 0;
    if (strlen(list) >= sizeof(buf)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "policy line %d: capability list too long", line);
        return 0;
    }
    strcpy(buf, list);
    for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
        int i, found = 0;

        for (i = 0; i <= AF_OID_EV_CAP_DERIVE - AF_OID_EV_CAP_ENCRYPT; i++) {
            /* capability names are the table's short names without "id-ev-cap-" */
            const char *sn =
                af_oid_entry((af_oid_id)(AF_OID_EV_CAP_ENCRYPT + i))->sn + strlen("id-ev-cap-");

            if (strcasecmp(tok, sn) == 0 ||
                (strcmp(sn, "signRecover") == 0 && strcasecmp(tok, "sign-recover") == 0) ||
                (strcmp(sn, "verifyRecover") == 0 && strcasecmp(tok, "verify-recover") == 0)) {
                *bits |= 1u << i;
                found = 1;
            }
        }
        if (!found) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "policy line %d: unknown capability '%.40s'", line, tok);
            return 0;
        }
    }
    return 1;
}

static int parse_line(AF_POLICY *p, char *name, char *value, int line)
{
    int *b = NULL;

    if (strcmp(name, "sensitive") == 0)
        b = &p->sensitive;
    else if (strcmp(name, "never-extractable") == 0)
        b = &p->never_extractable;
    else if (strcmp(name, "local") == 0)
        b = &p->local;
    else if (strcmp(name, "extractable") == 0)
        b = &p->extractable;
    if (b != NULL) {
        if (strcmp(value, "true") == 0)
            *b = 1;
        else if (strcmp(value, "false") == 0)
            *b = 0;
        else if (strcmp(value, "any") == 0)
            *b = -1;
        else {
            AF_ERR(AF_R_INVALID_ARGUMENT, "policy line %d: %s must be true, false or any", line,
                   name);
            return 0;
        }
        return 1;
    }
    if (strcmp(name, "missing") == 0) {
        if (strcmp(value, "reject") == 0)
            p->reject_missing = 1;
        else if (strcmp(value, "accept") == 0)
            p->reject_missing = 0;
        else {
            AF_ERR(AF_R_INVALID_ARGUMENT, "policy line %d: missing must be reject or accept", line);
            return 0;
        }
        return 1;
    }
    if (strcmp(name, "require-purpose") == 0)
        return cap_bits(value, &p->require_caps, line);
    if (strcmp(name, "forbid-purpose") == 0)
        return cap_bits(value, &p->forbid_caps, line);
    AF_ERR(AF_R_INVALID_ARGUMENT, "policy line %d: unknown setting '%.40s'", line, name);
    return 0;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int af_policy_parse(AF_POLICY *p, const char *text, size_t len)
{
    AF_POLICY tmp;
    char *copy, *cur, *nl;
    int line = 0, ok = 0;

    if (p == NULL || text == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no policy");
        return 0;
    }
    if (len > MAX_POLICY_TEXT) {
        AF_ERR(AF_R_TOO_LARGE, "policy of %zu bytes", len);
        return 0;
    }
    if ((copy = OPENSSL_strndup(text, len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "policy");
        return 0;
    }
    if (strlen(copy) != len) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "policy contains a NUL byte");
        goto done;
    }
    tmp = *p; /* all or nothing */
    for (cur = copy; cur != NULL; cur = nl) {
        char *eq, *l;

        line++;
        if ((nl = strchr(cur, '\n')) != NULL)
            *nl++ = '\0';
        if ((eq = strchr(cur, '#')) != NULL)
            *eq = '\0';
        l = trim(cur);
        if (*l == '\0')
            continue;
        if ((eq = strchr(l, '=')) == NULL) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "policy line %d: expected 'name = value'", line);
            goto done;
        }
        *eq = '\0';
        if (!parse_line(&tmp, trim(l), trim(eq + 1), line))
            goto done;
    }
    *p = tmp;
    ok = 1;
done:
    OPENSSL_free(copy);
    return ok;
}

int af_policy_load(AF_POLICY *p, const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    char *buf = NULL;
    int n, ok = 0;

    if (b == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_IO, "cannot open policy file %s", path);
        return 0;
    }
    if ((buf = OPENSSL_malloc(MAX_POLICY_TEXT + 1)) == NULL) {
        AF_ERR(AF_R_MALLOC, "policy");
        goto done;
    }
    n = BIO_read(b, buf, MAX_POLICY_TEXT + 1);
    if (n < 0)
        n = 0;
    if (n > MAX_POLICY_TEXT) {
        AF_ERR(AF_R_TOO_LARGE, "policy file %s is larger than %d bytes", path, MAX_POLICY_TEXT);
        goto done;
    }
    ok = af_policy_parse(p, buf, (size_t)n);
done:
    OPENSSL_free(buf);
    BIO_free(b);
    return ok;
}

/* Checks kc against p; on failure writes the reason into why. */
int af_policy_check(const AF_POLICY *p, const AF_KEY_CLAIMS *kc, char *why, size_t whysize)
{
    const struct {
        const char *name;
        int want, have;
    } b[] = {
        {"sensitive", p->sensitive, kc->sensitive},
        {"never-extractable", p->never_extractable, kc->never_extractable},
        {"local", p->local, kc->local},
        {"extractable", p->extractable, kc->extractable},
    };
    size_t i;

    for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        if (b[i].want < 0)
            continue;
        if (b[i].have < 0) {
            if (!p->reject_missing)
                continue;
            snprintf(why, whysize, "the Evidence does not state %s (policy requires %s)", b[i].name,
                     b[i].want ? "true" : "false");
            return 0;
        }
        if (b[i].have != b[i].want) {
            snprintf(why, whysize, "%s is %s, policy requires %s", b[i].name,
                     b[i].have ? "true" : "false", b[i].want ? "true" : "false");
            return 0;
        }
    }
    if (p->require_caps != 0 || p->forbid_caps != 0) {
        if (!kc->has_purpose) {
            if (p->reject_missing) {
                snprintf(why, whysize, "the Evidence does not state the key purpose");
                return 0;
            }
        } else if ((kc->purpose & p->require_caps) != p->require_caps) {
            snprintf(why, whysize, "purpose lacks a required capability (have 0x%x, need 0x%x)",
                     kc->purpose, p->require_caps);
            return 0;
        } else if ((kc->purpose & p->forbid_caps) != 0) {
            snprintf(why, whysize, "purpose includes a forbidden capability (0x%x)",
                     kc->purpose & p->forbid_caps);
            return 0;
        }
    }
    return 1;
}
