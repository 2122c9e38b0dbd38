/* Egress relay for silo-helper: placeholder. */
#include "hp.h"

int hp_relay_start(const char *spec, struct sl_err *err)
{
	return sl_err_set(err, SL_EUNAVAIL, "relay not implemented yet (%s)", spec) ? -1 : -1;
}
