-- luacheck configuration (ctest lua_lint). The shipped scripts run in
-- Lua 5.4 states whose only global beyond the safe base library is the
-- frozen `silo` API (docs/lua-api.md); a script that sets a global is an
-- error there, so it is one here too.
std = "lua54"
read_globals = { "silo" }
max_line_length = 130
-- Callbacks keep the parameters of their contract even when unused.
unused_args = false
-- Fixtures (replay.md) also see the `json` helper of their loader; the
-- hostile ones do odd things on purpose.
files["tests/fixtures"] = { read_globals = { "silo", "json" } }
files["tests/fixtures/hostile_policy.lua"] = { ignore = { "241" } }
