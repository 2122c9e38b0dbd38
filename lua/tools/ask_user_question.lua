-- AskUserQuestion: ask the user and wait for the first answer (tools.md 5.1).
local function invalid(detail)
  return { content = "invalid AskUserQuestion input: " .. detail, is_error = true }
end

return {
  name = "AskUserQuestion",
  description = "Ask the user a question and wait for the answer. Options, multi-select and "
    .. "free text only shape how clients present it; the answer comes back as text.",
  agents = "top",
  owner = "frontend",
  frontends = { "interactive", "mock" },
  schema = {
    type = "object",
    properties = {
      question = { type = "string", description = "The question." },
      options = {
        type = "array",
        description = "Suggested answers.",
        items = {
          type = "object",
          properties = { label = { type = "string" }, description = { type = "string" } },
          required = { "label" },
        },
      },
      multi_select = { type = "boolean", description = "Several options may be chosen." },
      allow_free_text = { type = "boolean", description = "The user may type their own answer." },
    },
    required = { "question" },
  },
  run = function(input, ctx)
    if type(input.question) ~= "string" then
      return invalid("question must be a string")
    end
    local options = {}
    if input.options ~= nil and input.options ~= silo.json.null then
      if type(input.options) ~= "table" then
        return invalid("options must be an array")
      end
      for i, o in ipairs(input.options) do
        if type(o) ~= "table" or type(o.label) ~= "string" then
          return invalid(string.format("options[%d].label must be a string", i - 1))
        end
        if o.description ~= nil and type(o.description) ~= "string" then
          return invalid(string.format("options[%d].description must be a string", i - 1))
        end
        options[#options + 1] = { label = o.label, description = o.description or "" }
      end
    end
    for _, k in ipairs({ "multi_select", "allow_free_text" }) do
      if input[k] ~= nil and type(input[k]) ~= "boolean" then
        return invalid(k .. " must be a boolean")
      end
    end
    local answer, err = silo.frontend.ask({
      question = input.question,
      options = silo.json.array(options),
      multi_select = input.multi_select == true,
      allow_free_text = input.allow_free_text == true,
    })
    if not answer then
      return { content = err, is_error = true }
    end
    return { content = answer, is_error = false }
  end,
}
