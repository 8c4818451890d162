/* apps.h - what the attfresh subcommands share: the command table entry points, one-line error
 * reporting, bounded input, atomic output (nothing half-written), hex helpers. */
#ifndef AF_APPS_H
#define AF_APPS_H

#include <stddef.h>
#include <stdio.h>

/* Subcommands; each lives in cmd_<name>.c. Declared weak so the dispatcher lists only the ones
 * linked in. Each returns the process exit code (0 success, 1 failure, 2 usage). */
int af_cmd_nonce(int argc, char **argv) __attribute__((weak));
int af_cmd_serve(int argc, char **argv) __attribute__((weak));
int af_cmd_ak(int argc, char **argv) __attribute__((weak));
int af_cmd_attest(int argc, char **argv) __attribute__((weak));
int af_cmd_csr(int argc, char **argv) __attribute__((weak));
int af_cmd_verify(int argc, char **argv) __attribute__((weak));
int af_cmd_enroll(int argc, char **argv) __attribute__((weak));
int af_cmd_cert(int argc, char **argv) __attribute__((weak));

#define AF_EXIT_OK 0
#define AF_EXIT_FAIL 1
#define AF_EXIT_USAGE 2

/* Largest input any command reads from a file or stdin. */
#define AF_APP_MAX_INPUT (1024 * 1024)

/* Prints "attfresh: <what>: <reason from the error queue>" as one line to stderr and clears the
 * queue; returns AF_EXIT_FAIL. */
int af_app_fail(const char *what, ...) __attribute__((format(printf, 1, 2)));
/* Prints "attfresh: <message>" (usage problems); returns AF_EXIT_USAGE. */
int af_app_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads path ("-" = stdin) up to AF_APP_MAX_INPUT bytes into a new buffer (OPENSSL_free). Raises
 * an error on the queue and returns NULL on failure or when the input is larger. */
unsigned char *af_app_read(const char *path, size_t *len);
/* Writes data to path ("-" or NULL = stdout) atomically: a temp file in the same directory,
 * fsync, rename. mode applies to the new file (e.g. 0644, 0600). Returns 1/0 (error raised). */
int af_app_write(const char *path, const unsigned char *data, size_t len, unsigned int mode);

/* One option of a subcommand, for af_app_opts. A flag (val == NULL) sets *flag to 1; a value
 * option stores the next argument in *val, or, with max > 0, in val[*count] (up to max times). */
typedef struct {
    const char *name; /* "--key" */
    int *flag;
    const char **val;
    int *count;
    int max;
} AF_APP_OPT;

/* Parses argv[1..] against opts (ended by {NULL}); cmd prefixes the usage lines ("attest").
 * --help/-h print help(stdout). Returns 1 when the command should go on, else 0 with *exit_code
 * set: AF_EXIT_OK after help, AF_EXIT_USAGE after an unknown option or a missing value. */
int af_app_opts(const char *cmd, int argc, char **argv, const AF_APP_OPT *opts,
                void (*help)(FILE *out), int *exit_code);

/* Hex <-> bytes. af_app_unhex returns a new buffer (OPENSSL_free) or NULL with an error raised. */
unsigned char *af_app_unhex(const char *hex, size_t *len);
char *af_app_hex(const unsigned char *data, size_t len);

#endif
