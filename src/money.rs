//! Money as people read it: `$1,234.56`. An amount is rounded to cents half away from zero on the exact decimal,
//! never through `f64`. The report, the recommendations and the demo print dollars through [`usd`], so they agree
//! to the cent; each decides what an unknown amount reads as.

use rust_decimal::{Decimal, RoundingStrategy};

/// `$1,234.56`, `-$3.10`; an amount under half a cent either way is `$0.00`.
pub fn usd(value: Decimal) -> String {
    let cents = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.2}", cents.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if cents.is_sign_negative() && !cents.is_zero() { "-" } else { "" };
    format!("{sign}${}.{frac}", group_thousands(int))
}

/// Digits with a comma every three from the right: `1234567` is `1,234,567`.
pub fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_rounded_grouped_and_signed() {
        let cases = [
            ("1234.564", "$1,234.56"),
            ("1234.565", "$1,234.57"),
            ("-1234.565", "-$1,234.57"),
            ("-3.1", "-$3.10"),
            ("0", "$0.00"),
            ("0.004", "$0.00"),
            ("-0.004", "$0.00"),
            ("999.995", "$1,000.00"),
            ("1234567.891", "$1,234,567.89"),
        ];
        for (value, want) in cases {
            assert_eq!(usd(value.parse().unwrap()), want, "{value}");
        }
    }
}
