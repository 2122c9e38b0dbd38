-- The parent ends its turn without collecting a child that is still
-- working: the child is cancelled (subagents.md 7), before turn_complete.
return {
  name = "orphan",
  llm = {
    { expect_user_contains = "start and leave",
      response = { content = { { type = "tool_use", id = "o1", name = "Agent",
                                 input = { prompt = "long job", name = "worker" } } },
                   stop_reason = "tool_use" } },
    { expect_user_contains = "long job",
      response = { content = { { type = "tool_use", id = "w1", name = "Bash", input = { command = "step 1" } } },
                   stop_reason = "tool_use" } },
    { expect_user_contains = "Started subagent 'worker'",
      response = { content = { { type = "text", text = "not waiting" } }, stop_reason = "end_turn" } },
    { expect_user_contains = "step 1 done",
      response = { content = { { type = "tool_use", id = "w2", name = "Bash", input = { command = "step 2" } } },
                   stop_reason = "tool_use" } },
  },
  tools = {
    { expect_name = "Bash", expect_input = { command = "step 1" },
      output = { content = "step 1 done", is_error = false } },
  },
  frontend = {
    { step = "send_prompt", text = "start and leave" },
    { step = "expect_event", kind = "turn_complete" },
  },
}
