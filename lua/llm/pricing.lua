-- pricing: the built-in price table of costs.md 3 as data, in US dollars
-- per million tokens. Rows are scanned top to bottom and the first row
-- whose key is a case-sensitive substring of the model name wins, so the
-- "-mini" rows come before their parents. Hand-entered and perishable:
-- edit this file (no rebuild needed) or price a backend with --config.
--
-- The backends carry the same rows (anthropic.lua for claude-*,
-- lib/openai_common.lua for the OpenAI models); the unit test
-- tests/unit/llm checks that they agree with this table, row for row.
-- cache_write / cache_read price Anthropic's prompt-cache tokens
-- (decisions 7: 1.25x and 0.1x the input rate).
return {
	{ key = "claude-opus", input = 15.00, output = 75.00, cache_write = 18.75, cache_read = 1.50 },
	{ key = "claude-sonnet", input = 3.00, output = 15.00, cache_write = 3.75, cache_read = 0.30 },
	{ key = "claude-haiku", input = 0.80, output = 4.00, cache_write = 1.00, cache_read = 0.08 },
	{ key = "gpt-4o-mini", input = 0.15, output = 0.60 },
	{ key = "gpt-4o", input = 2.50, output = 10.00 },
	{ key = "gpt-4.1-mini", input = 0.40, output = 1.60 },
	{ key = "gpt-4.1", input = 2.00, output = 8.00 },
	{ key = "gpt-5", input = 1.25, output = 10.00 },
	{ key = "o3", input = 2.00, output = 8.00 },
}
