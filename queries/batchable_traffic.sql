-- Non-streaming traffic by caller, model and hour of day, priced on demand and at batch prices: candidates
-- for batch inference (jobs that can wait).
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: principal, model, hour_of_day (UTC), days_active, requests, input_tokens, output_tokens, cost_usd,
--   batch_cost_usd and batch_savings_usd (over the requests whose model and day have a batch price; NULL
--   when none has), batchable_requests (requests with a batch price).
SELECT
  principal,
  model,
  CAST(date_part('hour', timestamp) AS BIGINT) AS hour_of_day,
  count(DISTINCT day) AS days_active,
  count(*) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  CAST(sum(batch_cost_usd) AS DECIMAL(38, 6)) AS batch_cost_usd,
  CAST(sum(cost_usd - batch_cost_usd) AS DECIMAL(38, 6)) AS batch_savings_usd,
  count(batch_cost_usd) AS batchable_requests
FROM invocation_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND streaming = false AND priced
  AND model IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY batch_savings_usd DESC NULLS LAST, requests DESC, principal, model, hour_of_day
