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

/* "name", "name:port", "[v6]" or "[v6]:port" (a bare v6 literal has no
 * port); the port defaults to 443, the only one HTTPS implies. */
static int norm(char out[PX_MAX_HOST + 3], int *port, const char *host, struct sl_err *err)
{
	int ip;
	if (!host || strlen(host) > PX_MAX_HOST + 8)
		return sl_err_set(err, SL_EINVAL, "host missing or too long");
	const char *name = host, *end = host + strlen(host), *ps = NULL;
	if (*host == '[') {
		const char *rb = strchr(host, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return sl_err_set(err, SL_EINVAL, "malformed [address]");
		name = host + 1;
		end = rb;
		ps = rb[1] ? rb + 2 : NULL;
	} else {
		const char *colon = strchr(host, ':');
		if (colon && !strchr(colon + 1, ':')) {
			end = colon;
			ps = colon + 1;
		}
	}
	*port = 443;
	if (ps) {
		char *pe;
		long v = strtol(ps, &pe, 10);
		if (!*ps || *pe || *ps < '0' || *ps > '9' || v < 1 || v > 65535)
			return sl_err_set(err, SL_EINVAL, "invalid port in %s", host);
		*port = (int)v;
	}
	if ((size_t)(end - name) > PX_MAX_HOST)
		return sl_err_set(err, SL_EINVAL, "host too long");
	snprintf(out, PX_MAX_HOST + 3, "%.*s", (int)(end - name), name);
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

/* Responses are scrubbed of every real value: a credential becomes a mask
 * of its length, a placeholder's value its dummy (which the sandbox
 * knows). Values under PX_SCRUB_MIN bytes are not scrubbed: masking them
 * would garble ordinary text, and they are guessable anyway. */
#define PX_SCRUB_MIN 8

static void scrub_init(struct px *px)
{
	size_t n = px->n_secrets + px->n_dummies, k = 0;
	px->scrub_pats = sl_xcalloc(n + 1, sizeof(*px->scrub_pats));
	px->scrub_masks = sl_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < px->n_secrets; i++) {
		const struct px_secret *s = &px->secrets[i];
		size_t len = strlen(s->raw);
		if (len < PX_SCRUB_MIN)
			continue;
		char *mask = sl_xmalloc(len + 1);
		memset(mask, '*', len);
		mask[len] = '\0';
		px->scrub_masks[k] = mask;
		px->scrub_pats[k++] = (struct px_scrub_pat){ s->raw, mask, len };
	}
	for (size_t i = 0; i < px->n_dummies; i++) {
		const struct px_dummy *d = &px->dummies[i];
		px->scrub_pats[k++] = (struct px_scrub_pat){ d->real, d->dummy, d->len };
	}
	px->scrub = (struct px_scrub){ px->scrub_pats, k };
}

int px__cred_load(struct px *px, const struct px_config *cfg, struct sl_err *err)
{
	struct sl_err e;
	px->secrets = sl_xcalloc(cfg->n_credentials + 1, sizeof(*px->secrets));
	for (size_t i = 0; i < cfg->n_credentials; i++) {
		const struct px_credential *cr = &cfg->credentials[i];
		char host[PX_MAX_HOST + 3];
		int port;
		if (norm(host, &port, cr->host, &e))
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
		/* two entries for one host and port: the last wins */
		struct px_secret *s = NULL;
		for (size_t k = 0; k < px->n_secrets; k++)
			if (!strcmp(px->secrets[k].host, host) && px->secrets[k].port == port)
				s = &px->secrets[k];
		if (s) {
			free(s->header);
			wipe_free(s->value);
			wipe_free(s->raw);
		} else {
			s = &px->secrets[px->n_secrets++];
		}
		snprintf(s->host, sizeof(s->host), "%s", host);
		s->port = port;
		s->header = sl_xstrdup(cr->header);
		s->value = value;
		s->vlen = strlen(value);
		s->raw = sl_xstrdup(v);
	}

	px->dummies = sl_xcalloc(cfg->n_placeholders + 1, sizeof(*px->dummies));
	for (size_t i = 0; i < cfg->n_placeholders; i++) {
		const struct px_placeholder *ph = &cfg->placeholders[i];
		struct px_dummy *d = &px->dummies[px->n_dummies];
		if (!ph->env || norm(d->host, &d->port, ph->host, &e))
			return sl_err_set(err, SL_EINVAL, "placeholder %s: invalid host: %s",
					  ph->env ? ph->env : "(none)", ph->env ? e.msg : "no env");
		/* Without a header the dummy could be swapped into one the
		 * upstream reflects (X-Echo and the like). */
		if (!ph->header || !px_http_token(ph->header, strlen(ph->header)))
			return sl_err_set(err, SL_EINVAL,
					  "placeholder %s: a header name is required", ph->env);
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
		d->header = sl_xstrdup(ph->header);
		d->method = ph->method ? sl_xstrdup(ph->method) : NULL;
		d->path = ph->path ? sl_xstrdup(ph->path) : NULL;
		d->real = sl_xstrdup(v);
		d->len = n;
		d->dummy = sl_xmalloc(n + 1);
		do
			make_dummy(d->dummy, v, n);
		while (!strcmp(d->dummy, v));
	}
	scrub_init(px);
	return 0;
}

void px__cred_free(struct px *px)
{
	for (size_t i = 0; px->scrub_masks && px->scrub_masks[i]; i++)
		free(px->scrub_masks[i]);
	free(px->scrub_masks);
	free(px->scrub_pats);
	px->scrub_masks = NULL;
	px->scrub_pats = NULL;
	px->scrub = (struct px_scrub){ 0 };
	for (size_t i = 0; i < px->n_secrets; i++) {
		free(px->secrets[i].header);
		wipe_free(px->secrets[i].value);
		wipe_free(px->secrets[i].raw);
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

const struct px_secret *px__cred_for(struct px *px, const char *host, int port)
{
	for (size_t i = 0; i < px->n_secrets; i++)
		if (!strcmp(px->secrets[i].host, host) && px->secrets[i].port == port)
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

static int bound(const struct px_dummy *d, const char *host, int port, const char *method,
		 const char *path, const char *name, size_t nlen)
{
	if (!host[0] || strcmp(d->host, host) || d->port != port)
		return 0;
	if (strlen(d->header) != nlen || strncasecmp(d->header, name, nlen))
		return 0;
	if (d->method && strcasecmp(d->method, method))
		return 0;
	if (d->path && (strncmp(path, d->path, strlen(d->path)) || !path_plain(path)))
		return 0;
	return 1;
}

int px__dummy_header(struct px *px, const char *host, int port, const char *method,
		     const char *path, const char *name, size_t nlen, const char *val, size_t vlen,
		     char **out)
{
	for (size_t i = 0; i < px->n_dummies; i++) {
		const struct px_dummy *d = &px->dummies[i];
		if (!memmem(val, vlen, d->dummy, d->len))
			continue;
		if (!bound(d, host, port, method, path, name, nlen))
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
