-- Every Standard-tier, standard-context price row in the book, USD per token, for the recommender to re-price
-- traffic on another row (a successor model, the global profile); it re-prices only such traffic.
-- Parameters: none.
-- Columns: model, region (a Region or *), routing (global, regional or *), effective_from, effective_to (inclusive
--   and exclusive, NULL = open), input_per_token, output_per_token, cache_read_per_token,
--   cache_write_per_token, cache_write_1h_per_token (NULL = not offered).
SELECT model, region, routing, effective_from, effective_to, input_per_token, output_per_token, cache_read_per_token,
  cache_write_per_token, cache_write_1h_per_token
FROM prices
WHERE tier = 'standard' AND long_context_above IS NULL
ORDER BY model, region, routing, valid_from
