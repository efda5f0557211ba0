//! Rule 1, batch inference: a caller's non-streaming, tool-free traffic on a model and Region with a batch price,
//! which shows it can wait (a scheduled window day after day, round-the-clock background volume, or large bursts).
//! Savings are the SQL's on-demand cost minus the same tokens at batch prices (`batch_cost_usd`). A caller's
//! traffic of a model is split further by the request-metadata keys in `[recommend] batch_group_by_metadata`, so a
//! nightly job and an interactive app sharing one role are judged apart; the scope names each key's value
//! (`metadata.KEY`), and leaves out keys the traffic does not carry.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::json;

use super::{Confidence, Kind, Recommendation, Window, build, money, scope};
use crate::config::RecommendConfig;
use crate::query::rows::recommend::BatchHour;

/// Widest run of consecutive UTC hours that still counts as "a window".
const WINDOW_HOURS: usize = 6;
/// Hours of day with candidate traffic for it to count as round-the-clock background volume.
const BACKGROUND_HOURS: usize = 20;
/// Requests in one minute from one caller that count as a burst no person types.
const BURST_REQUESTS_PER_MINUTE: i64 = 20;

/// How a caller's traffic shows it tolerates latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Most of it in one window of at most [`WINDOW_HOURS`] hours, day after day.
    Window { start_hour: usize, hours: usize },
    /// Spread over most hours of the day.
    Background,
    /// Large bursts from one caller.
    Bursts,
}

/// The narrowest circular run of hours holding at least `share_pct` percent of `per_hour`'s requests:
/// `(start_hour, hours)`.
pub(crate) fn narrowest_window(per_hour: &[i64; 24], share_pct: u32) -> Option<(usize, usize)> {
    let total: i64 = per_hour.iter().sum();
    if total <= 0 {
        return None;
    }
    for width in 1..=24 {
        let best = (0..24)
            .map(|start| (start, (0..width).map(|k| per_hour[(start + k) % 24]).sum::<i64>()))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        if let Some((start, sum)) = best
            && sum * 100 >= total * i64::from(share_pct)
        {
            return Some((start, width));
        }
    }
    None
}

/// Classify a caller's hourly profile; `None` = user-paced (never recommended).
pub(crate) fn classify(per_hour: &[i64; 24], days: i64, peak_minute: i64, config: &RecommendConfig) -> Option<Pattern> {
    let recurring = days >= i64::from(config.batch_min_days);
    if let Some((start_hour, hours)) = narrowest_window(per_hour, config.batch_window_share_pct)
        && hours <= WINDOW_HOURS
        && recurring
    {
        return Some(Pattern::Window { start_hour, hours });
    }
    if recurring && per_hour.iter().filter(|n| **n > 0).count() >= BACKGROUND_HOURS {
        return Some(Pattern::Background);
    }
    if peak_minute >= BURST_REQUESTS_PER_MINUTE {
        return Some(Pattern::Bursts);
    }
    None
}

/// Batch recommendations from `recommend_batch` rows.
pub(crate) fn recommend(rows: &[BatchHour], config: &RecommendConfig, window: &Window) -> Vec<Recommendation> {
    let mut groups: BTreeMap<(&str, &str, &str, &[String; 3]), Vec<&BatchHour>> = BTreeMap::new();
    for row in rows {
        groups.entry((&row.principal, &row.model, &row.region, &row.metadata)).or_default().push(row);
    }
    let mut out = Vec::new();
    for ((principal, model, region, values), hours) in groups {
        // The configured keys with the value this group carries (a key it does not carry is not part of its scope).
        let metadata: Vec<(&str, &str)> = config
            .batch_group_by_metadata
            .iter()
            .zip(values.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let candidates: i64 = hours.iter().map(|h| h.requests).sum();
        let streaming: i64 = hours.iter().map(|h| h.streaming_requests).sum();
        let tool_use: i64 = hours.iter().map(|h| h.tool_use_requests).sum();
        if candidates == 0 {
            continue;
        }
        // A caller that streams or uses tools on this model is (at least partly) interactive.
        let all = candidates + streaming + tool_use;
        if (streaming + tool_use) * 100 > all * i64::from(config.batch_max_interactive_pct) {
            continue;
        }
        let mut per_hour = [0i64; 24];
        for h in &hours {
            if let Ok(i) = usize::try_from(h.hour_of_day)
                && i < 24
            {
                per_hour[i] += h.requests;
            }
        }
        let days = hours.iter().map(|h| h.days_active).max().unwrap_or(0);
        let peak_minute = hours.iter().map(|h| h.peak_minute_requests).max().unwrap_or(0);
        let Some(pattern) = classify(&per_hour, days, peak_minute, config) else { continue };
        let (mut cost, mut batch_cost) = (Decimal::ZERO, Decimal::ZERO);
        for h in &hours {
            if let (Some(c), Some(b)) = (h.cost_usd, h.batch_cost_usd) {
                cost += c;
                batch_cost += b;
            }
        }
        let savings = cost - batch_cost;
        if savings <= Decimal::ZERO {
            continue;
        }
        let unknown_stop: i64 = hours.iter().map(|h| h.unknown_stop_requests).sum();
        let input: i64 = hours.iter().map(|h| h.input_tokens).sum();
        let output: i64 = hours.iter().map(|h| h.output_tokens).sum();
        let active_hours: Vec<usize> = (0..24).filter(|i| per_hour[*i] > 0).collect();
        let (pattern_text, mut confidence) = match pattern {
            Pattern::Window { start_hour, hours } => (
                format!(
                    "{}% or more of its requests arrive between {start_hour:02}:00 and {:02}:00 UTC, on {days} days",
                    config.batch_window_share_pct,
                    (start_hour + hours) % 24
                ),
                Confidence::High,
            ),
            Pattern::Background => (
                format!("steady background volume in {} hours of the day, on {days} days", active_hours.len()),
                Confidence::Medium,
            ),
            Pattern::Bursts => {
                (format!("bursts of up to {peak_minute} requests a minute from one caller"), Confidence::Medium)
            }
        };
        let mut reasons = vec![format!("{pattern_text}; no streaming or tool use")];
        if unknown_stop > 0 {
            confidence = Confidence::Medium.max(confidence);
            reasons.push(format!(
                "{unknown_stop} of {candidates} requests logged no stop reason, so tool use cannot be ruled out for them"
            ));
        }
        reasons.push("batch jobs complete within 24 hours: confirm the results are not awaited by a person".into());
        let mut evidence = BTreeMap::new();
        evidence.insert("requests".into(), json!(candidates));
        evidence.insert("days_active".into(), json!(days));
        evidence.insert("hours_utc".into(), json!(active_hours));
        evidence.insert("requests_by_hour_utc".into(), json!(per_hour));
        evidence.insert("input_tokens".into(), json!(input));
        evidence.insert("output_tokens".into(), json!(output));
        evidence.insert("peak_minute_requests".into(), json!(peak_minute));
        evidence.insert("streaming_requests".into(), json!(streaming));
        evidence.insert("tool_use_requests".into(), json!(tool_use));
        evidence.insert("unknown_stop_reason_requests".into(), json!(unknown_stop));
        evidence.insert("batch_cost_usd".into(), money(batch_cost));
        evidence.insert("pattern".into(), json!(pattern_text));
        let mut sc = scope([("principal", principal), ("model", model), ("region", region)]);
        sc.extend(metadata.iter().map(|(k, v)| (format!("metadata.{k}"), v.to_string())));
        let tagged = if metadata.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(" tagged {}", pairs.join(", "))
        };
        out.push(build(
            window,
            Kind::Batch,
            sc,
            cost,
            savings,
            confidence,
            reasons.join("; "),
            evidence,
            format!(
                "Move {principal}'s calls of {model} in {region}{tagged} to a batch inference job \
                 (CreateModelInvocationJob with the requests as JSONL in S3): the same tokens cost the batch price."
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(pairs: &[(usize, i64)]) -> [i64; 24] {
        let mut h = [0; 24];
        for (i, n) in pairs {
            h[*i] = *n;
        }
        h
    }

    #[test]
    fn windows_wrap_around_midnight_and_pick_the_narrowest() {
        assert_eq!(narrowest_window(&hours(&[(1, 50), (2, 50)]), 80), Some((1, 2)));
        assert_eq!(narrowest_window(&hours(&[(23, 50), (0, 50)]), 80), Some((23, 2)));
        assert_eq!(narrowest_window(&[0; 24], 80), None);
    }

    #[test]
    fn patterns() {
        let c = RecommendConfig::default();
        let nightly = hours(&[(1, 100), (2, 90)]);
        assert_eq!(classify(&nightly, 30, 3, &c), Some(Pattern::Window { start_hour: 1, hours: 2 }));
        assert_eq!(classify(&nightly, 2, 3, &c), None, "two nights are not a recurring job");
        assert_eq!(classify(&[5; 24], 30, 1, &c), Some(Pattern::Background));
        let office = hours(&[(9, 10), (10, 10), (11, 10), (12, 10), (13, 10), (14, 10), (15, 10), (16, 10)]);
        assert_eq!(classify(&office, 20, 2, &c), None, "business hours, user paced");
        assert_eq!(classify(&office, 20, 40, &c), Some(Pattern::Bursts));
    }
}
