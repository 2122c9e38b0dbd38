/*
 * px_ipguard: the IP guard of sandbox.md 10.3. Every address the proxy is
 * about to connect to passes through here in binary form, after name
 * resolution, so no spelling of an address (octal, hex, short forms,
 * bracketed, mapped) can slip past a string check. IPv6 addresses that
 * carry an IPv4 address (mapped, compatible, SIIT-translated, NAT64, 6to4,
 * Teredo) have it extracted and judged by the IPv4 rules too. There is no
 * switch to relax any of this; tests put their upstreams at documentation
 * addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32),
 * which are not intranet ranges and stay reachable.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "px_http.h"

struct v4range {
	uint32_t net;
	int bits;
	const char *why;
};

/* Ordered most specific first where ranges nest (255.255.255.255 in
 * 240/4 gets the better name). */
static const struct v4range v4_blocked[] = {
	{ 0xffffffffu, 32, "broadcast" },
	{ 0x00000000u, 8, "unspecified (0.0.0.0/8)" },
	{ 0x7f000000u, 8, "loopback" },
	{ 0x0a000000u, 8, "private" },
	{ 0xac100000u, 12, "private" },
	{ 0xc0a80000u, 16, "private" },
	{ 0xa9fe0000u, 16, "link-local" },
	{ 0x64400000u, 10, "shared address space (CGNAT)" },
	{ 0xc0000000u, 24, "IETF protocol assignments" },
	{ 0xc6120000u, 15, "benchmarking" },
	{ 0xe0000000u, 4, "multicast" },
	{ 0xf0000000u, 4, "reserved" },
};

const char *px_ipguard_v4(const uint8_t a[4])
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	for (size_t i = 0; i < SL_ARRAY_LEN(v4_blocked); i++) {
		const struct v4range *r = &v4_blocked[i];
		uint32_t mask = r->bits ? 0xffffffffu << (32 - r->bits) : 0;
		if ((v & mask) == r->net)
			return r->why;
	}
	return NULL;
}

/* Embedded reasons are static strings: one per (embedding, v4 reason). */
#define EMB_MAP(XX)                                                            \
	XX(MAPPED, "IPv4-mapped")                                              \
	XX(COMPAT, "IPv4-compatible")                                          \
	XX(SIIT, "IPv4-translated")                                            \
	XX(NAT64, "NAT64")                                                     \
	XX(NAT64L, "local NAT64")                                              \
	XX(SIXTOFOUR, "6to4")                                                  \
	XX(TEREDO_C, "Teredo client")                                          \
	XX(TEREDO_S, "Teredo server")

enum emb {
#define XX(n, s) EMB_##n,
	EMB_MAP(XX)
#undef XX
	EMB__N
};
static const char *const emb_names[] = {
#define XX(n, s) s,
	EMB_MAP(XX)
#undef XX
};

/* One string per (embedding, range) pair, built before main so callers on
 * any thread get a stable static reason without allocation. */
static char emb_reason[EMB__N][SL_ARRAY_LEN(v4_blocked)][64];

__attribute__((constructor)) static void emb_reasons_init(void)
{
	for (int e = 0; e < EMB__N; e++)
		for (size_t r = 0; r < SL_ARRAY_LEN(v4_blocked); r++)
			snprintf(emb_reason[e][r], sizeof(emb_reason[e][r]), "%s %s",
				 emb_names[e], v4_blocked[r].why);
}

static const char *embedded(enum emb e, const uint8_t v4[4])
{
	const char *why = px_ipguard_v4(v4);
	if (!why)
		return NULL;
	size_t r = 0;
	while (v4_blocked[r].why != why)
		r++;
	return emb_reason[e][r];
}

static int zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

const char *px_ipguard_v6(const uint8_t a[16])
{
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t nat64l[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };
	uint8_t v4[4];
	const char *why;

	if (zero(a, 16))
		return "unspecified";
	if (zero(a, 15) && a[15] == 1)
		return "loopback";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "site-local";
	if ((a[0] & 0xfe) == 0xfc)
		return "unique-local";
	if (a[0] == 0xff)
		return "multicast";
	if (a[0] == 0x01 && a[1] == 0x00 && zero(a + 2, 6))
		return "discard-only (100::/64)";

	/* ::ffff:a.b.c.d */
	if (zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
		return embedded(EMB_MAPPED, a + 12);
	/* ::ffff:0:a.b.c.d (SIIT) */
	if (zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
		return embedded(EMB_SIIT, a + 12);
	/* ::a.b.c.d (deprecated compatible form); :: and ::1 handled above */
	if (zero(a, 12))
		return embedded(EMB_COMPAT, a + 12);
	/* 64:ff9b::/96 well-known NAT64 prefix */
	if (!memcmp(a, nat64, 12))
		return embedded(EMB_NAT64, a + 12);
	/* 64:ff9b:1::/48 local-use NAT64 (RFC 8215): the operator picks the
	 * prefix length inside it, so every RFC 6052 position a /48 allows
	 * (/48, /56, /64, /96; bits 64-71 are the skipped u octet) is judged
	 * and any blocked one blocks. All-zero candidates are the unused
	 * suffix of a shorter prefix; an address that is nothing but zeros
	 * there is refused as unspecified. */
	if (!memcmp(a, nat64l, 6)) {
		static const uint8_t pos[4][4] = {
			{ 12, 13, 14, 15 }, { 9, 10, 11, 12 }, { 7, 9, 10, 11 }, { 6, 7, 9, 10 }
		};
		int any = 0;
		for (int p = 0; p < 4; p++) {
			for (int i = 0; i < 4; i++)
				v4[i] = a[pos[p][i]];
			if (zero(v4, 4))
				continue;
			any = 1;
			if ((why = embedded(EMB_NAT64L, v4)))
				return why;
		}
		return any ? NULL : embedded(EMB_NAT64L, v4);
	}
	/* 2002:AABB:CCDD::/16 6to4 */
	if (a[0] == 0x20 && a[1] == 0x02)
		return embedded(EMB_SIXTOFOUR, a + 2);
	/* 2001:0000:SSSS:SSSS:flags:port:CCCC:CCCC Teredo: the client address
	 * is stored inverted; the server address too is judged. */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		for (int i = 0; i < 4; i++)
			v4[i] = (uint8_t)~a[12 + i];
		if ((why = embedded(EMB_TEREDO_C, v4)))
			return why;
		return embedded(EMB_TEREDO_S, a + 4);
	}
	return NULL;
}

const char *px_ipguard_sa(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return px_ipguard_v4((const uint8_t *)&s4->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return px_ipguard_v6(s6->sin6_addr.s6_addr);
	}
	return "not an IP address";
}

const char *px_ipguard_str(const char *s)
{
	uint8_t b[16];
	if (inet_pton(AF_INET, s, b) == 1)
		return px_ipguard_v4(b);
	if (inet_pton(AF_INET6, s, b) == 1)
		return px_ipguard_v6(b);
	return "not an address";
}
