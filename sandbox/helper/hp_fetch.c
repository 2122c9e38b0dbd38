/* fetch for silo-helper: placeholder until the HTTP client lands. */
#include "hp.h"

void hp_fetch_run(const struct hp_req *req, struct sl_buf *out)
{
	hp_out_err(out, req->id, "fetch failed: not implemented yet");
}
