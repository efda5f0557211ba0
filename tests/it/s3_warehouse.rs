//! A warehouse in S3 (`--warehouse s3://BUCKET/PREFIX`) against moto's S3 (started by scripts/test): the same
//! answers as a local warehouse, a killed run re-run, one writer at a time through the lease object, and
//! compaction while readers read. Every run is the real binary with the environment a deployment would have;
//! only the endpoint points at moto.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

fn moto() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the suite with scripts/test, which starts moto")
}

/// The binary with credentials, Region and endpoint in the environment (the default chain reads them).
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("BEDROCK_SPEND_WAREHOUSE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    command
}

fn cli(args: &[&str]) -> Output {
    command(args).output().expect("run bedrock-spend")
}

fn ok(out: &Output) -> &Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn s3() -> aws_sdk_s3::Client {
    let conf = rt().block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "static"))
            .load(),
    );
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build())
}

/// A fresh bucket (each test its own, so tests run in parallel).
fn bucket(name: &str) -> String {
    let name = format!("{name}-{}", std::process::id());
    rt().block_on(s3().create_bucket().bucket(&name).send()).unwrap();
    name
}

/// Every key under `prefix`, with its ETag.
fn keys(bucket: &str, prefix: &str) -> Vec<(String, String)> {
    let client = s3();
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = rt()
            .block_on(client.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(token).send())
            .unwrap();
        for object in page.contents() {
            out.push((object.key().unwrap_or_default().to_string(), object.e_tag().unwrap_or_default().to_string()));
        }
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    out.sort();
    out
}

/// Every day's manifest names exactly the day's live Parquet objects (visible `.parquet` keys), as `s3://` URIs;
/// both worked out from a listing here. Returns the number of days.
fn assert_manifests_match(bucket: &str, prefix: &str) -> usize {
    let mut live = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut manifests = std::collections::BTreeMap::new();
    for (key, _) in keys(bucket, &format!("{prefix}/")) {
        let rest = &key[prefix.len() + 1..];
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["invocations", day, name] if name.ends_with(".parquet") && !name.starts_with('.') => {
                live.entry(day.to_string()).or_default().push(format!("s3://{bucket}/{key}"));
            }
            ["_symlink_format_manifest", day, "manifest"] => {
                let client = s3();
                let body = rt().block_on(async {
                    let o = client.get_object().bucket(bucket).key(&key).send().await.unwrap();
                    o.body.collect().await.unwrap().into_bytes()
                });
                let lines: Vec<String> = String::from_utf8(body.to_vec()).unwrap().lines().map(String::from).collect();
                manifests.insert(day.to_string(), lines);
            }
            _ => {}
        }
    }
    live.values_mut().for_each(|v| v.sort());
    assert!(!live.is_empty(), "a warehouse with data");
    assert_eq!(manifests, live, "each day's manifest names exactly its live files");
    live.len()
}

/// The rows of a statement run by the binary over `warehouse` (a path or an `s3://` URL).
fn sql(warehouse: &str, statement: &str) -> Vec<Value> {
    let out = cli(&["--warehouse", warehouse, "-q", "sql", "--format", "json", statement]);
    serde_json::from_slice(&ok(&out).stdout).unwrap()
}

/// The totals two warehouses must agree on: rows, distinct ids, tokens, and the exact cost as text.
const TOTALS: &str = "SELECT count(*) AS n, count(DISTINCT request_id) AS ids, sum(input_tokens) AS input, \
     sum(output_tokens) AS output, CAST(sum(cost_usd) AS VARCHAR) AS cost FROM invocation_costs";

fn ingest(warehouse: &str, logs: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--warehouse", warehouse, "-q", "ingest", logs.to_str().unwrap()];
    args.extend_from_slice(extra);
    cli(&args)
}

/// Ingest into S3 and into a local directory: every total agrees, the layout is the local one, a re-run reads
/// nothing again, and the run leaves no lease and no temporary object behind.
#[test]
fn s3_warehouse_answers_as_the_local_one() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 3000, 4, "s3", &[]);
    let local = t.path("local");
    ok(&ingest(local.to_str().unwrap(), &logs, &[]));
    let bucket = bucket("wh-same");
    let url = format!("s3://{bucket}/team/spend");
    ok(&ingest(&url, &logs, &[]));

    let remote = sql(&url, TOTALS);
    assert_eq!(remote, sql(local.to_str().unwrap(), TOTALS));
    assert_eq!(remote[0]["n"], 3000, "every generated record once");
    assert_eq!(remote[0]["ids"], 3000);

    let keys: Vec<String> = keys(&bucket, "team/spend/").into_iter().map(|(k, _)| k).collect();
    let days = keys.iter().filter(|k| k.starts_with("team/spend/invocations/day=") && k.ends_with(".parquet"));
    assert!(days.count() >= 4, "Hive layout, a file per day at least: {keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("team/spend/_manifest/") && k.ends_with(".json")), "{keys:?}");
    assert!(keys.contains(&"team/spend/_warehouse.json".to_string()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.ends_with("_lease.json")), "the lease is released: {keys:?}");
    assert!(!keys.iter().any(|k| k.contains("/.tmp-")), "no temporary object: {keys:?}");
    assert!(assert_manifests_match(&bucket, "team/spend") >= 4);
    assert!(!keys.iter().any(|k| k.contains("/_pending/")), "no commit left pending: {keys:?}");

    // The other readers work over the same URL.
    ok(&cli(&["--warehouse", &url, "-q", "rejects"]));
    ok(&cli(&["--warehouse", &url, "-q", "recommend", "--format", "json"]));
    ok(&cli(&[
        "--warehouse",
        &url,
        "-q",
        "query",
        "spend_by_model",
        "--param",
        "since=2025-11-01",
        "--param",
        "until=2025-12-01",
    ]));

    // A read command reaches the warehouse through its own AWS flags (#20): no Region or endpoint in the
    // environment; then with the environment's endpoint a closed port, so only the flag can lead to moto.
    let flags = ["--endpoint-url", &moto(), "--region", "us-east-1", "--max-attempts", "1"];
    let mut args = vec!["--warehouse", &url, "-q", "sql", "--format", "json", TOTALS];
    args.extend_from_slice(&flags);
    let mut no_env = command(&args);
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"] {
        no_env.env_remove(var);
    }
    let out = no_env.output().unwrap();
    assert_eq!(serde_json::from_slice::<Vec<Value>>(&ok(&out).stdout).unwrap(), remote);
    let mut args = vec!["--warehouse", &url, "-q", "rejects"];
    args.extend_from_slice(&flags);
    let out = command(&args).env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").env_remove("AWS_REGION").output().unwrap();
    ok(&out);

    // The manifest in S3 makes a re-run read nothing.
    let out = ingest(&url, &logs, &["--json"]);
    let summary: Value = serde_json::from_slice(&ok(&out).stdout).unwrap();
    assert_eq!(summary["ingested"], 0, "{summary}");
    assert_eq!(sql(&url, "SELECT count(*) AS n FROM invocations")[0]["n"], 3000);

    // A URL no writer ever wrote is an error, not an empty warehouse answering $0.
    let out = cli(&["--warehouse", &format!("s3://{bucket}/no-such"), "sql", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no warehouse"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An S3 warehouse behind a closed port: one line that names the warehouse and the object, with object_store's
/// retry account said once (it wraps it three levels deep), and the innermost cause. No server needed.
#[test]
fn an_unreachable_s3_warehouse_says_why_once() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let args = ["--warehouse", "s3://no-such-bucket/wh", "sql", "SELECT 1", "--endpoint-url", &endpoint];
    let out = command(&args).args(["--max-attempts", "2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("after 1 retries").count(), 1, "{err}");
    assert_eq!(err.matches("Error performing").count(), 1, "{err}");
    assert!(err.contains("s3://no-such-bucket/wh:"), "the warehouse: {err}");
    assert!(err.contains("/no-such-bucket/wh/_warehouse.json"), "the object: {err}");
    assert!(err.contains("Connection refused"), "the innermost cause: {err}");
}

fn wait_until(child: &mut Child, give_up_after: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + give_up_after;
    while child.try_wait().unwrap().is_none() && Instant::now() < give_up && !done() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kill ingest runs into S3 mid-run; the next run (on this host, so it takes over the dead run's lease without
/// being told) ends with every record exactly once and the same totals as an uninterrupted local run.
#[test]
fn a_killed_s3_ingest_rerun_ends_with_the_same_rows() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 12_000, 6, "s3", &[]);
    let local = t.path("local");
    ok(&ingest(local.to_str().unwrap(), &logs, &[]));
    let bucket = bucket("wh-killed");
    let url = format!("s3://{bucket}/wh");
    let parts = || keys(&bucket, "wh/invocations/").into_iter().filter(|(k, _)| k.ends_with(".parquet")).count();

    let mut killed = 0;
    for delay_ms in [None, Some(400u64)] {
        let before = parts();
        let args = ["--warehouse", &url, "-q", "ingest", logs.to_str().unwrap(), "--commit-every-rows", "1000"];
        let mut child = command(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        match delay_ms {
            // As soon as the run has committed a file of its own: a partly ingested warehouse.
            None => wait_until(&mut child, Duration::from_secs(120), || parts() > before),
            Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait();
    }
    assert!(killed >= 1, "the test must interrupt a run");
    let partial: i64 =
        if parts() > 0 { sql(&url, "SELECT count(*) AS n FROM invocations")[0]["n"].as_i64().unwrap() } else { 0 };
    assert!(partial < 12_000, "the kills left the warehouse partly ingested ({partial} rows)");

    let out = ingest(&url, &logs, &[]);
    ok(&out);
    let remote = sql(&url, TOTALS);
    assert_eq!(remote[0]["n"], 12_000);
    assert_eq!(remote[0]["ids"], 12_000, "no duplicates");
    assert_eq!(remote, sql(local.to_str().unwrap(), TOTALS));
    assert!(!keys(&bucket, "wh/").iter().any(|(k, _)| k.contains("/.tmp-")), "temporary objects swept");
    // Whatever the kills interrupted, the re-run left every day's manifest naming exactly its files.
    assert_manifests_match(&bucket, "wh");
    assert!(!keys(&bucket, "wh/").iter().any(|(k, _)| k.contains("/_pending/")), "pending marks repaired");
}

/// Two writers at once: the second stops with exit 2, names the lease's holder, and writes nothing; once the
/// first is done the second runs. A lease left by a run on another host is broken only on request.
#[test]
fn one_writer_at_a_time_through_the_lease() {
    let t = TestDir::new();
    let (first_logs, second_logs) = (t.path("first"), t.path("second"));
    generate(&first_logs, 20_000, 4, "s3", &["--seed", "1"]);
    generate(&second_logs, 500, 2, "s3", &["--seed", "2", "--start", "2025-12-01"]);
    let bucket = bucket("wh-lease");
    let url = format!("s3://{bucket}/wh");
    let lease = |bucket: &str| keys(bucket, "wh/").iter().any(|(k, _)| k == "wh/_lease.json");

    let args = ["--warehouse", &url, "-q", "ingest", first_logs.to_str().unwrap(), "--commit-every-rows", "2000"];
    let mut first = command(&args).stdout(Stdio::null()).spawn().unwrap();
    wait_until(&mut first, Duration::from_secs(60), || lease(&bucket));
    assert!(first.try_wait().unwrap().is_none(), "the first writer is still running");
    // Hold the first writer still, so the second surely starts while it holds the lease.
    let pid = first.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let before = keys(&bucket, "wh/");

    let second = ingest(&url, &second_logs, &[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is being written by") && stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(stderr.contains("--break-lease"), "the way out is named: {stderr}");
    assert_eq!(keys(&bucket, "wh/"), before, "the refused writer wrote nothing");

    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    assert!(first.wait().unwrap().success());
    assert_eq!(sql(&url, "SELECT count(*) AS n FROM invocations")[0]["n"], 20_000);
    ok(&ingest(&url, &second_logs, &[]));
    assert_eq!(sql(&url, "SELECT count(*) AS n FROM invocations")[0]["n"], 20_500);

    // A lease from another host (its process cannot be checked from here), renewed a minute ago, stays until
    // broken on request.
    let put_lease = |renewed_ago: chrono::TimeDelta| {
        let renewed = (chrono::Utc::now() - renewed_ago).to_rfc3339();
        let body = format!(
            r#"{{"run":"20250101T000000-deadbeef","host":"elsewhere","pid":1,"acquired_at":"2025-01-01T00:00:00Z","renewed_at":"{renewed}"}}"#
        );
        rt().block_on(s3().put_object().bucket(&bucket).key("wh/_lease.json").body(body.into_bytes().into()).send())
            .unwrap();
    };
    put_lease(chrono::TimeDelta::seconds(60));
    let out = cli(&["--warehouse", &url, "-q", "compact"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("elsewhere"), "the holder is named: {stderr}");
    assert!(stderr.contains("last renewed 6") && stderr.contains("s ago"), "the renewal's age is shown: {stderr}");
    ok(&cli(&["--warehouse", &url, "-q", "compact", "--break-lease"]));
    assert!(!lease(&bucket), "released after the run that broke it");

    // One not renewed for more than ten minutes is a dead or hung writer's: taken over, with a warning.
    put_lease(chrono::TimeDelta::minutes(11));
    let out = ok(&cli(&["--warehouse", &url, "-q", "compact"])).clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: took over the writer lease") && stderr.contains("elsewhere"), "{stderr}");
    assert!(!lease(&bucket), "released after the run that took it over");
}

/// The lease through the library with a fast clock (renewed every 200 ms, stale after 3 s), against moto's
/// conditional PUTs (`If-None-Match: *` to create, `If-Match: <ETag>` to renew and take over): renewals are
/// written; a lease broken and taken by another writer is found lost at the next renewal, and the writer's check
/// fails naming the taker, without the writer deleting the taker's lease; a second writer is refused with the
/// renewal age; a stale lease is taken over with a notice naming its holder.
#[test]
fn the_lease_is_renewed_and_a_lost_or_stale_one_is_detected() {
    use bedrock_spend::store::files::Remote;
    use bedrock_spend::store::lease::{Lease, LeaseError, LeaseTiming};
    use datafusion::object_store::aws::AmazonS3Builder;

    let bucket = bucket("wh-heartbeat");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = AmazonS3Builder::new()
        .with_bucket_name(&bucket)
        .with_region("us-east-1")
        .with_endpoint(moto())
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap();
    let url = format!("s3://{bucket}/wh");
    let remote =
        std::sync::Arc::new(Remote::new(std::sync::Arc::new(store), &url, "wh", runtime.handle().clone()).unwrap());
    let timing = LeaseTiming { renew_every: Duration::from_millis(200), stale_after: Duration::from_secs(3) };
    let read = || -> Value {
        let client = s3();
        let body = rt().block_on(async {
            let o = client.get_object().bucket(&bucket).key("wh/_lease.json").send().await.unwrap();
            o.body.collect().await.unwrap().into_bytes()
        });
        serde_json::from_slice(&body).unwrap()
    };
    let time = |v: &Value, field: &str| chrono::DateTime::parse_from_rfc3339(v[field].as_str().unwrap()).unwrap();

    let lease = Lease::acquire_with(remote.clone(), "run-a", false, timing).unwrap();
    assert!(lease.notice().is_none(), "a free lease is simply taken");
    let first = read();
    std::thread::sleep(Duration::from_millis(900));
    let later = read();
    assert_eq!(later["run"], "run-a");
    assert!(time(&later, "renewed_at") > time(&first, "renewed_at"), "renewed: {first} then {later}");
    assert_eq!(later["acquired_at"], first["acquired_at"], "a renewal keeps the time it was taken");
    lease.check().unwrap();

    match Lease::acquire_with(remote.clone(), "run-b", false, timing) {
        Err(LeaseError::Held { holder, renewed_secs, .. }) => {
            assert!(holder.contains("run-a"), "{holder}");
            assert!((0..=1).contains(&renewed_secs), "renewed {renewed_secs}s ago");
        }
        other => panic!("a held lease must be refused: {other:?}"),
    }

    // Someone breaks the lease and another writer takes it: the next renewal finds the ETag changed.
    let taker = r#"{"run":"run-c","host":"elsewhere","pid":7,"acquired_at":"2026-01-01T00:00:00Z"}"#;
    rt().block_on(
        s3().put_object().bucket(&bucket).key("wh/_lease.json").body(taker.as_bytes().to_vec().into()).send(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    match lease.check() {
        Err(e @ LeaseError::Lost { .. }) => assert!(e.to_string().contains("run run-c (pid 7 on elsewhere)"), "{e}"),
        other => panic!("the lost lease must be noticed: {other:?}"),
    }
    drop(lease);
    assert_eq!(read()["run"], "run-c", "the writer that lost the lease leaves the taker's alone");

    // run-c's lease (never renewed since 2026-01-01) is stale: taken over, with a notice naming it.
    let lease = Lease::acquire_with(remote.clone(), "run-d", false, timing).unwrap();
    let notice = lease.notice().expect("a notice").to_string();
    assert!(notice.contains("run run-c (pid 7 on elsewhere)") && notice.contains("not renewed"), "{notice}");
    assert_eq!(read()["run"], "run-d");
    drop(lease);
    assert!(!keys(&bucket, "wh/").iter().any(|(k, _)| k == "wh/_lease.json"), "released");
}

/// Compaction in S3 while readers query: every query sees every row exactly once, and afterwards each day is one
/// file, the replaced ones kept under hidden names for the grace period.
#[test]
fn s3_compaction_while_readers_read_shows_every_row_once() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 6000, 5, "s3", &[]);
    let bucket = bucket("wh-compact");
    let url = format!("s3://{bucket}/wh");
    // Small commits make several files per day (fewer than the 8 that would compact during ingest).
    ok(&ingest(&url, &logs, &["--commit-every-rows", "1000"]));
    let day_files = |bucket: &str| {
        let keys = keys(bucket, "wh/invocations/");
        let mut per_day = std::collections::BTreeMap::<String, usize>::new();
        for (key, _) in keys.iter().filter(|(k, _)| k.ends_with(".parquet") && !k.contains("/.")) {
            *per_day.entry(key.split('/').nth(2).unwrap_or_default().to_string()).or_default() += 1;
        }
        per_day
    };
    let before = day_files(&bucket);
    assert!(before.values().any(|&n| n > 1), "some day has files to merge: {before:?}");

    let check = "SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM invocations";
    let mut compact = command(&["--warehouse", &url, "-q", "compact"]).stdout(Stdio::null()).spawn().unwrap();
    let mut queries = 0;
    loop {
        let done = compact.try_wait().unwrap().is_some();
        let rows = sql(&url, check);
        assert_eq!((rows[0]["n"].as_i64(), rows[0]["ids"].as_i64()), (Some(6000), Some(6000)), "query {queries}");
        queries += 1;
        if done {
            break;
        }
    }
    assert!(compact.wait().unwrap().success());
    assert!(queries >= 2, "a query ran during the compaction");
    let after = day_files(&bucket);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    assert!(after.values().all(|&n| n == 1), "one file per day: {after:?}");
    let keys = keys(&bucket, "wh/");
    assert!(keys.iter().any(|(k, _)| k.contains("/.superseded-")), "replaced files wait out the grace period");
    assert!(keys.iter().any(|(k, _)| k.starts_with("wh/_superseded/")), "with their tombstones");
    assert!(!keys.iter().any(|(k, _)| k.starts_with("wh/_journal/") || k.contains("/.tmp-")), "{keys:?}");
    // The manifests switched to the compacted files: one a day, none of the retired ones.
    assert_eq!(assert_manifests_match(&bucket, "wh"), after.len());
}
