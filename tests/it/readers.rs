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

/// Many small files a day, as many small runs leave them, not compacted yet.
fn fragmented_warehouse(t: &TestDir, name: &str, logs: &std::path::Path) -> (PathBuf, i64) {
    use bedrock_spend::ingest::sources::local as source;
    use bedrock_spend::ingest::{self, IngestOptions};
    use bedrock_spend::store::warehouse::Warehouse;
    let wh = t.path(name);
    let mut listing = source::list_local(&[logs.to_path_buf()]).unwrap();
    listing.sources.sort_by(|a, b| a.id.cmp(&b.id));
    let mut warehouse = Warehouse::open_for_write(&wh).unwrap();
    let options = IngestOptions { compact_above_files: usize::MAX, ..test_options() };
    let (mut ingested, mut files) = (0, 0);
    // About fifty runs, each committing one file for each day it touches.
    let per_run = listing.sources.len().div_ceil(50);
    let mut sources = listing.sources.into_iter().peekable();
    while sources.peek().is_some() {
        let some: Vec<_> = sources.by_ref().take(per_run).collect();
        let summary = ingest::run(&mut warehouse, some, 0, &options).unwrap();
        ingested += summary.ingested as i64;
        files += summary.files_written;
    }
    assert!(files >= 40, "{files} files");
    (wh, ingested)
}

/// What readers saw while a writer ran: every query's result, or its error.
#[derive(Default)]
struct Reads {
    counts: Vec<(i64, i64)>,
    errors: Vec<String>,
}

/// Query `count(*)` and `count(DISTINCT request_id)` in a loop, in this process and through `sql` processes,
/// until `done` is set.
fn read_until(wh: &std::path::Path, done: &std::sync::atomic::AtomicBool) -> Reads {
    use std::sync::atomic::Ordering;
    let sql = "SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM invocations";
    let reads = std::sync::Mutex::new(Reads::default());
    std::thread::scope(|scope| {
        let in_process = || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            while !done.load(Ordering::Relaxed) {
                let result = rt.block_on(async {
                    use bedrock_spend::query::{Params, RunOptions, Session, SessionOptions};
                    let pricing = bedrock_spend::pricing::Pricing::bundled().map_err(|e| format!("{e:#?}"))?;
                    let session =
                        Session::open(wh, &pricing, SessionOptions::default()).await.map_err(|e| format!("{e:#?}"))?;
                    let params = Params::new();
                    let statement = session.statement(sql, &params, RunOptions::default()).await;
                    let statement = statement.map_err(|e| format!("{e:#?}"))?;
                    let mut stream = statement.stream().await.map_err(|e| format!("{e:#?}"))?;
                    let mut batches = Vec::new();
                    while let Some(batch) = stream.next().await {
                        batches.push(batch.map_err(|e| format!("{e:#?}"))?);
                    }
                    Ok::<_, String>(batches)
                });
                let mut reads = reads.lock().unwrap();
                match result {
                    Ok(batches) => {
                        use arrow::array::AsArray;
                        let b = &batches[0];
                        let n = b.column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0);
                        let d = b.column(1).as_primitive::<arrow::datatypes::Int64Type>().value(0);
                        reads.counts.push((n, d));
                    }
                    Err(e) => reads.errors.push(e),
                }
            }
        };
        scope.spawn(in_process);
        scope.spawn(in_process);
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "sql", sql, "--format", "csv"]);
                let mut reads = reads.lock().unwrap();
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let row = text.lines().nth(1).and_then(|l| l.split_once(','));
                match (out.status.code(), row.map(|(n, d)| (n.parse::<i64>(), d.parse::<i64>()))) {
                    (Some(0), Some((Ok(n), Ok(d)))) => reads.counts.push((n, d)),
                    _ => reads.errors.push(format!("sql: {text}{}", String::from_utf8_lossy(&out.stderr))),
                }
            }
        });
    });
    reads.into_inner().unwrap()
}

/// Queries running while `compact` merges every day's files see each row exactly once and never fail: the
/// replaced files stay readable (retired) and the tombstones pick one generation per day. Before, queries failed
/// with "Object at location … not found" or counted a day twice.
#[test]
fn queries_during_compaction_see_every_row_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 6000, 8, "s3", &[]);
    let mut during = 0;
    for round in 0..3 {
        let (wh, total) = fragmented_warehouse(&t, &format!("wh{round}"), &logs);
        assert_eq!(total, 6000);
        let done = AtomicBool::new(false);
        let (reads, compacted) = std::thread::scope(|scope| {
            let readers = scope.spawn(|| read_until(&wh, &done));
            // Let the readers start, then compact under them.
            std::thread::sleep(std::time::Duration::from_millis(300));
            let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "compact"]);
            done.store(true, Ordering::Relaxed);
            (readers.join().unwrap(), out)
        });
        assert_eq!(compacted.status.code(), Some(0), "{}", String::from_utf8_lossy(&compacted.stderr));
        assert!(String::from_utf8_lossy(&compacted.stdout).contains("compacted 8 day(s)"));
        assert!(reads.errors.is_empty(), "round {round}: {} failed reads: {:?}", reads.errors.len(), reads.errors[0]);
        let wrong: Vec<_> = reads.counts.iter().filter(|&&c| c != (total, total)).collect();
        assert!(wrong.is_empty(), "round {round}: {wrong:?} of {} reads", reads.counts.len());
        during += reads.counts.len();
        // After the swap, one file a day.
        let files = files_under(&wh.join("invocations"));
        assert_eq!(files.iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count(), 8);
    }
    assert!(during >= 6, "the readers must overlap the compactions ({during} reads)");
}

/// Queries running beside an ingest that adds to days already in many files and so compacts them at its end:
/// none fails, none counts a row twice, and every count lies between the rows before the run and after it.
#[test]
fn queries_during_an_ingest_that_compacts() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let t = TestDir::new();
    let (first, more) = (t.path("first"), t.path("more"));
    generate(&first, 4000, 3, "s3", &[]);
    generate(&more, 3000, 3, "s3", &["--seed", "99"]);
    let (wh, before) = fragmented_warehouse(&t, "wh", &first);
    let done = AtomicBool::new(false);
    let (reads, ingest) = std::thread::scope(|scope| {
        let readers = scope.spawn(|| read_until(&wh, &done));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "ingest", more.to_str().unwrap(), "--json"]);
        done.store(true, Ordering::Relaxed);
        (readers.join().unwrap(), out)
    });
    assert_eq!(ingest.status.code(), Some(0), "{}", String::from_utf8_lossy(&ingest.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&ingest.stdout).unwrap();
    assert_eq!((summary["ingested"].as_i64(), summary["days_compacted"].as_i64()), (Some(3000), Some(3)), "{summary}");
    assert!(reads.errors.is_empty(), "{} failed reads: {:?}", reads.errors.len(), reads.errors[0]);
    let doubled: Vec<_> = reads.counts.iter().filter(|(n, d)| n != d).collect();
    assert!(doubled.is_empty(), "rows counted twice: {doubled:?}");
    assert!(reads.counts.iter().all(|&(n, _)| (before..=before + 3000).contains(&n)), "{:?}", reads.counts);
    assert!(reads.counts.len() >= 3, "{} reads", reads.counts.len());
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), before + 3000);
}

/// Retired files are deleted once the grace period has passed (by the clock the writer is given), and their
/// tombstones a grace period later; until then a query that listed them can still read them.
#[test]
fn retired_files_expire_after_the_grace_period() {
    use bedrock_spend::store::warehouse::{SUPERSEDED_GRACE, Warehouse};
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 2000, 1, "s3", &[]);
    let (wh, total) = fragmented_warehouse(&t, "wh", &logs);
    let hidden = |wh: &std::path::Path, start: &str| {
        files_under(wh).into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(start)).count()
    };
    let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "compact"]);
    assert_eq!(out.status.code(), Some(0));
    let retired = hidden(&wh.join("invocations"), ".superseded-");
    assert!(retired >= 40, "{retired} retired files");
    assert_eq!(files_under(&wh.join("_superseded")).len(), 1);
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), total);

    let writer = Warehouse::open_for_write(&wh).unwrap();
    let now = chrono::Utc::now();
    writer.expire_superseded(now, SUPERSEDED_GRACE).unwrap();
    assert_eq!(hidden(&wh.join("invocations"), ".superseded-"), retired, "kept during the grace period");
    writer.expire_superseded(now + chrono::TimeDelta::minutes(16), SUPERSEDED_GRACE).unwrap();
    assert_eq!(hidden(&wh.join("invocations"), ".superseded-"), 0, "deleted after it");
    assert_eq!(files_under(&wh.join("_superseded")).len(), 1, "the tombstone stays a second grace period");
    writer.expire_superseded(now + chrono::TimeDelta::minutes(31), SUPERSEDED_GRACE).unwrap();
    assert!(files_under(&wh.join("_superseded")).is_empty());
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), total);
}
