/* af_err.c - libattfresh's error library on OpenSSL's error queue: registration, reason strings,
 * and the one-line rendering the command prints. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"

static const struct {
    int reason;
    const char *text;
} reasons[] = {
    {AF_R_INTERNAL, "internal error"},
    {AF_R_MALLOC, "out of memory"},
    {AF_R_INVALID_ARGUMENT, "invalid argument"},
    {AF_R_IO, "I/O error"},
    {AF_R_TOO_LARGE, "input too large"},
    {AF_R_UNKNOWN_PROFILE, "unknown wire profile"},
    {AF_R_BAD_OID, "bad object identifier"},
    {AF_R_CRYPTO, "cryptographic operation failed"},
    {AF_R_NONCE_DECODE, "malformed nonce message"},
    {AF_R_NONCE_TRAILING, "trailing data after nonce message"},
    {AF_R_NONCE_BAD_LEN, "nonce length request out of range"},
    {AF_R_NONCE_BAD_NONCE, "bad nonce value"},
    {AF_R_NONCE_BAD_TYPE, "wrong member type"},
    {AF_R_NONCE_MISSING, "required member missing"},
    {AF_R_NONCE_DUPLICATE, "duplicate member"},
    {AF_R_NONCE_UNKNOWN, "unknown member"},
    {AF_R_NONCE_EXPIRY, "bad expiry"},
    {AF_R_NONCE_DEPTH, "nesting too deep"},
    {AF_R_NONCE_NOT_DER, "not DER"},
    {AF_R_NONCE_SHAPE, "message does not fit the profile"},
    {AF_R_NONCE_NONCANONICAL, "not in canonical form"},
    {AF_R_PROTO_TRANSPORT, "transport failed"},
    {AF_R_PROTO_HTTP_STATUS, "HTTP error status"},
    {AF_R_PROTO_PKISTATUS, "peer rejected the request"},
    {AF_R_PROTO_NO_NONCE, "no nonce response"},
    {AF_R_PROTO_BINDING, "transaction binding mismatch"},
    {AF_R_PROTO_PROTECTION, "message protection failed"},
    {AF_R_PROTO_MEDIA_TYPE, "wrong media type"},
    {AF_R_EVIDENCE_DECODE, "malformed evidence"},
    {AF_R_EVIDENCE_RULE, "evidence rule violated"},
    {AF_R_EVIDENCE_SIGNATURE, "evidence signature invalid"},
    {AF_R_EVIDENCE_TRUST, "attestation key not trusted"},
    {AF_R_EVIDENCE_KEY_MISMATCH, "evidence does not describe the CSR key"},
    {AF_R_EVIDENCE_POLICY, "key claims violate policy"},
    {AF_R_RA_UNKNOWN_NONCE, "nonce not issued by this RA"},
    {AF_R_RA_EXPIRED, "nonce expired"},
    {AF_R_RA_REUSED, "nonce already used"},
    {AF_R_RA_FULL, "nonce store full"},
    {AF_R_RA_RATE_LIMIT, "rate limit exceeded"},
    {AF_R_RA_WRONG_TRANSACTION, "nonce issued for another transaction"},
    {AF_R_RA_STORE, "nonce store failed"},
};

#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))

static CRYPTO_ONCE once = CRYPTO_ONCE_STATIC_INIT;
static int lib_code;
static ERR_STRING_DATA strings[NREASONS + 2];

static void do_register(void)
{
    size_t i;

    lib_code = ERR_get_next_error_library();
    strings[0].error = ERR_PACK(lib_code, 0, 0);
    strings[0].string = "attfresh library";
    for (i = 0; i < NREASONS; i++) {
        strings[i + 1].error = ERR_PACK(lib_code, 0, reasons[i].reason);
        strings[i + 1].string = reasons[i].text;
    }
    ERR_load_strings(lib_code, strings);
}

int af_err_lib(void)
{
    if (!CRYPTO_THREAD_run_once(&once, do_register))
        return 0;
    return lib_code;
}

const char *af_err_reason_text(int reason)
{
    size_t i;

    for (i = 0; i < NREASONS; i++)
        if (reasons[i].reason == reason)
            return reasons[i].text;
    return NULL;
}

void af_err_raise(int reason, const char *fmt, ...)
{
    va_list ap;

    ERR_new();
    ERR_set_debug(NULL, 0, NULL);
    va_start(ap, fmt);
    ERR_vset_error(af_err_lib(), reason, fmt, ap);
    va_end(ap);
}

char *af_err_line(char *buf, unsigned long bufsize)
{
    const char *data = NULL, *func = NULL;
    int flags = 0;
    unsigned long e, later;
    char reason[256];

    if (buf == NULL || bufsize == 0)
        return buf;
    /* The first error is the root cause; later ones are context added on the way up. */
    e = ERR_get_error_all(NULL, NULL, &func, &data, &flags);
    if (e == 0) {
        snprintf(buf, bufsize, "unknown error");
        return buf;
    }
    ERR_error_string_n(e, reason, sizeof(reason));
    {
        const char *r = ERR_reason_error_string(e);
        const char *lib = ERR_lib_error_string(e);

        if (r == NULL)
            r = reason;
        if (data != NULL && (flags & ERR_TXT_STRING) && *data != '\0')
            snprintf(buf, bufsize, "%s%s%s: %s", lib != NULL ? lib : "", lib != NULL ? ": " : "",
                     r, data);
        else
            snprintf(buf, bufsize, "%s%s%s", lib != NULL ? lib : "", lib != NULL ? ": " : "", r);
    }
    while ((later = ERR_get_error()) != 0)
        (void)later;
    return buf;
}
