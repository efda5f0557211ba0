-- Where the prices of a period's usage came from: each price-book source and as-of date that priced at least one
-- request (the discount applied on top is the run's setting, shown beside it by the report).
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: source, as_of, models (distinct models it priced), requests (priced with it).
SELECT
  p.source,
  p.as_of,
  count(DISTINCT u.model) AS models,
  sum(u.requests) AS requests
FROM usage_costs u
JOIN prices p ON p.row_id = u.price_row
WHERE u.day >= CAST($since AS DATE) AND u.day < CAST($until AS DATE) AND u.price_status = 'priced'
GROUP BY 1, 2
ORDER BY requests DESC, source, as_of
