/*
 * Text for a terminal that came from the model, the agent or a file it
 * wrote: control characters are shown, never sent, so the text cannot
 * write the clipboard (OSC 52), retitle the window, clear the screen or
 * move the cursor. C0 controls (except newline and tab when kept), DEL,
 * the C1 controls (U+0080-U+009F, which some terminals obey as CSI/OSC)
 * and bytes that are not UTF-8 become \xNN; a backslash becomes \\ so
 * the escaping cannot be forged.
 */
#include "base/sl.h"

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2
		 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void sl_term_escape(struct sl_buf *out, const char *s, int keep_newlines)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
		size_t n = utf8_len(p);
		int nl_ok = keep_newlines && (*p == '\n' || *p == '\t');
		if (!n || (*p < 0x20 && !nl_ok) || *p == 0x7f) {
			sl_buf_printf(out, "\\x%02x", *p);
			p++;
		} else if (n == 2 && *p == 0xc2 && p[1] < 0xa0) { /* C1 control */
			sl_buf_printf(out, "\\x%02x", p[1]);
			p += 2;
		} else if (*p == '\\') {
			sl_buf_adds(out, "\\\\");
			p++;
		} else {
			sl_buf_add(out, p, n);
			p += n;
		}
	}
}

