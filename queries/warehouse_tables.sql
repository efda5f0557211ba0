-- The tables and views a session offers, with their kind (the interactive shell's `\d`).
-- Parameters: none.
-- Columns: table_name, table_type.
SELECT table_name, table_type
FROM information_schema.tables
WHERE table_schema = 'public'
ORDER BY table_name
