-- sse: an incremental parser for server-sent events (the WHATWG
-- "text/event-stream" format) as the LLM providers stream them. Feed it
-- body pieces in any split; it calls on_event({event, data, id}) once per
-- complete event. Handles LF, CRLF and CR line ends (also a CR at the end
-- of one piece and its LF at the start of the next), multi-line data,
-- comments (": ping"), a single optional space after the colon, and
-- fields without a colon. Unknown fields are ignored, as the format says.
-- It knows nothing of JSON: the backends decode `data` themselves.

local M = {}

-- Library functions as locals: the sandbox's string table is a read-only
-- proxy, and a lookup through it on every line is measurable.
local find, sub, byte, concat = string.find, string.sub, string.byte, table.concat

local Parser = {}
Parser.__index = Parser

-- Dispatches the event gathered so far (on a blank line).
local function dispatch(self)
	if self.ndata == 0 then
		self.event = nil
		return
	end
	local ev = {
		event = self.event or "message",
		data = concat(self.data, "\n", 1, self.ndata),
		id = self.last_id,
	}
	self.data, self.ndata, self.event = {}, 0, nil
	self.count = self.count + 1
	self.on_event(ev)
end

local function line(self, s)
	if s == "" then
		dispatch(self)
		return
	end
	local c = byte(s, 1)
	if c == 58 then -- ':' comment
		return
	end
	local field, value
	local colon = find(s, ":", 1, true)
	if colon then
		field = sub(s, 1, colon - 1)
		local start = colon + 1
		if byte(s, start) == 32 then
			start = start + 1
		end
		value = sub(s, start)
	else
		field, value = s, ""
	end
	if field == "data" then
		self.ndata = self.ndata + 1
		self.data[self.ndata] = value
	elseif field == "event" then
		self.event = value
	elseif field == "id" then
		if not find(value, "\0", 1, true) then
			self.last_id = value
		end
	elseif field == "retry" then
		if value:match("^%d+$") then
			self.retry = tonumber(value)
		end
	end
end

--- Feeds one body piece. Events complete in it are dispatched before
-- feed returns.
function Parser:feed(chunk)
	local buf = self.buf .. chunk
	local pos, n = 1, #buf
	if self.skip_lf and n > 0 then
		if byte(buf, 1) == 10 then
			pos = 2
		end
		self.skip_lf = false
	end
	-- Providers end lines with LF: without a CR in sight, a plain search
	-- for LF is much cheaper than a pattern with a character class.
	local has_cr = find(buf, "\r", pos, true) ~= nil
	while true do
		local i
		if has_cr then
			i = find(buf, "[\r\n]", pos)
		else
			i = find(buf, "\n", pos, true)
		end
		if not i then
			break
		end
		line(self, sub(buf, pos, i - 1))
		if byte(buf, i) == 13 then
			if i == n then
				-- CR at the very end: its LF may start the next piece
				self.skip_lf = true
				pos = i + 1
				break
			elseif byte(buf, i + 1) == 10 then
				i = i + 1
			end
		end
		pos = i + 1
	end
	self.buf = sub(buf, pos)
end

--- Ends the stream. Returns true when nothing was left half-done (no
-- partial line and no data waiting for its blank line); per the format an
-- unterminated event is discarded, and the caller decides whether that is
-- an error.
function Parser:finish()
	local clean = self.buf == "" and self.ndata == 0
	self.buf, self.data, self.ndata, self.event = "", {}, 0, nil
	return clean
end

--- Creates a parser; on_event(ev) gets {event = name ("message" when the
-- stream named none), data = string, id = last event id or nil}.
function M.parser(on_event)
	assert(type(on_event) == "function", "sse.parser(on_event): function expected")
	return setmetatable({
		buf = "",
		data = {},
		ndata = 0,
		event = nil,
		last_id = nil,
		retry = nil,
		skip_lf = false,
		count = 0,
		on_event = on_event,
	}, Parser)
end

--- Parses a whole body at once; returns the list of events and whether
-- the stream ended cleanly.
function M.parse_all(body)
	local out = {}
	local p = M.parser(function(ev)
		out[#out + 1] = ev
	end)
	p:feed(body)
	return out, p:finish()
end

return M
