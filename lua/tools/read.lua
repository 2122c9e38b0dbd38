-- Read: a file from the workspace or an allowlisted path (tools.md 3.1).
local tk = require("toolkit")
local CAP = 5 * 1024 * 1024

return {
  name = "Read",
  description = "Read a file. The workspace is readable and writable; allowlisted host paths "
    .. "are read-only. Long files can be paged with a byte offset and limit (at most 5 MiB per call). "
    .. "Binary files come back as lossy text.",
  agents = "both",
  owner = "sandbox",
  schema = {
    type = "object",
    properties = {
      path = { type = "string", description = "File path; relative paths are inside the workspace." },
      offset = { type = "integer", minimum = 0, description = "Byte offset to start at (default 0)." },
      limit = { type = "integer", minimum = 1, description = "Bytes to read (default and maximum 5 MiB)." },
    },
    required = { "path" },
  },
  run = function(input, ctx)
    local path, err = tk.str(input, "path", "Read")
    if not path then return tk.fail(err) end
    local offset, oerr = tk.uint(input, "offset", "Read")
    if oerr then return tk.fail(oerr) end
    local limit, lerr = tk.uint(input, "limit", "Read")
    if lerr then return tk.fail(lerr) end
    local args = { path = tk.resolve(ctx, path) }
    if offset then args.offset = offset end
    if limit then args.limit = math.min(limit, CAP) end
    local r, herr = silo.helper.read(args)
    if not r then return tk.fail(herr) end
    local text = silo.utf8.lossy(silo.b64.decode(r.content_b64 or ""))
    if r.truncated then
      if text:sub(-1) ~= "\n" then text = text .. "\n" end
      text = text .. "[truncated]"
    end
    return tk.ok(text)
  end,
}
