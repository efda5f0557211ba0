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
WITH per_minute AS (
  SELECT model, region, date_trunc('minute', timestamp) AS minute,
    count(*) AS requests,
    sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input_tokens,
    sum(coalesce(output_tokens, 0)) AS output_tokens,
    sum(cost_usd) AS cost_usd
  FROM invocation_costs
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND model IS NOT NULL
    AND price_status = 'priced'
  GROUP BY 1, 2, 3
),
ranked AS (
  -- Exact percentiles (deterministic, unlike approx_percentile_cont): rank each minute within its model and Region.
  SELECT model, region, input_tokens, output_tokens,
    count(*) OVER (PARTITION BY model, region) AS n,
    row_number() OVER (PARTITION BY model, region ORDER BY input_tokens + output_tokens) AS rank_total,
    row_number() OVER (PARTITION BY model, region ORDER BY input_tokens) AS rank_input,
    row_number() OVER (PARTITION BY model, region ORDER BY output_tokens) AS rank_output
  FROM per_minute
),
p99 AS (
  SELECT model, region,
    min(CASE WHEN rank_total * 100 >= n * 99 THEN input_tokens + output_tokens END) AS p99_minute_tokens,
    min(CASE WHEN rank_input * 100 >= n * 99 THEN input_tokens END) AS p99_minute_input_tokens,
    min(CASE WHEN rank_output * 100 >= n * 99 THEN output_tokens END) AS p99_minute_output_tokens
  FROM ranked GROUP BY 1, 2
),
by_hour AS (
  SELECT model, region, date_part('hour', minute) AS hour_of_day, sum(requests) AS requests
  FROM per_minute GROUP BY 1, 2, 3
),
shape AS (
  SELECT model, region, count(*) AS hours_of_day, min(requests) AS quietest_hour_requests,
    max(requests) AS busiest_hour_requests
  FROM by_hour GROUP BY 1, 2
)
SELECT
  m.model, m.region,
  sum(m.requests) AS requests,
  count(DISTINCT CAST(m.minute AS DATE)) AS days_active,
  count(*) AS active_minutes,
  sum(m.input_tokens) AS input_tokens,
  sum(m.output_tokens) AS output_tokens,
  min(q.p99_minute_tokens) AS p99_minute_tokens,
  min(q.p99_minute_input_tokens) AS p99_minute_input_tokens,
  min(q.p99_minute_output_tokens) AS p99_minute_output_tokens,
  max(m.input_tokens + m.output_tokens) AS peak_minute_tokens,
  min(s.hours_of_day) AS hours_of_day,
  min(s.quietest_hour_requests) AS quietest_hour_requests,
  min(s.busiest_hour_requests) AS busiest_hour_requests,
  CAST(sum(m.cost_usd) AS DECIMAL(38, 6)) AS cost_usd
FROM per_minute m
JOIN shape s ON s.model = m.model AND s.region = m.region
JOIN p99 q ON q.model = m.model AND q.region = m.region
GROUP BY m.model, m.region
ORDER BY m.model, m.region
