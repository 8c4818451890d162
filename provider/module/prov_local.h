/* prov_local.h - what prov.c shares only with the other provider-core files it owns (objects.c,
 * rand.c): the core's object upcalls and the effective configuration. Operation files use
 * prov.h only. */
#ifndef ATTFRESH_PROV_LOCAL_H
#define ATTFRESH_PROV_LOCAL_H

#include "module/config.h"
#include "module/prov.h"

/* core_obj_create: 1 when the OID exists afterwards (created now or before). 0 when the core
 * offers no such upcall or refused. */
int af_prov_obj_create(const AF_PROV_CTX *pc, const char *oid, const char *sn, const char *ln);
const AF_PROV_CONFIG *af_prov_config(const AF_PROV_CTX *pc);

#endif
