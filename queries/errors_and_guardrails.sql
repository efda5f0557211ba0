-- Errors and guardrail interventions by model and principal over a period.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model, principal, requests, guardrail_blocks, blocks_without_counts (logged with no token counts),
--   errors (records with an errorCode), error_codes (distinct codes, comma-separated), cost_usd of those requests.
SELECT
  coalesce(model, '(' || routing || ')') AS model,
  principal,
  count(*) AS requests,
  sum(CASE WHEN guardrail_intervened THEN 1 ELSE 0 END) AS guardrail_blocks,
  sum(CASE WHEN guardrail_intervened AND token_source = 'none' THEN 1 ELSE 0 END) AS blocks_without_counts,
  sum(CASE WHEN error_code IS NOT NULL THEN 1 ELSE 0 END) AS errors,
  array_to_string(array_sort(array_agg(DISTINCT error_code)), ',') AS error_codes,
  CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS cost_usd
FROM invocation_costs
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
  AND (guardrail_intervened OR error_code IS NOT NULL)
GROUP BY 1, 2
ORDER BY requests DESC, model, principal
