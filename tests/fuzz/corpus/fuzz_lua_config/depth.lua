-- A chain agent-0 -> 1 -> 2 -> 3; agent-3 is refused a fourth level.
local function spawn_and_wait(id, prompt)
  return { content = {
      { type = "tool_use", id = id .. "s", name = "Agent", input = { prompt = prompt } },
      { type = "tool_use", id = id .. "w", name = "AwaitAgent", input = json.object({}) } },
    stop_reason = "tool_use" }
end
local function say(text)
  return { content = { { type = "text", text = text } }, stop_reason = "end_turn" }
end
return {
  name = "depth",
  llm = {
    { expect_user_contains = "start chain", response = spawn_and_wait("d0", "level1") },
    { expect_user_contains = "level1", response = spawn_and_wait("d1", "level2") },
    { expect_user_contains = "level2", response = spawn_and_wait("d2", "level3") },
    { expect_user_contains = "level3", response = {
        content = { { type = "tool_use", id = "d3s", name = "Agent", input = { prompt = "level4" } } },
        stop_reason = "tool_use" } },
    { expect_user_contains = "subagent depth limit (3) reached", response = say("L3-DONE") },
    { expect_user_contains = "finished.\nL3-DONE", response = say("L2-DONE") },
    { expect_user_contains = "finished.\nL2-DONE", response = say("L1-DONE") },
    { expect_user_contains = "finished.\nL1-DONE", response = {
        content = { { type = "tool_use", id = "end", name = "Exit", input = { message = "chain done" } } },
        stop_reason = "tool_use" } },
  },
  frontend = {
    { step = "send_prompt", text = "start chain" },
    { step = "expect_shutdown", message_contains = "chain done" },
  },
}
