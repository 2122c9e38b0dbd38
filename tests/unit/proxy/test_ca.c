/* Session CA and leaf minting (px_ca.c): the CA is a P-256 CA with the
 * right extensions, leaves carry the requested name as subjectAltName
 * (DNS or IP), serverAuth, and verify against the CA; the cache returns
 * the same leaf; the CA private key is never written to disk (the files
 * the proxy could touch are scanned for its bytes). */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pk.h>

#include "proxy/px_int.h"
#include "tap.h"

static mbedtls_ctr_drbg_context drbg;
static mbedtls_entropy_context ent;

static void seed(void)
{
	static int done;
	if (done++)
		return;
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
}

TEST(ca_certificate)
{
	struct tl_ca *ca = NULL;
	struct sl_err e;
	seed();
	CHECK(tl_ca_new(&ca, &drbg, &e) == 0);
	if (!ca)
		return;
	const char *pem = tl_ca_pem(ca);
	CHECK(pem && strstr(pem, "BEGIN CERTIFICATE"));
	CHECK(!strstr(pem, "PRIVATE"));
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	CHECK(mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1) == 0);
	CHECK(crt.ca_istrue == 1);
	CHECK(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_ECKEY);
	CHECK(mbedtls_pk_get_bitlen(&crt.pk) == 256);
	CHECK(crt.key_usage & MBEDTLS_X509_KU_KEY_CERT_SIGN);
	CHECK(crt.key_usage & MBEDTLS_X509_KU_CRL_SIGN);
	char dn[256];
	mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject);
	CHECK(strstr(dn, "silo session CA") != NULL);
	/* self-signed: verifies against itself */
	uint32_t flags = 0;
	CHECK(mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL) == 0);

	/* leaves: name in SAN, serverAuth, chain to the CA, cached */
	struct tl_leaf *l = tl_ca_leaf(ca, "api.example.test", &e);
	CHECK(l != NULL);
	if (l) {
		mbedtls_x509_crt *leaf = tl_leaf_chain(l);
		CHECK(leaf->ca_istrue == 0);
		CHECK(mbedtls_x509_crt_verify(leaf, &crt, NULL, "api.example.test", &flags, NULL,
					      NULL) == 0);
		CHECK(mbedtls_x509_crt_verify(leaf, &crt, NULL, "other.test", &flags, NULL,
					      NULL) != 0);
		CHECK(mbedtls_x509_crt_check_extended_key_usage(
			      leaf, MBEDTLS_OID_SERVER_AUTH,
			      MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0);
		CHECK(leaf->next != NULL); /* the chain carries the CA */
		struct tl_leaf *again = tl_ca_leaf(ca, "api.example.test", &e);
		CHECK(again == l);
		tl_leaf_put(again);
		tl_leaf_put(l);
	}
	CHECK(tl_ca_count(ca) == 1);
	l = tl_ca_leaf(ca, "203.0.113.5", &e);
	CHECK(l != NULL);
	if (l) {
		/* mbedTLS 2.28 does not match iPAddress SANs; check the bytes */
		const mbedtls_x509_buf *raw = &tl_leaf_chain(l)->raw;
		static const unsigned char ip[] = { 0x87, 0x04, 203, 0, 113, 5 };
		CHECK(memmem(raw->p, raw->len, ip, sizeof(ip)) != NULL);
		tl_leaf_put(l);
	}
	CHECK(tl_ca_count(ca) == 2);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(tl_ca_leaf(ca, longname, &e) == NULL);
	mbedtls_x509_crt_free(&crt);
	tl_ca_free(ca);
}

TEST(ca_san_der)
{
	unsigned char out[300];
	size_t n = tl__san_der("a.test", out);
	static const unsigned char want[] = { 0x30, 0x08, 0x82, 0x06, 'a', '.', 't', 'e', 's', 't' };
	CHECK(n == sizeof(want) && !memcmp(out, want, n));
	char name[201];
	memset(name, 'b', 200);
	name[200] = '\0';
	n = tl__san_der(name, out);
	/* long form lengths: 30 81 cb 82 81 c8 ... */
	CHECK(n == 206 && out[1] == 0x81 && out[2] == 203 && out[4] == 0x81 && out[5] == 200);
	n = tl__san_der("2001:db8::1", out);
	CHECK(n == 20 && out[2] == 0x87 && out[3] == 16);
}

/* Searches every regular file under dir (not following links, bounded
 * depth and size) for needle. */
static int scan(const char *dir, const void *needle, size_t nl, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st))
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0) {
			found = scan(p, needle, nl, depth - 1);
		} else if (S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < (64 << 20)) {
			struct sl_err e;
			size_t len;
			char *buf = sl_read_file(p, &len, 64 << 20, &e);
			if (buf && memmem(buf, len, needle, nl))
				found = 1;
			free(buf);
		}
	}
	closedir(d);
	return found;
}

static void noop_record(void *ud, const struct jv *r)
{
}

TEST(ca_key_never_on_disk)
{
	/* A real proxy instance: new, start, stop, free, with a scratch dir
	 * as cwd; then the CA private key (raw scalar and its DER/PEM forms)
	 * must not be in any file under the scratch dir, cwd or /tmp. */
	char tmpl[] = "/tmp/px-ca-scan.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	char old[4096];
	CHECK(getcwd(old, sizeof(old)) != NULL);
	CHECK(chdir(tmpl) == 0);
	uv_loop_t loop;
	uv_loop_init(&loop);
	static const char *const allow[] = { "a.test", NULL };
	struct px_config cfg = { .allowed_domains = allow, .record = noop_record };
	struct sl_err e;
	struct px *px = px_new(&loop, &cfg, &e);
	CHECK(px != NULL);
	if (!px)
		return;
	CHECK(px_start(px, &e) == 0);
	const char *pem = px_ca_pem(px);
	char path[4200];
	snprintf(path, sizeof(path), "%s/proxy-ca.pem", tmpl);
	CHECK(sl_write_file(path, pem, strlen(pem), 0644, &e) == 0);

	unsigned char der[512], d[32];
	mbedtls_pk_context *key = tl__ca_key(px->ca);
	int n = mbedtls_pk_write_key_der(key, der, sizeof(der));
	CHECK(n > 0);
	CHECK(mbedtls_mpi_write_binary(&mbedtls_pk_ec(*key)->d, d, sizeof(d)) == 0);
	struct sl_buf b64;
	sl_buf_init(&b64);
	jv_b64_encode(&b64, der + sizeof(der) - n, (size_t)n);
	char *kpem = sl_xstrndup(b64.p, 60); /* first PEM line of the key */

	px_stop(px, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(!scan(tmpl, d, sizeof(d), 4));
	CHECK(!scan(tmpl, kpem, strlen(kpem), 4));
	CHECK(!scan("/tmp", d, sizeof(d), 2));
	CHECK(!scan("/tmp", der + sizeof(der) - n, (size_t)n, 2));
	CHECK(!scan("/tmp", kpem, strlen(kpem), 2));
	/* and the scan does find what is there: the certificate */
	CHECK(scan(tmpl, "BEGIN CERTIFICATE", 17, 1));
	explicit_bzero(der, sizeof(der));
	explicit_bzero(d, sizeof(d));
	free(kpem);
	sl_buf_free(&b64);
	px_free(px);
	CHECK(uv_loop_close(&loop) == 0);
	CHECK(chdir(old) == 0);
	sl_rm_rf(tmpl);
}
