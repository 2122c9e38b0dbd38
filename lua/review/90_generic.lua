-- Review rules that look at the change itself rather than the name:
-- files that became executable and symlinks that leave the workspace.
local function exec_bits(mode)
	return mode ~= nil and (mode & 73) ~= 0 -- 0111
end

local function escapes(target)
	if target:sub(1, 1) == "/" then return true end
	local depth = 0
	for seg in target:gmatch("[^/]+") do
		if seg == ".." then
			depth = depth - 1
			if depth < 0 then return true end
		elseif seg ~= "." then
			depth = depth + 1
		end
	end
	return false
end

return {
	{ match = function(c)
		if c.new_kind ~= "file" or not exec_bits(c.new_mode) then return nil end
		if c.old_kind == "file" and exec_bits(c.old_mode) then return nil end
		return "became executable (it was not before the session)"
	  end },
	{ match = function(c)
		if c.new_kind ~= "symlink" or c.new_target == nil then return nil end
		-- the link's own directory depth counts: sub/x -> ../../etc
		local depth = select(2, c.path:gsub("/", "/"))
		local t = c.new_target
		if t:sub(1, 1) ~= "/" then t = string.rep("d/", depth) .. t end
		if escapes(t) then
			return "symlink points outside the workspace (" .. c.new_target .. ")"
		end
		return nil
	  end },
}
