/*
 * libcurl, loaded on first use. Only LLM backends need HTTP, yet linking
 * libcurl pulled some thirty shared libraries (TLS stacks, LDAP, Kerberos,
 * SSH, RTMP ...) into every `silo` process: about 10 ms of start-up for
 * each command, most visible as sandbox cold-start time. These definitions
 * of the libcurl entry points the engine uses forward to the real ones,
 * found with dlopen("libcurl.so.4") the first time any is called.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define CURL_FN_MAP(XX)                                                                     \
	XX(CURLcode, curl_global_init, (long))                                              \
	XX(CURL *, curl_easy_init, (void))                                                  \
	XX(void, curl_easy_cleanup, (CURL *))                                               \
	XX(CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...))                           \
	XX(CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...))                            \
	XX(const char *, curl_easy_strerror, (CURLcode))                                    \
	XX(CURLM *, curl_multi_init, (void))                                                \
	XX(CURLMcode, curl_multi_cleanup, (CURLM *))                                        \
	XX(CURLMcode, curl_multi_add_handle, (CURLM *, CURL *))                             \
	XX(CURLMcode, curl_multi_remove_handle, (CURLM *, CURL *))                          \
	XX(CURLMcode, curl_multi_setopt, (CURLM *, CURLMoption, ...))                       \
	XX(CURLMcode, curl_multi_assign, (CURLM *, curl_socket_t, void *))                  \
	XX(CURLMsg *, curl_multi_info_read, (CURLM *, int *))                               \
	XX(CURLMcode, curl_multi_socket_action, (CURLM *, curl_socket_t, int, int *))       \
	XX(struct curl_slist *, curl_slist_append, (struct curl_slist *, const char *))     \
	XX(void, curl_slist_free_all, (struct curl_slist *))

static struct {
#define XX(ret, name, args) ret(*name) args;
	CURL_FN_MAP(XX)
#undef XX
} fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		/* Without libcurl no backend can talk to a provider; this is an
		 * installation problem, reported once and plainly. */
		fprintf(stderr, "silo: cannot load libcurl (%s); install the libcurl4 package\n",
			dlerror());
		exit(1);
	}
#define XX(ret, name, args)                                                        \
	if (!(*(void **)&fn.name = dlsym(h, #name))) {                             \
		fprintf(stderr, "silo: libcurl.so.4 lacks %s\n", #name);           \
		exit(1);                                                           \
	}
	CURL_FN_MAP(XX)
#undef XX
}

#define LOAD() pthread_once(&once, load)

CURLcode curl_global_init(long flags)
{
	LOAD();
	return fn.curl_global_init(flags);
}

CURL *curl_easy_init(void)
{
	LOAD();
	return fn.curl_easy_init();
}

void curl_easy_cleanup(CURL *h)
{
	LOAD();
	fn.curl_easy_cleanup(h);
}

/* The variadic argument's type follows from the option number's range
 * (curl.h's CURLOPTTYPE_* bases): long, pointer (objects and callbacks), or
 * curl_off_t. */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	LOAD();
	va_list ap;
	va_start(ap, opt);
	CURLcode rc;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	else
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	LOAD();
	va_list ap;
	va_start(ap, info);
	CURLcode rc = fn.curl_easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode c)
{
	LOAD();
	return fn.curl_easy_strerror(c);
}

CURLM *curl_multi_init(void)
{
	LOAD();
	return fn.curl_multi_init();
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	LOAD();
	return fn.curl_multi_cleanup(m);
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	LOAD();
	return fn.curl_multi_add_handle(m, h);
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	LOAD();
	return fn.curl_multi_remove_handle(m, h);
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	LOAD();
	va_list ap;
	va_start(ap, opt);
	CURLMcode rc;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.curl_multi_setopt(m, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn.curl_multi_setopt(m, opt, va_arg(ap, void *));
	else
		rc = fn.curl_multi_setopt(m, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
	LOAD();
	return fn.curl_multi_assign(m, s, p);
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	LOAD();
	return fn.curl_multi_info_read(m, left);
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int mask, int *running)
{
	LOAD();
	return fn.curl_multi_socket_action(m, s, mask, running);
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	LOAD();
	return fn.curl_slist_append(l, s);
}

void curl_slist_free_all(struct curl_slist *l)
{
	LOAD();
	fn.curl_slist_free_all(l);
}
