-- Prompt-cache use and savings by model over a period.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model, requests, requests_with_cache (read or wrote the cache), cache_read_tokens, cache_write_tokens,
--   hit_rate (cache-read share of all input tokens, 0-1), cost_usd, uncached_cost_usd, cache_savings_usd
--   (negative when writes cost more than reads saved).
SELECT
  model,
  sum(requests) AS requests,
  sum(requests_with_cache) AS requests_with_cache,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(cache_write_tokens) AS cache_write_tokens,
  CAST(sum(coalesce(cache_read_tokens, 0)) AS DOUBLE) / nullif(sum(coalesce(input_tokens, 0)
    + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)), 0) AS hit_rate,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  CAST(sum(uncached_cost_usd) AS DECIMAL(38, 6)) AS uncached_cost_usd,
  CAST(sum(cache_savings_usd) AS DECIMAL(38, 6)) AS cache_savings_usd
FROM usage_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND model IS NOT NULL
GROUP BY model
HAVING sum(coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) > 0
ORDER BY cache_savings_usd DESC NULLS LAST, model
