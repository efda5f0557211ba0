-- The Provisioned Throughputs found by `ingest auto` and the traffic each served in the period: the input of the
-- recommender's unused / under-used Provisioned Throughput rule.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- One row per Provisioned Throughput in the estate, and one per provisioned-model ARN the logs call that the estate
--   does not list (name, model, model_units, commitment and status NULL: `ingest auto` has not seen it).
-- Columns: region, arn, name, model, model_units, commitment (none, 1-month or 6-month; the API's OneMonth and
--   SixMonths), status, commitment_expires_at (text, RFC 3339; NULL without a term), requests (in the period),
--   active_minutes, peak_minute_input_tokens, peak_minute_output_tokens (the busiest minute's tokens; 0 without
--   traffic).
WITH per_minute AS (
  SELECT model_id, region, date_trunc('minute', timestamp) AS minute, count(*) AS requests,
    sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input_tokens,
    sum(coalesce(output_tokens, 0)) AS output_tokens
  FROM invocations
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND routing = 'provisioned'
  GROUP BY 1, 2, 3
),
served AS (
  SELECT model_id, min(region) AS region, sum(requests) AS requests, count(*) AS active_minutes,
    max(input_tokens) AS peak_minute_input_tokens, max(output_tokens) AS peak_minute_output_tokens
  FROM per_minute GROUP BY 1
)
SELECT coalesce(pt.region, s.region) AS region, coalesce(pt.arn, s.model_id) AS arn, pt.name, pt.model,
  pt.model_units,
  CASE WHEN pt.arn IS NULL THEN NULL WHEN pt.commitment = 'OneMonth' THEN '1-month'
    WHEN pt.commitment = 'SixMonths' THEN '6-month' ELSE 'none' END AS commitment,
  pt.status,
  CAST(pt.commitment_expires_at AS VARCHAR) AS commitment_expires_at,
  coalesce(s.requests, 0) AS requests,
  coalesce(s.active_minutes, 0) AS active_minutes,
  coalesce(s.peak_minute_input_tokens, 0) AS peak_minute_input_tokens,
  coalesce(s.peak_minute_output_tokens, 0) AS peak_minute_output_tokens
FROM provisioned_throughputs pt
FULL JOIN served s ON s.model_id = pt.arn
ORDER BY 1, 2
