/* Placeholder binding (decision 31): a dummy bound to a path prefix is
 * swapped only for requests the origin will also route under that
 * prefix, so dot-segments and encoded separators cannot walk out of it. */
#include <stdlib.h>
#include <string.h>

#include "proxy/px_int.h"
#include "tap.h"

/* 1 swapped, 0 no dummy, -1 refused */
static int try_at(struct px *px, const char *host, int port, const char *hdr, const char *path)
{
	const char *d = px_placeholder_value(px, "PX_TEST_PH_SECRET");
	char *out = NULL;
	int r = px__dummy_header(px, host, port, "GET", path, hdr, strlen(hdr), d, strlen(d), &out);
	free(out);
	return r;
}

static int try_path(struct px *px, const char *path)
{
	return try_at(px, "api.test", 443, "X-Token", path);
}

TEST(placeholder_path_binding)
{
	uv_loop_t loop;
	struct sl_err e;
	uv_loop_init(&loop);
	setenv("PX_TEST_PH_SECRET", "s3cretValue42", 1);
	struct px_placeholder ph = { "PX_TEST_PH_SECRET", "api.test", "X-Token", NULL, "/v1/ok" };
	struct px_config cfg = { .placeholders = &ph, .n_placeholders = 1 };
	struct px *px = px_new(&loop, &cfg, &e);
	CHECK(px != NULL);
	if (px) {
		CHECK(try_path(px, "/v1/ok") == 1);
		CHECK(try_path(px, "/v1/ok/items") == 1);
		CHECK(try_path(px, "/v1/okay.json") == 1);
		CHECK(try_path(px, "/v2/ok") == -1);
		CHECK(try_path(px, "/v1/ok/../../admin") == -1);
		CHECK(try_path(px, "/v1/ok/..") == -1);
		CHECK(try_path(px, "/v1/ok/./../x") == -1);
		CHECK(try_path(px, "/v1/ok/%2e%2e/x") == -1);
		CHECK(try_path(px, "/v1/ok/.%2E/x") == -1);
		CHECK(try_path(px, "/v1/ok%2f..%2fadmin") == -1);
		CHECK(try_path(px, "/v1/ok\\..\\admin") == -1);
		px_free(px);
	}
	unsetenv("PX_TEST_PH_SECRET");
	CHECK(uv_loop_close(&loop) == 0);
}

TEST(placeholder_header_and_port_binding)
{
	uv_loop_t loop;
	struct sl_err e;
	uv_loop_init(&loop);
	setenv("PX_TEST_PH_SECRET", "s3cretValue42", 1);
	struct px_placeholder ph = { "PX_TEST_PH_SECRET", "api.test", NULL, NULL, NULL };
	struct px_config cfg = { .placeholders = &ph, .n_placeholders = 1 };
	struct px *px = px_new(&loop, &cfg, &e);
	CHECK(px == NULL && strstr(e.msg, "header name is required"));
	if (px)
		px_free(px);
	ph.header = "X-Token";
	ph.host = "api.test:70000";
	px = px_new(&loop, &cfg, &e);
	CHECK(px == NULL && strstr(e.msg, "invalid port"));
	if (px)
		px_free(px);
	ph.host = "api.test";
	px = px_new(&loop, &cfg, &e);
	CHECK(px != NULL);
	if (px) {
		CHECK(try_at(px, "api.test", 443, "X-Token", "/") == 1);
		CHECK(try_at(px, "api.test", 443, "x-token", "/") == 1);
		CHECK(try_at(px, "api.test", 443, "X-Echo", "/") == -1);
		CHECK(try_at(px, "api.test", 8443, "X-Token", "/") == -1);
		CHECK(try_at(px, "other.test", 443, "X-Token", "/") == -1);
		px_free(px);
	}
	ph.host = "API.test.:8443";
	px = px_new(&loop, &cfg, &e);
	CHECK(px != NULL);
	if (px) {
		CHECK(try_at(px, "api.test", 8443, "X-Token", "/") == 1);
		CHECK(try_at(px, "api.test", 443, "X-Token", "/") == -1);
		px_free(px);
	}
	unsetenv("PX_TEST_PH_SECRET");
	CHECK(uv_loop_close(&loop) == 0);
}
