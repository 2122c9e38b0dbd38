# Sourced after lib.bash by tests that run sessions against the fake local
# provider as a managed server (llm.local_server_command): skips without
# python3/openssl, makes a throwaway CA the harness trusts, and writes the
# session config.
command -v python3 >/dev/null && command -v openssl >/dev/null || { echo "1..0 # SKIP python3/openssl"; exit 77; }
FP="$SILO_SRC/tests/integration/fake_providers"
sh "$FP/mkcerts.sh" "$T/ca" >/dev/null
export SILO_LLM_CA_FILE="$T/ca/ca.pem"

local_config() { # local_config MODEL -> $T/loc.lua on a fresh port; the server logs to $T/srv.log
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$T/loc.lua" <<LUA
return { llm = { backend = "local", model = "$1", base_url = "https://127.0.0.1:$port",
  local_server_command = "exec python3 $FP/fake_provider.py --kind local --port $port --cert $T/ca/server.pem --keyfile $T/ca/server.key --log $T/srv.log" } }
LUA
}
