-- Spend per day over a period.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: day, requests, input_tokens, output_tokens, cost_usd, cache_savings_usd, unpriced_requests.
SELECT
  day,
  sum(requests) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  CAST(sum(cache_savings_usd) AS DECIMAL(38, 6)) AS cache_savings_usd,
  sum(CASE WHEN priced THEN 0 ELSE requests END) AS unpriced_requests
FROM usage_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY day
ORDER BY day
