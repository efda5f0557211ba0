-- View invocation_keys: every `invocations` column plus the three parts of a request's pricing key that are worked
-- out from its token counts. The one place they are written: `usage_costs` groups by them, and `invocation_costs`,
-- `request_groups` and the queries that price group by group carry them to their join with `usage_costs`, so a
-- request always meets its own price group.
-- Columns added: long_context_floor (the largest long-context threshold in the book that the request's total input,
--   input + cache read + cache write tokens, exceeds; NULL if none; the function long_context_floor,
--   src/query/long_context.rs), has_token_counts (the log carries at least one token count), has_output_tokens
--   (more than zero output tokens).
CREATE VIEW invocation_keys AS
SELECT *,
  long_context_floor(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0))
    AS long_context_floor,
  input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR cache_read_tokens IS NOT NULL
    OR cache_write_tokens IS NOT NULL AS has_token_counts,
  coalesce(output_tokens, 0) > 0 AS has_output_tokens
FROM invocations
