return {
  llm = {
    backend = "mock",
    pricing = { usd_per_million_input_tokens = 3.0, usd_per_million_output_tokens = 15.0 },
    quota = { max_usd = 0.5 },
  },
}
