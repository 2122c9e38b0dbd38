-- Two user turns: a tool round trip, then Exit on the second prompt.
return {
  name = "basic",
  llm = {
    { expect_user_contains = "count the TODOs",
      response = {
        content = {
          { type = "text", text = "Searching." },
          { type = "tool_use", id = "u1", name = "Bash", input = { command = "grep -rc TODO ." } },
        },
        stop_reason = "tool_use",
        usage = { input_tokens = 30, output_tokens = 9 } } },
    { expect_user_contains = "./a.c:3",
      response = {
        content = { { type = "text", text = "There are 3 TODOs in a.c." } },
        stop_reason = "end_turn",
        usage = { input_tokens = 45, output_tokens = 7 } } },
    { expect_user_contains = "thanks",
      response = {
        content = { { type = "tool_use", id = "u2", name = "Exit", input = { message = "3 TODOs found" } } },
        stop_reason = "tool_use",
        usage = { input_tokens = 60, output_tokens = 5 } } },
  },
  tools = {
    { expect_name = "Bash", expect_input = { command = "grep -rc TODO ." },
      output = { content = "./a.c:3", is_error = false } },
  },
  frontend = {
    { step = "send_prompt", text = "count the TODOs" },
    { step = "expect_event", kind = "turn_complete" },
    { step = "send_prompt", text = "thanks, now exit" },
    { step = "expect_shutdown", message_contains = "TODOs" },
  },
}
