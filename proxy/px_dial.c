/*
 * px_dial: turning an allowed host into a connected upstream socket. The
 * policy `hosts` map replaces resolution for the names it lists (decisions
 * 11); IP literals are used as they are; any other name goes to the host
 * resolver through uv_getaddrinfo, which only ever runs for names the
 * allowlist already accepted (decisions 28). Every answer is judged by the
 * IP guard and one blocked answer refuses the whole name, so a resolver
 * that mixes public and private answers cannot steer the proxy inward.
 * The dial then uses exactly the checked addresses, in order, first
 * success wins; there is no second lookup for rebinding to exploit.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "px_int.h"

static void fmt_addr(const struct sockaddr *sa, char *out, size_t n)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
	else
		snprintf(out, n, "?");
}

static void fail(struct px_conn *c, const char *jnote, int allowed, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct px_conn *c, const char *jnote, int allowed, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->rq.note, sizeof(c->rq.note), fmt, ap);
	va_end(ap);
	c->rq.jnote = jnote;
	c->rq.allowed = allowed;
	px__conn_post(c, PX_E_RESOLVE_FAIL);
}

/* Adds one answer after judging it; returns -1 (and fails) if blocked. */
static int add_addr(struct px_conn *c, const char *host, const struct sockaddr *sa, int port)
{
	char ip[INET6_ADDRSTRLEN];
	const char *why = px_ipguard_sa(sa);
	if (!why && px__local_is(&c->px->local, sa))
		why = PX_LOCAL_WHY;
	if (why) {
		fmt_addr(sa, ip, sizeof(ip));
		fail(c, "blocked address", 0, "blocked address: %s resolves to %s (%s)", host, ip,
		     why);
		return -1;
	}
	socklen_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6);
	for (int i = 0; i < c->naddrs; i++)
		if (!memcmp(&c->addrs[i], sa, len))
			return 0;
	if (c->naddrs >= PX_MAX_ADDRS)
		return 0;
	struct sockaddr_storage *ss = &c->addrs[c->naddrs++];
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, sa, len);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}

static int literal(const char *s, int port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct px_conn *c = req->data;
	c->gai_busy = 0;
	if (status == UV_ECANCELED || c->state != PX_S_RESOLVE) {
		uv_freeaddrinfo(res);
		px__conn_gai_done(c);
		return;
	}
	const char *host = c->passthrough ? c->chost : c->rq.host;
	int port = c->passthrough ? c->cport : c->rq.port;
	if (status < 0) {
		uv_freeaddrinfo(res);
		fail(c, "resolve failed", 1, "resolve failed: %s: %s", host, uv_strerror(status));
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (add_addr(c, host, ai->ai_addr, port)) {
			uv_freeaddrinfo(res);
			return;
		}
	}
	uv_freeaddrinfo(res);
	if (!c->naddrs) {
		fail(c, "resolve failed", 1, "resolve failed: %s: no addresses", host);
		return;
	}
	px__conn_post(c, PX_E_RESOLVED);
}

void px__resolve(struct px_conn *c, const char *host, int port)
{
	struct sockaddr_storage ss;
	c->naddrs = c->ai = 0;
	c->dial_err[0] = '\0';
	const char *mapped = px__hosts_lookup(c->px, host);
	if (mapped || !literal(host, port, &ss)) {
		if (mapped && literal(mapped, port, &ss)) {
			fail(c, "resolve failed", 1,
			     "resolve failed: the hosts entry for %s is not an IP address", host);
			return;
		}
		if (add_addr(c, host, (struct sockaddr *)&ss, port))
			return;
		px__conn_post(c, PX_E_RESOLVED);
		return;
	}
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%d", port);
	/* No AI_ADDRCONFIG: every answer must be judged, even of a family
	 * this host cannot reach. */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	c->gai.data = c;
	int rc = uv_getaddrinfo(c->px->loop, &c->gai, on_gai, host, portstr, &hints);
	if (rc) {
		fail(c, "resolve failed", 1, "resolve failed: %s: %s", host, uv_strerror(rc));
		return;
	}
	c->gai_busy = 1;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct px_conn *c = req->data;
	if (status == UV_ECANCELED || c->state != PX_S_CONNECT || !c->up.open)
		return;
	if (status < 0) {
		char ip[INET6_ADDRSTRLEN];
		fmt_addr((struct sockaddr *)&c->addrs[c->ai], ip, sizeof(ip));
		snprintf(c->dial_err, sizeof(c->dial_err), "%s: %s", ip, uv_strerror(status));
		px__conn_post(c, PX_E_CONNECT_FAIL);
		return;
	}
	c->up.connected = 1;
	uv_tcp_nodelay(&c->up.tcp, 1);
	px__conn_post(c, PX_E_CONNECTED);
}

void px__dial(struct px_conn *c)
{
	c->dial_pending = 0;
	if (c->up.closing || c->up.open) {
		c->dial_pending = 1;
		px__ep_close(&c->up);
		return;
	}
	px__ep_deinit(&c->up);
	px__ep_init(&c->up, c);
	uv_tcp_init(c->px->loop, &c->up.tcp);
	c->up.tcp.data = &c->up;
	c->up.open = 1;
	c->creq.data = c;
	char ip[INET6_ADDRSTRLEN];
	fmt_addr((struct sockaddr *)&c->addrs[c->ai], ip, sizeof(ip));
	snprintf(c->dial_err, sizeof(c->dial_err), "%s: timed out", ip);
	int rc = uv_tcp_connect(&c->creq, &c->up.tcp, (struct sockaddr *)&c->addrs[c->ai],
				on_connect);
	if (rc) {
		snprintf(c->dial_err, sizeof(c->dial_err), "%s: %s", ip, uv_strerror(rc));
		px__conn_post(c, PX_E_CONNECT_FAIL);
	}
}
