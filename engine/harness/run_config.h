/* The effective settings of `silo run` after layering (cli.md 3). */
#ifndef RUN_CONFIG_H
#define RUN_CONFIG_H

#include <stdint.h>

#include "base/sl.h"
#include "json/jv.h"

struct run_config {
	char *harness_id, *workspace;
	char *llm, *model, *api_key_env, *base_url, *local_cmd, *system_prompt;
	int64_t max_tokens;
	int has_reminders, reminders; /* headless reminders before exit 3 */
	int has_pricing; double price_in, price_out;
	int has_quota_tokens, has_quota_usd; uint64_t quota_tokens; double quota_usd;
	char *sandbox, *frontend, *prompt, *listen, *journal, *scratch_root;
	char **read_allowlist, **allowed_domains; /* NULL-terminated or NULL */
	struct jv *credentials; /* array of {host, header, env, format} or NULL */
};

void run_config_free(struct run_config *c);
/* Loads --config FILE.lua (data only) into c; exit-1 errors in err. */
int run_config_load(struct run_config *c, const char *path, const char *lua_dir,
		    struct sl_err *err);
/* --inject-credential values (host:header:ENV[:format], split on the first
 * three ':') as [{host, header, env, format}]; NULL + err on a bad one. */
struct jv *run_parse_credentials(char *const *flags, int n, struct sl_err *err);
/* NULL-terminated copy of a string list. */
char **strv_dup(char *const *v, int n);
void strv_free(char **v);
int strv_len(char *const *v);

#endif
