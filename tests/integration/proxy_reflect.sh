#!/bin/bash
# Reflections and desync (sandbox attempts against the proxy, with a real
# upstream that reflects what it gets): TRACE and TRACK are refused before
# they reach the upstream; a placeholder is swapped only in its declared
# header and a declaration without one does not start; a GET (HEAD,
# DELETE, OPTIONS) body that an upstream would read as a second request is
# refused; credentials and placeholders are bound to host and port; real
# secret values that the upstream reflects are scrubbed from response
# heads and bodies, even split across reads and chunks; a redirect to
# another host or port never carries the credential there.
source "$(dirname "$0")/proxy_env.bash"
pxt_init "$@"
export PXT_SECRET=s3cr3t-Value-0123456789abcdef
export PXT_TOKEN=ghp_RealToken0123456789abcdefABCDEF
export PXT_PORTED=p0rted-Secret-9876543210zyx
pxt_proxy --allow-domain cred.test --allow-domain nocred.test --allow-domain up.test \
	--hosts cred.test=198.51.100.2 --hosts nocred.test=198.51.100.2 --hosts up.test=198.51.100.2 \
	--upstream-ca "nocred.test=$PXT_WORK/upca.pem" --upstream-ca "up.test=$PXT_WORK/upca.pem" \
	--upstream-ca "cred.test=$PXT_WORK/upca.pem" \
	--inject-credential "cred.test:Authorization:PXT_SECRET:Bearer {secret}" \
	--inject-credential "up.test:8443:X-Api-Key:PXT_PORTED" \
	--placeholder "PXT_TOKEN:cred.test:X-Token"
DUMMY=$(sed -n 's/^placeholder PXT_TOKEN=//p' "$PXT_WORK/proxy.out")
MASK=$(printf '%*s' ${#PXT_SECRET} '' | tr ' ' '*')
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
B=$PXT_WORK/body
H=$PXT_WORK/head

# TRACE would echo the injected Authorization header back.
code=$(pcurl -o "$B" -w '%{http_code}' -X TRACE https://cred.test/echo)
[ "$code" = 405 ] && grep -q 'TRACE refused' "$B" && ! grep -q "$PXT_SECRET" "$B"
ok $? "TRACE through an intercepted host: 405, nothing echoed ($code)"
code=$(pcurl -o "$B" -w '%{http_code}' -X TRACK http://up.test/echo)
[ "$code" = 405 ]; ok $? "TRACK over plain HTTP: 405 ($code)"
code=$(pcurl -o "$B" -w '%{http_code}' -X trace https://cred.test/echo)
[ "$code" = 405 ]; ok $? "a lower-case trace is refused too ($code)"

# A placeholder is swapped in its declared header only.
out=$(pcurl -H "X-Token: $DUMMY" https://cred.test/echo)
echo "$out" | grep -q "\"X-Token\": \"$(sha "$PXT_TOKEN")\""
ok $? "the dummy in its declared header is swapped (the upstream got the real value)"
code=$(pcurl -o "$B" -w '%{http_code}' -H "X-Echo: $DUMMY" https://cred.test/echo)
[ "$code" = 403 ] && grep -q 'placeholder refused' "$B"
ok $? "the dummy in a reflected header (X-Echo) is refused ($code)"
out=$(PXT_TOKEN=x0123456789 timeout 5 $PXT_BIN --allow-domain a.test --placeholder 'PXT_TOKEN:a.test' 2>&1 </dev/null)
[ $? = 2 ] && echo "$out" | grep -q 'header'
ok $? "a placeholder declared without a header does not start the proxy"

# GET with a body: an upstream that ignores GET bodies would serve the
# body as a second request, one the proxy never checked.
smuggle='GET /echo HTTP/1.1\r\nHost: denied.example\r\n\r\n'
len=$(printf "$smuggle" | wc -c)
for m in GET HEAD DELETE OPTIONS; do
	out=$(praw "$m http://up.test/echo HTTP/1.1\r\nHost: up.test\r\nContent-Length: $len\r\n\r\n$smuggle" 3)
	echo "$out" | head -1 | grep -q '^HTTP/1.1 400' && ! echo "$out" | grep -q 'denied.example'
	ok $? "$m with a Content-Length body: 400, the body never reaches the upstream"
done
out=$(praw "GET http://up.test/echo HTTP/1.1\r\nHost: up.test\r\nTransfer-Encoding: chunked\r\n\r\n${len}\r\n$smuggle\r\n0\r\n\r\n" 3)
echo "$out" | head -1 | grep -q '^HTTP/1.1 400' && ! echo "$out" | grep -q 'denied.example'
ok $? "GET with a chunked body: 400"
out=$(praw "GET http://up.test/echo HTTP/1.1\r\nHost: up.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" 3)
echo "$out" | head -1 | grep -q '^HTTP/1.1 200'; ok $? "GET with Content-Length: 0 is served"
out=$(pcurl -d 'a=1' https://up.test/body)
echo "$out" | grep -q '"len": 3'; ok $? "POST bodies are still relayed"

# Bound to host and port: cred.test means cred.test:443 only.
out=$(pcurl https://cred.test:8443/echo)
echo "$out" | grep -q '"line"' && ! echo "$out" | grep -q -i -e "$PXT_SECRET" -e '"authorization"'
ok $? "no credential for cred.test on port 8443"
out=$(pcurl https://up.test:8443/echo)
echo "$out" | grep -q '"X-Api-Key"'; ok $? "a credential bound to up.test:8443 is injected there"
! pcurl https://up.test/echo | grep -q 'X-Api-Key'; ok $? "... and not on up.test:443"
code=$(pcurl -o /dev/null -w '%{http_code}' -H "X-Token: $DUMMY" https://cred.test:8443/echo)
[ "$code" = 403 ]; ok $? "the dummy on the bound host's other port: 403 ($code)"

# Scrubbing: the upstream reflects the injected secret; the sandbox gets
# a mask of the same length, in heads and bodies.
out=$(pcurl -D "$H" https://cred.test/echo)
echo "$out" | grep -q -F "\"Authorization\", \"Bearer $MASK\"" && ! echo "$out" | grep -q "$PXT_SECRET"
ok $? "an echoed credential is masked in the response body"
for k in 1 3 7; do
	out=$(pcurl -D "$H" "https://cred.test/dribble?n=$k")
	! grep -q "$PXT_SECRET" "$H" && grep -q -i -F "x-echo-auth: Bearer $MASK" "$H" &&
		! echo "$out" | grep -q "$PXT_SECRET" && echo "$out" | grep -q -F "\"Bearer $MASK\""
	ok $? "an echoed secret split over $k-byte chunks is masked (head and body)"
done
out=$(pcurl -H "X-Token: $DUMMY" https://cred.test/echo)
echo "$out" | grep -q "$DUMMY" && ! echo "$out" | grep -q "$PXT_TOKEN"
ok $? "a reflected placeholder value comes back as the dummy"
out=$(pcurl https://up.test:8443/echo)
! echo "$out" | grep -q "$PXT_PORTED"; ok $? "an echoed secret on another binding is masked"
# Content-Length framing survives the rewrite (same length).
out=$(pcurl -w '\n%{size_download}' https://cred.test/echo)
n=$(echo "$out" | tail -1); body=$(echo "$out" | head -n -1)
[ "$n" = "${#body}" ] && [ "$n" -gt 0 ]; ok $? "the masked body keeps its length ($n bytes)"

# Redirects: the proxy relays a 30x and follows nothing; a client that
# follows it to another host or port gets no credential there.
code=$(pcurl -o /dev/null -w '%{http_code}' "https://cred.test/redirect?to=https://nocred.test/echo")
[ "$code" = 302 ]; ok $? "a 302 from the credentialed host is relayed, not followed ($code)"
out=$(pcurl -L "https://cred.test/redirect?to=https://nocred.test/echo")
echo "$out" | grep -q '"line"' && ! echo "$out" | grep -q -i -e "$PXT_SECRET" -e 'authorization'
ok $? "following a redirect to another host: no credential there"
out=$(pcurl -L "https://cred.test/redirect?to=https://cred.test:8443/echo")
echo "$out" | grep -q '"line"' && ! echo "$out" | grep -q -i -e "$PXT_SECRET" -e 'authorization'
ok $? "following a redirect to another port of the host: no credential there"
out=$(pcurl -L "https://cred.test/redirect?to=http://cred.test/echo")
echo "$out" | grep -q '"line"' && ! echo "$out" | grep -q -i -e "$PXT_SECRET" -e 'authorization'
ok $? "following a redirect to plain HTTP: no credential there"

pxt_proxy_stop
grep -q '"method":"TRACE",.*"allowed":false,.*"note":"method refused"' "$PXT_LOG"
ok $? "TRACE refusals are journaled"
grep -q '"method":"GET",.*"allowed":false,.*"note":"body refused"' "$PXT_LOG"
ok $? "body refusals are journaled"
! grep -q -e "$PXT_SECRET" -e "$PXT_TOKEN" -e "$PXT_PORTED" "$PXT_LOG"; ok $? "no secret in the journal"
pxt_done
