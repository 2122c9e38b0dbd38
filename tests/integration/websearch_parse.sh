#!/bin/bash
# The WebSearch tool's DuckDuckGo HTML parser (tools.md 3.6), run on a
# captured-shape page: anchors inside tags only, uddg= redirect decoding,
# protocol-relative URLs, snippets bounded by the next result, entity
# decoding with &amp; last, whitespace collapsing, empty entries skipped.
. "$SILO_SRC/tests/integration/lib.bash"
command -v lua5.4 >/dev/null || { echo "1..0 # SKIP lua5.4 missing"; exit 77; }
cat >"$T/page.html" <<'HTML'
<div class="result"><h2><a rel="nofollow" class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fdocs.rs%2Fserde%2F&amp;rut=x">Serde &amp;   <b>docs</b></a></h2>
<a class="result__snippet" href="x">A &lt;generic&gt;  serialization   framework &amp;amp; more</a></div>
<p>text mentioning result__a outside a tag</p>
<div class="result"><a class="result__a" href="//example.org/page">Example   &#x27;quoted&#39;</a>
<span class="result__snippet">Second &quot;snippet&quot;</span></div>
<div class="result"><a class="result__a" href="https://empty.example/"></a></div>
<div class="result"><a class="result__a" href="https://third.example/x">Third</a></div>
<div class="result"><a class="result__abc" href="https://not.a.result/">Not a result</a></div>
HTML
cat >"$T/t.lua" <<'LUA'
package.path = arg[1] .. "/lua/lib/?.lua"
local ddg = require("ddg")
local f = assert(io.open(arg[2])); local body = f:read("a"); f:close()
for i, r in ipairs(ddg.parse(body, 10)) do
  print(i, r.title, r.url, r.snippet)
end
LUA
lua5.4 "$T/t.lua" "$SILO_SRC" "$T/page.html" >"$T/out"
check "three results (empty title skipped, result__abc ignored)" test "$(wc -l <"$T/out")" -eq 3
check "uddg redirect decoded, entities and spaces cleaned" \
	sh -c "sed -n 1p '$T/out' | grep -qF \"$(printf '1\tSerde & docs\thttps://docs.rs/serde/\tA <generic> serialization framework &amp; more')\""
printf '2\tExample %squoted%s\thttps://example.org/page\tSecond "snippet"\n' "'" "'" >"$T/want2"
check "protocol-relative URL and span snippet" sh -c "sed -n 2p '$T/out' | cmp -s - '$T/want2'"
check "snippet of the next result not borrowed" sh -c "sed -n 3p '$T/out' | grep -qF \"$(printf '3\tThird\thttps://third.example/x\t')\""
finish
