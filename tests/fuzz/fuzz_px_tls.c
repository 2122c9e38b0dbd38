/* libFuzzer target for the sandbox-facing TLS path of a CONNECT tunnel
 * (px_req.c px__cl_tls_setup, px_ep.c): the input is what a sandbox sends
 * after `200 Connection Established`, i.e. a ClientHello (SNI, ALPN,
 * extensions) and whatever follows. One proxy instance (session CA, leaf
 * cache) is made once; each input gets a fresh connection whose
 * handshake is driven until it needs more bytes or fails. */
#include <stdlib.h>
#include <string.h>

#include "proxy/px_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct px *px;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_err err;
	if (!px) {
		static uv_loop_t loop;
		static const char *const allow[] = { "fuzz.test", NULL };
		struct px_config cfg = { .allowed_domains = allow };
		uv_loop_init(&loop);
		px = px_new(&loop, &cfg, &err);
		if (!px)
			abort();
	}
	struct px_conn *c = calloc(1, sizeof(*c));
	c->px = px;
	px__ep_init(&c->cl, c);
	px__ep_init(&c->up, c);
	strcpy(c->chost, "fuzz.test");
	c->cport = 443;
	if (px__cl_tls_setup(c) || px__ep_tls_start(&c->cl, &c->cl.conf, NULL))
		abort();
	/* feed in two pieces to exercise partial records */
	size_t half = size / 2;
	sl_buf_add(&c->cl.raw, data, half);
	int rc = px__ep_handshake(&c->cl, &err);
	if (rc == SL_EAGAIN) {
		sl_buf_add(&c->cl.raw, data + half, size - half);
		c->cl.eof = 1;
		rc = px__ep_handshake(&c->cl, &err);
	}
	if (rc == 0)
		px__ep_pump(&c->cl);
	/* an SNI the callback saw is lowercased and bounded */
	if (strlen(c->sni) > PX_MAX_HOST)
		abort();
	tl_leaf_put(c->leaf);
	px__ep_deinit(&c->cl);
	px__ep_deinit(&c->up);
	free(c);
	return 0;
}
