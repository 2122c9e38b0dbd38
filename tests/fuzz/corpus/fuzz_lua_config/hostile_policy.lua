-- Hostile tools, as a policy could define them: each must end in a named
-- error result within its budget, and the session must go on.
return {
  tools = {
    { name = "Spin", description = "loops forever", schema = { type = "object" },
      agents = "both", owner = "harness",
      run = function() while true do end end },
    { name = "SpinCaught", description = "loops forever inside pcall", schema = { type = "object" },
      agents = "both", owner = "harness",
      run = function()
        for _ = 1, 1000 do pcall(function() while true do end end) end
        return "escaped the budget"
      end },
    { name = "Bomb", description = "allocates without end", schema = { type = "object" },
      agents = "both", owner = "harness",
      run = function()
        local t = {}
        for i = 1, 1e9 do t[i] = string.rep("x", 1024 * 1024) .. i end
      end },
    { name = "Escape", description = "reaches for the host", schema = { type = "object" },
      agents = "both", owner = "harness",
      run = function()
        local found = {}
        for _, name in ipairs({ "io", "os", "debug", "package", "dofile", "loadfile" }) do
          local ok, v = pcall(function() return _ENV[name] end)
          if ok and v ~= nil and not (name == "os" and v.execute == nil) then
            found[#found + 1] = name
          end
        end
        local ok = pcall(load, string.dump(function() end))
        local f = ok and load(string.dump(function() end)) or nil
        if f then found[#found + 1] = "binary chunks" end
        return { content = "reachable: " .. table.concat(found, ","), is_error = #found > 0 }
      end },
    { name = "Raise", description = "raises", schema = { type = "object" },
      agents = "both", owner = "harness",
      run = function() error("tool blew up on purpose") end },
  },
}
