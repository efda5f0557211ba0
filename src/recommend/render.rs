//! Renderers of recommendations (table, JSON, Markdown, CSV), each generic over `W: Write`; the CLI picks the
//! writer. Also the parts of the email `recommend --email-to` sends (subject, Markdown text, HTML through a
//! minijinja template), all showing the same formatted figures. Pure formatting: no queries, no clock.

use std::io::{self, Write};

use rust_decimal::Decimal;
use serde::Serialize;

use super::Recommendation;
use crate::money::usd;

const EMAIL_TEMPLATE: &str = include_str!("templates/recommendations.html");

/// Why the HTML email could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render the recommendations.html template")]
    Template(#[source] minijinja::Error),
    #[error("cannot write the recommendations")]
    Write(#[from] io::Error),
}

/// What an email of recommendations says besides the list: the window analysed and the usage in it with no price
/// (which no recommendation could weigh).
#[derive(Debug, Clone, Copy)]
pub struct EmailContext<'a> {
    /// The window, first and last day inclusive: `2025-11-01 to 2025-11-30`.
    pub window: &'a str,
    pub unpriced_requests: i64,
    pub unpriced_tokens: i64,
}

impl EmailContext<'_> {
    fn title(&self) -> String {
        format!("Amazon Bedrock recommendations, {}", self.window)
    }

    fn intro(&self, recs: &[Recommendation]) -> String {
        format!(
            "{} recommendation(s) for the traffic of {} (UTC), ranked by monthly savings (the window's savings \
             scaled to 30 days of activity). Savings of two recommendations on the same traffic do not add up.",
            recs.len(),
            self.window
        )
    }

    fn unpriced(&self) -> Option<String> {
        (self.unpriced_requests > 0).then(|| {
            format!(
                "{} request(s) with {} token(s) in the window have no price: their spend is unknown (not $0) and no \
                 recommendation counts them; `bedrock-spend pricing check` lists them.",
                self.unpriced_requests, self.unpriced_tokens
            )
        })
    }

    fn footer(&self) -> &'static str {
        "Every saving is priced from the price book with exact decimals. The evidence behind each recommendation \
         is in the attached JSON (the same as `bedrock-spend recommend --format json`)."
    }
}

/// The email subject: the window, how many recommendations, and the largest monthly saving.
pub fn subject(recs: &[Recommendation], context: &EmailContext<'_>) -> String {
    let top = recs.iter().map(|r| r.monthly_savings_usd).max().filter(|m| *m > Decimal::ZERO);
    match (recs.len(), top) {
        (0, _) => format!("{}: none", context.title()),
        (n, Some(top)) => format!("{}: {n}, the largest saving {} a month", context.title(), usd(top)),
        (n, None) => format!("{}: {n}, none claims a saving", context.title()),
    }
}

/// The email's plain-text part, in Markdown: the ranked table, then each recommendation's action and why.
pub fn render_email_text<W: Write>(out: &mut W, recs: &[Recommendation], context: &EmailContext<'_>) -> io::Result<()> {
    writeln!(out, "# {}\n\n{}\n", context.title(), context.intro(recs))?;
    if let Some(note) = context.unpriced() {
        writeln!(out, "**Unpriced usage:** {note}\n")?;
    }
    render_text(out, recs, true)?;
    for (i, r) in recs.iter().enumerate() {
        writeln!(out, "\n## {}. {}: {} a month\n", i + 1, kind_text(r), usd(r.monthly_savings_usd))?;
        writeln!(out, "- Action: {}", r.action)?;
        writeln!(out, "- Scope: {}", scope_text(r))?;
        writeln!(out, "- Saves {} over the window, on {} of spend today", usd(r.savings_usd), usd(r.current_cost_usd))?;
        writeln!(out, "- Confidence {}: {}", confidence_text(r), r.confidence_reason)?;
    }
    writeln!(out, "\n{}", context.footer())
}

/// One recommendation as the HTML template sees it: formatted text only.
#[derive(Serialize)]
struct EmailRow {
    rank: usize,
    kind: String,
    scope: String,
    monthly: String,
    savings: String,
    current: String,
    confidence: String,
    reason: String,
    action: String,
}

/// The email's HTML part (inline styles only, for mail clients); text is escaped by the template engine.
pub fn render_email_html<W: Write>(
    out: &mut W,
    recs: &[Recommendation],
    context: &EmailContext<'_>,
) -> Result<(), RenderError> {
    let rows: Vec<EmailRow> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| EmailRow {
            rank: i + 1,
            kind: kind_text(r),
            scope: scope_text(r),
            monthly: usd(r.monthly_savings_usd),
            savings: usd(r.savings_usd),
            current: usd(r.current_cost_usd),
            confidence: confidence_text(r),
            reason: r.confidence_reason.clone(),
            action: r.action.clone(),
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("recommendations.html", EMAIL_TEMPLATE).map_err(RenderError::Template)?;
    let view = minijinja::context! {
        title => context.title(),
        intro => context.intro(recs),
        unpriced => context.unpriced(),
        recs => rows,
        footer => context.footer(),
    };
    let html = env.get_template("recommendations.html").and_then(|t| t.render(view)).map_err(RenderError::Template)?;
    out.write_all(html.as_bytes())?;
    Ok(())
}

/// Output formats of `recommend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Csv,
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

    fn rec(monthly: &str, action: &str) -> Recommendation {
        let window = super::super::Window {
            since: chrono::NaiveDate::from_ymd_opt(2025, 11, 1).unwrap(),
            until: chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
            activity_days: 30,
        };
        super::super::build(
            &window,
            super::super::Kind::Batch,
            super::super::scope([("principal", "etl/<nightly>")]),
            Decimal::from(100),
            monthly.parse().unwrap(),
            super::super::Confidence::High,
            "runs at night".into(),
            Default::default(),
            action.into(),
        )
    }

    #[test]
    fn email_parts_show_the_same_figures_and_escape_html() {
        let context = EmailContext { window: "2025-11-01 to 2025-11-30", unpriced_requests: 3, unpriced_tokens: 900 };
        let recs = vec![rec("1234.5", "Move it <now> & save."), rec("0", "Look at it.")];
        assert_eq!(
            subject(&recs, &context),
            "Amazon Bedrock recommendations, 2025-11-01 to 2025-11-30: 2, the largest saving $1,234.50 a month"
        );
        assert_eq!(subject(&[], &context), "Amazon Bedrock recommendations, 2025-11-01 to 2025-11-30: none");
        assert!(subject(&recs[1..], &context).ends_with(": 1, none claims a saving"));
        let mut text = Vec::new();
        render_email_text(&mut text, &recs, &context).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("## 1. batch: $1,234.50 a month") && text.contains("- Action: Move it <now> & save."));
        assert!(text.contains("3 request(s) with 900 token(s)"), "{text}");
        let mut html = Vec::new();
        render_email_html(&mut html, &recs, &context).unwrap();
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains("$1,234.50") && html.contains("Move it &lt;now&gt; &amp; save."), "{html}");
        assert!(
            html.contains("principal=etl/&lt;nightly&gt;") || html.contains("principal=etl&#x2f;&lt;nightly&gt;"),
            "{html}"
        );
        assert!(html.contains("3 request(s) with 900 token(s)"));
    }
}
