/*
 * px_cred: credential injection and placeholder credentials (sandbox.md
 * 10.6, decisions 14 and 31). Secret values are read from the environment
 * once, in px_new, and live only here: never logged, never journaled,
 * never given to Lua, and zeroed when the proxy is freed. A credential is
 * selected by exact host (no wildcards) and only for HTTPS upstreams the
 * proxy itself dialed; injecting over plain HTTP would hand the secret to
 * anyone on the path.
 *
 * A placeholder is a random dummy shaped like the real value (same length,
 * each letter or digit replaced by a random one of its class) that the
 * sandbox sees instead of the secret; the proxy swaps it for the real value
 * in headers on the bound host (and method/path, when given) and refuses a
 * request carrying it anywhere else.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "px_int.h"

#define MOD "proxy"

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int norm(char out[PX_MAX_HOST + 3], const char *host, struct sl_err *err)
{
	int ip;
	if (!host || strlen(host) > PX_MAX_HOST)
		return sl_err_set(err, SL_EINVAL, "credential host missing or too long");
	snprintf(out, PX_MAX_HOST + 3, "%s", host);
	return px_http_norm_host(out, &ip, err);
}

/* format with every "{secret}" replaced by value. */
static char *apply_format(const char *fmt, const char *value)
{
	struct sl_buf b;
	sl_buf_init(&b);
	for (const char *p = fmt; *p;) {
		const char *m = strstr(p, "{secret}");
		if (!m) {
			sl_buf_adds(&b, p);
			break;
		}
		sl_buf_add(&b, p, (size_t)(m - p));
		sl_buf_adds(&b, value);
		p = m + 8;
	}
	char *s = sl_xstrdup(b.p ? b.p : "");
	if (b.p)
		explicit_bzero(b.p, b.cap);
	sl_buf_free(&b);
	return s;
}

static void make_dummy(char *d, const char *real, size_t n)
{
	unsigned char rnd[256];
	for (size_t i = 0; i < n; i++) {
		if (i % sizeof(rnd) == 0)
			sl_random(rnd, sizeof(rnd));
		unsigned r = rnd[i % sizeof(rnd)];
		unsigned char c = (unsigned char)real[i];
		if (isdigit(c))
			d[i] = (char)('0' + r % 10);
		else if (islower(c))
			d[i] = (char)('a' + r % 26);
		else if (isupper(c))
			d[i] = (char)('A' + r % 26);
		else
			d[i] = (char)c;
	}
	d[n] = '\0';
}

int px__cred_load(struct px *px, const struct px_config *cfg, struct sl_err *err)
{
	struct sl_err e;
	px->secrets = sl_xcalloc(cfg->n_credentials + 1, sizeof(*px->secrets));
	for (size_t i = 0; i < cfg->n_credentials; i++) {
		const struct px_credential *cr = &cfg->credentials[i];
		char host[PX_MAX_HOST + 3];
		if (norm(host, cr->host, &e))
			return sl_err_set(err, SL_EINVAL, "credential host %s: %s",
					  cr->host ? cr->host : "(none)", e.msg);
		if (!cr->header || !px_http_token(cr->header, strlen(cr->header)))
			return sl_err_set(err, SL_EINVAL, "credential for %s: invalid header name",
					  host);
		const char *v = cr->env ? getenv(cr->env) : NULL;
		if (!v)
			return sl_err_set(err, SL_EINVAL,
					  "credential for %s: environment variable %s is not set",
					  host, cr->env ? cr->env : "(none)");
		char *value = apply_format(cr->format ? cr->format : "{secret}", v);
		if (!px_http_value_ok(value, strlen(value))) {
			/* sandbox.md 10.6: an invalid value is not injected */
			SL_WARN(MOD, "credential for %s: value from %s is not a valid header value; "
				     "not injected", host, cr->env);
			wipe_free(value);
			continue;
		}
		/* two entries for one host: the last wins */
		struct px_secret *s = NULL;
		for (size_t k = 0; k < px->n_secrets; k++)
			if (!strcmp(px->secrets[k].host, host))
				s = &px->secrets[k];
		if (s) {
			free(s->header);
			wipe_free(s->value);
		} else {
			s = &px->secrets[px->n_secrets++];
		}
		snprintf(s->host, sizeof(s->host), "%s", host);
		s->header = sl_xstrdup(cr->header);
		s->value = value;
		s->vlen = strlen(value);
	}

	px->dummies = sl_xcalloc(cfg->n_placeholders + 1, sizeof(*px->dummies));
	for (size_t i = 0; i < cfg->n_placeholders; i++) {
		const struct px_placeholder *ph = &cfg->placeholders[i];
		struct px_dummy *d = &px->dummies[px->n_dummies];
		if (!ph->env || norm(d->host, ph->host, &e))
			return sl_err_set(err, SL_EINVAL, "placeholder %s: invalid host",
					  ph->env ? ph->env : "(none)");
		const char *v = getenv(ph->env);
		if (!v)
			return sl_err_set(err, SL_EINVAL,
					  "placeholder: environment variable %s is not set", ph->env);
		size_t n = strlen(v);
		if (n < 8 || !px_http_value_ok(v, n))
			return sl_err_set(err, SL_EINVAL,
					  "placeholder %s: the value must be at least 8 printable "
					  "characters to be recognisable",
					  ph->env);
		px->n_dummies++;
		d->env = sl_xstrdup(ph->env);
		d->header = ph->header ? sl_xstrdup(ph->header) : NULL;
		d->method = ph->method ? sl_xstrdup(ph->method) : NULL;
		d->path = ph->path ? sl_xstrdup(ph->path) : NULL;
		d->real = sl_xstrdup(v);
		d->len = n;
		d->dummy = sl_xmalloc(n + 1);
		do
			make_dummy(d->dummy, v, n);
		while (!strcmp(d->dummy, v));
	}
	return 0;
}

void px__cred_free(struct px *px)
{
	for (size_t i = 0; i < px->n_secrets; i++) {
		free(px->secrets[i].header);
		wipe_free(px->secrets[i].value);
	}
	free(px->secrets);
	px->secrets = NULL;
	px->n_secrets = 0;
	for (size_t i = 0; i < px->n_dummies; i++) {
		struct px_dummy *d = &px->dummies[i];
		free(d->env);
		free(d->header);
		free(d->method);
		free(d->path);
		wipe_free(d->real);
		free(d->dummy);
	}
	free(px->dummies);
	px->dummies = NULL;
	px->n_dummies = 0;
}

const struct px_secret *px__cred_for(struct px *px, const char *host)
{
	for (size_t i = 0; i < px->n_secrets; i++)
		if (!strcmp(px->secrets[i].host, host))
			return &px->secrets[i];
	return NULL;
}

int px__dummy_in(struct px *px, const char *s, size_t n)
{
	for (size_t i = 0; i < px->n_dummies; i++)
		if (memmem(s, n, px->dummies[i].dummy, px->dummies[i].len))
			return 1;
	return 0;
}

/* 1 when an origin server will route path exactly as it reads: no "." or
 * ".." segment, no backslash, no percent-encoded dot or separator. Any of
 * those could take "/bound/../elsewhere" out of a bound prefix. */
static int path_plain(const char *path)
{
	for (const char *p = path; *p; p++) {
		if (*p == '\\')
			return 0;
		if (*p == '%' && p[1] && p[2] &&
		    (!strncasecmp(p + 1, "2e", 2) || !strncasecmp(p + 1, "2f", 2) ||
		     !strncasecmp(p + 1, "5c", 2)))
			return 0;
		if (*p == '/' && p[1] == '.' &&
		    (!p[2] || p[2] == '/' || (p[2] == '.' && (!p[3] || p[3] == '/'))))
			return 0;
	}
	return 1;
}

static int bound(const struct px_dummy *d, const char *host, const char *method,
		 const char *path, const char *name, size_t nlen)
{
	if (!host[0] || strcmp(d->host, host))
		return 0;
	if (d->header && (strlen(d->header) != nlen || strncasecmp(d->header, name, nlen)))
		return 0;
	if (d->method && strcasecmp(d->method, method))
		return 0;
	if (d->path && (strncmp(path, d->path, strlen(d->path)) || !path_plain(path)))
		return 0;
	return 1;
}

int px__dummy_header(struct px *px, const char *host, const char *method, const char *path,
		     const char *name, size_t nlen, const char *val, size_t vlen, char **out)
{
	for (size_t i = 0; i < px->n_dummies; i++) {
		const struct px_dummy *d = &px->dummies[i];
		if (!memmem(val, vlen, d->dummy, d->len))
			continue;
		if (!bound(d, host, method, path, name, nlen))
			return -1;
		struct sl_buf b;
		sl_buf_init(&b);
		const char *p = val, *e = val + vlen;
		while (p < e) {
			const char *m = memmem(p, (size_t)(e - p), d->dummy, d->len);
			if (!m) {
				sl_buf_add(&b, p, (size_t)(e - p));
				break;
			}
			sl_buf_add(&b, p, (size_t)(m - p));
			sl_buf_add(&b, d->real, d->len);
			p = m + d->len;
		}
		*out = sl_buf_steal(&b);
		return 1;
	}
	return 0;
}

const char *px_placeholder_value(const struct px *px, const char *env)
{
	for (size_t i = 0; px && i < px->n_dummies; i++)
		if (!strcmp(px->dummies[i].env, env))
			return px->dummies[i].dummy;
	return NULL;
}
