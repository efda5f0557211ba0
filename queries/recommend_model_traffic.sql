-- Priced on-demand Standard-tier, standard-context traffic per model, Region, price class and day, with its tokens
-- by class: what the recommender re-prices at another price row (a successor model, the global profile).
-- Flex/priority and long-context traffic is left out: the rows it would be re-priced at are not comparable.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model, region, price_class (global | regional), day, requests, input_tokens (uncached),
--   cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, cost_usd (after discount),
--   discount_multiplier.
SELECT
  model, region, price_class, day,
  sum(requests) AS requests,
  sum(coalesce(input_tokens, 0)) AS input_tokens,
  sum(coalesce(cache_read_tokens, 0)) AS cache_read_tokens,
  sum(coalesce(cache_write_tokens, 0) - coalesce(cache_write_1h_tokens, 0)) AS cache_write_5m_tokens,
  sum(coalesce(cache_write_1h_tokens, 0)) AS cache_write_1h_tokens,
  sum(coalesce(output_tokens, 0)) AS output_tokens,
  sum(cost_usd) AS cost_usd,
  min(discount_multiplier) AS discount_multiplier
FROM usage_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND price_status = 'priced'
  AND model IS NOT NULL AND routing NOT IN ('provisioned', 'custom', 'imported')
  AND price_tier = 'standard' AND NOT long_context
GROUP BY model, region, price_class, day
ORDER BY model, region, price_class, day
