/* attfresh.c - the attfresh command: dispatches to the subcommands linked in. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apps.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} af_command;

static void usage(FILE *out, const af_command *cmds, size_t n)
{
    size_t i;

    fprintf(out, "usage: attfresh COMMAND [OPTIONS]   (attfresh COMMAND --help for details)\n\n"
                 "commands:\n");
    for (i = 0; i < n; i++)
        if (cmds[i].fn != NULL)
            fprintf(out, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
}

int main(int argc, char **argv)
{
    const af_command cmds[] = {
        {"nonce", af_cmd_nonce, "make, show and get nonce requests and responses"},
        {"serve", af_cmd_serve, "run the RA responder (CMP, EST, CMC)"},
        {"ak", af_cmd_ak, "create an Attestation Key in the token"},
        {"attest", af_cmd_attest, "sign nonce-bound Evidence in the HSM"},
        {"csr", af_cmd_csr, "make a CSR that carries Evidence"},
        {"verify", af_cmd_verify, "check an attested CSR as the RA does"},
        {"enroll", af_cmd_enroll, "nonce, Evidence, CSR and certificate in one transaction"},
        {"cert", af_cmd_cert, "store a certificate in the token next to its key"},
    };
    const size_t n = sizeof(cmds) / sizeof(cmds[0]);
    size_t i;

    if (argc < 2) {
        usage(stderr, cmds, n);
        return AF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout, cmds, n);
        return AF_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("attfresh %s (%s)\n", AF_VERSION, OpenSSL_version(OPENSSL_VERSION));
        return AF_EXIT_OK;
    }
    for (i = 0; i < n; i++)
        if (cmds[i].fn != NULL && strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "attfresh: unknown command '%s'\n", argv[1]);
    usage(stderr, cmds, n);
    return AF_EXIT_USAGE;
}
