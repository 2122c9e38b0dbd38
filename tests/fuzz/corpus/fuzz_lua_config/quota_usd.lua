-- costs.md 8: one turn overshoots the dollar quota; the next is refused.
return {
  name = "quota_usd",
  llm = {
    { response = {
        content = { { type = "text", text = "Working on it." } },
        stop_reason = "end_turn",
        usage = { input_tokens = 120000, output_tokens = 30000 } } },
  },
}
