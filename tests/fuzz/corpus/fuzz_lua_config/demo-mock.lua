-- THE DEMO MODEL IS SCRIPTED, and so are the tool results: this variant of
-- demo.lua is used where no native sandbox can run (the mock sandbox
-- executes nothing and answers from the `tools` list).
local function turn(text, call)
  local content = { { type = "text", text = text } }
  if call then content[2] = call end
  return { response = { content = content, stop_reason = call and "tool_use" or "end_turn",
                        usage = { input_tokens = 900, output_tokens = 60 } } }
end
return {
  name = "demo",
  llm = {
    turn("Let me look at the project and run its tests.",
      { type = "tool_use", id = "t1", name = "Bash", input = { command = "ls -l && ./run-tests.sh" } }),
    turn("add() subtracts instead of adding. Fixing it.",
      { type = "tool_use", id = "t2", name = "Edit",
        input = { path = "calc.sh", old_string = "$(($1 - $2))", new_string = "$(($1 + $2))" } }),
    turn("Running the tests again.",
      { type = "tool_use", id = "t3", name = "Bash", input = { command = "./run-tests.sh" } }),
    turn("Done.",
      { type = "tool_use", id = "t4", name = "Exit",
        input = { message = "Fixed add() in calc.sh (it subtracted); all tests pass." } }),
  },
  tools = {
    { expect_name = "Bash", expect_input = { command = "ls -l && ./run-tests.sh" },
      output = { content = "calc.sh\nrun-tests.sh\nFAIL: add 2 3 gave -1, want 5\n(exit code 1)", is_error = true } },
    { expect_name = "Edit", output = { content = "Replaced 1 occurrence in calc.sh", is_error = false } },
    { expect_name = "Bash", expect_input = { command = "./run-tests.sh" },
      output = { content = "all tests passed", is_error = false } },
  },
}
