-- An interrupt while a child's command really runs in the sandbox: the
-- command is cancelled (its tool_result says so), the child completes
-- "interrupted by the user", then `interrupted`, then the next prompt.
return {
  name = "interrupt_native",
  llm = {
    { expect_user_contains = "start it",
      response = { content = { { type = "tool_use", id = "s1", name = "Agent", input = { prompt = "long task" } } },
                   stop_reason = "tool_use" } },
    { expect_user_contains = "long task",
      response = { content = { { type = "tool_use", id = "c1", name = "Bash",
                                 input = { command = "echo started; sleep 60; echo finished" } } },
                   stop_reason = "tool_use" } },
    { expect_user_contains = "Started subagent",
      response = { content = { { type = "tool_use", id = "q1", name = "AskUserQuestion",
                                 input = { question = "Stop it?" } } },
                   stop_reason = "tool_use" } },
    { expect_user_contains = "carry on",
      response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "resumed" } } },
                   stop_reason = "tool_use" } },
  },
  frontend = {
    { step = "send_prompt", text = "start it" },
    { step = "expect_event", kind = "tool_use", contains = "sleep 60" },
    { step = "interrupt" },
    { step = "expect_event", kind = "interrupted" },
    { step = "send_prompt", text = "carry on" },
    { step = "expect_shutdown", message_contains = "resumed" },
  },
}
