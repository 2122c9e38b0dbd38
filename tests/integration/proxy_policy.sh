#!/bin/bash
# Egress proxy host policy and IP guard, end to end through `silo debug
# proxy`: allowlist exact and wildcard matches (and their edge cases),
# IP literals, the `hosts` map, real resolver answers (a private
# /etc/hosts in this test's mount namespace) mixing public and private
# addresses, and the journal records and 403 texts for each refusal.
source "$(dirname "$0")/proxy_env.bash"
pxt_init "$@"

# Resolver answers for getaddrinfo, private to this test.
cat >"$PXT_WORK/hosts" <<'H'
127.0.0.1 localhost
198.51.100.2 pub.test
198.51.100.2 mixed.test
10.0.0.7 mixed.test
198.51.100.2 mixed6.test
fd00::7 mixed6.test
H
mount --bind "$PXT_WORK/hosts" /etc/hosts

out=$($PXT_BIN --allow-domain a.test --upstream-ca 'a.test=/nonexistent' 2>&1 </dev/null)
[ $? = 1 ] && echo "$out" | grep -q nonexistent; ok $? "an unreadable upstream CA file is a startup error"

pxt_proxy --allow-domain up.test --allow-domain '*.wild.test' --allow-domain pub.test \
	--allow-domain mixed.test --allow-domain mixed6.test --allow-domain intranet.test \
	--allow-domain meta.test --allow-domain 127.0.0.1 --allow-domain ::1 \
	--allow-domain ::ffff:127.0.0.1 --allow-domain 198.51.100.2 \
	--allow-domain 2130706433 --allow-domain 0x7f.0.0.1 --allow-domain nxdomain.test \
	--hosts up.test=198.51.100.2 --hosts wild.test=198.51.100.2 \
	--hosts a.wild.test=198.51.100.2 --hosts a.b.wild.test=198.51.100.2 \
	--hosts xwild.test=198.51.100.2 --hosts intranet.test=10.1.2.3 \
	--hosts meta.test=::ffff:169.254.169.254

code() { pcurl -o "$PXT_WORK/body" -w '%{http_code}' "$@" 2>/dev/null; }
connect_code() { pcurl -o /dev/null -w '%{http_connect}' "$@" 2>/dev/null; }

[ "$(code http://up.test/echo)" = 200 ]; ok $? "allowlisted name is served (hosts map)"
[ "$(code http://UP.Test./echo)" = 200 ]; ok $? "case and one trailing dot are normalised"
[ "$(code http://evil.test/)" = 403 ]; ok $? "a name off the allowlist gets 403"
grep -q -- '--allow-domain evil.test' "$PXT_WORK/body"; ok $? "the 403 body says how to allow it"
[ "$(connect_code https://evil.test/)" = 403 ]; ok $? "CONNECT to a name off the allowlist gets 403"

# wildcard edges: *.wild.test matches wild.test and any subdomain only
[ "$(code http://wild.test/)" = 200 ]; ok $? "*.wild.test matches wild.test"
[ "$(code http://a.wild.test/)" = 200 ]; ok $? "*.wild.test matches a.wild.test"
[ "$(code http://a.b.wild.test/)" = 200 ]; ok $? "*.wild.test matches a.b.wild.test"
[ "$(code http://xwild.test/)" = 403 ]; ok $? "*.wild.test does not match xwild.test"
[ "$(code http://wild.test.evil/)" = 403 ]; ok $? "*.wild.test does not match wild.test.evil"

# IP literals are judged by the guard before anything is dialed
[ "$(connect_code https://127.0.0.1/)" = 403 ]; ok $? "CONNECT 127.0.0.1 is a blocked address"
[ "$(code 'http://[::1]/')" = 403 ]; ok $? "http://[::1]/ is a blocked address"
grep -q 'blocked address (loopback)' "$PXT_WORK/body"; ok $? "the 403 body names the guard's reason"
[ "$(code 'http://[::ffff:127.0.0.1]/')" = 403 ]; ok $? "IPv4-mapped loopback is blocked"
[ "$(code http://198.51.100.2/echo)" = 200 ]; ok $? "a documentation-range literal is reachable"

# hosts map and resolver answers go through the guard too
[ "$(code http://intranet.test/)" = 502 ]; ok $? "hosts map to a private address: 502"
grep -q 'upstream error: blocked address: intranet.test resolves to 10.1.2.3 (private)' \
	"$PXT_WORK/body"; ok $? "the 502 body names name, address and reason"
[ "$(code http://meta.test/)" = 502 ]; ok $? "hosts map to IPv4-mapped link-local: 502"
[ "$(code http://pub.test/echo)" = 200 ]; ok $? "resolver answer in public space is used"
[ "$(code http://mixed.test/)" = 502 ]; ok $? "public + private answers: refused"
grep -q 'mixed.test resolves to 10.0.0.7' "$PXT_WORK/body"; ok $? "the private answer is named"
[ "$(code http://mixed6.test/)" = 502 ]; ok $? "public + unique-local IPv6 answers: refused"
# curl normalises such spellings itself, so these go in raw
praw 'GET http://2130706433/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | grep -q \
	'^upstream error: blocked address: 2130706433 resolves to 127.0.0.1 (loopback)'
ok $? "decimal spelling of 127.0.0.1 resolves and is blocked"
praw 'GET http://0x7f.0.0.1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | grep -q \
	'^upstream error: blocked address: 0x7f.0.0.1 resolves to 127.0.0.1 (loopback)'
ok $? "hex spelling of 127.0.0.1 resolves and is blocked"
[ "$(code http://nxdomain.test/)" = 502 ]; ok $? "unresolvable allowed name: 502"
grep -q 'upstream error: resolve failed: nxdomain.test' "$PXT_WORK/body"; ok $? "resolve failure is named"

# every request resolves afresh and is judged afresh: rebinding the name
# to a private address between requests is caught on the next request
sed 's/^198.51.100.2 pub.test$/10.9.9.9 pub.test/' "$PXT_WORK/hosts" >"$PXT_WORK/hosts.new"
cat "$PXT_WORK/hosts.new" >"$PXT_WORK/hosts" # in place: /etc/hosts is bound to this inode
[ "$(code http://pub.test/echo)" = 502 ] && grep -q 'pub.test resolves to 10.9.9.9' "$PXT_WORK/body"
ok $? "a name rebound to a private address is refused on the next request"

pxt_proxy_stop
rec() { grep -c "$1" "$PXT_LOG"; }
[ "$(rec '"host":"evil.test".*"allowed":false.*"note":"domain not allowlisted"')" -ge 2 ]
ok $? "denials are journaled with note 'domain not allowlisted'"
[ "$(rec '"host":"intranet.test".*"allowed":false.*"note":"blocked address"')" = 1 ]
ok $? "guard refusals after resolution are journaled allowed=false, 'blocked address'"
[ "$(rec '"host":"127.0.0.1","port":443.*"note":"blocked address"')" = 1 ]
ok $? "literal refusals are journaled 'blocked address'"
[ "$(rec '"host":"nxdomain.test".*"allowed":true.*"note":"resolve failed"')" = 1 ]
ok $? "resolve failures are journaled allowed=true, 'resolve failed'"
[ "$(rec '"host":"up.test","port":80,"method":"GET","path":"/echo","status":200')" = 2 ]
ok $? "served requests are journaled with method, path and status"
! grep -q '?' "$PXT_LOG"; ok $? "no query strings in the journal"
pxt_done
