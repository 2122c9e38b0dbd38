/*
 * pol: the merged session policy (cli.md 3, decisions 8-11, 14-15): built-in
 * defaults, then --config, then each --policy file (later wins per key),
 * then CLI flags; the risk list (sandbox.md 9) is applied last.
 */
#ifndef POL_H
#define POL_H

#include "base/sl.h"
#include "json/jv.h"

struct lh_state;

struct pol_credential { char *host, *header, *env, *format; };
struct pol_placeholder { char *env, *host, *header, *method, *path; };

struct pol {
	char **read_allowlist;      /* NULL-terminated, owned */
	char **allow_risky_paths;
	char **allowed_domains;
	char **tunnel_domains;
	char **disable_tools;
	char **review_rules;
	struct pol_credential *credentials; size_t n_credentials;
	struct pol_placeholder *placeholders; size_t n_placeholders;
	struct jv *hosts;           /* object or NULL */
	struct jv *upstream_ca;     /* object or NULL */
	struct pol_sandbox {        /* key `sandbox`; 0 = the sandbox's default */
		uint64_t tmpfs_mb, tmpfs_inodes, memory_mb;
		int pids_max;
		int unix_connect;       /* 1: commands may create Unix sockets */
	} sandbox;
	int has_quota_tokens, has_quota_usd;
	uint64_t quota_tokens; double quota_usd;
	int max_turns;              /* 0: none */
	/* prices: {model = {input, output, cache_read?, cache_write?}} in US
	 * dollars per million tokens, or NULL. */
	struct jv *prices;
	/* Policy files as loaded: path + sha256, and the Lua state holding
	 * their hooks and extra tools (tables by registry ref). */
	struct pol_file {
		char *path; char sha256[65]; int ref;
		int builtin; /* policies/default.lua, loaded first */
	} *files; size_t n_files;
	struct lh_state *lua;       /* owned, NULL when no policy file */
	int *tool_refs; size_t n_tool_refs; /* extra tool tables (in lua) */
};

void pol_init(struct pol *p);
void pol_free(struct pol *p);
/* Loads the shipped policies/default.lua (the first layer of every
 * session and shell); its absence is an error, since silo is then not
 * installed whole. */
int pol_load_default(struct pol *p, const char *lua_dir, struct sl_err *err);
/* Loads one policy file on top of p (later wins per key). */
int pol_load_file(struct pol *p, const char *path, const char *lua_dir, struct sl_err *err);
/* Calls hook `name` of the last policy file defining it; SL_ENOENT if none. */
int pol_hook(struct pol *p, const char *name, const struct jv *const *args, int nargs,
	     struct jv **ret, struct sl_err *err);

/* The policy's price row for exactly this model (borrowed), or NULL. */
const struct jv *pol_price_for(const struct pol *p, const char *model);

/* 1 when some loaded policy file defines hooks.<name>. */
int pol_has_hook(struct pol *p, const char *name);

/* Risk list (sandbox.md 9): refuses risky read-allowlist entries unless
 * exempted by allow_risky; message per cli.md 12. home may be NULL. */
int pol_risk_check(char *const *allowlist, char *const *allow_risky, const char *home,
		   const char *state_dir, struct sl_err *err);
/* Journal path check (sandbox.md 9 end). */
int pol_journal_check(const char *journal_path, char *const *allowlist, struct sl_err *err);

/* Domain pattern match (exact, "*.suffix"; case-insensitive, trailing dot). */
int pol_domain_match(const char *pattern, const char *host);

#endif
