-- Nine spawns in one response: the ninth is refused. The parent ends its
-- turn without collecting; then a new spawn succeeds (slots were freed).
local calls = {}
for i = 1, 9 do
  calls[#calls + 1] = { type = "tool_use", id = "c" .. i, name = "Agent",
                        input = { prompt = "task-" .. i .. "!" } }
end
local llm = {
  { expect_user_contains = "fan out", response = { content = calls, stop_reason = "tool_use" } },
}
for i = 1, 8 do
  llm[#llm + 1] = { expect_user_contains = "task-" .. i .. "!",
    response = { content = { { type = "text", text = "done " .. i } }, stop_reason = "end_turn" } }
end
llm[#llm + 1] = { expect_user_contains = "subagent concurrency limit (8) reached",
  response = { content = { { type = "text", text = "eight running" } }, stop_reason = "end_turn" } }
llm[#llm + 1] = { expect_user_contains = "again",
  response = { content = { { type = "tool_use", id = "n1", name = "Agent", input = { prompt = "task-10!" } } },
               stop_reason = "tool_use" } }
llm[#llm + 1] = { expect_user_contains = "task-10!",
  response = { content = { { type = "text", text = "done 10" } }, stop_reason = "end_turn" } }
llm[#llm + 1] = { expect_user_contains = "Started subagent 'agent-9'",
  response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "bye" } } },
               stop_reason = "tool_use" } }
return {
  name = "concurrency",
  llm = llm,
  frontend = {
    { step = "send_prompt", text = "fan out" },
    { step = "expect_event", kind = "turn_complete" },
    { step = "send_prompt", text = "again" },
    { step = "expect_shutdown" },
  },
}
