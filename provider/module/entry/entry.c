/* entry.c - the module's only exported symbol. The provider itself lives in the static library
 * attfresh_prov so that tests can link it and register it with OSSL_PROVIDER_add_builtin. */
#include <openssl/core.h>

int af_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx);

__attribute__((visibility("default"))) int OSSL_provider_init(const OSSL_CORE_HANDLE *handle,
                                                              const OSSL_DISPATCH *in,
                                                              const OSSL_DISPATCH **out,
                                                              void **provctx)
{
    return af_provider_init(handle, in, out, provctx);
}
