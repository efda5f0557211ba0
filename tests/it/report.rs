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

/// Parse a saved message with Python's `email` package: subject, the text and HTML alternatives, attachments (the
/// content of text and JSON ones).
pub(crate) fn parse_message(path: &Path) -> Value {
    const PARSE: &str = r#"
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
out = {"subject": m["subject"], "to": m["to"], "from": m["from"], "content_type": m.get_content_type(), "attachments": []}
out["text"] = m.get_body(("plain",)).get_content()
out["html"] = m.get_body(("html",)).get_content()
for part in m.iter_attachments():
    content = part.get_content() if part.get_content_maintype() == "text" else None
    if part.get_content_type() == "application/json":
        content = part.get_content().decode("utf-8")
    out["attachments"].append({"filename": part.get_filename(), "type": part.get_content_type(), "content": content})
print(json.dumps(out))
"#;
    let python = std::env::var("BEDROCK_SPEND_PYTHON").unwrap();
    let o = Command::new(python).args(["-c", PARSE]).arg(path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The saved message is the report: subject with month and total, both alternatives, the CSV attached, totals
/// equal to `month_summary`.
fn check_report_message(msg: &Value, summary: &MonthSummary) {
    assert_eq!(msg["subject"], "Amazon Bedrock spend, December 2025: $5.43 (+47 unpriced requests)");
    assert_eq!(msg["content_type"], "multipart/mixed");
    let text = msg["text"].as_str().unwrap();
    assert!(text.contains("**Total spend: $5.43** over 1,293 requests"), "{text}");
    let html = msg["html"].as_str().unwrap();
    assert!(html.contains("<svg") && html.contains("$5.43") && html.contains("Unpriced usage"), "html part");
    let attachments = msg["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["filename"], "bedrock-spend-2025-12.csv");
    assert_eq!(attachments[0]["type"], "text/csv");
    let csv = attachments[0]["content"].as_str().unwrap().replace("\r\n", "\n");
    let cost = summary.cost_usd.unwrap().normalize();
    assert!(csv.contains(&format!("totals,2025-12,cost_usd,{cost}\n")), "{csv}");
    assert!(csv.contains(&format!("totals,2025-12,requests,{}\n", summary.requests)), "{csv}");
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
