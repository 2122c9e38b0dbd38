-- toolkit: input validation and path rules shared by the shipped tools
-- (spec/tools.md 1.3). Messages are part of the model-facing contract.
local M = {}

function M.fail(msg)
  return { content = msg, is_error = true }
end

function M.ok(text)
  return { content = text, is_error = false }
end

-- A required string field; returns value or nil, message.
function M.str(input, field, tool)
  local v = input[field]
  if type(v) ~= "string" then
    return nil, string.format('%s: missing required string field "%s"', tool, field)
  end
  return v
end

-- An optional non-negative integer field (json.null counts as absent).
function M.uint(input, field, tool)
  local v = input[field]
  if v == nil or v == silo.json.null then
    return nil
  end
  if math.type(v) == "float" and v == math.floor(v) and v >= 0 and v < 2^53 then
    v = math.tointeger(v)
  end
  if math.type(v) ~= "integer" or v < 0 then
    return nil, string.format('%s: field "%s" must be a non-negative integer', tool, field)
  end
  return v
end

-- Anything but true counts as false.
function M.bool(input, field)
  return input[field] == true
end

-- Relative paths are joined to the workspace mount; absolute ones pass as given.
function M.resolve(ctx, path)
  if path:sub(1, 1) == "/" then
    return path
  end
  local ws = ctx.workspace or "/workspace"
  if path == "" or path == "." then
    return ws
  end
  if ws:sub(-1) == "/" then
    return ws .. path
  end
  return ws .. "/" .. path
end

return M
