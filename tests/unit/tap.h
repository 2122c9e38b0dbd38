/* Minimal TAP test harness for the unit tests: TEST(name) registers a test,
 * CHECK() records a failure with file:line and carries on. */
#ifndef TAP_H
#define TAP_H
#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
	struct tap_test *next;
};
void tap_register(struct tap_test *t);
extern int tap_failed;

#define TEST(name)                                                             \
	static void test_##name(void);                                         \
	static struct tap_test tap_t_##name = { #name, test_##name, NULL };   \
	__attribute__((constructor)) static void tap_reg_##name(void)         \
	{                                                                      \
		tap_register(&tap_t_##name);                                   \
	}                                                                      \
	static void test_##name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			tap_failed = 1;                                        \
			printf("#   %s:%d: CHECK(%s) failed\n", __FILE__,      \
			       __LINE__, #cond);                               \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *tap_a = (a), *tap_b = (b);                         \
		if (!tap_a || !tap_b || strcmp(tap_a, tap_b)) {                \
			tap_failed = 1;                                        \
			printf("#   %s:%d: \"%s\" != \"%s\"\n", __FILE__,      \
			       __LINE__, tap_a ? tap_a : "(null)",             \
			       tap_b ? tap_b : "(null)");                      \
		}                                                              \
	} while (0)
#endif
