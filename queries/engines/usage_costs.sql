-- View usage_costs for Athena (Trino) and Spark: the rules of queries/views/usage_costs.sql, which stays their home
-- (read its header for what each column means), written in SQL that both engines accept. `bedrock-spend ddl` fills
-- the {{...}} slots: {{db}} is the database prefix, {{model_refs}} the CTEs that read `grouped` and define `named`
-- with `model`, `provider`, `routing` and `inference_profile` in plain SQL (the engines have no `bedrock_model`
-- function; src/ddl/sql.rs writes them from the rules of src/model_id.rs), {{rate_type}} the per-token rate type and
-- {{token_costs}} the arithmetic of the `token_costs` function as exact DECIMAL expressions, and
-- {{long_context_floor}} the `long_context_floor` function as a CASE over the book's thresholds, largest first.
-- The Spark test (tests/it/engines.rs) runs this view on Spark and compares it with DataFusion's; the Athena text
-- is parsed as Trino and its columns compared.
-- Differences from the DataFusion view: `price_row` is the price row's key
-- (`model|region|routing|effective_from|tier|long_context_above`) instead of its line in the sheet (a CSV table has
-- no line numbers); the rest, names and values, are the same.
CREATE OR REPLACE VIEW {{db}}usage_costs AS
WITH grouped AS (
  SELECT
    day, region, model_id, service_tier,
    {{long_context_floor}} AS long_context_floor,
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
  GROUP BY 1, 2, 3, 4, 5, 6, 7
),
{{model_refs}},
classified AS (
  SELECT u.*,
    coalesce(u.model, ip.model, pt.model) AS resolved_model,
    CASE WHEN u.routing = 'global' THEN 'global' ELSE 'regional' END AS price_class,
    CASE
      WHEN u.service_tier IS NULL OR lower(trim(u.service_tier)) IN ('default', 'standard') THEN 'standard'
      ELSE lower(trim(u.service_tier))
    END AS price_tier,
    u.service_tier IS NULL AS tier_assumed,
    ip.name AS inference_profile_name,
    ip.tags AS inference_profile_tags
  FROM named u
  LEFT JOIN {{db}}inference_profiles ip ON u.routing = 'application-profile' AND ip.arn = u.inference_profile
  LEFT JOIN {{db}}provisioned_throughputs pt ON u.routing = 'provisioned' AND pt.arn = u.model_id
),
candidates AS (
  SELECT c.*,
    p.price_row AS candidate_row,
    p.long_context_above AS candidate_threshold,
    coalesce(
      p.tier = c.price_tier
        AND (p.region = c.region OR (p.region = '*' AND NOT coalesce(c.region LIKE 'us-gov-%', false)))
        AND (p.routing = c.price_class OR p.routing = '*'),
      false
    ) AS candidate_fits,
    CASE WHEN p.region = '*' THEN 2 ELSE 0 END + CASE WHEN p.routing = '*' THEN 1 ELSE 0 END AS candidate_rank
  FROM classified c
  LEFT JOIN {{db}}prices p ON p.model = c.resolved_model AND c.day >= p.valid_from AND c.day < p.valid_to
    AND (p.long_context_above IS NULL OR p.long_context_above <= c.long_context_floor)
),
banded AS (
  SELECT cd.*,
    max(cd.candidate_threshold) OVER (
      PARTITION BY cd.day, cd.region, cd.model_id, cd.service_tier, cd.long_context_floor, cd.has_token_counts,
        cd.has_output_tokens
    ) AS context_band
  FROM candidates cd
),
ranked AS (
  SELECT b.*,
    b.candidate_fits AND b.candidate_threshold IS NOT DISTINCT FROM b.context_band AS candidate_matches,
    row_number() OVER (
      PARTITION BY b.day, b.region, b.model_id, b.service_tier, b.long_context_floor, b.has_token_counts,
        b.has_output_tokens
      ORDER BY b.candidate_fits AND b.candidate_threshold IS NOT DISTINCT FROM b.context_band DESC, b.candidate_rank
    ) AS candidate_order
  FROM banded b
),
matched AS (
  SELECT r.*,
    CASE WHEN r.candidate_matches THEN r.candidate_row END AS price_row,
    r.context_band IS NOT NULL AS long_context
  FROM ranked r
  WHERE r.candidate_order = 1
),
statused AS (
  SELECT m.*,
    CASE
      WHEN m.routing IN ('provisioned', 'custom', 'imported') OR m.price_tier = 'reserved' THEN 'no per-token charge'
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
  c.service_tier, c.price_tier, c.tier_assumed, c.long_context_floor, c.long_context,
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
