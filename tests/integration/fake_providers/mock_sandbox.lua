-- Fixture for the llm_* integration tests: the LLM is a real backend talking
-- to a fake provider server; only the sandbox is mocked, and it answers the
-- one Read the "-session" scenario makes.
return {
  name = "llm-fake-provider",
  tools = {
    { expect_name = "Read", expect_input = { path = "README.md" },
      output = { content = "hello from the readme", is_error = false } },
  },
}
