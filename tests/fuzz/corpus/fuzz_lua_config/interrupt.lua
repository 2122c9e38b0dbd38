-- An interrupt while AskUserQuestion waits and a child runs: the question
-- ends "[interrupted by the user]", the later call is never run, the child
-- completes "interrupted by the user", then `interrupted` and a new turn.
return {
  name = "interrupt",
  llm = {
    { expect_user_contains = "ask me",
      response = {
        content = {
          { type = "tool_use", id = "i1", name = "Agent", input = { prompt = "background work" } },
          { type = "tool_use", id = "i2", name = "AskUserQuestion", input = { question = "Proceed?" } },
          { type = "tool_use", id = "i3", name = "Bash", input = { command = "make" } },
        },
        stop_reason = "tool_use" } },
    { expect_user_contains = "background work",
      response = {
        content = { { type = "tool_use", id = "b1", name = "Bash", input = { command = "sleep 100" } } },
        stop_reason = "tool_use" } },
    { expect = function(req)
        local n = #req.messages
        return req.messages[n].content[1].text == "carry on"
      end,
      response = {
        content = { { type = "tool_use", id = "i4", name = "Exit", input = { message = "resumed" } } },
        stop_reason = "tool_use" } },
  },
  frontend = {
    { step = "send_prompt", text = "ask me something" },
    { step = "interrupt" },
    { step = "expect_event", kind = "interrupted" },
    { step = "send_prompt", text = "carry on" },
    { step = "expect_shutdown", message_contains = "resumed" },
  },
}
