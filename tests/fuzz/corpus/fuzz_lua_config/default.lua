-- The built-in default policy: exactly the reference semantics of the static
-- keys (cli.md 3.2). Nothing is readable beyond the fixed OS baseline, no
-- domain is reachable, no credential is injected, no quota is set, and no
-- hook changes the built-in decisions. Copy it as a starting point; see
-- docs/policy.md for every key.
return {
  read_allowlist = {},   -- paths the sandbox may read (absolute or ~/...)
  allowed_domains = {},  -- "host.example" or "*.example" (also matches example)
  tunnel_domains = {},   -- allowlisted hosts passed through without interception
  credentials = {},      -- { host =, header =, env =, format = "{secret}" }
  placeholders = {},     -- { env =, host =, header =, method =, path = }
  quota = {},            -- { tokens =, usd = }
  tools = {},            -- extra tool tables (docs/lua-api.md)
  disable_tools = {},    -- tool names to remove
  review_rules = {},     -- extra unlock-review rule files
}
