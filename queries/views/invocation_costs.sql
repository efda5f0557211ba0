-- View invocation_costs: every invocations column plus what the request cost, for queries that group by request
-- attributes (caller, metadata, hour). The rules live in `usage_costs`: each request takes the rates and
-- price status of its group there (same day, region, model_id, service tier, long-context floor, whether it
-- logged token counts and whether it has output tokens), and its costs are its own token counts at those rates
-- through the same token_costs function, so the requests of a group sum exactly to the group's costs. A request
-- over a model's long-context threshold is priced, whole, at the long-context row (see `usage_costs`).
-- Columns added: inference_profile_name, inference_profile_tags (cost-allocation tags), price_tier,
--   tier_assumed (no tier in the record: Standard assumed), long_context (priced at long-context rates),
--   price_class, priced,
--   price_status, price_source, price_row, input_cost_usd, output_cost_usd, cache_read_cost_usd,
--   cache_write_cost_usd, list_cost_usd (before discount), cost_usd (after the discount in price_settings),
--   uncached_cost_usd (same tokens with no caching: all input at the input price, after discount),
--   cache_savings_usd (uncached_cost_usd - cost_usd), batch_cost_usd (same tokens at batch prices, after
--   discount; NULL where batch is not offered). Meanings as in `usage_costs`; `model` is resolved there.
CREATE VIEW invocation_costs AS
WITH costed AS (
  SELECT r.*,
    g.model AS resolved_model, g.inference_profile_name, g.inference_profile_tags, g.price_tier, g.tier_assumed,
    g.long_context, g.price_class, g.priced,
    g.price_status, g.price_source, g.price_row,
    token_costs(
      coalesce(r.input_tokens, 0), coalesce(r.cache_read_tokens, 0),
      coalesce(r.cache_write_tokens, 0) - coalesce(r.cache_write_1h_tokens, 0), coalesce(r.cache_write_1h_tokens, 0),
      coalesce(r.output_tokens, 0),
      g.input_rate, g.cache_read_rate, g.cache_write_rate, g.cache_write_1h_rate, g.output_rate,
      g.batch_input_rate, g.batch_output_rate, g.discount_multiplier
    ) AS costs
  FROM usage_costs g
  JOIN invocation_keys r ON (g.day IS NOT DISTINCT FROM r.day) AND (g.region IS NOT DISTINCT FROM r.region)
    AND (g.model_id IS NOT DISTINCT FROM r.model_id) AND (g.has_token_counts IS NOT DISTINCT FROM r.has_token_counts)
    AND (g.has_output_tokens IS NOT DISTINCT FROM r.has_output_tokens)
    AND (g.service_tier IS NOT DISTINCT FROM r.service_tier)
    AND (g.long_context_floor IS NOT DISTINCT FROM r.long_context_floor)
)
SELECT
  c.request_id, c.timestamp, c.day, c.account_id, c.region, c.inference_region, c.operation, c.model_id,
  c.resolved_model AS model,
  c.provider, c.routing, c.inference_profile, c.identity_arn, c.principal, c.request_metadata, c.input_tokens,
  c.output_tokens, c.cache_read_tokens, c.cache_write_tokens, c.cache_write_1h_tokens, c.token_source, c.streaming,
  c.stop_reason, c.latency_ms, c.first_byte_latency_ms, c.guardrail_intervened, c.error_code, c.input_bytes,
  c.output_bytes, c.input_body_s3_path, c.output_body_s3_path, c.response_model, c.performance_latency,
  c.schema_version, c.system_hash, c.system_tokens_est, c.prefix_hash, c.prefix_tokens_est, c.source,
  c.service_tier,
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
  c.costs['input_cost_usd'] AS input_cost_usd,
  c.costs['output_cost_usd'] AS output_cost_usd,
  c.costs['cache_read_cost_usd'] AS cache_read_cost_usd,
  c.costs['cache_write_cost_usd'] AS cache_write_cost_usd,
  c.costs['list_cost_usd'] AS list_cost_usd,
  c.costs['cost_usd'] AS cost_usd,
  c.costs['uncached_cost_usd'] AS uncached_cost_usd,
  c.costs['cache_savings_usd'] AS cache_savings_usd,
  c.costs['batch_cost_usd'] AS batch_cost_usd
FROM costed c
