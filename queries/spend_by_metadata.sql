-- Spend by the value of one request-metadata key (e.g. team, app, project) over a period.
-- Parameters: $key (metadata key), $since (date, inclusive), $until (date, exclusive).
-- Columns: value (`(not set)` for requests without the key), requests, input_tokens, output_tokens, cost_usd,
--   unpriced_requests.
-- Priced group by group, not request by request: the requests are first summed by the columns shown plus the
-- pricing grain of `usage_costs` (day, region, model_id, service_tier, long_context_floor, has_token_counts,
-- has_output_tokens, from `invocation_keys`), and each group's sums are priced at its `usage_costs`
-- rates through `token_costs`. Costs are linear in the token counts, so this equals summing `invocation_costs`
-- exactly, at a fraction of the work (per-request pricing was most of this query's time at 10M records).
WITH grouped AS (
  SELECT coalesce(request_metadata[$key], '(not set)') AS value,
    day, region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens,
    count(*) AS requests,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(cache_write_1h_tokens) AS cache_write_1h_tokens
  FROM invocation_keys
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
),
costed AS (
  SELECT g.value, g.requests, g.input_tokens, g.output_tokens, u.priced,
    token_costs(
      coalesce(g.input_tokens, 0), coalesce(g.cache_read_tokens, 0),
      coalesce(g.cache_write_tokens, 0) - coalesce(g.cache_write_1h_tokens, 0), coalesce(g.cache_write_1h_tokens, 0),
      coalesce(g.output_tokens, 0),
      u.input_rate, u.cache_read_rate, u.cache_write_rate, u.cache_write_1h_rate, u.output_rate,
      u.batch_input_rate, u.batch_output_rate, u.discount_multiplier
    )['cost_usd'] AS cost_usd
  FROM grouped g
  JOIN usage_costs u ON (u.day IS NOT DISTINCT FROM g.day) AND (u.region IS NOT DISTINCT FROM g.region)
    AND (u.model_id IS NOT DISTINCT FROM g.model_id) AND (u.has_token_counts IS NOT DISTINCT FROM g.has_token_counts)
    AND (u.has_output_tokens IS NOT DISTINCT FROM g.has_output_tokens)
    AND (u.service_tier IS NOT DISTINCT FROM g.service_tier)
    AND (u.long_context_floor IS NOT DISTINCT FROM g.long_context_floor)
  -- The period again, on the rates' side, so `usage_costs` groups only the period's requests.
  WHERE u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE)
)
SELECT
  value,
  sum(requests) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd,
  sum(CASE WHEN priced THEN 0 ELSE requests END) AS unpriced_requests
FROM costed
GROUP BY 1
ORDER BY cost_usd DESC NULLS LAST, requests DESC, value
