/* est_client.c - the station's EST nonce exchange (nonce-protocol.md 5.2) over HTTPS with
 * libcurl. */
#include "attfresh/err.h"
#include "attfresh/proto.h"

int af_est_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state)
{
    AF_ERR(AF_R_INTERNAL, "EST client not yet available");
    return 0;
}
