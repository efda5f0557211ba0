-- View usage_costs: invocations grouped by what decides their price, and what each group cost. The single home
-- of the cost rules: `invocation_costs` applies this view's per-token rates to single requests.
--
-- Grain: one row per (day, region, model_id, service_tier, long_context_floor, has_token_counts,
-- has_output_tokens). `model`, `provider`, `routing` and `inference_profile` are functions of `model_id`:
-- `bedrock_model(model_id)` (ingest's normalizer as a SQL function) gives them once per group, as the current
-- version normalizes the id. Costs are
-- exact decimals, linear in the token counts, with no rounding per request: pricing a group's token sums gives
-- exactly the sum of its requests' costs, over hundreds of groups instead of millions of rows. Summary queries
-- (month, model, day, cache, unpriced) read this view; queries that group by request attributes (caller,
-- metadata, hour) read `invocation_costs`.
--
-- Long context: a request whose total input (input + cache read + cache write tokens) exceeds a model's
--   `long_context_above` threshold is priced at that long-context row for every token class. Each request's
--   `long_context_floor` (the largest threshold in the book its total input exceeds, NULL if none; the function
--   long_context_floor, src/query/long_context.rs) is part of the grain, so a group never mixes requests below
--   and above a threshold and the grouped costs stay exact. A row with threshold N applies when N <= the floor;
--   the largest such N of the model's rows in force wins (`long_context`). If the matching Region, routing or
--   tier has no row at that threshold, the group is not priced ('no price'), never priced at base rates.
-- Service tier: `service_tier` as the record names it (NULL for every log seen so far: whether logs carry it is
--   unconfirmed). `price_tier` is what is priced: default/standard -> standard, flex, priority; NULL -> standard
--   with `tier_assumed` true. A flex or priority request matches only that tier's rows (none -> 'no price');
--   reserved capacity is billed per tokens-per-minute, so `reserved` has no per-token charge.
--
-- Matching a group to a price row (table `prices`, from pricing/bedrock-prices.csv):
--   same normalized `model`; the group's `day` in [effective_from, effective_to); the same tier; the long-context
--   threshold above; a row for the source `region` beats `*`, then a row for its routing class beats `*` (global
--   profiles are `global`, everything else `regional`). Region `*` means every commercial Region: it never
--   prices GovCloud (`us-gov-*`), whose prices differ. The price is the source Region's, never the inference
--   Region's. The book is validated so that each candidate rank finds at most one row.
-- Rates (`*_rate`, USD per token at list price): the matched row's prices; a cache class with no price is charged
--   at the input price. Where the group has no per-token charge they are 0; where it is not priced, NULL, so its
--   costs are NULL, never 0. Batch rates are NULL where batch is not offered.
-- Cost: input*input_rate + cache_read*cache_read_rate + (cache_write - cache_write_1h)*cache_write_rate
--   + cache_write_1h*cache_write_1h_rate + output*output_rate; missing counts are 0. The arithmetic is the SQL
--   function token_costs (src/query/token_costs.rs), written once and called by both cost views.
-- A price row may leave the output price empty (embedding models): requests with no output tokens are priced
--   (output costs nothing); requests with output tokens are unpriced with status `no output price`, never
--   priced at NULL. `has_output_tokens` is part of the grain so that each request takes its own status.
-- price_status: priced | no per-token charge (provisioned, custom, imported, reserved tier: cost lives in the
--   capacity analysis) | unresolved model (the id names no base model, e.g. an application profile) | no price
--   (the book does not cover model, Region, tier, context band and day) | no token counts (e.g. a guardrail block
--   logged without counts) | no output price (output tokens on a row without an output price).
-- `model` is resolved through the estate tables where the log names no base model (application profiles,
-- provisioned models), once `ingest auto` has read them.
-- Columns: day, region, model_id, model, provider, routing, inference_profile, inference_profile_name,
--   inference_profile_tags, service_tier, price_tier, tier_assumed, long_context_floor, long_context,
--   has_token_counts, has_output_tokens, requests, requests_with_cache (read or wrote the cache),
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
    day, region, model_id, service_tier, long_context_floor, has_token_counts, has_output_tokens,
    count(*) AS requests,
    sum(CASE WHEN coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) > 0 THEN 1 ELSE 0 END)
      AS requests_with_cache,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(cache_write_1h_tokens) AS cache_write_1h_tokens
  FROM invocation_keys
  GROUP BY 1, 2, 3, 4, 5, 6, 7
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
    CASE
      WHEN u.service_tier IS NULL OR lower(trim(u.service_tier)) IN ('default', 'standard') THEN 'standard'
      ELSE lower(trim(u.service_tier))
    END AS price_tier,
    u.service_tier IS NULL AS tier_assumed,
    ip.name AS inference_profile_name,
    ip.tags AS inference_profile_tags
  FROM usage u
  LEFT JOIN inference_profiles ip ON u.routing = 'application-profile' AND ip.arn = u.inference_profile
  LEFT JOIN provisioned_throughputs pt ON u.routing = 'provisioned' AND pt.arn = u.model_id
),
candidates AS (
  -- Every row of the group's model in force on its day whose long-context threshold (if any) the group's
  -- requests exceed, with whether it fits the group's tier, Region and routing, and how specifically.
  SELECT c.*,
    p.row_id AS candidate_row,
    p.long_context_above AS candidate_threshold,
    coalesce(
      p.tier = c.price_tier
        AND (p.region = c.region OR (p.region = '*' AND NOT coalesce(c.region LIKE 'us-gov-%', false)))
        AND (p.routing = c.price_class OR p.routing = '*'),
      false
    ) AS candidate_fits,
    CASE WHEN p.region = '*' THEN 2 ELSE 0 END + CASE WHEN p.routing = '*' THEN 1 ELSE 0 END AS candidate_rank
  FROM classified c
  LEFT JOIN prices p ON p.model = c.resolved_model AND c.day >= p.valid_from AND c.day < p.valid_to
    AND (p.long_context_above IS NULL OR p.long_context_above <= c.long_context_floor)
),
banded AS (
  -- The model's long-context threshold that applies: the largest one passed, over all its rows in force (any
  -- Region, routing or tier), so a scope without that long-context row is unpriced rather than priced at base.
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
  c.service_tier, c.price_tier, c.tier_assumed, c.long_context_floor, c.long_context,
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
