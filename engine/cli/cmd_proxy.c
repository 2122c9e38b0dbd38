/*
 * cmd_proxy: `silo debug proxy`, a hidden command that runs the egress
 * proxy on its own, for shell tests and benchmarks. It prints
 * `listening <addr>` on stdout, writes every network record as one JSON
 * line on stderr, and serves until SIGTERM or SIGINT, then stops
 * gracefully. Credentials are read from the environment exactly as in a
 * session; their values never appear in the output.
 *
 *   silo debug proxy --allow-domain D... [--tunnel-domain D]...
 *        [--hosts name=addr]... [--upstream-ca host=pem]...
 *        [--inject-credential host[:port]:header:ENV[:format]]...
 *        [--placeholder ENV:host[:port]:header]... [--ca-out FILE] [--mock]
 *        [--listen ADDR] [--head-timeout-ms N] [--idle-timeout-ms N]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "json/jv.h"
#include "proxy/px.h"

int cli_proxy_serve(int argc, char **argv);
void px__set_timeouts(struct px *px, unsigned head_ms, unsigned idle_ms);

struct serve {
	uv_loop_t *loop;
	struct px *px;
	uv_signal_t sigterm, sigint;
	int stopping;
};

static void on_record(void *ud, const struct jv *rec)
{
	char *s = jv_to_string(rec, 0);
	fprintf(stderr, "%s\n", s);
	fflush(stderr);
	free(s);
}

static void on_note(void *ud, const char *msg)
{
	fprintf(stderr, "# %s\n", msg);
}

static void on_stopped(void *ud)
{
	struct serve *s = ud;
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct serve *s = h->data;
	if (s->stopping)
		return;
	s->stopping = 1;
	px_stop(s->px, on_stopped, s);
}

static char **push(char **l, size_t *n, char *v)
{
	l = realloc(l, (*n + 2) * sizeof(char *));
	if (!l)
		abort();
	l[(*n)++] = v;
	l[*n] = NULL;
	return l;
}


static int split_eq(char *arg, struct jv *obj)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return -1;
	*eq = '\0';
	jv_set(obj, arg, jv_str(eq + 1));
	return 0;
}

/* p is the colon after a host: when a port follows, the colon after it. */
static char *port_end(char *p)
{
	if (!p || p[1] < '0' || p[1] > '9')
		return p;
	char *q = p + 1;
	while (*q >= '0' && *q <= '9')
		q++;
	return *q == ':' ? q : p;
}

/* Kept for the proxy library's reference to this command. */
int cli_proxy_serve(int argc, char **argv)
{
	return cli_main_as("debug proxy", argc, argv);
}

int cmd_debug_proxy(struct cli_args *a)
{
	struct px_config cfg = { 0 };
	char **allowed = NULL, **tunnel = NULL;
	size_t na = 0, nt = 0;
	struct px_credential *creds = NULL;
	struct px_placeholder *phs = NULL;
	size_t nc = 0, np = 0;
	struct jv *hosts = jv_obj(), *upca = jv_obj();
	const char *ca_out = cli_get(a, "ca-out");
	unsigned head_ms = 0, idle_ms = 0;
	int rc = 2, n;
	struct serve s = { 0 };
	long long ms;

	cfg.mock = cli_has(a, "mock");
	cfg.listen_addr = cli_get(a, "listen");
	if (cli_get_int(a, "head-timeout-ms", 0, 86400000, &ms) < 0)
		goto out;
	head_ms = (unsigned)(cli_has(a, "head-timeout-ms") ? ms : 0);
	if (cli_get_int(a, "idle-timeout-ms", 0, 86400000, &ms) < 0)
		goto out;
	idle_ms = (unsigned)(cli_has(a, "idle-timeout-ms") ? ms : 0);
	allowed = push(allowed, &na, NULL), na = 0;
	tunnel = push(tunnel, &nt, NULL), nt = 0;
	char **l = cli_all(a, "allow-domain", &n);
	for (int i = 0; i < n; i++)
		allowed = push(allowed, &na, l[i]);
	l = cli_all(a, "tunnel-domain", &n);
	for (int i = 0; i < n; i++)
		tunnel = push(tunnel, &nt, l[i]);
	l = cli_all(a, "hosts", &n);
	for (int i = 0; i < n; i++)
		if (split_eq(l[i], hosts)) {
			rc = cli_usage_error(a, "--hosts takes name=address");
			goto out;
		}
	l = cli_all(a, "upstream-ca", &n);
	for (int i = 0; i < n; i++)
		if (split_eq(l[i], upca)) {
			rc = cli_usage_error(a, "--upstream-ca takes host=pem-path");
			goto out;
		}
	l = cli_all(a, "inject-credential", &n);
	for (int i = 0; i < n; i++) {
		char *h = l[i], *hd = port_end(strchr(h, ':'));
		char *env = hd ? strchr(hd + 1, ':') : NULL;
		if (!hd || !env) {
			rc = cli_usage_error(a, "--inject-credential takes "
						"host[:port]:header:ENV[:format]");
			goto out;
		}
		*hd++ = '\0';
		*env++ = '\0';
		char *fmt = strchr(env, ':');
		if (fmt)
			*fmt++ = '\0';
		creds = sl_xrealloc(creds, (nc + 1) * sizeof(*creds));
		creds[nc++] = (struct px_credential){ h, hd, env, fmt };
	}
	l = cli_all(a, "placeholder", &n);
	for (int i = 0; i < n; i++) {
		char *env = l[i], *h = strchr(env, ':');
		char *hd = h ? port_end(strchr(h + 1, ':')) : NULL;
		if (!h || !hd) {
			rc = cli_usage_error(a, "--placeholder takes ENV:host[:port]:header");
			goto out;
		}
		*h++ = '\0';
		*hd++ = '\0';
		phs = sl_xrealloc(phs, (np + 1) * sizeof(*phs));
		phs[np++] = (struct px_placeholder){ env, h, hd, NULL, NULL };
	}
	cfg.allowed_domains = (const char *const *)allowed;
	cfg.tunnel_domains = (const char *const *)tunnel;
	cfg.credentials = creds;
	cfg.n_credentials = nc;
	cfg.placeholders = phs;
	cfg.n_placeholders = np;
	cfg.hosts = hosts;
	cfg.upstream_ca = upca;
	cfg.record = on_record;
	cfg.note = on_note;
	cfg.record_ud = &s;

	struct sl_err err = { 0 };
	s.loop = uv_default_loop();
	s.px = px_new(s.loop, &cfg, &err);
	if (!s.px) {
		fprintf(stderr, "silo debug proxy: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	px__set_timeouts(s.px, head_ms, idle_ms);
	if (px_start(s.px, &err)) {
		fprintf(stderr, "silo debug proxy: %s\n", err.msg);
		px_free(s.px);
		rc = 1;
		goto out;
	}
	if (ca_out) {
		const char *pem = px_ca_pem(s.px);
		if (sl_write_file(ca_out, pem, strlen(pem), 0644, &err))
			fprintf(stderr, "silo debug proxy: %s\n", err.msg);
	}
	for (size_t i = 0; i < np; i++)
		printf("placeholder %s=%s\n", phs[i].env, px_placeholder_value(s.px, phs[i].env));
	printf("listening %s\n", px_addr(s.px));
	fflush(stdout);
	uv_signal_init(s.loop, &s.sigterm);
	uv_signal_init(s.loop, &s.sigint);
	s.sigterm.data = s.sigint.data = &s;
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	uv_run(s.loop, UV_RUN_DEFAULT);
	px_free(s.px);
	uv_loop_close(s.loop);
	rc = 0;
out:
	free(allowed);
	free(tunnel);
	free(creds);
	free(phs);
	jv_unref(hosts);
	jv_unref(upca);
	return rc;
}
