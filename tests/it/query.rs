//! The query layer from the outside: typed rows through one session, the demo from a bare binary, read commands
//! on a warehouse that does not exist, streamed and bounded results, exports that are whole or absent, and the
//! shell's Ctrl-C.

use std::path::PathBuf;
use std::process::Command;

use bedrock_spend::pricing::Pricing;
use bedrock_spend::query::rows::{ModelSpend, MonthSummary, WarehouseExtent};
use bedrock_spend::query::{Decimal, Params, Period, Session, SessionOptions};
use serde_json::Value;

use crate::util::*;

fn sample_warehouse(t: &TestDir) -> PathBuf {
    let wh = t.warehouse();
    let s = ingest_paths(&wh, &[checkout_path("sample-logs")]);
    assert_eq!(s.rejected, 0);
    wh
}

fn golden_row(name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(checkout_path(&format!("tests/data/golden/{name}.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    header.iter().zip(first).map(|(h, v)| (h.to_string(), v.to_string())).collect()
}

/// Typed rows carry the same numbers as the SQL layer's CSV (the golden files), money as exact decimals.
#[test]
fn typed_rows_equal_the_sql_layers_numbers() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let session = rt.block_on(Session::open(&wh, &Pricing::bundled().unwrap(), SessionOptions::default())).unwrap();
    let december = Period::parse_month("2025-12").unwrap();
    let summary = rt.block_on(session.rows::<MonthSummary>(&Params::new().period(&december))).unwrap();
    let golden = golden_row("month_summary");
    let field = |name: &str| golden.iter().find(|(h, _)| h == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(summary.len(), 1);
    let s = &summary[0];
    assert_eq!(s.month, "2025-12");
    assert_eq!(s.requests.to_string(), field("requests"));
    assert_eq!(s.cost_usd, Some(field("cost_usd").parse::<Decimal>().unwrap()));
    assert_eq!(s.cache_savings_usd, Some(field("cache_savings_usd").parse::<Decimal>().unwrap()));
    assert_eq!(s.unpriced_tokens.to_string(), field("unpriced_tokens"));
    // By model over Nov + Dec: the golden spend_by_model's first row.
    let both = Period::new(
        chrono::NaiveDate::from_ymd_opt(2025, 11, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    )
    .unwrap();
    let models = rt.block_on(session.rows::<ModelSpend>(&Params::new().period(&both))).unwrap();
    let golden = golden_row("spend_by_model");
    let field = |name: &str| golden.iter().find(|(h, _)| h == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(models[0].model, field("model"));
    assert_eq!(models[0].cost_usd, Some(field("cost_usd").parse::<Decimal>().unwrap()));
    // The extent: the sample spans Nov and Dec 2025.
    let extent: WarehouseExtent = rt.block_on(session.extent()).unwrap();
    assert_eq!(extent.first_day, chrono::NaiveDate::from_ymd_opt(2025, 11, 1));
    assert_eq!(extent.last_day, chrono::NaiveDate::from_ymd_opt(2025, 12, 31));
    assert_eq!(extent.requests, scalar(&wh, "SELECT count(*) FROM invocations"));
    // A parameter the query needs and the period cannot give is a typed error naming it.
    let err = rt.block_on(session.rows::<MonthSummary>(&Params::new())).unwrap_err();
    assert!(err.to_string().contains("$month"), "{err}");
}

/// `demo` from a copy of the binary in an empty folder: it makes the sample logs itself, so it needs no source
/// tree, and its numbers are those of the repository's `sample-logs/` (the golden month summary).
#[test]
fn demo_runs_from_a_bare_binary() {
    let t = TestDir::new();
    let bin = t.path("bin/bedrock-spend");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(BIN, &bin).unwrap();
    let work = t.path("empty");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(&bin)
        .arg("demo")
        .current_dir(&work)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TMPDIR", t.path("empty").to_str().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("generated the sample logs: 2500 records"), "{stdout}");
    let golden = golden_row("month_summary");
    let requests = &golden.iter().find(|(h, _)| h == "requests").unwrap().1;
    let cost: Decimal = golden.iter().find(|(h, _)| h == "cost_usd").unwrap().1.parse().unwrap();
    assert!(stdout.contains("Spend in 2025-12"), "{stdout}");
    assert!(stdout.contains(&format!("  {requests} requests, ${}", cost.round_dp(2))), "{stdout}");
    // The generated logs were removed; only the demo warehouse stays.
    let left: Vec<String> =
        std::fs::read_dir(&work).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    assert_eq!(left, vec!["bedrock-spend-demo".to_string()]);
}

/// Read commands on a warehouse that does not exist exit 2 naming the path, and create nothing.
#[test]
fn read_commands_refuse_a_missing_warehouse() {
    let t = TestDir::new();
    let typo = t.path("typo");
    let w = typo.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["sql", "SELECT count(*) FROM invocations"],
        &["query", "month_summary", "--param", "month=2025-12"],
        &["rejects"],
        &["pricing", "check"],
        &["pricing", "list"],
    ];
    for args in commands {
        let mut all = vec!["--warehouse", w];
        all.extend_from_slice(args);
        let out = run_cli(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(w) && stderr.contains("no warehouse"), "{args:?}: {stderr}");
        assert!(!typo.exists(), "{args:?} created {w}");
    }
}

/// A table shows a bounded number of rows and says so; CSV writes nested columns as JSON text; a failed export
/// leaves no file behind.
#[test]
fn results_stream_and_exports_are_whole_or_absent() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let w = wh.to_str().unwrap();
    let total = scalar(&wh, "SELECT count(*) FROM invocations");
    let out = run_cli(&["--warehouse", w, "sql", "SELECT request_id FROM invocations"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains(&format!("({total} rows; the first 100 shown")), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.contains("│")).count(), 101, "header + 100 rows: {stdout}");
    let out = run_cli(&["--warehouse", w, "sql", "SELECT request_id FROM invocations", "--maxrows", "0"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rows; the first"));

    // Nested values in CSV: the request_metadata map as JSON text.
    let csv_path = t.path("all.csv");
    let out = run_cli(&[
        "--warehouse",
        w,
        "-q",
        "sql",
        "SELECT request_id, request_metadata FROM invocations WHERE request_metadata IS NOT NULL ORDER BY request_id",
        "--format",
        "csv",
        "-o",
        csv_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let metadata: Value = serde_json::from_str(&record[1]).unwrap_or_else(|e| panic!("{:?}: {e}", &record[1]));
        assert!(metadata.is_object() && !metadata.as_object().unwrap().is_empty(), "{metadata}");
        rows += 1;
    }
    let want = scalar(&wh, "SELECT count(*) FROM invocations WHERE request_metadata IS NOT NULL");
    assert!(want > 0);
    assert_eq!(rows as i64, want);

    // A statement that fails while running leaves neither the file nor a temporary.
    let failed = t.path("out/failed.csv");
    std::fs::create_dir_all(failed.parent().unwrap()).unwrap();
    let bad = "SELECT request_id, CAST(CASE WHEN input_tokens > 0 THEN 'not a number' ELSE '1' END AS INT) AS x \
               FROM invocations";
    let out = run_cli(&["--warehouse", w, "sql", bad, "--format", "csv", "-o", failed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(failed.parent().unwrap()).unwrap().count(), 0, "nothing left in out/");
}

/// A runaway query fails with a clear out-of-memory error and exit 2 under `--memory-limit`, not a kill.
#[test]
fn runaway_queries_hit_the_memory_limit() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let sql = "SELECT * FROM invocations a, invocations b ORDER BY a.source, b.request_id";
    let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "--memory-limit", "32M", "sql", sql]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ran out of memory") && stderr.contains("--memory-limit"), "{stderr}");
}

/// On a real terminal: Ctrl-C cancels a long statement and the shell goes on; Ctrl-D quits and history is saved.
/// Each keystroke waits for what the shell printed (the prompt, the echoed statement), so a slow machine delays
/// the test instead of breaking it; a shell that does not cancel fails the test within two minutes and is killed.
#[test]
fn shell_ctrl_c_cancels_the_statement_not_the_shell() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let home = t.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut shell = PtyShell::start(&wh, &home);
    shell.wait_for("bedrock-spend> ", 1);
    // Hours of work: a triple self-join of 2,500 rows is 15 billion rows, each one computed (a bare count(*)
    // would be answered from statistics).
    shell.send(b"SELECT sum(length(a.source || b.source || c.source)) FROM invocations a, invocations b, invocations c;\r");
    shell.wait_for("invocations c;", 1);
    std::thread::sleep(std::time::Duration::from_millis(2000));
    shell.send(b"\x03");
    shell.wait_for("cancelled", 1);
    shell.wait_for("bedrock-spend> ", 2);
    shell.send(b"SELECT 40 + 2 AS answer;\r");
    shell.wait_for("│     42 │", 1);
    shell.wait_for("bedrock-spend> ", 3);
    shell.send(b"\x04");
    let (status, seen) = shell.finish();
    assert!(status.success(), "the shell ended with {status}: {seen}");
    let history = std::fs::read_to_string(home.join(".bedrock_spend_history")).unwrap_or_default();
    assert!(history.contains("SELECT 40 + 2 AS answer;"), "history: {history:?}");
}
