/* proto_local.h - what the station-side protocol clients share inside libattfresh (not public):
 * certificate file loading, the request to send, filling the state after a successful exchange,
 * and the minimal CMP header view used to read/patch fields OpenSSL 3.0 has no accessor for. */
#ifndef AF_PROTO_LOCAL_H
#define AF_PROTO_LOCAL_H

#include <openssl/cmp.h>
#include <openssl/x509.h>

#include "attfresh/proto.h"

/* All certificates of a PEM file (or one DER certificate) into a new stack. */
int af_proto_load_certs(const char *path, STACK_OF(X509) **out);
/* A copy of the options' request, or a new request with one empty item. */
AF_NONCE_REQ *af_proto_request_or_empty(const AF_PROTO_OPTS *opts);
/* Sets protocol, URL, profile, created, response and expiry of st from a successful exchange. */
int af_proto_state_fill(AF_PROTO_STATE *st, const AF_PROTO_OPTS *opts, const char *url,
                        const AF_NONCE_RESP *resp);

#endif
