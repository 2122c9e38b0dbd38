/*
 * When run as `test_sandbox_native sandbox-exec ARGS...`, this executable is
 * `silo debug sandbox-exec` (engine/cli/cmd_sandbox.c) instead of a TAP
 * suite, so the shell tests can drive a sandbox even before the command is
 * wired into the silo binary (also `doctor [--json]` and `seccomp`). glibc
 * passes argc/argv to constructors.
 */
#include <stdlib.h>
#include <string.h>

#include "sandbox/sb.h"

int cli_sandbox_exec(int argc, char **argv);

__attribute__((constructor)) static void sb_test_driver(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "sandbox-exec"))
		exit(cli_sandbox_exec(argc - 1, argv + 1));
	if (argc > 1 && !strcmp(argv[1], "doctor"))
		exit(sb_doctor(stdout, argc > 2 && !strcmp(argv[2], "--json")));
	if (argc > 1 && !strcmp(argv[1], "seccomp"))
		exit(sb_seccomp_dump(stdout));
}
