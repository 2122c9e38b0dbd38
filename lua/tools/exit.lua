-- Exit: end a headless (or scripted) session with a final report (tools.md 5.3).
return {
  name = "Exit",
  description = "Finish the task: ends the session and shows your message to the user as the "
    .. "final report. Call it once everything is done.",
  agents = "top",
  owner = "frontend",
  frontends = { "headless", "mock" },
  schema = {
    type = "object",
    properties = {
      message = { type = "string", description = "Final report for the user." },
    },
    required = { "message" },
  },
  run = function(input, ctx)
    local message = input.message
    if type(message) ~= "string" then
      if ctx.frontend ~= "mock" then
        return { content = "the Exit tool requires a 'message' string", is_error = true }
      end
      message = nil
    end
    silo.session.shutdown({ message = message })
    return { content = "exiting", is_error = false }
  end,
}
