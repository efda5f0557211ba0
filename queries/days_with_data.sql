-- The days of a period that hold requests, with how many each (the session groups `request_groups` one such day at
-- a time when it holds the period in memory).
-- Parameters: $since (date, inclusive), $until (date, exclusive).
-- Columns: day, requests.
-- Answered from the files' row counts and `day` partition values, without decoding a column.
SELECT day, count(*) AS requests
FROM invocations
WHERE day >= CAST($since AS DATE) AND day < CAST($until AS DATE)
GROUP BY day
ORDER BY day
