-- Bash: run a shell command inside the sandbox (tools.md 3.4).
local tk = require("toolkit")
local MAX_TIMEOUT = 600000

local function trim_nl(s)
  return (s:gsub("\n+$", ""))
end

return {
  name = "Bash",
  description = "Run a shell command (sh -c) inside the sandbox, in the workspace directory. "
    .. "Returns stdout, stderr and the exit status. Network access goes only through the "
    .. "harness proxy (already configured) to allowed domains. Default timeout 120 s, at most 600 s.",
  agents = "both",
  owner = "sandbox",
  schema = {
    type = "object",
    properties = {
      command = { type = "string", description = "The command line." },
      timeout_ms = { type = "integer", minimum = 1, description = "Timeout in milliseconds (default 120000, max 600000)." },
    },
    required = { "command" },
  },
  run = function(input, ctx)
    local command, err = tk.str(input, "command", "Bash")
    if not command then return tk.fail(err) end
    local timeout, terr = tk.uint(input, "timeout_ms", "Bash")
    if terr then return tk.fail(terr) end
    timeout = math.max(1, math.min(timeout or 120000, MAX_TIMEOUT))
    local env = {}
    if ctx.scratch and ctx.scratch ~= "" then
      env = { { "HOME", ctx.scratch .. "/home" }, { "TMPDIR", ctx.scratch .. "/tmp" } }
    end
    local r, herr = silo.helper.exec({ command = command, cwd = ctx.workspace,
                                       env = silo.json.array(env), timeout_ms = timeout })
    if not r then return tk.fail(herr) end
    local parts = {}
    local out = trim_nl(r.stdout or "")
    if out ~= "" then parts[#parts + 1] = out end
    local errs = trim_nl(r.stderr or "")
    if errs ~= "" then parts[#parts + 1] = "--- stderr ---\n" .. errs end
    if r.truncated then parts[#parts + 1] = "[output truncated]" end
    local code = r.exit_code or -1
    local is_error = false
    if r.cancelled then
      parts[#parts + 1] = "(cancelled)"
      is_error = true
    elseif r.timed_out then
      parts[#parts + 1] = "(timed out)"
      is_error = true
    elseif code ~= 0 then
      parts[#parts + 1] = string.format("(exit code %d)", code)
      is_error = true
    end
    return { content = table.concat(parts, "\n"), is_error = is_error }
  end,
}
