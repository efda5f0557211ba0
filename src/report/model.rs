//! [`MonthlyReport`]: the numbers of one month, built from typed query rows by a pure function
//! ([`MonthlyReport::build`]). [`gather`] is the one place that asks the query session and the recommender for
//! those rows; it never picks Arrow batches apart and holds no SQL. The JSON renderer serializes this struct as
//! is, so its field names are the documented JSON schema (README, "Report JSON").

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::query::rows::{
    DayModelSpend, DayRegionCoverage, MetadataSpend, ModelSpend, MonthSummary, PriceSource, PrincipalSpend,
    UnpricedUsage,
};
use crate::query::{CachedView, Params, Period, Session};
use crate::recommend::Recommendation;

/// Version of the JSON layout; bumped when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// Models drawn as their own series in the daily chart; the rest are summed as `other`.
pub const CHART_MAX_SERIES: usize = 7;

/// Everything the report shows, before formatting. Money is exact (`Decimal`, a JSON string); `None` is unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthlyReport {
    pub schema_version: u32,
    /// `YYYY-MM`.
    pub month: String,
    /// First day (inclusive).
    pub since: NaiveDate,
    /// The day after the last (exclusive).
    pub until: NaiveDate,
    pub totals: Totals,
    /// The month before, for the change; `None` when that month has no data at all.
    pub previous: Option<Totals>,
    pub change: Change,
    pub models: Vec<ModelLine>,
    pub daily: Daily,
    pub principals: Vec<PrincipalLine>,
    pub metadata: Vec<MetadataBreakdown>,
    pub cache: Cache,
    pub recommendations: Recommendations,
    pub unpriced: Unpriced,
    pub coverage: Coverage,
    pub prices: Prices,
}

/// A month's totals (`month_summary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub month: String,
    pub requests: i64,
    pub priced_requests: i64,
    pub unpriced_requests: i64,
    pub unpriced_tokens: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    /// Before the discount.
    pub list_cost_usd: Option<Decimal>,
    /// After the discount, priced requests only (unpriced spend is unknown and not in it).
    pub cost_usd: Option<Decimal>,
    pub cache_savings_usd: Option<Decimal>,
}

impl From<MonthSummary> for Totals {
    fn from(s: MonthSummary) -> Totals {
        Totals {
            month: s.month,
            requests: s.requests,
            priced_requests: s.priced_requests,
            unpriced_requests: s.unpriced_requests,
            unpriced_tokens: s.unpriced_tokens,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cache_read_tokens: s.cache_read_tokens,
            cache_write_tokens: s.cache_write_tokens,
            list_cost_usd: s.list_cost_usd,
            cost_usd: s.cost_usd,
            cache_savings_usd: s.cache_savings_usd,
        }
    }
}

/// This month against the previous one. `None` where either side is unknown or the base is zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub requests: Option<i64>,
    /// Ratio (0.25 = +25%).
    pub requests_ratio: Option<Decimal>,
    pub cost_usd: Option<Decimal>,
    pub cost_ratio: Option<Decimal>,
}

/// One model's month (`spend_by_model`), with its share of the priced spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelLine {
    pub model: String,
    pub routing: String,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cost_usd: Option<Decimal>,
    pub cache_savings_usd: Option<Decimal>,
    pub unpriced_requests: i64,
    /// Share of the month's priced spend (ratio); `None` when unknown.
    pub cost_share: Option<Decimal>,
}

/// The daily chart's data: one series per model (the top [`CHART_MAX_SERIES`] by spend, then `other`), one value
/// per day of the month (priced spend; 0 where the day had none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Daily {
    pub days: Vec<NaiveDate>,
    pub series: Vec<Series>,
    /// Priced spend per day, all models.
    pub totals: Vec<Decimal>,
}

/// One stacked series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    pub name: String,
    /// One per day of [`Daily::days`].
    pub cost_usd: Vec<Decimal>,
}

/// One caller's month (`spend_by_principal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalLine {
    pub principal: String,
    pub account_id: Option<String>,
    pub requests: i64,
    pub models: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<Decimal>,
    pub unpriced_requests: i64,
}

/// Spend by the values of one request-metadata key (`spend_by_metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataBreakdown {
    pub key: String,
    pub values: Vec<MetadataLine>,
}

/// One value of a metadata key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataLine {
    pub value: String,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<Decimal>,
    pub unpriced_requests: i64,
}

/// Prompt caching over the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cache {
    /// Cache-read share of all input tokens (uncached + cache read + cache write), a ratio rounded to 6 places;
    /// `None` when the month has no input tokens.
    pub hit_rate: Option<Decimal>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    /// What caching saved against sending the same tokens uncached (negative when writes cost more).
    pub savings_usd: Option<Decimal>,
}

/// The recommender's top moves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendations {
    /// Moves saving less than this a month are left out (config `recommend.min_monthly_savings_usd`).
    pub min_monthly_savings_usd: Decimal,
    /// At most [`TOP_RECOMMENDATIONS`], largest monthly savings first.
    pub top: Vec<Recommendation>,
    /// How many the recommender returned in all.
    pub total: usize,
}

/// Recommendations listed in the report.
pub const TOP_RECOMMENDATIONS: usize = 5;

/// Usage with no price: its spend is unknown and is not in any total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unpriced {
    pub requests: i64,
    pub tokens: i64,
    pub groups: Vec<UnpricedLine>,
}

/// One group of unpriced usage (`unpriced_usage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnpricedLine {
    /// Why: no price | unresolved model | no token counts | no output price.
    pub reason: String,
    /// The model, or a sample raw model id where it did not resolve.
    pub model: String,
    pub region: Option<String>,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

/// What the month's data covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub days_in_month: usize,
    pub days_with_logs: usize,
    /// Days with no logs at all, in order.
    pub days_without_logs: Vec<NaiveDate>,
    pub regions: Vec<RegionCoverage>,
    /// Records rejected at ingest, over the whole warehouse (rejects are not dated by the day they concern).
    pub rejected_records: u64,
}

/// One Region's logs in the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionCoverage {
    pub region: String,
    pub days: usize,
    pub requests: i64,
}

/// The prices behind the money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prices {
    /// The price book file (or the bundled sheet).
    pub book: String,
    /// Percent off list prices, as configured.
    pub discount_pct: String,
    /// The sources that priced the month's usage, with their as-of dates.
    pub sources: Vec<PriceSource>,
}

/// Everything [`MonthlyReport::build`] needs, as the query layer and the recommender return it.
#[derive(Debug, Clone)]
pub struct ReportInputs {
    pub period: Period,
    pub summary: MonthSummary,
    pub previous: Option<MonthSummary>,
    pub models: Vec<ModelSpend>,
    pub daily: Vec<DayModelSpend>,
    pub principals: Vec<PrincipalSpend>,
    /// Per configured key, in the configured order.
    pub metadata: Vec<(String, Vec<MetadataSpend>)>,
    pub unpriced: Vec<UnpricedUsage>,
    pub coverage: Vec<DayRegionCoverage>,
    pub price_sources: Vec<PriceSource>,
    pub recommendations: Vec<Recommendation>,
    pub min_monthly_savings_usd: Decimal,
    pub rejected_records: u64,
    pub price_book: String,
    pub discount_pct: String,
}

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the report covers a calendar month; {since}..{until} is not one")]
    NotAMonth { since: NaiveDate, until: NaiveDate },
    #[error("query for the {section} section of the report failed")]
    Query { section: &'static str, source: crate::query::Error },
    #[error("the recommender failed")]
    Recommend(#[from] crate::recommend::Error),
}

/// What [`gather`] reads beyond the session.
#[derive(Debug, Clone)]
pub struct GatherOptions<'a> {
    pub metadata_keys: &'a [String],
    pub recommend: &'a crate::config::RecommendConfig,
    pub rejected_records: u64,
    pub price_book: String,
    pub discount_pct: String,
}

/// Ask the session (and the recommender) for every row the report of `period` shows.
pub async fn gather(session: &Session, period: &Period, options: &GatherOptions<'_>) -> Result<ReportInputs, Error> {
    let month = period.month_label().ok_or(Error::NotAMonth { since: period.since(), until: period.until() })?;
    let params = Params::new().period(period);
    let q = |section: &'static str| move |source: crate::query::Error| Error::Query { section, source };
    // Every section and the recommender read `usage_costs` and `request_groups` over this month or the one before:
    // compute each once.
    let hull =
        period.previous_month().and_then(|prev| Period::new(prev.since(), period.until()).ok()).unwrap_or(*period);
    session.group_by_metadata(&options.recommend.batch_group_by_metadata).await.map_err(q("request groups"))?;
    session.cache_period(CachedView::UsageCosts, &hull).await.map_err(q("usage costs"))?;
    session.cache_period(CachedView::RequestGroups, &hull).await.map_err(q("request groups"))?;
    let previous_params = period.previous_month().map(|prev| Params::new().period(&prev));
    let previous = async {
        match &previous_params {
            Some(p) => {
                session.rows::<MonthSummary>(p).await.map(|rows| rows.into_iter().next().filter(|s| s.requests > 0))
            }
            None => Ok(None),
        }
    };
    let metadata = futures::future::try_join_all(options.metadata_keys.iter().map(|key| {
        let params = params.clone().text("key", key.clone());
        async move { session.rows::<MetadataSpend>(&params).await.map(|rows| (key.clone(), rows)) }
    }));
    // The sections are independent queries over the same files: run them together, so one query's serial phases
    // (planning, a final merge) overlap with the others' scans instead of adding up.
    let (summary, previous, metadata, models, daily, principals, unpriced, coverage, price_sources, recommendations) =
        tokio::try_join!(
            async { session.rows::<MonthSummary>(&params).await.map_err(q("totals")) },
            async { previous.await.map_err(q("previous month")) },
            async { metadata.await.map_err(q("metadata")) },
            async { session.rows(&params).await.map_err(q("models")) },
            async { session.rows(&params).await.map_err(q("daily")) },
            async { session.rows(&params).await.map_err(q("principals")) },
            async { session.rows(&params).await.map_err(q("unpriced")) },
            async { session.rows(&params).await.map_err(q("coverage")) },
            async { session.rows(&params).await.map_err(q("prices")) },
            async { crate::recommend::recommend(session, period, options.recommend).await.map_err(Error::from) },
        )?;
    let summary = summary.into_iter().next().unwrap_or_else(|| empty_summary(&month));
    Ok(ReportInputs {
        period: *period,
        summary,
        previous,
        models,
        daily,
        principals,
        metadata,
        unpriced,
        coverage,
        price_sources,
        recommendations,
        min_monthly_savings_usd: options.recommend.min_monthly_savings_usd,
        rejected_records: options.rejected_records,
        price_book: options.price_book.clone(),
        discount_pct: options.discount_pct.clone(),
    })
}

fn empty_summary(month: &str) -> MonthSummary {
    MonthSummary {
        month: month.to_string(),
        requests: 0,
        input_tokens: None,
        output_tokens: None,
        cache_read_tokens: None,
        cache_write_tokens: None,
        list_cost_usd: None,
        cost_usd: None,
        cache_savings_usd: None,
        priced_requests: 0,
        unpriced_requests: 0,
        unpriced_tokens: 0,
    }
}

/// `a / b` rounded to 6 places; `None` when `b` is zero.
fn ratio(a: Decimal, b: Decimal) -> Option<Decimal> {
    (!b.is_zero()).then(|| (a / b).round_dp(6))
}

impl MonthlyReport {
    /// Build the report from its rows. Pure: the same rows give the same report, byte for byte once rendered.
    pub fn build(inputs: ReportInputs) -> MonthlyReport {
        let period = inputs.period;
        let month = inputs.summary.month.clone();
        let totals = Totals::from(inputs.summary);
        let previous = inputs.previous.map(Totals::from);
        let change = change(&totals, previous.as_ref());
        let priced_total = totals.cost_usd;
        let models = inputs
            .models
            .into_iter()
            .map(|m| ModelLine {
                cost_share: match (m.cost_usd, priced_total) {
                    (Some(c), Some(t)) => ratio(c, t),
                    _ => None,
                },
                model: m.model,
                routing: m.routing,
                requests: m.requests,
                input_tokens: m.input_tokens,
                output_tokens: m.output_tokens,
                cache_read_tokens: m.cache_read_tokens,
                cache_write_tokens: m.cache_write_tokens,
                cost_usd: m.cost_usd,
                cache_savings_usd: m.cache_savings_usd,
                unpriced_requests: m.unpriced_requests,
            })
            .collect::<Vec<_>>();
        let daily = daily(&period, &models, &inputs.daily);
        let principals = inputs
            .principals
            .into_iter()
            .map(|p| PrincipalLine {
                principal: p.principal,
                account_id: p.account_id,
                requests: p.requests,
                models: p.models,
                input_tokens: p.input_tokens,
                output_tokens: p.output_tokens,
                cost_usd: p.cost_usd,
                unpriced_requests: p.unpriced_requests,
            })
            .collect();
        let metadata = inputs
            .metadata
            .into_iter()
            .map(|(key, rows)| MetadataBreakdown {
                key,
                values: rows
                    .into_iter()
                    .map(|r| MetadataLine {
                        value: r.value,
                        requests: r.requests,
                        input_tokens: r.input_tokens,
                        output_tokens: r.output_tokens,
                        cost_usd: r.cost_usd,
                        unpriced_requests: r.unpriced_requests,
                    })
                    .collect(),
            })
            .collect();
        let all_input = [totals.input_tokens, totals.cache_read_tokens, totals.cache_write_tokens]
            .iter()
            .map(|t| t.unwrap_or(0))
            .sum::<i64>();
        let cache = Cache {
            hit_rate: ratio(Decimal::from(totals.cache_read_tokens.unwrap_or(0)), Decimal::from(all_input)),
            cache_read_tokens: totals.cache_read_tokens,
            cache_write_tokens: totals.cache_write_tokens,
            savings_usd: totals.cache_savings_usd,
        };
        let total_recommendations = inputs.recommendations.len();
        let mut top = inputs.recommendations;
        top.sort_by(|a, b| b.monthly_savings_usd.cmp(&a.monthly_savings_usd).then_with(|| a.id.cmp(&b.id)));
        top.truncate(TOP_RECOMMENDATIONS);
        let unpriced = Unpriced {
            requests: totals.unpriced_requests,
            tokens: totals.unpriced_tokens,
            groups: inputs
                .unpriced
                .into_iter()
                .map(|u| UnpricedLine {
                    reason: u.price_status,
                    model: u.model.or(u.model_id).unwrap_or_else(|| "(unknown)".to_string()),
                    region: u.region,
                    first_day: u.first_day,
                    last_day: u.last_day,
                    requests: u.requests,
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                })
                .collect(),
        };
        let coverage = coverage(&period, &inputs.coverage, inputs.rejected_records);
        MonthlyReport {
            schema_version: SCHEMA_VERSION,
            month,
            since: period.since(),
            until: period.until(),
            totals,
            previous,
            change,
            models,
            daily,
            principals,
            metadata,
            cache,
            recommendations: Recommendations {
                min_monthly_savings_usd: inputs.min_monthly_savings_usd,
                top,
                total: total_recommendations,
            },
            unpriced,
            coverage,
            prices: Prices {
                book: inputs.price_book,
                discount_pct: inputs.discount_pct,
                sources: inputs.price_sources,
            },
        }
    }
}

fn change(now: &Totals, previous: Option<&Totals>) -> Change {
    let Some(prev) = previous else {
        return Change { requests: None, requests_ratio: None, cost_usd: None, cost_ratio: None };
    };
    let cost_usd = match (now.cost_usd, prev.cost_usd) {
        (Some(a), Some(b)) => Some(a - b),
        _ => None,
    };
    Change {
        requests: Some(now.requests - prev.requests),
        requests_ratio: ratio(Decimal::from(now.requests - prev.requests), Decimal::from(prev.requests)),
        cost_usd,
        cost_ratio: match (cost_usd, prev.cost_usd) {
            (Some(d), Some(b)) => ratio(d, b),
            _ => None,
        },
    }
}

fn month_days(period: &Period) -> Vec<NaiveDate> {
    period.since().iter_days().take_while(|d| *d < period.until()).collect()
}

/// The chart's series: models in the order of `models` (most expensive first), the top few each, the rest summed
/// as `other`. Unpriced spend is unknown and is not drawn (the unpriced section says so).
fn daily(period: &Period, models: &[ModelLine], rows: &[DayModelSpend]) -> Daily {
    let days = month_days(period);
    let index: BTreeMap<NaiveDate, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let priced: Vec<&str> = models.iter().filter(|m| m.cost_usd.is_some()).map(|m| m.model.as_str()).collect();
    let mut names: Vec<String> = Vec::new();
    for name in priced {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    let other = names.len() > CHART_MAX_SERIES;
    if other {
        names.truncate(CHART_MAX_SERIES - 1);
        names.push("other".to_string());
    }
    let mut series: Vec<Series> =
        names.iter().map(|n| Series { name: n.clone(), cost_usd: vec![Decimal::ZERO; days.len()] }).collect();
    let mut totals = vec![Decimal::ZERO; days.len()];
    for row in rows {
        let (Some(cost), Some(&day)) = (row.cost_usd, index.get(&row.day)) else { continue };
        let slot =
            series.iter().position(|s| s.name == row.model).or(if other { Some(series.len() - 1) } else { None });
        if let Some(slot) = slot {
            series[slot].cost_usd[day] += cost;
        }
        totals[day] += cost;
    }
    Daily { days, series, totals }
}

fn coverage(period: &Period, rows: &[DayRegionCoverage], rejected_records: u64) -> Coverage {
    let days = month_days(period);
    let with_logs: BTreeSet<NaiveDate> = rows.iter().filter(|r| r.requests > 0).map(|r| r.day).collect();
    let mut regions: BTreeMap<&str, (BTreeSet<NaiveDate>, i64)> = BTreeMap::new();
    for r in rows {
        let entry = regions.entry(r.region.as_str()).or_default();
        entry.0.insert(r.day);
        entry.1 += r.requests;
    }
    Coverage {
        days_in_month: days.len(),
        days_with_logs: with_logs.len(),
        days_without_logs: days.iter().filter(|d| !with_logs.contains(d)).copied().collect(),
        regions: regions
            .into_iter()
            .map(|(region, (days, requests))| RegionCoverage { region: region.to_string(), days: days.len(), requests })
            .collect(),
        rejected_records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 2, n).unwrap()
    }

    fn summary(requests: i64, cost: Option<&str>) -> MonthSummary {
        MonthSummary { requests, cost_usd: cost.map(d), ..empty_summary("2025-02") }
    }

    fn inputs() -> ReportInputs {
        let model = |name: &str, cost: Option<&str>| ModelSpend {
            model: name.to_string(),
            routing: "regional".to_string(),
            requests: 1,
            input_tokens: Some(10),
            output_tokens: Some(5),
            cache_read_tokens: None,
            cache_write_tokens: None,
            cost_usd: cost.map(d),
            cache_savings_usd: None,
            unpriced_requests: i64::from(cost.is_none()),
        };
        let spend = |n, name: &str, cost: Option<&str>| DayModelSpend {
            day: day(n),
            model: name.to_string(),
            requests: 1,
            cost_usd: cost.map(d),
            unpriced_requests: 0,
        };
        ReportInputs {
            period: Period::month(2025, 2).unwrap(),
            summary: MonthSummary {
                input_tokens: Some(600),
                cache_read_tokens: Some(300),
                cache_write_tokens: Some(100),
                ..summary(30, Some("12.00"))
            },
            previous: Some(summary(20, Some("8.00"))),
            models: vec![model("a", Some("9")), model("b", Some("3")), model("x", None)],
            daily: vec![
                spend(1, "a", Some("4")),
                spend(1, "b", Some("1")),
                spend(3, "a", Some("5")),
                spend(3, "x", None),
            ],
            principals: vec![],
            metadata: vec![],
            unpriced: vec![],
            coverage: vec![
                DayRegionCoverage { day: day(1), region: "us-east-1".into(), requests: 2 },
                DayRegionCoverage { day: day(3), region: "us-east-1".into(), requests: 1 },
                DayRegionCoverage { day: day(3), region: "eu-west-1".into(), requests: 4 },
            ],
            price_sources: vec![],
            recommendations: vec![],
            min_monthly_savings_usd: Decimal::ONE,
            rejected_records: 2,
            price_book: "book".into(),
            discount_pct: "0".into(),
        }
    }

    #[test]
    fn change_share_cache_and_coverage_are_worked_out_from_the_rows() {
        let r = MonthlyReport::build(inputs());
        // +10 requests on 20 is +50%; +$4 on $8 is +50%.
        assert_eq!(r.change.requests, Some(10));
        assert_eq!(r.change.requests_ratio, Some(d("0.5")));
        assert_eq!(r.change.cost_usd, Some(d("4.00")));
        assert_eq!(r.change.cost_ratio, Some(d("0.5")));
        // $9 of $12 is 75%; the unpriced model has no share.
        assert_eq!(r.models[0].cost_share, Some(d("0.75")));
        assert_eq!(r.models[2].cost_share, None);
        // 300 read of 600 + 300 + 100 input tokens.
        assert_eq!(r.cache.hit_rate, Some(d("0.3")));
        // February 2025: 28 days, logs on the 1st and 3rd.
        assert_eq!((r.coverage.days_in_month, r.coverage.days_with_logs), (28, 2));
        assert_eq!(r.coverage.days_without_logs.len(), 26);
        assert_eq!(r.coverage.days_without_logs[0], day(2));
        let regions: Vec<_> = r.coverage.regions.iter().map(|c| (c.region.as_str(), c.days, c.requests)).collect();
        assert_eq!(regions, vec![("eu-west-1", 1, 4), ("us-east-1", 2, 3)]);
        assert_eq!(r.coverage.rejected_records, 2);
    }

    #[test]
    fn the_chart_stacks_priced_spend_by_model_and_leaves_unknown_out() {
        let r = MonthlyReport::build(inputs());
        let names: Vec<_> = r.daily.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"], "the unpriced model is not drawn");
        assert_eq!(r.daily.days.len(), 28);
        assert_eq!(r.daily.series[0].cost_usd[0], d("4"));
        assert_eq!(r.daily.series[0].cost_usd[2], d("5"));
        assert_eq!(r.daily.totals[0], d("5"));
        assert_eq!(r.daily.totals[1], Decimal::ZERO);
    }

    #[test]
    fn no_previous_month_means_no_change_not_zero() {
        let mut i = inputs();
        i.previous = None;
        let r = MonthlyReport::build(i);
        assert_eq!(r.change, Change { requests: None, requests_ratio: None, cost_usd: None, cost_ratio: None });
    }
}
