-- local: any OpenAI-compatible chat-completions server (llama.cpp's
-- llama-server, vLLM, Ollama's /v1 ...), at opts.base_url (default
-- http://127.0.0.1:8080). Streams by default ("data: [DONE]"-terminated
-- SSE with stream_options.include_usage). Without --model the first entry
-- of GET /v1/models is used (decisions 13). A server that reports no
-- usage meters zero (costs.md 2). Starting and restarting a managed server
-- is the engine's job (engine/http/llm_local.c), not this script's.

local http = require("llm_http")

local DEFAULT_URL = "http://127.0.0.1:8080"

local M = {}

local resolved_model -- cached answer of /v1/models

-- Without --model the model is only known after the first /v1/models
-- call, after the id is fixed: such sessions are "local:auto".
function M.id(model)
	if type(model) == "string" and model ~= "" then
		return "local:" .. model
	end
	return "local:auto"
end

function M.pricing(model)
	return nil -- free unless --config prices it (costs.md 3)
end

local function auth_headers(opts)
	local h = { { "content-type", "application/json" } }
	if opts.api_key_env then
		h[#h + 1] = { "authorization", silo.secret(opts.api_key_env, "Bearer {secret}") }
	end
	return h
end

local function model_for(req, opts)
	if type(req.model) == "string" and req.model ~= "" then
		return req.model
	end
	if resolved_model then
		return resolved_model
	end
	local resp, terr = silo.http.request({
		method = "GET",
		url = http.join(opts.base_url or DEFAULT_URL, "/v1/models"),
		headers = auth_headers(opts),
		timeout_ms = 30000,
	})
	if not resp then
		return nil, http.transport(terr)
	end
	if resp.status ~= 200 then
		return nil, http.api_error(resp, function(b)
			return type(b.error) == "table" and tostring(b.error.message) or nil
		end)
	end
	local list = http.decode(resp.body)
	local first = type(list) == "table" and type(list.data) == "table" and list.data[1]
	if type(first) ~= "table" or type(first.id) ~= "string" then
		return nil, http.err("config", "local: no --model given and /v1/models lists no model")
	end
	resolved_model = first.id
	return resolved_model
end

local function build_messages(req)
	local msgs = silo.json.array({})
	if type(req.system) == "string" and req.system ~= "" then
		msgs[1] = { role = "system", content = req.system }
	end
	for _, m in ipairs(req.messages or {}) do
		local texts, calls = {}, silo.json.array({})
		for _, b in ipairs(m.content or {}) do
			if b.type == "text" and type(b.text) == "string" then
				texts[#texts + 1] = b.text
			elseif b.type == "tool_use" then
				local input = http.nn(b.input)
				if type(input) ~= "table" then
					input = silo.json.object({})
				end
				calls[#calls + 1] = {
					id = b.id,
					type = "function",
					["function"] = { name = b.name, arguments = silo.json.encode(input) },
				}
			elseif b.type == "tool_result" then
				msgs[#msgs + 1] = {
					role = "tool",
					tool_call_id = b.tool_use_id,
					content = type(b.content) == "string" and b.content or "",
				}
			end
		end
		if m.role == "assistant" then
			if #texts > 0 or #calls > 0 then
				local a = { role = "assistant", content = #texts > 0 and table.concat(texts, "\n")
					or silo.json.null }
				if #calls > 0 then
					a.tool_calls = calls
				end
				msgs[#msgs + 1] = a
			end
		elseif #texts > 0 then
			msgs[#msgs + 1] = { role = "user", content = table.concat(texts, "\n") }
		end
	end
	return msgs
end

local function build_body(req, model, stream)
	local body = {
		model = model,
		messages = build_messages(req),
		max_tokens = math.tointeger(req.max_tokens) or 8192,
		stream = stream,
	}
	if stream then
		body.stream_options = { include_usage = true }
	end
	if req.tools and #req.tools > 0 then
		body.tools = silo.json.array({})
		for i, t in ipairs(req.tools) do
			body.tools[i] = {
				type = "function",
				["function"] = { name = t.name, description = t.description, parameters = t.input_schema },
			}
		end
	end
	return body
end

local FINISH = { stop = "end_turn", tool_calls = "tool_use", function_call = "tool_use", length = "max_tokens" }

local function finish_reason(r, has_calls)
	r = http.nn(r)
	if FINISH[r] then
		return FINISH[r]
	end
	if r == nil then
		return has_calls and "tool_use" or "end_turn"
	end
	return { other = tostring(r) }
end

local function describe(b)
	local e = b.error
	if type(e) == "table" then
		return tostring(http.nn(e.type) or http.nn(e.code) or "error") .. ": "
			.. tostring(http.nn(e.message) or "")
	elseif type(e) == "string" then
		return e
	end
end

-- Assembled text + tool calls -> canonical content.
local function assemble(text, calls)
	local content = silo.json.array({})
	if text ~= "" then
		content[1] = { type = "text", text = text }
	end
	for _, c in ipairs(calls) do
		local args = table.concat(c.args)
		local input
		if args == "" then
			input = silo.json.object({})
		else
			local derr
			input, derr = http.decode(args)
			if type(input) ~= "table" then
				return nil, http.malformed("tool call arguments are not a JSON object: " .. tostring(derr))
			end
		end
		content[#content + 1] = { type = "tool_use", id = c.id or ("call_" .. #content), name = c.name,
			input = input }
	end
	return content
end

local function usage_of(u)
	u = type(u) == "table" and u or {}
	return {
		input_tokens = http.count(http.nn(u.prompt_tokens)),
		output_tokens = http.count(http.nn(u.completion_tokens)),
	}
end

local function complete_stream(req, opts, url, model)
	local parts, calls, finish, usage, done = {}, {}, nil, nil, false
	local function on_event(ev)
		if ev.data == "[DONE]" then
			done = true
			return
		end
		local d, derr = http.decode(ev.data)
		if type(d) ~= "table" then
			error(http.malformed("chunk: " .. tostring(derr)), 0)
		end
		if d.error then
			error(http.err("api", "status 500: " .. tostring(describe(d)) .. " (in stream)",
				{ status = 500 }), 0)
		end
		if type(http.nn(d.usage)) == "table" then
			usage = d.usage
		end
		local ch = type(d.choices) == "table" and d.choices[1]
		if type(ch) ~= "table" then
			return
		end
		finish = http.nn(ch.finish_reason) or finish
		local delta = type(ch.delta) == "table" and ch.delta or {}
		local c = http.nn(delta.content)
		if type(c) == "string" then
			parts[#parts + 1] = c
		end
		for _, tc in ipairs(type(http.nn(delta.tool_calls)) == "table" and delta.tool_calls or {}) do
			local i = (math.tointeger(http.nn(tc.index)) or 0) + 1
			local slot = calls[i]
			if not slot then
				slot = { args = {} }
				calls[i] = slot
			end
			slot.id = http.nn(tc.id) or slot.id
			local fn = type(tc["function"]) == "table" and tc["function"] or {}
			slot.name = http.nn(fn.name) or slot.name
			local a = http.nn(fn.arguments)
			if type(a) == "string" then
				slot.args[#slot.args + 1] = a
			end
		end
	end
	local resp, clean = http.post_sse(opts, url, auth_headers(opts), build_body(req, model, true), on_event)
	if not resp then
		return nil, clean
	end
	if resp.status < 200 or resp.status >= 300 then
		return nil, http.api_error(resp, describe)
	end
	if not done and not finish then
		return nil, http.transport("stream ended before [DONE]")
	end
	local list = {}
	for i = 1, #calls do
		list[i] = calls[i]
	end
	local content, err = assemble(table.concat(parts), list)
	if not content then
		return nil, err
	end
	return { content = content, stop_reason = finish_reason(finish, #list > 0), usage = usage_of(usage) }
end

function M.complete(req, opts)
	opts = opts or {}
	local model, merr = model_for(req, opts)
	if not model then
		return nil, merr
	end
	local url = http.join(opts.base_url or DEFAULT_URL, "/v1/chat/completions")
	if opts.stream ~= false then
		return complete_stream(req, opts, url, model)
	end
	local r, err = http.post_json(opts, url, auth_headers(opts), build_body(req, model, false), describe)
	if not r then
		return nil, err
	end
	local ch = type(r.choices) == "table" and r.choices[1]
	if type(ch) ~= "table" or type(ch.message) ~= "table" then
		return nil, http.malformed("no choices[1].message")
	end
	local calls = {}
	for i, tc in ipairs(type(http.nn(ch.message.tool_calls)) == "table" and ch.message.tool_calls or {}) do
		local fn = type(tc["function"]) == "table" and tc["function"] or {}
		calls[i] = { id = http.nn(tc.id), name = fn.name, args = { http.nn(fn.arguments) or "" } }
	end
	local text = http.nn(ch.message.content)
	local content, aerr = assemble(type(text) == "string" and text or "", calls)
	if not content then
		return nil, aerr
	end
	return { content = content, stop_reason = finish_reason(ch.finish_reason, #calls > 0),
		usage = usage_of(r.usage) }
end

return M
