-- Spend by normalized model (and routing) over a period, most expensive first.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model (`(routing)` where the id names no base model), routing, requests, input_tokens, output_tokens,
--   cache_read_tokens, cache_write_tokens, cost_usd (after discount; NULL when nothing is priced),
--   cache_savings_usd, unpriced_requests.
SELECT
  coalesce(model, '(' || routing || ')') AS model,
  routing,
  sum(requests) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(cache_write_tokens) AS cache_write_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  CAST(sum(cache_savings_usd) AS DECIMAL(38, 6)) AS cache_savings_usd,
  sum(CASE WHEN priced THEN 0 ELSE requests END) AS unpriced_requests
FROM usage_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1, 2
ORDER BY cost_usd DESC NULLS LAST, requests DESC, model, routing
