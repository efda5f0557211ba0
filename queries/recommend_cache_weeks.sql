-- Prompt-cache use per caller, model and week, for the recommender's cache-regression rule: the share of input
-- tokens read from the cache, and what caching saved, week by week.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: principal, model, region, week (the Monday of the ISO week), requests, input_tokens (uncached + cache
--   read + cache write), cache_read_tokens, cost_usd, uncached_cost_usd (the same tokens with no caching),
--   cache_savings_usd (uncached_cost_usd - cost_usd). Only callers and models that read the cache at some point in
--   the period.
WITH weekly AS (
  SELECT coalesce(principal, '(unknown caller)') AS principal, model, region,
    CAST(date_trunc('week', day) AS DATE) AS week,
    count(*) AS requests,
    sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input_tokens,
    sum(coalesce(cache_read_tokens, 0)) AS cache_read_tokens,
    sum(cost_usd) AS cost_usd,
    sum(uncached_cost_usd) AS uncached_cost_usd,
    sum(cache_savings_usd) AS cache_savings_usd
  FROM invocation_costs
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND price_status = 'priced'
    AND model IS NOT NULL
  GROUP BY 1, 2, 3, 4
)
SELECT w.*
FROM weekly w
JOIN (SELECT principal, model, region FROM weekly GROUP BY 1, 2, 3 HAVING sum(cache_read_tokens) > 0) c
  ON c.principal = w.principal AND c.model = w.model AND c.region = w.region
ORDER BY w.principal, w.model, w.region, w.week
