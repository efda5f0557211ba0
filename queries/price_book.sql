-- The price book in force: every per-token price row, USD per million tokens (`pricing list`).
-- Parameters: none.
-- Columns: model, region (* = every commercial Region), routing, tier (standard, flex, priority),
--   long_context_above (empty = standard context; N = whole requests with more than N input tokens),
--   effective_from, effective_to, input_per_mtok, output_per_mtok,
--   cache_read_per_mtok, cache_write_per_mtok, cache_write_1h_per_mtok, batch_input_per_mtok,
--   batch_output_per_mtok (empty = not offered), source, as_of.
SELECT model, region, routing, tier, long_context_above, effective_from, effective_to, input_per_mtok,
  output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, cache_write_1h_per_mtok, batch_input_per_mtok, batch_output_per_mtok, source, as_of
FROM prices
ORDER BY model, region, routing, tier, long_context_above NULLS FIRST, valid_from
