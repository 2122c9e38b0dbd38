/*
 * sb_shell: `silo shell` for the native backend (placeholder until the pty
 * relay lands).
 */
#include "sandbox/sb_native.h"

int sb__native_user_shell(struct sb *sb, char *const *argv, struct sl_err *err)
{
	SL_UNUSED(sb);
	SL_UNUSED(argv);
	return sl_err_set(err, SL_EUNAVAIL, "user shell not implemented yet");
}

void sb__native_terminate_user_shell(struct sb *sb)
{
	SL_UNUSED(sb);
}
