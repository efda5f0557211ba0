//! Re-pricing traffic at another row of the price book (a successor model, the global profile), by the same rules
//! as the cost views: a row for the Region beats `*`, then a row for the routing class beats `*`; a cache class
//! with no price is charged at the input price; the discount multiplier applies. Exact decimals throughout.
//! Also rule 4, routing: regional traffic whose model has a cheaper `global` row.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::json;

use super::{Confidence, Kind, Recommendation, Window, build, money, scope};
use crate::query::rows::recommend::{ModelDayTraffic, RegionErrors, TokenPriceRow};

/// The book's row for `model` in `region` and price class `class` on `day`, matched as the cost views match
/// (`book` holds Standard-tier, standard-context rows only; region `*` never prices GovCloud).
pub(crate) fn find_row<'a>(
    book: &'a [TokenPriceRow],
    model: &str,
    region: &str,
    class: &str,
    day: NaiveDate,
) -> Option<&'a TokenPriceRow> {
    let live = |r: &&TokenPriceRow| {
        r.model == model && r.effective_from.is_none_or(|f| day >= f) && r.effective_to.is_none_or(|t| day < t)
    };
    let any_region: &[(&str, &str)] = if region.starts_with("us-gov-") { &[] } else { &[("*", class), ("*", "*")] };
    [(region, class), (region, "*")]
        .iter()
        .chain(any_region)
        .find_map(|(reg, cls)| book.iter().filter(live).find(|r| r.region == *reg && r.routing == *cls))
}

/// What `t`'s tokens cost at `row` after `t`'s discount; `None` where the row lacks a price the tokens need.
pub(crate) fn cost_at(row: &TokenPriceRow, t: &ModelDayTraffic) -> Option<Decimal> {
    let input = row.input_per_token?;
    let output = match (row.output_per_token, t.output_tokens) {
        (Some(p), _) => p,
        (None, 0) => Decimal::ZERO,
        (None, _) => return None,
    };
    let read = row.cache_read_per_token.unwrap_or(input);
    let write = row.cache_write_per_token.unwrap_or(input);
    let write_1h = row.cache_write_1h_per_token.unwrap_or(input);
    let list = Decimal::from(t.input_tokens) * input
        + Decimal::from(t.cache_read_tokens) * read
        + Decimal::from(t.cache_write_5m_tokens) * write
        + Decimal::from(t.cache_write_1h_tokens) * write_1h
        + Decimal::from(t.output_tokens) * output;
    Some(list * t.discount_multiplier)
}

/// Rule 4: regional traffic on a model whose book has an explicit, cheaper `global` row.
pub(crate) fn routing(traffic: &[ModelDayTraffic], book: &[TokenPriceRow], window: &Window) -> Vec<Recommendation> {
    #[derive(Default)]
    struct Acc {
        current: Decimal,
        global: Decimal,
        requests: i64,
        days: i64,
    }
    let mut groups: BTreeMap<(&str, &str), Acc> = BTreeMap::new();
    for t in traffic.iter().filter(|t| t.price_class == "regional") {
        let Some(row) = find_row(book, &t.model, &t.region, "global", t.day).filter(|r| r.routing == "global") else {
            continue;
        };
        let Some(global) = cost_at(row, t) else { continue };
        let acc = groups.entry((&t.model, &t.region)).or_default();
        acc.current += t.cost_usd;
        acc.global += global;
        acc.requests += t.requests;
        acc.days += 1;
    }
    let mut out = Vec::new();
    for ((model, region), acc) in groups {
        let savings = acc.current - acc.global;
        if savings <= Decimal::ZERO {
            continue;
        }
        let mut evidence = BTreeMap::new();
        evidence.insert("requests".into(), json!(acc.requests));
        evidence.insert("days_active".into(), json!(acc.days));
        evidence.insert("global_cost_usd".into(), money(acc.global));
        out.push(build(
            window,
            Kind::Routing,
            scope([("model", model), ("region", region), ("routing", "regional")]),
            acc.current,
            savings,
            Confidence::Medium,
            "the price book's global row for this model is cheaper than its regional row for the same tokens; global \
             routing may process requests in any commercial Region, which data-residency rules can forbid"
                .into(),
            evidence,
            format!(
                "Call {model} through its global. inference profile instead of the in-Region or geographic one, if \
                 your data-residency requirements allow requests from {region} to be processed outside its geography."
            ),
        ));
    }
    out
}

/// Failures (throttling and service errors) at least this many and this percent of a model's in-Region requests
/// in one Region count as concentrated there.
const MIN_FAILURES: i64 = 10;
const MIN_FAILURE_PCT: i64 = 5;

/// Rule 4, reliability: throttling or service errors concentrated in one Region on in-Region traffic (no
/// cross-Region profile yet). Saving 0: it is a reliability move, stated as such.
pub(crate) fn reliability(errors: &[RegionErrors], window: &Window) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for e in errors.iter().filter(|e| e.routing == "in-region") {
        let failures = e.throttled + e.server_errors;
        if failures < MIN_FAILURES || failures * 100 < e.requests * MIN_FAILURE_PCT {
            continue;
        }
        // Elsewhere: the same model's failure rate in other Regions or through cross-Region profiles.
        let (other_requests, other_failures) = errors
            .iter()
            .filter(|o| o.model == e.model && !(o.region == e.region && o.routing == e.routing))
            .fold((0, 0), |(r, f), o| (r + o.requests, f + o.throttled + o.server_errors));
        // Concentrated: elsewhere fails at less than half this Region's rate (or there is no elsewhere).
        if other_requests > 0 && other_failures * e.requests * 2 >= failures * other_requests {
            continue;
        }
        let mut evidence = BTreeMap::new();
        evidence.insert("requests".into(), json!(e.requests));
        evidence.insert("throttled".into(), json!(e.throttled));
        evidence.insert("server_errors".into(), json!(e.server_errors));
        evidence.insert(
            "failure_pct".into(),
            money((Decimal::from(failures * 100) / Decimal::from(e.requests)).round_dp(1)),
        );
        evidence.insert("requests_elsewhere".into(), json!(other_requests));
        evidence.insert("failures_elsewhere".into(), json!(other_failures));
        out.push(build(
            window,
            Kind::Routing,
            scope([("model", e.model.as_str()), ("region", &e.region), ("routing", "in-region"), ("reason", "reliability")]),
            Decimal::ZERO,
            Decimal::ZERO,
            Confidence::Medium,
            format!(
                "{failures} of {} in-Region requests failed with throttling or service errors in {}, more than twice the \
                 rate elsewhere; a reliability move, no saving claimed (a geographic profile costs the same as \
                 in-Region)",
                e.requests, e.region
            ),
            evidence,
            format!(
                "Call {} through a cross-Region (geographic) inference profile instead of in {} only, so Bedrock can \
                 route around the throttled Region; check that the profile's Regions meet your data-residency rules.",
                e.model, e.region
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(region: &str, routing: &str, input: &str) -> TokenPriceRow {
        TokenPriceRow {
            model: "m".into(),
            region: region.into(),
            routing: routing.into(),
            effective_from: None,
            effective_to: None,
            input_per_token: Some(input.parse().unwrap()),
            output_per_token: None,
            cache_read_per_token: None,
            cache_write_per_token: None,
            cache_write_1h_per_token: None,
        }
    }

    #[test]
    fn rows_match_region_before_routing_like_the_views() {
        let day = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
        let book = vec![row("*", "*", "1"), row("*", "global", "2"), row("us-east-1", "*", "3")];
        assert_eq!(find_row(&book, "m", "us-east-1", "global", day).unwrap().region, "us-east-1");
        assert_eq!(find_row(&book, "m", "eu-west-1", "global", day).unwrap().routing, "global");
        assert_eq!(find_row(&book, "m", "eu-west-1", "regional", day).unwrap().routing, "*");
        assert!(find_row(&book, "x", "eu-west-1", "regional", day).is_none());
    }

    #[test]
    fn output_tokens_need_an_output_price() {
        let t = ModelDayTraffic {
            model: "m".into(),
            region: "r".into(),
            price_class: "regional".into(),
            day: NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            requests: 1,
            input_tokens: 10,
            cache_read_tokens: 5,
            cache_write_5m_tokens: 0,
            cache_write_1h_tokens: 0,
            output_tokens: 0,
            cost_usd: Decimal::ZERO,
            discount_multiplier: "0.5".parse().unwrap(),
        };
        // No cache price: the read tokens are charged at the input price; then the discount halves it.
        assert_eq!(cost_at(&row("*", "*", "2"), &t), Some(Decimal::from(15)));
        assert_eq!(cost_at(&row("*", "*", "2"), &ModelDayTraffic { output_tokens: 1, ..t }), None);
    }
}
