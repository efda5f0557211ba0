-- View invocation_costs for Athena (Trino) and Spark: the rules of queries/views/invocation_costs.sql (read its
-- header for what each column means) in SQL both engines accept. Each request takes the rates and price status of
-- its group in `usage_costs` and is costed by the same {{token_costs}} arithmetic, so the requests of a group sum
-- exactly to the group. `bedrock-spend ddl` fills the slots: {{db}} the database prefix, {{invocation_columns}}
-- every `invocations` column (from src/store/schema.rs), {{token_costs}} the cost expressions,
-- {{long_context_floor}} the request's long-context floor (as in `usage_costs`, whose grain it is part of).
CREATE OR REPLACE VIEW {{db}}invocation_costs AS
WITH requests AS (
  SELECT i.*,
    i.input_tokens IS NOT NULL OR i.output_tokens IS NOT NULL OR i.cache_read_tokens IS NOT NULL
      OR i.cache_write_tokens IS NOT NULL AS has_token_counts,
    coalesce(i.output_tokens, 0) > 0 AS has_output_tokens,
    {{long_context_floor}} AS long_context_floor
  FROM {{db}}invocations i
),
counted AS (
  SELECT r.*,
    g.model AS resolved_model, g.inference_profile_name, g.inference_profile_tags, g.price_tier, g.tier_assumed,
    g.long_context, g.price_class, g.priced,
    g.price_status, g.price_source, g.price_row,
    g.input_rate, g.cache_read_rate, g.cache_write_rate, g.cache_write_1h_rate, g.output_rate,
    g.batch_input_rate, g.batch_output_rate, g.discount_multiplier,
    coalesce(r.input_tokens, 0) AS n_input,
    coalesce(r.cache_read_tokens, 0) AS n_cache_read,
    coalesce(r.cache_write_tokens, 0) - coalesce(r.cache_write_1h_tokens, 0) AS n_cache_write_5m,
    coalesce(r.cache_write_1h_tokens, 0) AS n_cache_write_1h,
    coalesce(r.output_tokens, 0) AS n_output
  FROM {{db}}usage_costs g
  JOIN requests r ON (g.day IS NOT DISTINCT FROM r.day) AND (g.region IS NOT DISTINCT FROM r.region)
    AND (g.model_id IS NOT DISTINCT FROM r.model_id) AND (g.has_token_counts IS NOT DISTINCT FROM r.has_token_counts)
    AND (g.has_output_tokens IS NOT DISTINCT FROM r.has_output_tokens)
    AND (g.service_tier IS NOT DISTINCT FROM r.service_tier)
    AND (g.long_context_floor IS NOT DISTINCT FROM r.long_context_floor)
),
costed AS (
  SELECT c.*,
{{token_costs}}
  FROM counted c
)
SELECT
{{invocation_columns}},
  c.inference_profile_name,
  c.inference_profile_tags,
  c.price_tier,
  c.tier_assumed,
  c.long_context,
  c.price_class,
  c.priced,
  c.price_status,
  c.price_source,
  c.price_row,
  c.input_cost_usd, c.output_cost_usd, c.cache_read_cost_usd, c.cache_write_cost_usd, c.list_cost_usd,
  c.cost_usd, c.uncached_cost_usd, c.cache_savings_usd, c.batch_cost_usd
FROM costed c
