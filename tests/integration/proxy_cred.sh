#!/bin/bash
# Credential injection and placeholders: the secret reaches exactly the
# configured host over HTTPS, replaces a header the sandbox sent instead of
# duplicating it, never reaches other hosts, plain HTTP or the journal;
# a placeholder dummy is swapped on its bound host and refused elsewhere;
# a missing variable stops startup; --mock closes everything but still
# makes a CA.
source "$(dirname "$0")/proxy_env.bash"
pxt_init "$@"
export PXT_SECRET=s3cr3t-Value-0123456789abcdef
export PXT_TOKEN=ghp_RealToken0123456789abcdefABCDEF
pxt_proxy --allow-domain cred.test --allow-domain nocred.test --allow-domain '*.cred.test' \
	--hosts cred.test=198.51.100.2 --hosts nocred.test=198.51.100.2 \
	--hosts sub.cred.test=198.51.100.2 \
	--upstream-ca "*.cred.test=$PXT_WORK/upca.pem" --upstream-ca "nocred.test=$PXT_WORK/upca.pem" \
	--inject-credential "cred.test:Authorization:PXT_SECRET:Bearer {secret}" \
	--placeholder "PXT_TOKEN:cred.test:X-Token"
DUMMY=$(sed -n 's/^placeholder PXT_TOKEN=//p' "$PXT_WORK/proxy.out")
B=$PXT_WORK/body

# The upstream echoes a sha256 per header: responses are scrubbed of the
# secret itself (proxy_reflect.sh).
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
AUTH="\"Authorization\": \"$(sha "Bearer $PXT_SECRET")\""
out=$(pcurl https://cred.test/echo)
[ "$(echo "$out" | grep -o "$AUTH" | wc -l)" = 1 ]; ok $? "credential injected on the exact host"
out=$(pcurl -H 'Authorization: Basic c2FuZGJveA==' -H 'authorization: other' https://cred.test/echo)
[ "$(echo "$out" | grep -o -i '\["authorization"' | wc -l)" = 1 ] && echo "$out" | grep -q "$AUTH" &&
	! echo "$out" | grep -q 'c2FuZGJveA'
ok $? "a sandbox Authorization header is replaced, not duplicated"
nocred() { echo "$1" | grep -q '"line"' && ! echo "$1" | grep -q -i -e '"authorization"' -e "$PXT_SECRET"; }
nocred "$(pcurl https://nocred.test/echo)"; ok $? "no credential on another host"
nocred "$(pcurl https://sub.cred.test/echo)"; ok $? "no credential on a subdomain"
nocred "$(pcurl http://cred.test/echo)"; ok $? "no credential over plain HTTP"

[ ${#DUMMY} = ${#PXT_TOKEN} ] && [ "$DUMMY" != "$PXT_TOKEN" ] && [ "${DUMMY:3:1}" = _ ] &&
	[ "$(echo "$DUMMY" | tr 'a-z' 'a' | tr 'A-Z' 'A' | tr '0-9' '0')" = \
	  "$(echo "$PXT_TOKEN" | tr 'a-z' 'a' | tr 'A-Z' 'A' | tr '0-9' '0')" ]
ok $? "the placeholder dummy has the real value's length and shape"
out=$(pcurl -H "X-Token: token $DUMMY" https://cred.test/echo)
echo "$out" | grep -q "\"X-Token\": \"$(sha "token $PXT_TOKEN")\""
ok $? "the dummy is swapped for the real value on its bound host"
[ "$(pcurl -o "$B" -w '%{http_code}' -H "X-Token: $DUMMY" https://nocred.test/echo)" = 403 ] &&
	grep -q 'placeholder refused' "$B"
ok $? "the dummy sent to another host: 403 placeholder refused"
[ "$(pcurl -o /dev/null -w '%{http_code}' -H "X-Other: $DUMMY" https://cred.test/echo)" = 403 ]
ok $? "the dummy in an unbound header: 403"
[ "$(pcurl -o /dev/null -w '%{http_code}' "https://cred.test/echo?t=$DUMMY")" = 403 ]
ok $? "the dummy in the URL: 403"

pxt_proxy_stop
grep -q '"host":"cred.test","port":443,"method":"GET","path":"/echo","status":200,.*"credential_injected":true' "$PXT_LOG"
ok $? "injection is journaled as credential_injected=true"
! grep -q '"host":"nocred.test".*"credential_injected":true' "$PXT_LOG"; ok $? "... and only there"
grep -q '"host":"nocred.test",.*"allowed":false,.*"note":"placeholder refused"' "$PXT_LOG"
ok $? "placeholder refusals are journaled"
! grep -q -e "$PXT_SECRET" -e "$PXT_TOKEN" "$PXT_LOG"; ok $? "no secret in the journal records"
! grep -q -e "$PXT_SECRET" -e "$PXT_TOKEN" "$PXT_WORK/proxy.out"; ok $? "no secret on stdout"

out=$(env -u PXT_MISSING $PXT_BIN --allow-domain a.test --inject-credential 'a.test:X-Key:PXT_MISSING' 2>&1 </dev/null)
[ $? = 1 ] && echo "$out" | grep -q 'PXT_MISSING is not set'; ok $? "a missing credential variable stops startup"

pxt_proxy --mock --allow-domain cred.test --hosts cred.test=198.51.100.2
pcurl http://cred.test/echo >/dev/null 2>&1
rc=$?
[ $rc = 52 ] || [ $rc = 56 ]; ok $? "--mock closes every connection at once (curl $rc)"
grep -q 'BEGIN CERTIFICATE' "$PXT_CA"; ok $? "--mock still makes a session CA"
pxt_proxy_stop
! grep -q '^{' "$PXT_LOG"; ok $? "--mock journals nothing"
pxt_done
