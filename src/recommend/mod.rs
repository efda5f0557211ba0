//! The recommender: finds money in the warehouse. Each rule reads typed rows from the query session (never Arrow
//! batches), prices what it proposes with the price book through the same exact decimal rules as every other
//! cost, and returns [`Recommendation`]s with their evidence and an honest confidence. Rules are pure functions
//! of typed rows; only [`recommend`] talks to the session.

mod batch;
mod caching;
mod lifecycle;
pub mod render;
mod reprice;
mod throughput;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::RecommendConfig;
use crate::query::rows::recommend::{
    BatchHour, CacheWeek, MinuteDemand, ModelDayTraffic, PrefixReplay, ProvisionedPrice, ProvisionedUsage,
    RegionErrors, TokenPriceRow,
};
use crate::query::{CachedView, Params, Period, Session};

/// What kind of move a recommendation proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Batch,
    PromptCaching,
    CacheRegression,
    ProvisionedThroughput,
    ReservedTier,
    UnusedProvisionedThroughput,
    Routing,
    ModelLifecycle,
    FlexTier,
}

/// How sure the recommendation is, given what the logs cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// One recommendation. JSON keys are the field names; money serializes as numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Stable across re-runs on the same data: derived from the kind and the scope.
    pub id: String,
    pub kind: Kind,
    /// The traffic it concerns: model, region, principal, metadata key/value, prefix fingerprint, profile...
    pub scope: BTreeMap<String, String>,
    /// What that traffic cost over the analysed window.
    #[serde(with = "rust_decimal::serde::float")]
    pub current_cost_usd: Decimal,
    /// What the move saves over the analysed window (0 for reliability moves; negative is a stated increase).
    #[serde(with = "rust_decimal::serde::float")]
    pub savings_usd: Decimal,
    /// `savings_usd` normalised to 30 days of the window's activity.
    #[serde(with = "rust_decimal::serde::float")]
    pub monthly_savings_usd: Decimal,
    pub confidence: Confidence,
    pub confidence_reason: String,
    /// The numbers that justify it.
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// One or two sentences a developer can act on.
    pub action: String,
}

/// Errors of the recommender.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Query(#[from] crate::query::Error),
    #[error("bundled table pricing/{table} line {line}: {reason}")]
    Table { table: &'static str, line: usize, reason: String },
}

/// The analysed window as the rules see it: its bounds and how many of its days carry data (savings are
/// normalised to 30 of those days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: NaiveDate,
    /// Exclusive.
    pub until: NaiveDate,
    /// Days from the first to the last day with data inside the window (at least 1).
    pub activity_days: i64,
}

impl Window {
    /// `savings` over the window scaled to 30 days of activity.
    pub fn monthly(&self, savings: Decimal) -> Decimal {
        (savings * Decimal::from(30) / Decimal::from(self.activity_days.max(1))).round_dp(6)
    }

    /// The last day of the window.
    pub fn last_day(&self) -> NaiveDate {
        self.until.pred_opt().unwrap_or(self.until)
    }
}

/// A stable id: the kind and a 64-bit FNV-1a hash of the sorted scope (the same traffic gets the same id on every
/// run over the same data).
pub fn recommendation_id(kind: Kind, scope: &BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in scope {
        for byte in k.bytes().chain([0u8]).chain(v.bytes()).chain([0xffu8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let kind = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    format!("{kind}-{hash:016x}")
}

/// Build a recommendation from its parts, deriving `id` and `monthly_savings_usd`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    window: &Window,
    kind: Kind,
    scope: BTreeMap<String, String>,
    current_cost_usd: Decimal,
    savings_usd: Decimal,
    confidence: Confidence,
    confidence_reason: String,
    evidence: BTreeMap<String, serde_json::Value>,
    action: String,
) -> Recommendation {
    let savings_usd = savings_usd.round_dp(6);
    Recommendation {
        id: recommendation_id(kind, &scope),
        kind,
        scope,
        current_cost_usd: current_cost_usd.round_dp(6),
        savings_usd,
        monthly_savings_usd: window.monthly(savings_usd),
        confidence,
        confidence_reason,
        evidence,
        action,
    }
}

/// A scope from pairs.
pub(crate) fn scope<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A decimal (money, a share, a rate) as a JSON number for evidence, to six places; the value is computed exactly
/// and only converted at the edge, as the contract's money fields are.
pub(crate) fn money(value: Decimal) -> serde_json::Value {
    rust_decimal::serde::float::serialize(&value.round_dp(6), serde_json::value::Serializer)
        .unwrap_or(serde_json::Value::Null)
}

/// Rank (largest monthly savings first, then kind and id so the order is stable) and drop the positive savings
/// below the minimum. Recommendations with no saving (reliability, evidence, a quote to ask for, a stated increase)
/// are kept: they are not savings claims the minimum could weigh. The amount orders them after every saving (a
/// saving is above zero), so they never push one down the list.
pub fn rank(mut all: Vec<Recommendation>, min_monthly_savings_usd: Decimal) -> Vec<Recommendation> {
    all.retain(|r| r.monthly_savings_usd <= Decimal::ZERO || r.monthly_savings_usd >= min_monthly_savings_usd);
    all.sort_by(|a, b| {
        b.monthly_savings_usd.cmp(&a.monthly_savings_usd).then(a.kind.cmp(&b.kind)).then(a.id.cmp(&b.id))
    });
    all
}

/// Every recommendation for the traffic in `period`, ranked by monthly savings (largest first), positive savings
/// below `config.min_monthly_savings_usd` left out.
pub async fn recommend(
    session: &Session,
    period: &Period,
    config: &RecommendConfig,
) -> Result<Vec<Recommendation>, Error> {
    // The rules read `usage_costs` and `request_groups` over this period many times (directly, and as the rates
    // and groups of the queries that price group by group): compute each once.
    session.group_by_metadata(&config.batch_group_by_metadata).await?;
    session.cache_period(CachedView::UsageCosts, period).await?;
    session.cache_period(CachedView::RequestGroups, period).await?;
    let extent = session.extent().await?;
    let (Some(first), Some(last)) = (extent.first_day, extent.last_day) else {
        return Ok(Vec::new());
    };
    let start = first.max(period.since());
    let end = last.min(period.until().pred_opt().unwrap_or(period.until()));
    if end < start {
        return Ok(Vec::new());
    }
    let window = Window { since: period.since(), until: period.until(), activity_days: (end - start).num_days() + 1 };
    let params = Params::new().period(period);
    let caching_params = params
        .clone()
        .int("min_requests", i64::from(config.cache_min_requests))
        .int("min_prefix_tokens", caching::smallest_minimum()?);

    // The queries are independent: run them together so a plan's serial phases overlap with the others' work, in
    // two waves so that the two that group the minute rows again (batch, throughput) never hold their hash tables
    // at the same time (together they took recommend's peak memory over 1 GB at 10M records).
    let none = Params::new();
    let (batch_rows, prefixes, pt_prices, traffic, book, weeks) = tokio::try_join!(
        session.rows::<BatchHour>(&params),
        session.rows::<PrefixReplay>(&caching_params),
        session.rows::<ProvisionedPrice>(&none),
        session.rows::<ModelDayTraffic>(&params),
        session.rows::<TokenPriceRow>(&none),
        session.rows::<CacheWeek>(&params),
    )?;
    let (demand, estate, errors) = tokio::try_join!(
        session.rows::<MinuteDemand>(&params),
        session.rows::<ProvisionedUsage>(&params),
        session.rows::<RegionErrors>(&params),
    )?;

    let pt_prices = throughput::with_capacities(pt_prices, &config.provisioned_capacity);
    let mut all = batch::recommend(&batch_rows, config, &window);
    all.extend(caching::recommend(&prefixes, &caching::minimums()?, &window));
    all.extend(caching::regressions(&weeks, config.cache_min_requests, &window));
    all.extend(throughput::recommend(&demand, &pt_prices, config, &window));
    all.extend(throughput::unused(&estate, &pt_prices, &window));
    all.extend(lifecycle::recommend(&traffic, &book, &lifecycle::table()?, config, &window));
    all.extend(reprice::routing(&traffic, &book, &window));
    all.extend(reprice::reliability(&errors, &window));
    Ok(rank(all, config.min_monthly_savings_usd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: Kind, monthly: i64) -> Recommendation {
        let window = Window {
            since: NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            until: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            activity_days: 30,
        };
        build(
            &window,
            kind,
            scope([("model", &format!("m{monthly}"))]),
            Decimal::from(100),
            Decimal::from(monthly),
            Confidence::High,
            String::new(),
            BTreeMap::new(),
            String::new(),
        )
    }

    #[test]
    fn ids_are_stable_and_depend_on_kind_and_scope() {
        let a = scope([("model", "x"), ("region", "us-east-1")]);
        let b = scope([("region", "us-east-1"), ("model", "x")]);
        assert_eq!(recommendation_id(Kind::Batch, &a), recommendation_id(Kind::Batch, &b));
        assert_ne!(recommendation_id(Kind::Batch, &a), recommendation_id(Kind::FlexTier, &a));
        assert_ne!(recommendation_id(Kind::Batch, &a), recommendation_id(Kind::Batch, &scope([("model", "y")])));
        assert!(recommendation_id(Kind::PromptCaching, &a).starts_with("prompt-caching-"));
    }

    #[test]
    fn monthly_savings_scale_to_thirty_days_of_activity() {
        let w = Window {
            since: NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            until: NaiveDate::from_ymd_opt(2025, 12, 11).unwrap(),
            activity_days: 10,
        };
        assert_eq!(w.monthly(Decimal::from(7)), Decimal::from(21));
    }

    #[test]
    fn ranking_sorts_by_monthly_savings_and_keeps_non_savings() {
        let ranked = rank(vec![rec(Kind::Batch, 3), rec(Kind::Routing, 0), rec(Kind::PromptCaching, 50)], 5.into());
        let kinds: Vec<Kind> = ranked.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, vec![Kind::PromptCaching, Kind::Routing], "3 < 5 is dropped, 0 (no claim) is kept");
    }

    #[test]
    fn no_saving_never_precedes_a_saving() {
        // Kinds that sort before Batch in the tie-break, with no saving or an increase, and the smallest saving
        // there is (a millionth of a dollar a month) on the kind that sorts last.
        let mut tiny = rec(Kind::FlexTier, 0);
        tiny.monthly_savings_usd = Decimal::new(1, 6);
        let all = vec![
            rec(Kind::ProvisionedThroughput, 0),
            rec(Kind::ModelLifecycle, -4),
            tiny,
            rec(Kind::Batch, 0),
            rec(Kind::Batch, 7),
        ];
        let ranked = rank(all, Decimal::ZERO);
        let monthly: Vec<Decimal> = ranked.iter().map(|r| r.monthly_savings_usd).collect();
        let expected: Vec<Decimal> = ["7", "0.000001", "0", "0", "-4"].iter().map(|d| d.parse().unwrap()).collect();
        assert_eq!(monthly, expected);
        let first_without = ranked.iter().position(|r| r.monthly_savings_usd <= Decimal::ZERO).unwrap();
        assert!(
            ranked[first_without..].iter().all(|r| r.monthly_savings_usd <= Decimal::ZERO),
            "a recommendation without a saving precedes a saving: {monthly:?}"
        );
        assert_eq!((ranked[2].kind, ranked[3].kind), (Kind::Batch, Kind::ProvisionedThroughput), "ties by kind");
    }
}
