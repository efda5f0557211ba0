-- Prompt-caching candidates for the recommender: each repeated prompt prefix sent without caching, replayed in
-- time order against a simulated cache. A use within the TTL of the previous use of the same prefix (same model
-- and Region) reads the cache, any other use writes it; the TTL restarts on every use. Priced at the book's rates
-- for each request's day, after discount.
-- Parameters: $since (date, inclusive), $until (date, exclusive), $min_requests (integer: fewer uses are left
--   out), $min_prefix_tokens (integer: shorter prefixes are left out; the recommender applies each model's own
--   minimum on top).
-- Columns: prefix_hash, model, region, principals (distinct callers), principal (the first one), requests,
--   days_active, min_prefix_tokens, prefix_tokens (estimated, summed over the uses), reads_5m, reads_1h (uses
--   that would read with a 5-minute or 1-hour TTL), read_tokens_5m, read_tokens_1h, mean_gap_seconds (between
--   consecutive uses, whole seconds), prefix_cost_usd (what the prefix tokens cost today at the input price), cost_5m_usd,
--   cost_1h_usd (writes + reads at book prices; cost_1h_usd NULL where a day lacks a 1-hour write price),
--   all_read_cost_usd, all_write_cost_usd (the prefix tokens if every use read, or wrote, the 5-minute cache: any
--   hit rate prices linearly between them), cache_priced_requests (uses on days whose price row has both a cache-read and a cache-write price),
--   already_cached_requests (uses of the prefix that read or wrote the cache: not replayed, not counted),
--   cached_read_tokens, cached_write_tokens (what those uses read and wrote: the hit rate callers that already
--   cache this prefix measure).
-- Only uses with no cache activity are replayed: traffic already cached is never counted twice.
WITH requests AS (
  SELECT prefix_hash, region, model_id, day, timestamp, principal, prefix_tokens_est AS tokens, service_tier,
    cache_read_tokens, cache_write_tokens, long_context_floor, has_token_counts, has_output_tokens
  FROM invocation_keys
  WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND prefix_hash IS NOT NULL
    AND prefix_tokens_est >= CAST($min_prefix_tokens AS BIGINT)
),
uses AS (
  -- Each use takes its model and price status from its group in `usage_costs` (the pricing key of
  -- `invocation_keys`); only the prices are needed here, not each request's cost, so the requests are not priced.
  SELECT r.prefix_hash, u.model, r.region, r.model_id, r.day, r.timestamp, r.principal, r.tokens,
    coalesce(r.cache_read_tokens, 0) AS cache_read_tokens, coalesce(r.cache_write_tokens, 0) AS cache_write_tokens,
    coalesce(r.cache_read_tokens, 0) + coalesce(r.cache_write_tokens, 0) > 0 AS cached
  FROM requests r
  JOIN usage_costs u ON (u.day IS NOT DISTINCT FROM r.day) AND (u.region IS NOT DISTINCT FROM r.region)
    AND (u.model_id IS NOT DISTINCT FROM r.model_id) AND (u.has_token_counts IS NOT DISTINCT FROM r.has_token_counts)
    AND (u.has_output_tokens IS NOT DISTINCT FROM r.has_output_tokens)
    AND (u.service_tier IS NOT DISTINCT FROM r.service_tier)
    AND (u.long_context_floor IS NOT DISTINCT FROM r.long_context_floor)
  WHERE u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE)
    AND u.price_status = 'priced' AND u.model IS NOT NULL
),
replayed AS (
  SELECT *, lag(timestamp) OVER (PARTITION BY prefix_hash, model, region ORDER BY timestamp) AS previous
  FROM uses
  WHERE NOT cached
),
classified AS (
  SELECT *,
    previous IS NOT NULL AND previous >= timestamp - INTERVAL '5 minutes' AS read_5m,
    previous IS NOT NULL AND previous >= timestamp - INTERVAL '1 hour' AS read_1h,
    CAST(date_part('epoch', timestamp) - date_part('epoch', previous) AS BIGINT) AS gap_seconds
  FROM replayed
),
per_day AS (
  SELECT prefix_hash, model, region, model_id, day,
    count(*) AS requests,
    min(tokens) AS min_tokens,
    sum(tokens) AS tokens,
    sum(CASE WHEN read_5m THEN 1 ELSE 0 END) AS reads_5m,
    sum(CASE WHEN read_1h THEN 1 ELSE 0 END) AS reads_1h,
    sum(CASE WHEN read_5m THEN tokens ELSE 0 END) AS read_tokens_5m,
    sum(CASE WHEN read_1h THEN tokens ELSE 0 END) AS read_tokens_1h
  FROM classified
  GROUP BY 1, 2, 3, 4, 5
),
rates AS (
  SELECT u.day, u.region, u.model_id, min(u.price_row) AS price_row, min(u.discount_multiplier) AS multiplier
  FROM usage_costs u
  WHERE u.price_status = 'priced' AND u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE)
  GROUP BY 1, 2, 3
),
priced AS (
  SELECT d.*, r.multiplier,
    p.input_per_token, p.cache_read_per_token, p.cache_write_per_token, p.cache_write_1h_per_token
  FROM per_day d
  JOIN rates r ON r.day = d.day AND r.region = d.region AND r.model_id = d.model_id
  JOIN prices p ON p.row_id = r.price_row
),
totals AS (
  SELECT prefix_hash, model, region,
    sum(requests) AS requests,
    count(DISTINCT day) AS days_active,
    min(min_tokens) AS min_prefix_tokens,
    sum(tokens) AS prefix_tokens,
    sum(reads_5m) AS reads_5m,
    sum(reads_1h) AS reads_1h,
    sum(read_tokens_5m) AS read_tokens_5m,
    sum(read_tokens_1h) AS read_tokens_1h,
    sum(tokens * input_per_token * multiplier) AS prefix_cost_usd,
    sum(((tokens - read_tokens_5m) * cache_write_per_token + read_tokens_5m * cache_read_per_token) * multiplier)
      AS cost_5m_usd,
    sum(((tokens - read_tokens_1h) * cache_write_1h_per_token + read_tokens_1h * cache_read_per_token) * multiplier)
      AS cost_1h_usd,
    sum(tokens * cache_read_per_token * multiplier) AS all_read_cost_usd,
    sum(tokens * cache_write_per_token * multiplier) AS all_write_cost_usd,
    sum(CASE WHEN cache_read_per_token IS NOT NULL AND cache_write_per_token IS NOT NULL THEN requests ELSE 0 END)
      AS cache_priced_requests,
    -- sum() skips NULLs: a day without a 1-hour price must void the 1-hour total, not vanish from it.
    sum(CASE WHEN cache_write_1h_per_token IS NULL OR cache_read_per_token IS NULL THEN 1 ELSE 0 END)
      AS days_without_1h
  FROM priced
  GROUP BY 1, 2, 3
  HAVING sum(requests) >= CAST($min_requests AS BIGINT)
),
callers AS (
  SELECT prefix_hash, model, region, count(DISTINCT principal) AS principals, min(principal) AS principal,
    sum(gap_seconds) / count(gap_seconds) AS mean_gap_seconds
  FROM classified
  GROUP BY 1, 2, 3
),
cached AS (
  SELECT prefix_hash, model, region, count(*) AS already_cached_requests,
    sum(cache_read_tokens) AS cached_read_tokens, sum(cache_write_tokens) AS cached_write_tokens
  FROM uses WHERE cached GROUP BY 1, 2, 3
)
SELECT
  t.prefix_hash, t.model, t.region, c.principals, c.principal, t.requests, t.days_active, t.min_prefix_tokens,
  t.prefix_tokens, t.reads_5m, t.reads_1h, t.read_tokens_5m, t.read_tokens_1h, c.mean_gap_seconds,
  t.prefix_cost_usd, t.cost_5m_usd,
  CASE WHEN t.days_without_1h = 0 THEN t.cost_1h_usd END AS cost_1h_usd,
  t.all_read_cost_usd, t.all_write_cost_usd,
  t.cache_priced_requests,
  coalesce(k.already_cached_requests, 0) AS already_cached_requests,
  coalesce(k.cached_read_tokens, 0) AS cached_read_tokens,
  coalesce(k.cached_write_tokens, 0) AS cached_write_tokens
FROM totals t
JOIN callers c ON c.prefix_hash = t.prefix_hash AND c.model = t.model AND c.region = t.region
LEFT JOIN cached k ON k.prefix_hash = t.prefix_hash AND k.model = t.model AND k.region = t.region
ORDER BY t.prefix_hash, t.model, t.region
