/*
 * `silo manpages DIR`: the man pages, from the command table (synopses,
 * options) and the page prose of cli_doc.c. The output is byte-stable so
 * that docs/man can be checked against the binary.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Roff text: backslashes and dashes escaped, no line starting with a
 * control character. */
static void esc(FILE *f, const char *s, size_t n)
{
	int bol = 1;
	for (size_t i = 0; i < n && s[i]; i++) {
		char c = s[i];
		if (bol && (c == '.' || c == '\''))
			fputs("\\&", f);
		bol = c == '\n';
		if (c == '\\')
			fputs("\\e", f);
		else if (c == '-')
			fputs("\\-", f);
		else
			fputc(c, f);
	}
}

static void escs(FILE *f, const char *s)
{
	esc(f, s, strlen(s));
}

/* Paragraphs separated by blank lines; indented ones kept as they are. */
static void prose(FILE *f, const char *text)
{
	const char *p = text;
	int first = 1;
	while (*p) {
		const char *end = strstr(p, "\n\n");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (!first)
			fputs(".PP\n", f);
		first = 0;
		if (!strncmp(p, "  ", 2)) {
			fputs(".nf\n.RS 4\n", f);
			for (const char *l = p; l < p + n;) {
				const char *nl = memchr(l, '\n', (size_t)(p + n - l));
				size_t ln = nl ? (size_t)(nl - l) : (size_t)(p + n - l);
				esc(f, l + 2, ln > 2 ? ln - 2 : 0);
				fputs("\n", f);
				l += ln + 1;
			}
			fputs(".RE\n.fi\n", f);
		} else {
			esc(f, p, n);
			fputs("\n", f);
		}
		p += n;
		while (*p == '\n')
			p++;
	}
}

static void pairs(FILE *f, const char *title, const struct cli_pair *l)
{
	if (!l || !l->key)
		return;
	fprintf(f, ".SH %s\n", title);
	for (; l->key; l++) {
		fputs(".TP\n.B ", f);
		escs(f, l->key);
		fputs("\n", f);
		escs(f, l->text);
		fputs("\n", f);
	}
}

static void options(FILE *f, const struct cli_cmd *c)
{
	for (const struct cli_opt *o = c->opts; o && o->name; o++) {
		fprintf(f, ".TP\n.B %s", strlen(o->name) == 1 ? "\\-" : "\\-\\-");
		escs(f, o->name);
		if (o->arg) {
			fputs(" \\fI", f);
			escs(f, o->metavar);
			fputs("\\fR", f);
		}
		fputs("\n", f);
		escs(f, o->help);
		fputs(".", f);
		if (o->choices) {
			fputs(" One of: ", f);
			for (const char *p = o->choices; *p; p++)
				if (*p == ' ')
					fputs(", ", f);
				else
					esc(f, p, 1);
			fputs(".", f);
		}
		if (o->repeat)
			fputs(" May be given more than once.", f);
		fputs("\n", f);
	}
	fputs(".TP\n.B \\-h, \\-\\-help\nShow the options and examples, and exit.\n", f);
}

static int in_page(const struct cli_cmd *c, const struct cli_page *p)
{
	return cli_page_of(c) == p;
}

static void synopsis(FILE *f, const struct cli_cmd *c)
{
	fputs(".B silo ", f);
	escs(f, c->synopsis);
	fputs("\n.br\n", f);
}

static void write_page(FILE *f, const struct cli_page *p)
{
	char upper[64];
	size_t i;
	for (i = 0; p->name[i] && i + 1 < sizeof upper; i++)
		upper[i] = (char)(p->name[i] >= 'a' && p->name[i] <= 'z' ? p->name[i] - 32 : p->name[i]);
	upper[i] = 0;
	fprintf(f, ".TH %s %d \"\" \"silo %s\" \"silo manual\"\n.SH NAME\n", upper, p->section,
		SILO_VERSION);
	escs(f, p->name);
	fputs(" \\- ", f);
	escs(f, p->summary);
	fputs("\n", f);
	int top = !strcmp(p->name, "silo"), n = 0;
	const struct cli_cmd *only = NULL;
	if (p->section == 1) {
		fputs(".SH SYNOPSIS\n", f);
		for (int k = 0; k < cli_n_commands; k++) {
			const struct cli_cmd *c = &cli_commands[k];
			if (top ? !c->hidden : in_page(c, p)) {
				synopsis(f, c);
				only = c;
				n++;
			}
		}
	}
	fputs(".SH DESCRIPTION\n", f);
	prose(f, p->description);
	if (top) {
		fputs(".SH COMMANDS\n", f);
		for (int k = 0; k < cli_n_commands; k++) {
			const struct cli_cmd *c = &cli_commands[k];
			if (c->hidden)
				continue;
			fputs(".TP\n.B silo ", f);
			escs(f, c->name);
			fputs("\n", f);
			escs(f, c->summary);
			const struct cli_page *cp = cli_page_of(c);
			if (cp)
				fprintf(f, "; see %s(1)", cp->name);
			fputs(".\n", f);
		}
	} else if (n == 1) {
		fputs(".SH OPTIONS\n", f);
		options(f, only);
	} else if (n > 1) {
		fputs(".SH COMMANDS\n", f);
		for (int k = 0; k < cli_n_commands; k++) {
			const struct cli_cmd *c = &cli_commands[k];
			if (!in_page(c, p))
				continue;
			fputs(".SS \"silo ", f);
			escs(f, c->name);
			fputs("\"\n", f);
			escs(f, c->summary);
			fputs(c->hidden ? " (a testing aid).\n" : ".\n", f);
			fputs(".PP\n", f);
			synopsis(f, c);
			options(f, c);
		}
	}
	for (const struct cli_pair *s = p->sections; s && s->key; s++) {
		fprintf(f, ".SH %s\n", s->key);
		prose(f, s->text);
	}
	pairs(f, "EXIT STATUS", p->exit_status);
	pairs(f, "ENVIRONMENT", p->environment);
	pairs(f, "FILES", p->files);
	if (p->examples && p->examples->key) {
		fputs(".SH EXAMPLES\n", f);
		for (const struct cli_pair *e = p->examples; e->key; e++) {
			fputs(".PP\n", f);
			escs(f, e->key);
			fputs(":\n.PP\n.nf\n.RS 4\n", f);
			escs(f, e->text);
			fputs("\n.RE\n.fi\n", f);
		}
	}
	if (p->see_also) {
		fputs(".SH SEE ALSO\n", f);
		escs(f, p->see_also);
		fputs("\n", f);
	}
}

int cmd_manpages(struct cli_args *a)
{
	const char *dir = a->pos[0];
	struct sl_err err = { 0 };
	if (sl_mkdir_p(dir, 0755, &err))
		return cli_fail("%s", err.msg);
	int n = 0;
	for (const struct cli_page *p = cli_pages; p->name; p++) {
		char *path = sl_xasprintf("%s/%s.%d", dir, p->name, p->section);
		FILE *f = fopen(path, "w");
		if (!f) {
			cli_fail("cannot write %s", path);
			free(path);
			return 1;
		}
		write_page(f, p);
		int bad = fclose(f);
		if (bad) {
			cli_fail("cannot write %s", path);
			free(path);
			return 1;
		}
		free(path);
		n++;
	}
	fprintf(stderr, "wrote %d man page(s) to %s\n", n, dir);
	return 0;
}
