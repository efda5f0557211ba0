-- The span of the warehouse: its first and last day with data and how many requests it holds (the default
-- window of `recommend`, the month `demo` shows).
-- Parameters: none.
-- Columns: first_day, last_day (NULL when the warehouse is empty), requests.
-- Read from `invocations`, not `usage_costs`: the answer needs no price, and the engine answers it from the files'
-- row counts and the `day` partition values without decoding a column (grouping every request through
-- `usage_costs` took about a second at 10M records, and the recommender and the report ask for it).
SELECT min(day) AS first_day, max(day) AS last_day, count(*) AS requests
FROM invocations
