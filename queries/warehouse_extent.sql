-- The span of the warehouse: its first and last day with data and how many requests it holds (the default
-- window of `recommend`, the month `demo` shows).
-- Parameters: none.
-- Columns: first_day, last_day (NULL when the warehouse is empty), requests.
SELECT min(day) AS first_day, max(day) AS last_day, coalesce(sum(requests), 0) AS requests
FROM usage_costs
