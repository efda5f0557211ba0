-- View usage_costs: invocations grouped by what decides their price, and what each group cost. The single home
-- of the cost rules: `invocation_costs` applies this view's per-token rates to single requests.
--
-- Grain: one row per (day, region, model_id, has_token_counts, has_output_tokens). `model`, `provider`, `routing` and
-- `inference_profile` are functions of `model_id`: `bedrock_model(model_id)` (ingest's normalizer as a SQL
-- function) gives them once per group, as the current version normalizes the id. Costs are
-- exact decimals, linear in the token counts, with no rounding per request: pricing a group's token sums gives
-- exactly the sum of its requests' costs, over hundreds of groups instead of millions of rows. Summary queries
-- (month, model, day, cache, unpriced) read this view; queries that group by request attributes (caller,
-- metadata, hour) read `invocation_costs`.
--
-- Matching a group to a price row (table `prices`, from pricing/bedrock-prices.csv):
--   same normalized `model`; the group's `day` in [effective_from, effective_to); a row for the source `region`
--   beats `*`, then a row for its routing class beats `*` (global profiles are `global`, everything else
--   `regional`). The price is the source Region's, never the inference Region's. The book is validated so that
--   each of the four lookups below finds at most one row.
-- Rates (`*_rate`, USD per token at list price): the matched row's prices; a cache class with no price is charged
--   at the input price. Where the group has no per-token charge they are 0; where it is not priced, NULL, so its
--   costs are NULL, never 0. Batch rates are NULL where batch is not offered.
-- Cost: input*input_rate + cache_read*cache_read_rate + (cache_write - cache_write_1h)*cache_write_rate
--   + cache_write_1h*cache_write_1h_rate + output*output_rate; missing counts are 0. The arithmetic is the SQL
--   function token_costs (src/query/token_costs.rs), written once and called by both cost views.
-- A price row may leave the output price empty (embedding models): requests with no output tokens are priced
--   (output costs nothing); requests with output tokens are unpriced with status `no output price`, never
--   priced at NULL. `has_output_tokens` is part of the grain so that each request takes its own status.
-- price_status: priced | no per-token charge (provisioned, custom, imported: cost lives in the PT analysis)
--   | unresolved model (the id names no base model, e.g. an application profile) | no price (the book does
--   not cover model, Region and day) | no token counts (e.g. a guardrail block logged without counts)
--   | no output price (output tokens on a row without an output price).
-- `model` is resolved through the estate tables where the log names no base model (application profiles,
-- provisioned models), once `ingest auto` has read them.
-- Columns: day, region, model_id, model, provider, routing, inference_profile, inference_profile_name,
--   inference_profile_tags, has_token_counts, has_output_tokens, requests, requests_with_cache (read or wrote the cache),
--   input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens (sums; NULL where
--   no request had the count), price_class, priced, price_status, price_source, price_row, input_rate,
--   output_rate, cache_read_rate, cache_write_rate, cache_write_1h_rate, batch_input_rate, batch_output_rate,
--   discount_multiplier, input_cost_usd, output_cost_usd, cache_read_cost_usd, cache_write_cost_usd,
--   list_cost_usd (before discount), cost_usd (after the discount in price_settings), uncached_cost_usd (the same
--   tokens with no caching: all input at the input rate, after discount), cache_savings_usd (uncached_cost_usd -
--   cost_usd), batch_cost_usd (the same tokens at batch rates, after discount).
CREATE VIEW usage_costs AS
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
  FROM invocations
  GROUP BY 1, 2, 3, 4, 5
),
usage AS (
  -- Once per group, not per row: min() over the stored string columns compared four strings per row.
  SELECT g.*,
    bedrock_model(g.model_id)['model'] AS model,
    bedrock_model(g.model_id)['provider'] AS provider,
    bedrock_model(g.model_id)['routing'] AS routing,
    bedrock_model(g.model_id)['inference_profile'] AS inference_profile
  FROM grouped g
),
classified AS (
  -- Application profiles and provisioned models name no base model; the estate tables (from `ingest auto`)
  -- resolve them. A profile bills like the model it wraps, at its routing class (regional unless global).
  SELECT u.*,
    coalesce(u.model, ip.model, pt.model) AS resolved_model,
    CASE WHEN u.routing = 'global' THEN 'global' ELSE 'regional' END AS price_class,
    ip.name AS inference_profile_name,
    ip.tags AS inference_profile_tags
  FROM usage u
  LEFT JOIN inference_profiles ip ON u.routing = 'application-profile' AND ip.arn = u.inference_profile
  LEFT JOIN provisioned_throughputs pt ON u.routing = 'provisioned' AND pt.arn = u.model_id
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
  LEFT JOIN prices p ON p.row_id = m.price_row
),
rated AS (
  SELECT s.*,
    CASE s.price_status WHEN 'priced' THEN s.input_per_token WHEN 'no per-token charge' THEN 0 END AS input_rate,
    -- Priced with no output price means no output tokens: that class costs nothing.
    CASE s.price_status WHEN 'priced' THEN coalesce(s.output_per_token, 0) WHEN 'no per-token charge' THEN 0 END
      AS output_rate,
    CASE s.price_status
      WHEN 'priced' THEN coalesce(s.cache_read_per_token, s.input_per_token) WHEN 'no per-token charge' THEN 0
    END AS cache_read_rate,
    CASE s.price_status
      WHEN 'priced' THEN coalesce(s.cache_write_per_token, s.input_per_token) WHEN 'no per-token charge' THEN 0
    END AS cache_write_rate,
    CASE s.price_status
      WHEN 'priced' THEN coalesce(s.cache_write_1h_per_token, s.input_per_token) WHEN 'no per-token charge' THEN 0
    END AS cache_write_1h_rate,
    CASE WHEN s.price_status = 'priced' AND s.batch_output_per_token IS NOT NULL THEN s.batch_input_per_token END
      AS batch_input_rate,
    CASE WHEN s.price_status = 'priced' AND s.batch_input_per_token IS NOT NULL THEN s.batch_output_per_token END
      AS batch_output_rate
  FROM statused s
),
costed AS (
  SELECT r.*, ps.discount_multiplier,
    token_costs(
      coalesce(r.input_tokens, 0), coalesce(r.cache_read_tokens, 0),
      coalesce(r.cache_write_tokens, 0) - coalesce(r.cache_write_1h_tokens, 0), coalesce(r.cache_write_1h_tokens, 0),
      coalesce(r.output_tokens, 0),
      r.input_rate, r.cache_read_rate, r.cache_write_rate, r.cache_write_1h_rate, r.output_rate,
      r.batch_input_rate, r.batch_output_rate, ps.discount_multiplier
    ) AS costs
  FROM rated r
  CROSS JOIN price_settings ps
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
