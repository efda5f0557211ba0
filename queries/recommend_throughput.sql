-- Per-minute token demand per model and Region, for the Provisioned Throughput / Reserved break-even: how much
-- the busiest minutes need, how steady the traffic is through the day, and what it costs on demand.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model, region, requests, days_active, active_minutes (minutes with at least one request),
--   input_tokens (uncached + cache read + cache write), output_tokens, p99_minute_tokens,
--   p99_minute_input_tokens, p99_minute_output_tokens (exact 99th percentile over active minutes: the
--   smallest value at or above 99% of them),
--   peak_minute_tokens, hours_of_day (distinct UTC hours of day with traffic), quietest_hour_requests,
--   busiest_hour_requests (requests in the quietest and busiest hour of day over the period), cost_usd (on
--   demand, after discount).
-- Priced group by group, not request by request: the groups of `request_groups` (minute and the pricing grain of
-- `usage_costs`, among others) are priced at their `usage_costs` rates through `token_costs`. Costs are linear in
-- the token counts, so this equals summing `invocation_costs` exactly.
WITH grouped AS (
  SELECT minute, day, region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(cache_write_1h_tokens) AS cache_write_1h_tokens
  FROM request_groups
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
),
per_minute AS (
  SELECT u.model, g.region, g.minute,
    sum(g.requests) AS requests,
    sum(coalesce(g.input_tokens, 0) + coalesce(g.cache_read_tokens, 0) + coalesce(g.cache_write_tokens, 0))
      AS input_tokens,
    sum(coalesce(g.output_tokens, 0)) AS output_tokens,
    sum(token_costs(
      coalesce(g.input_tokens, 0), coalesce(g.cache_read_tokens, 0),
      coalesce(g.cache_write_tokens, 0) - coalesce(g.cache_write_1h_tokens, 0), coalesce(g.cache_write_1h_tokens, 0),
      coalesce(g.output_tokens, 0),
      u.input_rate, u.cache_read_rate, u.cache_write_rate, u.cache_write_1h_rate, u.output_rate,
      u.batch_input_rate, u.batch_output_rate, u.discount_multiplier
    )['cost_usd']) AS cost_usd
  FROM grouped g
  JOIN usage_costs u ON (u.day IS NOT DISTINCT FROM g.day) AND (u.region IS NOT DISTINCT FROM g.region)
    AND (u.model_id IS NOT DISTINCT FROM g.model_id) AND (u.has_token_counts IS NOT DISTINCT FROM g.has_token_counts)
    AND (u.has_output_tokens IS NOT DISTINCT FROM g.has_output_tokens)
    AND (u.service_tier IS NOT DISTINCT FROM g.service_tier)
    AND (u.long_context_floor IS NOT DISTINCT FROM g.long_context_floor)
  -- The period again, on the rates' side, so `usage_costs` groups only the period's requests.
  WHERE u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE)
    AND u.price_status = 'priced' AND u.model IS NOT NULL
  GROUP BY 1, 2, 3
),
ranked AS (
  -- Every figure below comes from this one pass over `per_minute`, with windows rather than further aggregations
  -- of it: each reference to `per_minute` would price every request again.
  -- Exact percentiles (deterministic, unlike approx_percentile_cont): rank each minute within its model and Region.
  SELECT model, region, minute, requests, input_tokens, output_tokens, cost_usd,
    date_part('hour', minute) AS hour_of_day,
    count(*) OVER (PARTITION BY model, region) AS n,
    row_number() OVER (PARTITION BY model, region ORDER BY input_tokens + output_tokens) AS rank_total,
    row_number() OVER (PARTITION BY model, region ORDER BY input_tokens) AS rank_input,
    row_number() OVER (PARTITION BY model, region ORDER BY output_tokens) AS rank_output,
    sum(requests) OVER (PARTITION BY model, region, date_part('hour', minute)) AS hour_requests
  FROM per_minute
)
SELECT
  model, region,
  sum(requests) AS requests,
  count(DISTINCT CAST(minute AS DATE)) AS days_active,
  count(*) AS active_minutes,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  min(CASE WHEN rank_total * 100 >= n * 99 THEN input_tokens + output_tokens END) AS p99_minute_tokens,
  min(CASE WHEN rank_input * 100 >= n * 99 THEN input_tokens END) AS p99_minute_input_tokens,
  min(CASE WHEN rank_output * 100 >= n * 99 THEN output_tokens END) AS p99_minute_output_tokens,
  max(input_tokens + output_tokens) AS peak_minute_tokens,
  count(DISTINCT hour_of_day) AS hours_of_day,
  min(hour_requests) AS quietest_hour_requests,
  max(hour_requests) AS busiest_hour_requests,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd
FROM ranked
GROUP BY model, region
ORDER BY model, region
