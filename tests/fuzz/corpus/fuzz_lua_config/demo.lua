-- THE DEMO MODEL IS SCRIPTED: this fixture plays the LLM's part so the
-- README demo runs without an API key. The tool calls are real: they run
-- inside the sandbox on the demo project.
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
}
