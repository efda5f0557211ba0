//! Numbers for people: `$1,234.56`, `1.2M` tokens, `1,293` requests, `+12.5%`. Unknown money is `unknown`, never
//! `$0`. Every renderer formats through these functions, so the Markdown, the HTML and the email say the same.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::group_thousands;

/// [`crate::money::usd`] (`$1,234.56`), except that amounts under a cent but above zero show as `<$0.01` (a total
/// of $0.004 is not "$0.00"); `None` is `unknown`.
pub fn usd(value: Option<Decimal>) -> String {
    let Some(v) = value else { return "unknown".to_string() };
    if !v.is_zero() && v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero).is_zero() {
        return if v.is_sign_negative() { "-<$0.01" } else { "<$0.01" }.to_string();
    }
    crate::money::usd(v)
}

/// A signed amount: `+$12.34`, `-$5.00`, `unknown`.
pub fn usd_change(value: Option<Decimal>) -> String {
    match value {
        Some(v) if !v.is_sign_negative() => format!("+{}", usd(Some(v))),
        other => usd(other),
    }
}

/// `1,293`.
pub fn count(value: i64) -> String {
    let text = value.unsigned_abs().to_string();
    format!("{}{}", if value < 0 { "-" } else { "" }, group_thousands(&text))
}

/// Tokens, short: `812`, `45.3K`, `1.2M`, `3.4B`; `None` (no request had the count) is `-`.
pub fn tokens(value: Option<i64>) -> String {
    let Some(v) = value else { return "-".to_string() };
    let abs = v.unsigned_abs();
    let (unit, scale) = match abs {
        0..=9_999 => return count(v),
        10_000..=999_999 => ("K", 1_000u64),
        1_000_000..=999_999_999 => ("M", 1_000_000),
        _ => ("B", 1_000_000_000),
    };
    // Exact decimal rounding (half away from zero), not float.
    let shown =
        (Decimal::from(abs) / Decimal::from(scale)).round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    format!("{}{shown:.1}{unit}", if v < 0 { "-" } else { "" })
}

/// A ratio as a percentage with one decimal: `0.1234` is `12.3%`; `None` is `n/a`.
pub fn percent(ratio: Option<Decimal>) -> String {
    match ratio {
        Some(r) => {
            let p = (r * Decimal::ONE_HUNDRED).round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
            format!("{p:.1}%")
        }
        None => "n/a".to_string(),
    }
}

/// A signed percentage: `+12.3%`, `-4.0%`, `n/a`.
pub fn percent_change(ratio: Option<Decimal>) -> String {
    match ratio {
        Some(r) if !r.is_sign_negative() => format!("+{}", percent(Some(r))),
        other => percent(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn money() {
        let cases = [
            (Some("1234.564"), "$1,234.56"),
            (Some("1234.565"), "$1,234.57"),
            (Some("0"), "$0.00"),
            (Some("0.004"), "<$0.01"),
            (Some("-5"), "-$5.00"),
            (Some("1234567.891"), "$1,234,567.89"),
            (None, "unknown"),
        ];
        for (value, want) in cases {
            assert_eq!(usd(value.map(d)), want, "{value:?}");
        }
        assert_eq!(usd_change(Some(d("1.5"))), "+$1.50");
        assert_eq!(usd_change(Some(d("-1.5"))), "-$1.50");
    }

    #[test]
    fn token_counts() {
        let cases = [
            (Some(812), "812"),
            (Some(9_999), "9,999"),
            (Some(45_349), "45.3K"),
            (Some(1_077_594), "1.1M"),
            (Some(1_250_000), "1.3M"),
            (Some(3_400_000_000), "3.4B"),
            (None, "-"),
        ];
        for (value, want) in cases {
            assert_eq!(tokens(value), want, "{value:?}");
        }
    }

    #[test]
    fn ratios() {
        assert_eq!(percent(Some(d("0.12345"))), "12.3%");
        assert_eq!(percent(Some(d("1"))), "100.0%");
        assert_eq!(percent_change(Some(d("0.25"))), "+25.0%");
        assert_eq!(percent_change(Some(d("-0.04"))), "-4.0%");
        assert_eq!(percent(None), "n/a");
        assert_eq!(count(1_293), "1,293");
    }
}
