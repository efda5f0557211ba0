-- View invocation_costs: every invocations column plus what the request cost. The single home of the cost rules.
--
-- Matching a record to a price row (table `prices`, from pricing/bedrock-prices.csv):
--   same normalized `model`; the record's `day` in [effective_from, effective_to); a row for the record's
--   source `region` beats `*`, then a row for its routing class beats `*` (global profiles are `global`,
--   everything else `regional`). The price is the source Region's, never the inference Region's. The book is
--   validated so that each of the four lookups below finds at most one row.
-- Cost (prices are per million tokens; `*_per_token` columns hold the same value exactly, divided by 1e6):
--   input*input + cache_read*cache_read + (cache_write - cache_write_1h)*cache_write
--   + cache_write_1h*cache_write_1h + output*output
--   A cache class with no price in the matched row is charged at the row's input price. Missing counts are 0
--   when the record has any count at all.
-- price_status: priced | no per-token charge (provisioned, custom, imported: cost lives in the PT analysis)
--   | unresolved model (the id names no base model, e.g. an application profile) | no price (the book does
--   not cover model, Region and day) | no token counts (e.g. a guardrail block logged without counts).
--   Only `priced` and `no per-token charge` rows have a cost; the others are NULL, never 0.
-- `model` is resolved through the estate tables where the log names no base model (application profiles,
-- provisioned models), once `ingest auto` has read them.
-- Columns added: inference_profile_name, inference_profile_tags (cost-allocation tags), price_class, priced, price_status, price_source, price_row, input_cost_usd, output_cost_usd,
--   cache_read_cost_usd, cache_write_cost_usd, list_cost_usd (before discount), cost_usd (after the
--   discount in price_settings), uncached_cost_usd (same tokens with no caching: all input at the input
--   price, after discount), cache_savings_usd (uncached_cost_usd - cost_usd), batch_cost_usd (same tokens
--   at batch prices, after discount; NULL where batch is not offered).
CREATE VIEW invocation_costs AS
WITH classified AS (
  -- Application profiles and provisioned models name no base model; the estate tables (from `ingest auto`)
  -- resolve them. A profile bills like the model it wraps, at its routing class (regional unless global).
  SELECT i.*,
    coalesce(i.model, ip.model, pt.model) AS resolved_model,
    CASE WHEN i.routing = 'global' THEN 'global' ELSE 'regional' END AS price_class,
    ip.name AS inference_profile_name,
    ip.tags AS inference_profile_tags
  FROM invocations i
  LEFT JOIN inference_profiles ip ON i.routing = 'application-profile' AND ip.arn = i.inference_profile
  LEFT JOIN provisioned_throughputs pt ON i.routing = 'provisioned' AND pt.arn = i.model_id
),
matched AS (
  SELECT c.*, coalesce(p1.row_id, p2.row_id, p3.row_id, p4.row_id) AS price_row
  FROM classified c
  LEFT JOIN prices p1 ON p1.model = c.resolved_model AND p1.region = c.region AND p1.routing = c.price_class
    AND c.day >= p1.valid_from AND c.day < p1.valid_to
  LEFT JOIN prices p2 ON p2.model = c.resolved_model AND p2.region = c.region AND p2.routing = '*'
    AND c.day >= p2.valid_from AND c.day < p2.valid_to
  LEFT JOIN prices p3 ON p3.model = c.resolved_model AND p3.region = '*' AND p3.routing = c.price_class
    AND c.day >= p3.valid_from AND c.day < p3.valid_to
  LEFT JOIN prices p4 ON p4.model = c.resolved_model AND p4.region = '*' AND p4.routing = '*'
    AND c.day >= p4.valid_from AND c.day < p4.valid_to
),
rated AS (
  SELECT m.*,
    CASE
      WHEN m.routing IN ('provisioned', 'custom', 'imported') THEN 'no per-token charge'
      WHEN m.resolved_model IS NULL THEN 'unresolved model'
      WHEN m.price_row IS NULL THEN 'no price'
      WHEN m.input_tokens IS NULL AND m.output_tokens IS NULL AND m.cache_read_tokens IS NULL
        AND m.cache_write_tokens IS NULL THEN 'no token counts'
      ELSE 'priced'
    END AS price_status,
    p.source AS price_source,
    p.input_per_token AS p_input,
    p.output_per_token AS p_output,
    coalesce(p.cache_read_per_token, p.input_per_token) AS p_cache_read,
    coalesce(p.cache_write_per_token, p.input_per_token) AS p_cache_write,
    coalesce(p.cache_write_1h_per_token, p.input_per_token) AS p_cache_write_1h,
    p.batch_input_per_token AS p_batch_input,
    p.batch_output_per_token AS p_batch_output,
    coalesce(m.input_tokens, 0) AS n_input,
    coalesce(m.output_tokens, 0) AS n_output,
    coalesce(m.cache_read_tokens, 0) AS n_cache_read,
    coalesce(m.cache_write_tokens, 0) - coalesce(m.cache_write_1h_tokens, 0) AS n_cache_write_5m,
    coalesce(m.cache_write_1h_tokens, 0) AS n_cache_write_1h
  FROM matched m
  LEFT JOIN prices p ON p.row_id = m.price_row
),
costed AS (
  SELECT r.*,
    CASE r.price_status WHEN 'priced' THEN r.n_input * r.p_input WHEN 'no per-token charge' THEN 0 END AS input_cost_usd,
    CASE r.price_status WHEN 'priced' THEN r.n_output * r.p_output WHEN 'no per-token charge' THEN 0 END AS output_cost_usd,
    CASE r.price_status WHEN 'priced' THEN r.n_cache_read * r.p_cache_read WHEN 'no per-token charge' THEN 0 END
      AS cache_read_cost_usd,
    CASE r.price_status
      WHEN 'priced' THEN r.n_cache_write_5m * r.p_cache_write + r.n_cache_write_1h * r.p_cache_write_1h
      WHEN 'no per-token charge' THEN 0
    END AS cache_write_cost_usd,
    CASE r.price_status
      WHEN 'priced' THEN (r.n_input + r.n_cache_read + r.n_cache_write_5m + r.n_cache_write_1h) * r.p_input
        + r.n_output * r.p_output
      WHEN 'no per-token charge' THEN 0
    END AS uncached_list_cost_usd,
    CASE WHEN r.price_status = 'priced' AND r.p_batch_input IS NOT NULL AND r.p_batch_output IS NOT NULL
      THEN (r.n_input + r.n_cache_read + r.n_cache_write_5m + r.n_cache_write_1h) * r.p_batch_input
        + r.n_output * r.p_batch_output
    END AS batch_list_cost_usd
  FROM rated r
)
SELECT
  c.request_id, c.timestamp, c.day, c.account_id, c.region, c.inference_region, c.operation, c.model_id,
  c.resolved_model AS model,
  c.provider, c.routing, c.inference_profile, c.identity_arn, c.principal, c.request_metadata, c.input_tokens,
  c.output_tokens, c.cache_read_tokens, c.cache_write_tokens, c.cache_write_1h_tokens, c.token_source, c.streaming,
  c.stop_reason, c.latency_ms, c.first_byte_latency_ms, c.guardrail_intervened, c.error_code, c.input_bytes,
  c.output_bytes, c.input_body_s3_path, c.output_body_s3_path, c.response_model, c.performance_latency,
  c.schema_version, c.system_hash, c.system_tokens_est, c.prefix_hash, c.prefix_tokens_est, c.source,
  c.inference_profile_name,
  c.inference_profile_tags,
  c.price_class,
  c.price_status IN ('priced', 'no per-token charge') AS priced,
  c.price_status,
  c.price_source,
  c.price_row,
  c.input_cost_usd,
  c.output_cost_usd,
  c.cache_read_cost_usd,
  c.cache_write_cost_usd,
  c.input_cost_usd + c.output_cost_usd + c.cache_read_cost_usd + c.cache_write_cost_usd AS list_cost_usd,
  (c.input_cost_usd + c.output_cost_usd + c.cache_read_cost_usd + c.cache_write_cost_usd) * s.discount_multiplier
    AS cost_usd,
  c.uncached_list_cost_usd * s.discount_multiplier AS uncached_cost_usd,
  (c.uncached_list_cost_usd - (c.input_cost_usd + c.output_cost_usd + c.cache_read_cost_usd + c.cache_write_cost_usd))
    * s.discount_multiplier AS cache_savings_usd,
  c.batch_list_cost_usd * s.discount_multiplier AS batch_cost_usd
FROM costed c
CROSS JOIN price_settings s
