/* libFuzzer target for the proxy's HTTP parsers (px_http.c): head end
 * search, request and response heads, request targets and the chunked
 * framer. The first byte picks the chunk feed step so split reads are
 * explored too. Asserts invariants the relay code relies on. */
#include <stdlib.h>
#include <string.h>

#include "proxy/px_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_err err;
	struct px_head h;
	struct px_target t;
	size_t hl = 0;
	if (!size)
		return 0;
	size_t step = (size_t)(data[0] % 16) + 1;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;

	if (!px_http_head_end(p, n, &hl, &err)) {
		if (hl > n || hl > PX_MAX_HEAD)
			abort();
		if (!px_http_parse_request(p, hl, &h, &err)) {
			if (h.nhdrs > PX_MAX_HDRS || h.method + h.mlen > p + hl)
				abort();
			if (h.body == PX_BODY_CHUNKED && px_http_find(&h, "content-length", 0) >= 0)
				abort();
			if (h.tlen && h.target[0] != '/')
				px_http_parse_absolute(h.target, h.tlen, &t, &err);
			px_http_parse_authority(h.target, h.tlen, 443, &t, &err);
		}
		px_http_parse_response(p, hl, "GET", 3, &h, &err);
		/* what follows the head is a chunked body candidate */
		struct px_chunk c;
		px_chunk_init(&c);
		size_t i = hl;
		while (i < n && !c.done) {
			size_t k = n - i < step ? n - i : step;
			ssize_t r = px_chunk_feed(&c, p + i, k, &err);
			if (r < 0)
				break;
			if ((size_t)r > k || ((size_t)r < k && !c.done))
				abort();
			i += (size_t)r;
		}
	}
	char host[PX_MAX_HOST + 8];
	if (n < sizeof(host)) {
		memcpy(host, p, n);
		host[n] = '\0';
		int ip;
		if (!px_http_norm_host(host, &ip, &err) && strlen(host) > PX_MAX_HOST)
			abort();
		px_ipguard_str(host);
		px_domain_match("*.example.test", host);
	}
	return 0;
}
