/* cmc_server.c - the CMC nonce responder (placeholder until the PKIData templates land). */
#include <string.h>

#include "attfresh/server.h"

int af_ra_cmc_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    memset(rs, 0, sizeof(*rs));
    rs->status = 501;
    return 1;
}
