-- WebFetch: GET a URL through the egress proxy (tools.md 3.5). The helper's
-- fetch obeys exactly the proxy's policy; credentials are injected there,
-- never visible here.
local tk = require("toolkit")

return {
  name = "WebFetch",
  description = "Fetch a URL with GET through the harness proxy (only allowed domains are "
    .. "reachable) and return the status and body as text. Redirects are followed.",
  agents = "both",
  owner = "sandbox",
  schema = {
    type = "object",
    properties = {
      url = { type = "string", description = "http:// or https:// URL." },
      max_bytes = { type = "integer", minimum = 1, description = "Body limit (default 1 MiB)." },
    },
    required = { "url" },
  },
  run = function(input, ctx)
    local url, err = tk.str(input, "url", "WebFetch")
    if not url then return tk.fail(err) end
    local max, merr = tk.uint(input, "max_bytes", "WebFetch")
    if merr then return tk.fail(merr) end
    local r, herr = silo.helper.fetch({ url = url, method = "GET", headers = silo.json.array({}),
                                        max_bytes = max or 1048576 })
    if not r then return tk.fail(herr) end
    local body = silo.utf8.lossy(silo.b64.decode(r.body_b64 or ""))
    local text = string.format("HTTP %d\n%s", r.status or 0, body)
    if r.truncated then
      if text:sub(-1) ~= "\n" then text = text .. "\n" end
      text = text .. "[truncated]"
    end
    return { content = text, is_error = (r.status or 0) >= 400 }
  end,
}
