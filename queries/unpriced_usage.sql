-- Usage the price book does not price, grouped by why: its spend is unknown, never shown as $0.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: price_status (no price | unresolved model | no token counts | no output price), model_id (a sample raw id), model,
--   region, routing, first_day, last_day, requests, input_tokens, output_tokens.
SELECT
  price_status,
  min(model_id) AS model_id,
  model,
  region,
  routing,
  min(day) AS first_day,
  max(day) AS last_day,
  sum(requests) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens
FROM usage_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE) AND NOT priced
GROUP BY price_status, model, region, routing
ORDER BY requests DESC, price_status, model, region, routing
