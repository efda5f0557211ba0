//! Rule 5, model lifecycle: traffic on a model whose end of life (`pricing/model-lifecycle.csv`) has passed or
//! falls within the configured horizon of the window's end. The same tokens are re-priced on the named successor
//! at the book's prices for each day: a saving, or a stated increase; an unpriced successor is said to be so.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::json;

use super::reprice::{cost_at, find_row};
use super::{Confidence, Error, Kind, Recommendation, Window, build, money, scope};
use crate::config::RecommendConfig;
use crate::query::rows::recommend::{ModelDayTraffic, TokenPriceRow};

const LIFECYCLE_CSV: &str = include_str!("../../pricing/model-lifecycle.csv");

/// One model's end of life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndOfLife {
    pub end_of_life: NaiveDate,
    pub successor: Option<String>,
    pub source: String,
}

/// The bundled lifecycle table, by model.
pub(crate) fn table() -> Result<BTreeMap<String, EndOfLife>, Error> {
    let mut out = BTreeMap::new();
    for (i, line) in LIFECYCLE_CSV.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("model,") {
            continue;
        }
        let bad = |reason: String| Error::Table { table: "model-lifecycle.csv", line: i + 1, reason };
        let cells: Vec<&str> = line.splitn(4, ',').collect();
        let [model, eol, successor, source] = cells[..] else { return Err(bad("fewer than 4 columns".into())) };
        let end_of_life = NaiveDate::parse_from_str(eol.trim(), "%Y-%m-%d")
            .map_err(|_| bad(format!("end_of_life {eol:?} is not YYYY-MM-DD")))?;
        let successor = Some(successor.trim().to_string()).filter(|s| !s.is_empty());
        out.insert(model.trim().to_string(), EndOfLife { end_of_life, successor, source: source.trim().into() });
    }
    Ok(out)
}

/// Lifecycle recommendations from `recommend_model_traffic` rows.
pub(crate) fn recommend(
    traffic: &[ModelDayTraffic],
    book: &[TokenPriceRow],
    lifecycle: &BTreeMap<String, EndOfLife>,
    config: &RecommendConfig,
    window: &Window,
) -> Vec<Recommendation> {
    let horizon = window.last_day() + chrono::Duration::days(i64::from(config.lifecycle_horizon_days));
    #[derive(Default)]
    struct Acc {
        current: Decimal,
        successor: Decimal,
        requests: i64,
        unpriced_days: i64,
    }
    let mut groups: BTreeMap<(&str, &str), Acc> = BTreeMap::new();
    for t in traffic {
        let Some(eol) = lifecycle.get(&t.model).filter(|e| e.end_of_life <= horizon) else { continue };
        let acc = groups.entry((&t.model, &t.region)).or_default();
        acc.current += t.cost_usd;
        acc.requests += t.requests;
        let priced = eol
            .successor
            .as_deref()
            .and_then(|s| find_row(book, s, &t.region, &t.price_class, t.day))
            .and_then(|row| cost_at(row, t));
        match priced {
            Some(c) => acc.successor += c,
            None => acc.unpriced_days += 1,
        }
    }
    let mut out = Vec::new();
    for ((model, region), acc) in groups {
        let Some(eol) = lifecycle.get(model) else { continue };
        let passed = eol.end_of_life <= window.last_day();
        let when = if passed {
            format!("reached end of life on {}", eol.end_of_life)
        } else {
            format!("reaches end of life on {}", eol.end_of_life)
        };
        let mut evidence = BTreeMap::new();
        evidence.insert("requests".into(), json!(acc.requests));
        evidence.insert("end_of_life".into(), json!(eol.end_of_life.to_string()));
        evidence.insert("lifecycle_source".into(), json!(eol.source));
        evidence.insert("successor".into(), json!(eol.successor));
        let sc = scope([("model", model), ("region", region)]);
        let (savings, confidence, reason, action) = match (&eol.successor, acc.unpriced_days) {
            (Some(successor), 0) => {
                let savings = acc.current - acc.successor;
                evidence.insert("successor_cost_usd".into(), money(acc.successor));
                let effect = if savings >= Decimal::ZERO {
                    format!("saves ${}", savings.round_dp(2))
                } else {
                    format!("costs ${} more", (-savings).round_dp(2))
                };
                (
                    savings,
                    Confidence::Medium,
                    format!(
                        "{model} {when}; the same tokens on {successor} at book prices {effect} over the window \
                         (output length and quality on the successor may differ)"
                    ),
                    format!(
                        "Migrate {model} in {region} to {successor} before {} and test the prompts on it.",
                        eol.end_of_life
                    ),
                )
            }
            (Some(successor), days) => (
                Decimal::ZERO,
                Confidence::Low,
                format!(
                    "{model} {when}; the book has no price for {successor} in {region} on {days} day(s), so the cost of migrating is unknown"
                ),
                format!("Migrate {model} in {region} to {successor} before {}; price it first.", eol.end_of_life),
            ),
            (None, _) => (
                Decimal::ZERO,
                Confidence::Low,
                format!("{model} {when}; no successor is named, so the cost of migrating is unknown"),
                format!("Choose a current model for the {model} traffic in {region} before {}.", eol.end_of_life),
            ),
        };
        out.push(build(window, Kind::ModelLifecycle, sc, acc.current, savings, confidence, reason, evidence, action));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_loads_with_the_documented_dates() {
        let t = table().unwrap();
        let haiku = &t["anthropic.claude-3-haiku-20240307-v1:0"];
        assert_eq!(haiku.end_of_life, NaiveDate::from_ymd_opt(2026, 9, 10).unwrap());
        assert_eq!(haiku.successor.as_deref(), Some("anthropic.claude-haiku-4-5-20251001-v1:0"));
        assert_eq!(t["cohere.command-r-v1:0"].successor, None);
    }
}
