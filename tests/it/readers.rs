//! The warehouse as other engines see it: DuckDB and pyarrow read the files as they are, and the demo runs
//! end to end from the CLI on the bundled sample logs.

use std::path::PathBuf;
use std::process::Command;

use crate::util::*;

fn sample_logs() -> PathBuf {
    checkout_path("sample-logs")
}

/// The Python with DuckDB and pyarrow that `scripts/test` installs. Missing is a failure, not a skip.
fn python() -> String {
    std::env::var("BEDROCK_SPEND_PYTHON")
        .expect("BEDROCK_SPEND_PYTHON is not set: run the suite with scripts/test, which installs DuckDB and pyarrow")
}

#[test]
fn duckdb_and_pyarrow_read_the_warehouse_as_is() {
    let t = TestDir::new();
    let summary = ingest_paths(&t.warehouse(), &[sample_logs()]);
    assert!(summary.ingested > 1000 && summary.rejected == 0, "{summary:?}");
    let ours = query(
        &t.warehouse(),
        "SELECT count(*) AS n, sum(input_tokens) AS input, count(DISTINCT day) AS days, \
         sum(CASE WHEN request_metadata['team'] = 'support' THEN 1 ELSE 0 END) AS support FROM invocations",
    );
    let script = r#"
import sys, json, duckdb, pyarrow.dataset as ds
root = sys.argv[1]
n, inp, days, support = duckdb.sql(f"""
    SELECT count(*), sum(input_tokens), count(DISTINCT day), sum(CASE WHEN request_metadata['team'] = 'support' THEN 1 ELSE 0 END)
    FROM read_parquet('{root}/invocations/**/*.parquet', hive_partitioning = true)""").fetchone()
types = {r[0]: r[1] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{root}/invocations/**/*.parquet'").fetchall()}
table = ds.dataset(f"{root}/invocations", format="parquet", partitioning="hive").to_table()
print(json.dumps({"n": n, "input": int(inp), "days": days, "support": int(support),
                  "timestamp": types["timestamp"], "metadata": types["request_metadata"], "tokens": types["input_tokens"],
                  "pyarrow_rows": table.num_rows, "pyarrow_ts": str(table.schema.field("timestamp").type)}))
"#;
    let out = Command::new(python()).arg("-c").arg(script).arg(t.warehouse()).output().expect("run python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs["n"], ours[0]["n"]);
    assert_eq!(theirs["input"], ours[0]["input"]);
    assert_eq!(theirs["days"], ours[0]["days"]);
    assert_eq!(theirs["support"], ours[0]["support"]);
    assert_eq!(theirs["pyarrow_rows"], ours[0]["n"]);
    assert_eq!(theirs["timestamp"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(theirs["metadata"], "MAP(VARCHAR, VARCHAR)");
    assert_eq!(theirs["tokens"], "BIGINT");
    assert_eq!(theirs["pyarrow_ts"], "timestamp[us, tz=UTC]");
}

#[test]
fn demo_runs_end_to_end() {
    let t = TestDir::new();
    let wh = t.warehouse();
    let logs = sample_logs();
    let args = ["--warehouse", wh.to_str().unwrap(), "demo", "--logs", logs.to_str().unwrap()];
    let out = run_cli(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let total = scalar(&wh, "SELECT count(*) FROM invocations");
    assert!(stdout.contains(&format!("{total} ingested")), "{stdout}");
    assert!(
        stdout.contains("duplicates skipped") && !stdout.contains(" 0 duplicates skipped"),
        "sample has both destinations: {stdout}"
    );
    for model in ["anthropic.claude-3-5-sonnet-20241022-v2:0", "amazon.nova-lite-v1:0", "(provisioned)"] {
        assert!(stdout.contains(model), "{model} in {stdout}");
    }
    // Running it again adds nothing.
    let again = run_cli(&args);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 ingested"));
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), total);
}
