-- Write: create or replace (or append to) a file (tools.md 3.2).
local tk = require("toolkit")

return {
  name = "Write",
  description = "Create a file or replace its contents; parent directories are created. "
    .. "Set append to add to the end instead. Writable places: the workspace and the scratch "
    .. "directories (HOME, TMPDIR).",
  agents = "both",
  owner = "sandbox",
  schema = {
    type = "object",
    properties = {
      path = { type = "string", description = "File path; relative paths are inside the workspace." },
      content = { type = "string", description = "The text to write." },
      append = { type = "boolean", description = "Append instead of replacing (default false)." },
    },
    required = { "path", "content" },
  },
  run = function(input, ctx)
    local path, err = tk.str(input, "path", "Write")
    if not path then return tk.fail(err) end
    local b64
    if input.content ~= nil and input.content_b64 ~= nil then
      return tk.fail("Write: the content and content_b64 fields are mutually exclusive")
    elseif input.content_b64 ~= nil then
      if type(input.content_b64) ~= "string" then
        return tk.fail("the content_b64 field must be a base64 string")
      end
      local ok, derr = pcall(silo.b64.decode, input.content_b64)
      if not ok then return tk.fail(tostring(derr)) end
      b64 = input.content_b64
    else
      local content, cerr = tk.str(input, "content", "Write")
      if not content then return tk.fail(cerr) end
      b64 = silo.b64.encode(content)
    end
    local append = tk.bool(input, "append")
    local r, herr = silo.helper.write({ path = tk.resolve(ctx, path), content_b64 = b64, append = append })
    if not r then return tk.fail(herr) end
    local verb = append and "Appended" or "Wrote"
    return tk.ok(string.format("%s %d bytes to %s", verb, r.bytes or 0, path))
  end,
}
