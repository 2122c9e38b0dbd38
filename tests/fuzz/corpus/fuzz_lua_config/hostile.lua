return {
  name = "hostile",
  llm = {
    { expect_user_contains = "try them",
      response = {
        content = {
          { type = "tool_use", id = "h1", name = "Spin", input = json.object({}) },
          { type = "tool_use", id = "h2", name = "SpinCaught", input = json.object({}) },
          { type = "tool_use", id = "h3", name = "Bomb", input = json.object({}) },
          { type = "tool_use", id = "h4", name = "Escape", input = json.object({}) },
          { type = "tool_use", id = "h5", name = "Raise", input = json.object({}) },
        },
        stop_reason = "tool_use" } },
    { expect_user_contains = "tool blew up on purpose",
      response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "survived" } } },
                   stop_reason = "tool_use" } },
  },
  frontend = {
    { step = "send_prompt", text = "try them" },
    { step = "expect_shutdown", message_contains = "survived" },
  },
}
