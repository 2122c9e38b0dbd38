-- Pins the harness id so deterministic journals are byte-identical.
return { harness_id = "feedc0ffee00" }
