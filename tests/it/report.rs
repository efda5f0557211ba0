//! The monthly report from the outside: its totals against the SQL layer's, golden Markdown and JSON for the
//! sample month, byte-identical re-runs, the HTML rendered by headless Chromium, and email through a real SMTP
//! server (aiosmtpd, started here), plain and with STARTTLS + AUTH, with its failures and exit codes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bedrock_spend::pricing::Pricing;
use bedrock_spend::query::rows::{ModelSpend, MonthSummary};
use bedrock_spend::query::{Decimal, Params, Period, Session, SessionOptions};
use serde_json::Value;

use crate::util::*;

const MONTH: &str = "2025-12";

fn sample_warehouse(t: &TestDir) -> PathBuf {
    let wh = t.warehouse();
    let s = ingest_paths(&wh, &[checkout_path("sample-logs")]);
    assert_eq!(s.rejected, 0);
    wh
}

/// The SQL layer's rows for the month, through the same typed session the report uses.
fn sql_rows(wh: &Path) -> (MonthSummary, Vec<ModelSpend>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let session = Session::open(wh, &Pricing::bundled().unwrap(), SessionOptions::default()).await.unwrap();
        let params = Params::new().period(&Period::parse_month(MONTH).unwrap());
        let summary = session.rows::<MonthSummary>(&params).await.unwrap().remove(0);
        (summary, session.rows::<ModelSpend>(&params).await.unwrap())
    })
}

/// Run `report` on the warehouse with no SMTP settings from the caller's environment.
fn report_cmd(wh: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["--warehouse", wh.to_str().unwrap(), "report", "--month", MONTH]).args(args);
    for var in ["BEDROCK_SPEND_WAREHOUSE", "BEDROCK_SPEND_CONFIG", "BEDROCK_SPEND_SMTP_PASSWORD"] {
        c.env_remove(var);
    }
    for (var, _) in bedrock_spend::config::ENV_VARS {
        c.env_remove(var);
    }
    c
}

fn render(wh: &Path, format: &str) -> Vec<u8> {
    let o = report_cmd(wh, &["--format", format]).output().unwrap();
    assert!(o.status.success(), "report --format {format}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a decimal string")).parse().unwrap()
}

/// The report's figures are the SQL layer's: totals equal `month_summary` (and the golden file's numbers, worked
/// out by the query layer's own tests), the models' spend adds up to the total, the chart's days add up to it too.
#[test]
fn report_totals_equal_month_summary() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let (summary, models) = sql_rows(&wh);
    let json: Value = serde_json::from_slice(&render(&wh, "json")).unwrap();
    let totals = &json["totals"];
    assert_eq!(totals["requests"].as_i64(), Some(summary.requests));
    assert_eq!(totals["unpriced_requests"].as_i64(), Some(summary.unpriced_requests));
    assert_eq!(totals["unpriced_tokens"].as_i64(), Some(summary.unpriced_tokens));
    assert_eq!(totals["input_tokens"].as_i64(), summary.input_tokens);
    assert_eq!(Some(dec(&totals["cost_usd"])), summary.cost_usd);
    assert_eq!(Some(dec(&totals["list_cost_usd"])), summary.list_cost_usd);
    assert_eq!(Some(dec(&totals["cache_savings_usd"])), summary.cache_savings_usd);
    // Independently: tests/data/golden/month_summary.csv says 1293 requests, $5.431039, 47 unpriced. (It said
    // $5.374688 and 79 before the book priced Claude in every commercial Region and the three US Regions alike:
    // December's 32 Claude 3.7 Sonnet eu-west-1 and Titan Text Express us-west-2 requests add $0.0563512, worked out
    // from the raw records at 3/15/0.30/3.75 and 0.20/0.60 per million.)
    assert_eq!(summary.requests, 1293);
    assert_eq!(summary.cost_usd, Some("5.431039".parse().unwrap()));
    assert_eq!(json["unpriced"]["requests"].as_i64(), Some(47));
    // Models: one line per SQL row with the SQL row's spend, and their known spend adds up to the total (each
    // line is rounded to $0.000001 by its query, so the sum may differ by half of that per line).
    let lines = json["models"].as_array().unwrap();
    assert_eq!(lines.len(), models.len());
    for (line, row) in lines.iter().zip(&models) {
        assert_eq!(line["model"].as_str(), Some(row.model.as_str()));
        assert_eq!((!line["cost_usd"].is_null()).then(|| dec(&line["cost_usd"])), row.cost_usd, "{}", row.model);
    }
    let within = |sum: Decimal, n: usize| {
        let total = summary.cost_usd.unwrap();
        assert!((sum - total).abs() <= Decimal::new(5, 7) * Decimal::from(n), "{sum} vs {total} over {n} lines");
    };
    let sum: Decimal = lines.iter().filter(|l| !l["cost_usd"].is_null()).map(|l| dec(&l["cost_usd"])).sum();
    within(sum, lines.len());
    // The chart: December has 31 days, and the daily totals add up to the month's priced spend.
    let daily = &json["daily"];
    assert_eq!(daily["days"].as_array().unwrap().len(), 31);
    let days: Decimal = daily["totals"].as_array().unwrap().iter().map(dec).sum();
    within(days, 31 * lines.len());
    // The unpriced groups add up to the unpriced requests.
    let groups: i64 =
        json["unpriced"]["groups"].as_array().unwrap().iter().map(|g| g["requests"].as_i64().unwrap()).sum();
    assert_eq!(groups, summary.unpriced_requests);
    // The Markdown shows the same total, formatted for people.
    let md = String::from_utf8(render(&wh, "markdown")).unwrap();
    assert!(md.contains("**Total spend: $5.43** over 1,293 requests"), "{md}");
    // And the CSV carries the exact figure.
    let csv = String::from_utf8(render(&wh, "csv")).unwrap();
    assert!(csv.contains("totals,2025-12,cost_usd,5.431039\n"), "{csv}");
    assert!(csv.contains("totals,2025-12,requests,1293\n"), "{csv}");
}

/// The Markdown and JSON reports of the sample month match their golden files (`UPDATE_GOLDEN=1` rewrites them),
/// and every format is byte-identical when re-run.
#[test]
fn report_matches_golden_and_reruns_are_identical() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    for (format, ext) in [("markdown", "md"), ("json", "json")] {
        let got = render(&wh, format);
        let path = checkout_path(&format!("tests/data/golden/report-{MONTH}.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read(&path).unwrap_or_default();
        assert!(
            got == want,
            "report --format {format} differs from {} (UPDATE_GOLDEN=1 rewrites it):\n{}",
            path.display(),
            String::from_utf8_lossy(&got)
        );
    }
    for format in ["html", "markdown", "json", "csv"] {
        assert_eq!(render(&wh, format), render(&wh, format), "{format} re-run is byte-identical");
    }
    // -o writes the same bytes as stdout.
    let out = t.path("r.html");
    let o = report_cmd(&wh, &["--format", "html", "-o", out.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), render(&wh, "html"));
    // A bad month is refused with exit 2.
    let o = run_cli(&["--warehouse", wh.to_str().unwrap(), "report", "--month", "2025-13"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2025-13"));
}

/// The HTML is self-contained (no scripts, no external assets) and headless Chromium renders it: a PNG of real
/// size with a chart of one series per model in the legend, and far from blank.
#[test]
fn html_report_renders_in_headless_chromium() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let html = String::from_utf8(render(&wh, "html")).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(external), "no external assets ({external})");
    }
    let json: Value = serde_json::from_slice(&render(&wh, "json")).unwrap();
    let series = json["daily"]["series"].as_array().unwrap().len();
    assert!(series >= 2, "the sample month has several priced models");
    assert_eq!(html.matches("<svg").count(), 1, "one chart");
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    // The legend: one 12x12 swatch per series.
    assert_eq!(svg.matches(r#"width="12" height="12""#).count(), series, "one legend entry per series");
    assert!(svg.contains("Spend per day (USD)") && svg.contains("Day of December 2025"), "axis titles");
    let page = t.path("report.html");
    std::fs::write(&page, &html).unwrap();
    let png = t.path("report.png");
    let profile = t.path("chromium-profile");
    let o = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--no-first-run", "--hide-scrollbars", "--window-size=1200,3000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is not installed: run the suite with scripts/test, which installs it");
    assert!(png.is_file(), "chromium wrote no PNG: {}", String::from_utf8_lossy(&o.stderr));
    if let Some(keep) = std::env::var_os("BEDROCK_SPEND_KEEP_PNG") {
        std::fs::copy(&png, keep).unwrap();
    }
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.len() > 50_000, "a rendered report, not an empty page ({} bytes)", bytes.len());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 3000));
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()].chunks(channels);
    let mut colours = std::collections::BTreeSet::new();
    let mut non_background = 0usize;
    for p in pixels {
        colours.insert((p[0], p[1], p[2]));
        if (p[0], p[1], p[2]) != (0xf4, 0xf5, 0xf7) && (p[0], p[1], p[2]) != (0xff, 0xff, 0xff) {
            non_background += 1;
        }
    }
    assert!(colours.len() > 200, "text and chart colours, not a blank page ({} colours)", colours.len());
    assert!(non_background > 50_000, "ink on the page ({non_background} pixels)");
    // The chart's first two series colours are on the page.
    for hex in [(0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00)] {
        assert!(colours.contains(&hex), "series colour {hex:?} drawn");
    }
}

/// An aiosmtpd server on a free loopback port, saving each message in `folder`; stopped on drop.
pub(crate) struct SmtpSink {
    child: Child,
    pub(crate) port: u16,
    folder: PathBuf,
}

impl SmtpSink {
    pub(crate) fn start(folder: PathBuf, extra: &[&str]) -> SmtpSink {
        let python = std::env::var("BEDROCK_SPEND_PYTHON")
            .expect("BEDROCK_SPEND_PYTHON is not set: run the suite with scripts/test (it installs aiosmtpd)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(python)
            .arg(checkout_path("scripts/smtp-sink.py"))
            .arg(port.to_string())
            .arg(&folder)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        SmtpSink { child, port, folder }
    }

    pub(crate) fn messages(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        out.sort();
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parse a saved message with Python's `email` package: subject, the MIME tree (`structure`, e.g.
/// `multipart/mixed[multipart/alternative[text/plain,text/html],text/csv]`), the text and HTML alternatives as a
/// client picks them, attachments (the content of text and JSON ones), and the images (`images`: Content-ID,
/// disposition, filename, and the decoded bytes saved beside the message as `NAME.eml.N.png`).
pub(crate) fn parse_message(path: &Path) -> Value {
    const PARSE: &str = r#"
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
out = {"subject": m["subject"], "to": m["to"], "from": m["from"], "content_type": m.get_content_type(), "attachments": []}
def shape(p):
    if p.is_multipart():
        return p.get_content_type() + "[" + ",".join(shape(q) for q in p.iter_parts()) + "]"
    return p.get_content_type()
out["structure"] = shape(m)
out["text"] = m.get_body(("plain",)).get_content()
out["html"] = m.get_body(("html",)).get_content()
for part in m.iter_attachments():
    content = part.get_content() if part.get_content_maintype() == "text" else None
    if part.get_content_type() == "application/json":
        content = part.get_content().decode("utf-8")
    out["attachments"].append({"filename": part.get_filename(), "type": part.get_content_type(), "content": content})
out["images"] = []
for n, part in enumerate(p for p in m.walk() if p.get_content_maintype() == "image"):
    saved = f"{sys.argv[1]}.{n}.png"
    open(saved, "wb").write(part.get_content())
    out["images"].append({"content_id": part["Content-ID"], "disposition": part.get_content_disposition(),
                          "type": part.get_content_type(), "filename": part.get_filename(), "saved": saved})
print(json.dumps(out))
"#;
    let python = std::env::var("BEDROCK_SPEND_PYTHON").unwrap();
    let o = Command::new(python).args(["-c", PARSE]).arg(path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The saved message is the report: subject with month and total, both alternatives, the chart as a PNG beside the
/// HTML (which shows it by Content-ID, with its size and a text alternative, and carries no SVG), the CSV attached,
/// totals equal to `month_summary`.
fn check_report_message(msg: &Value, summary: &MonthSummary) {
    assert_eq!(msg["subject"], "Amazon Bedrock spend, December 2025: $5.43 (+47 unpriced requests)");
    assert_eq!(msg["content_type"], "multipart/mixed");
    assert_eq!(
        msg["structure"],
        "multipart/mixed[multipart/alternative[text/plain,multipart/related[text/html,image/png]],text/csv]"
    );
    let text = msg["text"].as_str().unwrap();
    assert!(text.contains("**Total spend: $5.43** over 1,293 requests"), "{text}");
    let html = msg["html"].as_str().unwrap();
    assert!(html.contains("$5.43") && html.contains("Unpriced usage"), "html part");
    assert!(!html.contains("<svg"), "no inline SVG in the email (Gmail and Outlook drop it)");
    let images = msg["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    let image = &images[0];
    assert_eq!((image["type"].as_str(), image["disposition"].as_str()), (Some("image/png"), Some("inline")));
    let cid = image["content_id"].as_str().unwrap();
    let cid = cid.strip_prefix('<').and_then(|c| c.strip_suffix('>')).unwrap_or_else(|| panic!("Content-ID {cid}"));
    let img = chart_img_tag(html, cid);
    let attr = |name: &str| {
        let start = img.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {img}")) + name.len() + 3;
        img[start..start + img[start..].find('"').unwrap()].to_string()
    };
    assert!(attr("alt").starts_with("Daily spend by model, December 2025"), "{img}");
    // The PNG is drawn at twice the size the HTML shows it: the SVG's 700 px wide chart.
    let (width, height): (u32, u32) = (attr("width").parse().unwrap(), attr("height").parse().unwrap());
    assert_eq!(width, 700);
    let png = decode_png(Path::new(image["saved"].as_str().unwrap()));
    assert_eq!((png.width, png.height), (2 * width, 2 * height));
    let attachments = msg["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["filename"], "bedrock-spend-2025-12.csv");
    assert_eq!(attachments[0]["type"], "text/csv");
    let csv = attachments[0]["content"].as_str().unwrap().replace("\r\n", "\n");
    let cost = summary.cost_usd.unwrap().normalize();
    assert!(csv.contains(&format!("totals,2025-12,cost_usd,{cost}\n")), "{csv}");
    assert!(csv.contains(&format!("totals,2025-12,requests,{}\n", summary.requests)), "{csv}");
}

/// The `<img ...>` tag of the HTML whose `src` is `cid:{cid}`.
fn chart_img_tag<'a>(html: &'a str, cid: &str) -> &'a str {
    let at =
        html.find(&format!("src=\"cid:{cid}\"")).unwrap_or_else(|| panic!("no <img src=\"cid:{cid}\"> in the HTML"));
    let start = html[..at].rfind("<img").unwrap();
    &html[start..at + html[at..].find('>').unwrap() + 1]
}

/// A decoded PNG: size and RGBA pixels.
struct Png {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Png {
    fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = 4 * (y as usize * self.width as usize + x as usize);
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2], self.rgba[i + 3]]
    }

    /// Pixels in the box `x0..x1` x `y0..y1` for which `keep` holds.
    fn count(&self, (x0, x1): (u32, u32), (y0, y1): (u32, u32), keep: impl Fn([u8; 4]) -> bool) -> usize {
        (y0..y1.min(self.height))
            .flat_map(|y| (x0..x1.min(self.width)).map(move |x| (x, y)))
            .filter(|&(x, y)| keep(self.pixel(x, y)))
            .count()
    }
}

fn decode_png(path: &Path) -> Png {
    let mut reader =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgba, png::BitDepth::Eight), "RGBA, 8 bits");
    buf.truncate(info.buffer_size());
    Png { width: info.width, height: info.height, rgba: buf }
}

/// The email's chart over a generated month: the PNG is byte-identical across runs, is the chart's size at 2x,
/// and shows what a reader needs: every series' colour (bars and legend swatches) and text drawn with the embedded
/// font in the y-axis labels, the x-axis labels and the legend (none of which would have ink without a font).
#[test]
fn email_chart_png_is_deterministic_and_shows_text() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 2000, 30, "s3", &["--seed", "7", "--start", "2025-11-01"]);
    let wh = t.warehouse();
    ingest_paths(&wh, &[logs]);
    let clean_env = |c: &mut Command| {
        for var in ["BEDROCK_SPEND_WAREHOUSE", "BEDROCK_SPEND_CONFIG", "BEDROCK_SPEND_SMTP_PASSWORD"] {
            c.env_remove(var);
        }
        for (var, _) in bedrock_spend::config::ENV_VARS {
            c.env_remove(var);
        }
    };
    let eml = |name: &str| {
        let path = t.path(name);
        let mut c = Command::new(BIN);
        c.args(["--warehouse", wh.to_str().unwrap(), "report", "--month", "2025-11", "--email-to", "f@example.test"])
            .args(["--dry-run", "--eml", path.to_str().unwrap()]);
        clean_env(&mut c);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        parse_message(&path)
    };
    let (first, second) = (eml("a.eml"), eml("b.eml"));
    assert_eq!(
        first["structure"],
        "multipart/mixed[multipart/alternative[text/plain,multipart/related[text/html,image/png]],text/csv]"
    );
    let saved = |m: &Value| PathBuf::from(m["images"][0]["saved"].as_str().unwrap());
    let bytes = std::fs::read(saved(&first)).unwrap();
    assert!(bytes == std::fs::read(saved(&second)).unwrap(), "the same report gives the same PNG bytes");

    // The series, in legend order, from the attached CSV (`daily,DAY,cost_usd:SERIES,...`).
    let csv = first["attachments"][0]["content"].as_str().unwrap().replace("\r\n", "\n");
    let mut series: Vec<&str> = Vec::new();
    for name in csv.lines().filter_map(|l| l.strip_prefix("daily,")?.split(',').nth(1)?.strip_prefix("cost_usd:")) {
        if !series.contains(&name) {
            series.push(name);
        }
    }
    assert!(series.len() >= 3, "the generator spreads traffic over several priced models: {series:?}");

    // The chart's layout (src/report/chart.rs), in CSS pixels: 700 wide; the plot from y 12 to 252 right of x 72;
    // day labels and the x-axis title under it; then legend rows of 18 px, two series a row, and 6 px of margin.
    let (plot_top, axis, left) = (12, 252, 72);
    let rows = series.len().div_ceil(2) as u32;
    let png = decode_png(&saved(&first));
    assert_eq!((png.width, png.height), (1400, 2 * (axis + 44 + 18 * rows + 6)), "the chart at 2x");
    assert_eq!(png.pixel(2, 2), [255, 255, 255, 255], "an opaque white background, for dark-mode clients");
    // Okabe-Ito, in legend order; `other` (grey) when there are more than seven models.
    let palette = [
        [0x00, 0x72, 0xB2],
        [0xE6, 0x9F, 0x00],
        [0x00, 0x9E, 0x73],
        [0xCC, 0x79, 0xA7],
        [0x56, 0xB4, 0xE9],
        [0xD5, 0x5E, 0x00],
        [0x8C, 0x6D, 0x1F],
    ];
    for (i, name) in series.iter().enumerate() {
        let rgb = if *name == "other" { [0x99, 0x99, 0x99] } else { palette[i % 7] };
        let is = |p: [u8; 4]| p[..3] == rgb;
        // A 12 px legend swatch is 24 x 24 device pixels.
        let legend = png.count((0, 1400), (2 * (axis + 30), png.height), is);
        assert!(legend >= 22 * 22, "legend swatch of {name} ({rgb:?}): {legend} pixels");
        if i == 0 {
            let bars = png.count((2 * left, 1400), (2 * plot_top, 2 * axis), is);
            assert!(bars > 2_000, "the biggest series' bars are drawn: {bars} pixels");
        }
    }
    // Text is dark grey (#333333 axes, #222222 legend) and antialiased: count clearly dark pixels.
    let dark = |p: [u8; 4]| p[0] < 110 && p[1] < 110 && p[2] < 110;
    let y_labels = png.count((0, 2 * left - 4), (0, 2 * axis + 12), dark);
    let x_labels = png.count((2 * left, 1400), (2 * axis + 4, 2 * (axis + 36)), dark);
    let legend_text = png.count((0, 1400), (2 * (axis + 30), png.height), dark);
    for (what, n) in [
        ("y-axis labels and title", y_labels),
        ("day labels and x-axis title", x_labels),
        ("legend names", legend_text),
    ] {
        assert!(n > 1_000, "{what} drawn in the embedded font: {n} dark pixels");
    }
    if let Some(keep) = std::env::var_os("BEDROCK_SPEND_KEEP_PNG") {
        std::fs::copy(saved(&first), PathBuf::from(keep).with_extension("chart.png")).unwrap();
    }
}

pub(crate) fn smtp_env(c: &mut Command, port: u16, tls: &str) {
    c.env("BEDROCK_SPEND_SMTP_HOST", "127.0.0.1")
        .env("BEDROCK_SPEND_SMTP_PORT", port.to_string())
        .env("BEDROCK_SPEND_SMTP_TLS", tls)
        .env("BEDROCK_SPEND_SMTP_FROM", "FinOps <finops@example.test>");
}

/// A CA and a server certificate for 127.0.0.1 signed by it (rustls refuses a self-signed CA as the server's own).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let sh = |args: &[&str]| {
        let o = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    sh(&[&["req", "-x509"], &ec[..], &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA"]]
        .concat());
    sh(&[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

/// The report goes through a real SMTP server, once in plain mode and once with STARTTLS and AUTH (trusting the
/// test's CA through BEDROCK_SPEND_SMTP_CA_FILE), and each saved message parses back to the report.
#[test]
fn report_email_through_a_real_smtp_server() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let (summary, _) = sql_rows(&wh);

    let plain = SmtpSink::start(t.path("plain"), &[]);
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test,lead@example.test"]);
    smtp_env(&mut c, plain.port, "none");
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty(), "with --email-to and no -o, nothing on stdout");
    let saved = plain.messages();
    assert_eq!(saved.len(), 1, "one message for both recipients");
    let envelope: Value =
        serde_json::from_str(&std::fs::read_to_string(saved[0].with_extension("envelope.json")).unwrap()).unwrap();
    assert_eq!(envelope["to"], serde_json::json!(["finance@example.test", "lead@example.test"]));
    check_report_message(&parse_message(&saved[0]), &summary);

    let (ca, cert, key) = make_certs(&t.path(""));
    let secure = SmtpSink::start(
        t.path("secure"),
        &["--tls", cert.to_str().unwrap(), key.to_str().unwrap(), "--auth", "bot:s3cret-pw"],
    );
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test"]);
    smtp_env(&mut c, secure.port, "starttls");
    c.env("BEDROCK_SPEND_SMTP_USERNAME", "bot")
        .env("BEDROCK_SPEND_SMTP_PASSWORD", "s3cret-pw")
        .env("BEDROCK_SPEND_SMTP_CA_FILE", &ca);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = secure.messages();
    assert_eq!(saved.len(), 1);
    check_report_message(&parse_message(&saved[0]), &summary);
    assert!(!String::from_utf8_lossy(&std::fs::read(&saved[0]).unwrap()).contains("s3cret-pw"));

    // Without the test CA the server's certificate is not trusted: a TLS failure, exit 3, nothing sent.
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test"]);
    smtp_env(&mut c, secure.port, "starttls");
    c.env("BEDROCK_SPEND_SMTP_USERNAME", "bot").env("BEDROCK_SPEND_SMTP_PASSWORD", "s3cret-pw");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("TLS with SMTP server 127.0.0.1:{} failed", secure.port)), "{stderr}");
    assert_eq!(secure.messages().len(), 1, "nothing more was sent");

    // A wrong password: authentication failed, exit 3, nothing sent, the password not echoed.
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test"]);
    smtp_env(&mut c, secure.port, "starttls");
    c.env("BEDROCK_SPEND_SMTP_USERNAME", "bot")
        .env("BEDROCK_SPEND_SMTP_PASSWORD", "wrong-pw")
        .env("BEDROCK_SPEND_SMTP_CA_FILE", &ca);
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("SMTP authentication as \"bot\" failed"), "{stderr}");
    assert!(!stderr.contains("wrong-pw"), "the password is never printed");
    assert_eq!(secure.messages().len(), 1, "nothing more was sent");
}

/// A rejected recipient is named and stops the whole send (nobody gets a copy); a closed port is "refused";
/// `--dry-run` writes the message to a `.eml` without sending it and without the password.
#[test]
fn email_failures_are_named_and_nothing_is_half_sent() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let sink = SmtpSink::start(t.path("mail"), &["--reject", "gone@example.test"]);
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test,gone@example.test"]);
    smtp_env(&mut c, sink.port, "none");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("rejected recipient gone@example.test; nothing was sent"), "{stderr}");
    assert!(sink.messages().is_empty(), "the accepted recipient did not get a copy either");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test"]);
    smtp_env(&mut c, closed, "none");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("SMTP server 127.0.0.1:{closed} refused the connection")), "{stderr}");

    // An invalid address fails before any query or connection (exit 3: no email).
    let o = report_cmd(&wh, &["--email-to", "not-an-address"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not-an-address"));

    let eml = t.path("out.eml");
    let mut c = report_cmd(&wh, &["--email-to", "finance@example.test", "--dry-run", "--eml", eml.to_str().unwrap()]);
    smtp_env(&mut c, closed, "starttls");
    c.env("BEDROCK_SPEND_SMTP_USERNAME", "bot").env("BEDROCK_SPEND_SMTP_PASSWORD", "dry-secret");
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&eml).unwrap();
    assert!(!text.contains("dry-secret"), "no password in the .eml");
    let (summary, _) = sql_rows(&wh);
    check_report_message(&parse_message(&eml), &summary);
}
