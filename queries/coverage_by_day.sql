-- Which days and Regions of a period have logs: the data-coverage section of the report (days absent from the
-- result had no logs at all).
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: day, region (the Region the request was made in; `(unknown)` when the log names none), requests.
-- Read from `request_groups`, which the report holds in memory for its months: summing its groups is the count of
-- requests without reading the region of every request again.
SELECT
  day,
  coalesce(region, '(unknown)') AS region,
  sum(requests) AS requests
FROM request_groups
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY 1, 2
ORDER BY day, region
