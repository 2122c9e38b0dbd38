-- One child, spawned then awaited (subagents.md 11.1).
return {
  name = "subagent",
  llm = {
    { expect_user_contains = "delegate",
      response = {
        content = {
          { type = "tool_use", id = "a1", name = "Agent", input = { prompt = "count files", name = "counter" } },
          { type = "tool_use", id = "a2", name = "AwaitAgent", input = json.object({}) },
        },
        stop_reason = "tool_use", usage = { input_tokens = 5, output_tokens = 5 } } },
    { expect_user_contains = "count files",
      response = {
        content = { { type = "text", text = "42 files" } },
        stop_reason = "end_turn", usage = { input_tokens = 3, output_tokens = 2 } } },
    { expect_user_contains = "Subagent 'counter' (agent-1) finished.\n42 files",
      response = {
        content = { { type = "tool_use", id = "a3", name = "Exit", input = { message = "child said 42" } } },
        stop_reason = "tool_use" } },
  },
  frontend = {
    { step = "send_prompt", text = "delegate the count" },
    { step = "expect_shutdown", message_contains = "42" },
  },
}
