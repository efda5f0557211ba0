-- The per-token prices of one model (`pricing show`), USD per million tokens.
-- Parameters: $model (a normalized base model id).
-- Columns: as in price_book.
SELECT model, region, routing, tier, long_context_above, effective_from, effective_to, input_per_mtok,
  output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, cache_write_1h_per_mtok, batch_input_per_mtok, batch_output_per_mtok, source, as_of
FROM prices
WHERE model = $model
ORDER BY region, routing, tier, long_context_above NULLS FIRST, valid_from
