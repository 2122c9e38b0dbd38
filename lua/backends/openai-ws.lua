-- openai-ws: the OpenAI Realtime API over a WebSocket (silo.ws), text only.
-- Each complete() opens one connection (wss://.../v1/realtime?model=M),
-- configures the session (instructions, tools, text output, token cap),
-- replays the conversation as conversation.item.create events, asks for one
-- response and reads server events until response.done, whose usage is
-- what gets metered (costs.md 2). The whole call is capped at 300 s
-- (costs.md 5). Price rows are shared with the openai backend.

local http = require("llm_http")
local oc = require("openai_common")

local DEFAULT_MODEL = "gpt-realtime"
local DEFAULT_URL = "wss://api.openai.com"
local CALL_CAP_MS = 300000

local M = {}

local function model_of(model)
	if type(model) ~= "string" or model == "" then
		return DEFAULT_MODEL
	end
	return model
end

function M.id(model)
	return "openai-ws:" .. model_of(model)
end

function M.pricing(model)
	return oc.ROWS
end

local function ws_url(base, model)
	base = base or DEFAULT_URL
	base = string.gsub(base, "^https://", "wss://")
	base = string.gsub(base, "^http://", "ws://")
	local enc = string.gsub(model, "[^%w%-%._~]", function(c)
		return string.format("%%%02X", string.byte(c))
	end)
	return http.join(base, "/v1/realtime?model=" .. enc)
end

-- "websocket upgrade refused: HTTP 401 {...}" -> an api error with status.
local function connect_error(msg)
	msg = tostring(msg)
	local status, rest = string.match(msg, "upgrade refused: HTTP (%d+)%s*(.*)$")
	if status then
		status = math.tointeger(tonumber(status))
		local detail = oc.describe(http.decode(rest) or {}) or http.clip(rest, 300)
		return http.err("api", string.format("status %d: %s", status, detail), { status = status })
	end
	return http.transport(msg)
end

function M.complete(req, opts)
	opts = opts or {}
	if not opts.api_key_env then
		return nil, http.err("config", "openai-ws: no API key (set OPENAI_API_KEY)")
	end
	local model = model_of(req.model)
	local url = ws_url(opts.base_url, model)
	if not string.match(url, "^wss?://") then
		return nil, http.err("config", "openai-ws: base URL must be ws://, wss://, http:// or https://")
	end
	local started = os.clock()
	local conn, cerr = silo.ws.connect({
		url = url,
		headers = { { "authorization", silo.secret(opts.api_key_env, "Bearer {secret}") } },
		timeout_ms = 30000,
	})
	if not conn then
		return nil, connect_error(cerr)
	end
	local function send(ev)
		local ok, err = conn:send(silo.json.encode(ev))
		if not ok then
			error(http.transport(err), 0)
		end
	end
	local ok, result, rerr = pcall(function()
		local session = {
			type = "realtime",
			model = model,
			output_modalities = { "text" },
			max_output_tokens = math.tointeger(req.max_tokens) or 4096,
		}
		if type(req.system) == "string" and req.system ~= "" then
			session.instructions = req.system
		end
		local tools = oc.tools(req.tools)
		if #tools > 0 then
			session.tools = tools
			session.tool_choice = "auto"
		end
		send({ type = "session.update", session = session })
		for _, item in ipairs(oc.items(req.messages, "openai-ws")) do
			send({ type = "conversation.item.create", item = item })
		end
		send({ type = "response.create" })
		while true do
			local left = CALL_CAP_MS - math.floor((os.clock() - started) * 1000)
			if left <= 0 then
				return nil, http.transport("realtime call exceeded 300 s")
			end
			local text, err = conn:receive(left)
			if not text then
				if err == "timeout" then
					return nil, http.transport("realtime call exceeded 300 s")
				end
				return nil, http.transport("connection ended before response.done: " .. tostring(err))
			end
			local ev, derr = http.decode(text)
			if type(ev) ~= "table" then
				return nil, http.malformed("server event: " .. tostring(derr))
			end
			if ev.type == "error" then
				return nil, oc.stream_error(ev.error)
			elseif ev.type == "response.done" then
				local r = ev.response
				if type(r) ~= "table" then
					return nil, http.malformed("response.done without response")
				end
				if r.status == "failed" then
					local d = type(r.status_details) == "table" and r.status_details or {}
					return nil, oc.stream_error(http.nn(d.error) or { code = "server_error",
						message = "response failed" })
				end
				local content, calls = oc.content(r.output or {}, "openai-ws")
				if not content then
					return nil, calls
				end
				local stop
				local d = type(r.status_details) == "table" and r.status_details or {}
				if r.status == "incomplete" and (d.reason == "max_output_tokens"
					or d.reason == "max_tokens") then
					stop = "max_tokens"
				elseif calls then
					stop = "tool_use"
				elseif r.status == "completed" or r.status == nil then
					stop = "end_turn"
				else
					stop = { other = tostring(http.nn(d.reason) or r.status) }
				end
				return { content = content, stop_reason = stop, usage = oc.usage(r.usage) }
			end
		end
	end)
	conn:close()
	if not ok then
		if type(result) == "table" then
			return nil, result
		end
		return nil, http.malformed(tostring(result))
	end
	return result, rerr
end

return M
