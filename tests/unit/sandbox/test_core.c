/* Backend registry, scratch directory and helper location (sb_core.c). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "sandbox/sb_int.h"

TEST(registry)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sl_err err = { 0 };
	struct sb_config cfg = { .kind = "native", .workspace = "/tmp" };
	struct sb *sb = sb_new(&loop, &cfg, &err);
	CHECK(sb && !strcmp(sb->ops->name, "native") && !strcmp(sb->ops->kind, "linux-native"));
	sb_free(sb);
	cfg.kind = "mock";
	sb = sb_new(&loop, &cfg, &err);
	CHECK(sb && !strcmp(sb->ops->kind, "mock"));
	sb_free(sb);
	cfg.kind = "gvisor";
	CHECK(sb_new(&loop, &cfg, &err) == NULL);
	CHECK(err.code == SL_EUNAVAIL && strstr(err.msg, "sandbox gvisor unavailable") != NULL);
	cfg.kind = "chroot";
	CHECK(sb_new(&loop, &cfg, &err) == NULL);
	CHECK(strstr(err.msg, "unknown sandbox kind \"chroot\"") != NULL);
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(scratch_layout)
{
	char root[] = "/tmp/sb-core-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	struct sb_config cfg = { .scratch_root = root,
				 .proxy_ca_pem = "-----BEGIN CERTIFICATE-----\nSESSION\n"
						 "-----END CERTIFICATE-----\n" };
	struct sl_err err;
	char *s = sb__scratch_create(&cfg, &err);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(strncmp(s, root, strlen(root)) == 0 && strstr(s, "/silo-scratch-") != NULL);
	CHECK(strlen(strstr(s, "/silo-scratch-") + 14) == 12);
	struct stat st;
	CHECK(stat(s, &st) == 0 && (st.st_mode & 0777) == 0700);
	const char *subs[] = { "home", "tmp", "bin" };
	for (size_t i = 0; i < 3; i++) {
		char *p = sl_xasprintf("%s/%s", s, subs[i]);
		CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
		free(p);
	}
	char *ca = sl_xasprintf("%s/proxy-ca.pem", s);
	char *pem = sl_read_file(ca, NULL, 64u << 20, &err);
	CHECK(pem && strstr(pem, "SESSION") != NULL);
	/* the system roots come first when the host has them */
	if (!access("/etc/ssl/certs/ca-certificates.crt", R_OK))
		CHECK(pem && strstr(pem, "SESSION") - pem > 1000);
	free(pem);
	free(ca);
	sb__scratch_remove(s);
	CHECK(stat(s, &st) != 0);
	sb__scratch_remove(s); /* idempotent */
	free(s);
	rmdir(root);
	cfg.scratch_root = "/nonexistent-root";
	CHECK(sb__scratch_create(&cfg, &err) == NULL);
	CHECK(strstr(err.msg, "cannot create scratch in /nonexistent-root") != NULL);
}

TEST(helper_location)
{
	char *saved = getenv("SILO_HELPER_BIN") ? sl_xstrdup(getenv("SILO_HELPER_BIN")) : NULL;
	struct sl_err err;
	setenv("SILO_HELPER_BIN", "/nonexistent/helper", 1);
	CHECK(sb__helper_find(&err) == NULL);
	CHECK_STR(err.msg, "SILO_HELPER_BIN=/nonexistent/helper is not a file");
	setenv("SILO_HELPER_BIN", "/bin/sh", 1);
	char *p = sb__helper_find(&err);
	CHECK_STR(p, "/bin/sh");
	free(p);
	setenv("SILO_HELPER_BIN_LINUX", "/bin/true", 1);
	p = sb__helper_find(&err);
	CHECK_STR(p, "/bin/true");
	free(p);
	unsetenv("SILO_HELPER_BIN_LINUX");
	if (saved)
		setenv("SILO_HELPER_BIN", saved, 1);
	else
		unsetenv("SILO_HELPER_BIN");
	free(saved);
}
