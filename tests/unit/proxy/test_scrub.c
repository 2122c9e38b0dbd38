/* Response scrubbing: same-length replacement in place, and a secret split
 * anywhere across arriving pieces is still found (held back until whole). */
#include <stdlib.h>
#include <string.h>

#include "proxy/px_http.h"
#include "tap.h"

static const struct px_scrub_pat pats[] = {
	{ "s3cr3t-Value-42", "***************", 15 },
	{ "ghp_RealToken99", "ghp_DummyTok000", 15 },
};
static const struct px_scrub sc = { pats, 2 };

/* Streams text through px_scrub in pieces of `step` bytes the way the
 * relay does (held bytes stay at the front of the buffer) and returns
 * what went out. */
static char *stream(const char *text, size_t step)
{
	size_t n = strlen(text), got = 0, have = 0, sent = 0;
	char *buf = calloc(n + 1, 1), *out = calloc(n + 1, 1);
	while (sent < n) {
		size_t add = got + step <= n ? step : n - got;
		memcpy(buf + have, text + got, add);
		got += add;
		have += add;
		size_t ok = px_scrub(&sc, buf, have, got == n);
		memcpy(out + sent, buf, ok);
		sent += ok;
		memmove(buf, buf + ok, have - ok);
		have -= ok;
	}
	free(buf);
	return out;
}

TEST(scrub_in_place_same_length)
{
	char b[] = "a s3cr3t-Value-42 b ghp_RealToken99 s3cr3t-Value-42";
	CHECK(px_scrub(&sc, b, strlen(b), 1) == strlen(b));
	CHECK(!strcmp(b, "a *************** b ghp_DummyTok000 ***************"));
	char c[] = "nothing here";
	CHECK(px_scrub(&sc, c, strlen(c), 0) == strlen(c));
	CHECK(px_scrub(NULL, c, strlen(c), 0) == strlen(c));
}

TEST(scrub_holds_a_possible_prefix)
{
	char b[] = "xx s3cr3t-Va";
	CHECK(px_scrub(&sc, b, strlen(b), 0) == 3);
	CHECK(px_scrub(&sc, b, strlen(b), 1) == strlen(b));
	char c[] = "xx s3cr3X";
	CHECK(px_scrub(&sc, c, strlen(c), 0) == strlen(c));
}

TEST(scrub_streamed_every_split)
{
	const char *text = "head s3cr3t-Value-42 mid ghp_RealToken99 s3s3cr3t-Value-42 tail s";
	const char *want = "head *************** mid ghp_DummyTok000 s3*************** tail s";
	for (size_t step = 1; step <= strlen(text); step++) {
		char *out = stream(text, step);
		if (strcmp(out, want))
			CHECK(!"streamed output differs");
		free(out);
	}
	CHECK(1);
}
