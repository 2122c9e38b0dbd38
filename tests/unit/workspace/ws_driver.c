/*
 * ws_driver.c: lets test_workspace stand in for `silo workspace ...` while
 * the silo binary does not route that command yet: `test_workspace
 * workspace lock DIR` runs the silo command line (state directory from
 * LLMDEVSILO_STATE_DIR or ~/.llmdevsilo) and exits before the TAP runner
 * starts. `test_workspace attach PATH PID [shell]` attaches a process and
 * prints the mount path (what `silo run` does). The integration scripts prefer the real binary when it works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "workspace/ws.h"

__attribute__((constructor)) static void ws_driver(void)
{
	FILE *f = fopen("/proc/self/cmdline", "rb");
	if (!f)
		return;
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *argv[256];
	int argc = 0;
	for (size_t i = 0; i < n && argc < 255; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	argv[argc] = NULL;
	if (argc < 2 || (strcmp(argv[1], "workspace") && strcmp(argv[1], "attach")))
		return;
	const char *st = getenv("LLMDEVSILO_STATE_DIR");
	char *home = NULL;
	if (!st || !*st) {
		const char *h = getenv("HOME");
		home = malloc(strlen(h ? h : "") + 16);
		sprintf(home, "%s/.llmdevsilo", h ? h : "");
		st = home;
	}
	int rc;
	if (!strcmp(argv[1], "attach")) {
		/* attach PATH PID [shell]: records the attachment, prints the mount */
		struct ws_attachment a;
		struct sl_err err = { 0 };
		if (argc < 4) {
			fprintf(stderr, "usage: attach PATH PID [shell]\n");
			exit(2);
		}
		rc = ws_attach(st, argv[2], "test-harness", atoi(argv[3]), argc > 4, &a, &err);
		if (rc)
			fprintf(stderr, "silo: %s\n", err.msg);
		else
			printf("%s\n", a.mount);
		ws_attachment_free(&a);
		rc = rc ? 1 : 0;
	} else {
		rc = cli_main(argc, argv);
	}
	fflush(stdout);
	free(home);
	exit(rc);
}
