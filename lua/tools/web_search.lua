-- WebSearch: DuckDuckGo's HTML endpoint through the proxy (tools.md 3.6).
-- The search host must itself be allowed (html.duckduckgo.com or
-- *.duckduckgo.com).
local tk = require("toolkit")
local ddg = require("ddg")

local function enc(s)
  return (s:gsub("[^A-Za-z0-9%-_%.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

return {
  name = "WebSearch",
  description = "Search the web (DuckDuckGo) through the harness proxy; returns up to 10 "
    .. "results with title, URL and snippet. Needs html.duckduckgo.com to be an allowed domain.",
  agents = "both",
  owner = "sandbox",
  schema = {
    type = "object",
    properties = { query = { type = "string", description = "Search terms." } },
    required = { "query" },
  },
  run = function(input, ctx)
    local q, err = tk.str(input, "query", "WebSearch")
    if not q then return tk.fail(err) end
    local r, herr = silo.helper.fetch({
      url = "https://html.duckduckgo.com/html/?q=" .. enc(q), method = "GET",
      headers = { { "User-Agent", "Mozilla/5.0 (compatible; silo)" } }, max_bytes = 2097152 })
    if not r then return tk.fail(herr) end
    if r.status ~= 200 then
      return tk.fail(string.format("search failed: HTTP %d", r.status or 0))
    end
    local results = ddg.parse(silo.utf8.lossy(silo.b64.decode(r.body_b64 or "")), 10)
    if #results == 0 then return tk.ok("No results.") end
    local parts = {}
    for i, e in ipairs(results) do
      local s = string.format("%d. %s\n   %s", i, e.title, e.url)
      if e.snippet ~= "" then s = s .. "\n   " .. e.snippet end
      parts[#parts + 1] = s
    end
    return tk.ok(table.concat(parts, "\n\n"))
  end,
}
