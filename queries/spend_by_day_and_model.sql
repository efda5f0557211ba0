-- Spend per day and model over a period: the series of the report's stacked daily chart.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: day, model (`(routing)` where the id names no base model), requests, cost_usd (after discount; NULL
--   when nothing that day and model is priced), unpriced_requests.
SELECT
  day,
  coalesce(model, '(' || routing || ')') AS model,
  sum(requests) AS requests,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  sum(CASE WHEN priced THEN 0 ELSE requests END) AS unpriced_requests
FROM usage_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1, 2
ORDER BY day, model
