/*
 * ws_client: a WebSocket client (RFC 6455) on the libuv loop, over TLS with
 * mbedTLS (wss://) or plain TCP (ws://), for the realtime LLM backend.
 * Debian's libcurl has WebSocket support compiled out (MACHINE-NOTES), so
 * the opening handshake is written here and the framing is ws_frame.c.
 * Text messages only are surfaced; pings are answered; a close is answered
 * and reported. Proxy variables are ignored, as for silo.http.
 */
#ifndef WS_CLIENT_H
#define WS_CLIENT_H

#include <stddef.h>
#include <uv.h>

#include "base/sl.h"

struct wsc;

struct wsc_cbs {
	/* Handshake finished (err NULL) or failed (then nothing else comes
	 * but on_closed). */
	void (*on_open)(void *ud, const char *err);
	/* One whole text (or binary) message. */
	void (*on_message)(void *ud, const char *p, size_t n);
	/* The connection is over: code/reason from the peer's close frame
	 * (1006 when it just went away), err for local failures. The handle
	 * is freed after this returns. */
	void (*on_closed)(void *ud, int code, const char *reason, const char *err);
	void *ud;
};

/**
 * Connects to url (ws:// or wss://host[:port]/path?query) sending the
 * extra header lines ("Name: value", values already rendered). ca_file:
 * extra trusted CA (PEM) on top of /etc/ssl/certs; NULL = env
 * SILO_LLM_CA_FILE. timeout_ms bounds connect + TLS + upgrade (0 = 30 s).
 * Returns NULL with err for a bad URL.
 */
struct wsc *wsc_open(uv_loop_t *loop, const char *url, const char *const *headers,
		     size_t nheaders, const char *ca_file, long timeout_ms,
		     const struct wsc_cbs *cbs, struct sl_err *err);

/** Sends one text message; 0, or <0 when not open. */
int wsc_send_text(struct wsc *c, const char *p, size_t n);

/** Starts a close handshake (code 1000); on_closed follows. */
void wsc_close(struct wsc *c);

/** Closes politely (close frame, up to 2 s for the answer) without any
 * further callback; the handle frees itself. */
void wsc_release(struct wsc *c);

/** Drops the connection at once; no callback runs afterwards. */
void wsc_abort(struct wsc *c);

#endif
