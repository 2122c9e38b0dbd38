/*
 * cmd_sandbox: `silo debug sandbox-exec`, a hidden command that drives one
 * native sandbox without the agent engine, for the integration, security
 * and benchmark scripts:
 *
 *   silo debug sandbox-exec --workspace DIR [--allow-read P]... [--proxy ADDR]
 *       [--cache-dir DIR]
 *       [--timeout MS] [--interrupt-after MS] [--stream] [--access] [--canaries]
 *       [--op OP --args JSON]... [--repeat N] [--shell [--terminate-after MS]]
 *       [-- CMD...]
 *
 * Each --op runs one helper request (engine op names: exec read write edit
 * listdir fetch) and prints its Ok payload as one JSON line (an Err prints
 * "error: <msg>" on stderr and makes the exit status 1). After the ops, CMD
 * (if any) runs through the exec op: its stdout and stderr are printed and
 * its exit code becomes ours (124 timed out, 130 cancelled). --shell runs
 * CMD through user_shell instead (pty relayed to this terminal). --repeat
 * runs CMD N times and prints the mean round trip in microseconds on stderr;
 * --timing prints the time from nothing to the first CMD result.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/sl.h"
#include "cli/cli.h"
#include "json/jv.h"
#include "sandbox/sb.h"

int cli_sandbox_exec(int argc, char **argv);

#define MAX_OPS 64

struct drv {
	uv_loop_t loop;
	struct sb *sb;
	const char *ops[MAX_OPS];
	const char *args[MAX_OPS];
	int nops, cur;
	char *command;      /* owned */
	int timeout_ms, interrupt_ms, stream, repeat, reps_done;
	int status;         /* exit status */
	int canaries;
	uv_timer_t itimer;
	int itimer_on;
	long long t0;
	long long total_us;
	long long t_begin; /* before sb_new, for --timing */
	int timing;
};

/* --terminate-after: SIGALRM ends the user shell as SIGTERM to silo would */
static struct sb *alarm_sb;

static void on_alarm(int sig)
{
	SL_UNUSED(sig);
	if (alarm_sb)
		alarm_sb->ops->terminate_user_shell(alarm_sb);
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void next_step(struct drv *d);

static void on_stopped(void *ud)
{
	struct drv *d = ud;
	if (d->itimer_on) {
		uv_close((uv_handle_t *)&d->itimer, NULL);
		d->itimer_on = 0;
	}
}

static void finish(struct drv *d)
{
	d->sb->ops->shutdown(d->sb, on_stopped, d);
}

static void on_op_done(void *ud, struct jv *result, const char *err, int fatal)
{
	struct drv *d = ud;
	if (err) {
		fprintf(stderr, "error: %s\n", err);
		d->status = fatal ? 3 : 1;
		if (fatal) {
			finish(d);
			return;
		}
	} else {
		char *s = jv_to_string(result, 0);
		printf("%s\n", s);
		free(s);
	}
	fflush(stdout);
	d->cur++;
	next_step(d);
}

static void on_chunk(void *ud, const char *stream, const char *data, size_t n)
{
	SL_UNUSED(ud);
	FILE *f = !strcmp(stream, "stderr") ? stderr : stdout;
	fwrite(data, 1, n, f);
	fflush(f);
}

static void on_exec_done(void *ud, struct jv *result, const char *err, int fatal)
{
	struct drv *d = ud;
	d->total_us += now_us() - d->t0;
	if (d->timing && d->reps_done == 0)
		fprintf(stderr, "cold start to first result: %lld us\n", now_us() - d->t_begin);
	if (err) {
		fprintf(stderr, "error: %s\n", err);
		d->status = fatal ? 3 : 1;
		finish(d);
		return;
	}
	if (++d->reps_done < d->repeat) {
		next_step(d);
		return;
	}
	if (d->repeat > 1)
		fprintf(stderr, "round trip: %lld us mean over %d\n", d->total_us / d->repeat,
			d->repeat);
	if (!d->stream) {
		const struct jv *o = jv_get(result, "stdout"), *e = jv_get(result, "stderr");
		fwrite(jv_str_val(o), 1, jv_str_len(o), stdout);
		fflush(stdout);
		fwrite(jv_str_val(e), 1, jv_str_len(e), stderr);
	}
	fflush(stdout);
	if (jv_get_bool(result, "timed_out"))
		d->status = 124;
	else if (jv_get_bool(result, "cancelled"))
		d->status = 130;
	else
		d->status = (int)(jv_get_int(result, "exit_code", 1) & 0xff);
	finish(d);
}

static void on_interrupt(uv_timer_t *t)
{
	struct drv *d = t->data;
	d->sb->ops->interrupt(d->sb);
}

static void on_canaries(void *ud, int passed, struct jv *results)
{
	struct drv *d = ud;
	char *s = jv_to_string(results, 0);
	printf("%s\n", s);
	free(s);
	if (!passed)
		d->status = 4;
	d->canaries = 0;
	next_step(d);
}

static void next_step(struct drv *d)
{
	struct sl_err err = { 0 };
	if (d->canaries) {
		if (sb_canaries(d->sb, on_canaries, d, &err)) {
			fprintf(stderr, "error: %s\n", err.msg);
			d->status = 4;
			finish(d);
		}
		return;
	}
	if (d->cur < d->nops) {
		struct jv_parse_opts po = { 0 };
		const char *a = d->args[d->cur] ? d->args[d->cur] : "{}";
		struct jv *args = jv_parse(a, strlen(a), &po, &err);
		if (!args) {
			fprintf(stderr, "error: --args: %s\n", err.msg);
			d->status = 2;
			finish(d);
			return;
		}
		if (d->sb->ops->helper_request(d->sb, d->ops[d->cur], args, on_op_done, NULL, d,
					       &err) < 0) {
			fprintf(stderr, "error: %s\n", err.msg);
			d->status = 1;
			d->cur++;
			next_step(d);
		}
		return;
	}
	if (!d->command) {
		finish(d);
		return;
	}
	struct jv *args = jv_obj();
	jv_set(args, "command", jv_str(d->command));
	jv_set(args, "cwd", jv_str("/workspace"));
	jv_set(args, "env", jv_arr());
	jv_set(args, "timeout_ms", jv_int(d->timeout_ms));
	if (d->interrupt_ms > 0 && !d->itimer_on) {
		uv_timer_init(&d->loop, &d->itimer);
		d->itimer.data = d;
		d->itimer_on = 1;
		uv_timer_start(&d->itimer, on_interrupt, (uint64_t)d->interrupt_ms, 0);
	}
	d->t0 = now_us();
	if (d->sb->ops->helper_request(d->sb, "exec", args, on_exec_done,
				       d->stream ? on_chunk : NULL, d, &err) < 0) {
		fprintf(stderr, "error: %s\n", err.msg);
		d->status = 1;
		finish(d);
	}
}

/* Shell-quotes argv into one sh -c command line. */
static char *join_quoted(int argc, char **argv)
{
	struct sl_buf b;
	sl_buf_init(&b);
	for (int i = 0; i < argc; i++) {
		if (i)
			sl_buf_addc(&b, ' ');
		sl_buf_addc(&b, '\'');
		for (const char *p = argv[i]; *p; p++) {
			if (*p == '\'')
				sl_buf_adds(&b, "'\\''");
			else
				sl_buf_addc(&b, *p);
		}
		sl_buf_addc(&b, '\'');
	}
	return sl_buf_steal(&b);
}

/* The test driver's entry (tests/unit/sandbox_native): argv[0] is
 * "sandbox-exec", the rest its options, parsed by the one command line. */
int cli_sandbox_exec(int argc, char **argv)
{
	return cli_main_as("debug sandbox-exec", argc - 1, argv + 1);
}

int cmd_debug_sandbox_exec(struct cli_args *a)
{
	struct drv d;
	memset(&d, 0, sizeof(d));
	d.timeout_ms = 60000;
	d.repeat = 1;
	struct sb_config cfg = { .kind = "native" };
	int n;
	long long v = 0;
	char **allow = cli_all(a, "allow-read", &n);
	const char **list = sl_xcalloc((size_t)n + 1, sizeof *list);
	for (int i = 0; i < n; i++)
		list[i] = allow[i];
	d.stream = cli_has(a, "stream");
	d.canaries = cli_has(a, "canaries");
	d.timing = cli_has(a, "timing");
	int access = cli_has(a, "access"), shell = cli_has(a, "shell"), term_ms = 0;
	int k;
	if ((k = cli_get_int(a, "timeout", 1, 86400000, &v)) > 0)
		d.timeout_ms = (int)v;
	if (k >= 0 && (k = cli_get_int(a, "interrupt-after", 0, 86400000, &v)) > 0)
		d.interrupt_ms = (int)v;
	if (k >= 0 && (k = cli_get_int(a, "terminate-after", 0, 86400000, &v)) > 0)
		term_ms = (int)v;
	if (k >= 0 && (k = cli_get_int(a, "repeat", 1, 1000000, &v)) > 0)
		d.repeat = (int)v;
	if (k < 0) {
		free(list);
		return 2;
	}
	/* each --args belongs to the --op before it */
	for (int i = 0; i < a->nseq; i++) {
		const char *name = a->cmd->opts[a->seq[i].opt].name;
		if (!strcmp(name, "op") && d.nops < MAX_OPS) {
			d.ops[d.nops++] = a->seq[i].val;
		} else if (!strcmp(name, "args")) {
			if (!d.nops) {
				free(list);
				return cli_usage_error(a, "--args needs an --op before it");
			}
			d.args[d.nops - 1] = a->seq[i].val;
		}
	}
	cfg.workspace = cli_get(a, "workspace");
	cfg.cache_dir = cli_get(a, "cache-dir");
	cfg.proxy_addr = cli_get(a, "proxy");
	if (!cfg.workspace) {
		free(list);
		return cli_usage_error(a, "--workspace is required");
	}
	cfg.read_allowlist = list;
	char **argv = a->tail;
	int argc = a->tail ? a->ntail : 0, i = 0;
	if (i < argc)
		d.command = join_quoted(argc - i, argv + i);
	struct sl_err err = { 0 };
	d.t_begin = now_us();
	sl_log_init(getenv("SILO_LOG"));
	uv_loop_init(&d.loop);
	d.sb = sb_new(&d.loop, &cfg, &err);
	if (!d.sb) {
		fprintf(stderr, "error: %s\n", err.msg);
		free(d.command);
		free(list);
		uv_loop_close(&d.loop);
		return 1;
	}
	if (shell) {
		if (term_ms > 0) {
			alarm_sb = d.sb;
			signal(SIGALRM, on_alarm);
			struct itimerval it = { { 0, 0 }, { term_ms / 1000, (term_ms % 1000) * 1000 } };
			setitimer(ITIMER_REAL, &it, NULL);
		}
		int st = d.sb->ops->user_shell(d.sb, i < argc ? argv + i : NULL, &err);
		if (st < 0)
			fprintf(stderr, "error: %s\n", err.msg);
		d.status = st < 0 ? 1 : st;
		alarm_sb = NULL;
		d.sb->ops->shutdown(d.sb, NULL, NULL);
		goto out;
	}
	if (d.sb->ops->start(d.sb, &err)) {
		fprintf(stderr, "error: %s\n", err.msg);
		d.status = 1;
		goto out;
	}
	if (access) {
		struct jv *r = d.sb->ops->access_report(d.sb);
		char *s = jv_to_string(r, 0);
		printf("%s\n", s);
		free(s);
		jv_unref(r);
	}
	next_step(&d);
	uv_run(&d.loop, UV_RUN_DEFAULT);
out:
	sb_free(d.sb);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d.loop))
		fprintf(stderr, "warning: sandbox left handles open\n");
	free(d.command);
	free(list);
	return d.status;
}
