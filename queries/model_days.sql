-- Requests per model and day, priced or not: `pricing check` compares them with the model lifecycle table
-- (pricing/model-lifecycle.csv) and warns about traffic on models past their end of life.
-- Parameters: none.
-- Columns: model (normalized base model), day, requests.
SELECT model, day, sum(requests) AS requests
FROM usage_costs
WHERE model IS NOT NULL
GROUP BY model, day
ORDER BY model, day
