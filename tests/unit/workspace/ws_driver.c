/*
 * ws_driver.c: lets test_workspace stand in for `silo workspace ...` while
 * the silo binary does not route that command yet: `test_workspace
 * workspace lock DIR` runs ws_cli() with the state directory of
 * LLMDEVSILO_STATE_DIR (or ~/.llmdevsilo) and exits before the TAP runner
 * starts. The integration scripts prefer the real binary when it works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (argc < 2 || strcmp(argv[1], "workspace"))
		return;
	const char *st = getenv("LLMDEVSILO_STATE_DIR");
	char *home = NULL;
	if (!st || !*st) {
		const char *h = getenv("HOME");
		home = malloc(strlen(h ? h : "") + 16);
		sprintf(home, "%s/.llmdevsilo", h ? h : "");
		st = home;
	}
	int rc = ws_cli(st, argc - 1, argv + 1);
	fflush(stdout);
	free(home);
	exit(rc);
}
