-- Prompt-cache use per caller, model and week, for the recommender's cache-regression rule: the share of input
-- tokens read from the cache, and what caching saved, week by week.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: principal, model, region, week (the Monday of the ISO week), requests, input_tokens (uncached + cache
--   read + cache write), cache_read_tokens, cost_usd, uncached_cost_usd (the same tokens with no caching),
--   cache_savings_usd (uncached_cost_usd - cost_usd). Only callers and models that read the cache at some point in
--   the period.
-- Priced group by group, not request by request: the groups of `request_groups` (caller, day and the pricing grain
-- of `usage_costs`, among others) are priced at their `usage_costs` rates through `token_costs`. Costs are linear
-- in the token counts, so this equals summing `invocation_costs` exactly.
WITH grouped AS (
  SELECT coalesce(principal, '(unknown caller)') AS principal, CAST(date_trunc('week', day) AS DATE) AS week,
    day, region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(cache_write_1h_tokens) AS cache_write_1h_tokens
  FROM request_groups
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
),
costed AS (
  SELECT g.principal, u.model, g.region, g.week, g.requests, g.input_tokens, g.cache_read_tokens,
    g.cache_write_tokens,
    token_costs(
      coalesce(g.input_tokens, 0), coalesce(g.cache_read_tokens, 0),
      coalesce(g.cache_write_tokens, 0) - coalesce(g.cache_write_1h_tokens, 0), coalesce(g.cache_write_1h_tokens, 0),
      coalesce(g.output_tokens, 0),
      u.input_rate, u.cache_read_rate, u.cache_write_rate, u.cache_write_1h_rate, u.output_rate,
      u.batch_input_rate, u.batch_output_rate, u.discount_multiplier
    ) AS costs
  FROM grouped g
  JOIN usage_costs u ON (u.day IS NOT DISTINCT FROM g.day) AND (u.region IS NOT DISTINCT FROM g.region)
    AND (u.model_id IS NOT DISTINCT FROM g.model_id) AND (u.has_token_counts IS NOT DISTINCT FROM g.has_token_counts)
    AND (u.has_output_tokens IS NOT DISTINCT FROM g.has_output_tokens)
    AND (u.service_tier IS NOT DISTINCT FROM g.service_tier)
    AND (u.long_context_floor IS NOT DISTINCT FROM g.long_context_floor)
  -- The period again, on the rates' side, so `usage_costs` groups only the period's requests.
  WHERE u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE)
    AND u.price_status = 'priced' AND u.model IS NOT NULL
),
weekly AS (
  SELECT principal, model, region, week,
    sum(requests) AS requests,
    sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input_tokens,
    sum(coalesce(cache_read_tokens, 0)) AS cache_read_tokens,
    sum(costs['cost_usd']) AS cost_usd,
    sum(costs['uncached_cost_usd']) AS uncached_cost_usd,
    sum(costs['cache_savings_usd']) AS cache_savings_usd
  FROM costed
  GROUP BY 1, 2, 3, 4
),
flagged AS (
  -- A window over the weekly rows, not a second aggregation: each reference to `weekly` would read and price the
  -- requests again.
  SELECT w.*, sum(w.cache_read_tokens) OVER (PARTITION BY w.principal, w.model, w.region) AS scope_cache_read_tokens
  FROM weekly w
)
SELECT principal, model, region, week, requests, input_tokens, cache_read_tokens, cost_usd, uncached_cost_usd,
  cache_savings_usd
FROM flagged
WHERE scope_cache_read_tokens > 0
ORDER BY principal, model, region, week
