/*
 * The command table: every command, its options and positionals. The
 * parser, --help, the man pages and completion read only this.
 */
#include "cli/cli.h"

/* Entries leave the fields they do not need (choices, kind) unwritten. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define BACKENDS "anthropic openai openai-ws local mock"
#define SANDBOXES "auto native gvisor microvm mock"

static const struct cli_opt run_opts[] = {
	{ "workspace", 1, 0, "PATH", "workspace directory (must be locked unless --create)", NULL,
	  CLI_K_WORKSPACE },
	{ "create", 0, 0, NULL, "lock the workspace first (new, empty or unlocked directory)" },
	{ "config", 1, 0, "FILE.lua", "static harness settings (a data-only Lua table)", NULL,
	  CLI_K_FILE },
	{ "policy", 1, 1, "FILE.lua", "security policy; a later file wins per key", NULL,
	  CLI_K_FILE },
	{ "frontend", 1, 0, "KIND", "who drives the session (default interactive)",
	  "interactive headless mock" },
	{ "prompt", 1, 0, "TEXT", "the task, for the headless frontend" },
	{ "listen", 1, 0, "IP:PORT", "interactive server address (default 127.0.0.1:0)" },
	{ "tls-cert", 1, 0, "PEM", "interactive server certificate (with --tls-key)", NULL,
	  CLI_K_FILE },
	{ "tls-key", 1, 0, "PEM", "interactive server key (with --tls-cert)", NULL, CLI_K_FILE },
	{ "pairing-code", 0, 0, NULL, "print a one-time pairing code" },
	{ "llm", 1, 0, "BACKEND", "LLM backend (default: chosen from the API key set)", BACKENDS },
	{ "model", 1, 0, "NAME", "model name (default per backend)" },
	{ "api-key-env", 1, 0, "VAR", "environment variable holding the API key" },
	{ "base-url", 1, 0, "URL", "provider base URL" },
	{ "quota-tokens", 1, 0, "N", "session token quota (all agents together)" },
	{ "quota-usd", 1, 0, "USD", "session dollar quota (all agents together)" },
	{ "max-turns", 1, 0, "N", "at most N model calls of the top-level agent (exit 3)" },
	{ "timeout", 1, 0, "DURATION", "wall-time limit, e.g. 90s, 20m, 1h (exit 3)" },
	{ "sandbox", 1, 0, "KIND", "sandbox backend (default auto: the best that works here)",
	  SANDBOXES },
	{ "allow-read", 1, 1, "PATH", "extra read-only path inside the sandbox", NULL, CLI_K_FILE },
	{ "allow-risky-path", 1, 1, "PATH", "accept one risky --allow-read entry", NULL,
	  CLI_K_FILE },
	{ "allow-domain", 1, 1, "PATTERN", "allowed egress domain (exact or *.suffix)" },
	{ "inject-credential", 1, 1, "HOST[:PORT]:HEADER:ENV[:FORMAT]",
	  "credential the proxy adds to requests to HOST (the value stays in ENV)" },
	{ "script", 1, 0, "FIXTURE.lua", "fixture the mock components replay", NULL, CLI_K_FILE },
	{ "journal", 1, 0, "PATH", "journal database (default STATE/journals/ID.db)", NULL,
	  CLI_K_FILE },
	{ "deterministic", 0, 0, NULL, "fake clock, no signal handling, byte-stable journals" },
	{ "mock-proxy", 0, 0, NULL, "use the mock proxy (implied by --sandbox mock)" },
	{ "print-access", 0, 0, NULL, "print the access report and exit" },
	{ "output", 1, 0, "FORMAT",
	  "headless: text (progress on stderr, default) or json (one event per line on stdout)",
	  "text json" },
	{ "quiet", 0, 0, NULL, "headless: no progress, only the final message and cost lines" },
	{ NULL },
};

static const struct cli_opt shell_opts[] = {
	{ "workspace", 1, 0, "PATH", "locked workspace to enter", NULL, CLI_K_WORKSPACE },
	{ "allow-read", 1, 1, "PATH", "extra read-only path", NULL, CLI_K_FILE },
	{ "allow-risky-path", 1, 1, "PATH", "accept one risky --allow-read entry", NULL,
	  CLI_K_FILE },
	{ "allow-domain", 1, 1, "PATTERN", "allowed egress domain (exact or *.suffix)" },
	{ "inject-credential", 1, 1, "HOST[:PORT]:HEADER:ENV[:FORMAT]",
	  "credential the proxy adds to requests to HOST" },
	{ "sandbox", 1, 0, "KIND", "sandbox backend (default auto)", SANDBOXES },
	{ "policy", 1, 1, "FILE.lua", "security policy; a later file wins per key", NULL,
	  CLI_K_FILE },
	{ NULL },
};

static const struct cli_opt replay_opts[] = {
	{ "o", 1, 0, "OUT.lua", "the fixture to write (required)", NULL, CLI_K_FILE },
	{ "name", 1, 0, "NAME", "fixture name (default: the journal's file stem)" },
	{ NULL },
};
static const struct cli_opt export_opts[] = {
	{ "o", 1, 0, "OUT.jsonl", "output file (default stdout)", NULL, CLI_K_FILE },
	{ NULL },
};
static const struct cli_opt fsm_opts[] = {
	{ "dot", 0, 0, NULL, "print Graphviz dot instead of Markdown" },
	{ NULL },
};
static const struct cli_opt json_opts[] = {
	{ "json", 0, 0, NULL, "machine-readable output" },
	{ NULL },
};
static const struct cli_opt lock_opts[] = {
	{ "strategy", 1, 0, "KIND", "how the workspace is held (default: the best that works)",
	  "ext4_loop ext4_fuse directory" },
	{ "create", 0, 0, NULL, "create PATH when it does not exist (else a missing PATH is refused)" },
	{ "size", 1, 0, "SIZE", "image size, e.g. 8G (default: from the content, with headroom)" },
	{ NULL },
};
static const struct cli_opt unlock_opts[] = {
	{ "rules", 1, 1, "FILE.lua", "extra review rules (added after the built-in ones)", NULL,
	  CLI_K_FILE },
	{ "json", 0, 0, NULL, "print the review as JSON" },
	{ NULL },
};
static const struct cli_opt sbexec_opts[] = {
	{ "workspace", 1, 0, "DIR", "directory mounted read-write at /workspace", NULL, CLI_K_DIR },
	{ "allow-read", 1, 1, "PATH", "extra read-only path", NULL, CLI_K_FILE },
	{ "proxy", 1, 0, "ADDR", "egress proxy the sandbox's relay forwards to" },
	{ "cache-dir", 1, 0, "DIR", "toolchain cache mounted in the sandbox", NULL, CLI_K_DIR },
	{ "timeout", 1, 0, "MS", "kill the command after MS milliseconds (default 60000)" },
	{ "interrupt-after", 1, 0, "MS", "interrupt the command after MS milliseconds" },
	{ "terminate-after", 1, 0, "MS", "with --shell: end the shell after MS milliseconds" },
	{ "repeat", 1, 0, "N", "run the command N times in the same sandbox" },
	{ "op", 1, 1, "OP", "a helper operation instead of a command" },
	{ "args", 1, 1, "JSON", "arguments of the preceding --op" },
	{ "stream", 0, 0, NULL, "print output as it arrives" },
	{ "access", 0, 0, NULL, "print the access report" },
	{ "canaries", 0, 0, NULL, "plant canary secrets and report any that leak" },
	{ "timing", 0, 0, NULL, "print start-up timings" },
	{ "shell", 0, 0, NULL, "run as a user shell on a terminal" },
	{ NULL },
};
static const struct cli_opt proxy_opts[] = {
	{ "listen", 1, 0, "IP:PORT", "address to listen on (default 127.0.0.1:0)" },
	{ "allow-domain", 1, 1, "PATTERN", "allowed domain (exact or *.suffix)" },
	{ "tunnel-domain", 1, 1, "PATTERN", "domain passed through without interception" },
	{ "hosts", 1, 1, "NAME=ADDR", "resolve NAME to ADDR" },
	{ "upstream-ca", 1, 1, "HOST=PEM", "trust PEM for HOST's certificate" },
	{ "inject-credential", 1, 1, "HOST[:PORT]:HEADER:ENV[:FORMAT]", "credential added for HOST" },
	{ "placeholder", 1, 1, "ENV:HOST[:PORT]:HEADER", "placeholder replaced by the secret in ENV" },
	{ "ca-out", 1, 0, "PEM", "write the interception CA certificate here", NULL, CLI_K_FILE },
	{ "head-timeout-ms", 1, 0, "MS", "request head timeout" },
	{ "idle-timeout-ms", 1, 0, "MS", "idle connection timeout" },
	{ "mock", 0, 0, NULL, "the mock proxy (answers from the journal, no network)" },
	{ NULL },
};
static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_commands[] = {
	{ .name = "run", .synopsis = "run [OPTIONS]", .summary = "run one agent session",
	  .opts = run_opts, .fn = cmd_run },
	{ .name = "workspace lock", .synopsis = "workspace lock PATH [--strategy KIND] [--create] [--size SIZE]",
	  .summary = "lock a directory for sessions (you step away from it)", .opts = lock_opts,
	  .fn = cmd_workspace, .min_pos = 1, .max_pos = 1, .pos_name = "PATH",
	  .pos_kind = CLI_K_DIR },
	{ .name = "workspace unlock", .synopsis = "workspace unlock PATH [--rules FILE.lua]... [--json]",
	  .summary = "give a workspace back, with a review of every change", .opts = unlock_opts,
	  .fn = cmd_workspace, .min_pos = 1, .max_pos = 1, .pos_name = "PATH",
	  .pos_kind = CLI_K_WORKSPACE },
	{ .name = "workspace status", .synopsis = "workspace status [PATH] [--json]",
	  .summary = "lock and attachment state of one directory", .opts = json_opts,
	  .fn = cmd_workspace, .min_pos = 0, .max_pos = 1, .pos_name = "PATH",
	  .pos_kind = CLI_K_WORKSPACE },
	{ .name = "workspace list", .synopsis = "workspace list [--json]",
	  .summary = "every locked workspace", .opts = json_opts, .fn = cmd_workspace },
	{ .name = "workspace review", .synopsis = "workspace review PATH [--json]",
	  .summary = "the last review of a workspace, again", .opts = json_opts,
	  .fn = cmd_workspace, .min_pos = 1, .max_pos = 1, .pos_name = "PATH",
	  .pos_kind = CLI_K_DIR },
	{ .name = "shell", .synopsis = "shell --workspace PATH [OPTIONS] [-- CMD...]",
	  .summary = "you, in a sandbox of the agent's confinement", .opts = shell_opts,
	  .fn = cmd_shell, .tail = 1 },
	{ .name = "replay-test", .synopsis = "replay-test [--name NAME] -o OUT.lua JOURNAL",
	  .summary = "turn a session journal into a deterministic test fixture",
	  .opts = replay_opts, .fn = cmd_replay_test, .min_pos = 1, .max_pos = 1,
	  .pos_name = "JOURNAL", .pos_kind = CLI_K_FILE },
	{ .name = "journal export", .synopsis = "journal export [-o OUT.jsonl] JOURNAL",
	  .summary = "write a journal as JSON Lines", .opts = export_opts,
	  .fn = cmd_journal_export, .min_pos = 1, .max_pos = 1, .pos_name = "JOURNAL",
	  .pos_kind = CLI_K_FILE },
	{ .name = "journal list", .synopsis = "journal list",
	  .summary = "list the journals in the state directory", .opts = no_opts,
	  .fn = cmd_journal_list },
	{ .name = "harnesses list", .synopsis = "harnesses list",
	  .summary = "list running interactive harnesses", .opts = no_opts,
	  .fn = cmd_harnesses_list },
	{ .name = "doctor", .synopsis = "doctor [--json]",
	  .summary = "which sandbox backends and kernel features work here", .opts = json_opts,
	  .fn = cmd_doctor },
	{ .name = "debug fsm", .synopsis = "debug fsm [NAME] [--dot]",
	  .summary = "print the state machine tables", .opts = fsm_opts, .fn = cmd_debug_fsm,
	  .min_pos = 0, .max_pos = 1, .pos_name = "NAME" },
	{ .name = "debug seccomp", .synopsis = "debug seccomp",
	  .summary = "print the sandbox's seccomp filter table", .opts = no_opts,
	  .fn = cmd_debug_seccomp },
	{ .name = "debug sandbox-exec",
	  .synopsis = "debug sandbox-exec --workspace DIR [OPTIONS] [-- CMD...]",
	  .summary = "run one command in a native sandbox (testing aid)", .opts = sbexec_opts,
	  .fn = cmd_debug_sandbox_exec, .hidden = 1, .tail = 1 },
	{ .name = "debug proxy", .synopsis = "debug proxy [OPTIONS]",
	  .summary = "serve the egress proxy standalone (testing aid)", .opts = proxy_opts,
	  .fn = cmd_debug_proxy, .hidden = 1 },
	{ .name = "manpages", .synopsis = "manpages DIR",
	  .summary = "write the man pages into DIR", .opts = no_opts, .fn = cmd_manpages,
	  .hidden = 1, .min_pos = 1, .max_pos = 1, .pos_name = "DIR", .pos_kind = CLI_K_DIR },
};
const int cli_n_commands = (int)SL_ARRAY_LEN(cli_commands);
