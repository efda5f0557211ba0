-- Batch-inference candidates for the recommender: on-demand traffic by caller, model, Region and hour of day,
-- with what the same tokens cost at batch prices, and the signs of interactive use (streaming, tool use).
-- Parameters: $since (date, inclusive), $until (date, exclusive), $metadata_keys (up to three request-metadata
--   keys, comma-separated, that split a caller's traffic further; '' for none).
-- One row per caller, model, Region, metadata values and hour of day with any priced traffic; the candidate
--   columns are 0 (costs NULL) where none of it is a candidate.
-- Columns: principal, model, region, metadata_1, metadata_2, metadata_3 (the values of the first, second and third
--   key; '' where the request does not carry the key or fewer keys are given), hour_of_day (UTC), requests
--   (candidates), days_active (distinct days with candidates in that hour), input_tokens, output_tokens,
--   cost_usd, batch_cost_usd (over the candidates), streaming_requests
--   (the caller's streaming calls of that model in that hour, never counted as candidates), tool_use_requests
--   (non-streaming calls that stopped for tool use, not candidates either), unknown_stop_requests (candidates
--   whose log carries no stop reason: tool use cannot be ruled out), peak_minute_requests (the caller's busiest
--   minute in that hour of day).
-- Candidate rows: priced, non-streaming, not stopped for tool use, on a model, Region and day with a batch price.
-- One pass over the requests: `minutes` aggregates them per minute (every count and sum the answer needs, the
-- candidates' under CASE), and the answer sums those per hour of day, its peak the busiest minute. The metadata
-- slots are written once, inside that aggregation: an unused slot folds to the constant '' when the statement is
-- planned, and a constant grouping key is dropped by the optimizer, so without keys the map is never read.
WITH requests AS (
  SELECT
    coalesce(principal, '(unknown caller)') AS principal, model, region, request_metadata,
    CAST(date_part('hour', timestamp) AS BIGINT) AS hour_of_day,
    date_trunc('minute', timestamp) AS minute,
    day,
    coalesce(streaming, false) AS streaming,
    stop_reason IN ('tool_use', 'tool_calls') AS tool_use,
    input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, cost_usd, batch_cost_usd
  FROM invocation_costs
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND price_status = 'priced'
    AND model IS NOT NULL
),
flagged AS (
  SELECT *, NOT streaming AND tool_use IS NOT TRUE AND batch_cost_usd IS NOT NULL AS candidate FROM requests
),
minutes AS (
  SELECT principal, model, region,
    CASE WHEN split_part($metadata_keys, ',', 1) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 1)], '') END AS metadata_1,
    CASE WHEN split_part($metadata_keys, ',', 2) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 2)], '') END AS metadata_2,
    CASE WHEN split_part($metadata_keys, ',', 3) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 3)], '') END AS metadata_3,
    hour_of_day, minute, day,
    sum(CASE WHEN candidate THEN 1 ELSE 0 END) AS requests,
    sum(CASE WHEN candidate
      THEN coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)
      ELSE 0 END) AS input_tokens,
    sum(CASE WHEN candidate THEN coalesce(output_tokens, 0) ELSE 0 END) AS output_tokens,
    sum(CASE WHEN candidate THEN cost_usd END) AS cost_usd,
    sum(CASE WHEN candidate THEN batch_cost_usd END) AS batch_cost_usd,
    sum(CASE WHEN streaming THEN 1 ELSE 0 END) AS streaming_requests,
    sum(CASE WHEN NOT streaming AND tool_use IS TRUE THEN 1 ELSE 0 END) AS tool_use_requests,
    sum(CASE WHEN candidate AND tool_use IS NULL THEN 1 ELSE 0 END) AS unknown_stop_requests
  FROM flagged
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
)
SELECT principal, model, region, metadata_1, metadata_2, metadata_3, hour_of_day,
  sum(requests) AS requests,
  count(DISTINCT CASE WHEN requests > 0 THEN day END) AS days_active,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cost_usd) AS cost_usd,
  sum(batch_cost_usd) AS batch_cost_usd,
  sum(streaming_requests) AS streaming_requests,
  sum(tool_use_requests) AS tool_use_requests,
  sum(unknown_stop_requests) AS unknown_stop_requests,
  max(requests) AS peak_minute_requests
FROM minutes
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY principal, model, region, metadata_1, metadata_2, metadata_3, hour_of_day
