-- llm_http: what every HTTP LLM backend shares — JSON decoding that never
-- raises, header lookup, retry-after parsing, the error tables of
-- decisions 3 ({class, status?, message, retry_after?}) and a streamed
-- POST that feeds an SSE parser. The engine retries on class "transport"
-- and on "api" errors whose message starts with "status 429" or
-- "status 5" or mentions "overloaded" (costs.md 5), so messages here
-- always start with "status <code>" for HTTP errors.

local sse = require("sse")

local M = {}

--- Decodes JSON text; returns value or nil, message (never raises).
function M.decode(text)
	if type(text) ~= "string" then
		return nil, "not a string"
	end
	local ok, v, err = pcall(silo.json.decode, text)
	if not ok then
		return nil, tostring(v)
	end
	if v == nil then
		return nil, tostring(err or "invalid JSON")
	end
	return v
end

function M.encode(v)
	return silo.json.encode(v)
end

--- Case-insensitive header lookup in a list of {name, value} pairs.
function M.header(headers, name)
	if type(headers) ~= "table" then
		return nil
	end
	name = string.lower(name)
	for _, h in ipairs(headers) do
		if type(h) == "table" and type(h[1]) == "string" and string.lower(h[1]) == name then
			return h[2]
		end
	end
	return nil
end

--- Seconds from a Retry-After header (delta-seconds; fractional values
-- accepted; HTTP dates are not: nil).
function M.retry_after(headers)
	local v = M.header(headers, "retry-after")
	if type(v) ~= "string" then
		return nil
	end
	local n = tonumber(string.match(v, "^%s*([%d%.]+)%s*$"))
	if n and n >= 0 then
		return n
	end
	return nil
end

-- At most n bytes of s, as valid UTF-8: provider bodies end up in error
-- messages, and the engine accepts only UTF-8 strings (a cut through a
-- multi-byte character, or a non-UTF-8 body, becomes U+FFFD).
local function clip(s, n)
	s = tostring(s or "")
	if #s > n then
		return silo.utf8.lossy(string.sub(s, 1, n)) .. "..."
	end
	return silo.utf8.lossy(s)
end
M.clip = clip

function M.err(class, message, extra)
	local e = { class = class, message = message }
	if extra then
		for k, v in pairs(extra) do
			e[k] = v
		end
	end
	return e
end

function M.transport(message)
	return M.err("transport", "transport: " .. clip(message, 300))
end

function M.malformed(message)
	return M.err("malformed", "malformed response: " .. clip(message, 300))
end

--- The error table for a non-2xx HTTP answer. describe(decoded_body)
-- returns the provider's "type: message" text, or nil.
function M.api_error(resp, describe)
	local status = resp.status
	local detail
	local body = M.decode(resp.body or "")
	if type(body) == "table" and describe then
		local ok, d = pcall(describe, body)
		if ok and d then
			detail = d
		end
	end
	if not detail then
		detail = clip(resp.body ~= "" and resp.body or "(empty body)", 300)
	end
	local hint = ""
	if status == 401 or status == 403 then
		hint = " (check the API key variable)"
	elseif status == 404 then
		hint = " (unknown model or endpoint?)"
	end
	return M.err("api", string.format("status %d: %s%s", status, clip(detail, 500), hint), {
		status = status,
		retry_after = M.retry_after(resp.headers),
	})
end

--- POSTs body (a Lua table, encoded here) and, for a 2xx answer, feeds
-- the streamed body to on_event through an SSE parser. Returns resp
-- ({status, headers, body}) plus whether the SSE stream ended cleanly,
-- or nil, err. A Lua error raised inside on_event stops the transfer and
-- comes back as the err table it raised (when it raised a table).
function M.post_sse(opts, url, headers, body, on_event)
	local raised
	local parser = sse.parser(function(ev)
		if raised then
			return
		end
		local ok, e = pcall(on_event, ev)
		if not ok then
			raised = type(e) == "table" and e or M.malformed(tostring(e))
		end
	end)
	local resp, terr = silo.http.request({
		method = "POST",
		url = url,
		headers = headers,
		body = M.encode(body),
		timeout_ms = opts.timeout_ms,
		on_chunk = function(data)
			parser:feed(data)
			if raised then
				return false -- stop the transfer
			end
			return true
		end,
	})
	if raised then
		return nil, raised
	end
	if not resp then
		return nil, M.transport(terr)
	end
	local clean = true
	if resp.status >= 200 and resp.status < 300 then
		clean = parser:finish()
		if raised then
			return nil, raised
		end
	end
	return resp, clean
end

--- POSTs JSON and returns the decoded 2xx body, or nil, err.
function M.post_json(opts, url, headers, body, describe)
	local resp, terr = silo.http.request({
		method = "POST",
		url = url,
		headers = headers,
		body = M.encode(body),
		timeout_ms = opts.timeout_ms,
	})
	if not resp then
		return nil, M.transport(terr)
	end
	if resp.status < 200 or resp.status >= 300 then
		return nil, M.api_error(resp, describe)
	end
	local v, derr = M.decode(resp.body)
	if type(v) ~= "table" then
		return nil, M.malformed("body is not a JSON object: " .. tostring(derr))
	end
	return v
end

--- "https://host/" + "/v1/x" without a doubled slash.
function M.join(base, path)
	base = string.gsub(base, "/+$", "")
	return base .. path
end

--- nil for JSON null (silo.json.null) and nil, else v.
function M.nn(v)
	if v == nil or v == silo.json.null then
		return nil
	end
	return v
end

--- Non-negative integer or 0 (usage fields).
function M.count(v)
	if math.type(v) == "integer" and v >= 0 then
		return v
	end
	if type(v) == "number" and v >= 0 and v == math.floor(v) then
		return math.tointeger(v) or 0
	end
	return 0
end

return M
