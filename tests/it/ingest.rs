//! Ingest, end to end: input shapes, the real records, token precedence, dedupe, idempotence, bad input,
//! and a killed run.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::util::*;

/// Every accepted framing of the same two records ingests the same two rows.
#[test]
fn every_input_shape_decodes() {
    let a = record("req-a", "2025-11-02T10:00:00Z", 11, 22);
    let b = record("req-b", "2025-11-02T10:00:01Z", 33, 44);
    let pretty_a = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&a).unwrap()).unwrap();
    let mut multi_member = gzip(format!("{a}\n").as_bytes());
    multi_member.extend(gzip(format!("{b}\n").as_bytes()));
    let events = json!({"events": [
        {"logStreamName": "aws/bedrock/modelinvocations", "timestamp": 1762077600000i64, "message": a, "ingestionTime": 1762077607000i64, "eventId": "1"},
        {"logStreamName": "aws/bedrock/modelinvocations", "timestamp": 1762077601000i64, "message": b, "ingestionTime": 1762077608000i64, "eventId": "2"}
    ], "searchedLogStreams": []});
    let insights = json!([{"@timestamp": "2025-11-02 10:00:00.000", "@message": a}, {"@timestamp": "2025-11-02 10:00:01.000", "@message": b}]);
    // The same record with its keys in reverse order and unknown fields added.
    let mut reversed: Vec<(String, Value)> =
        serde_json::from_str::<serde_json::Map<String, Value>>(&b).unwrap().into_iter().collect();
    reversed.reverse();
    let reversed_text = format!(
        "{{\"futureField\":{{\"x\":[1,2]}},{}}}",
        reversed.iter().map(|(k, v)| format!("{}:{}", Value::from(k.clone()), v)).collect::<Vec<_>>().join(",")
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ndjson", format!("{a}\n{b}\n").into_bytes()),
        ("ndjson without final newline, CRLF", format!("{a}\r\n{b}").into_bytes()),
        ("gzip ndjson", gzip(format!("{a}\n{b}\n").as_bytes())),
        ("multi-member gzip", multi_member),
        ("pretty-printed then compact", format!("{pretty_a}\n{b}\n").into_bytes()),
        ("concatenated values", format!("{a}{b}").into_bytes()),
        ("json array", format!("[{a},\n{b}]").into_bytes()),
        ("filter-log-events output", serde_json::to_vec_pretty(&events).unwrap()),
        ("gzip filter-log-events output", gzip(&serde_json::to_vec(&events).unwrap())),
        ("logs insights rows", serde_json::to_vec(&insights).unwrap()),
        ("reordered keys, unknown fields", format!("{a}\n{reversed_text}\n").into_bytes()),
    ];
    for (name, bytes) in cases {
        let t = TestDir::new();
        let file = t.write("input.log", &bytes);
        let summary = ingest_paths(&t.warehouse(), &[file]);
        assert_eq!((summary.ingested, summary.rejected), (2, 0), "case {name}: {summary:?}");
        let rows = query(
            &t.warehouse(),
            "SELECT request_id, input_tokens, output_tokens FROM invocations ORDER BY request_id",
        );
        assert_eq!(
            rows,
            vec![
                json!({"request_id": "req-a", "input_tokens": 11, "output_tokens": 22}),
                json!({"request_id": "req-b", "input_tokens": 33, "output_tokens": 44})
            ],
            "case {name}"
        );
    }
}

/// The five real records ingest with exactly their logged values, and NULL counts for the guardrail block.
#[test]
fn real_records_keep_their_logged_values() {
    let t = TestDir::new();
    let summary = ingest_paths(&t.warehouse(), &[checkout_path("tests/data/real")]);
    assert_eq!(
        (summary.ingested, summary.rejected, summary.not_logs),
        (5, 0, 1),
        "README.md is not a log: {summary:?}"
    );
    let rows = query(
        &t.warehouse(),
        "SELECT request_id, CAST(timestamp AS VARCHAR) AS ts, CAST(day AS VARCHAR) AS day, account_id, region, inference_region, \
         operation, model, provider, routing, inference_profile, principal, input_tokens, output_tokens, cache_read_tokens, \
         cache_write_tokens, token_source, streaming, stop_reason, latency_ms, guardrail_intervened, response_model \
         FROM invocations ORDER BY request_id",
    );
    let profile = "us.anthropic.claude-sonnet-4-20250514-v1:0";
    let sonnet = "anthropic.claude-sonnet-4-20250514-v1:0";
    let role = "ie-staging-staging-claudeInvoker-us-east-1-lambdaRole/ie-staging-claudeInvoker";
    let expected = vec![
        json!({"request_id": "02eb4735-770d-4a21-9113-c53db06d31b0", "ts": "2025-08-22T09:49:15Z", "day": "2025-08-22",
               "account_id": "663981805246", "region": "us-east-1", "inference_region": "us-east-1", "operation": "InvokeModel",
               "model": sonnet, "provider": "anthropic", "routing": "geo", "inference_profile": profile, "principal": role,
               "input_tokens": 219, "output_tokens": 87, "cache_read_tokens": 0, "cache_write_tokens": 0, "token_source": "log",
               "streaming": false, "stop_reason": "end_turn", "guardrail_intervened": false, "response_model": "claude-sonnet-4-20250514"}),
        json!({"request_id": "27451c8c-bb7e-43c0-9c9e-3d964e3a6c6e", "ts": "2024-03-05T20:35:42Z", "day": "2024-03-05",
               "account_id": "893487256304", "region": "us-west-2", "operation": "InvokeModelWithResponseStream",
               "model": "amazon.titan-text-lite-v1", "provider": "amazon", "routing": "in-region",
               "principal": "AmazonSageMaker-ExecutionRole-20240210T141891/SageMaker", "input_tokens": 20, "output_tokens": 354,
               "token_source": "log", "streaming": true, "stop_reason": "FINISH", "latency_ms": 8129, "guardrail_intervened": false}),
        json!({"request_id": "7329a13d-94f6-4723-a75b-9cd8c5690664", "ts": "2024-03-05T20:56:49Z", "day": "2024-03-05",
               "account_id": "893487256304", "region": "us-west-2", "operation": "InvokeModel", "model": "meta.llama2-13b-chat-v1",
               "provider": "meta", "routing": "in-region", "principal": "acme-user-bravo", "input_tokens": 4, "output_tokens": 160,
               "token_source": "log", "streaming": false, "stop_reason": "stop", "guardrail_intervened": false}),
        json!({"request_id": "a0dc0578-f33c-4a44-b739-107d672d5662", "ts": "2025-08-15T14:39:40Z", "day": "2025-08-15",
               "account_id": "663981805246", "region": "us-east-1", "inference_region": "us-east-2", "operation": "InvokeModel",
               "model": sonnet, "provider": "anthropic", "routing": "geo", "inference_profile": profile, "principal": role,
               "input_tokens": 219, "output_tokens": 112, "cache_read_tokens": 0, "cache_write_tokens": 0, "token_source": "log",
               "streaming": false, "stop_reason": "end_turn", "guardrail_intervened": false, "response_model": "claude-sonnet-4-20250514"}),
        json!({"request_id": "d212a145-2b13-4eaf-9321-0ae94262d548", "ts": "2025-08-15T15:29:08Z", "day": "2025-08-15",
               "account_id": "663981805246", "region": "us-east-1", "operation": "InvokeModel", "model": sonnet, "provider": "anthropic",
               "routing": "geo", "inference_profile": profile, "principal": role, "token_source": "none", "streaming": false,
               "guardrail_intervened": true}),
    ];
    assert_eq!(rows, expected);
    // Prompt text never reaches the warehouse.
    let files: Vec<PathBuf> = files_under(&t.warehouse());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!contains(&bytes, b"Medicaid"), "prompt text found in {}", f.display());
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Token precedence: top-level counts first, each missing one from the body; missing stays NULL.
#[test]
fn token_precedence_and_null_not_zero() {
    let base = |id: &str, input: Value, output: Value| -> String {
        json!({"schemaType": "ModelInvocationLog", "timestamp": "2025-11-05T00:00:00Z", "requestId": id, "region": "us-east-1",
               "operation": "Converse", "modelId": "amazon.nova-lite-v1:0", "input": input, "output": output})
        .to_string()
    };
    let usage = json!({"inputTokens": 7, "outputTokens": 8, "totalTokens": 115, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 0});
    let lines = [
        // log counts win over a disagreeing body
        base(
            "log-wins",
            json!({"inputTokenCount": 70, "cacheReadInputTokenCount": 1}),
            json!({"outputTokenCount": 80, "outputBodyJson": {"usage": usage}}),
        ),
        // no log counts: the body fills them all
        base("body-fills", json!({}), json!({"outputBodyJson": {"usage": usage, "stopReason": "end_turn"}})),
        // log has input/output, body adds the cache counts the log lacks
        base(
            "mixed",
            json!({"inputTokenCount": 5}),
            json!({"outputTokenCount": 6, "outputBodyJson": {"usage": usage}}),
        ),
        // nothing anywhere: NULL, never zero
        base("none", json!({}), json!({"outputBodyJson": {"stopReason": "guardrail_intervened"}})),
        // counts logged as 0 stay 0
        base("zeros", json!({"inputTokenCount": 0}), json!({"outputTokenCount": 0})),
    ];
    let t = TestDir::new();
    let file = t.write("p.jsonl", lines.join("\n").as_bytes());
    let s = ingest_paths(&t.warehouse(), &[file]);
    assert_eq!((s.ingested, s.rejected), (5, 0));
    let rows = query(
        &t.warehouse(),
        "SELECT request_id, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, token_source, guardrail_intervened \
         FROM invocations ORDER BY request_id",
    );
    assert_eq!(
        rows,
        vec![
            json!({"request_id": "body-fills", "input_tokens": 7, "output_tokens": 8, "cache_read_tokens": 100, "cache_write_tokens": 0, "token_source": "body", "guardrail_intervened": false}),
            json!({"request_id": "log-wins", "input_tokens": 70, "output_tokens": 80, "cache_read_tokens": 1, "cache_write_tokens": 0, "token_source": "log", "guardrail_intervened": false}),
            json!({"request_id": "mixed", "input_tokens": 5, "output_tokens": 6, "cache_read_tokens": 100, "cache_write_tokens": 0, "token_source": "log", "guardrail_intervened": false}),
            json!({"request_id": "none", "token_source": "none", "guardrail_intervened": true}),
            json!({"request_id": "zeros", "input_tokens": 0, "output_tokens": 0, "token_source": "log"}),
        ]
    );
}

/// Bad lines among good ones: the good ones are ingested, each bad one is kept with its reason and line.
#[test]
fn bad_lines_are_rejected_and_kept() {
    let good1 = record("g1", "2025-11-02T10:00:00Z", 1, 1);
    let good2 = record("g2", "2025-11-02T10:00:01Z", 2, 2);
    let good3 = record("g3", "2025-11-02T10:00:02Z", 3, 3);
    let truncated = &good2[..good2.len() / 2];
    let bad_time = record("t1", "2025-13-45T99:00:00Z", 1, 1);
    let not_log = r#"{"hello": "world"}"#;
    let input = format!("{good1}\n{truncated}\nthis is not json\n{bad_time}\n{not_log}\n{good3}\n{good2}\n");
    let t = TestDir::new();
    let file = t.write("mixed.json", input.as_bytes());
    let out = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "rejects make exit code 1: {}", String::from_utf8_lossy(&out.stdout));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 ingested") && stdout.contains("4 rejected"), "{stdout}");
    assert_eq!(scalar(&t.warehouse(), "SELECT count(*) FROM invocations"), 3);

    let out = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "rejects", "--raw"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("4 rejected record(s)"), "{listing}");
    for (line, reason) in [
        (":2 ", "truncated"),
        (":3 ", "not JSON"),
        (":4 ", "is not an ISO 8601 time"),
        (":5 ", "not a model invocation log record"),
    ] {
        assert!(
            listing.lines().any(|l| l.contains(line) && l.contains(reason)),
            "line{line}with {reason:?} in:\n{listing}"
        );
    }
    assert!(listing.contains("this is not json"), "raw text is kept");

    // Re-running adds nothing and rejects nothing again: the file is in the manifest.
    let out = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(scalar(&t.warehouse(), "SELECT count(*) FROM invocations"), 3);
}

/// A truncated gzip: the records before the cut are kept, the loss is recorded.
#[test]
fn truncated_gzip_keeps_what_was_readable() {
    let lines: Vec<String> = (0..2000).map(|i| record(&format!("r{i:05}"), "2025-11-03T01:02:03Z", i, 1)).collect();
    let gz = gzip((lines.join("\n") + "\n").as_bytes());
    let t = TestDir::new();
    let file = t.write("cut.json.gz", &gz[..gz.len() * 2 / 3]);
    let s = ingest_paths(&t.warehouse(), &[file]);
    assert!(s.ingested > 500 && s.ingested < 2000, "{s:?}");
    assert!(s.rejected >= 1, "{s:?}");
    let rejects: Vec<_> = bedrock_spend::store::warehouse::Warehouse::open_read_only(&t.warehouse())
        .read_rejects()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(rejects.iter().any(|r| r.reason.contains("truncated or corrupt")), "{rejects:?}");
    // Every kept row is a whole, correct record.
    assert_eq!(scalar(&t.warehouse(), "SELECT count(*) FROM invocations WHERE output_tokens <> 1"), 0);
}

/// The same records from the S3 layout and a CloudWatch export, and a second run: each record once.
#[test]
fn dedupe_across_destinations_and_idempotent_reingest() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 3000, 10, "both", &["--cloudwatch-days", "4"]);
    let first = ingest_paths(&t.warehouse(), &[logs.join("s3"), logs.join("cloudwatch")]);
    assert_eq!(first.ingested, 3000, "{first:?}");
    assert!(first.duplicates > 500, "the last 4 days arrive twice: {first:?}");
    assert_eq!(first.rejected, 0);
    assert!(first.not_logs >= 3, "permission-check markers skipped: {first:?}");
    let count_distinct = "SELECT count(*) - count(DISTINCT request_id) FROM invocations";
    assert_eq!(scalar(&t.warehouse(), count_distinct), 0);

    let again = ingest_paths(&t.warehouse(), std::slice::from_ref(&logs));
    assert_eq!((again.ingested, again.sources_read), (0, 0), "{again:?}");
    assert_eq!(again.sources_unchanged, first.sources_read);

    // Touched files are read again, and dedupe against the warehouse drops every row.
    let cw = logs.join("cloudwatch");
    for f in files_under(&cw) {
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, bytes).unwrap();
        filetime_bump(&f);
    }
    let touched = ingest_paths(&t.warehouse(), &[logs]);
    assert!(touched.sources_read > 0 && touched.duplicates > 0, "{touched:?}");
    assert_eq!(touched.ingested, 0);
    assert_eq!(scalar(&t.warehouse(), "SELECT count(*) FROM invocations"), 3000);
}

/// A dedupe index far smaller than the input still drops every duplicate: days whose keys were dropped to stay
/// within the budget reload them from the committed files when a later source has rows for them.
#[test]
fn dedupe_holds_under_a_tight_key_budget() {
    use bedrock_spend::ingest::sources::local;
    use bedrock_spend::ingest::{self, IngestOptions};
    use bedrock_spend::store::warehouse::Warehouse;
    let t = TestDir::new();
    let logs = t.path("logs");
    // CloudWatch exports (no delivery hour) are read first, then S3 objects hour by hour: the last 4 days come
    // back after their keys have left a 200-key index.
    generate(&logs, 3000, 10, "both", &["--cloudwatch-days", "4"]);
    let run = |warehouse: &std::path::Path, max_indexed_keys: usize| {
        let listing = local::list_local(std::slice::from_ref(&logs)).unwrap();
        let mut wh = Warehouse::open_for_write(warehouse).unwrap();
        let options = IngestOptions { max_indexed_keys, ..test_options() };
        ingest::run(&mut wh, listing.sources, listing.not_logs, &options).unwrap()
    };
    let roomy = run(&t.path("roomy"), 1_000_000);
    let tight = run(&t.path("tight"), 200);
    assert_eq!(roomy.ingested, 3000, "{roomy:?}");
    assert_eq!((tight.ingested, tight.duplicates), (roomy.ingested, roomy.duplicates), "{tight:?}");
    assert!(tight.duplicates > 500, "the last 4 days arrive twice: {tight:?}");
    // The budget forced commits (one file per open day each), so the eviction path really ran.
    assert!(tight.files_written > roomy.files_written, "tight {tight:?} vs roomy {roomy:?}");
    let count_distinct = "SELECT count(*) - count(DISTINCT request_id) FROM invocations";
    assert_eq!(scalar(&t.path("tight"), count_distinct), 0);
    assert_eq!(scalar(&t.path("tight"), "SELECT count(*) FROM invocations"), 3000);
}

fn filetime_bump(path: &std::path::Path) {
    let f = std::fs::File::options().append(true).open(path).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    f.set_modified(later).unwrap();
}

/// `--since/--until` keep only records in range, and skip S3 hour folders well outside it.
#[test]
fn since_until_filters() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 2000, 6, "s3", &[]);
    let out = run_cli(&[
        "--warehouse",
        t.warehouse().to_str().unwrap(),
        "ingest",
        logs.to_str().unwrap(),
        "--since",
        "2025-11-03",
        "--until",
        "2025-11-04T12:00:00Z",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["sources_out_of_range"].as_u64().unwrap() > 0, "{summary}");
    let min_max = query(
        &t.warehouse(),
        "SELECT CAST(min(timestamp) AS VARCHAR) AS lo, CAST(max(timestamp) AS VARCHAR) AS hi FROM invocations",
    );
    let lo = min_max[0]["lo"].as_str().unwrap();
    let hi = min_max[0]["hi"].as_str().unwrap();
    assert!(lo >= "2025-11-03T00:00:00Z" && hi < "2025-11-04T12:00:00Z", "{lo} {hi}");

    // A later run without the window reads those files again (the window was recorded) and adds the rest.
    let full = ingest_paths(&t.warehouse(), &[logs]);
    assert_eq!(scalar(&t.warehouse(), "SELECT count(*) FROM invocations"), 2000, "{full:?}");
}

/// Small commits make many files per day; `compact` merges them without losing or doubling a row.
#[test]
fn compaction_merges_days() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 4000, 2, "s3", &[]);
    let wh = t.warehouse();
    let out = run_cli(&[
        "--warehouse",
        wh.to_str().unwrap(),
        "ingest",
        logs.to_str().unwrap(),
        "--commit-every-rows",
        "100",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let files_before =
        files_under(&wh.join("invocations")).iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count();
    assert!(files_before <= 2 * 9, "ingest compacts days over 8 files itself: {files_before}");
    let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // The replaced files stay for the grace period under hidden, non-Parquet names.
    let files: Vec<PathBuf> = files_under(&wh.join("invocations"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(files.len(), 2, "one file per day: {files:?}");
    assert_eq!(scalar(&wh, "SELECT count(DISTINCT request_id) FROM invocations"), 4000);
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), 4000);
}

/// When a test kills an ingest run.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// As soon as the run has committed a Parquet file of its own: a partly ingested warehouse on any machine.
    FirstOwnCommit,
    /// After a fixed delay: lands anywhere, mid-write and mid-rename included.
    Delay(u64),
}

/// Committed (not temporary) data files under the warehouse, tolerating files renamed or removed while walking:
/// the ingest being watched is still running.
fn committed_data_files(wh: &std::path::Path) -> std::collections::BTreeSet<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "parquet")
                && !entry.file_name().to_string_lossy().starts_with(".tmp-")
            {
                out.insert(path);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&wh.join("invocations"), &mut out);
    out
}

/// Kill the ingest at many moments; after a final run the rows equal those of one uninterrupted run.
///
/// Fixed delays alone made this test depend on the machine's speed: when ingest got faster, every kill landed
/// before the first commit or after the last. The first kills therefore wait for the run's own first commit.
#[test]
fn killed_runs_lose_nothing_and_duplicate_nothing() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 20_000, 8, "both", &["--cloudwatch-days", "3"]);
    let reference = t.path("reference");
    let baseline = ingest_paths(&reference, std::slice::from_ref(&logs));
    assert_eq!(baseline.ingested, 20_000);

    let wh = t.path("killed");
    let mut kills_mid_run = 0;
    let mut partial_states = 0;
    let moments = [KillAt::FirstOwnCommit, KillAt::FirstOwnCommit]
        .into_iter()
        .chain([30u64, 80, 150, 250, 400, 600, 900, 1300, 2000, 3000].map(KillAt::Delay));
    for moment in moments {
        let committed_before = committed_data_files(&wh);
        let mut child = std::process::Command::new(BIN)
            .args([
                "--warehouse",
                wh.to_str().unwrap(),
                "-q",
                "ingest",
                logs.to_str().unwrap(),
                "--commit-every-rows",
                "1500",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        match moment {
            KillAt::Delay(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
            KillAt::FirstOwnCommit => {
                let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
                while child.try_wait().unwrap().is_none()
                    && std::time::Instant::now() < give_up
                    && committed_data_files(&wh).is_subset(&committed_before)
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills_mid_run += 1;
        }
        let _ = child.wait();
        let rows = if wh.join("invocations").exists() { scalar(&wh, "SELECT count(*) FROM invocations") } else { 0 };
        assert_eq!(
            scalar_or_zero(&wh, "SELECT count(*) - count(DISTINCT request_id) FROM invocations"),
            0,
            "no duplicates after a kill at {moment:?}"
        );
        if rows > 0 && rows < 20_000 {
            partial_states += 1;
        }
    }
    assert!(kills_mid_run >= 3, "the test must actually interrupt runs ({kills_mid_run})");
    assert!(partial_states >= 1, "some kill must leave a partly ingested warehouse");
    let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "-q", "ingest", logs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let sql = "SELECT request_id, input_tokens, output_tokens, cache_read_tokens, model, CAST(timestamp AS VARCHAR) AS ts FROM invocations ORDER BY request_id";
    let got = query(&wh, sql);
    let want = query(&reference, sql);
    assert_eq!(got.len(), 20_000);
    assert!(got == want, "rows differ from the uninterrupted run");
    // No temporary files are left behind.
    assert!(files_under(&wh).iter().all(|p| !p.file_name().unwrap().to_string_lossy().starts_with(".tmp-")));
}

fn scalar_or_zero(wh: &std::path::Path, sql: &str) -> i64 {
    if wh.join("invocations").exists() { scalar(wh, sql) } else { 0 }
}

/// Fatal errors exit 2 with a message naming what failed.
#[test]
fn exit_codes() {
    let t = TestDir::new();
    let missing = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "ingest", "/definitely/not/here"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/definitely/not/here"));
    let bad_args = run_cli(&["ingest"]);
    assert_eq!(bad_args.status.code(), Some(2));
    let file = t.write("ok.json", record("x", "2025-11-01T00:00:00Z", 1, 1).as_bytes());
    let blocker = t.write("blocked", b"a file where the warehouse directory should be");
    let unwritable = run_cli(&["--warehouse", blocker.join("wh").to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    assert_eq!(unwritable.status.code(), Some(2), "{}", String::from_utf8_lossy(&unwritable.stderr));
    let ok = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0));
}

/// Rejects stream to disk: a million bad lines take no more memory than a few, the count is exact, and
/// `rejects --limit 2` reads them without holding them. Before, every reject was held until the commit (about
/// 350 bytes each: 414 MB for these) and the listing loaded them all (263 MB).
#[test]
fn a_million_rejects_in_bounded_memory() {
    const LINES: usize = 1_000_000;
    let t = TestDir::new();
    let text: Vec<u8> =
        (0..LINES).flat_map(|i| format!("garbage line {i:07} is not a record\n").into_bytes()).collect();
    let file = t.write("garbage.log.gz", &gzip(&text));
    let wh = t.warehouse();
    let (out, peak_kb) = run_cli_measured(&["--warehouse", wh.to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("0 ingested, 0 duplicates skipped, {LINES} rejected")), "{stdout}");
    // The whole input, inflated in one piece (37 MB), plus the process's own ~45 MB; not the rejects.
    assert!(peak_kb < 160 * 1024, "ingest peaked at {peak_kb} KiB");

    let (out, peak_kb) = run_cli_measured(&["--warehouse", wh.to_str().unwrap(), "rejects", "--limit", "2"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    let source = file.canonicalize().unwrap();
    let want = format!(
        "{LINES} rejected record(s)\n{src}:999999 (byte 36999926): not JSON\n{src}:1000000 (byte 36999963): not JSON\n",
        src = source.display()
    );
    assert_eq!(listing, want);
    assert!(peak_kb < 100 * 1024, "rejects --limit 2 peaked at {peak_kb} KiB");
}

/// A flood of one bad line is kept as one row that still gives every location; a different line in the middle
/// splits it; rows from the warehouse read back the same counts and positions.
#[test]
fn a_flood_of_one_bad_line_is_summarised_with_every_location() {
    use bedrock_spend::store::warehouse::Warehouse;
    let t = TestDir::new();
    let bad = "this is not a log record\n";
    let good = record("ok", "2025-11-02T10:00:00Z", 1, 1);
    // Lines 1..=50000 bad, 50001 a record, 50002..=150001 bad, 150002 a different bad line.
    let text = format!("{}{good}\n{}not json either\n", bad.repeat(50_000), bad.repeat(100_000));
    let file = t.write("flood.log", text.as_bytes());
    let summary = ingest_paths(&t.warehouse(), std::slice::from_ref(&file));
    assert_eq!((summary.ingested, summary.rejected), (1, 150_001), "{summary:?}");
    let rows: Vec<_> =
        Warehouse::open_read_only(&t.warehouse()).read_rejects().unwrap().collect::<Result<_, _>>().unwrap();
    let runs: Vec<(u64, u64, u64)> = rows.iter().map(|r| (r.line, r.offset, r.count())).collect();
    let second_run_offset = (50_000 * bad.len() + good.len() + 1) as u64;
    assert_eq!(
        runs,
        [
            (1, 0, 50_000),
            (50_002, second_run_offset, 100_000),
            (150_002, 150_000 * bad.len() as u64 + good.len() as u64 + 1, 1)
        ]
    );
    let locations: Vec<(u64, u64)> = rows[1].locations().collect();
    assert_eq!(locations.len(), 100_000);
    assert_eq!(locations[99_999], (150_001, second_run_offset + 99_999 * bad.len() as u64));
    let listing = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "rejects", "--limit", "1"]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.starts_with("150001 rejected record(s)\n"), "{listing}");
}

/// Reject bytes count toward the commit trigger: a run of many rejects publishes them in several files as it
/// goes, and they add up.
#[test]
fn reject_bytes_trigger_commits() {
    use bedrock_spend::ingest::sources::local as source;
    use bedrock_spend::ingest::{self, IngestOptions};
    use bedrock_spend::store::warehouse::Warehouse;
    let t = TestDir::new();
    let text: String = (0..5000).map(|i| format!("bad line {i}\n")).collect();
    let file = t.write("bad.log", text.as_bytes());
    let listing = source::list_local(&[file]).unwrap();
    let mut wh = Warehouse::open_for_write(&t.warehouse()).unwrap();
    let options = IngestOptions { commit_every_reject_bytes: 20_000, ..test_options() };
    let summary = ingest::run(&mut wh, listing.sources, listing.not_logs, &options).unwrap();
    assert_eq!(summary.rejected, 5000);
    let files: Vec<PathBuf> = files_under(&t.warehouse().join("rejects"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert!(files.len() >= 5, "about 20 kB of rejects per commit: {files:?}");
    let total: u64 = Warehouse::open_read_only(&t.warehouse()).last_rejects(0).unwrap().total;
    assert_eq!(total, 5000);
}

/// Reject text is kept exactly: invalid UTF-8 as base64 beside the lossy text, a huge value cut to its first
/// 64 KiB with its full length recorded.
#[test]
fn reject_text_is_kept_losslessly() {
    use bedrock_spend::store::warehouse::Warehouse;
    let t = TestDir::new();
    let latin1 = b"{\"requestId\": \"caf\xe9\", \"timestamp\": oops}".to_vec();
    let huge = format!("{{\"requestId\": \"{}\" broken", "z".repeat(200_000));
    let mut input = latin1.clone();
    input.push(b'\n');
    input.extend_from_slice(huge.as_bytes());
    input.push(b'\n');
    let file = t.write("odd.log", &input);
    let summary = ingest_paths(&t.warehouse(), &[file]);
    assert_eq!(summary.rejected, 2, "{summary:?}");
    let rows: Vec<_> =
        Warehouse::open_read_only(&t.warehouse()).read_rejects().unwrap().collect::<Result<_, _>>().unwrap();
    let decoded = rows[0].raw_base64.as_deref().map(base64_decode);
    assert_eq!(decoded.as_deref(), Some(latin1.as_slice()), "{:?}", rows[0]);
    assert!(rows[0].raw.contains("caf\u{fffd}"), "{:?}", rows[0].raw);
    assert_eq!((rows[1].raw.len(), rows[1].raw_len), (64 << 10, Some(huge.len() as u64)));
    assert!(huge.starts_with(&rows[1].raw) && rows[1].raw_base64.is_none());
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk.iter().filter(|&&c| c != b'=').map(|&c| value(c)).collect();
        let word = digits.iter().enumerate().fold(0u32, |w, (i, &d)| w | u32::from(d) << (18 - 6 * i));
        out.extend((0..digits.len().saturating_sub(1)).map(|i| (word >> (16 - 8 * i)) as u8));
    }
    out
}

/// Times before Bedrock existed or from the future are rejected with the reason; epoch numbers are read in the
/// unit their size gives, never as a time decades off.
#[test]
fn implausible_timestamps_are_rejected_and_epochs_read_by_magnitude() {
    let with_time = |id: &str, time: Value| {
        let mut r: Value = serde_json::from_str(&record(id, "2025-11-02T10:00:00Z", 1, 1)).unwrap();
        r["timestamp"] = time;
        r.to_string()
    };
    let tomorrow_and_more = (chrono::Utc::now() + chrono::TimeDelta::hours(25)).to_rfc3339();
    let lines = [
        with_time("seconds", json!(1730800000)),
        with_time("millis", json!(1730800000123i64)),
        with_time("micros", json!(1730800000123456i64)),
        with_time("year-9999", json!("9999-12-31T23:59:59Z")),
        with_time("year-1970", json!("1970-01-01T00:00:00Z")),
        with_time("before-ga", json!("2023-09-27T23:59:59Z")),
        with_time("future", json!(tomorrow_and_more)),
        with_time("ga", json!("2023-09-28T00:00:00Z")),
    ];
    let t = TestDir::new();
    let file = t.write("times.jsonl", lines.join("\n").as_bytes());
    let out = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let rows = query(
        &t.warehouse(),
        "SELECT request_id, CAST(timestamp AS VARCHAR) AS ts FROM invocations ORDER BY timestamp",
    );
    assert_eq!(
        rows,
        vec![
            json!({"request_id": "ga", "ts": "2023-09-28T00:00:00Z"}),
            json!({"request_id": "seconds", "ts": "2024-11-05T09:46:40Z"}),
            json!({"request_id": "millis", "ts": "2024-11-05T09:46:40.123Z"}),
            json!({"request_id": "micros", "ts": "2024-11-05T09:46:40.123456Z"}),
        ]
    );
    let listing = run_cli(&["--warehouse", t.warehouse().to_str().unwrap(), "rejects"]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.starts_with("4 rejected record(s)\n"), "{listing}");
    for (line, reason) in [
        (4, "timestamp 9999-12-31T23:59:59Z is more than 24 hour(s) after this run's clock"),
        (5, "timestamp 1970-01-01T00:00:00Z is before 2023-09-28T00:00:00Z"),
        (6, "timestamp 2023-09-27T23:59:59Z is before 2023-09-28T00:00:00Z"),
        (7, "is more than 24 hour(s) after this run's clock"),
    ] {
        assert!(
            listing.lines().any(|l| l.contains(&format!(":{line} (")) && l.contains(reason)),
            "line {line}: {listing}"
        );
    }
}

/// A run that fails (here: a file-size limit, as a full disk would) removes its temporary files on the way
/// out, instead of leaving them to keep the disk full until the next run.
#[test]
fn a_failed_ingest_leaves_no_temporary_files() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 20_000, 2, "s3", &[]);
    // A bad line per file, so rejects are written too.
    let bad: String = (0..20_000).map(|i| format!("bad line {i}\n")).collect();
    t.write("logs/bad.log", bad.as_bytes());
    for limit_kb in ["300", "1500"] {
        let wh = t.path(&format!("wh-{limit_kb}"));
        // SIGXFSZ ignored: writing past the limit fails with EFBIG, as a full disk fails with ENOSPC.
        let script = format!(
            "trap '' XFSZ; ulimit -f {}; exec \"$0\" --warehouse \"$1\" -q ingest \"$2\"",
            limit_kb.parse::<u64>().unwrap() * 2
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script, BIN, wh.to_str().unwrap(), logs.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "limit {limit_kb} KB: {}", String::from_utf8_lossy(&out.stderr));
        let left: Vec<PathBuf> = files_under(&wh)
            .into_iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(left.is_empty(), "limit {limit_kb} KB left {left:?}; {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Rejects recorded by a killed run count in the re-run's summary and exit code (they were never reported),
/// exactly once: with the re-run's own rejects they add up to an uninterrupted run's.
#[test]
fn a_rerun_reports_the_rejects_a_killed_run_recorded() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 6000, 4, "s3", &["--object-minutes", "10"]);
    // One bad line in every object, after its records.
    for (i, f) in files_under(&logs).into_iter().filter(|p| p.extension().is_some_and(|e| e == "gz")).enumerate() {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap()), &mut text)
            .unwrap();
        text.extend_from_slice(format!("bad line in object {i}\n").as_bytes());
        std::fs::write(&f, gzip(&text)).unwrap();
    }
    // Offloaded bodies and permission-check markers are not logs: their bad lines are never read.
    let reference = ingest_paths(&t.path("reference"), std::slice::from_ref(&logs));
    let objects = reference.rejected;
    assert!(objects > 500, "{reference:?}");

    let summary_of = |out: &std::process::Output| -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        })
    };
    let mut tried = 0;
    for kill_after_files in [1usize, 3] {
        let wh = t.path(&format!("killed-{kill_after_files}"));
        let mut child = std::process::Command::new(BIN)
            .args([
                "--warehouse",
                wh.to_str().unwrap(),
                "-q",
                "ingest",
                logs.to_str().unwrap(),
                "--commit-every-rows",
                "200",
                "--threads",
                "1",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A commit publishes its rejects, then its manifest segment: once a segment is there, so are the rejects
        // of the sources it records.
        let segments = || {
            std::fs::read_dir(wh.join("_manifest"))
                .map_or(0, |d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count())
        };
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while child.try_wait().unwrap().is_none()
            && segments() < kill_after_files
            && std::time::Instant::now() < give_up
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let killed = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        if !killed {
            continue;
        }
        tried += 1;
        let rerun = run_cli(&["--warehouse", wh.to_str().unwrap(), "ingest", logs.to_str().unwrap(), "--json"]);
        assert_eq!(rerun.status.code(), Some(1), "the carried-over rejects make it exit 1");
        let s = summary_of(&rerun);
        let carried = s["rejects_carried_over"].as_u64().unwrap();
        assert!(carried > 0, "{s}");
        assert_eq!(carried + s["rejected"].as_u64().unwrap(), objects, "every reject reported once: {s}");
        let listing = run_cli(&["--warehouse", wh.to_str().unwrap(), "rejects", "--limit", "0"]);
        assert_eq!(String::from_utf8_lossy(&listing.stdout), format!("{objects} rejected record(s)\n"));
        // Reported now: the next run has nothing to carry over.
        let again = run_cli(&["--warehouse", wh.to_str().unwrap(), "ingest", logs.to_str().unwrap(), "--json"]);
        assert_eq!(again.status.code(), Some(0), "{}", summary_of(&again));
        assert_eq!(summary_of(&again)["rejects_carried_over"], 0);
    }
    assert!(tried >= 1, "some run must be killed after it recorded rejects");
}
