/* Runs every registered TEST in registration order and prints TAP; an
 * optional argv[1] runs only the tests whose name contains it. */
#include "tap.h"

#include <stdlib.h>

static struct tap_test *head, **tail = &head;
int tap_failed;

void tap_register(struct tap_test *t)
{
	*tail = t;
	tail = &t->next;
}

int main(int argc, char **argv)
{
	int n = 0, bad = 0;
	for (struct tap_test *t = head; t; t = t->next)
		if (argc < 2 || strstr(t->name, argv[1]))
			n++;
	printf("1..%d\n", n);
	int i = 0;
	for (struct tap_test *t = head; t; t = t->next) {
		if (argc >= 2 && !strstr(t->name, argv[1]))
			continue;
		tap_failed = 0;
		t->fn();
		printf("%s %d - %s\n", tap_failed ? "not ok" : "ok", ++i, t->name);
		fflush(stdout);
		bad += tap_failed;
	}
	return bad ? 1 : 0;
}
