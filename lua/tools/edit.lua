-- Edit: replace an exact string in a UTF-8 file (tools.md 3.3).
local tk = require("toolkit")

return {
  name = "Edit",
  description = "Replace an exact string in a text file. Fails unless old_string occurs exactly "
    .. "once, or replace_all is set to change every occurrence.",
  agents = "both",
  owner = "sandbox",
  schema = {
    type = "object",
    properties = {
      path = { type = "string", description = "File path; relative paths are inside the workspace." },
      old_string = { type = "string", description = "Exact text to find." },
      new_string = { type = "string", description = "Replacement text." },
      replace_all = { type = "boolean", description = "Replace every occurrence (default false)." },
    },
    required = { "path", "old_string", "new_string" },
  },
  run = function(input, ctx)
    local path, err = tk.str(input, "path", "Edit")
    if not path then return tk.fail(err) end
    local old, oerr = tk.str(input, "old_string", "Edit")
    if not old then return tk.fail(oerr) end
    local new, nerr = tk.str(input, "new_string", "Edit")
    if not new then return tk.fail(nerr) end
    local r, herr = silo.helper.edit({ path = tk.resolve(ctx, path), old = old, new = new,
                                       replace_all = tk.bool(input, "replace_all") })
    if not r then return tk.fail(herr) end
    local n = r.replacements or 0
    if n == 1 then
      return tk.ok("Replaced 1 occurrence in " .. path)
    end
    return tk.ok(string.format("Replaced %d occurrences in %s", n, path))
  end,
}
