-- The columns of one table or view, in order (the interactive shell's `\d NAME`).
-- Parameters: $table (a table or view name, e.g. invocations).
-- Columns: column_name, data_type, is_nullable.
SELECT column_name, data_type, is_nullable
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = $table
ORDER BY ordinal_position
