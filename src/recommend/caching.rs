//! Rule 2, prompt caching (TTL-aware). The SQL replays each repeated prefix's uncached uses in time order against
//! a simulated cache (a use within the TTL of the previous use reads, any other writes) and prices the result at
//! the book's rates; this rule applies each model's minimum cacheable length (`pricing/cache-minimums.csv`) and
//! picks the cheaper TTL. Where the replay finds no saving but other callers already cache the same prefix, their
//! measured hit rate is the evidence instead (with a lower confidence).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::json;

use super::{Confidence, Error, Kind, Recommendation, Window, build, money, scope};
use crate::query::rows::recommend::{CacheWeek, PrefixReplay};

const MINIMUMS_CSV: &str = include_str!("../../pricing/cache-minimums.csv");

/// Minimum tokens per cache checkpoint, by model (a model not listed has no known minimum: never recommended).
pub(crate) fn minimums() -> Result<BTreeMap<String, i64>, Error> {
    let mut out = BTreeMap::new();
    for (i, line) in MINIMUMS_CSV.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("model,") {
            continue;
        }
        let mut cells = line.split(',');
        let (Some(model), Some(min)) = (cells.next(), cells.next()) else {
            return Err(Error::Table {
                table: "cache-minimums.csv",
                line: i + 1,
                reason: "fewer than 2 columns".into(),
            });
        };
        let min = min.trim().parse::<i64>().map_err(|_| Error::Table {
            table: "cache-minimums.csv",
            line: i + 1,
            reason: format!("min_tokens {min:?} is not an integer"),
        })?;
        out.insert(model.trim().to_string(), min);
    }
    Ok(out)
}

/// The smallest minimum of any model: the SQL leaves shorter prefixes out before replaying.
pub(crate) fn smallest_minimum() -> Result<i64, Error> {
    Ok(minimums()?.values().copied().min().unwrap_or(1024))
}

/// Which TTL a recommendation proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    FiveMinutes,
    OneHour,
}

/// The cheaper TTL and what it saves against `prefix_cost` (5 minutes wins ties: it needs no extra setting).
pub(crate) fn best_ttl(prefix_cost: Decimal, cost_5m: Decimal, cost_1h: Option<Decimal>) -> (Ttl, Decimal) {
    let five = prefix_cost - cost_5m;
    match cost_1h {
        Some(c) if prefix_cost - c > five => (Ttl::OneHour, prefix_cost - c),
        _ => (Ttl::FiveMinutes, five),
    }
}

/// Prompt-caching recommendations from `recommend_prompt_caching` rows.
pub(crate) fn recommend(
    rows: &[PrefixReplay],
    minimums: &BTreeMap<String, i64>,
    window: &Window,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for row in rows {
        let Some(&minimum) = minimums.get(&row.model) else { continue };
        if row.min_prefix_tokens < minimum || row.cache_priced_requests < row.requests {
            continue;
        }
        let (Some(prefix_cost), Some(cost_5m)) = (row.prefix_cost_usd, row.cost_5m_usd) else { continue };
        let (ttl, replay_savings) = best_ttl(prefix_cost, cost_5m, row.cost_1h_usd);
        let short = &row.prefix_hash[..row.prefix_hash.len().min(12)];
        let mut evidence = BTreeMap::new();
        evidence.insert("uncached_requests".into(), json!(row.requests));
        evidence.insert("days_active".into(), json!(row.days_active));
        evidence.insert("prefix_tokens_est".into(), json!(row.min_prefix_tokens));
        evidence.insert("model_minimum_tokens".into(), json!(minimum));
        evidence.insert("prefix_tokens_total_est".into(), json!(row.prefix_tokens));
        evidence.insert("reads_with_5m_ttl".into(), json!(row.reads_5m));
        evidence.insert("reads_with_1h_ttl".into(), json!(row.reads_1h));
        evidence.insert("mean_reuse_interval_seconds".into(), json!(row.mean_gap_seconds));
        evidence.insert("cost_with_5m_ttl_usd".into(), money(cost_5m));
        evidence.insert("cost_with_1h_ttl_usd".into(), row.cost_1h_usd.map(money).unwrap_or(serde_json::Value::Null));
        evidence.insert("already_cached_requests".into(), json!(row.already_cached_requests));
        evidence.insert("callers".into(), json!(row.principals));
        let mut sc = scope([("model", row.model.as_str()), ("region", &row.region), ("prefix_hash", &row.prefix_hash)]);
        if let (1, Some(p)) = (row.principals, &row.principal) {
            sc.insert("principal".into(), p.clone());
        }
        let who = match (row.principals, &row.principal) {
            (1, Some(p)) => p.clone(),
            _ => format!("the {} callers", row.principals),
        };
        if replay_savings > Decimal::ZERO {
            let (ttl_text, reads) = match ttl {
                Ttl::FiveMinutes => ("5-minute", row.reads_5m),
                Ttl::OneHour => ("1-hour", row.reads_1h),
            };
            evidence.insert("ttl".into(), json!(ttl_text));
            out.push(build(
                window,
                Kind::PromptCaching,
                sc,
                prefix_cost,
                replay_savings,
                Confidence::Medium,
                format!(
                    "replayed {} uses against a simulated {ttl_text} cache: {reads} would read it; prefix tokens are \
                     estimated from the prompt text, and the saving holds unless already cached (implicit caching \
                     does not show in the log)",
                    row.requests
                ),
                evidence,
                format!(
                    "Put a cache checkpoint (Converse cachePoint or InvokeModel cache_control{}) after the shared \
                     prefix {short}… that {who} sends to {} in {}.",
                    if ttl == Ttl::OneHour { " with \"ttl\": \"1h\"" } else { "" },
                    row.model,
                    row.region
                ),
            ));
            continue;
        }
        // Sparse reuse by this traffic, but callers already caching the prefix measure a hit rate: that rate
        // (reads over reads + writes) prices the uncached uses linearly between all-read and all-write.
        let measured = row.cached_read_tokens + row.cached_write_tokens;
        let (Some(all_read), Some(all_write)) = (row.all_read_cost_usd, row.all_write_cost_usd) else { continue };
        if measured <= 0 || row.cached_read_tokens <= 0 {
            continue;
        }
        let share = Decimal::from(row.cached_read_tokens) / Decimal::from(measured);
        let with_cache = share * all_read + (Decimal::ONE - share) * all_write;
        let savings = prefix_cost - with_cache;
        if savings <= Decimal::ZERO {
            continue;
        }
        evidence.insert("ttl".into(), json!("5-minute"));
        evidence.insert("measured_read_share".into(), money(share));
        evidence.insert("cached_read_tokens".into(), json!(row.cached_read_tokens));
        evidence.insert("cached_write_tokens".into(), json!(row.cached_write_tokens));
        out.push(build(
            window,
            Kind::PromptCaching,
            sc,
            prefix_cost,
            savings,
            Confidence::Low,
            format!(
                "a time-order replay of these {} uses alone finds too few reuses within any TTL, but requests that \
                 already cache this prefix read it for {}% of their cached tokens; the saving assumes the same rate \
                 and holds unless already cached (implicit caching)",
                row.requests,
                (share * Decimal::from(100)).round_dp(1)
            ),
            evidence,
            format!(
                "{who} sends the prefix {short}… to {} in {} without a cache checkpoint while other requests cache it: \
                 add the same cachePoint after it.",
                row.model, row.region
            ),
        ));
    }
    out
}

/// A cache-read share must have been at least this (percent) to count as a regression when it falls.
const REGRESSION_MIN_SHARE_PCT: i64 = 20;

/// Whether the cache-read share fell sharply from `prev` to `cur`: from at least 20% to half or less.
pub(crate) fn regressed(prev: &CacheWeek, cur: &CacheWeek) -> bool {
    prev.input_tokens > 0
        && cur.input_tokens > 0
        && prev.cache_read_tokens * 100 >= prev.input_tokens * REGRESSION_MIN_SHARE_PCT
        // cur_share <= prev_share / 2, cross-multiplied to stay in integers.
        && i128::from(cur.cache_read_tokens) * i128::from(prev.input_tokens) * 2
            <= i128::from(prev.cache_read_tokens) * i128::from(cur.input_tokens)
}

/// Cache regressions: a caller and model whose cache-read share fell sharply from one week to the next (the latest
/// such fall in the window). The saving is what the later week would have saved at the earlier week's savings per
/// uncached dollar, minus what it did save; monthly = that weekly shortfall x 30 / 7 while it lasts.
pub(crate) fn regressions(weeks: &[CacheWeek], min_requests: u32, window: &Window) -> Vec<Recommendation> {
    // Rows come sorted by caller, model, Region and week: a later regression of the same traffic replaces an
    // earlier one, so each keeps only its latest.
    let mut latest: BTreeMap<(&str, &str, &str), Recommendation> = BTreeMap::new();
    for pair in weeks.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let same = prev.principal == cur.principal && prev.model == cur.model && prev.region == cur.region;
        if !same || (cur.week - prev.week).num_days() != 7 || cur.requests < i64::from(min_requests) {
            continue;
        }
        if !regressed(prev, cur) || prev.uncached_cost_usd <= Decimal::ZERO {
            continue;
        }
        let rate = prev.cache_savings_usd / prev.uncached_cost_usd;
        let shortfall = cur.uncached_cost_usd * rate - cur.cache_savings_usd;
        if shortfall <= Decimal::ZERO {
            continue;
        }
        let share = |w: &CacheWeek| {
            (Decimal::from(w.cache_read_tokens) * Decimal::from(100) / Decimal::from(w.input_tokens)).round_dp(1)
        };
        let mut evidence = BTreeMap::new();
        evidence.insert("previous_week".into(), json!(prev.week.to_string()));
        evidence.insert("week".into(), json!(cur.week.to_string()));
        evidence.insert("previous_cache_read_share_pct".into(), money(share(prev)));
        evidence.insert("cache_read_share_pct".into(), money(share(cur)));
        evidence.insert("previous_cache_savings_usd".into(), money(prev.cache_savings_usd));
        evidence.insert("cache_savings_usd".into(), money(cur.cache_savings_usd));
        evidence.insert("requests".into(), json!(cur.requests));
        let mut r = build(
            window,
            Kind::CacheRegression,
            scope([("principal", cur.principal.as_str()), ("model", &cur.model), ("region", &cur.region)]),
            cur.cost_usd,
            shortfall,
            Confidence::Medium,
            format!(
                "the cache-read share fell from {}% in the week of {} to {}% in the week of {}; the shortfall assumes \
                 the traffic could cache as before (a changed prompt, a removed cachePoint or a new prefix)",
                share(prev),
                prev.week,
                share(cur),
                cur.week
            ),
            evidence,
            format!(
                "Check what changed in {}'s prompts to {} around {}: a cache checkpoint removed, or text before it \
                 that now varies per request.",
                cur.principal, cur.model, cur.week
            ),
        );
        r.monthly_savings_usd = (shortfall * Decimal::from(30) / Decimal::from(7)).round_dp(6);
        latest.insert((&cur.principal, &cur.model, &cur.region), r);
    }
    latest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_minimums_load_and_follow_the_guide() {
        let m = minimums().unwrap();
        assert_eq!(m["anthropic.claude-3-5-haiku-20241022-v1:0"], 2048);
        assert_eq!(m["anthropic.claude-opus-4-5-20251101-v1:0"], 4096);
        assert_eq!(m["anthropic.claude-sonnet-4-20250514-v1:0"], 1024);
        assert!(!m.contains_key("anthropic.claude-3-haiku-20240307-v1:0"), "no cache support, no minimum");
        assert_eq!(smallest_minimum().unwrap(), 1000);
    }

    fn week(read: i64, input: i64) -> CacheWeek {
        CacheWeek {
            principal: "p".into(),
            model: "m".into(),
            region: "r".into(),
            week: chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            requests: 10,
            input_tokens: input,
            cache_read_tokens: read,
            cost_usd: Decimal::ZERO,
            uncached_cost_usd: Decimal::ZERO,
            cache_savings_usd: Decimal::ZERO,
        }
    }

    #[test]
    fn a_regression_is_a_sharp_fall_from_a_real_share() {
        assert!(regressed(&week(800, 1000), &week(100, 1000)));
        assert!(regressed(&week(800, 1000), &week(400, 1000)), "exactly half");
        assert!(!regressed(&week(800, 1000), &week(500, 1000)), "a dip, not a fall");
        assert!(!regressed(&week(100, 1000), &week(0, 1000)), "10% was never real caching");
    }

    #[test]
    fn the_cheaper_ttl_wins() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(best_ttl(d("10"), d("4"), Some(d("3"))), (Ttl::OneHour, d("7")));
        assert_eq!(best_ttl(d("10"), d("4"), Some(d("6"))), (Ttl::FiveMinutes, d("6")));
        assert_eq!(best_ttl(d("10"), d("12"), None), (Ttl::FiveMinutes, d("-2")));
    }
}
