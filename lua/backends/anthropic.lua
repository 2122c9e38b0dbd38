-- anthropic: the Messages API (POST /v1/messages), streamed as server-sent
-- events by default. Turns the canonical request (system, messages of
-- text / tool_use / tool_result / provider blocks, tools) into the
-- provider's body, and the event stream back into canonical blocks, a
-- stop reason and usage (with the prompt-cache read and write counts).
--
-- Prompt caching: the system prompt, the tool list and the newest message
-- get cache_control markers (3 of the 4 breakpoints the API allows), so
-- each turn re-reads the previous turn's prefix at the cache-read rate.
-- Thinking blocks come back as {type = "provider", backend = "anthropic"}
-- and are sent back verbatim (decisions 34); other backends drop them.

local http = require("llm_http")

local DEFAULT_MODEL = "claude-sonnet-4-6"
local DEFAULT_URL = "https://api.anthropic.com"
local API_VERSION = "2023-06-01"

-- Cache writes cost 1.25x input, reads 0.1x (decisions 7).
local ROWS = {
	{ key = "claude-opus", input = 15.00, output = 75.00, cache_write = 18.75, cache_read = 1.50 },
	{ key = "claude-sonnet", input = 3.00, output = 15.00, cache_write = 3.75, cache_read = 0.30 },
	{ key = "claude-haiku", input = 0.80, output = 4.00, cache_write = 1.00, cache_read = 0.08 },
}

local M = {}

local function model_of(model)
	if type(model) ~= "string" or model == "" then
		return DEFAULT_MODEL
	end
	return model
end

function M.id(model)
	return "anthropic:" .. model_of(model)
end

function M.pricing(model)
	return ROWS
end

local EPHEMERAL = { type = "ephemeral" }

local function convert_block(b)
	local t = b.type
	if t == "text" then
		if type(b.text) == "string" and b.text ~= "" then
			return { type = "text", text = b.text }
		end
	elseif t == "tool_use" then
		local input = http.nn(b.input)
		if type(input) ~= "table" then
			input = silo.json.object({})
		end
		return { type = "tool_use", id = b.id, name = b.name, input = input }
	elseif t == "tool_result" then
		local out = {
			type = "tool_result",
			tool_use_id = b.tool_use_id,
			content = type(b.content) == "string" and b.content or "",
		}
		if b.is_error == true then
			out.is_error = true
		end
		return out
	elseif t == "provider" then
		if b.backend == "anthropic" and type(b.data) == "table" then
			return b.data
		end
	end
	return nil
end

local function build_messages(req)
	local msgs = silo.json.array({})
	for _, m in ipairs(req.messages or {}) do
		local content = silo.json.array({})
		for _, b in ipairs(m.content or {}) do
			local c = convert_block(b)
			if c then
				content[#content + 1] = c
			end
		end
		if #content > 0 then
			msgs[#msgs + 1] = { role = m.role, content = content }
		end
	end
	-- Cache breakpoint on the newest block: the next turn reads it back.
	local last = msgs[#msgs]
	if last then
		local blk = last.content[#last.content]
		if blk.type == "text" or blk.type == "tool_result" or blk.type == "tool_use" then
			blk.cache_control = EPHEMERAL
		end
	end
	return msgs
end

local function build_body(req, stream)
	local body = {
		model = model_of(req.model),
		max_tokens = math.tointeger(req.max_tokens) or 8192,
		messages = build_messages(req),
		stream = stream,
	}
	if type(req.system) == "string" and req.system ~= "" then
		body.system = { { type = "text", text = req.system, cache_control = EPHEMERAL } }
	end
	local tools = req.tools or {}
	if #tools > 0 then
		body.tools = silo.json.array({})
		for i, t in ipairs(tools) do
			local d = {
				name = t.name,
				description = t.description,
				input_schema = t.input_schema,
			}
			if i == #tools then
				d.cache_control = EPHEMERAL
			end
			body.tools[i] = d
		end
	end
	return body
end

local STOP = { end_turn = true, tool_use = true, max_tokens = true }

local function stop_reason(s)
	s = http.nn(s)
	if STOP[s] then
		return s
	end
	return { other = tostring(s or "none") }
end

local function describe(body)
	local e = type(body) == "table" and body.error
	if type(e) == "table" then
		return tostring(e.type or "error") .. ": " .. tostring(e.message or "")
	end
end

-- Maps the error types the API sends inside a stream to their HTTP codes,
-- so the engine's retry rule sees "status 529" etc.
local STREAM_ERR = {
	overloaded_error = 529,
	api_error = 500,
	rate_limit_error = 429,
	invalid_request_error = 400,
	authentication_error = 401,
	permission_error = 403,
	not_found_error = 404,
	request_too_large = 413,
}

local function usage_merge(u, src)
	if type(src) ~= "table" then
		return
	end
	for _, k in ipairs({ "input_tokens", "output_tokens", "cache_read_input_tokens",
		"cache_creation_input_tokens" }) do
		local v = http.nn(src[k])
		if v ~= nil then
			u[k] = http.count(v)
		end
	end
end

local function finish_usage(u)
	return {
		input_tokens = u.input_tokens or 0,
		output_tokens = u.output_tokens or 0,
		cache_read_input_tokens = u.cache_read_input_tokens or 0,
		cache_creation_input_tokens = u.cache_creation_input_tokens or 0,
	}
end

-- Provider content block -> canonical block (nil: dropped).
local function canon(b)
	if b.type == "text" then
		if b.text ~= "" then
			return { type = "text", text = b.text }
		end
		return nil
	elseif b.type == "tool_use" then
		local input = http.nn(b.input)
		if type(input) ~= "table" then
			input = silo.json.object({})
		end
		return { type = "tool_use", id = b.id, name = b.name, input = input }
	end
	-- thinking, redacted_thinking, server tool blocks: opaque, sent back as is
	return { type = "provider", backend = "anthropic", data = b }
end

-- Joins a streamed block's pieces into the block.
local function close_block(b, p, fail)
	if b.type == "text" then
		b.text = table.concat(p.text)
	elseif b.type == "thinking" then
		b.thinking = table.concat(p.thinking)
	elseif b.type == "tool_use" or b.type == "server_tool_use" then
		local js = table.concat(p.json)
		if js == "" then
			b.input = silo.json.object({})
		else
			local input, jerr = http.decode(js)
			if type(input) ~= "table" then
				fail(http.malformed("tool input is not JSON: " .. tostring(jerr)))
			end
			b.input = input
		end
	end
end

local function complete_stream(req, opts, url, headers)
	local blocks, partial, order = {}, {}, {}
	local usage, stop, done = {}, nil, false
	local function fail(e)
		error(e, 0)
	end
	local function on_event(ev)
		if ev.event == "ping" then
			return
		end
		local d, derr = http.decode(ev.data)
		if type(d) ~= "table" then
			fail(http.malformed("event " .. ev.event .. ": " .. tostring(derr)))
		end
		local t = d.type or ev.event
		if t == "message_start" then
			if type(d.message) ~= "table" then
				fail(http.malformed("message_start without message"))
			end
			usage_merge(usage, d.message.usage)
		elseif t == "content_block_start" then
			local i = math.tointeger(d.index)
			if not i or type(d.content_block) ~= "table" then
				fail(http.malformed("content_block_start without index or block"))
			end
			blocks[i] = d.content_block
			-- pieces are joined once at the block's end (no quadratic concat)
			local cb = d.content_block
			partial[i] = { json = {}, text = { type(cb.text) == "string" and cb.text or "" },
				thinking = { type(cb.thinking) == "string" and cb.thinking or "" } }
			order[#order + 1] = i
		elseif t == "content_block_delta" then
			local i = math.tointeger(d.index)
			local p, delta = partial[i], d.delta
			if not p or type(delta) ~= "table" then
				fail(http.malformed("delta for unknown block " .. tostring(d.index)))
			end
			local dt = delta.type
			if dt == "text_delta" then
				local tp = p.text
				tp[#tp + 1] = tostring(delta.text or "")
			elseif dt == "input_json_delta" then
				local jp = p.json
				jp[#jp + 1] = tostring(delta.partial_json or "")
			elseif dt == "thinking_delta" then
				local th = p.thinking
				th[#th + 1] = tostring(delta.thinking or "")
			elseif dt == "signature_delta" then
				blocks[i].signature = delta.signature
			end
		elseif t == "content_block_stop" then
			local i = math.tointeger(d.index)
			local b, p = blocks[i], partial[i]
			if b and p then
				close_block(b, p, fail)
				partial[i] = nil
			end
		elseif t == "message_delta" then
			if type(d.delta) == "table" then
				stop = http.nn(d.delta.stop_reason) or stop
			end
			usage_merge(usage, d.usage)
		elseif t == "message_stop" then
			done = true
		elseif t == "error" then
			local e = type(d.error) == "table" and d.error or {}
			local status = STREAM_ERR[e.type] or 500
			fail(http.err("api", string.format("status %d: %s: %s (in stream)", status,
				tostring(e.type or "error"), http.clip(e.message, 300)), { status = status }))
		end
	end
	local resp, clean = http.post_sse(opts, url, headers, build_body(req, true), on_event)
	if not resp then
		return nil, clean
	end
	if resp.status < 200 or resp.status >= 300 then
		return nil, http.api_error(resp, describe)
	end
	if not done then
		if not clean then
			return nil, http.transport("stream cut before message_stop")
		end
		return nil, http.transport("stream ended before message_stop")
	end
	for i, p in pairs(partial) do -- blocks the stream never closed
		close_block(blocks[i], p, function(e) error(e, 0) end)
	end
	local content = silo.json.array({})
	table.sort(order)
	for _, i in ipairs(order) do
		local c = canon(blocks[i])
		if c then
			content[#content + 1] = c
		end
	end
	return {
		content = content,
		stop_reason = stop_reason(stop),
		usage = finish_usage(usage),
	}
end

local function complete_plain(req, opts, url, headers)
	local msg, err = http.post_json(opts, url, headers, build_body(req, false), describe)
	if not msg then
		return nil, err
	end
	if type(msg.content) ~= "table" then
		return nil, http.malformed("message without content")
	end
	local content = silo.json.array({})
	for _, b in ipairs(msg.content) do
		if type(b) ~= "table" then
			return nil, http.malformed("content block is not an object")
		end
		local c = canon(b)
		if c then
			content[#content + 1] = c
		end
	end
	local usage = {}
	usage_merge(usage, msg.usage)
	return {
		content = content,
		stop_reason = stop_reason(msg.stop_reason),
		usage = finish_usage(usage),
	}
end

function M.complete(req, opts)
	opts = opts or {}
	if not opts.api_key_env then
		return nil, http.err("config", "anthropic: no API key (set ANTHROPIC_API_KEY)")
	end
	local url = http.join(opts.base_url or DEFAULT_URL, "/v1/messages")
	local headers = {
		{ "x-api-key", silo.secret(opts.api_key_env) },
		{ "anthropic-version", API_VERSION },
		{ "content-type", "application/json" },
	}
	if opts.stream == false then
		headers[#headers + 1] = { "accept", "application/json" }
		return complete_plain(req, opts, url, headers)
	end
	headers[#headers + 1] = { "accept", "text/event-stream" }
	return complete_stream(req, opts, url, headers)
end

return M
