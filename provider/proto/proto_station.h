/* proto_station.h - what the station's protocol clients (est_client.c, cmc_client.c,
 * cmp_client.c, enroll_client.c) share inside libattfresh and nobody else needs: the libcurl
 * handles kept by the options (so a transaction's requests reuse one connection, TLS session and
 * loaded CA file). */
#ifndef AF_PROTO_STATION_H
#define AF_PROTO_STATION_H

#include <curl/curl.h>

#include "attfresh/proto.h"

/* A libcurl handle for a request made with opts, all options at their defaults
 * (curl_easy_reset) but its live connections, TLS session cache and cached CA store kept from
 * earlier requests with the same options. Borrowed from the options' pool (a cache, not an
 * option: it is why a const opts is enough) or new when the pool is empty, so concurrent threads
 * each get their own handle. NULL with an error raised. */
CURL *af_proto_http_get(const AF_PROTO_OPTS *opts);
/* Gives the handle back to the pool (cleaned up when the pool is full); NULL is fine. */
void af_proto_http_put(const AF_PROTO_OPTS *opts, CURL *curl);

#endif
