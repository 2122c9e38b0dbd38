/*
 * Multiplexed egress relay over one virtio-serial port (decisions 26), for
 * the microVM, whose guest has no network device: with
 * SILO_PROXY_RELAY=vport:<device>[:<port>] the helper listens on
 * 127.0.0.1:<port> (default 3128) and carries every accepted connection as
 * frames over the port; the host end opens one proxy connection per stream.
 *
 * Frame: type (1 byte), stream id (4 bytes, big-endian), payload length
 * (4 bytes, big-endian), payload. Types:
 *   1 OPEN   guest -> host, no payload: a new stream (ids count up from 1)
 *   2 DATA   both ways, 1..65536 bytes of the stream
 *   3 CLOSE  both ways, no payload: the sender sends no more on this stream
 *            (a half-close; the stream is gone once both sides closed)
 *   4 RESET  both ways, no payload: drop the stream at once
 * Frames for unknown streams are ignored. docs/helper.md has the same table.
 *
 * One thread, one poll loop. There is no per-stream flow control: a stream
 * whose unsent data exceeds 8 MiB is reset, and TCP reads pause while more
 * than 8 MiB wait for the port.
 */
#include "hp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { F_OPEN = 1, F_DATA = 2, F_CLOSE = 3, F_RESET = 4 };
#define HDR 9
#define DATA_MAX 65536
#define BACKLOG_MAX (8u << 20)

struct stream {
	uint32_t id;
	int fd;             /* owned TCP connection */
	int rd_open;        /* still reading from TCP */
	int wr_open;        /* host may still send data */
	struct sl_buf out;  /* host data waiting for the TCP socket */
	size_t out_off;
	struct stream *next;
};

static struct {
	int dev, ls;
	struct sl_buf in, out; /* device input and output */
	size_t out_off;
	struct stream *streams;
	uint32_t next_id;
} vr;

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void frame(int type, uint32_t id, const void *p, size_t n)
{
	unsigned char h[HDR];
	h[0] = (unsigned char)type;
	put_u32(h + 1, id);
	put_u32(h + 5, (uint32_t)n);
	sl_buf_add(&vr.out, h, HDR);
	if (n)
		sl_buf_add(&vr.out, p, n);
}

static struct stream *find(uint32_t id)
{
	for (struct stream *s = vr.streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void drop(struct stream *s)
{
	for (struct stream **pp = &vr.streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	close(s->fd);
	sl_buf_free(&s->out);
	free(s);
}

static void flush_stream(struct stream *s)
{
	while (s->out_off < s->out.len) {
		ssize_t w = send(s->fd, s->out.p + s->out_off, s->out.len - s->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w < 0) {
			frame(F_RESET, s->id, NULL, 0);
			s->rd_open = s->wr_open = 0;
			s->out_off = s->out.len;
			break;
		}
		s->out_off += (size_t)w;
	}
	sl_buf_reset(&s->out);
	s->out_off = 0;
	if (!s->wr_open)
		shutdown(s->fd, SHUT_WR);
}

static void on_frame(int type, uint32_t id, const char *p, size_t n)
{
	struct stream *s = find(id);
	if (!s)
		return;
	if (type == F_DATA && s->wr_open) {
		if (s->out.len - s->out_off + n > BACKLOG_MAX) {
			frame(F_RESET, id, NULL, 0);
			drop(s);
			return;
		}
		sl_buf_add(&s->out, p, n);
		flush_stream(s);
	} else if (type == F_CLOSE) {
		s->wr_open = 0;
		if (s->out_off == s->out.len)
			shutdown(s->fd, SHUT_WR);
	} else if (type == F_RESET) {
		drop(s);
	}
}

static int read_dev(void)
{
	sl_buf_reserve(&vr.in, 65536);
	ssize_t r = read(vr.dev, vr.in.p + vr.in.len, 65536);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (r == 0)
		return -1;
	vr.in.len += (size_t)r;
	size_t off = 0;
	while (vr.in.len - off >= HDR) {
		const unsigned char *h = (const unsigned char *)vr.in.p + off;
		uint32_t n = get_u32(h + 5);
		if (h[0] < F_OPEN || h[0] > F_RESET || n > DATA_MAX)
			return -1; /* out of step with the host: nothing is reliable now */
		if (vr.in.len - off < HDR + n)
			break;
		on_frame(h[0], get_u32(h + 1), vr.in.p + off + HDR, n);
		off += HDR + n;
	}
	memmove(vr.in.p, vr.in.p + off, vr.in.len - off);
	vr.in.len -= off;
	return 0;
}

static void read_tcp(struct stream *s)
{
	char buf[16384];
	ssize_t r = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r > 0) {
		frame(F_DATA, s->id, buf, (size_t)r);
		return;
	}
	if (r == 0) {
		frame(F_CLOSE, s->id, NULL, 0);
		s->rd_open = 0;
	} else {
		frame(F_RESET, s->id, NULL, 0);
		s->rd_open = s->wr_open = 0;
	}
}

static void *vrelay_thread(void *arg)
{
	(void)arg;
	struct pollfd *fds = NULL;
	size_t cap = 0;
	for (;;) {
		size_t n = 2;
		for (struct stream *s = vr.streams; s; s = s->next)
			n++;
		if (n > cap) {
			cap = n * 2;
			fds = sl_xrealloc(fds, cap * sizeof *fds);
		}
		int backlog = vr.out.len - vr.out_off > BACKLOG_MAX;
		fds[0] = (struct pollfd){ .fd = vr.dev, .events = POLLIN };
		if (vr.out_off < vr.out.len)
			fds[0].events |= POLLOUT;
		fds[1] = (struct pollfd){ .fd = backlog ? -1 : vr.ls, .events = POLLIN };
		size_t k = 2;
		for (struct stream *s = vr.streams; s; s = s->next, k++) {
			fds[k] = (struct pollfd){ .fd = s->fd, .events = 0 };
			if (s->rd_open && !backlog)
				fds[k].events |= POLLIN;
			if (s->out_off < s->out.len)
				fds[k].events |= POLLOUT;
		}
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
			if (read_dev() < 0)
				break;
		/* The stream list is walked in poll order; streams dropped by
		 * read_dev() above end the walk early (fd mismatch). */
		k = 2;
		for (struct stream *s = vr.streams, *nx; s && k < n; s = nx, k++) {
			nx = s->next;
			if (fds[k].fd != s->fd)
				break;
			if (fds[k].revents & POLLOUT)
				flush_stream(s);
			if (fds[k].revents & (POLLIN | POLLHUP | POLLERR) && s->rd_open)
				read_tcp(s);
		}
		for (struct stream *s = vr.streams, *nx; s; s = nx) {
			nx = s->next;
			if (!s->rd_open && !s->wr_open && s->out_off == s->out.len)
				drop(s);
		}
		if (fds[1].revents & POLLIN) {
			int c = accept4(vr.ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (c >= 0) {
				struct stream *s = sl_xcalloc(1, sizeof *s);
				s->id = ++vr.next_id ? vr.next_id : ++vr.next_id;
				s->fd = c;
				s->rd_open = s->wr_open = 1;
				sl_buf_init(&s->out);
				s->next = vr.streams;
				vr.streams = s;
				frame(F_OPEN, s->id, NULL, 0);
			}
		}
		while (vr.out_off < vr.out.len) {
			ssize_t w = write(vr.dev, vr.out.p + vr.out_off, vr.out.len - vr.out_off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			vr.out_off += (size_t)w;
		}
		if (vr.out_off == vr.out.len) {
			sl_buf_reset(&vr.out);
			vr.out_off = 0;
		}
	}
	/* The host end is gone or out of step: stop relaying. */
	close(vr.ls);
	while (vr.streams)
		drop(vr.streams);
	free(fds);
	return NULL;
}

int hp_vrelay_start(const char *dev, unsigned port, struct sl_err *err)
{
	char os[160];
	vr.dev = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (vr.dev < 0)
		return sl_err_set(err, SL_EIO, "cannot open %s: %s", dev, hp_os_err(errno, os, sizeof os));
	vr.ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (vr.ls < 0 || setsockopt(vr.ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(vr.ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(vr.ls, 128) < 0) {
		int e = errno;
		close(vr.dev);
		if (vr.ls >= 0)
			close(vr.ls);
		return sl_err_set(err, SL_EIO, "cannot listen on 127.0.0.1:%u: %s", port,
				  hp_os_err(e, os, sizeof os));
	}
	sl_buf_init(&vr.in);
	sl_buf_init(&vr.out);
	pthread_attr_t at;
	pthread_t t;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, vrelay_thread, NULL);
	pthread_attr_destroy(&at);
	if (rc)
		return sl_err_set(err, SL_EIO, "cannot start the relay thread: %s",
				  hp_os_err(rc, os, sizeof os));
	return 0;
}
