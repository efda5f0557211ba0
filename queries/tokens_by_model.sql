-- Token usage by normalized model over a period.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: model (base model id, or `(routing)` where the id does not name one), requests, input_tokens,
--   output_tokens, cache_read_tokens, cache_write_tokens, requests_without_counts (guardrail blocks and
--   other records with no token counts: NULL, never 0).
SELECT
  coalesce(model, '(' || routing || ')') AS model,
  count(*) AS requests,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(cache_write_tokens) AS cache_write_tokens,
  sum(CASE WHEN token_source = 'none' THEN 1 ELSE 0 END) AS requests_without_counts
FROM invocations
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1
ORDER BY requests DESC, model
