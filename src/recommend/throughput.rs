//! Rule 3, Provisioned Throughput: per model and Region, the per-minute token demand against the price of a model
//! unit. With a known unit capacity (`pricing/provisioned-throughput.csv`), the units the p99 minute needs, their
//! utilisation and the monthly commitment cost against the on-demand cost of the same traffic; a commitment is
//! recommended only where it wins by the configured margin. With no known capacity the break-even demand per model
//! unit is reported as evidence (saving 0, low confidence) instead of a guess; with no PT price at all, steady
//! round-the-clock traffic gets the hourly fee a commitment would have to beat. A capacity in the config file
//! (`[recommend.provisioned_capacity]`, e.g. from an AWS quote) replaces or completes the sheet's.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::json;

use super::{Confidence, Kind, Recommendation, Window, build, money, scope};
use crate::config::{Capacity, RecommendConfig};
use crate::query::rows::recommend::{MinuteDemand, ProvisionedPrice, ProvisionedUsage};

/// Hours in the 30-day month savings are normalised to.
const MONTH_HOURS: i64 = 720;

/// Whether traffic runs round the clock: every hour of the day, nearly every day, and its quietest hour of day
/// carries at least `offpeak_pct` percent of its busiest.
pub(crate) fn round_the_clock(d: &MinuteDemand, activity_days: i64, offpeak_pct: u32) -> bool {
    d.hours_of_day == 24
        && d.quietest_hour_requests * 100 >= d.busiest_hour_requests * i64::from(offpeak_pct)
        && d.days_active * 10 >= activity_days * 9
}

/// Units needed to serve `p99` tokens a minute at `capacity` per unit (at least one).
pub(crate) fn units_for(p99: i64, capacity: i64) -> i64 {
    if capacity <= 0 {
        return 1;
    }
    ((p99 + capacity - 1) / capacity).max(1)
}

/// The prices for the demand's model and Region: a row for the Region beats `*`, per commitment.
fn prices_for<'a>(prices: &'a [ProvisionedPrice], d: &MinuteDemand) -> Vec<&'a ProvisionedPrice> {
    let mut by_commitment: BTreeMap<&str, &ProvisionedPrice> = BTreeMap::new();
    for p in prices.iter().filter(|p| p.model == d.model && (p.region == d.region || p.region == "*")) {
        let keep = by_commitment.get(p.commitment.as_str()).is_some_and(|q| q.region == d.region);
        if !keep {
            by_commitment.insert(&p.commitment, p);
        }
    }
    by_commitment.into_values().collect()
}

/// The book's Provisioned Throughput prices with the config's model-unit capacities applied: a capacity given for a
/// model replaces the sheet's (or its empty columns) for every Region and commitment of that model. A capacity for
/// a model the sheet has no price for changes nothing: without a price there is no commitment to compare.
pub(crate) fn with_capacities(
    prices: Vec<ProvisionedPrice>,
    capacities: &BTreeMap<String, Capacity>,
) -> Vec<ProvisionedPrice> {
    prices
        .into_iter()
        .map(|mut p| {
            if let Some(c) = capacities.get(&p.model) {
                p.input_tpm_per_mu = Some(c.input_tpm_per_mu);
                p.output_tpm_per_mu = Some(c.output_tpm_per_mu);
            }
            p
        })
        .collect()
}

/// Throughput recommendations from `recommend_throughput` and `recommend_provisioned_prices` rows.
pub(crate) fn recommend(
    demand: &[MinuteDemand],
    prices: &[ProvisionedPrice],
    config: &RecommendConfig,
    window: &Window,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let minutes = Decimal::from(window.activity_days.max(1) * 1440);
    let hours = window.activity_days.max(1) * 24;
    for d in demand {
        let Some(cost) = d.cost_usd.filter(|c| *c > Decimal::ZERO) else { continue };
        let tokens = d.input_tokens + d.output_tokens;
        if tokens <= 0 {
            continue;
        }
        let steady = round_the_clock(d, window.activity_days, config.pt_min_offpeak_pct);
        let avg_tpm = (Decimal::from(tokens) / minutes).round_dp(1);
        let od_per_hour = cost / Decimal::from(hours);
        let mut evidence = BTreeMap::new();
        evidence.insert("requests".into(), json!(d.requests));
        evidence.insert("days_active".into(), json!(d.days_active));
        evidence.insert("active_minutes".into(), json!(d.active_minutes));
        evidence.insert("p99_minute_tokens".into(), json!(d.p99_minute_tokens));
        evidence.insert("p99_minute_input_tokens".into(), json!(d.p99_minute_input_tokens));
        evidence.insert("p99_minute_output_tokens".into(), json!(d.p99_minute_output_tokens));
        evidence.insert("peak_minute_tokens".into(), json!(d.peak_minute_tokens));
        evidence.insert("average_tokens_per_minute".into(), money(avg_tpm));
        evidence.insert("on_demand_cost_per_hour_usd".into(), money(od_per_hour));
        evidence.insert("hours_of_day_active".into(), json!(d.hours_of_day));
        evidence.insert(
            "quietest_to_busiest_hour_requests".into(),
            json!([d.quietest_hour_requests, d.busiest_hour_requests]),
        );
        let sc = scope([("model", d.model.as_str()), ("region", &d.region)]);
        let available = prices_for(prices, d);
        // Known capacity: size, price and compare every commitment; keep the best that clears the margin.
        let mut best: Option<(Decimal, &ProvisionedPrice, i64, Decimal)> = None;
        for p in &available {
            let (Some(cap_in), Some(cap_out)) = (p.input_tpm_per_mu, p.output_tpm_per_mu) else { continue };
            let units =
                units_for(d.p99_minute_input_tokens, cap_in).max(units_for(d.p99_minute_output_tokens, cap_out));
            let fee = Decimal::from(units * hours) * p.price_per_mu_hour;
            let margin = Decimal::from(100 - i64::from(config.pt_margin_pct.min(99))) / Decimal::from(100);
            if fee <= cost * margin && best.as_ref().is_none_or(|b| cost - fee > b.0) {
                best = Some((cost - fee, p, units, fee));
            }
        }
        if let Some((savings, p, units, fee)) = best {
            let (cap_in, cap_out) = (p.input_tpm_per_mu.unwrap_or(1), p.output_tpm_per_mu.unwrap_or(1));
            let util_in = Decimal::from(d.input_tokens) / minutes / Decimal::from(units * cap_in);
            let util_out = Decimal::from(d.output_tokens) / minutes / Decimal::from(units * cap_out);
            let utilisation = util_in.max(util_out);
            let source = if config.provisioned_capacity.contains_key(&d.model) {
                "config [recommend.provisioned_capacity]"
            } else {
                "pricing/provisioned-throughput.csv"
            };
            evidence.insert("commitment".into(), json!(p.commitment));
            evidence.insert("model_units".into(), json!(units));
            evidence.insert("input_tpm_per_mu".into(), json!(cap_in));
            evidence.insert("output_tpm_per_mu".into(), json!(cap_out));
            evidence.insert("capacity_source".into(), json!(source));
            evidence.insert("price_per_mu_hour_usd".into(), money(p.price_per_mu_hour));
            evidence.insert("commitment_cost_usd".into(), money(fee));
            evidence.insert(
                "monthly_commitment_cost_usd".into(),
                money(Decimal::from(units * MONTH_HOURS) * p.price_per_mu_hour),
            );
            evidence.insert("utilisation_pct".into(), money((utilisation * Decimal::from(100)).round_dp(1)));
            evidence.insert(
                "break_even_utilisation_pct".into(),
                money((utilisation * fee / cost * Decimal::from(100)).round_dp(1)),
            );
            out.push(build(
                window,
                Kind::ProvisionedThroughput,
                sc,
                cost,
                savings,
                if steady { Confidence::Medium } else { Confidence::Low },
                format!(
                    "{units} model unit(s) serve the p99 minute; the {} commitment costs less than on demand by more \
                     than the {}% margin; units are sized from the logged p99 minute, which a launch or a spike can \
                     exceed{}",
                    p.commitment,
                    config.pt_margin_pct,
                    if steady { "" } else { "; the traffic is not round the clock" }
                ),
                evidence,
                format!(
                    "Buy {units} model unit(s) of Provisioned Throughput for {} in {} with a {} commitment and send this \
                     traffic to it.",
                    d.model, d.region, p.commitment
                ),
            ));
            continue;
        }
        if available.iter().any(|p| p.input_tpm_per_mu.is_some() && p.output_tpm_per_mu.is_some()) {
            // Capacity known and no commitment wins: nothing to say.
            continue;
        }
        if !steady {
            continue;
        }
        if available.is_empty() {
            evidence.insert("break_even_fee_per_hour_usd".into(), money(od_per_hour));
            let capacity = config.provisioned_capacity.get(&d.model).map_or(String::new(), |c| {
                format!(
                    " (a unit serves {} input and {} output tokens a minute per the config, so {} unit(s) would \
                     serve the p99 minute)",
                    c.input_tpm_per_mu,
                    c.output_tpm_per_mu,
                    units_for(d.p99_minute_input_tokens, c.input_tpm_per_mu)
                        .max(units_for(d.p99_minute_output_tokens, c.output_tpm_per_mu))
                )
            });
            out.push(build(
                window,
                Kind::ProvisionedThroughput,
                sc,
                cost,
                Decimal::ZERO,
                Confidence::Low,
                "steady round-the-clock demand, but the price book has no Provisioned Throughput or Reserved price \
                 for this model and Region and AWS does not publish its model-unit capacity: no saving is claimed"
                    .into(),
                evidence,
                format!(
                    "Ask AWS for a Provisioned Throughput or Reserved quote for {} in {}: it pays off only if capacity \
                     for {} tokens a minute (the p99 minute) costs less than ${} an hour{capacity}.",
                    d.model,
                    d.region,
                    d.p99_minute_tokens,
                    od_per_hour.round_dp(6)
                ),
            ));
            continue;
        }
        // A price but no capacity: the demand one unit must serve for the fee to equal the on-demand cost.
        let per_token = cost / Decimal::from(tokens);
        let mut break_even = BTreeMap::new();
        for p in &available {
            let tpm = (p.price_per_mu_hour / per_token / Decimal::from(60)).round_dp(0);
            break_even.insert(p.commitment.clone(), money(tpm));
        }
        evidence.insert("break_even_tokens_per_minute_per_mu".into(), json!(break_even));
        out.push(build(
            window,
            Kind::ProvisionedThroughput,
            sc,
            cost,
            Decimal::ZERO,
            Confidence::Low,
            "AWS does not publish this model's model-unit capacity (give it under [recommend.provisioned_capacity] \
             from a quote), so the units needed and the saving are unknown; the evidence gives the demand per unit at \
             which each commitment breaks even"
                .into(),
            evidence,
            format!(
                "Ask AWS for the model-unit capacity of {} in {}: a unit pays off only if it serves the break-even \
                 tokens a minute in the evidence (this traffic averages {avg_tpm}).",
                d.model, d.region
            ),
        ));
    }
    out
}

/// Existing Provisioned Throughput that serves no traffic in the window (none, or fewer units, where the model
/// unit's capacity is known and the busiest minute needs fewer). The saving is the fee of the idle units over the
/// window's hours at the book's price for the throughput's model and commitment; with no price, saving 0.
pub(crate) fn unused(usage: &[ProvisionedUsage], prices: &[ProvisionedPrice], window: &Window) -> Vec<Recommendation> {
    let hours = window.activity_days.max(1) * 24;
    let mut out = Vec::new();
    for u in usage {
        let (Some(units), Some(model), Some(commitment)) = (u.model_units, &u.model, &u.commitment) else { continue };
        if units <= 0 || u.status.as_deref() != Some("InService") {
            continue;
        }
        let price = prices
            .iter()
            .filter(|p| &p.model == model && &p.commitment == commitment)
            .find(|p| p.region == u.region)
            .or_else(|| prices.iter().find(|p| &p.model == model && &p.commitment == commitment && p.region == "*"));
        let needed = match price.and_then(|p| Some((p.input_tpm_per_mu?, p.output_tpm_per_mu?))) {
            _ if u.requests == 0 => 0,
            Some((cap_in, cap_out)) => {
                units_for(u.peak_minute_input_tokens, cap_in).max(units_for(u.peak_minute_output_tokens, cap_out))
            }
            None => continue,
        };
        if needed >= units {
            continue;
        }
        let idle = units - needed;
        let fee = price.map(|p| Decimal::from(units * hours) * p.price_per_mu_hour);
        let savings = price.map(|p| Decimal::from(idle * hours) * p.price_per_mu_hour).unwrap_or_default();
        let name = u.name.clone().unwrap_or_else(|| u.arn.clone());
        let mut evidence = BTreeMap::new();
        evidence.insert("model_units".into(), json!(units));
        evidence.insert("units_needed".into(), json!(needed));
        evidence.insert("requests".into(), json!(u.requests));
        evidence.insert("active_minutes".into(), json!(u.active_minutes));
        evidence.insert("peak_minute_input_tokens".into(), json!(u.peak_minute_input_tokens));
        evidence.insert("peak_minute_output_tokens".into(), json!(u.peak_minute_output_tokens));
        evidence.insert("commitment".into(), json!(commitment));
        evidence.insert("commitment_expires_at".into(), json!(u.commitment_expires_at));
        if let Some(p) = price {
            evidence.insert("price_per_mu_hour_usd".into(), money(p.price_per_mu_hour));
        }
        let (confidence, reason) = match (price, commitment.as_str()) {
            (None, _) => {
                (Confidence::Low, "the book has no price for this model and commitment: the fee is unknown".to_string())
            }
            (Some(_), "none") => (
                Confidence::High,
                format!("{idle} of {units} unit(s) were not needed even by the window's busiest minute"),
            ),
            (Some(_), _) => (
                Confidence::Medium,
                format!(
                    "{idle} of {units} unit(s) idle; a commitment is billed to its end, so the saving starts when it expires"
                ),
            ),
        };
        let action = if needed == 0 {
            format!(
                "Delete the Provisioned Throughput {name} ({model}, {units} unit(s)) or let its {commitment} term lapse: it served no requests in the window."
            )
        } else {
            format!(
                "Reduce the Provisioned Throughput {name} ({model}) from {units} to {needed} unit(s) at its next change or renewal."
            )
        };
        out.push(build(
            window,
            Kind::UnusedProvisionedThroughput,
            scope([("provisioned_throughput", u.arn.as_str()), ("model", model), ("region", &u.region)]),
            fee.unwrap_or_default(),
            savings,
            confidence,
            reason,
            evidence,
            action,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up() {
        assert_eq!(units_for(1000, 1000), 1);
        assert_eq!(units_for(1001, 1000), 2);
        assert_eq!(units_for(0, 1000), 1);
        assert_eq!(units_for(5, 0), 1);
    }

    #[test]
    fn config_capacities_replace_or_complete_the_sheets() {
        let row = |model: &str, cap: Option<i64>| ProvisionedPrice {
            model: model.into(),
            region: "us-east-1".into(),
            commitment: "1-month".into(),
            price_per_mu_hour: Decimal::ONE,
            input_tpm_per_mu: cap,
            output_tpm_per_mu: cap,
        };
        let capacities: BTreeMap<String, Capacity> =
            [("m1".to_string(), Capacity { input_tpm_per_mu: 7, output_tpm_per_mu: 3 })].into();
        let out = with_capacities(
            vec![row("m1", None), row("m1", Some(100)), row("m2", Some(100)), row("m3", None)],
            &capacities,
        );
        let caps: Vec<_> = out.iter().map(|p| (p.model.as_str(), p.input_tpm_per_mu, p.output_tpm_per_mu)).collect();
        assert_eq!(
            caps,
            vec![("m1", Some(7), Some(3)), ("m1", Some(7), Some(3)), ("m2", Some(100), Some(100)), ("m3", None, None)]
        );
    }
}
