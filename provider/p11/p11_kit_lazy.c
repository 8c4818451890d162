/* p11_kit_lazy.c - p11-kit's URI functions (the RFC 7512 parser, formatter and matcher), bound
 * from libp11-kit.so.0 on first use. attfresh.so does not link libp11-kit: loading it (and
 * libffi behind it) would cost every process that merely has the provider in openssl.cnf about
 * 0.2 ms, before any pkcs11: URI is seen. The definitions carry p11-kit's own names and
 * prototypes (checked against <p11-kit/uri.h>), so callers use the documented API unchanged. */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include <p11-kit/uri.h>

#define P11KIT_SONAME "libp11-kit.so.0"

/* X(return type, name, parameters, arguments, value when libp11-kit is unavailable) */
#define P11KIT_URI_FUNCS(X, V)                                                                     \
    X(P11KitUri *, p11_kit_uri_new, (void), (), NULL)                                              \
    V(p11_kit_uri_free, (P11KitUri * uri), (uri))                                                  \
    X(int, p11_kit_uri_parse, (const char *string, P11KitUriType uri_type, P11KitUri *uri),        \
      (string, uri_type, uri), P11_KIT_URI_NO_MEMORY)                                              \
    X(int, p11_kit_uri_format, (P11KitUri * uri, P11KitUriType uri_type, char **string),           \
      (uri, uri_type, string), P11_KIT_URI_NO_MEMORY)                                              \
    X(const char *, p11_kit_uri_message, (int code), (code), "libp11-kit.so.0 is not available")   \
    X(CK_INFO_PTR, p11_kit_uri_get_module_info, (P11KitUri * uri), (uri), NULL)                    \
    X(int, p11_kit_uri_match_module_info, (const P11KitUri *uri, const CK_INFO *info),             \
      (uri, info), 0)                                                                              \
    X(CK_SLOT_INFO_PTR, p11_kit_uri_get_slot_info, (P11KitUri * uri), (uri), NULL)                 \
    X(int, p11_kit_uri_match_slot_info, (const P11KitUri *uri, const CK_SLOT_INFO *slot_info),     \
      (uri, slot_info), 0)                                                                         \
    X(CK_SLOT_ID, p11_kit_uri_get_slot_id, (P11KitUri * uri), (uri), (CK_SLOT_ID)-1)               \
    V(p11_kit_uri_set_slot_id, (P11KitUri * uri, CK_SLOT_ID slot_id), (uri, slot_id))              \
    X(CK_TOKEN_INFO_PTR, p11_kit_uri_get_token_info, (P11KitUri * uri), (uri), NULL)               \
    X(int, p11_kit_uri_match_token_info, (const P11KitUri *uri, const CK_TOKEN_INFO *token_info),  \
      (uri, token_info), 0)                                                                        \
    X(CK_ATTRIBUTE_PTR, p11_kit_uri_get_attribute, (P11KitUri * uri, CK_ATTRIBUTE_TYPE attr_type), \
      (uri, attr_type), NULL)                                                                      \
    X(int, p11_kit_uri_set_attribute, (P11KitUri * uri, CK_ATTRIBUTE_PTR attr), (uri, attr),       \
      P11_KIT_URI_NO_MEMORY)                                                                       \
    X(int, p11_kit_uri_clear_attribute, (P11KitUri * uri, CK_ATTRIBUTE_TYPE attr_type),            \
      (uri, attr_type), P11_KIT_URI_NO_MEMORY)                                                     \
    X(CK_ATTRIBUTE_PTR, p11_kit_uri_get_attributes, (P11KitUri * uri, CK_ULONG * n_attrs),         \
      (uri, n_attrs), NULL)                                                                        \
    X(int, p11_kit_uri_set_attributes, (P11KitUri * uri, CK_ATTRIBUTE_PTR attrs, CK_ULONG n),      \
      (uri, attrs, n), P11_KIT_URI_NO_MEMORY)                                                      \
    V(p11_kit_uri_clear_attributes, (P11KitUri * uri), (uri))                                      \
    X(int, p11_kit_uri_match_attributes,                                                           \
      (const P11KitUri *uri, const CK_ATTRIBUTE *attrs, CK_ULONG n), (uri, attrs, n), 0)           \
    X(const char *, p11_kit_uri_get_pin_value, (const P11KitUri *uri), (uri), NULL)                \
    V(p11_kit_uri_set_pin_value, (P11KitUri * uri, const char *pin), (uri, pin))                   \
    X(const char *, p11_kit_uri_get_pin_source, (const P11KitUri *uri), (uri), NULL)               \
    V(p11_kit_uri_set_pin_source, (P11KitUri * uri, const char *pin_source), (uri, pin_source))    \
    X(const char *, p11_kit_uri_get_module_name, (const P11KitUri *uri), (uri), NULL)              \
    V(p11_kit_uri_set_module_name, (P11KitUri * uri, const char *name), (uri, name))               \
    X(const char *, p11_kit_uri_get_module_path, (const P11KitUri *uri), (uri), NULL)              \
    V(p11_kit_uri_set_module_path, (P11KitUri * uri, const char *path), (uri, path))               \
    X(const char *, p11_kit_uri_get_vendor_query, (const P11KitUri *uri, const char *name),        \
      (uri, name), NULL)                                                                           \
    X(int, p11_kit_uri_set_vendor_query, (P11KitUri * uri, const char *name, const char *value),   \
      (uri, name, value), 0)                                                                       \
    V(p11_kit_uri_set_unrecognized, (P11KitUri * uri, int unrecognized), (uri, unrecognized))      \
    X(int, p11_kit_uri_any_unrecognized, (P11KitUri * uri), (uri), 0)

#define DECLARE_PTR(ret, name, params, args, fail) static ret(*p_##name) params;
#define DECLARE_VPTR(name, params, args) static void(*p_##name) params;
P11KIT_URI_FUNCS(DECLARE_PTR, DECLARE_VPTR)

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* libp11-kit stays loaded for the life of the process (URIs it made may outlive any user). */
static void bind_all(void)
{
    void *dl = dlopen(P11KIT_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (dl == NULL)
        return;
#define BIND(ret, name, params, args, fail) p_##name = (ret(*) params)dlsym(dl, #name);
#define VBIND(name, params, args) p_##name = (void(*) params)dlsym(dl, #name);
    P11KIT_URI_FUNCS(BIND, VBIND)
}

#define DEFINE(ret, name, params, args, fail)                                                      \
    ret name params                                                                                \
    {                                                                                              \
        pthread_once(&once, bind_all);                                                             \
        return p_##name != NULL ? p_##name args : fail;                                            \
    }
#define VDEFINE(name, params, args)                                                                \
    void name params                                                                               \
    {                                                                                              \
        pthread_once(&once, bind_all);                                                             \
        if (p_##name != NULL)                                                                      \
            p_##name args;                                                                         \
    }
P11KIT_URI_FUNCS(DEFINE, VDEFINE)
