/*
 * llm_local: a local OpenAI-compatible server (llama.cpp's llama-server is
 * the example) that the harness starts and looks after for the `local`
 * backend (decisions 33): start the command line, wait until it answers
 * its health check, restart it at most twice when it dies, stop it (its
 * whole process group) when the backend is freed. Every line it writes on
 * stderr, each start, exit and restart becomes a journal lifecycle note
 * (decisions 35). The server is not sandboxed: it is the user's own
 * program, started the way they would start it by hand.
 *
 * Health (cli.md 4.3): every 250 ms, GET <base>/v1/models, else GET
 * <base>/health (llama-server answers 503 while loading), 2 s per probe, up
 * to 60 s by default. When the server is given up, the reason carries the
 * last 4 KiB of its stderr.
 */
#include "http/llm_local.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOC_POLL_MS 250
#define LOC_TAIL 4096
#define LOC_MAX_RESTARTS 2
#define LOC_MAX_LINE 2000

struct llm_local {
	uv_loop_t *loop;          /* borrowed */
	struct hc *hc;            /* borrowed: the backend's client */
	char *cmd, *base;         /* owned */
	const char *health_path;  /* "/v1/models" or "/health" */
	long ready_timeout_ms;
	void (*note)(void *, const char *);
	void (*on_state)(void *, enum llm_local_state, const char *);
	void *ud;
	enum llm_local_state state;
	char why[LOC_TAIL + 300]; /* why DEAD */
	struct sl_buf tail;       /* the last LOC_TAIL bytes of stderr */
	int restarts;
	int stopping;
	/* the running child */
	uv_process_t *proc;       /* owned; freed in its close cb */
	uv_pipe_t *err_pipe;      /* owned; freed in its close cb */
	struct sl_buf line;       /* partial stderr line */
	uv_timer_t *timer;        /* health polls; owned */
	uint64_t started_ms;
	struct hc_req *probe;
	int closing;              /* handles still closing */
	int freed;                /* llm_local_free called */
};

static void start_child(struct llm_local *s);

static void notef(struct llm_local *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notef(struct llm_local *s, const char *fmt, ...)
{
	char msg[LOC_MAX_LINE + 100];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->note)
		s->note(s->ud, msg);
}

static void maybe_free(struct llm_local *s)
{
	if (!s->freed || s->closing)
		return;
	free(s->cmd);
	free(s->base);
	sl_buf_free(&s->line);
	sl_buf_free(&s->tail);
	free(s);
}

static void handle_closed(uv_handle_t *h)
{
	struct llm_local *s = h->data;
	free(h);
	s->closing--;
	maybe_free(s);
}

static void close_handle(struct llm_local *s, uv_handle_t *h)
{
	if (!h)
		return;
	h->data = s;
	s->closing++;
	uv_close(h, handle_closed);
}

static void set_state(struct llm_local *s, enum llm_local_state st, const char *why)
{
	s->state = st;
	if (why && s->tail.len)
		snprintf(s->why, sizeof s->why, "%s; its stderr ended with: %s", why, s->tail.p);
	else if (why)
		snprintf(s->why, sizeof s->why, "%s", why);
	why = st == LLM_LOCAL_DEAD ? s->why : why;
	if (s->on_state && !s->freed)
		s->on_state(s->ud, st, why);
}

static void flush_line(struct llm_local *s)
{
	if (s->line.len) {
		notef(s, "local server stderr: %s", s->line.p);
		if (s->tail.len)
			sl_buf_addc(&s->tail, '\n');
		sl_buf_add(&s->tail, s->line.p, s->line.len);
		if (s->tail.len > LOC_TAIL) {
			size_t cut = s->tail.len - LOC_TAIL;
			memmove(s->tail.p, s->tail.p + cut, LOC_TAIL);
			s->tail.len = LOC_TAIL;
			s->tail.p[LOC_TAIL] = 0;
		}
	}
	sl_buf_reset(&s->line);
}

static void err_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	static char slab[4096];
	SL_UNUSED(h);
	SL_UNUSED(sz);
	*b = uv_buf_init(slab, sizeof slab);
}

static void on_err_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct llm_local *s = st->data;
	if (n < 0) {
		flush_line(s);
		uv_read_stop(st);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = b->base[i];
		if (ch == '\n') {
			flush_line(s);
		} else if (ch != '\r' && s->line.len < LOC_MAX_LINE) {
			sl_buf_addc(&s->line, ch);
		}
	}
}

static void probe_done(void *ud, const struct hc_result *r)
{
	struct llm_local *s = ud;
	s->probe = NULL;
	if (s->state != LLM_LOCAL_STARTING)
		return;
	if (r->code == 0 && r->status == 200) {
		notef(s, "local server ready (%s answered 200)", s->health_path);
		uv_timer_stop(s->timer);
		set_state(s, LLM_LOCAL_READY, NULL);
		return;
	}
	/* not yet: the next probe asks the other endpoint */
	s->health_path = strcmp(s->health_path, "/v1/models") ? "/v1/models" : "/health";
}

static void on_poll(uv_timer_t *t)
{
	struct llm_local *s = t->data;
	if (s->state != LLM_LOCAL_STARTING || s->probe)
		return;
	if (uv_now(s->loop) - s->started_ms > (uint64_t)s->ready_timeout_ms) {
		char why[200];
		snprintf(why, sizeof why, "local server did not become ready within %ld ms",
			 s->ready_timeout_ms);
		notef(s, "%s", why);
		uv_timer_stop(t);
		s->stopping = 1;
		if (s->proc)
			uv_process_kill(s->proc, SIGKILL);
		set_state(s, LLM_LOCAL_DEAD, why);
		return;
	}
	char *url = sl_xasprintf("%s%s", s->base, s->health_path);
	struct hc_opts o = { .method = "GET", .url = url, .timeout_ms = 2000,
			     .on_done = probe_done, .ud = s };
	s->probe = hc_request(s->hc, &o, NULL);
	free(url);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct llm_local *s = p->data;
	flush_line(s);
	close_handle(s, (uv_handle_t *)s->proc);
	s->proc = NULL;
	if (s->err_pipe) {
		close_handle(s, (uv_handle_t *)s->err_pipe);
		s->err_pipe = NULL;
	}
	if (s->stopping || s->freed) {
		notef(s, "local server stopped");
		return;
	}
	if (sig)
		notef(s, "local server died (signal %d)", sig);
	else
		notef(s, "local server exited (status %lld)", (long long)status);
	if (s->restarts >= LOC_MAX_RESTARTS) {
		char why[200];
		snprintf(why, sizeof why, "local server died %d times; not restarted again",
			 s->restarts + 1);
		notef(s, "%s", why);
		uv_timer_stop(s->timer);
		set_state(s, LLM_LOCAL_DEAD, why);
		return;
	}
	s->restarts++;
	notef(s, "restarting local server (%d of %d)", s->restarts, LOC_MAX_RESTARTS);
	start_child(s);
}

static void start_child(struct llm_local *s)
{
	s->proc = sl_xcalloc(1, sizeof *s->proc);
	s->err_pipe = sl_xcalloc(1, sizeof *s->err_pipe);
	uv_pipe_init(s->loop, s->err_pipe, 0);
	s->err_pipe->data = s;
	char *args[] = { "/bin/sh", "-c", s->cmd, NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_IGNORE },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)s->err_pipe },
	};
	uv_process_options_t po = {
		.exit_cb = on_exit_cb,
		.file = "/bin/sh",
		.args = args,
		.stdio_count = 3,
		.stdio = stdio,
		.flags = UV_PROCESS_DETACHED, /* own process group: stop kills it all */
	};
	s->proc->data = s;
	int r = uv_spawn(s->loop, s->proc, &po);
	if (r < 0) {
		char why[200];
		snprintf(why, sizeof why, "cannot start the local server: %s", uv_strerror(r));
		notef(s, "%s", why);
		close_handle(s, (uv_handle_t *)s->proc);
		close_handle(s, (uv_handle_t *)s->err_pipe);
		s->proc = NULL;
		s->err_pipe = NULL;
		set_state(s, LLM_LOCAL_DEAD, why);
		return;
	}
	uv_read_start((uv_stream_t *)s->err_pipe, err_alloc, on_err_read);
	notef(s, "local server started (pid %d): %s", s->proc->pid, s->cmd);
	s->started_ms = uv_now(s->loop);
	s->health_path = "/v1/models";
	if (s->state != LLM_LOCAL_STARTING)
		set_state(s, LLM_LOCAL_STARTING, NULL);
	uv_timer_start(s->timer, on_poll, LOC_POLL_MS, LOC_POLL_MS);
}

struct llm_local *llm_local_new(uv_loop_t *loop, struct hc *hc, const char *cmd,
				const char *base_url, long ready_timeout_ms,
				void (*note)(void *, const char *),
				void (*on_state)(void *, enum llm_local_state, const char *),
				void *ud, struct sl_err *err)
{
	if (!cmd || !*cmd) {
		sl_err_set(err, SL_EINVAL, "local server: empty command");
		return NULL;
	}
	if (!base_url || strncmp(base_url, "http", 4)) {
		sl_err_set(err, SL_EINVAL, "local server: needs an http:// base URL");
		return NULL;
	}
	struct llm_local *s = sl_xcalloc(1, sizeof *s);
	s->loop = loop;
	s->hc = hc;
	s->cmd = sl_xstrdup(cmd);
	s->base = sl_xstrdup(base_url);
	size_t n = strlen(s->base);
	while (n && s->base[n - 1] == '/')
		s->base[--n] = 0;
	s->ready_timeout_ms = ready_timeout_ms > 0 ? ready_timeout_ms : 60000;
	s->note = note;
	s->on_state = on_state;
	s->ud = ud;
	s->state = LLM_LOCAL_STARTING;
	sl_buf_init(&s->line);
	sl_buf_init(&s->tail);
	s->timer = sl_xcalloc(1, sizeof *s->timer);
	uv_timer_init(loop, s->timer);
	s->timer->data = s;
	start_child(s);
	return s;
}

enum llm_local_state llm_local_state(const struct llm_local *s, const char **why)
{
	if (why)
		*why = s->why;
	return s->state;
}

void llm_local_free(struct llm_local *s)
{
	if (!s)
		return;
	s->freed = 1;
	s->stopping = 1;
	if (s->probe) {
		hc_cancel(s->probe);
		s->probe = NULL;
	}
	uv_timer_stop(s->timer);
	close_handle(s, (uv_handle_t *)s->timer);
	s->timer = NULL;
	if (s->proc) {
		/* the whole group: sh and what it started */
		kill(-s->proc->pid, SIGTERM);
		notef(s, "local server stopped (pid %d)", s->proc->pid);
		close_handle(s, (uv_handle_t *)s->proc);
		s->proc = NULL;
	}
	if (s->err_pipe) {
		close_handle(s, (uv_handle_t *)s->err_pipe);
		s->err_pipe = NULL;
	}
	maybe_free(s);
}
