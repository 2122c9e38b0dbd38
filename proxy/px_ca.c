/*
 * px_ca (tl_): the per-session certificate authority. At proxy start an
 * ECDSA P-256 key and a self-signed CA certificate are made in memory; the
 * private key never leaves this process (no file, no journal, no sandbox),
 * and only the certificate is exported as PEM. Leaf certificates for the
 * names the sandbox connects to are minted on first use, signed by the CA,
 * and cached for the session. All leaves share one P-256 key made at
 * start: a leaf key protects nothing the CA key does not, and sharing it
 * keeps a first connection to a new host at one signature instead of a key
 * generation plus a signature.
 *
 * mbedTLS 2.28 has no subjectAltName or extendedKeyUsage setters, so both
 * extensions are DER-encoded here by hand.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "px_int.h"

#define TL_MAX_LEAVES 4096

struct tl_leaf {
	char host[PX_MAX_HOST + 3];
	mbedtls_x509_crt chain; /* leaf, then the CA */
	int refs;               /* connections in a handshake with it */
	struct tl_leaf *next;
};

struct tl_ca {
	mbedtls_pk_context key;       /* CA private key: memory only */
	mbedtls_pk_context leaf_key;  /* shared by every leaf */
	mbedtls_x509_crt cert;
	char *pem;                    /* owned */
	char not_before[16], not_after[16];
	struct tl_leaf *leaves;       /* most recently used first */
	size_t n_leaves;
	mbedtls_ctr_drbg_context *drbg; /* borrowed: px */
};

static void fmt_time(time_t t, char out[16])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int tls_fail(struct sl_err *err, int rc, const char *what)
{
	char buf[128];
	mbedtls_strerror(rc, buf, sizeof(buf));
	return sl_err_set(err, SL_EIO, "%s: %s", what, buf);
}

static int gen_key(mbedtls_pk_context *k, mbedtls_ctr_drbg_context *drbg)
{
	int rc = mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (rc)
		return rc;
	return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*k),
				   mbedtls_ctr_drbg_random, drbg);
}

static int set_serial(mbedtls_x509write_cert *w, mbedtls_ctr_drbg_context *drbg)
{
	unsigned char s[16];
	mbedtls_mpi mpi;
	mbedtls_ctr_drbg_random(drbg, s, sizeof(s));
	s[0] &= 0x7f; /* positive */
	s[0] |= 0x01; /* non-zero, full length */
	mbedtls_mpi_init(&mpi);
	int rc = mbedtls_mpi_read_binary(&mpi, s, sizeof(s));
	if (!rc)
		rc = mbedtls_x509write_crt_set_serial(w, &mpi);
	mbedtls_mpi_free(&mpi);
	return rc;
}

/* DER length prefix; returns bytes written (at most 3 for our sizes). */
static size_t der_len(unsigned char *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (unsigned char)n;
		return 1;
	}
	if (n < 0x100) {
		p[0] = 0x81;
		p[1] = (unsigned char)n;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (unsigned char)(n >> 8);
	p[2] = (unsigned char)n;
	return 3;
}

/* subjectAltName = SEQUENCE { dNSName [2] IA5String | iPAddress [7] OCTET
 * STRING }. out must hold 16 + strlen(host) bytes. */
size_t tl__san_der(const char *host, unsigned char *out)
{
	unsigned char inner[PX_MAX_HOST + 8], ip[16];
	size_t ni = 0, vlen;
	const unsigned char *val;
	if (inet_pton(AF_INET, host, ip) == 1) {
		inner[ni++] = 0x87;
		val = ip;
		vlen = 4;
	} else if (inet_pton(AF_INET6, host, ip) == 1) {
		inner[ni++] = 0x87;
		val = ip;
		vlen = 16;
	} else {
		inner[ni++] = 0x82;
		val = (const unsigned char *)host;
		vlen = strlen(host);
	}
	ni += der_len(inner + ni, vlen);
	memcpy(inner + ni, val, vlen);
	ni += vlen;
	size_t n = 0;
	out[n++] = 0x30;
	n += der_len(out + n, ni);
	memcpy(out + n, inner, ni);
	return n + ni;
}

int tl_ca_new(struct tl_ca **out, mbedtls_ctr_drbg_context *drbg, struct sl_err *err)
{
	struct tl_ca *ca = sl_xcalloc(1, sizeof(*ca));
	mbedtls_x509write_cert w;
	unsigned char buf[4096];
	char cn[128], id[13];
	int rc;

	ca->drbg = drbg;
	mbedtls_pk_init(&ca->key);
	mbedtls_pk_init(&ca->leaf_key);
	mbedtls_x509_crt_init(&ca->cert);
	mbedtls_x509write_crt_init(&w);
	if ((rc = gen_key(&ca->key, drbg)) || (rc = gen_key(&ca->leaf_key, drbg))) {
		tls_fail(err, rc, "session CA key");
		goto fail;
	}
	/* Valid from a day back (clock skew inside guests) for 30 days: the
	 * CA lives as long as the session that made it. */
	time_t now = time(NULL);
	fmt_time(now - 86400, ca->not_before);
	fmt_time(now + 30 * 86400, ca->not_after);
	sl_random_id(id);
	snprintf(cn, sizeof(cn), "CN=silo session CA %s,O=silo", id);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &ca->key);
	mbedtls_x509write_crt_set_issuer_key(&w, &ca->key);
	if ((rc = set_serial(&w, drbg)) ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&w, cn)) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&w, cn)) ||
	    (rc = mbedtls_x509write_crt_set_validity(&w, ca->not_before, ca->not_after)) ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0)) ||
	    (rc = mbedtls_x509write_crt_set_key_usage(
		     &w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN |
				 MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&w)) ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&w)) ||
	    (rc = mbedtls_x509write_crt_pem(&w, buf, sizeof(buf), mbedtls_ctr_drbg_random,
					    drbg)) ||
	    (rc = mbedtls_x509_crt_parse(&ca->cert, buf, strlen((char *)buf) + 1))) {
		tls_fail(err, rc, "session CA certificate");
		goto fail;
	}
	ca->pem = sl_xstrdup((char *)buf);
	mbedtls_x509write_crt_free(&w);
	*out = ca;
	return 0;
fail:
	mbedtls_x509write_crt_free(&w);
	tl_ca_free(ca);
	return err ? err->code : SL_EIO;
}

const char *tl_ca_pem(const struct tl_ca *ca)
{
	return ca->pem;
}

mbedtls_pk_context *tl__ca_key(struct tl_ca *ca)
{
	return &ca->key;
}

mbedtls_pk_context *tl_ca_leaf_key(struct tl_ca *ca)
{
	return &ca->leaf_key;
}

static int mint(struct tl_ca *ca, const char *host, mbedtls_x509_crt *chain, struct sl_err *err)
{
	/* id-kp-serverAuth inside SEQUENCE: 1.3.6.1.5.5.7.3.1 */
	static const unsigned char eku[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01,
					     0x05, 0x05, 0x07, 0x03, 0x01 };
	mbedtls_x509write_cert w;
	unsigned char san[PX_MAX_HOST + 16];
	unsigned char der[2048];
	char subj[PX_MAX_HOST + 8];
	int rc;

	mbedtls_x509write_crt_init(&w);
	snprintf(subj, sizeof(subj), "CN=%s", host);
	size_t sl = tl__san_der(host, san);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &ca->leaf_key);
	mbedtls_x509write_crt_set_issuer_key(&w, &ca->key);
	/* The issuer name is the CA's subject, in its printed form. */
	char issuer[256];
	mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca->cert.subject);
	if ((rc = set_serial(&w, ca->drbg)) ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&w, subj)) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&w, issuer)) ||
	    (rc = mbedtls_x509write_crt_set_validity(&w, ca->not_before, ca->not_after)) ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1)) ||
	    (rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) ||
	    (rc = mbedtls_x509write_crt_set_extension(
		     &w, MBEDTLS_OID_SUBJECT_ALT_NAME,
		     MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san, sl)) ||
	    (rc = mbedtls_x509write_crt_set_extension(
		     &w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		     MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, eku, sizeof(eku))) ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&w)) ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&w))) {
		mbedtls_x509write_crt_free(&w);
		return tls_fail(err, rc, "leaf certificate");
	}
	int n = mbedtls_x509write_crt_der(&w, der, sizeof(der), mbedtls_ctr_drbg_random,
					  ca->drbg);
	mbedtls_x509write_crt_free(&w);
	if (n < 0)
		return tls_fail(err, n, "leaf certificate");
	/* _der writes at the end of the buffer */
	if ((rc = mbedtls_x509_crt_parse_der(chain, der + sizeof(der) - n, (size_t)n)) ||
	    (rc = mbedtls_x509_crt_parse_der(chain, ca->cert.raw.p, ca->cert.raw.len)))
		return tls_fail(err, rc, "leaf certificate");
	return 0;
}

struct tl_leaf *tl_ca_leaf(struct tl_ca *ca, const char *host, struct sl_err *err)
{
	struct tl_leaf **pp = &ca->leaves, *l;
	for (; (l = *pp); pp = &l->next) {
		if (!strcmp(l->host, host)) {
			*pp = l->next; /* move to front */
			l->next = ca->leaves;
			ca->leaves = l;
			l->refs++;
			return l;
		}
	}
	if (strlen(host) > PX_MAX_HOST) {
		sl_err_set(err, SL_EINVAL, "host name too long for a certificate");
		return NULL;
	}
	l = sl_xcalloc(1, sizeof(*l));
	snprintf(l->host, sizeof(l->host), "%s", host);
	mbedtls_x509_crt_init(&l->chain);
	if (mint(ca, host, &l->chain, err)) {
		mbedtls_x509_crt_free(&l->chain);
		free(l);
		return NULL;
	}
	l->next = ca->leaves;
	ca->leaves = l;
	l->refs = 1;
	/* Bound the cache by dropping the least recently used leaf that no
	 * handshake holds. */
	if (++ca->n_leaves > TL_MAX_LEAVES) {
		struct tl_leaf **q = &ca->leaves, **victim = NULL;
		for (; *q; q = &(*q)->next)
			if (!(*q)->refs)
				victim = q;
		if (victim) {
			struct tl_leaf *v = *victim;
			*victim = v->next;
			mbedtls_x509_crt_free(&v->chain);
			free(v);
			ca->n_leaves--;
		}
	}
	return l;
}

mbedtls_x509_crt *tl_leaf_chain(struct tl_leaf *l)
{
	return &l->chain;
}

void tl_leaf_put(struct tl_leaf *l)
{
	if (l && l->refs > 0)
		l->refs--;
}

size_t tl_ca_count(const struct tl_ca *ca)
{
	return ca->n_leaves;
}

void tl_ca_free(struct tl_ca *ca)
{
	if (!ca)
		return;
	/* mbedtls_pk_free zeroizes the key material. */
	mbedtls_pk_free(&ca->key);
	mbedtls_pk_free(&ca->leaf_key);
	mbedtls_x509_crt_free(&ca->cert);
	while (ca->leaves) {
		struct tl_leaf *l = ca->leaves;
		ca->leaves = l->next;
		mbedtls_x509_crt_free(&l->chain);
		free(l);
	}
	free(ca->pem);
	free(ca);
}
