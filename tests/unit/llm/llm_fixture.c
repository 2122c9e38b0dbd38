/* The fake-provider fixture of the llm tests (see llm_fixture.h). */
#include "llm_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *kinds[FX_NKINDS] = { "anthropic", "openai", "local", "realtime" };
static char dir[256];
static char urls[FX_NKINDS][64];
static char logs[FX_NKINDS][300];
static pid_t pids[FX_NKINDS];
static char lua_dir[1024], src[1024];
static int state; /* 0 not yet, 1 ready, -1 unavailable */

static void stop_all(void)
{
	for (int i = 0; i < FX_NKINDS; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			waitpid(pids[i], NULL, 0);
		}
	}
	if (dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", dir);
	}
}

static int start_server(int k)
{
	int fd[2];
	if (pipe(fd) < 0)
		return -1;
	snprintf(logs[k], sizeof logs[k], "%s/%s.log", dir, kinds[k]);
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		char script[1200], cert[300], key[300];
		snprintf(script, sizeof script,
			 "%s/tests/integration/fake_providers/fake_provider.py", src);
		snprintf(cert, sizeof cert, "%s/server.pem", dir);
		snprintf(key, sizeof key, "%s/server.key", dir);
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		const char *api_key = k == FX_ANTHROPIC			 ? FX_ANTHROPIC_KEY
				      : k == FX_OPENAI || k == FX_REALTIME ? FX_OPENAI_KEY
									   : "";
		execlp("python3", "python3", script, "--kind", kinds[k], "--cert", cert,
		       "--keyfile", key, "--key", api_key, "--log", logs[k], "--long-deltas",
		       "2000", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	pids[k] = p;
	char buf[64] = { 0 };
	size_t n = 0;
	while (n < sizeof buf - 1) {
		ssize_t r = read(fd[0], buf + n, 1);
		if (r <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	close(fd[0]);
	int port = 0;
	if (sscanf(buf, "PORT %d", &port) != 1)
		return -1;
	/* mbedTLS 2.28 matches DNS names only: the ws client uses localhost */
	snprintf(urls[k], sizeof urls[k], k == FX_REALTIME ? "wss://localhost:%d"
							  : "https://127.0.0.1:%d", port);
	return 0;
}

int fx_setup(void)
{
	if (state)
		return state > 0 ? 0 : -1;
	state = -1;
	const char *s = getenv("SILO_SRC");
	if (s) {
		snprintf(src, sizeof src, "%s", s);
	} else { /* this file is <src>/tests/unit/llm/llm_fixture.c */
		snprintf(src, sizeof src, "%s", __FILE__);
		char *cut = strstr(src, "/tests/unit/llm/");
		if (cut)
			*cut = 0;
	}
	snprintf(lua_dir, sizeof lua_dir, "%s/lua", src);
	if (system("command -v python3 >/dev/null && command -v openssl >/dev/null") != 0)
		return -1;
	snprintf(dir, sizeof dir, "/tmp/silo-llm-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	atexit(stop_all);
	char cmd[2400];
	snprintf(cmd, sizeof cmd, "sh '%s/tests/integration/fake_providers/mkcerts.sh' '%s'", src,
		 dir);
	if (system(cmd) != 0)
		return -1;
	for (int k = 0; k < FX_NKINDS; k++)
		if (start_server(k) < 0)
			return -1;
	char ca[300];
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	setenv("SILO_LLM_CA_FILE", ca, 1);
	setenv("ANTHROPIC_API_KEY", FX_ANTHROPIC_KEY, 1);
	setenv("OPENAI_API_KEY", FX_OPENAI_KEY, 1);
	/* proxy variables must be ignored by the client */
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	signal(SIGPIPE, SIG_IGN);
	state = 1;
	return 0;
}

const char *fx_url(enum fx_kind k)
{
	return urls[k];
}

const char *fx_lua_dir(void)
{
	return lua_dir;
}

const char *fx_src(void)
{
	return src;
}

struct jv *fx_log(enum fx_kind k)
{
	struct sl_err err;
	size_t n;
	char *text = sl_read_file(logs[k], &n, 64 << 20, &err);
	struct jv *a = jv_arr();
	if (!text)
		return a;
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		struct jv *v = jv_parse(line, (size_t)(nl - line), NULL, &err);
		if (v)
			jv_push(a, v);
	}
	free(text);
	return a;
}

struct jv *fx_last(enum fx_kind k)
{
	struct jv *a = fx_log(k);
	struct jv *last = jv_len(a) ? jv_ref(jv_at(a, jv_len(a) - 1)) : NULL;
	jv_unref(a);
	return last;
}

const char *fx_header(const struct jv *rec, const char *name)
{
	struct jv *hs = jv_get(rec, "headers");
	for (size_t i = 0; i < jv_len(hs); i++) {
		struct jv *p = jv_at(hs, i);
		if (jv_str_val(jv_at(p, 0)) && !strcasecmp(jv_str_val(jv_at(p, 0)), name))
			return jv_str_val(jv_at(p, 1));
	}
	return NULL;
}

static void on_done(void *ud, struct jv *resp, struct jv *err)
{
	struct fx_result *r = ud;
	r->finished++;
	r->resp = resp;
	r->err = err;
	r->text = jv_to_string(resp ? resp : err, JV_EMIT_SORTED);
	if (getenv("FX_VERBOSE"))
		printf("# %s\n", r->text);
}

int fx_run(struct llm *l, uv_loop_t *loop, const struct jv *req, struct fx_result *r)
{
	memset(r, 0, sizeof *r);
	int id = llm_complete(l, req, on_done, r);
	if (id < 0)
		return id;
	while (!r->finished && uv_run(loop, UV_RUN_ONCE))
		;
	return r->finished == 1 ? 0 : -1;
}

void fx_result_free(struct fx_result *r)
{
	jv_unref(r->resp);
	jv_unref(r->err);
	free(r->text);
	memset(r, 0, sizeof *r);
}

struct jv *fx_request(const char *model, int with_tools)
{
	struct sl_err err;
	const char *tools = with_tools
		? "[{\"name\":\"Read\",\"description\":\"Read a file\",\"input_schema\":"
		  "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},"
		  "\"required\":[\"path\"]},\"availability\":\"both\"}]"
		: "[]";
	char *text = sl_xasprintf("{\"model\":\"%s\",\"system\":\"You are a test.\","
				  "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
				  "\"text\":\"Hi there\"}]}],\"tools\":%s,\"max_tokens\":1024}",
				  model, tools);
	struct jv *v = jv_parse(text, strlen(text), NULL, &err);
	free(text);
	return v;
}

void fx_add_message(struct jv *req, const char *role, struct jv *content)
{
	struct jv *m = jv_obj();
	jv_set(m, "role", jv_str(role));
	jv_set(m, "content", content);
	jv_push(jv_get(req, "messages"), m);
}

static void walk_cb(uv_handle_t *h, void *arg)
{
	(*(int *)arg)++;
	fprintf(stderr, "# open handle type %d\n", (int)h->type);
}

int fx_loop_close(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(loop);
	if (rc) {
		int n = 0;
		uv_walk(loop, walk_cb, &n);
	}
	return rc;
}
