-- An example team policy. Copy it, adjust the lists, and pass it with
--   silo run --policy team.lua ...
-- Every key is optional; a later --policy file replaces a key this one sets,
-- and command-line flags replace both. docs/policy.md explains each key.

-- A hook helper: the repository paths the agent may not write to upstream.
local protected = {
  "^/repos/[^/]+/[^/]+/releases",   -- publishing a release
  "^/repos/[^/]+/[^/]+/git/refs",   -- moving branches behind the reviewer's back
}

return {
  -- Reference documentation the agent may read besides the workspace.
  read_allowlist = { "/usr/share/doc" },

  -- Package registries and the forge. "*.x" also matches x itself.
  allowed_domains = {
    "github.com", "api.github.com", "*.githubusercontent.com",
    "pypi.org", "files.pythonhosted.org",
    "crates.io", "*.crates.io",
    "registry.npmjs.org",
  },

  -- A scoped, short-lived development token. Only the environment variable
  -- NAME is written here; the proxy reads the value at start and adds the
  -- header on requests to exactly api.github.com. The sandbox never sees it.
  credentials = {
    { host = "api.github.com", header = "Authorization", env = "TEAM_GITHUB_TOKEN",
      format = "Bearer {secret}" },
  },

  -- Stop the session's model spending at $25 or five million tokens.
  quota = { usd = 25, tokens = 5000000 },

  -- The agent works without the subagent tools in this team.
  disable_tools = { "Agent", "AwaitAgent" },

  -- One extra tool, in the shape of lua/tools/*.lua (docs/lua-api.md).
  tools = {
    {
      name = "ListTodos",
      description = "List TODO and FIXME comments in the workspace (at most 200 lines).",
      schema = { type = "object", properties = {}, additionalProperties = false },
      agents = "both",
      owner = "sandbox",
      run = function(input, ctx)
        local r, err = silo.helper.exec{
          command = "grep -rIn --exclude-dir=.git -E 'TODO|FIXME' . | head -n 200",
          cwd = ctx.workspace,
          timeout_ms = 30000,
        }
        if not r then
          return { content = err, is_error = true }
        end
        if r.stdout == "" then
          return { content = "no TODO or FIXME comments found", is_error = false }
        end
        return { content = r.stdout, is_error = false }
      end,
    },
  },

  hooks = {
    -- Called by the proxy for every request inside an allowed connection.
    -- Return nil to allow, or a reason (the client gets 403).
    on_request = function(req)
      if req.method == "POST" and req.host == "api.github.com" then
        for _, pattern in ipairs(protected) do
          if req.path:match(pattern) then
            return "POST " .. req.path .. " is reserved for humans"
          end
        end
      end
      return nil
    end,

    -- Called before any tool call runs. Return nil to allow, or a reason.
    on_tool_call = function(agent, call)
      if call.name == "Bash" and type(call.input.command) == "string"
          and call.input.command:match("git%s+push") then
        return "pushing is done by the reviewer after unlock"
      end
      return nil
    end,
  },
}
