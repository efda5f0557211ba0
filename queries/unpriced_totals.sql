-- How much usage in a period has no price: requests and tokens whose spend is unknown (never counted as $0).
-- Every command that prints money says this on stderr.
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: unpriced_requests, unpriced_tokens (input + output + cache read + cache write).
SELECT
  coalesce(sum(requests), 0) AS unpriced_requests,
  coalesce(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0)
    + coalesce(cache_write_tokens, 0)), 0) AS unpriced_tokens
FROM usage_costs
WHERE NOT priced AND day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
