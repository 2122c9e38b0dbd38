-- AskUserQuestion answered by the script, SendUserFile (with its internal
-- Read), and a client upload (with its Write).
return {
  name = "frontend_tools",
  llm = {
    { expect_user_contains = "report please",
      response = {
        content = {
          { type = "tool_use", id = "q1", name = "AskUserQuestion",
            input = { question = "Which format?", options = { { label = "md" }, { label = "txt" } } } },
          { type = "tool_use", id = "f1", name = "SendUserFile", input = { path = "out/report.md", caption = "the report" } },
        },
        stop_reason = "tool_use" } },
    { expect_user_contains = "md\nsent report.md to the user",
      response = { content = { { type = "text", text = "Sent." } }, stop_reason = "end_turn" } },
    { expect_user_contains = "uploaded",
      response = { content = { { type = "tool_use", id = "x", name = "Exit", input = { message = "bye" } } },
                   stop_reason = "tool_use" } },
  },
  tools = {
    { expect_name = "Read", expect_input = { path = "out/report.md" },
      output = { content = "# Report\n", is_error = false } },
    { expect_name = "Write", expect_input = { path = "_uploads/notes.txt", content_b64 = "aGVsbG8=" },
      output = { content = "Wrote 5 bytes to _uploads/notes.txt", is_error = false } },
  },
  frontend = {
    { step = "send_prompt", text = "report please" },
    { step = "answer_question", contains = "Which format?", answer = "md" },
    { step = "expect_event", kind = "turn_complete" },
    { step = "upload_file", name = "../notes.txt", content_b64 = "aGVsbG8=" },
    { step = "send_prompt", text = "I uploaded notes" },
    { step = "expect_shutdown", message_contains = "bye" },
  },
}
