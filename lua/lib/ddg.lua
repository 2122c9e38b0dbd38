-- ddg: parses DuckDuckGo's HTML result page (tools.md 3.6) into
-- {title, url, snippet} entries. Pure string work, no patterns that can
-- backtrack badly on hostile pages.
local M = {}

local function is_word(c)
  return c ~= "" and c:match("[A-Za-z0-9_%-]") ~= nil
end

-- Next occurrence of `class` at or after pos that is a whole word inside a
-- tag; returns its index and the index of the tag's closing '>'.
local function find_class(body, class, pos)
  while true do
    local i = body:find(class, pos, true)
    if not i then return nil end
    local after = body:sub(i + #class, i + #class)
    local lt = nil
    local j = i - 1
    while j >= 1 do
      local c = body:sub(j, j)
      if c == "<" then lt = j break end
      if c == ">" then break end
      j = j - 1
    end
    if lt and not is_word(after) then
      local gt = body:find(">", i, true)
      if not gt then return nil end
      return i, gt, lt
    end
    pos = i + 1
  end
end

local function decode_entities(s)
  s = s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&#x27;", "'")
       :gsub("&#39;", "'"):gsub("&nbsp;", " ")
  return (s:gsub("&amp;", "&"))
end

local function clean(s)
  s = s:gsub("<[^>]*>", "")
  s = decode_entities(s)
  s = s:gsub("%s+", " ")
  return (s:gsub("^ ", ""):gsub(" $", ""))
end

local function pct_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function M.parse(body, limit)
  local out = {}
  local pos = 1
  while #out < (limit or 10) do
    local i, gt, lt = find_class(body, "result__a", pos)
    if not i then break end
    local tag = body:sub(lt, gt)
    local close = body:find("</a>", gt, true)
    if not close then break end
    local title = clean(body:sub(gt + 1, close - 1))
    local href = tag:match('href="([^"]*)"') or ""
    href = decode_entities(href)
    local u = href:find("uddg=", 1, true)
    if u then
      local rest = href:sub(u + 5)
      local amp = rest:find("&", 1, true)
      href = pct_decode(amp and rest:sub(1, amp - 1) or rest)
    elseif href:sub(1, 2) == "//" then
      href = "https:" .. href
    end
    local next_a = find_class(body, "result__a", close + 4)
    local snippet = ""
    local si, sgt = find_class(body, "result__snippet", close + 4)
    if si and (not next_a or si < next_a) then
      local stop = #body + 1
      for _, t in ipairs({ "</a>", "</div>", "</td>", "</span>", "</p>" }) do
        local e = body:find(t, sgt, true)
        if e and e < stop then stop = e end
      end
      snippet = clean(body:sub(sgt + 1, stop - 1))
    end
    if title ~= "" and href ~= "" then
      out[#out + 1] = { title = title, url = href, snippet = snippet }
    end
    pos = close + 4
  end
  return out
end

return M
