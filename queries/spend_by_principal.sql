-- Spend by caller (IAM role/session or user) over a period.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: principal, account_id, requests, models (distinct models used), input_tokens, output_tokens, cost_usd,
--   unpriced_requests.
SELECT
  coalesce(principal, '(unknown)') AS principal,
  account_id,
  count(*) AS requests,
  count(DISTINCT model) AS models,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  sum(CASE WHEN priced THEN 0 ELSE 1 END) AS unpriced_requests
FROM invocation_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1, 2
ORDER BY cost_usd DESC NULLS LAST, requests DESC, principal, account_id
