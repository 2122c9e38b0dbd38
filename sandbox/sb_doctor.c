/* sb_doctor: placeholder */
#include "sandbox/sb_native.h"
int sb_doctor(FILE *out, int json) { SL_UNUSED(out); SL_UNUSED(json); return 0; }
int sb_canaries(struct sb *sb, sb_canary_fn done, void *ud, struct sl_err *err)
{ SL_UNUSED(sb); SL_UNUSED(done); SL_UNUSED(ud); return sl_err_set(err, SL_EUNAVAIL, "todo"); }
