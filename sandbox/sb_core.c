/*
 * sb_core: backend registry (sb_new/sb_free by CLI name), the per-sandbox
 * scratch directory (sandbox.md 3) and the helper binary's location and
 * installation into scratch (sandbox.md 4). Backends themselves live in
 * their own files (sb_native.c, sb_mock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sb_int.h"

static const struct backend {
	const char *name;
	const struct sb_ops *ops;
	const char *missing; /* why it is unavailable when ops is NULL */
} backends[] = {
	{ "native", &sb_native_ops, NULL },
	{ "mock", &sb_mock_ops, NULL },
	{ "gvisor", NULL, "the gvisor backend is not built yet" },
};

struct sb *sb_new(uv_loop_t *loop, const struct sb_config *cfg, struct sl_err *err)
{
	const char *kind = cfg && cfg->kind ? cfg->kind : "native";
	const struct backend *tab = backends;
	for (size_t i = 0; i < SL_ARRAY_LEN(backends); i++) {
		if (strcmp(tab[i].name, kind))
			continue;
		if (!tab[i].ops) {
			sl_err_set(err, SL_EUNAVAIL, "sandbox %s unavailable: %s", kind,
				   tab[i].missing);
			return NULL;
		}
		/* writes to a helper or relay peer that died must fail with EPIPE,
		 * not kill the harness (libuv writes pipes with write(2)) */
		struct sigaction sa;
		if (!sigaction(SIGPIPE, NULL, &sa) && sa.sa_handler == SIG_DFL)
			signal(SIGPIPE, SIG_IGN);
		struct sb *sb = sl_xcalloc(1, sizeof(*sb));
		sb->ops = tab[i].ops;
		sb->loop = loop;
		sb->cfg = *cfg;
		return sb;
	}
	sl_err_set(err, SL_EUNAVAIL, "unknown sandbox kind \"%s\" (known: native, mock)", kind);
	return NULL;
}

void sb_free(struct sb *sb)
{
	if (!sb)
		return;
	if (sb->ops && sb->ops->free)
		sb->ops->free(sb);
	free(sb);
}

void sb__note(struct sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct sl_buf b;
	sl_buf_init(&b);
	sl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	SL_INFO("sandbox", "%s", b.p);
	if (sb->note)
		sb->note(sb->note_ud, b.p);
	sl_buf_free(&b);
}

/* ---- scratch ---- */

/* The CA bundle inside is the system roots plus the session CA
 * (decisions 30), so every client trusts both without configuration. */
static int write_ca_bundle(const char *path, const char *session_ca, struct sl_err *err)
{
	static const char *const roots[] = { "/etc/ssl/certs/ca-certificates.crt",
					     "/etc/pki/tls/certs/ca-bundle.crt" };
	struct sl_buf b;
	sl_buf_init(&b);
	for (size_t i = 0; i < SL_ARRAY_LEN(roots); i++) {
		size_t len;
		char *p = sl_read_file(roots[i], &len, 16u << 20, NULL);
		if (p) {
			sl_buf_add(&b, p, len);
			if (len && p[len - 1] != '\n')
				sl_buf_addc(&b, '\n');
			free(p);
			break;
		}
	}
	if (session_ca)
		sl_buf_adds(&b, session_ca);
	int rc = sl_write_file(path, b.p, b.len, 0644, err);
	sl_buf_free(&b);
	return rc;
}

char *sb__scratch_create(const struct sb_config *cfg, struct sl_err *err)
{
	const char *root = cfg->scratch_root;
	if (!root || !*root)
		root = getenv("TMPDIR");
	if (!root || !*root)
		root = "/tmp";
	char *dir = NULL;
	for (int attempt = 0; attempt < 8; attempt++) {
		char id[13];
		sl_random_id(id);
		dir = sl_xasprintf("%s/silo-scratch-%s", root, id);
		if (!mkdir(dir, 0700))
			break;
		int e = errno;
		free(dir);
		dir = NULL;
		if (e != EEXIST) {
			sl_err_set(err, SL_EIO, "cannot create scratch in %s: %s", root, strerror(e));
			return NULL;
		}
	}
	if (!dir) {
		sl_err_set(err, SL_EIO, "cannot create scratch in %s: 8 names taken", root);
		return NULL;
	}
	/* mkdir honours the umask; make 0700 exact */
	chmod(dir, 0700);
	static const char *const subs[] = { "home", "tmp", "bin" };
	for (size_t i = 0; i < SL_ARRAY_LEN(subs); i++) {
		char *p = sl_xasprintf("%s/%s", dir, subs[i]);
		int rc = mkdir(p, 0700);
		free(p);
		if (rc) {
			sl_err_set(err, SL_EIO, "cannot create scratch %s/%s: %s", dir, subs[i],
				   strerror(errno));
			goto fail;
		}
	}
	char *ca = sl_xasprintf("%s/proxy-ca.pem", dir);
	int rc = write_ca_bundle(ca, cfg->proxy_ca_pem, err);
	free(ca);
	if (rc)
		goto fail;
	return dir;
fail:
	sl_rm_rf(dir);
	free(dir);
	return NULL;
}

void sb__scratch_remove(const char *path)
{
	if (path && sl_rm_rf(path))
		SL_WARN("sandbox", "could not remove all of scratch %s", path);
}

/* ---- the helper binary (sandbox.md 4) ---- */

char *sb__helper_find(struct sl_err *err)
{
	return sl_res_find(SL_RES_HELPER, err);
}

int sb__helper_install(const char *scratch, struct sl_err *err)
{
	char *src = sb__helper_find(err);
	if (!src)
		return SL_ENOENT;
	size_t len;
	char *data = sl_read_file(src, &len, 256u << 20, err);
	if (!data) {
		free(src);
		return SL_EIO;
	}
	char *dst = sl_xasprintf("%s/bin/silo-helper", scratch);
	int rc = sl_write_file(dst, data, len, 0755, err);
	if (!rc)
		chmod(dst, 0755);
	free(dst);
	free(data);
	free(src);
	return rc;
}
