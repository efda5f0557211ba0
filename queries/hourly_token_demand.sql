-- Token demand per model, Region and hour: the input of the provisioned-throughput break-even.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model, region, hour (UTC), requests, input_tokens (uncached + cache read + cache write),
--   output_tokens, peak_minute_tokens (input + output in the busiest minute of the hour), cost_usd.
WITH per_minute AS (
  SELECT
    model, region, date_trunc('hour', timestamp) AS hour, date_trunc('minute', timestamp) AS minute,
    count(*) AS requests,
    sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input_tokens,
    sum(coalesce(output_tokens, 0)) AS output_tokens,
    sum(cost_usd) AS cost_usd
  FROM invocation_costs
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND model IS NOT NULL
  GROUP BY 1, 2, 3, 4
)
SELECT
  model, region, hour,
  sum(requests) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  max(input_tokens + output_tokens) AS peak_minute_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd
FROM per_minute
GROUP BY model, region, hour
ORDER BY model, region, hour
