/* Helpers shared by the journal unit tests: scratch directories, whole-file
 * reads, and journals built from JSON text. */
#ifndef JT_H
#define JT_H

#include "journal/jn.h"

/* A fresh directory under $TMPDIR (owned; remove with jt_rmdir). */
char *jt_tmpdir(void);
void jt_rmdir(char *dir);
/* Whole file as a NUL-terminated string (owned), or NULL. */
char *jt_slurp(const char *path, size_t *len);
int jt_spit(const char *path, const void *p, size_t n);
/* Parses JSON text (keys kept in order); aborts the test run on bad JSON,
 * which would be a bug in the test itself. */
struct jv *jt_json(const char *text);
/* Appends entry with the body given as JSON text; returns the seq. */
int64_t jt_append(struct jn *j, const char *entry, const char *body_json);
/* jn_export into a string (owned); NULL and err on failure. */
char *jt_export(const char *path, struct sl_err *err);

#endif
