-- AwaitAgent: wait for a subagent's report (tools.md 4.2, subagents.md 5).
return {
  name = "AwaitAgent",
  description = "Wait for a subagent started with Agent and return its report. Without an agent "
    .. "id, returns the first of your running subagents to finish. Each report is collected once.",
  agents = "both",
  owner = "harness",
  schema = {
    type = "object",
    properties = {
      agent = { type = "string", description = "Id of the subagent to wait for (optional)." },
    },
  },
  run = function(input, ctx)
    local agent = input.agent
    if type(agent) ~= "string" then agent = nil end
    local report, err = silo.agent.await({ agent = agent })
    if not report then
      return { content = err, is_error = true }
    end
    return report
  end,
}
