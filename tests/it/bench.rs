//! The benchmark script runs on tiny data in every test run, so it cannot rot (benchmarks themselves are not
//! part of the test command).

use std::process::Command;

use crate::util::*;

#[test]
fn benchmark_script_smoke_run() {
    let t = TestDir::new();
    let out = t.path("bench.md");
    let python = std::env::var("BEDROCK_SPEND_PYTHON")
        .expect("BEDROCK_SPEND_PYTHON is not set: run the suite with scripts/test");
    let result = Command::new("python3")
        .arg(checkout_path("scripts/bench"))
        .args(["--smoke", "--binary", BIN, "--threads", "2"])
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(t.path("work"))
        .env("BEDROCK_SPEND_PYTHON", python)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let table = std::fs::read_to_string(&out).unwrap();
    for row in [
        "decompress floor (gzip -dc)",
        "decompress floor (libdeflate, as ingest)",
        "bedrock-spend ingest",
        "duckdb read_json",
        "re-run",
        "query month_summary: duckdb",
        "Ratios:",
        "round by round",
        "in CPU seconds (user + sys)",
        "CPU s (median)",
        "recommend: bedrock-spend",
        "report (HTML, month 2025-11):",
    ] {
        assert!(table.contains(row), "{row} in:\n{table}");
    }
}
