/* Command dispatch (placeholder until the full parser lands). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("silo %s\n", SILO_VERSION);
		return 0;
	}
	fputs("usage: silo <command> [options]\n", stderr);
	return 2;
}
