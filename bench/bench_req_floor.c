/* bench_req_floor.c - the floor under `openssl req -new -key 'pkcs11:…'`: what a process that
 * talks PKCS#11 directly pays for the same job, i.e. load the module, C_Initialize, find the
 * token, open a session, C_Login, find the key by label, hash the request body and C_SignInit +
 * C_Sign it once. bench/provider.sh times it with hyperfine next to the `openssl req` rows, so
 * the report can split a token `req` into the token's fixed cost (this program minus its own
 * `--baseline` start-up) and what OpenSSL + attfresh add on top.
 *
 *   bench_req_floor --module SO --token LABEL --pin-file FILE --label KEY [--baseline]
 *
 * --baseline parses the options and exits: the process start-up of this very binary (its shared
 * libraries included), to subtract. Exit status 0 on success, 1 on any failure (said on stderr).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

static void usage(void)
{
    fprintf(stderr, "usage: bench_req_floor --module SO --token LABEL --pin-file FILE "
                    "--label KEY [--baseline]\n");
    exit(1);
}

static int fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "bench_req_floor: %s failed (CK_RV 0x%lx)\n", what, rv);
    return 1;
}

/* Blank-padded CK_TOKEN_INFO label equal to label? */
static int label_is(const CK_UTF8CHAR field[32], const char *label)
{
    size_t n = strlen(label), i;

    if (n > 32 || memcmp(field, label, n) != 0)
        return 0;
    for (i = n; i < 32; i++)
        if (field[i] != ' ')
            return 0;
    return 1;
}

static int read_pin(const char *path, char *pin, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL || fgets(pin, (int)size, f) == NULL) {
        if (f != NULL)
            fclose(f);
        return 0;
    }
    fclose(f);
    n = strcspn(pin, "\r\n");
    pin[n] = '\0';
    return n > 0;
}

int main(int argc, char **argv)
{
    const char *module = NULL, *token = NULL, *pin_file = NULL, *label = NULL;
    /* what `openssl req` signs is a short DER body; its size hardly matters next to C_Login */
    static const unsigned char body[] = "CertificationRequestInfo stand-in: /CN=bench";
    CK_FUNCTION_LIST *fl;
    CK_C_GetFunctionList getfl;
    CK_C_INITIALIZE_ARGS init;
    CK_SLOT_ID slots[64], slot = 0;
    CK_ULONG nslots = 64, i, found = 0, siglen;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2];
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    unsigned char digest[SHA256_DIGEST_LENGTH], sig[512];
    char pin[256];
    int baseline = 0, have_slot = 0, a;
    void *dl;
    CK_RV rv;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--baseline") == 0)
            baseline = 1;
        else if (a + 1 < argc && strcmp(argv[a], "--module") == 0)
            module = argv[++a];
        else if (a + 1 < argc && strcmp(argv[a], "--token") == 0)
            token = argv[++a];
        else if (a + 1 < argc && strcmp(argv[a], "--pin-file") == 0)
            pin_file = argv[++a];
        else if (a + 1 < argc && strcmp(argv[a], "--label") == 0)
            label = argv[++a];
        else
            usage();
    }
    if (module == NULL || token == NULL || pin_file == NULL || label == NULL)
        usage();
    if (baseline)
        return 0;

    if ((dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "bench_req_floor: cannot load %s: %s\n", module, dlerror());
        return 1;
    }
    if ((getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL ||
        (rv = getfl(&fl)) != CKR_OK)
        return fail("C_GetFunctionList", CKR_GENERAL_ERROR);
    memset(&init, 0, sizeof(init));
    init.flags = CKF_OS_LOCKING_OK;
    if ((rv = fl->C_Initialize(&init)) != CKR_OK)
        return fail("C_Initialize", rv);
    if ((rv = fl->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK)
        return fail("C_GetSlotList", rv);
    for (i = 0; i < nslots && !have_slot; i++) {
        CK_TOKEN_INFO ti;

        if (fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK && label_is(ti.label, token)) {
            slot = slots[i];
            have_slot = 1;
        }
    }
    if (!have_slot) {
        fprintf(stderr, "bench_req_floor: no token labelled '%s'\n", token);
        return 1;
    }
    if ((rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK)
        return fail("C_OpenSession", rv);
    if (!read_pin(pin_file, pin, sizeof(pin))) {
        fprintf(stderr, "bench_req_floor: cannot read a PIN from %s\n", pin_file);
        return 1;
    }
    rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
    OPENSSL_cleanse(pin, sizeof(pin));
    if (rv != CKR_OK)
        return fail("C_Login", rv);
    tmpl[0].type = CKA_CLASS;
    tmpl[0].pValue = &cls;
    tmpl[0].ulValueLen = sizeof(cls);
    tmpl[1].type = CKA_LABEL;
    tmpl[1].pValue = (void *)label;
    tmpl[1].ulValueLen = (CK_ULONG)strlen(label);
    if ((rv = fl->C_FindObjectsInit(s, tmpl, 2)) != CKR_OK)
        return fail("C_FindObjectsInit", rv);
    rv = fl->C_FindObjects(s, &key, 1, &found);
    (void)fl->C_FindObjectsFinal(s);
    if (rv != CKR_OK || found != 1) {
        fprintf(stderr, "bench_req_floor: no private key labelled '%s'\n", label);
        return 1;
    }
    SHA256(body, sizeof(body) - 1, digest);
    siglen = sizeof(sig);
    if ((rv = fl->C_SignInit(s, &mech, key)) != CKR_OK)
        return fail("C_SignInit", rv);
    if ((rv = fl->C_Sign(s, digest, sizeof(digest), sig, &siglen)) != CKR_OK)
        return fail("C_Sign", rv);
    /* No C_CloseSession/C_Finalize: attfresh skips them at exit too (SoftHSM2 crashes in them
     * during OpenSSL's cleanup), so both sides leave the same work to the kernel. */
    return 0;
}
