//! Renderers of a [`MonthlyReport`]: HTML and Markdown through minijinja templates (`templates/`), JSON with
//! serde, CSV by hand. Each is pure and writes to any `W: Write`. The HTML and Markdown templates read one
//! [`View`] of already formatted text, so both (and the email's plain-text part) show the same figures.

use std::io::Write;

use chrono::{Datelike, NaiveDate};
use minijinja::Environment;
use rust_decimal::Decimal;
use serde::Serialize;

use super::chart;
use super::format::{count, percent, percent_change, tokens, usd, usd_change};
use super::model::MonthlyReport;
use super::raster;

/// The output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Markdown,
    Json,
    Csv,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot render the {template} template")]
    Template { template: &'static str, source: minijinja::Error },
    #[error("cannot serialize the report as JSON")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the report")]
    Write(#[from] std::io::Error),
    #[error("cannot draw the {month} chart as PNG")]
    Chart { month: String, source: raster::Error },
}

/// Rows a table shows before the rest are summed into one line.
pub const MAX_TABLE_ROWS: usize = 20;

const HTML_TEMPLATE: &str = include_str!("templates/report.html");
const MARKDOWN_TEMPLATE: &str = include_str!("templates/report.md");

/// Write `report` as `format`.
pub fn render<W: Write>(report: &MonthlyReport, format: ReportFormat, out: &mut W) -> Result<(), Error> {
    match format {
        ReportFormat::Html => render_html(report, out),
        ReportFormat::Markdown => render_markdown(report, out),
        ReportFormat::Json => render_json(report, out),
        ReportFormat::Csv => render_csv(report, out),
    }
}

/// One self-contained HTML file: inline CSS, an inline SVG chart, no scripts, no external assets.
pub fn render_html<W: Write>(report: &MonthlyReport, out: &mut W) -> Result<(), Error> {
    render_template("report.html", HTML_TEMPLATE, View::of(report), out)
}

/// The HTML body of the report's email and the chart it shows as a PNG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailHtml {
    pub html: String,
    /// The daily chart, for the message part whose `Content-ID` is the `chart_cid` given to [`render_email_html`];
    /// `None` when there is no priced spend to draw (the HTML then says so).
    pub chart_png: Option<Vec<u8>>,
}

/// The HTML for an email: the same report as [`render_html`], but the chart is an `<img src="cid:{chart_cid}">`
/// (with its size and a text alternative) showing the chart's SVG rasterised to PNG, because Gmail and Outlook
/// desktop drop inline SVG. The caller attaches the PNG as a related part with `Content-ID: <{chart_cid}>`.
pub fn render_email_html(report: &MonthlyReport, chart_cid: &str) -> Result<EmailHtml, Error> {
    let mut view = View::of(report);
    let chart_png = match chart::daily_chart_of(report) {
        Some(c) => {
            let png = raster::svg_to_png(&c.svg, c.width, c.height)
                .map_err(|source| Error::Chart { month: report.month.clone(), source })?;
            view.chart_img =
                Some(ChartImg { src: format!("cid:{chart_cid}"), width: c.width, height: c.height, alt: c.alt });
            Some(png)
        }
        None => None,
    };
    Ok(EmailHtml { html: template_text("report.html", HTML_TEMPLATE, view)?, chart_png })
}

/// Markdown (also the plain-text part of the email).
pub fn render_markdown<W: Write>(report: &MonthlyReport, out: &mut W) -> Result<(), Error> {
    render_template("report.md", MARKDOWN_TEMPLATE, View::of(report), out)
}

/// The report for machines: [`MonthlyReport`] as JSON, money as exact decimal strings, unknown as `null`.
pub fn render_json<W: Write>(report: &MonthlyReport, out: &mut W) -> Result<(), Error> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// The report's figures as CSV, one per line: `section,item,metric,value`, money as exact decimals, unknown empty.
pub fn render_csv<W: Write>(report: &MonthlyReport, out: &mut W) -> Result<(), Error> {
    let mut w = CsvOut { out };
    w.row("section", "item", "metric", "value")?;
    let t = &report.totals;
    let m = report.month.as_str();
    w.int("totals", m, "requests", Some(t.requests))?;
    w.int("totals", m, "priced_requests", Some(t.priced_requests))?;
    w.int("totals", m, "unpriced_requests", Some(t.unpriced_requests))?;
    w.int("totals", m, "unpriced_tokens", Some(t.unpriced_tokens))?;
    w.int("totals", m, "input_tokens", t.input_tokens)?;
    w.int("totals", m, "output_tokens", t.output_tokens)?;
    w.int("totals", m, "cache_read_tokens", t.cache_read_tokens)?;
    w.int("totals", m, "cache_write_tokens", t.cache_write_tokens)?;
    w.money("totals", m, "list_cost_usd", t.list_cost_usd)?;
    w.money("totals", m, "cost_usd", t.cost_usd)?;
    w.money("totals", m, "cache_savings_usd", t.cache_savings_usd)?;
    if let Some(p) = &report.previous {
        w.int("previous_month", &p.month, "requests", Some(p.requests))?;
        w.money("previous_month", &p.month, "cost_usd", p.cost_usd)?;
    }
    w.money("change", m, "cost_usd", report.change.cost_usd)?;
    w.money("change", m, "cost_ratio", report.change.cost_ratio)?;
    w.int("change", m, "requests", report.change.requests)?;
    w.money("change", m, "requests_ratio", report.change.requests_ratio)?;
    for l in &report.models {
        let item = format!("{} ({})", l.model, l.routing);
        w.int("model", &item, "requests", Some(l.requests))?;
        w.int("model", &item, "input_tokens", l.input_tokens)?;
        w.int("model", &item, "output_tokens", l.output_tokens)?;
        w.int("model", &item, "cache_read_tokens", l.cache_read_tokens)?;
        w.int("model", &item, "cache_write_tokens", l.cache_write_tokens)?;
        w.money("model", &item, "cost_usd", l.cost_usd)?;
        w.money("model", &item, "cache_savings_usd", l.cache_savings_usd)?;
        w.int("model", &item, "unpriced_requests", Some(l.unpriced_requests))?;
    }
    for (d, day) in report.daily.days.iter().enumerate() {
        let item = day.to_string();
        for s in &report.daily.series {
            w.money("daily", &item, &format!("cost_usd:{}", s.name), s.cost_usd.get(d).copied())?;
        }
        w.money("daily", &item, "cost_usd", report.daily.totals.get(d).copied())?;
    }
    for p in &report.principals {
        let item = match &p.account_id {
            Some(a) => format!("{} ({a})", p.principal),
            None => p.principal.clone(),
        };
        w.int("principal", &item, "requests", Some(p.requests))?;
        w.money("principal", &item, "cost_usd", p.cost_usd)?;
        w.int("principal", &item, "unpriced_requests", Some(p.unpriced_requests))?;
    }
    for b in &report.metadata {
        let section = format!("metadata:{}", b.key);
        for v in &b.values {
            w.int(&section, &v.value, "requests", Some(v.requests))?;
            w.money(&section, &v.value, "cost_usd", v.cost_usd)?;
            w.int(&section, &v.value, "unpriced_requests", Some(v.unpriced_requests))?;
        }
    }
    w.money("cache", m, "hit_rate", report.cache.hit_rate)?;
    w.money("cache", m, "savings_usd", report.cache.savings_usd)?;
    for r in &report.recommendations.top {
        w.money("recommendation", &r.id, "monthly_savings_usd", Some(r.monthly_savings_usd))?;
    }
    for u in &report.unpriced.groups {
        let item = format!("{} / {} / {}", u.model, u.region.as_deref().unwrap_or("-"), u.reason);
        w.int("unpriced", &item, "requests", Some(u.requests))?;
        w.int("unpriced", &item, "input_tokens", u.input_tokens)?;
        w.int("unpriced", &item, "output_tokens", u.output_tokens)?;
    }
    let c = &report.coverage;
    w.int("coverage", m, "days_in_month", Some(c.days_in_month as i64))?;
    w.int("coverage", m, "days_with_logs", Some(c.days_with_logs as i64))?;
    w.int("coverage", m, "rejected_records", i64::try_from(c.rejected_records).ok())?;
    for r in &c.regions {
        w.int("coverage", &r.region, "days", Some(r.days as i64))?;
        w.int("coverage", &r.region, "requests", Some(r.requests))?;
    }
    w.row("prices", "book", "source", &report.prices.book)?;
    w.row("prices", "discount", "discount_pct", &report.prices.discount_pct)?;
    for s in &report.prices.sources {
        w.row("prices", &s.source, "as_of", &s.as_of)?;
    }
    Ok(())
}

struct CsvOut<'a, W: Write> {
    out: &'a mut W,
}

impl<W: Write> CsvOut<'_, W> {
    fn row(&mut self, a: &str, b: &str, c: &str, d: &str) -> std::io::Result<()> {
        writeln!(self.out, "{},{},{},{}", csv_field(a), csv_field(b), csv_field(c), csv_field(d))
    }
    fn int(&mut self, a: &str, b: &str, c: &str, v: Option<i64>) -> std::io::Result<()> {
        self.row(a, b, c, &v.map(|v| v.to_string()).unwrap_or_default())
    }
    fn money(&mut self, a: &str, b: &str, c: &str, v: Option<Decimal>) -> std::io::Result<()> {
        self.row(a, b, c, &v.map(|v| v.normalize().to_string()).unwrap_or_default())
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn render_template<W: Write>(name: &'static str, source: &'static str, view: View, out: &mut W) -> Result<(), Error> {
    out.write_all(template_text(name, source, view)?.as_bytes())?;
    Ok(())
}

fn template_text(name: &'static str, source: &'static str, view: View) -> Result<String, Error> {
    let err = |source| Error::Template { template: name, source };
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_filter("md", |text: String| text.replace('|', "\\|"));
    env.add_template(name, source).map_err(err)?;
    env.get_template(name).map_err(err)?.render(view).map_err(err)
}

/// `December 2025`.
pub fn month_name(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| d.format("%B %Y").to_string())
        .unwrap_or_else(|_| month.to_string())
}

/// The email subject: names the month and the total.
pub fn subject(report: &MonthlyReport) -> String {
    let unpriced = if report.totals.unpriced_requests > 0 {
        format!(" (+{} unpriced requests)", count(report.totals.unpriced_requests))
    } else {
        String::new()
    };
    format!("Amazon Bedrock spend, {}: {}{unpriced}", month_name(&report.month), usd(report.totals.cost_usd))
}

/// The report as the templates see it: formatted text only.
#[derive(Debug, Serialize)]
pub struct View {
    title: String,
    month: String,
    month_name: String,
    total_cost: String,
    list_cost: String,
    requests: String,
    priced_requests: String,
    discount_pct: String,
    previous_month: Option<String>,
    previous_cost: String,
    previous_requests: String,
    change_cost: String,
    change_cost_pct: String,
    change_requests: String,
    change_requests_pct: String,
    cost_up: bool,
    unpriced: bool,
    unpriced_requests: String,
    unpriced_tokens: String,
    unpriced_rows: Vec<Vec<String>>,
    models: Vec<Vec<String>>,
    model_totals: Vec<String>,
    chart_svg: String,
    /// Set for email: the chart as an `<img>` instead of the inline SVG.
    chart_img: Option<ChartImg>,
    chart_series: usize,
    has_chart: bool,
    principals: Vec<Vec<String>>,
    metadata: Vec<MetadataView>,
    hit_rate: String,
    cache_read: String,
    cache_write: String,
    cache_savings: String,
    min_savings: String,
    recommendations: Vec<Vec<String>>,
    recommendations_total: usize,
    days_in_month: usize,
    days_with_logs: usize,
    days_without_logs: String,
    regions: Vec<Vec<String>>,
    rejected: String,
    price_book: String,
    price_sources: Vec<Vec<String>>,
}

/// The chart as an image the HTML references (`src` is a `cid:` URL in email).
#[derive(Debug, Serialize)]
struct ChartImg {
    src: String,
    width: u32,
    height: u32,
    alt: String,
}

#[derive(Debug, Serialize)]
struct MetadataView {
    key: String,
    rows: Vec<Vec<String>>,
}

impl View {
    /// Format every figure of `r` once.
    pub fn of(r: &MonthlyReport) -> View {
        let name = month_name(&r.month);
        let t = &r.totals;
        let models = r
            .models
            .iter()
            .map(|l| {
                vec![
                    l.model.clone(),
                    l.routing.clone(),
                    count(l.requests),
                    tokens(l.input_tokens),
                    tokens(l.output_tokens),
                    tokens(l.cache_read_tokens),
                    tokens(l.cache_write_tokens),
                    usd(l.cost_usd),
                    percent(l.cost_share),
                ]
            })
            .collect();
        let model_totals = vec![
            "Total".to_string(),
            String::new(),
            count(t.requests),
            tokens(t.input_tokens),
            tokens(t.output_tokens),
            tokens(t.cache_read_tokens),
            tokens(t.cache_write_tokens),
            usd(t.cost_usd),
            if t.cost_usd.is_some() { "100.0%".to_string() } else { "n/a".to_string() },
        ];
        let mut principals: Vec<Vec<String>> = r
            .principals
            .iter()
            .take(MAX_TABLE_ROWS)
            .map(|p| {
                vec![
                    p.principal.clone(),
                    p.account_id.clone().unwrap_or_else(|| "-".to_string()),
                    count(p.requests),
                    tokens(p.input_tokens),
                    tokens(p.output_tokens),
                    usd(p.cost_usd),
                    unpriced_note(p.unpriced_requests),
                ]
            })
            .collect();
        if r.principals.len() > MAX_TABLE_ROWS {
            let rest = &r.principals[MAX_TABLE_ROWS..];
            principals.push(vec![
                format!("{} more callers", rest.len()),
                String::new(),
                count(rest.iter().map(|p| p.requests).sum()),
                String::new(),
                String::new(),
                usd(sum_known(rest.iter().map(|p| p.cost_usd))),
                unpriced_note(rest.iter().map(|p| p.unpriced_requests).sum()),
            ]);
        }
        let metadata = r
            .metadata
            .iter()
            .map(|b| {
                let mut rows: Vec<Vec<String>> = b
                    .values
                    .iter()
                    .take(MAX_TABLE_ROWS)
                    .map(|v| {
                        vec![
                            v.value.clone(),
                            count(v.requests),
                            tokens(v.input_tokens),
                            tokens(v.output_tokens),
                            usd(v.cost_usd),
                            unpriced_note(v.unpriced_requests),
                        ]
                    })
                    .collect();
                if b.values.len() > MAX_TABLE_ROWS {
                    let rest = &b.values[MAX_TABLE_ROWS..];
                    rows.push(vec![
                        format!("{} more values", rest.len()),
                        count(rest.iter().map(|v| v.requests).sum()),
                        String::new(),
                        String::new(),
                        usd(sum_known(rest.iter().map(|v| v.cost_usd))),
                        unpriced_note(rest.iter().map(|v| v.unpriced_requests).sum()),
                    ]);
                }
                MetadataView { key: b.key.clone(), rows }
            })
            .collect();
        let unpriced_rows = r
            .unpriced
            .groups
            .iter()
            .map(|u| {
                vec![
                    u.model.clone(),
                    u.region.clone().unwrap_or_else(|| "-".to_string()),
                    u.reason.clone(),
                    count(u.requests),
                    tokens(u.input_tokens),
                    tokens(u.output_tokens),
                    day_span(u.first_day, u.last_day),
                ]
            })
            .collect();
        let recommendations = r
            .recommendations
            .top
            .iter()
            .map(|rec| {
                let scope = rec.scope.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                let kind = serde_json::to_value(rec.kind).ok().and_then(|v| v.as_str().map(String::from));
                let confidence = serde_json::to_value(rec.confidence).ok().and_then(|v| v.as_str().map(String::from));
                vec![
                    kind.unwrap_or_default(),
                    scope,
                    usd(Some(rec.monthly_savings_usd)),
                    confidence.unwrap_or_default(),
                    rec.action.clone(),
                ]
            })
            .collect();
        let (chart_svg, has_chart) = match chart::daily_chart_of(r) {
            Some(c) => (c.svg, true),
            None => (String::new(), false),
        };
        View {
            title: format!("Amazon Bedrock spend, {name}"),
            month: r.month.clone(),
            month_name: name,
            total_cost: usd(t.cost_usd),
            list_cost: usd(t.list_cost_usd),
            requests: count(t.requests),
            priced_requests: count(t.priced_requests),
            discount_pct: format!("{}%", r.prices.discount_pct),
            previous_month: r.previous.as_ref().map(|p| month_name(&p.month)),
            previous_cost: usd(r.previous.as_ref().and_then(|p| p.cost_usd)),
            previous_requests: r.previous.as_ref().map_or_else(String::new, |p| count(p.requests)),
            change_cost: usd_change(r.change.cost_usd),
            change_cost_pct: percent_change(r.change.cost_ratio),
            change_requests: r.change.requests.map_or_else(|| "n/a".to_string(), signed_count),
            change_requests_pct: percent_change(r.change.requests_ratio),
            cost_up: r.change.cost_usd.is_some_and(|c| c > Decimal::ZERO),
            unpriced: t.unpriced_requests > 0,
            unpriced_requests: count(t.unpriced_requests),
            unpriced_tokens: tokens(Some(t.unpriced_tokens)),
            unpriced_rows,
            models,
            model_totals,
            chart_series: r.daily.series.len(),
            chart_svg,
            chart_img: None,
            has_chart,
            principals,
            metadata,
            hit_rate: percent(r.cache.hit_rate),
            cache_read: tokens(r.cache.cache_read_tokens),
            cache_write: tokens(r.cache.cache_write_tokens),
            cache_savings: usd(r.cache.savings_usd),
            min_savings: usd(Some(r.recommendations.min_monthly_savings_usd)),
            recommendations,
            recommendations_total: r.recommendations.total,
            days_in_month: r.coverage.days_in_month,
            days_with_logs: r.coverage.days_with_logs,
            days_without_logs: day_ranges(&r.coverage.days_without_logs),
            regions: r
                .coverage
                .regions
                .iter()
                .map(|c| {
                    vec![c.region.clone(), format!("{} of {}", c.days, r.coverage.days_in_month), count(c.requests)]
                })
                .collect(),
            rejected: count(i64::try_from(r.coverage.rejected_records).unwrap_or(i64::MAX)),
            price_book: r.prices.book.clone(),
            price_sources: r
                .prices
                .sources
                .iter()
                .map(|s| vec![s.source.clone(), s.as_of.clone(), count(s.models), count(s.requests)])
                .collect(),
        }
    }
}

fn signed_count(v: i64) -> String {
    if v >= 0 { format!("+{}", count(v)) } else { count(v) }
}

fn unpriced_note(requests: i64) -> String {
    if requests > 0 { format!("{} unpriced", count(requests)) } else { String::new() }
}

/// The sum of the known amounts; `None` when none is known.
fn sum_known(values: impl Iterator<Item = Option<Decimal>>) -> Option<Decimal> {
    values.flatten().fold(None, |acc, v| Some(acc.unwrap_or(Decimal::ZERO) + v))
}

fn day_span(first: Option<NaiveDate>, last: Option<NaiveDate>) -> String {
    match (first, last) {
        (Some(a), Some(b)) if a == b => a.format("%b %-d").to_string(),
        (Some(a), Some(b)) if a.month() == b.month() => format!("{}–{}", a.format("%b %-d"), b.day()),
        (Some(a), Some(b)) => format!("{}–{}", a.format("%b %-d"), b.format("%b %-d")),
        _ => "-".to_string(),
    }
}

/// `Dec 3–5, Dec 9`; `none` when the list is empty.
pub fn day_ranges(days: &[NaiveDate]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let mut j = i;
        while j + 1 < days.len() && days[j].succ_opt() == Some(days[j + 1]) {
            j += 1;
        }
        parts.push(if i == j {
            days[i].format("%b %-d").to_string()
        } else {
            format!("{}–{}", days[i].format("%b %-d"), days[j].day())
        });
        i = j + 1;
    }
    if parts.is_empty() { "none".to_string() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_ranges_collapse_runs() {
        let d = |n| NaiveDate::from_ymd_opt(2025, 12, n).unwrap();
        assert_eq!(day_ranges(&[d(3), d(4), d(5), d(9)]), "Dec 3–5, Dec 9");
        assert_eq!(day_ranges(&[]), "none");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
