/*
 * Terminal output of the frontends: model text escaped (sl_term.c) and
 * colour only for a terminal that wants it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/fe.h"

int fe_term_color(int fd)
{
	const char *term = getenv("TERM");
	if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
		return 0;
	if (!term || !strcmp(term, "dumb"))
		return 0;
	return isatty(fd);
}
