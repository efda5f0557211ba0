-- Batch-inference candidates for the recommender: on-demand traffic by caller, model, Region and hour of day,
-- with what the same tokens cost at batch prices, and the signs of interactive use (streaming, tool use).
-- Parameters: $since (date, inclusive), $until (date, exclusive). The request-metadata keys that split a caller's
--   traffic further are the session's (`request_groups`, from `[recommend] batch_group_by_metadata`).
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
-- Priced group by group, not request by request: the groups of `request_groups` (caller, metadata values, minute,
-- streaming, stop reason and the pricing grain of `usage_costs`) are priced at their `usage_costs` rates through
-- `token_costs`. Costs are linear in the token counts, so this equals summing `invocation_costs` exactly. One
-- pass: the hour rows and their busiest minute both roll up from the minute rows.
WITH grouped AS (
  SELECT coalesce(principal, '(unknown caller)') AS principal, metadata_1, metadata_2, metadata_3, minute, streaming,
    tool_use, day, region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens, requests,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens
  FROM request_groups
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
),
costed AS (
  SELECT g.principal, u.model, g.region, g.metadata_1, g.metadata_2, g.metadata_3, g.minute, g.day,
    CAST(date_part('hour', g.minute) AS BIGINT) AS hour_of_day, g.streaming, g.tool_use, g.requests,
    coalesce(g.input_tokens, 0) + coalesce(g.cache_read_tokens, 0) + coalesce(g.cache_write_tokens, 0) AS input_tokens,
    coalesce(g.output_tokens, 0) AS output_tokens,
    token_costs(
      coalesce(g.input_tokens, 0), coalesce(g.cache_read_tokens, 0),
      coalesce(g.cache_write_tokens, 0) - coalesce(g.cache_write_1h_tokens, 0), coalesce(g.cache_write_1h_tokens, 0),
      coalesce(g.output_tokens, 0),
      u.input_rate, u.cache_read_rate, u.cache_write_rate, u.cache_write_1h_rate, u.output_rate,
      u.batch_input_rate, u.batch_output_rate, u.discount_multiplier
    ) AS costs
  FROM grouped g
  JOIN usage_costs u ON (u.day IS NOT DISTINCT FROM g.day) AND (u.region IS NOT DISTINCT FROM g.region)
    AND (u.model_id IS NOT DISTINCT FROM g.model_id) AND (u.has_token_counts IS NOT DISTINCT FROM g.has_token_counts)
    AND (u.has_output_tokens IS NOT DISTINCT FROM g.has_output_tokens)
    AND (u.service_tier IS NOT DISTINCT FROM g.service_tier)
    AND (u.long_context_floor IS NOT DISTINCT FROM g.long_context_floor)
  -- The period again, on the rates' side, so `usage_costs` groups only the period's requests.
  WHERE u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE)
    AND u.price_status = 'priced' AND u.model IS NOT NULL
),
flagged AS (
  SELECT *, NOT streaming AND tool_use IS NOT TRUE AND costs['batch_cost_usd'] IS NOT NULL AS candidate
  FROM costed
),
per_minute AS (
  SELECT principal, model, region, metadata_1, metadata_2, metadata_3, hour_of_day, minute, day,
    sum(CASE WHEN candidate THEN requests ELSE 0 END) AS requests,
    sum(CASE WHEN streaming THEN requests ELSE 0 END) AS streaming_requests,
    sum(CASE WHEN NOT streaming AND tool_use IS TRUE THEN requests ELSE 0 END) AS tool_use_requests,
    sum(CASE WHEN candidate AND tool_use IS NULL THEN requests ELSE 0 END) AS unknown_stop_requests,
    sum(CASE WHEN candidate THEN input_tokens END) AS input_tokens,
    sum(CASE WHEN candidate THEN output_tokens END) AS output_tokens,
    sum(CASE WHEN candidate THEN costs['cost_usd'] END) AS cost_usd,
    sum(CASE WHEN candidate THEN costs['batch_cost_usd'] END) AS batch_cost_usd
  FROM flagged
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
)
SELECT
  principal, model, region, metadata_1, metadata_2, metadata_3, hour_of_day,
  sum(requests) AS requests,
  count(DISTINCT CASE WHEN requests > 0 THEN day END) AS days_active,
  coalesce(sum(input_tokens), 0) AS input_tokens,
  coalesce(sum(output_tokens), 0) AS output_tokens,
  sum(cost_usd) AS cost_usd, sum(batch_cost_usd) AS batch_cost_usd,
  sum(streaming_requests) AS streaming_requests, sum(tool_use_requests) AS tool_use_requests,
  sum(unknown_stop_requests) AS unknown_stop_requests,
  max(requests) AS peak_minute_requests
FROM per_minute
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY principal, model, region, metadata_1, metadata_2, metadata_3, hour_of_day
