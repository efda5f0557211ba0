-- Prompt prefixes sent again and again: where prompt caching could pay (or already does).
-- Parameters: $since (date, inclusive), $until (date, exclusive), $min_requests (integer, e.g. 10).
-- Columns: prefix_hash, system_hash, model, principal, requests, avg_prefix_tokens (estimated), cached_requests
--   (requests that read or wrote the cache), uncached_prefix_tokens (estimated prefix tokens sent without
--   caching), cost_usd.
SELECT
  prefix_hash,
  min(system_hash) AS system_hash,
  model,
  principal,
  count(*) AS requests,
  CAST(avg(prefix_tokens_est) AS BIGINT) AS avg_prefix_tokens,
  sum(CASE WHEN coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) > 0 THEN 1 ELSE 0 END)
    AS cached_requests,
  sum(CASE WHEN coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) = 0
    THEN coalesce(prefix_tokens_est, 0) ELSE 0 END) AS uncached_prefix_tokens,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd
FROM invocation_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND prefix_hash IS NOT NULL
GROUP BY prefix_hash, model, principal
HAVING count(*) >= CAST($min_requests AS BIGINT)
ORDER BY uncached_prefix_tokens DESC, requests DESC, prefix_hash, model, principal
