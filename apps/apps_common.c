/* apps_common.c - error lines, option parsing, bounded reads, atomic writes and hex for the subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "apps.h"
#include "attfresh/err.h"

int af_app_fail(const char *what, ...)
{
    char why[1024], msg[512];
    va_list ap;

    va_start(ap, what);
    vsnprintf(msg, sizeof(msg), what, ap);
    va_end(ap);
    af_err_line(why, sizeof(why));
    fprintf(stderr, "attfresh: %s: %s\n", msg, why);
    return AF_EXIT_FAIL;
}

int af_app_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("attfresh: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return AF_EXIT_USAGE;
}

int af_app_opts(const char *cmd, int argc, char **argv, const AF_APP_OPT *opts,
                void (*help)(FILE *out), int *exit_code)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const AF_APP_OPT *o;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help(stdout);
            *exit_code = AF_EXIT_OK;
            return 0;
        }
        for (o = opts; o->name != NULL && strcmp(a, o->name) != 0; o++)
            continue;
        if (o->name == NULL) {
            *exit_code = af_app_usage("%s: unknown option '%s'", cmd, a);
            return 0;
        }
        if (o->val == NULL) {
            *o->flag = 1;
            continue;
        }
        if (o->max > 0 && *o->count == o->max) {
            *exit_code = af_app_usage("at most %d %s options", o->max, o->name);
            return 0;
        }
        if (++i == argc) {
            *exit_code = af_app_usage("%s: %s needs a value", cmd, a);
            return 0;
        }
        if (o->max > 0)
            o->val[(*o->count)++] = argv[i];
        else
            *o->val = argv[i];
    }
    return 1;
}

unsigned char *af_app_read(const char *path, size_t *len)
{
    FILE *f;
    unsigned char *buf;
    size_t n = 0;

    if (strcmp(path, "-") == 0) {
        f = stdin;
    } else if ((f = fopen(path, "rb")) == NULL) {
        AF_ERR(AF_R_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    buf = OPENSSL_malloc(AF_APP_MAX_INPUT + 1);
    if (buf == NULL) {
        AF_ERR(AF_R_MALLOC, "reading %s", path);
        goto err;
    }
    n = fread(buf, 1, AF_APP_MAX_INPUT + 1, f);
    if (ferror(f)) {
        AF_ERR(AF_R_IO, "cannot read %s: %s", path, strerror(errno));
        goto err;
    }
    if (n > AF_APP_MAX_INPUT) {
        AF_ERR(AF_R_TOO_LARGE, "%s is larger than %d bytes", path, AF_APP_MAX_INPUT);
        goto err;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
err:
    OPENSSL_free(buf);
    if (f != stdin)
        fclose(f);
    return NULL;
}

int af_app_write(const char *path, const unsigned char *data, size_t len, unsigned int mode)
{
    char *tmp = NULL;
    int fd = -1, ok = 0;
    size_t off = 0;

    if (path == NULL || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            AF_ERR(AF_R_IO, "cannot write to standard output: %s", strerror(errno));
            return 0;
        }
        return 1;
    }
    tmp = OPENSSL_malloc(strlen(path) + 16);
    if (tmp == NULL) {
        AF_ERR(AF_R_MALLOC, "writing %s", path);
        return 0;
    }
    sprintf(tmp, "%s.tmpXXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0) {
        AF_ERR(AF_R_IO, "cannot create a file next to %s: %s", path, strerror(errno));
        goto done;
    }
    if (fchmod(fd, mode) != 0) {
        AF_ERR(AF_R_IO, "cannot set the mode of %s: %s", path, strerror(errno));
        goto done;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            AF_ERR(AF_R_IO, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        AF_ERR(AF_R_IO, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        AF_ERR(AF_R_IO, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    ok = 1;
done:
    if (fd >= 0)
        close(fd);
    if (!ok && tmp != NULL)
        unlink(tmp);
    OPENSSL_free(tmp);
    return ok;
}

unsigned char *af_app_unhex(const char *hex, size_t *len)
{
    long n = 0;
    unsigned char *out;

    if (hex == NULL || *hex == '\0') {
        AF_ERR(AF_R_INVALID_ARGUMENT, "empty hex string");
        return NULL;
    }
    /* Accepts "a1b2..." and "a1:b2:..." */
    if ((out = OPENSSL_hexstr2buf(hex, &n)) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_INVALID_ARGUMENT, "not a hex string: '%.40s'", hex);
        return NULL;
    }
    *len = (size_t)n;
    return out;
}

char *af_app_hex(const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = OPENSSL_malloc(len * 2 + 1);
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}
