-- View usage_costs for Athena (Trino) and Spark: the rules of queries/views/usage_costs.sql, which stays their home
-- (read its header for what each column means), written in SQL that both engines accept. `bedrock-spend ddl` fills
-- the {{...}} slots: {{db}} is the database prefix, {{model_refs}} the CTEs that read `grouped` and define `named`
-- with `model`, `provider`, `routing` and `inference_profile` in plain SQL (the engines have no `bedrock_model`
-- function; src/ddl/sql.rs writes them from the rules of src/model_id.rs), {{rate_type}} the per-token rate type and
-- {{token_costs}} the arithmetic of the `token_costs` function as exact DECIMAL expressions.
-- The Spark test (tests/it/engines.rs) runs this view on Spark and compares it with DataFusion's; the Athena text
-- is parsed as Trino and its columns compared.
-- Differences from the DataFusion view: `price_row` is the price row's key (`model|region|routing|effective_from`)
-- instead of its line in the sheet (a CSV table has no line numbers); the rest, names and values, are the same.
CREATE OR REPLACE VIEW {{db}}usage_costs AS
WITH grouped AS (
  SELECT
    day, region, model_id,
    input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR cache_read_tokens IS NOT NULL
      OR cache_write_tokens IS NOT NULL AS has_token_counts,
    coalesce(output_tokens, 0) > 0 AS has_output_tokens,
    count(*) AS requests,
    sum(CASE WHEN coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) > 0 THEN 1 ELSE 0 END)
      AS requests_with_cache,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(cache_write_1h_tokens) AS cache_write_1h_tokens
  FROM {{db}}invocations
  GROUP BY 1, 2, 3, 4, 5
),
{{model_refs}},
classified AS (
  SELECT u.*,
    coalesce(u.model, ip.model, pt.model) AS resolved_model,
    CASE WHEN u.routing = 'global' THEN 'global' ELSE 'regional' END AS price_class,
    ip.name AS inference_profile_name,
    ip.tags AS inference_profile_tags
  FROM named u
  LEFT JOIN {{db}}inference_profiles ip ON u.routing = 'application-profile' AND ip.arn = u.inference_profile
  LEFT JOIN {{db}}provisioned_throughputs pt ON u.routing = 'provisioned' AND pt.arn = u.model_id
),
matched AS (
  SELECT c.*, coalesce(p1.price_row, p2.price_row, p3.price_row, p4.price_row) AS price_row
  FROM classified c
  LEFT JOIN {{db}}prices p1 ON p1.model = c.resolved_model AND p1.region = c.region AND p1.routing = c.price_class
    AND c.day >= p1.valid_from AND c.day < p1.valid_to
  LEFT JOIN {{db}}prices p2 ON p2.model = c.resolved_model AND p2.region = c.region AND p2.routing = '*'
    AND c.day >= p2.valid_from AND c.day < p2.valid_to
  LEFT JOIN {{db}}prices p3 ON p3.model = c.resolved_model AND p3.region = '*' AND p3.routing = c.price_class
    AND c.day >= p3.valid_from AND c.day < p3.valid_to
  LEFT JOIN {{db}}prices p4 ON p4.model = c.resolved_model AND p4.region = '*' AND p4.routing = '*'
    AND c.day >= p4.valid_from AND c.day < p4.valid_to
),
statused AS (
  SELECT m.*,
    CASE
      WHEN m.routing IN ('provisioned', 'custom', 'imported') THEN 'no per-token charge'
      WHEN m.resolved_model IS NULL THEN 'unresolved model'
      WHEN m.price_row IS NULL THEN 'no price'
      WHEN NOT m.has_token_counts THEN 'no token counts'
      WHEN p.output_per_token IS NULL AND m.has_output_tokens THEN 'no output price'
      ELSE 'priced'
    END AS price_status,
    p.source AS price_source,
    p.input_per_token, p.output_per_token, p.cache_read_per_token, p.cache_write_per_token,
    p.cache_write_1h_per_token, p.batch_input_per_token, p.batch_output_per_token
  FROM matched m
  LEFT JOIN {{db}}prices p ON p.price_row = m.price_row
),
rated AS (
  -- Each rate is cast back to the book's per-token type: CASE with a literal 0 would widen it, and a wider
  -- factor pushes Spark's product past 38 digits, where it rounds instead of staying exact.
  SELECT s.*,
    CAST(CASE s.price_status WHEN 'priced' THEN s.input_per_token WHEN 'no per-token charge' THEN 0 END
      AS {{rate_type}}) AS input_rate,
    CAST(CASE s.price_status WHEN 'priced' THEN coalesce(s.output_per_token, 0) WHEN 'no per-token charge' THEN 0 END
      AS {{rate_type}}) AS output_rate,
    CAST(CASE s.price_status
      WHEN 'priced' THEN coalesce(s.cache_read_per_token, s.input_per_token) WHEN 'no per-token charge' THEN 0
    END AS {{rate_type}}) AS cache_read_rate,
    CAST(CASE s.price_status
      WHEN 'priced' THEN coalesce(s.cache_write_per_token, s.input_per_token) WHEN 'no per-token charge' THEN 0
    END AS {{rate_type}}) AS cache_write_rate,
    CAST(CASE s.price_status
      WHEN 'priced' THEN coalesce(s.cache_write_1h_per_token, s.input_per_token) WHEN 'no per-token charge' THEN 0
    END AS {{rate_type}}) AS cache_write_1h_rate,
    CAST(CASE WHEN s.price_status = 'priced' AND s.batch_output_per_token IS NOT NULL THEN s.batch_input_per_token END
      AS {{rate_type}}) AS batch_input_rate,
    CAST(CASE WHEN s.price_status = 'priced' AND s.batch_input_per_token IS NOT NULL THEN s.batch_output_per_token END
      AS {{rate_type}}) AS batch_output_rate
  FROM statused s
),
counted AS (
  SELECT r.*, ps.discount_multiplier,
    coalesce(r.input_tokens, 0) AS n_input,
    coalesce(r.cache_read_tokens, 0) AS n_cache_read,
    coalesce(r.cache_write_tokens, 0) - coalesce(r.cache_write_1h_tokens, 0) AS n_cache_write_5m,
    coalesce(r.cache_write_1h_tokens, 0) AS n_cache_write_1h,
    coalesce(r.output_tokens, 0) AS n_output
  FROM rated r
  CROSS JOIN {{db}}price_settings ps
),
costed AS (
  SELECT c.*,
{{token_costs}}
  FROM counted c
)
SELECT
  c.day, c.region, c.model_id,
  c.resolved_model AS model,
  c.provider, c.routing, c.inference_profile, c.inference_profile_name, c.inference_profile_tags,
  c.has_token_counts, c.has_output_tokens, c.requests, c.requests_with_cache,
  c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens, c.cache_write_1h_tokens,
  c.price_class,
  c.price_status IN ('priced', 'no per-token charge') AS priced,
  c.price_status, c.price_source, c.price_row,
  c.input_rate, c.output_rate, c.cache_read_rate, c.cache_write_rate, c.cache_write_1h_rate,
  c.batch_input_rate, c.batch_output_rate,
  c.discount_multiplier,
  c.input_cost_usd, c.output_cost_usd, c.cache_read_cost_usd, c.cache_write_cost_usd, c.list_cost_usd,
  c.cost_usd, c.uncached_cost_usd, c.cache_savings_usd, c.batch_cost_usd
FROM costed c
