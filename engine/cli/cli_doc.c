/*
 * The prose of the man pages: what the option table cannot say. Options
 * and synopses come from cli_cmds.c; `silo manpages` (cli_man.c) joins
 * both. Paragraphs are separated by blank lines; a paragraph whose lines
 * start with two spaces is printed as is.
 */
#include <string.h>

#include "cli/cli.h"

#define EXIT_COMMON                                                            \
	{ "0", "success" }, { "1", "runtime error: the message on stderr says what failed" }, \
	{ "2", "usage error: unknown option, bad value, missing argument" }

#define ENV_STATE                                                              \
	{ "LLMDEVSILO_STATE_DIR", "the state directory (default ~/.llmdevsilo)" }, \
	{ "SILO_LOG", "log levels on stderr: a level (error, warn, info, debug, trace), "    \
		      "optionally followed by module=level pairs, e.g. info,proxy=trace" }

#define FILE_STATE                                                             \
	{ "~/.llmdevsilo/", "the state directory: journals/, workspaces.db and the "          \
			    "workspace snapshots, run/ for live harnesses. Mode 0700; "     \
			    "no sandbox can ever read it." }

static const struct cli_pair silo_sections[] = {
	{ "SECURITY MODEL",
	  "silo protects what is outside the workspace: your files, your credentials and "
	  "personal data, the tokens it injects (the agent never sees their values), your "
	  "intranet (the proxy refuses private addresses), the kernel and your environment.\n\n"
	  "It does not protect against the accepted risks: the agent may write bad code or "
	  "vandalise the workspace; it may load the host for a while (CPU, memory, disk); "
	  "whatever you deliberately give it (the workspace, allowlisted files, injected "
	  "development credentials, conversation content sent to the LLM provider) may leave; "
	  "kernel bugs. Treat all code in a workspace as open source, every credential the "
	  "agent can reach as a scoped temporary development credential, and never expose "
	  "production data to it." },
	{ "CONVENTIONS",
	  "Options take their value as --opt value or --opt=value; options and arguments may "
	  "be mixed; a bare -- ends the options. A single-valued option given twice is an "
	  "error. Every command accepts --help and --version. Products (reports, listings, "
	  "final messages) go to stdout, diagnostics to stderr as 'silo: message' or "
	  "'warning: text'. Colour is used only on a terminal, never when NO_COLOR is set or "
	  "TERM is dumb." },
	{ NULL },
};
static const struct cli_pair exit_common[] = { EXIT_COMMON, { NULL } };
static const struct cli_pair env_silo[] = {
	ENV_STATE,
	{ "ANTHROPIC_API_KEY, OPENAI_API_KEY",
	  "read by silo run when no --llm is given, to choose the backend" },
	{ "SILO_LUA_DIR", "the Lua directory (tools, review rules, backends); default: found "
			  "next to the binary, then under the install prefix" },
	{ "SILO_HELPER_BIN", "the silo-helper binary; default: found the same way" },
	{ "NO_COLOR", "when set and not empty, no colour" },
	{ "TERM", "no colour when unset or dumb" },
	{ NULL },
};
static const struct cli_pair env_state[] = { ENV_STATE, { NULL } };
static const struct cli_pair files_state[] = { FILE_STATE, { NULL } };
static const struct cli_pair files_silo[] = {
	FILE_STATE,
	{ "PREFIX/share/silo/lua/", "the shipped tools, backends and review rules" },
	{ "PREFIX/share/silo/policies/", "the default policy and examples to copy" },
	{ "PREFIX/libexec/silo/silo-helper", "the static helper that runs inside the sandbox" },
	{ NULL },
};

static const struct cli_pair ex_silo[] = {
	{ "lock a project, run a session on it, review and take it back",
	  "silo workspace lock ~/dev/proj" },
	{ "a session with a paid backend and a spending cap",
	  "silo run --workspace ~/dev/proj --llm anthropic --quota-usd 20 --frontend headless "
	  "--prompt 'Fix the failing tests'" },
	{ "every change reviewed, auto-executed files first", "silo workspace unlock ~/dev/proj" },
	{ NULL },
};

static const struct cli_pair run_sections[] = {
	{ "SETTINGS AND THEIR LAYERS",
	  "Settings come from, in order: built-in defaults, --config FILE.lua (a data-only "
	  "table), each --policy FILE.lua (a later file wins per key, see silo-policy(5)), "
	  "and the options. A list (--allow-read, --allow-domain, --allow-risky-path, "
	  "--inject-credential) is replaced as a whole by the last layer that sets it. No "
	  "secret is ever written in any layer: a credential names the environment variable "
	  "that holds it, and its value stays in the engine's memory." },
	{ "BACKENDS",
	  "anthropic and openai talk to the providers' HTTP APIs, openai-ws to the realtime "
	  "WebSocket API, local to a local OpenAI-compatible server, mock replays a fixture "
	  "(--script). Without --llm, OPENAI_API_KEY and then ANTHROPIC_API_KEY choose the "
	  "backend. Paid backends warn when no quota is set.\n\n"
	  "The sandbox: auto picks the best backend that works here (silo doctor tells "
	  "which); native is the Linux namespaces, seccomp and Landlock sandbox; gvisor and "
	  "microvm are not built yet; mock executes nothing and replays a fixture." },
	{ NULL },
};
static const struct cli_pair exit_run[] = {
	EXIT_COMMON,
	{ "3", "the session ended before the task did: LLM failure (headless: the first failed "
	       "turn; otherwise 8 in a row), a headless model that keeps ending turns without "
	       "Exit, --max-turns or --timeout reached" },
	{ "4", "with --script: the fixture did not match, or entries were left unconsumed" },
	{ NULL },
};
static const struct cli_pair env_run[] = {
	ENV_STATE,
	{ "ANTHROPIC_API_KEY, OPENAI_API_KEY",
	  "without --llm, the first one set chooses the backend and is its key" },
	{ "any variable named by --api-key-env or --inject-credential",
	  "read once at start; the value never enters the sandbox, Lua or the journal" },
	{ NULL },
};
static const struct cli_pair ex_run[] = {
	{ "a headless session on a locked workspace",
	  "silo run --workspace ~/dev/proj --llm anthropic --quota-usd 20 --frontend headless "
	  "--prompt 'Fix the failing tests'" },
	{ "let the agent read /usr/share/doc and fetch from docs.rs",
	  "silo run --workspace ~/dev/proj --allow-read /usr/share/doc --allow-domain docs.rs "
	  "--frontend headless --prompt 'Update the dependencies'" },
	{ "what would the sandbox see and reach?",
	  "silo run --workspace ~/dev/proj --llm mock --script s.lua --print-access" },
	{ "replay a recorded session as a test",
	  "silo run --workspace ~/dev/proj --frontend mock --llm mock --sandbox mock "
	  "--mock-proxy --script session.lua --deterministic" },
	{ NULL },
};

static const struct cli_pair ws_sections[] = {
	{ "STRATEGIES",
	  "ext4_loop copies the directory into an ext4 image mounted through a loop device "
	  "(root only); ext4_fuse mounts the same image with fuse2fs (no root needed, slower "
	  "on metadata); directory keeps a snapshot in the state directory (always works, "
	  "weakest isolation of the host's view). The best that works is chosen unless "
	  "--strategy says otherwise." },
	{ "THE REVIEW",
	  "Unlock writes every change back and prints a review: files that run on their own "
	  "(git hooks, build scripts, editor and CI configuration, package manifests) first, "
	  "then every other added, changed and removed file. --rules adds review rules to the "
	  "built-in ones; it can never remove one." },
	{ NULL },
};
static const struct cli_pair ex_ws[] = {
	{ "lock a project for sessions", "silo workspace lock ~/dev/proj" },
	{ "lock without root or FUSE", "silo workspace lock ~/dev/proj --strategy directory" },
	{ "what is locked, and is a session attached?", "silo workspace list" },
	{ "take it back, with the review", "silo workspace unlock ~/dev/proj" },
	{ "the review as JSON, with team rules",
	  "silo workspace unlock ~/dev/proj --rules team-rules.lua --json" },
	{ "show the last review again", "silo workspace review ~/dev/proj" },
	{ "lock state of the current directory", "silo workspace status" },
	{ NULL },
};

static const struct cli_pair exit_shell[] = {
	{ "N", "the command's or the shell's own status, clamped to 0..255; death by signal S "
	       "gives 128+S" },
	{ "1", "the sandbox could not start (the message says why)" },
	{ "2", "usage error" },
	{ NULL },
};
static const struct cli_pair ex_shell[] = {
	{ "a shell next to the agent, in the same confinement",
	  "silo shell --workspace ~/dev/proj" },
	{ "run the tests as the agent would", "silo shell --workspace ~/dev/proj -- make test" },
	{ NULL },
};

static const struct cli_pair ex_replay[] = {
	{ "turn a recorded session into a test fixture",
	  "silo replay-test ~/.llmdevsilo/journals/0123456789ab.db -o session.lua" },
	{ NULL },
};
static const struct cli_pair ex_harnesses[] = {
	{ "running interactive harnesses", "silo harnesses list" },
	{ NULL },
};
static const struct cli_pair ex_journal[] = {
	{ "every recorded session", "silo journal list" },
	{ "one journal as JSON Lines",
	  "silo journal export ~/.llmdevsilo/journals/0123456789ab.db -o session.jsonl" },
	{ NULL },
};
static const struct cli_pair ex_doctor[] = {
	{ "which sandbox would a session get here?", "silo doctor" },
	{ "the same, for scripts", "silo doctor --json" },
	{ NULL },
};
static const struct cli_pair exit_doctor[] = {
	{ "0", "the default sandbox backend works here" },
	{ "1", "no sandbox backend that executes commands works here" },
	{ "2", "usage error" },
	{ NULL },
};
static const struct cli_pair ex_debug[] = {
	{ "the state machine tables as Markdown", "silo debug fsm" },
	{ "one machine as a Graphviz graph", "silo debug fsm agent --dot" },
	{ "the seccomp filter of the native sandbox", "silo debug seccomp" },
	{ NULL },
};

static const struct cli_pair policy_sections[] = {
	{ "FORMAT",
	  "A policy is a Lua file that returns a table. It runs in a restricted state: the "
	  "safe base library, string, table, math (without random), utf8, coroutine and the "
	  "silo modules; no io, os, package, debug or clock, so the same file always gives "
	  "the same policy. An unknown key or a value of the wrong type stops the session "
	  "with exit 1 and a message naming the file and the key.\n\n"
	  "  return {\n"
	  "    read_allowlist = { \"/usr/share/doc\" },\n"
	  "    allowed_domains = { \"github.com\", \"*.githubusercontent.com\" },\n"
	  "    credentials = {\n"
	  "      { host = \"api.github.com\", header = \"Authorization\",\n"
	  "        env = \"TEAM_GITHUB_TOKEN\", format = \"Bearer {secret}\" },\n"
	  "    },\n"
	  "    quota = { usd = 25 },\n"
	  "  }" },
	{ "KEYS",
	  "read_allowlist: host paths the sandbox may read, besides the workspace and the OS "
	  "baseline; checked against the risk list.\n\n"
	  "allowed_domains: hosts the proxy lets through; host.example matches exactly, "
	  "*.example matches example and every name under it.\n\n"
	  "tunnel_domains: allowed hosts passed through without TLS interception; never "
	  "credentialed.\n\n"
	  "credentials: {host, header, env, format} entries; the proxy sets header to format "
	  "(default \"{secret}\") on requests to exactly host, with the value of the "
	  "environment variable env. Only the variable's name is in the policy.\n\n"
	  "placeholders: {env, host, header, method, path} entries; the sandbox sees a dummy "
	  "value in env, which the proxy swaps for the real one only on requests to host.\n\n"
	  "quota: {tokens, usd}, limits for the whole session.\n\n"
	  "tools: extra tool tables; disable_tools: tool names removed from every agent.\n\n"
	  "upstream_ca: host pattern to PEM file, extra trust for those upstreams.\n\n"
	  "hosts: host name to address, replacing name resolution in the proxy.\n\n"
	  "review_rules: extra unlock review rule files.\n\n"
	  "hooks: functions called as the session runs (HOOKS)." },
	{ "HOOKS",
	  "allow_host(host, port, ctx) decides each connection target instead of "
	  "allowed_domains; credential_for(req) may veto an injection; on_request(req) may "
	  "deny a request by returning a reason; on_tool_call(agent, call) may deny a tool "
	  "call by returning a reason. A hook that fails, overruns its budget or returns "
	  "something unexpected denies: policies fail closed." },
	{ "MERGING",
	  "Each --policy file replaces the earlier layers key by key, in command-line order; "
	  "lists are replaced, never merged; options given on the command line win over every "
	  "file. Hooks are taken per name from the last file that defines them. The risk "
	  "list (credentials, keys, browser profiles, the state directory) is applied after "
	  "all layers; no policy can change it, and only --allow-risky-path can accept one "
	  "entry." },
	{ NULL },
};
static const struct cli_pair files_doctor[] = {
	{ "PREFIX/libexec/silo/silo-helper", "the helper whose start doctor tries" },
	{ "/proc/self/ns/, /sys/fs/cgroup/", "what doctor probes: namespaces and cgroups" },
	{ NULL },
};
static const struct cli_pair files_debug[] = {
	{ "PREFIX/share/silo/lua/", "the Lua tables the engine loads" },
	{ NULL },
};
static const struct cli_pair exit_policy[] = {
	{ "1", "silo run or silo shell stops before the session starts when a policy file cannot "
	       "be read, does not evaluate, or has an unknown key or a wrong type" },
	{ NULL },
};
static const struct cli_pair env_policy[] = {
	{ "the variables named by credentials[].env and placeholders[].env",
	  "read by silo when the session starts; their values never reach the policy, the "
	  "sandbox or the journal" },
	{ "HOME", "expands ~/ in read_allowlist" },
	{ NULL },
};
static const struct cli_pair files_policy[] = {
	{ "PREFIX/share/silo/policies/default.lua", "the reference defaults" },
	{ "PREFIX/share/silo/policies/examples/", "realistic policies to copy" },
	{ NULL },
};
static const struct cli_pair ex_policy[] = {
	{ "a session under a team policy and a personal one",
	  "silo run --policy team.lua --policy mine.lua --workspace ~/dev/proj "
	  "--frontend headless --prompt 'Fix the build'" },
	{ NULL },
};

const struct cli_page cli_pages[] = {
	{ "silo", 1, "run LLM coding agents in a sandbox",
	  "silo runs an LLM coding agent with real tools (a shell, compilers, test runners, "
	  "the Internet through a filtering proxy, subagents) inside a static sandbox. You "
	  "lock a directory (the workspace) and step away from it; a session works on it in "
	  "the sandbox; unlocking gives it back with a review of every change, the files that "
	  "would run on their own first.\n\n"
	  "Every session is journaled; silo replay-test turns a journal into a deterministic "
	  "test.",
	  silo_sections, exit_common, env_silo, files_silo, ex_silo,
	  "silo-run(1), silo-workspace(1), silo-shell(1), silo-replay-test(1), "
	  "silo-journal(1), silo-harnesses(1), silo-doctor(1), silo-debug(1), silo-policy(5)" },
	{ "silo-run", 1, "run one agent session",
	  "Runs one session: a locked workspace, a sandbox, an egress proxy, an LLM backend "
	  "(and subagents) and a frontend that drives them. The headless frontend takes "
	  "--prompt, answers every later request for input with a reminder that nobody is "
	  "there, and ends when the model calls Exit; the final message and one cost line per "
	  "backend go to stdout, 'journal: PATH' to stderr.",
	  run_sections, exit_run, env_run, files_state, ex_run,
	  "silo(1), silo-workspace(1), silo-policy(5), silo-replay-test(1)" },
	{ "silo-workspace", 1, "lock, unlock and review workspaces",
	  "A session only works on a locked workspace. Locking takes a copy you no longer "
	  "edit directly; sessions and silo shell work on it; unlocking writes every change "
	  "back and reviews it. A crash at any point loses nothing: the next command finishes "
	  "or rolls back an interrupted lock or unlock.",
	  ws_sections, exit_common, env_state, files_state, ex_ws,
	  "silo(1), silo-run(1), silo-shell(1)" },
	{ "silo-shell", 1, "a shell in a sandbox of the agent's confinement",
	  "Opens your shell, or runs CMD, in a sandbox of the same confinement a session "
	  "gets, on the locked workspace, with its own proxy and journal "
	  "(journals/shell-ID.db). When a session is attached to the workspace and no option "
	  "says otherwise, its read allowlist, domains and sandbox are mirrored; credentials "
	  "never are.",
	  NULL, exit_shell, env_state, files_state, ex_shell, "silo(1), silo-run(1)" },
	{ "silo-replay-test", 1, "turn a session journal into a test fixture",
	  "Writes a Lua fixture from a journal: the model's turns, the tool results and the "
	  "frontend's steps. It prints the silo run command that replays it with mock "
	  "components; the replay must take the same path or exit 4.",
	  NULL, exit_common, env_state, files_state, ex_replay, "silo-run(1), silo-journal(1)" },
	{ "silo-journal", 1, "list and export session journals",
	  "Every session writes a SQLite journal of its events, tool calls, network records "
	  "and costs. Secrets never reach it.",
	  NULL, exit_common, env_state, files_state, ex_journal, "silo-replay-test(1)" },
	{ "silo-harnesses", 1, "list running interactive harnesses",
	  "Lists the harnesses that serve an interactive frontend, and prunes run files whose "
	  "process is gone.",
	  NULL, exit_common, env_state, files_state, ex_harnesses, "silo-run(1)" },
	{ "silo-doctor", 1, "which sandbox backends and kernel features work here",
	  "Probes namespaces, seccomp, Landlock, cgroups and the helper, and says which "
	  "sandbox --sandbox auto would choose, and what is missing for the others.",
	  NULL, exit_doctor, env_state, files_doctor, ex_doctor, "silo-run(1)" },
	{ "silo-debug", 1, "inspect silo's tables",
	  "Prints the tables silo runs on: the state machines of every lifecycle, and the "
	  "seccomp filter of the native sandbox. The commands marked as testing aids serve "
	  "the test suite and may change without notice.",
	  NULL, exit_common, env_state, files_debug, ex_debug, "silo(1)" },
	{ "silo-policy", 5, "the Lua policy format",
	  "A policy says what a session's sandbox may read and reach, which credentials the "
	  "egress proxy injects, how much the model may spend, which tools exist, and hooks "
	  "that decide per request or per tool call. Pass one or more with --policy to silo "
	  "run or silo shell.",
	  policy_sections, exit_policy, env_policy, files_policy, ex_policy, "silo-run(1), silo-shell(1)" },
	{ NULL },
};

const struct cli_page *cli_page_of(const struct cli_cmd *c)
{
	size_t g = strcspn(c->name, " ");
	for (const struct cli_page *p = cli_pages; p->name; p++)
		if (p->section == 1 && !strncmp(p->name, "silo-", 5) &&
		    strlen(p->name + 5) == g && !strncmp(p->name + 5, c->name, g))
			return p;
	return NULL;
}
