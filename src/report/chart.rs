//! The daily spend chart as inline SVG, written by hand: stacked bars per day by model, a y axis with dollar
//! ticks and gridlines, day labels, axis titles and a legend, in the Okabe-Ito colour-blind-safe palette.
//!
//! Why not a charting crate: plotters (the one that writes SVG) lays out axis labels by measuring text, which
//! needs a font backend (`ttf` pulls fontconfig/freetype system libraries, `ab_glyph` needs a font file embedded);
//! without one its chart builder cannot place labels. This chart is a few rectangles and labels, and writing it
//! directly keeps the output small and deterministic to the byte, with no font in the HTML file (the browser
//! brings its own). Email clients that drop inline SVG get the same SVG drawn as PNG by [`super::raster`], which
//! does embed a font. Geometry is computed in `f64` (pixels only; money stays exact elsewhere) and printed with one
//! decimal.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::format;
use super::model::{Daily, MonthlyReport};

/// Okabe-Ito colours, most distinct first; the last is for `other`.
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D1F", "#999999"];

const WIDTH: f64 = 700.0;
const PLOT_HEIGHT: f64 = 240.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const LEGEND_ROW: f64 = 18.0;

/// The colour of series `i` of `n`.
pub fn colour(i: usize, n: usize, name: &str) -> &'static str {
    if name == "other" && i + 1 == n { PALETTE[PALETTE.len() - 1] } else { PALETTE[i % (PALETTE.len() - 1)] }
}

/// The chart drawn: the SVG, its size in CSS pixels (the email's `<img>` shows the PNG at this size) and a text
/// alternative for clients that show no images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyChart {
    pub svg: String,
    pub width: u32,
    pub height: u32,
    pub alt: String,
}

/// The chart of `daily`; `month_name` names the month (for the title and the x axis).
pub fn daily_chart(daily: &Daily, month_name: &str) -> DailyChart {
    let svg = daily_svg(daily, month_name);
    let (width, height) = size(daily);
    DailyChart { svg, width, height, alt: alt_text(daily, month_name) }
}

/// The chart of `report`'s month, or `None` when there is no priced spend to draw.
pub fn daily_chart_of(report: &MonthlyReport) -> Option<DailyChart> {
    report
        .daily
        .totals
        .iter()
        .any(|v| *v > Decimal::ZERO)
        .then(|| daily_chart(&report.daily, &super::render::month_name(&report.month)))
}

/// Width and height in whole pixels (every layout constant is whole).
fn size(daily: &Daily) -> (u32, u32) {
    let legend_rows = daily.series.len().div_ceil(2);
    (WIDTH as u32, (TOP + PLOT_HEIGHT + 44.0 + legend_rows as f64 * LEGEND_ROW + 6.0) as u32)
}

/// What the picture says, for a reader whose client blocks images: the busiest day and the models drawn.
fn alt_text(daily: &Daily, month_name: &str) -> String {
    let mut alt = format!("Daily spend by model, {month_name}, stacked bars per day");
    let busiest = daily.days.iter().zip(&daily.totals).fold(None, |best: Option<(_, Decimal)>, (d, v)| match best {
        Some((_, b)) if b >= *v => best,
        _ => Some((d, *v)),
    });
    if let Some((day, v)) = busiest.filter(|(_, v)| *v > Decimal::ZERO) {
        let _ = write!(alt, "; highest day {} at {}", day.format("%b %-d"), format::usd(Some(v)));
    }
    if !daily.series.is_empty() {
        let names: Vec<&str> = daily.series.iter().map(|s| s.name.as_str()).collect();
        let _ = write!(alt, "; models: {}", names.join(", "));
    }
    alt.push_str(". The figures are in the tables below and the attached CSV.");
    alt
}

/// The chart's SVG. `month_name` names the month (for the title and the x axis).
fn daily_svg(daily: &Daily, month_name: &str) -> String {
    let max = daily.totals.iter().copied().max().unwrap_or(Decimal::ZERO);
    let (step, ticks) = nice_ticks(max);
    let top_value = step * Decimal::from(ticks);
    let n = daily.days.len().max(1);
    let plot_width = WIDTH - LEFT - RIGHT;
    let slot = plot_width / n as f64;
    let bar = (slot * 0.72).max(1.0);
    let axis_bottom = TOP + PLOT_HEIGHT;
    let height = f64::from(size(daily).1);
    let y = |v: Decimal| -> f64 {
        let frac = if top_value.is_zero() { 0.0 } else { (v / top_value).to_f64().unwrap_or(0.0) };
        axis_bottom - frac * PLOT_HEIGHT
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="Daily spend by model, {}" font-family="Helvetica, Arial, sans-serif" font-size="11">"#,
        escape(month_name)
    );
    let _ = write!(s, "<title>Daily spend by model, {}</title>", escape(month_name));
    // Gridlines and y labels.
    for t in 0..=ticks {
        let v = step * Decimal::from(t);
        let py = y(v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{}" stroke-width="1"/>"##,
            WIDTH - RIGHT,
            if t == 0 { "#333333" } else { "#e3e3e3" }
        );
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333333">{}</text>"##,
            LEFT - 6.0,
            py + 4.0,
            escape(&format::usd(Some(v)))
        );
    }
    // Bars: one stack per day, series in legend order from the bottom up.
    for (d, _) in daily.days.iter().enumerate() {
        let x = LEFT + slot * d as f64 + (slot - bar) / 2.0;
        let mut base = Decimal::ZERO;
        for (i, series) in daily.series.iter().enumerate() {
            let v = series.cost_usd.get(d).copied().unwrap_or(Decimal::ZERO);
            if v <= Decimal::ZERO {
                continue;
            }
            let (y0, y1) = (y(base), y(base + v));
            base += v;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                (y0 - y1).max(0.5),
                colour(i, daily.series.len(), &series.name),
                escape(&series.name),
                escape(&format::usd(Some(v)))
            );
        }
    }
    // Day labels: the 1st and every 5th day.
    for (d, day) in daily.days.iter().enumerate() {
        let num = chrono::Datelike::day(day);
        if num == 1 || num % 5 == 0 {
            let x = LEFT + slot * (d as f64 + 0.5);
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{num}</text>"##,
                axis_bottom + 14.0
            );
        }
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333333">Day of {} (UTC)</text>"##,
        LEFT + plot_width / 2.0,
        axis_bottom + 30.0,
        escape(month_name)
    );
    let _ = write!(
        s,
        r##"<text x="14" y="{:.1}" text-anchor="middle" fill="#333333" transform="rotate(-90 14 {:.1})">Spend per day (USD)</text>"##,
        TOP + PLOT_HEIGHT / 2.0,
        TOP + PLOT_HEIGHT / 2.0
    );
    // Legend, two columns.
    for (i, series) in daily.series.iter().enumerate() {
        let lx = LEFT + if i % 2 == 0 { 0.0 } else { plot_width / 2.0 };
        let ly = axis_bottom + 44.0 + (i / 2) as f64 * LEGEND_ROW;
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}" fill="#222222">{}</text>"##,
            ly - 10.0,
            colour(i, daily.series.len(), &series.name),
            lx + 18.0,
            ly,
            escape(&series.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A tick step of 1, 2 or 5 times a power of ten and the number of steps (4 to 6) that reach at least `max`.
fn nice_ticks(max: Decimal) -> (Decimal, u32) {
    if max <= Decimal::ZERO {
        return (Decimal::ONE, 4);
    }
    let mut power = Decimal::new(1, 6);
    loop {
        for m in [1, 2, 5] {
            let step = power * Decimal::from(m);
            let steps = (max / step).ceil();
            if steps <= Decimal::from(6) {
                return (step, steps.to_u32().unwrap_or(1).max(1));
            }
        }
        power *= Decimal::TEN;
    }
}

/// Text for XML/HTML: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Series;
    use chrono::NaiveDate;

    #[test]
    fn ticks_are_round_and_reach_the_max() {
        let cases = [("0.27", "0.05", 6), ("4.9", "1", 5), ("12", "2", 6), ("1234", "500", 3), ("0", "1", 4)];
        for (max, step, n) in cases {
            let (s, k) = nice_ticks(max.parse().unwrap());
            assert_eq!((s, k), (step.parse().unwrap(), n), "max {max}");
        }
    }

    #[test]
    fn one_rect_per_nonzero_value_and_a_legend_entry_per_series() {
        let day = |n| NaiveDate::from_ymd_opt(2025, 12, n).unwrap();
        let d = |t: &str| t.parse::<Decimal>().unwrap();
        let daily = Daily {
            days: vec![day(1), day(2)],
            series: vec![
                Series { name: "a<b".into(), cost_usd: vec![d("1"), d("0")] },
                Series { name: "c".into(), cost_usd: vec![d("2"), d("3")] },
            ],
            totals: vec![d("3"), d("3")],
        };
        let chart = daily_chart(&daily, "December 2025");
        let svg = &chart.svg;
        // 3 bars + 2 legend swatches.
        assert_eq!(svg.matches("<rect").count(), 5, "{svg}");
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"), "names are escaped");
        assert!(svg.contains("#0072B2") && svg.contains("#E69F00"));
        // One legend row of 18 px below the 240 px plot, its 12 px top margin and the 44 px of axis labels, + 6.
        assert_eq!((chart.width, chart.height), (700, 12 + 240 + 44 + 18 + 6));
        assert!(svg.contains(r#"width="700" height="320""#), "{svg}");
        assert_eq!(
            chart.alt,
            "Daily spend by model, December 2025, stacked bars per day; highest day Dec 1 at $3.00; models: a<b, c. \
             The figures are in the tables below and the attached CSV."
        );
    }
}
