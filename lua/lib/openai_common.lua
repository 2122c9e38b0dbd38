-- openai_common: what the two OpenAI backends (openai over HTTPS, openai-ws
-- over the Realtime WebSocket) share: the price rows (decisions 7), the
-- canonical conversation as Responses / Realtime "items", the tool list,
-- output items back to canonical blocks, stop reasons and usage.
--
-- Reasoning items (and any output item we do not model) travel as opaque
-- {type = "provider", backend = "openai", data = item} blocks and are sent
-- back verbatim on the next turn (decisions 34); other backends drop them.

local http = require("llm_http")

local M = {}

-- costs.md 3; "-mini" rows precede their parents (first substring wins).
M.ROWS = {
	{ key = "gpt-4o-mini", input = 0.15, output = 0.60 },
	{ key = "gpt-4o", input = 2.50, output = 10.00 },
	{ key = "gpt-4.1-mini", input = 0.40, output = 1.60 },
	{ key = "gpt-4.1", input = 2.00, output = 8.00 },
	{ key = "gpt-5", input = 1.25, output = 10.00 },
	{ key = "o3", input = 2.00, output = 8.00 },
}

--- Whether a model returns reasoning items that must be passed back.
function M.is_reasoning(model)
	return string.match(model, "^o%d") ~= nil or string.find(model, "gpt-5", 1, true) ~= nil
end

local function input_text(texts)
	local parts = silo.json.array({})
	for _, t in ipairs(texts) do
		parts[#parts + 1] = { type = "input_text", text = t }
	end
	return parts
end

--- Canonical messages -> a list of input items. `out_text_type` is the
-- content type of assistant text ("output_text" for Responses and the GA
-- Realtime API).
function M.items(messages, backend)
	local items = silo.json.array({})
	for _, m in ipairs(messages or {}) do
		local texts = {}
		local function flush_user()
			if #texts > 0 then
				items[#items + 1] = { type = "message", role = "user", content = input_text(texts) }
				texts = {}
			end
		end
		for _, b in ipairs(m.content or {}) do
			local t = b.type
			if t == "text" and type(b.text) == "string" and b.text ~= "" then
				if m.role == "assistant" then
					items[#items + 1] = {
						type = "message",
						role = "assistant",
						content = { { type = "output_text", text = b.text } },
					}
				else
					texts[#texts + 1] = b.text
				end
			elseif t == "tool_use" then
				local input = http.nn(b.input)
				if type(input) ~= "table" then
					input = silo.json.object({})
				end
				items[#items + 1] = {
					type = "function_call",
					call_id = b.id,
					name = b.name,
					arguments = silo.json.encode(input),
				}
			elseif t == "tool_result" then
				flush_user()
				local out = type(b.content) == "string" and b.content or ""
				if b.is_error == true and out == "" then
					out = "error"
				end
				items[#items + 1] = { type = "function_call_output", call_id = b.tool_use_id, output = out }
			elseif t == "provider" and b.backend == backend and type(b.data) == "table" then
				flush_user()
				items[#items + 1] = b.data
			end
		end
		flush_user()
	end
	return items
end

--- Canonical tool defs -> function tools (Responses / Realtime shape).
function M.tools(tools)
	local out = silo.json.array({})
	for _, t in ipairs(tools or {}) do
		out[#out + 1] = {
			type = "function",
			name = t.name,
			description = t.description,
			parameters = t.input_schema,
		}
	end
	return out
end

--- Output items -> canonical content; returns content, saw_function_call
-- or nil, err.
function M.content(output, backend)
	local content = silo.json.array({})
	local calls = false
	if type(output) ~= "table" then
		return nil, http.malformed("response without output list")
	end
	for _, item in ipairs(output) do
		if type(item) ~= "table" then
			return nil, http.malformed("output item is not an object")
		end
		if item.type == "message" then
			for _, part in ipairs(type(item.content) == "table" and item.content or {}) do
				local text = part.text or part.refusal or part.transcript
				if type(text) == "string" and text ~= "" then
					content[#content + 1] = { type = "text", text = text }
				end
			end
		elseif item.type == "function_call" then
			local args = http.nn(item.arguments) or ""
			local input
			if args == "" then
				input = silo.json.object({})
			else
				local derr
				input, derr = http.decode(args)
				if type(input) ~= "table" then
					return nil, http.malformed("function_call arguments are not a JSON object: "
						.. tostring(derr))
				end
			end
			calls = true
			content[#content + 1] = {
				type = "tool_use",
				id = item.call_id or item.id,
				name = item.name,
				input = input,
			}
		else
			content[#content + 1] = { type = "provider", backend = backend, data = item }
		end
	end
	return content, calls
end

--- Status / incomplete reason -> canonical stop reason.
function M.stop_reason(resp, calls)
	local status = http.nn(resp.status)
	local inc = type(resp.incomplete_details) == "table" and http.nn(resp.incomplete_details.reason)
	if status == "incomplete" and (inc == "max_output_tokens" or inc == "max_tokens") then
		return "max_tokens"
	end
	if calls then
		return "tool_use"
	end
	if status == nil or status == "completed" then
		return "end_turn"
	end
	return { other = tostring(inc or status) }
end

function M.usage(u)
	u = type(u) == "table" and u or {}
	return {
		input_tokens = http.count(http.nn(u.input_tokens)),
		output_tokens = http.count(http.nn(u.output_tokens)),
	}
end

--- "type: message" from an {error = {...}} body.
function M.describe(body)
	local e = type(body) == "table" and body.error
	if type(e) == "table" then
		local code = http.nn(e.code) or http.nn(e.type) or "error"
		return tostring(code) .. ": " .. tostring(http.nn(e.message) or "")
	end
end

-- Error codes inside a stream -> HTTP status for the retry rule.
local CODE_STATUS = {
	server_error = 500,
	rate_limit_exceeded = 429,
	insufficient_quota = 429,
	invalid_api_key = 401,
	invalid_request_error = 400,
	model_not_found = 404,
	overloaded = 529,
	server_is_overloaded = 529,
}

--- Error table for an error reported inside a 200 stream / WS session.
function M.stream_error(e)
	e = type(e) == "table" and e or {}
	local code = tostring(http.nn(e.code) or http.nn(e.type) or "error")
	local status = CODE_STATUS[code] or 500
	return http.err("api", string.format("status %d: %s: %s (in stream)", status, code,
		http.clip(http.nn(e.message), 300)), { status = status })
end

return M
