/* Helpers shared by the journal unit tests (see jt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"

char *jt_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = sl_xasprintf("%s/silo-jn-test-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

void jt_rmdir(char *dir)
{
	sl_rm_rf(dir);
	free(dir);
}

char *jt_slurp(const char *path, size_t *len)
{
	struct sl_err err;
	return sl_read_file(path, len, 0, &err);
}

int jt_spit(const char *path, const void *p, size_t n)
{
	struct sl_err err;
	return sl_write_file(path, p, n, 0644, &err);
}

struct jv *jt_json(const char *text)
{
	struct sl_err err;
	struct jv *v = jv_parse(text, strlen(text), NULL, &err);
	if (!v) {
		fprintf(stderr, "bad JSON in test: %s\n%s\n", err.msg, text);
		abort();
	}
	return v;
}

int64_t jt_append(struct jn *j, const char *entry, const char *body_json)
{
	struct jv *body = jt_json(body_json);
	int64_t seq = jn_append(j, entry, body);
	jv_unref(body);
	return seq;
}

char *jt_export(const char *path, struct sl_err *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = jn_export(path, f, err);
	fclose(f);
	if (rc) {
		free(text);
		return NULL;
	}
	return text;
}
