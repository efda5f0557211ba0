//! Renderers of recommendations (table, JSON, Markdown, CSV), each generic over `W: Write`; the CLI picks the
//! writer. Pure formatting: no queries, no clock.

use std::io::{self, Write};

use rust_decimal::Decimal;

use super::Recommendation;

/// Output formats of `recommend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Csv,
}

/// Money for people: `$1,234.56` (negative as `-$3.10`).
pub fn usd(value: Decimal) -> String {
    let cents = value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.2}", cents.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}${grouped}.{frac}", if cents.is_sign_negative() && !cents.is_zero() { "-" } else { "" })
}

fn scope_text(r: &Recommendation) -> String {
    r.scope.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn confidence_text(r: &Recommendation) -> String {
    serde_json::to_value(r.confidence).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn kind_text(r: &Recommendation) -> String {
    serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Write `recs` in `format`.
pub fn render<W: Write>(out: &mut W, recs: &[Recommendation], format: Format) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, recs)?;
            writeln!(out)
        }
        Format::Csv => render_csv(out, recs),
        Format::Table => render_text(out, recs, false),
        Format::Markdown => render_text(out, recs, true),
    }
}

fn render_csv<W: Write>(out: &mut W, recs: &[Recommendation]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "kind",
        "scope",
        "current_cost_usd",
        "savings_usd",
        "monthly_savings_usd",
        "confidence",
        "confidence_reason",
        "evidence",
        "action",
    ])?;
    for r in recs {
        let scope = serde_json::to_string(&r.scope)?;
        let evidence = serde_json::to_string(&r.evidence)?;
        w.write_record([
            r.id.as_str(),
            &kind_text(r),
            &scope,
            &r.current_cost_usd.to_string(),
            &r.savings_usd.to_string(),
            &r.monthly_savings_usd.to_string(),
            &confidence_text(r),
            &r.confidence_reason,
            &evidence,
            &r.action,
        ])?;
    }
    w.flush()
}

fn render_text<W: Write>(out: &mut W, recs: &[Recommendation], markdown: bool) -> io::Result<()> {
    if recs.is_empty() {
        return writeln!(out, "no recommendations for this window");
    }
    if markdown {
        writeln!(
            out,
            "| # | kind | scope | monthly savings | savings (window) | current cost | confidence | action |"
        )?;
        writeln!(out, "|---|---|---|---:|---:|---:|---|---|")?;
        for (i, r) in recs.iter().enumerate() {
            let cell = |s: &str| s.replace('|', "\\|");
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                i + 1,
                kind_text(r),
                cell(&scope_text(r)),
                usd(r.monthly_savings_usd),
                usd(r.savings_usd),
                usd(r.current_cost_usd),
                confidence_text(r),
                cell(&r.action)
            )?;
        }
        return Ok(());
    }
    for (i, r) in recs.iter().enumerate() {
        writeln!(
            out,
            "{}. [{}] {} a month ({} over the window, on {} of spend), confidence {}",
            i + 1,
            kind_text(r),
            usd(r.monthly_savings_usd),
            usd(r.savings_usd),
            usd(r.current_cost_usd),
            confidence_text(r)
        )?;
        writeln!(out, "   scope: {}", scope_text(r))?;
        writeln!(out, "   {}", r.action)?;
        writeln!(out, "   why: {}", r.confidence_reason)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_and_signed() {
        assert_eq!(usd("1234.565".parse().unwrap()), "$1,234.57");
        assert_eq!(usd("-3.1".parse().unwrap()), "-$3.10");
        assert_eq!(usd(Decimal::ZERO), "$0.00");
    }
}
