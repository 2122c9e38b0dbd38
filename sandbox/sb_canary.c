/*
 * sb_canary: startup canaries (issue 3 item 9). Before the agent gets
 * control, one helper exec runs a short self-test inside the fresh sandbox:
 * read a secret planted on the host outside the allowlist, write to a host
 * path outside the workspace and into the read-only baseline, connect to a
 * listener on the host's loopback and to 169.254.169.254, open raw and
 * packet sockets. Every attempt must fail. The harness does not take the
 * sandbox's word for it: it also checks on the host that the listener saw
 * no connection, that no file appeared and that the secret is not in the
 * output. Works with any backend that serves exec (uses the sb ops only).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sb_native.h"

struct canary {
	struct sb *sb;
	sb_canary_fn done;
	void *ud;
	char dir[256];      /* host temp dir with the secret */
	char token[40];     /* the secret's content */
	uv_tcp_t listener;  /* host loopback listener */
	int port;
	int hits;           /* connections the listener accepted */
	int closing;
	struct jv *results; /* owned */
	int passed;
};

static const char *const names[] = { "secret_read",   "write_outside", "write_baseline",
				     "host_loopback", "metadata_ip",   "raw_socket",
				     "packet_socket" };

static void free_self(uv_handle_t *h)
{
	free(h);
}

static void free_canary(uv_handle_t *h)
{
	free(h->data);
}

static void on_conn(uv_stream_t *s, int status)
{
	struct canary *c = s->data;
	if (status < 0)
		return;
	c->hits++;
	uv_tcp_t *t = sl_xmalloc(sizeof(*t));
	uv_tcp_init(s->loop, t);
	uv_accept(s, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, free_self);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct canary *c = h->data;
	sb_canary_fn done = c->done;
	void *ud = c->ud;
	struct jv *res = c->results;
	int passed = c->passed;
	free(c);
	done(ud, passed, res);
	jv_unref(res);
}

static void add_result(struct jv *arr, const char *name, int blocked, const char *detail)
{
	struct jv *o = jv_obj();
	jv_set(o, "name", jv_str(name));
	jv_set(o, "blocked", jv_bool(blocked));
	jv_set(o, "detail", jv_str(detail));
	jv_push(arr, o);
}

/* Finds "CANARY <name> <word>" in the exec output. */
static const char *verdict(const char *out, const char *name, char *word, size_t n)
{
	char key[64];
	snprintf(key, sizeof(key), "CANARY %s ", name);
	const char *p = out ? strstr(out, key) : NULL;
	if (!p)
		return NULL;
	p += strlen(key);
	size_t k = strcspn(p, "\n");
	snprintf(word, n, "%.*s", (int)(k < n - 1 ? k : n - 1), p);
	return word;
}

static void on_exec(void *ud, struct jv *result, const char *err, int fatal)
{
	SL_UNUSED(fatal);
	struct canary *c = ud;
	struct jv *arr = jv_arr();
	const char *out = result ? jv_get_str(result, "stdout") : NULL;
	int all = 1;
	char path[300];
	snprintf(path, sizeof(path), "%s/written", c->dir);
	int wrote = access(path, F_OK) == 0;
	int leaked = (out && strstr(out, c->token)) ||
		     (result && jv_get_str(result, "stderr") &&
		      strstr(jv_get_str(result, "stderr"), c->token));
	for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
		char word[64];
		const char *v = err ? NULL : verdict(out, names[i], word, sizeof(word));
		int blocked = v && (!strcmp(v, "blocked") || !strncmp(v, "skipped", 7));
		const char *detail = !v ? (err ? err : "no verdict") : v;
		/* host-side evidence overrides what the sandbox says */
		if (!strcmp(names[i], "host_loopback") && c->hits) {
			blocked = 0;
			detail = "the host listener accepted a connection";
		}
		if (!strcmp(names[i], "write_outside") && wrote) {
			blocked = 0;
			detail = "the file appeared on the host";
		}
		if (!strcmp(names[i], "secret_read") && leaked) {
			blocked = 0;
			detail = "the secret appeared in the output";
		}
		all &= blocked;
		add_result(arr, names[i], blocked, detail);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/secret", c->dir);
	unlink(path);
	rmdir(c->dir);
	c->results = jv_obj();
	jv_set(c->results, "passed", jv_bool(all));
	jv_set(c->results, "canaries", arr);
	c->passed = all;
	if (c->sb->ops == &sb_native_ops && c->sb->impl) {
		struct sb_native *n = c->sb->impl;
		jv_unref(n->canaries);
		n->canaries = jv_ref(c->results);
	}
	sb__note(c->sb, "startup canaries %s", all ? "passed: every escape attempt failed"
						     : "FAILED: an escape attempt got through");
	uv_close((uv_handle_t *)&c->listener, on_listener_closed);
}

static char *script(const struct canary *c)
{
	/* perl-base is essential on Debian; without perl the socket canaries
	 * say so instead of guessing (seccomp still denies raw sockets) */
	return sl_xasprintf(
		"r() { echo \"CANARY $1 $2\"; }\n"
		"if cat '%s/secret' >/dev/null 2>&1; then r secret_read OPEN; else r secret_read blocked; fi\n"
		"if (echo x >'%s/written') 2>/dev/null; then r write_outside OPEN; else r write_outside blocked; fi\n"
		"if (echo x >/usr/.silo-canary) 2>/dev/null; then r write_baseline OPEN; else r write_baseline blocked; fi\n"
		"if command -v perl >/dev/null 2>&1; then\n"
		" t() { perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(PeerAddr=>$ARGV[0],PeerPort=>$ARGV[1],Timeout=>2)?0:1)' \"$1\" \"$2\" 2>/dev/null; }\n"
		" if t 127.0.0.1 %d; then r host_loopback OPEN; else r host_loopback blocked; fi\n"
		" if t 169.254.169.254 80; then r metadata_ip OPEN; else r metadata_ip blocked; fi\n"
		" if perl -MSocket -e 'socket(my $s, PF_INET, SOCK_RAW, 1) or exit 1' 2>/dev/null; then r raw_socket OPEN; else r raw_socket blocked; fi\n"
		" if perl -MSocket -e 'socket(my $s, 17, SOCK_RAW, 0) or exit 1' 2>/dev/null; then r packet_socket OPEN; else r packet_socket blocked; fi\n"
		"else\n"
		" for n in host_loopback metadata_ip raw_socket packet_socket; do r $n skipped-no-perl; done\n"
		"fi\n",
		c->dir, c->dir, c->port);
}

int sb_canaries(struct sb *sb, sb_canary_fn done, void *ud, struct sl_err *err)
{
	if (!sb || !done)
		return sl_err_set(err, SL_EINVAL, "canaries: no sandbox or callback");
	struct canary *c = sl_xcalloc(1, sizeof(*c));
	c->sb = sb;
	c->done = done;
	c->ud = ud;
	const char *tmp = getenv("TMPDIR");
	snprintf(c->dir, sizeof(c->dir), "%s/silo-canary-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c->dir)) {
		free(c);
		return sl_err_set(err, SL_EIO, "canaries: cannot create a temp dir");
	}
	unsigned char raw[16];
	sl_random(raw, sizeof(raw));
	memcpy(c->token, "silo-canary-", 12);
	sl_hex(raw, 12, c->token + 12);
	char path[300];
	snprintf(path, sizeof(path), "%s/secret", c->dir);
	if (sl_write_file(path, c->token, strlen(c->token), 0644, err)) {
		rmdir(c->dir);
		free(c);
		return SL_EIO;
	}
	uv_tcp_init(sb->loop, &c->listener);
	c->listener.data = c;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	struct sockaddr_storage bound;
	int bl = sizeof(bound);
	if (uv_tcp_bind(&c->listener, (struct sockaddr *)&a, 0) ||
	    uv_listen((uv_stream_t *)&c->listener, 8, on_conn) ||
	    uv_tcp_getsockname(&c->listener, (struct sockaddr *)&bound, &bl)) {
		unlink(path);
		rmdir(c->dir);
		c->done = NULL;
		uv_close((uv_handle_t *)&c->listener, free_canary);
		return sl_err_set(err, SL_EIO, "canaries: cannot listen on host loopback");
	}
	c->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	char *cmd = script(c);
	struct jv *args = jv_obj();
	jv_set(args, "command", jv_str(cmd));
	jv_set(args, "cwd", jv_str(SB_IN_WORKSPACE));
	jv_set(args, "env", jv_arr());
	jv_set(args, "timeout_ms", jv_int(15000));
	free(cmd);
	if (sb->ops->helper_request(sb, "exec", args, on_exec, NULL, c, err) < 0) {
		unlink(path);
		rmdir(c->dir);
		uv_close((uv_handle_t *)&c->listener, free_canary);
		return SL_ESTATE;
	}
	return 0;
}
