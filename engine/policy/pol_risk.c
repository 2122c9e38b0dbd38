/*
 * pol_risk.c: the read-allowlist risk list (sandbox.md 9), the journal path
 * check, and domain pattern matching (sandbox.md 10.2).
 *
 * The risk scan is defence in depth, not the boundary: it refuses an
 * allowlist entry that would expose a credential store (or the state
 * directory) because the entry covers it or lies inside it. Paths are
 * compared after canonicalisation (the nearest existing ancestor of a
 * missing path, with the rest re-appended), component by component. Only
 * --allow-risky-path exempts an entry, and never for the state directory
 * (decision 9); a policy cannot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/pol.h"

static const struct {
	const char *rel, *why;
} risky[] = {
	{ ".ssh", "SSH private keys" },
	{ ".gnupg", "GPG secret keys" },
	{ ".aws", "AWS credentials" },
	{ ".azure", "Azure credentials" },
	{ ".config/gcloud", "Google Cloud credentials" },
	{ ".kube", "Kubernetes credentials" },
	{ ".docker/config.json", "container registry credentials" },
	{ ".netrc", "stored login passwords" },
	{ ".npmrc", "npm tokens" },
	{ ".pypirc", "PyPI tokens" },
	{ ".cargo/credentials", "crates.io tokens" },
	{ ".cargo/credentials.toml", "crates.io tokens" },
	{ ".git-credentials", "git stored passwords" },
	{ ".password-store", "pass(1) store" },
	{ ".gitconfig", "may embed credentials" },
	{ ".mozilla", "Firefox profile" },
	{ ".thunderbird", "Thunderbird profile" },
	{ ".config/google-chrome", "browser profile (cookies, passwords)" },
	{ ".config/chromium", "browser profile (cookies, passwords)" },
	{ ".config/BraveSoftware", "browser profile (cookies, passwords)" },
	{ "Library/Keychains", "macOS keychains" },
	{ "Library/Cookies", "macOS cookies" },
	{ "Library/Safari", "Safari data" },
	{ "Library/Application Support/Google/Chrome", "macOS browser profile" },
	{ "Library/Application Support/Firefox", "macOS browser profile" },
	{ "Library/Application Support/BraveSoftware", "macOS browser profile" },
	{ ".claude", "AI tool credentials and state" },
	{ ".openai", "AI tool credentials and state" },
	{ ".anthropic", "AI tool credentials and state" },
};

/* Host-wide places, risky for every user (as root inside, readable). */
static const struct {
	const char *path, *why;
} risky_abs[] = {
	{ "/run", "runtime sockets (D-Bus, container engines)" },
	{ "/var/run", "runtime sockets (D-Bus, container engines)" },
	{ "/etc/shadow", "password hashes" },
	{ "/etc/gshadow", "group password hashes" },
	{ "/etc/sudoers", "sudo rules" },
	{ "/etc/sudoers.d", "sudo rules" },
	{ "/root", "root's home" },
};

#define STATE_WHY "silo journals, tokens, keys"

/* "~" / "~/x" with home, then canonical (lenient). */
static char *norm(const char *path, const char *home)
{
	char *tmp, *out;

	if (home && path[0] == '~' && (path[1] == '/' || !path[1])) {
		tmp = sl_xasprintf("%s%s", home, path + 1);
		out = sl_canon_lenient(tmp);
		free(tmp);
		return out;
	}
	return sl_canon_lenient(path);
}

static int exists(const char *p)
{
	struct stat sb;

	return lstat(p, &sb) == 0;
}

int pol_risk_check(char *const *allowlist, char *const *allow_risky, const char *home,
		   const char *state_dir, struct sl_err *err)
{
	size_t nh = SL_ARRAY_LEN(risky), na = SL_ARRAY_LEN(risky_abs);
	size_t nr = nh + na + 1, nhit = 0;
	char **rp = sl_xcalloc(nr, sizeof(*rp));
	const char **why = sl_xcalloc(nr, sizeof(*why));
	struct sl_buf msg;
	int rc = 0;

	/* The risky paths that count: existing ones under $HOME, and the state
	 * directory whether or not it exists yet (it will). */
	for (size_t i = 0; home && *home && i < SL_ARRAY_LEN(risky); i++) {
		char *p = sl_xasprintf("%s/%s", home, risky[i].rel);
		char *c = sl_canon_lenient(p);

		free(p);
		if (c && exists(c)) {
			rp[i] = c;
			why[i] = risky[i].why;
		} else {
			free(c);
		}
	}
	for (size_t i = 0; i < na; i++) {
		char *c = sl_canon_lenient(risky_abs[i].path);
		int dup = 0;

		/* /var/run is /run here: report it once */
		for (size_t k = nh; c && k < nh + i && !dup; k++)
			dup = rp[k] && !strcmp(rp[k], c);
		if (c && !dup && exists(c)) {
			rp[nh + i] = c;
			why[nh + i] = risky_abs[i].why;
		} else {
			free(c);
		}
	}
	if (state_dir && *state_dir) {
		rp[nr - 1] = sl_canon_lenient(state_dir);
		why[nr - 1] = STATE_WHY;
	}
	sl_buf_init(&msg);
	for (char *const *e = allowlist; e && *e; e++) {
		char *ce = norm(*e, home);
		int exempt = 0;

		if (!ce)
			continue;
		for (char *const *x = allow_risky; x && *x && !exempt; x++) {
			char *cx = norm(*x, home);

			exempt = cx && !strcmp(cx, ce);
			free(cx);
		}
		for (size_t i = 0; i < nr; i++) {
			if (!rp[i] || !(sl_path_under(rp[i], ce) || sl_path_under(ce, rp[i])))
				continue;
			if (exempt && i != nr - 1)
				continue;
			sl_buf_printf(&msg, "%s%s exposes %s (%s)", nhit++ ? "; " : "", *e, rp[i],
				      why[i]);
		}
		free(ce);
	}
	if (nhit)
		rc = sl_err_set(err, SL_EDENIED, "refusing risky read allowlist entries: %s",
				msg.p);
	sl_buf_free(&msg);
	for (size_t i = 0; i < nr; i++)
		free(rp[i]);
	free(rp);
	free(why);
	return rc;
}

int pol_journal_check(const char *journal_path, char *const *allowlist, struct sl_err *err)
{
	char *cj, *slash;
	int rc = 0;

	if (!journal_path)
		return 0;
	cj = sl_canon_lenient(journal_path);
	if (!cj)
		return sl_err_set(err, SL_EINVAL, "journal %s: cannot resolve path", journal_path);
	slash = strrchr(cj, '/');
	if (slash)
		*(slash == cj ? slash + 1 : slash) = 0;
	for (char *const *e = allowlist; e && *e && !rc; e++) {
		char *ce = norm(*e, getenv("HOME"));

		if (ce && (sl_path_under(ce, cj) || sl_path_under(cj, ce)))
			rc = sl_err_set(err, SL_EDENIED,
					"journal %s would be readable by the sandbox through "
					"allowlist entry %s",
					journal_path, *e);
		free(ce);
	}
	free(cj);
	return rc;
}

/* Lower-cases name into out (one trailing dot dropped); 0 when the name is
 * unusable: empty, too long, an empty label, or a character no host name
 * or IP literal has. */
static int norm_host(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);

	if (n && in[n - 1] == '.')
		n--;
	if (!n || n >= cap || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == '[' || c == ']'))
			return 0;
		if (c == '.' && (i == 0 || in[i - 1] == '.'))
			return 0;
		out[i] = c;
	}
	out[n] = 0;
	return 1;
}

int pol_domain_match(const char *pattern, const char *host)
{
	char p[256], h[256];
	size_t pl, hl;
	int wild;

	if (!pattern || !host)
		return 0;
	wild = !strncmp(pattern, "*.", 2);
	if (!norm_host(wild ? pattern + 2 : pattern, p, sizeof(p)) ||
	    !norm_host(host, h, sizeof(h)))
		return 0;
	if (!strcmp(p, h))
		return 1; /* exact, or "*.suffix" against the bare suffix */
	if (!wild)
		return 0;
	pl = strlen(p);
	hl = strlen(h);
	return hl > pl + 1 && h[hl - pl - 1] == '.' && !strcmp(h + hl - pl, p);
}
