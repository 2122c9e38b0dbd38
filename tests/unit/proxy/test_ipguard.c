/* IP guard tables (sandbox.md 10.3): every blocked range at its edges,
 * every IPv6 embedding with a blocked and an allowed IPv4 inside, and the
 * documentation ranges that must stay reachable. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxy/px_http.h"
#include "tap.h"

struct row {
	const char *addr;
	const char *why; /* NULL: allowed */
};

static int run(const struct row *rows, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		const char *got = px_ipguard_str(rows[i].addr);
		int ok = rows[i].why ? got && !strcmp(got, rows[i].why) : got == NULL;
		if (!ok) {
			printf("#   %s: got %s, want %s\n", rows[i].addr, got ? got : "allowed",
			       rows[i].why ? rows[i].why : "allowed");
			bad++;
		}
	}
	return bad;
}

TEST(ipguard_v4_ranges)
{
	static const struct row rows[] = {
		{ "0.0.0.0", "unspecified (0.0.0.0/8)" },
		{ "0.255.255.255", "unspecified (0.0.0.0/8)" },
		{ "1.0.0.0", NULL },
		{ "126.255.255.255", NULL },
		{ "127.0.0.0", "loopback" },
		{ "127.0.0.1", "loopback" },
		{ "127.255.255.255", "loopback" },
		{ "128.0.0.0", NULL },
		{ "9.255.255.255", NULL },
		{ "10.0.0.0", "private" },
		{ "10.255.255.255", "private" },
		{ "11.0.0.0", NULL },
		{ "172.15.255.255", NULL },
		{ "172.16.0.0", "private" },
		{ "172.31.255.255", "private" },
		{ "172.32.0.0", NULL },
		{ "192.167.255.255", NULL },
		{ "192.168.0.0", "private" },
		{ "192.168.255.255", "private" },
		{ "192.169.0.0", NULL },
		{ "169.253.255.255", NULL },
		{ "169.254.0.0", "link-local" },
		{ "169.254.169.254", "link-local" },
		{ "169.254.255.255", "link-local" },
		{ "169.255.0.0", NULL },
		{ "100.63.255.255", NULL },
		{ "100.64.0.0", "shared address space (CGNAT)" },
		{ "100.127.255.255", "shared address space (CGNAT)" },
		{ "100.128.0.0", NULL },
		{ "191.255.255.255", NULL },
		{ "192.0.0.0", "IETF protocol assignments" },
		{ "192.0.0.255", "IETF protocol assignments" },
		{ "192.0.1.0", NULL },
		{ "198.17.255.255", NULL },
		{ "198.18.0.0", "benchmarking" },
		{ "198.19.255.255", "benchmarking" },
		{ "198.20.0.0", NULL },
		{ "223.255.255.255", NULL },
		{ "224.0.0.0", "multicast" },
		{ "239.255.255.255", "multicast" },
		{ "240.0.0.0", "reserved" },
		{ "254.255.255.255", "reserved" },
		{ "255.255.255.254", "reserved" },
		{ "255.255.255.255", "broadcast" },
		/* documentation ranges and public space stay reachable */
		{ "192.0.2.1", NULL },
		{ "198.51.100.2", NULL },
		{ "203.0.113.77", NULL },
		{ "8.8.8.8", NULL },
		{ "93.184.216.34", NULL },
	};
	CHECK(run(rows, SL_ARRAY_LEN(rows)) == 0);
}

TEST(ipguard_v6_ranges)
{
	static const struct row rows[] = {
		{ "::", "unspecified" },
		{ "::1", "loopback" },
		{ "::2", "IPv4-compatible unspecified (0.0.0.0/8)" },
		{ "fe80::", "link-local" },
		{ "fe80::1", "link-local" },
		{ "febf:ffff::1", "link-local" },
		{ "fec0::1", "site-local" },
		{ "feff::1", "site-local" },
		{ "fe7f::1", NULL },
		{ "fc00::", "unique-local" },
		{ "fd12:3456::1", "unique-local" },
		{ "fdff:ffff::1", "unique-local" },
		{ "fbff::1", NULL },
		{ "fe00::1", NULL },
		{ "ff00::", "multicast" },
		{ "ff02::1", "multicast" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast" },
		{ "100::", "discard-only (100::/64)" },
		{ "100::ffff:ffff:ffff:ffff", "discard-only (100::/64)" },
		{ "100:0:0:1::", NULL },
		{ "2001:db8::1", NULL },
		{ "2606:4700::1111", NULL },
		{ "2a00:1450:4001::200e", NULL },
	};
	CHECK(run(rows, SL_ARRAY_LEN(rows)) == 0);
}

TEST(ipguard_v6_embeddings)
{
	static const struct row rows[] = {
		/* mapped */
		{ "::ffff:127.0.0.1", "IPv4-mapped loopback" },
		{ "::ffff:7f00:1", "IPv4-mapped loopback" },
		{ "::ffff:10.1.2.3", "IPv4-mapped private" },
		{ "::ffff:169.254.169.254", "IPv4-mapped link-local" },
		{ "::ffff:0.0.0.0", "IPv4-mapped unspecified (0.0.0.0/8)" },
		{ "::ffff:198.51.100.2", NULL },
		{ "::ffff:8.8.8.8", NULL },
		/* SIIT translated */
		{ "::ffff:0:192.168.1.1", "IPv4-translated private" },
		{ "::ffff:0:203.0.113.1", NULL },
		/* compatible */
		{ "::127.0.0.1", "IPv4-compatible loopback" },
		{ "::10.0.0.1", "IPv4-compatible private" },
		{ "::100.64.0.1", "IPv4-compatible shared address space (CGNAT)" },
		{ "::8.8.8.8", NULL },
		/* NAT64 well-known /96 */
		{ "64:ff9b::127.0.0.1", "NAT64 loopback" },
		{ "64:ff9b::a00:1", "NAT64 private" },
		{ "64:ff9b::224.0.0.1", "NAT64 multicast" },
		{ "64:ff9b::198.51.100.2", NULL },
		{ "64:ff9b::1:0:0:7f00:1", NULL }, /* outside the /96: not NAT64 */
		/* NAT64 local-use /48, both positions */
		{ "64:ff9b:1::10.0.0.1", "local NAT64 private" },
		/* RFC 6052 /48 form: 127.0.0.1 in bits 48-63 and 72-87; the same
		 * bytes read at the /56 or /64 position fall in 0.0.0.0/8, which is
		 * blocked too, so the reason names the first position judged. */
		{ "64:ff9b:1:7f00:0:100::", "local NAT64 unspecified (0.0.0.0/8)" },
		{ "64:ff9b:1:c0a8:1:100::", "local NAT64 private" },
		{ "64:ff9b:1:a9fe:a9:fe00::", "local NAT64 link-local" },
		{ "64:ff9b:1:c633:64:200:0:0", NULL },
		/* 6to4 */
		{ "2002:7f00:1::", "6to4 loopback" },
		{ "2002:a9fe:a9fe::1", "6to4 link-local" },
		{ "2002:c612:1::1", "6to4 benchmarking" },
		{ "2002:ffff:ffff::", "6to4 broadcast" },
		{ "2002:c633:6402::1", NULL },
		/* Teredo: client inverted in the last 32 bits; server too */
		{ "2001:0:c633:6402:0:0:80ff:fffe", "Teredo client loopback" },
		{ "2001:0:c633:6402:0:0:f5ff:fffe", "Teredo client private" },
		{ "2001:0:7f00:1:0:0:3fcc:9bfd", "Teredo server loopback" },
		{ "2001:0:c633:6402:0:0:3fcc:9bfd", NULL }, /* client 192.51.100.2 */
		{ "2001:1::1", NULL },                        /* not Teredo (2001:1::/32) */
	};
	CHECK(run(rows, SL_ARRAY_LEN(rows)) == 0);
}

TEST(ipguard_sockaddr)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET, "127.1.2.3", &s4.sin_addr);
	CHECK_STR(px_ipguard_sa((struct sockaddr *)&s4), "loopback");
	inet_pton(AF_INET, "203.0.113.9", &s4.sin_addr);
	CHECK(px_ipguard_sa((struct sockaddr *)&s4) == NULL);
	inet_pton(AF_INET6, "::ffff:192.168.0.1", &s6.sin6_addr);
	CHECK_STR(px_ipguard_sa((struct sockaddr *)&s6), "IPv4-mapped private");
	struct sockaddr su = { .sa_family = AF_UNIX };
	CHECK(px_ipguard_sa(&su) != NULL);
	CHECK_STR(px_ipguard_str("not-an-ip"), "not an address");
	/* spellings inet_pton refuses never reach the guard as addresses;
	 * the proxy resolves them and judges the binary answer. */
	CHECK_STR(px_ipguard_str("0x7f.1"), "not an address");
	CHECK_STR(px_ipguard_str("2130706433"), "not an address");
}

/* Every IPv4 /8 with its expected verdict at a sample of addresses: the
 * table rows above test the edges; this sweeps the whole space coarsely so
 * a typo in a mask shows up somewhere. */
TEST(ipguard_v4_sweep)
{
	int bad = 0;
	for (uint32_t v = 0;; v += 0x00010001u * 97) {
		uint8_t a[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
				 (uint8_t)v };
		int want = a[0] == 0 || a[0] == 127 || a[0] == 10 ||
			   (a[0] == 172 && (a[1] & 0xf0) == 16) ||
			   (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
			   (a[0] == 100 && (a[1] & 0xc0) == 64) ||
			   (a[0] == 192 && a[1] == 0 && a[2] == 0) ||
			   (a[0] == 198 && (a[1] & 0xfe) == 18) || a[0] >= 224;
		if ((px_ipguard_v4(a) != NULL) != want)
			bad++;
		uint8_t m[16] = { 0 };
		m[10] = m[11] = 0xff;
		memcpy(m + 12, a, 4);
		if ((px_ipguard_v6(m) != NULL) != want)
			bad++;
		if (v > 0xffffffffu - 0x00010001u * 97)
			break;
	}
	CHECK(bad == 0);
}
