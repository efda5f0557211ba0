-- View request_groups: the requests summed by caller, minute, the signs of interactive use and the pricing grain
-- of `usage_costs`. The recommender's and the report's queries that group by caller, minute, hour or week read
-- this view instead of `invocations`, and price each group's sums at its `usage_costs` rates through
-- `token_costs`: costs are linear in the token counts, so that is exactly the sum of the requests' own costs.
--
-- Why a view: those queries each grouped all of a month's requests at this grain themselves (about two CPU-seconds
-- at 10M records each). The session can hold this view's rows for a period in memory
-- (`Session::cache_period`), so the recommender and the report group the requests once and every query rolls
-- up from the groups (about a seventh as many rows as requests at 10M records).
--
-- Parameter: $metadata_keys (up to three request-metadata keys, comma-separated; '' for none), bound when the
--   session creates the view (`Session::group_by_metadata`, from `[recommend] batch_group_by_metadata`). An
--   unused slot folds to the constant '' when the view is planned, so without keys the map is never read.
-- Grain: day, minute, principal, account_id, metadata_1..3, streaming, tool_use, and the pricing grain of
--   `usage_costs` (region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens,
--   from `invocation_keys`, as `usage_costs` groups them, so a group joins to its rates there).
-- Columns: the grain; principal as logged (NULL when the log names no caller); metadata_1..3 (the value of the
--   first, second and third key; '' where the request does not carry it); streaming (NULL read as false);
--   tool_use (stopped for tool use; NULL where the log carries no stop reason); requests; input_tokens,
--   output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens (sums; NULL where no request of
--   the group had the count).
SELECT
  day,
  date_trunc('minute', timestamp) AS minute,
  principal,
  account_id,
  CASE WHEN split_part($metadata_keys, ',', 1) = '' THEN ''
    ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 1)], '') END AS metadata_1,
  CASE WHEN split_part($metadata_keys, ',', 2) = '' THEN ''
    ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 2)], '') END AS metadata_2,
  CASE WHEN split_part($metadata_keys, ',', 3) = '' THEN ''
    ELSE coalesce(request_metadata[split_part($metadata_keys, ',', 3)], '') END AS metadata_3,
  coalesce(streaming, false) AS streaming,
  stop_reason IN ('tool_use', 'tool_calls') AS tool_use,
  region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens,
  count(*) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(cache_write_tokens) AS cache_write_tokens,
  sum(cache_write_1h_tokens) AS cache_write_1h_tokens
FROM invocation_keys
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
