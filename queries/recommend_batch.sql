-- Batch-inference candidates for the recommender: on-demand traffic by caller, model, Region and hour of day,
-- with what the same tokens cost at batch prices, and the signs of interactive use (streaming, tool use).
-- Parameters: $since (date, inclusive), $until (date, exclusive), $metadata_keys (up to three request-metadata
--   keys, comma-separated, that split a caller's traffic further; '' for none).
-- One row per caller, model, Region, metadata values and hour of day with any priced traffic; the candidate
--   columns are 0 (costs NULL) where none of it is a candidate.
-- Columns: principal, model, region, metadata_1, metadata_2, metadata_3 (the values of the first, second and third
--   key; '' where the request does not carry the key or fewer keys are given), hour_of_day (UTC), requests
--   (candidates), days_active (distinct days with requests in that hour), input_tokens, output_tokens, cost_usd, batch_cost_usd (over the rows below), streaming_requests
--   (the caller's streaming calls of that model in that hour, never counted as candidates), tool_use_requests
--   (non-streaming calls that stopped for tool use, not candidates either), unknown_stop_requests (candidates
--   whose log carries no stop reason: tool use cannot be ruled out), peak_minute_requests (the caller's busiest
--   minute in that hour of day).
-- Candidate rows: priced, non-streaming, not stopped for tool use, on a model, Region and day with a batch price.
-- The metadata slots are computed inside each aggregation and grouped by position: an unused slot folds to the
-- constant '' when the statement is planned, and a constant grouping key is dropped by the optimizer, so without
-- keys the map is never read and the grouping costs nothing more.
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
candidates AS (
  SELECT * FROM requests
  WHERE NOT streaming AND tool_use IS NOT TRUE AND batch_cost_usd IS NOT NULL
),
minutes AS (
  SELECT principal, model, region, metadata_1, metadata_2, metadata_3, hour_of_day, max(n) AS peak_minute_requests
  FROM (
    SELECT principal, model, region,
      CASE WHEN split_part($metadata_keys, ',', 1) = '' THEN ''
        ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 1)], '') END AS metadata_1,
      CASE WHEN split_part($metadata_keys, ',', 2) = '' THEN ''
        ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 2)], '') END AS metadata_2,
      CASE WHEN split_part($metadata_keys, ',', 3) = '' THEN ''
        ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 3)], '') END AS metadata_3,
      hour_of_day, minute, count(*) AS n
    FROM candidates GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  )
  GROUP BY 1, 2, 3, 4, 5, 6, 7
),
interactive AS (
  SELECT principal, model, region,
    CASE WHEN split_part($metadata_keys, ',', 1) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 1)], '') END AS metadata_1,
    CASE WHEN split_part($metadata_keys, ',', 2) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 2)], '') END AS metadata_2,
    CASE WHEN split_part($metadata_keys, ',', 3) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 3)], '') END AS metadata_3,
    hour_of_day,
    sum(CASE WHEN streaming THEN 1 ELSE 0 END) AS streaming_requests,
    sum(CASE WHEN NOT streaming AND tool_use IS TRUE THEN 1 ELSE 0 END) AS tool_use_requests
  FROM requests
  GROUP BY 1, 2, 3, 4, 5, 6, 7
),
grouped AS (
  SELECT principal, model, region,
    CASE WHEN split_part($metadata_keys, ',', 1) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 1)], '') END AS metadata_1,
    CASE WHEN split_part($metadata_keys, ',', 2) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 2)], '') END AS metadata_2,
    CASE WHEN split_part($metadata_keys, ',', 3) = '' THEN ''
      ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 3)], '') END AS metadata_3,
    hour_of_day,
    count(*) AS requests,
    count(DISTINCT day) AS days_active,
    sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input_tokens,
    sum(coalesce(output_tokens, 0)) AS output_tokens,
    sum(cost_usd) AS cost_usd,
    sum(batch_cost_usd) AS batch_cost_usd,
    sum(CASE WHEN tool_use IS NULL THEN 1 ELSE 0 END) AS unknown_stop_requests
  FROM candidates
  GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT
  i.principal, i.model, i.region, i.metadata_1, i.metadata_2, i.metadata_3, i.hour_of_day,
  coalesce(g.requests, 0) AS requests,
  coalesce(g.days_active, 0) AS days_active,
  coalesce(g.input_tokens, 0) AS input_tokens,
  coalesce(g.output_tokens, 0) AS output_tokens,
  g.cost_usd, g.batch_cost_usd,
  i.streaming_requests, i.tool_use_requests,
  coalesce(g.unknown_stop_requests, 0) AS unknown_stop_requests,
  coalesce(m.peak_minute_requests, 0) AS peak_minute_requests
FROM interactive i
LEFT JOIN grouped g ON g.principal = i.principal AND g.model = i.model AND g.region = i.region
  AND g.metadata_1 = i.metadata_1 AND g.metadata_2 = i.metadata_2 AND g.metadata_3 = i.metadata_3
  AND g.hour_of_day = i.hour_of_day
LEFT JOIN minutes m ON m.principal = i.principal AND m.model = i.model AND m.region = i.region
  AND m.metadata_1 = i.metadata_1 AND m.metadata_2 = i.metadata_2 AND m.metadata_3 = i.metadata_3
  AND m.hour_of_day = i.hour_of_day
ORDER BY i.principal, i.model, i.region, i.metadata_1, i.metadata_2, i.metadata_3, i.hour_of_day
