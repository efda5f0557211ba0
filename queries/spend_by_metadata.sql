-- Spend by the value of one request-metadata key (e.g. team, app, project) over a period.
-- Parameters: $key (metadata key), $since (date, inclusive), $until (date, exclusive).
-- Columns: value (`(not set)` for requests without the key), requests, input_tokens, output_tokens, cost_usd,
--   unpriced_requests.
SELECT
  coalesce(request_metadata[$key], '(not set)') AS value,
  count(*) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  sum(CASE WHEN priced THEN 0 ELSE 1 END) AS unpriced_requests
FROM invocation_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1
ORDER BY cost_usd DESC NULLS LAST, requests DESC, value
