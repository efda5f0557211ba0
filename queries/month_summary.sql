-- Spend for one month: requests, tokens, list cost, cost after discount, cache savings, and what is unpriced.
-- Parameters: $month (YYYY-MM).
-- Columns: month, requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
--   list_cost_usd, cost_usd, cache_savings_usd, priced_requests, unpriced_requests, unpriced_tokens
--   (requests and tokens with no price: their spend is unknown, not zero).
SELECT
  $month AS month,
  coalesce(sum(requests), 0) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(cache_write_tokens) AS cache_write_tokens,
  CAST(sum(list_cost_usd) AS DECIMAL(38, 6)) AS list_cost_usd,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  CAST(sum(cache_savings_usd) AS DECIMAL(38, 6)) AS cache_savings_usd,
  coalesce(sum(CASE WHEN priced THEN requests ELSE 0 END), 0) AS priced_requests,
  coalesce(sum(CASE WHEN priced THEN 0 ELSE requests END), 0) AS unpriced_requests,
  coalesce(sum(CASE WHEN priced THEN 0 ELSE coalesce(input_tokens, 0) + coalesce(output_tokens, 0)
    + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) END), 0) AS unpriced_tokens
FROM usage_costs
WHERE day >= CAST($month || '-01' AS DATE) AND day < CAST($month || '-01' AS DATE) + INTERVAL '1 month'
