-- openai: the Responses API (POST /v1/responses), streamed as server-sent
-- events. The request is stateless (store = false): the whole conversation
-- goes as input items each turn, and for reasoning models the encrypted
-- reasoning items are requested and passed back as provider blocks
-- (decisions 34). The final `response.completed` (or `.incomplete`)
-- event carries the whole response; output_item.done events are kept as a
-- fallback for servers whose final event has an empty output list.

local http = require("llm_http")
local oc = require("openai_common")

local DEFAULT_MODEL = "gpt-5"
local DEFAULT_URL = "https://api.openai.com"

local M = {}

local function model_of(model)
	if type(model) ~= "string" or model == "" then
		return DEFAULT_MODEL
	end
	return model
end

-- cli.md 4.3 names this backend's ids openai-responses:<model>.
function M.id(model)
	return "openai-responses:" .. model_of(model)
end

function M.pricing(model)
	return oc.ROWS
end

local function build_body(req, stream)
	local model = model_of(req.model)
	local body = {
		model = model,
		input = oc.items(req.messages, "openai"),
		max_output_tokens = math.tointeger(req.max_tokens) or 8192,
		store = false,
		stream = stream,
	}
	if type(req.system) == "string" and req.system ~= "" then
		body.instructions = req.system
	end
	local tools = oc.tools(req.tools)
	if #tools > 0 then
		body.tools = tools
	end
	if oc.is_reasoning(model) then
		body.include = { "reasoning.encrypted_content" }
	end
	return body
end

local function to_resp(r, fallback_items)
	local output = r.output
	if (type(output) ~= "table" or #output == 0) and fallback_items and #fallback_items > 0 then
		output = fallback_items
	end
	local content, calls = oc.content(output or {}, "openai")
	if not content then
		return nil, calls
	end
	return {
		content = content,
		stop_reason = oc.stop_reason(r, calls),
		usage = oc.usage(r.usage),
	}
end

local function complete_stream(req, opts, url, headers)
	local final, items = nil, {}
	local function on_event(ev)
		if ev.data == "[DONE]" then
			return
		end
		local d, derr = http.decode(ev.data)
		if type(d) ~= "table" then
			error(http.malformed("event " .. ev.event .. ": " .. tostring(derr)), 0)
		end
		local t = d.type or ev.event
		if t == "response.completed" or t == "response.incomplete" then
			if type(d.response) ~= "table" then
				error(http.malformed(t .. " without response"), 0)
			end
			final = d.response
		elseif t == "response.failed" then
			local r = type(d.response) == "table" and d.response or {}
			error(oc.stream_error(http.nn(r.error)), 0)
		elseif t == "error" then
			error(oc.stream_error(type(d.error) == "table" and d.error or d), 0)
		elseif t == "response.output_item.done" then
			if type(d.item) == "table" then
				items[#items + 1] = d.item
			end
		end
	end
	local resp, clean = http.post_sse(opts, url, headers, build_body(req, true), on_event)
	if not resp then
		return nil, clean
	end
	if resp.status < 200 or resp.status >= 300 then
		return nil, http.api_error(resp, oc.describe)
	end
	if not final then
		return nil, http.transport(clean and "stream ended before response.completed"
			or "stream cut before response.completed")
	end
	return to_resp(final, items)
end

function M.complete(req, opts)
	opts = opts or {}
	if not opts.api_key_env then
		return nil, http.err("config", "openai: no API key (set OPENAI_API_KEY)")
	end
	local url = http.join(opts.base_url or DEFAULT_URL, "/v1/responses")
	local headers = {
		{ "authorization", silo.secret(opts.api_key_env, "Bearer {secret}") },
		{ "content-type", "application/json" },
	}
	if opts.stream == false then
		local r, err = http.post_json(opts, url, headers, build_body(req, false), oc.describe)
		if not r then
			return nil, err
		end
		return to_resp(r)
	end
	headers[#headers + 1] = { "accept", "text/event-stream" }
	return complete_stream(req, opts, url, headers)
end

return M
