-- Failed requests per model, source Region and routing: where throttling or service errors concentrate, for the
-- recommender's reliability rule (a cross-Region inference profile spreads load over several Regions).
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model, region, routing, requests, throttled (error_code ThrottlingException, TooManyRequests or
--   ServiceQuotaExceeded), server_errors (ServiceUnavailable, InternalServer, ModelNotReady, ModelTimeout).
SELECT
  coalesce(model, model_id) AS model, region, routing,
  count(*) AS requests,
  sum(CASE WHEN error_code LIKE '%Throttling%' OR error_code LIKE '%TooManyRequests%'
    OR error_code LIKE '%ServiceQuotaExceeded%' THEN 1 ELSE 0 END) AS throttled,
  sum(CASE WHEN error_code LIKE '%ServiceUnavailable%' OR error_code LIKE '%InternalServer%'
    OR error_code LIKE '%ModelNotReady%' OR error_code LIKE '%ModelTimeout%' THEN 1 ELSE 0 END) AS server_errors
FROM invocations
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
