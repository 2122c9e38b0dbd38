-- Headless: the model answers in text first, gets the reminder, then exits.
return {
  name = "headless",
  llm = {
    { expect_user_contains = "Tidy the repo.",
      response = {
        content = { { type = "text", text = "Looking around." } },
        stop_reason = "end_turn",
        usage = { input_tokens = 100, output_tokens = 20 } } },
    { expect_user_contains = "Nobody is interacting",
      response = {
        content = { { type = "tool_use", id = "x1", name = "Exit", input = { message = "Repo tidied." } } },
        stop_reason = "tool_use",
        usage = { input_tokens = 150, output_tokens = 10 } } },
  },
}
