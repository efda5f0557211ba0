//! Typed rows of the recommender's named queries (`queries/recommend_*.sql`). Money is exact [`Decimal`]; token
//! counts are integers; nothing here is interpreted, the rules in `crate::recommend` do that.

use chrono::NaiveDate;

use super::{Columns, Decimal, DecodeError, TypedQuery};

/// `recommend_batch`: one caller, model, Region and UTC hour of day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHour {
    pub principal: String,
    pub model: String,
    pub region: String,
    /// The values of the `$metadata_keys` given, in order (`""` where a request does not carry the key or fewer
    /// keys were given).
    pub metadata: [String; 3],
    pub hour_of_day: i64,
    /// Candidate requests: non-streaming, not stopped for tool use, with a batch price.
    pub requests: i64,
    pub days_active: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// `None` where the hour has no candidate.
    pub cost_usd: Option<Decimal>,
    pub batch_cost_usd: Option<Decimal>,
    pub streaming_requests: i64,
    pub tool_use_requests: i64,
    /// Candidates whose log has no stop reason (tool use unknown).
    pub unknown_stop_requests: i64,
    pub peak_minute_requests: i64,
}

impl TypedQuery for BatchHour {
    const QUERY: &'static str = "recommend_batch";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (principal, model, region) = (c.texts("principal")?, c.texts("model")?, c.texts("region")?);
        let metadata = [c.texts("metadata_1")?, c.texts("metadata_2")?, c.texts("metadata_3")?];
        let (hour, requests, days) = (c.ints("hour_of_day")?, c.ints("requests")?, c.ints("days_active")?);
        let (input, output) = (c.ints("input_tokens")?, c.ints("output_tokens")?);
        let (cost, batch) = (c.decimals("cost_usd")?, c.decimals("batch_cost_usd")?);
        let (streaming, tool_use) = (c.ints("streaming_requests")?, c.ints("tool_use_requests")?);
        let (unknown, peak) = (c.ints("unknown_stop_requests")?, c.ints("peak_minute_requests")?);
        (0..c.len())
            .map(|i| {
                Ok(BatchHour {
                    principal: principal.req(i)?,
                    model: model.req(i)?,
                    region: region.req(i)?,
                    metadata: [metadata[0].req(i)?, metadata[1].req(i)?, metadata[2].req(i)?],
                    hour_of_day: hour.req(i)?,
                    requests: requests.req(i)?,
                    days_active: days.req(i)?,
                    input_tokens: input.req(i)?,
                    output_tokens: output.req(i)?,
                    cost_usd: cost.get(i)?,
                    batch_cost_usd: batch.get(i)?,
                    streaming_requests: streaming.req(i)?,
                    tool_use_requests: tool_use.req(i)?,
                    unknown_stop_requests: unknown.req(i)?,
                    peak_minute_requests: peak.req(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_prompt_caching`: one repeated prefix on one model and Region, replayed against a simulated cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixReplay {
    pub prefix_hash: String,
    pub model: String,
    pub region: String,
    pub principals: i64,
    pub principal: Option<String>,
    pub requests: i64,
    pub days_active: i64,
    pub min_prefix_tokens: i64,
    pub prefix_tokens: i64,
    pub reads_5m: i64,
    pub reads_1h: i64,
    pub read_tokens_5m: i64,
    pub read_tokens_1h: i64,
    pub mean_gap_seconds: Option<i64>,
    /// `None` where a day had no rates (cannot happen for priced rows; kept honest).
    pub prefix_cost_usd: Option<Decimal>,
    /// `None` where the book has no cache-read or cache-write price on some day.
    pub cost_5m_usd: Option<Decimal>,
    /// `None` where the book has no 1-hour write price on some day.
    pub cost_1h_usd: Option<Decimal>,
    /// The prefix tokens if every use read the cache, or if every use wrote it (5-minute price).
    pub all_read_cost_usd: Option<Decimal>,
    pub all_write_cost_usd: Option<Decimal>,
    pub cache_priced_requests: i64,
    pub already_cached_requests: i64,
    pub cached_read_tokens: i64,
    pub cached_write_tokens: i64,
}

impl TypedQuery for PrefixReplay {
    const QUERY: &'static str = "recommend_prompt_caching";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (hash, model, region) = (c.texts("prefix_hash")?, c.texts("model")?, c.texts("region")?);
        let (principals, principal) = (c.ints("principals")?, c.texts("principal")?);
        let (requests, days, min_tokens) = (c.ints("requests")?, c.ints("days_active")?, c.ints("min_prefix_tokens")?);
        let (tokens, reads_5m, reads_1h) = (c.ints("prefix_tokens")?, c.ints("reads_5m")?, c.ints("reads_1h")?);
        let (read_5m, read_1h, gap) =
            (c.ints("read_tokens_5m")?, c.ints("read_tokens_1h")?, c.ints("mean_gap_seconds")?);
        let (prefix_cost, cost_5m, cost_1h) =
            (c.decimals("prefix_cost_usd")?, c.decimals("cost_5m_usd")?, c.decimals("cost_1h_usd")?);
        let (all_read, all_write) = (c.decimals("all_read_cost_usd")?, c.decimals("all_write_cost_usd")?);
        let (cache_priced, cached) = (c.ints("cache_priced_requests")?, c.ints("already_cached_requests")?);
        let (cached_read, cached_write) = (c.ints("cached_read_tokens")?, c.ints("cached_write_tokens")?);
        (0..c.len())
            .map(|i| {
                Ok(PrefixReplay {
                    prefix_hash: hash.req(i)?,
                    model: model.req(i)?,
                    region: region.req(i)?,
                    principals: principals.req(i)?,
                    principal: principal.get(i),
                    requests: requests.req(i)?,
                    days_active: days.req(i)?,
                    min_prefix_tokens: min_tokens.req(i)?,
                    prefix_tokens: tokens.req(i)?,
                    reads_5m: reads_5m.req(i)?,
                    reads_1h: reads_1h.req(i)?,
                    read_tokens_5m: read_5m.req(i)?,
                    read_tokens_1h: read_1h.req(i)?,
                    mean_gap_seconds: gap.get(i),
                    prefix_cost_usd: prefix_cost.get(i)?,
                    cost_5m_usd: cost_5m.get(i)?,
                    cost_1h_usd: cost_1h.get(i)?,
                    all_read_cost_usd: all_read.get(i)?,
                    all_write_cost_usd: all_write.get(i)?,
                    cache_priced_requests: cache_priced.req(i)?,
                    already_cached_requests: cached.req(i)?,
                    cached_read_tokens: cached_read.req(i)?,
                    cached_write_tokens: cached_write.req(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_throughput`: per-minute token demand of one model in one Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteDemand {
    pub model: String,
    pub region: String,
    pub requests: i64,
    pub days_active: i64,
    pub active_minutes: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub p99_minute_tokens: i64,
    pub p99_minute_input_tokens: i64,
    pub p99_minute_output_tokens: i64,
    pub peak_minute_tokens: i64,
    pub hours_of_day: i64,
    pub quietest_hour_requests: i64,
    pub busiest_hour_requests: i64,
    pub cost_usd: Option<Decimal>,
}

impl TypedQuery for MinuteDemand {
    const QUERY: &'static str = "recommend_throughput";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, region, requests) = (c.texts("model")?, c.texts("region")?, c.ints("requests")?);
        let (days, minutes) = (c.ints("days_active")?, c.ints("active_minutes")?);
        let (input, output) = (c.ints("input_tokens")?, c.ints("output_tokens")?);
        let (p99, p99_in, p99_out) =
            (c.ints("p99_minute_tokens")?, c.ints("p99_minute_input_tokens")?, c.ints("p99_minute_output_tokens")?);
        let (peak, hours) = (c.ints("peak_minute_tokens")?, c.ints("hours_of_day")?);
        let (quiet, busy, cost) =
            (c.ints("quietest_hour_requests")?, c.ints("busiest_hour_requests")?, c.decimals("cost_usd")?);
        (0..c.len())
            .map(|i| {
                Ok(MinuteDemand {
                    model: model.req(i)?,
                    region: region.req(i)?,
                    requests: requests.req(i)?,
                    days_active: days.req(i)?,
                    active_minutes: minutes.req(i)?,
                    input_tokens: input.req(i)?,
                    output_tokens: output.req(i)?,
                    p99_minute_tokens: p99.req(i)?,
                    p99_minute_input_tokens: p99_in.req(i)?,
                    p99_minute_output_tokens: p99_out.req(i)?,
                    peak_minute_tokens: peak.req(i)?,
                    hours_of_day: hours.req(i)?,
                    quietest_hour_requests: quiet.req(i)?,
                    busiest_hour_requests: busy.req(i)?,
                    cost_usd: cost.get(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_provisioned_prices`: one Provisioned Throughput price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedPrice {
    pub model: String,
    pub region: String,
    pub commitment: String,
    pub price_per_mu_hour: Decimal,
    pub input_tpm_per_mu: Option<i64>,
    pub output_tpm_per_mu: Option<i64>,
}

impl TypedQuery for ProvisionedPrice {
    const QUERY: &'static str = "recommend_provisioned_prices";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, region, commitment) = (c.texts("model")?, c.texts("region")?, c.texts("commitment")?);
        let (price, input, output) =
            (c.decimals("price_per_mu_hour")?, c.ints("input_tpm_per_mu")?, c.ints("output_tpm_per_mu")?);
        (0..c.len())
            .map(|i| {
                Ok(ProvisionedPrice {
                    model: model.req(i)?,
                    region: region.req(i)?,
                    commitment: commitment.req(i)?,
                    price_per_mu_hour: price.req(i)?,
                    input_tpm_per_mu: input.get(i),
                    output_tpm_per_mu: output.get(i),
                })
            })
            .collect()
    }
}

/// `recommend_model_traffic`: one day of priced on-demand traffic of a model, Region and price class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDayTraffic {
    pub model: String,
    pub region: String,
    pub price_class: String,
    pub day: NaiveDate,
    pub requests: i64,
    pub input_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_5m_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: Decimal,
    pub discount_multiplier: Decimal,
}

impl TypedQuery for ModelDayTraffic {
    const QUERY: &'static str = "recommend_model_traffic";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, region, class, day) =
            (c.texts("model")?, c.texts("region")?, c.texts("price_class")?, c.dates("day")?);
        let (requests, input, read) = (c.ints("requests")?, c.ints("input_tokens")?, c.ints("cache_read_tokens")?);
        let (w5, w1, output) =
            (c.ints("cache_write_5m_tokens")?, c.ints("cache_write_1h_tokens")?, c.ints("output_tokens")?);
        let (cost, multiplier) = (c.decimals("cost_usd")?, c.decimals("discount_multiplier")?);
        (0..c.len())
            .map(|i| {
                Ok(ModelDayTraffic {
                    model: model.req(i)?,
                    region: region.req(i)?,
                    price_class: class.req(i)?,
                    day: day.req(i)?,
                    requests: requests.req(i)?,
                    input_tokens: input.req(i)?,
                    cache_read_tokens: read.req(i)?,
                    cache_write_5m_tokens: w5.req(i)?,
                    cache_write_1h_tokens: w1.req(i)?,
                    output_tokens: output.req(i)?,
                    cost_usd: cost.req(i)?,
                    discount_multiplier: multiplier.req(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_model_prices`: one per-token price row of the book (USD per token; `None` = not offered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPriceRow {
    pub model: String,
    pub region: String,
    pub routing: String,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
    pub input_per_token: Option<Decimal>,
    pub output_per_token: Option<Decimal>,
    pub cache_read_per_token: Option<Decimal>,
    pub cache_write_per_token: Option<Decimal>,
    pub cache_write_1h_per_token: Option<Decimal>,
}

impl TypedQuery for TokenPriceRow {
    const QUERY: &'static str = "recommend_model_prices";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, region, routing) = (c.texts("model")?, c.texts("region")?, c.texts("routing")?);
        let (from, to) = (c.dates("effective_from")?, c.dates("effective_to")?);
        let (input, output, read) =
            (c.decimals("input_per_token")?, c.decimals("output_per_token")?, c.decimals("cache_read_per_token")?);
        let (write, write_1h) = (c.decimals("cache_write_per_token")?, c.decimals("cache_write_1h_per_token")?);
        (0..c.len())
            .map(|i| {
                Ok(TokenPriceRow {
                    model: model.req(i)?,
                    region: region.req(i)?,
                    routing: routing.req(i)?,
                    effective_from: from.get(i),
                    effective_to: to.get(i),
                    input_per_token: input.get(i)?,
                    output_per_token: output.get(i)?,
                    cache_read_per_token: read.get(i)?,
                    cache_write_per_token: write.get(i)?,
                    cache_write_1h_per_token: write_1h.get(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_cache_weeks`: one caller's prompt-cache use of a model in one week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheWeek {
    pub principal: String,
    pub model: String,
    pub region: String,
    pub week: NaiveDate,
    pub requests: i64,
    pub input_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_usd: Decimal,
    pub uncached_cost_usd: Decimal,
    pub cache_savings_usd: Decimal,
}

impl TypedQuery for CacheWeek {
    const QUERY: &'static str = "recommend_cache_weeks";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (principal, model, region, week) =
            (c.texts("principal")?, c.texts("model")?, c.texts("region")?, c.dates("week")?);
        let (requests, input, read) = (c.ints("requests")?, c.ints("input_tokens")?, c.ints("cache_read_tokens")?);
        let (cost, uncached, savings) =
            (c.decimals("cost_usd")?, c.decimals("uncached_cost_usd")?, c.decimals("cache_savings_usd")?);
        (0..c.len())
            .map(|i| {
                Ok(CacheWeek {
                    principal: principal.req(i)?,
                    model: model.req(i)?,
                    region: region.req(i)?,
                    week: week.req(i)?,
                    requests: requests.req(i)?,
                    input_tokens: input.req(i)?,
                    cache_read_tokens: read.req(i)?,
                    cost_usd: cost.req(i)?,
                    uncached_cost_usd: uncached.req(i)?,
                    cache_savings_usd: savings.req(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_provisioned_usage`: one Provisioned Throughput (or provisioned ARN the logs call) and its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedUsage {
    pub region: String,
    pub arn: String,
    /// `None` where the estate does not list the ARN.
    pub name: Option<String>,
    pub model: Option<String>,
    pub model_units: Option<i64>,
    pub commitment: Option<String>,
    pub status: Option<String>,
    pub commitment_expires_at: Option<String>,
    pub requests: i64,
    pub active_minutes: i64,
    pub peak_minute_input_tokens: i64,
    pub peak_minute_output_tokens: i64,
}

impl TypedQuery for ProvisionedUsage {
    const QUERY: &'static str = "recommend_provisioned_usage";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (region, arn, name, model) = (c.texts("region")?, c.texts("arn")?, c.texts("name")?, c.texts("model")?);
        let (units, commitment, status) = (c.ints("model_units")?, c.texts("commitment")?, c.texts("status")?);
        let (expires, requests, minutes) =
            (c.texts("commitment_expires_at")?, c.ints("requests")?, c.ints("active_minutes")?);
        let (peak_in, peak_out) = (c.ints("peak_minute_input_tokens")?, c.ints("peak_minute_output_tokens")?);
        (0..c.len())
            .map(|i| {
                Ok(ProvisionedUsage {
                    region: region.req(i)?,
                    arn: arn.req(i)?,
                    name: name.get(i),
                    model: model.get(i),
                    model_units: units.get(i),
                    commitment: commitment.get(i),
                    status: status.get(i),
                    commitment_expires_at: expires.get(i),
                    requests: requests.req(i)?,
                    active_minutes: minutes.req(i)?,
                    peak_minute_input_tokens: peak_in.req(i)?,
                    peak_minute_output_tokens: peak_out.req(i)?,
                })
            })
            .collect()
    }
}

/// `recommend_errors_by_region`: requests and failures of one model, source Region and routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionErrors {
    pub model: String,
    pub region: String,
    pub routing: String,
    pub requests: i64,
    pub throttled: i64,
    pub server_errors: i64,
}

impl TypedQuery for RegionErrors {
    const QUERY: &'static str = "recommend_errors_by_region";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, region, routing) = (c.texts("model")?, c.texts("region")?, c.texts("routing")?);
        let (requests, throttled, server) = (c.ints("requests")?, c.ints("throttled")?, c.ints("server_errors")?);
        (0..c.len())
            .map(|i| {
                Ok(RegionErrors {
                    model: model.req(i)?,
                    region: region.req(i)?,
                    routing: routing.req(i)?,
                    requests: requests.req(i)?,
                    throttled: throttled.req(i)?,
                    server_errors: server.req(i)?,
                })
            })
            .collect()
    }
}
