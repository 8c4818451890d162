/* objects.c - registers every OID of the one table (provider/common/oids.c) with the core, so
 * that `openssl asn1parse` prints id-it-nonceRequest and `openssl cmp -infotype nonceRequest`
 * resolves. Cheap and local: safe at provider init. */
#include <stddef.h>

#include <openssl/err.h>

#include "attfresh/oids.h"
#include "module/prov_local.h"

int af_objects_register(AF_PROV_CTX *pc)
{
    const AF_OID_ENTRY *t;
    size_t n, i;

    t = af_oid_table(&n);
    ERR_set_mark(); /* a refused name leaves errors that are not the caller's */
    for (i = 0; i < n; i++) {
        /* The core creates the OID or accepts it when it already exists (another instance of
         * this provider, or a newer OpenSSL that knows it). A name clash with a different OID
         * is logged, not fatal: the provider's operations do not depend on names. */
        /* The short name doubles as the long name, as OpenSSL does for its own id-it-* OIDs:
         * printers (asn1parse, -text) show the long name, and users look for id-it-... */
        if (!af_prov_obj_create(pc, t[i].oid, t[i].sn, t[i].sn))
            af_prov_log(pc, AF_LOG_INFO, "OID %s (%s) not registered", t[i].oid, t[i].sn);
    }
    ERR_pop_to_mark();
    return 1;
}
