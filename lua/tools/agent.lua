-- Agent: launch a subagent in the background (tools.md 4.1, subagents.md 3).
return {
  name = "Agent",
  description = "Launch a subagent for a self-contained task. It works in the same sandbox and "
    .. "workspace, cannot ask the user anything, and sees only the prompt you give it, so make "
    .. "the prompt a complete briefing. Returns at once with an id; collect the report with "
    .. "AwaitAgent. Launch several, then await them, to work in parallel.",
  agents = "both",
  owner = "harness",
  schema = {
    type = "object",
    properties = {
      prompt = { type = "string", description = "The subagent's whole briefing." },
      name = { type = "string", description = "Optional short display name." },
    },
    required = { "prompt" },
  },
  run = function(input, ctx)
    local started, err = silo.agent.spawn({ prompt = input.prompt, name = input.name })
    if not started then
      return { content = err, is_error = true }
    end
    return { content = started, is_error = false }
  end,
}
