/*
 * Fuzz target for the Lua files users and recordings hand to silo: the
 * bytes are loaded as a fixture (fx_load, then one mock-LLM and one
 * mock-sandbox match against a fixed request) and as a policy
 * (pol_load_file, then a hook call). Every outcome must be a clean error
 * or success within the state's memory cap and instruction budget: no
 * crash, no hang, no leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock/fx.h"
#include "policy/pol.h"

static struct jv *sample_request(void)
{
	const char *txt = "{\"system\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":"
			  "[{\"type\":\"text\",\"text\":\"hello\"}]}],\"tools\":[],\"max_tokens\":10}";
	return jv_parse(txt, strlen(txt), NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/silo-fuzz-lua-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	struct sl_err err = { 0 };
	struct fx *fx = fx_load(path, SILO_SOURCE_DIR "/lua", &err);
	if (fx) {
		struct jv *req = sample_request(), *in = jv_obj();
		fx_llm_next(fx, req, &err);
		jv_set(in, "command", jv_str("ls"));
		fx_tool_next(fx, "Bash", in, &err);
		struct sl_buf b;
		sl_buf_init(&b);
		fx_summary(fx, &b);
		sl_buf_free(&b);
		jv_unref(in);
		jv_unref(req);
		fx_free(fx);
	} else if (!err.msg[0]) {
		abort(); /* a failed load must say why */
	}
	struct pol p;
	pol_init(&p);
	if (!pol_load_file(&p, path, SILO_SOURCE_DIR "/lua", &err)) {
		struct jv *arg = jv_str("agent-0"), *ret = NULL;
		const struct jv *args[1] = { arg };
		pol_hook(&p, "on_request", args, 1, &ret, &err);
		jv_unref(ret);
		jv_unref(arg);
	} else if (!err.msg[0]) {
		abort();
	}
	pol_free(&p);
	unlink(path);
	return 0;
}
