/*
 * px_local: the harness machine's own addresses, refused like loopback. A
 * service bound to 0.0.0.0 (or ::) on the harness answers on every local
 * interface address, including public and documentation-range ones the
 * IP guard's ranges allow, so an allowlisted name that resolves to one of
 * them would reach it. The set comes from getifaddrs and is re-read when
 * the kernel reports an address change on a netlink socket; the socket is
 * drained before each judgement, so a change made before a connection is
 * always seen by it. Without netlink, the set is re-read every time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px_int.h"

#define MOD "proxy"

static void load(struct px_local *l)
{
	struct ifaddrs *ifs = NULL, *i;
	l->n = 0;
	if (getifaddrs(&ifs)) {
		SL_WARN(MOD, "getifaddrs: %s; only the guard's ranges apply", strerror(errno));
		return;
	}
	for (i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;
		if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
			continue;
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 16;
			l->a = realloc(l->a, l->cap * sizeof(*l->a));
			if (!l->a)
				abort();
		}
		struct px_local_addr *a = &l->a[l->n++];
		memset(a, 0, sizeof(*a));
		a->v6 = sa->sa_family == AF_INET6;
		if (a->v6)
			memcpy(a->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		else
			memcpy(a->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
	freeifaddrs(ifs);
}

void px__local_init(struct px_local *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (l->fd >= 0) {
		struct sockaddr_nl sn = { .nl_family = AF_NETLINK,
					  .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
		if (bind(l->fd, (struct sockaddr *)&sn, sizeof(sn))) {
			close(l->fd);
			l->fd = -1;
		}
	}
	if (l->fd < 0)
		SL_WARN(MOD, "no netlink socket (%s): local addresses re-read per connection",
			strerror(errno));
	load(l);
}

void px__local_free(struct px_local *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->a);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/* Re-reads the set when the kernel said something changed (or may have:
 * an overrun queue reports ENOBUFS). */
static void refresh(struct px_local *l)
{
	char buf[8192];
	int changed = l->fd < 0;
	while (l->fd >= 0) {
		ssize_t r = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0 || (r < 0 && errno == ENOBUFS)) {
			changed = 1;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	if (changed)
		load(l);
	l->reloads += changed;
}

int px__local_is(struct px_local *l, const struct sockaddr *sa)
{
	uint8_t b[16];
	int v6;
	if (sa->sa_family == AF_INET) {
		memcpy(b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		v6 = 0;
	} else if (sa->sa_family == AF_INET6) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		const uint8_t *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		/* a v4-mapped address reaches the v4 address on a dual-stack socket */
		v6 = memcmp(a6, mapped, 12) != 0;
		memcpy(b, v6 ? a6 : a6 + 12, v6 ? 16 : 4);
	} else {
		return 0;
	}
	refresh(l);
	for (size_t i = 0; i < l->n; i++)
		if (l->a[i].v6 == v6 && !memcmp(l->a[i].b, b, v6 ? 16 : 4))
			return 1;
	return 0;
}

int px__local_is_str(struct px_local *l, const char *s)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return 0;
	return px__local_is(l, (struct sockaddr *)&ss);
}
