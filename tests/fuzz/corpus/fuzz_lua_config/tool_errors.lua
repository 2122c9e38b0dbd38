-- Tool-level failures are results the model reads; the session goes on.
return {
  name = "tool_errors",
  llm = {
    { expect_user_contains = "break things",
      response = {
        content = {
          { type = "tool_use", id = "e1", name = "Frobnicate", input = {} },
          { type = "tool_use", id = "e2", name = "Bash", input = { command = "false" } },
          { type = "tool_use", id = "e3", name = "AskUserQuestion", input = { question = 7 } },
          { type = "tool_use", id = "e4", name = "Agent", input = { prompt = "" } },
          { type = "tool_use", id = "e5", name = "AwaitAgent", input = json.object({}) },
        },
        stop_reason = "tool_use",
        usage = { input_tokens = 10, output_tokens = 10 } } },
    { expect = function(req)
        -- every result of the previous round is an error, in call order
        local last = req.messages[#req.messages].content
        return #last == 5 and last[1].is_error and last[2].is_error and last[3].is_error
          and last[4].is_error and last[5].is_error
      end,
      response = {
        content = { { type = "tool_use", id = "e6", name = "Exit", input = { message = "done" } } },
        stop_reason = "tool_use" } },
  },
  tools = {
    { expect_name = "Bash", expect_input = { command = "false" },
      output = { content = "(exit code 1)", is_error = true } },
  },
  frontend = {
    { step = "send_prompt", text = "break things" },
    { step = "expect_shutdown", message_contains = "done" },
  },
}
