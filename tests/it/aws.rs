//! Ingest from AWS against a real server: moto on loopback (started by scripts/test), and the small Bedrock
//! stub for the three control-plane calls moto lacks. The production client code runs; only the endpoint differs.

use std::path::Path;
use std::process::{Command, Output};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::util::*;

fn endpoint(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the suite with scripts/test, which starts moto"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint("MOTO_ENDPOINT"))
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "static"))
        .load()
        .await
}

async fn s3(region: &str) -> aws_sdk_s3::Client {
    let conf = config(region).await;
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build())
}

/// The CLI with the environment a real deployment would use, pointed at moto (and the stub for Bedrock).
fn cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("BEDROCK_SPEND_WAREHOUSE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint("MOTO_ENDPOINT"))
        .env("AWS_ENDPOINT_URL_BEDROCK", endpoint("BEDROCK_STUB_ENDPOINT"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .expect("run bedrock-spend")
}

fn summary(out: &Output) -> Value {
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Upload a generated S3 tree (`DIR/s3/...`) under `prefix`, optionally only the keys `keep` accepts.
async fn upload(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    tree: &Path,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> usize {
    let root = tree.join("s3");
    let mut n = 0;
    for file in files_under(&root) {
        let key = format!("{prefix}{}", file.strip_prefix(&root).unwrap().to_string_lossy());
        if !keep(&key) {
            continue;
        }
        let body = ByteStream::from(std::fs::read(&file).unwrap());
        client.put_object().bucket(bucket).key(&key).body(body).send().await.unwrap();
        n += 1;
    }
    n
}

async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str, region: &str) {
    let mut req = client.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        let c = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
            .build();
        req = req.create_bucket_configuration(c);
    }
    req.send().await.unwrap();
}

#[test]
fn s3_paging_incremental_runs_and_time_pruning() {
    let t = TestDir::new();
    let logs = t.path("logs");
    // Minute-sized objects over two days: well over 1,000 keys.
    generate(&logs, 4000, 2, "s3", &["--object-minutes", "1", "--seed", "5"]);
    let rt = rt();
    let client = rt.block_on(s3("us-east-1"));
    rt.block_on(create_bucket(&client, "paging-bucket", "us-east-1"));
    let day1 = rt.block_on(upload(&client, "paging-bucket", &logs, "raw/", |k| !k.contains("/2025/11/02/")));
    assert!(day1 > 1000, "{day1} keys on day one");

    let wh = t.warehouse();
    let w = wh.to_str().unwrap();
    let first = summary(&cli(&["--warehouse", w, "ingest", "s3://paging-bucket/raw/", "--json", "-q"]));
    let day1_rows = scalar(&wh, "SELECT count(*) FROM invocations");
    assert!(first["sources_read"].as_u64().unwrap() > 1000, "{first}");
    assert!(first["not_logs"].as_u64().unwrap() >= 3, "markers and data/ objects skipped: {first}");
    assert_eq!(first["ingested"].as_i64().unwrap(), day1_rows);

    // Day two arrives; the next run reads only the new objects.
    let day2 = rt.block_on(upload(&client, "paging-bucket", &logs, "raw/", |k| k.contains("/2025/11/02/")));
    let second = summary(&cli(&["--warehouse", w, "ingest", "s3://paging-bucket/raw/", "--json", "-q"]));
    assert_eq!(second["sources_unchanged"].as_u64().unwrap(), first["sources_read"].as_u64().unwrap(), "{second}");
    assert!(second["sources_read"].as_u64().unwrap() <= day2 as u64, "{second}");
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), 4000);
    // Same records as ingesting the files locally.
    let local = t.path("local-wh");
    ingest_paths(&local, &[logs.join("s3")]);
    let sql = "SELECT request_id, input_tokens, output_tokens FROM invocations ORDER BY request_id";
    assert!(query(&wh, sql) == query(&local, sql));

    // A three-hour window lists only the hour folders around it.
    let pruned = t.path("pruned-wh");
    let out = cli(&[
        "--warehouse",
        pruned.to_str().unwrap(),
        "ingest",
        "s3://paging-bucket/raw/",
        "--since",
        "2025-11-01T10:00:00Z",
        "--until",
        "2025-11-01T13:00:00Z",
        "--json",
        "-q",
    ]);
    let s = summary(&out);
    let read = s["sources_read"].as_u64().unwrap();
    assert!(read > 0 && read < 5 * 60 * 3 + 10, "only objects of the 5 hour folders (3 + margin) are read: {s}");
    let (lo, hi) = (
        query(&pruned, "SELECT CAST(min(timestamp) AS VARCHAR) AS v FROM invocations"),
        query(&pruned, "SELECT CAST(max(timestamp) AS VARCHAR) AS v FROM invocations"),
    );
    assert!(
        lo[0]["v"].as_str().unwrap() >= "2025-11-01T10:00:00Z" && hi[0]["v"].as_str().unwrap() < "2025-11-01T13:00:00Z"
    );
}

async fn put_events(client: &aws_sdk_cloudwatchlogs::Client, group: &str, records: &[(i64, String)]) {
    let _ = client.create_log_group().log_group_name(group).send().await;
    let _ =
        client.create_log_stream().log_group_name(group).log_stream_name("aws/bedrock/modelinvocations").send().await;
    for chunk in records.chunks(2000) {
        let events: Vec<InputLogEvent> =
            chunk.iter().map(|(ms, m)| InputLogEvent::builder().timestamp(*ms).message(m).build().unwrap()).collect();
        client
            .put_log_events()
            .log_group_name(group)
            .log_stream_name("aws/bedrock/modelinvocations")
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    }
}

/// `n` small records spread over `[start, start + span)`, in time order (CloudWatch wants recent times).
fn recent_records(prefix: &str, n: usize, start: chrono::DateTime<Utc>, span: Duration) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| {
            let ts = start + Duration::milliseconds(span.num_milliseconds() * i as i64 / n as i64);
            let ts = ts - Duration::milliseconds(ts.timestamp_subsec_millis() as i64);
            (
                ts.timestamp_millis(),
                record(&format!("{prefix}-{i:06}"), &ts.format("%Y-%m-%dT%H:%M:%SZ").to_string(), i as i64 % 500, 7),
            )
        })
        .collect()
}

#[test]
fn cloudwatch_paging_incremental_and_both_destinations() {
    let t = TestDir::new();
    let rt = rt();
    let logs = rt.block_on(async { aws_sdk_cloudwatchlogs::Client::new(&config("us-east-1").await) });
    let group = "/bedrock/paging-test";
    let now = Utc::now();
    let old = recent_records("cw", 10_500, now - Duration::hours(5), Duration::hours(3));
    rt.block_on(put_events(&logs, group, &old));
    let wh = t.warehouse();
    let w = wh.to_str().unwrap();
    let url = format!("cloudwatch://{group}");
    let first = summary(&cli(&["--warehouse", w, "ingest", &url, "--json", "-q"]));
    assert_eq!(first["ingested"].as_u64().unwrap(), 10_500, "{first}");

    // New events after the watermark: the next run adds exactly those (the overlap only re-reads, dedupe drops).
    let new = recent_records("cw-new", 300, now - Duration::minutes(1), Duration::seconds(50));
    rt.block_on(put_events(&logs, group, &new));
    let second = summary(&cli(&["--warehouse", w, "ingest", &url, "--json", "-q"]));
    assert_eq!(second["ingested"].as_u64().unwrap(), 300, "{second}");
    assert!(second["records_read"].as_u64().unwrap() < 10_500, "incremental, not a full re-read: {second}");
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(wh.join("_checkpoints/cloudwatch.json")).unwrap()).unwrap();
    assert!(checkpoint["watermarks"][format!("us-east-1:{group}")].is_string(), "{checkpoint}");

    // The same records also delivered to S3: each is stored once.
    let client = rt.block_on(s3("us-east-1"));
    rt.block_on(create_bucket(&client, "both-bucket", "us-east-1"));
    let body = old[..2000].iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("\n");
    let key = format!(
        "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/{}/x_1.json.gz",
        (now - Duration::hours(5)).format("%Y/%m/%d/%H")
    );
    rt.block_on(
        client.put_object().bucket("both-bucket").key(&key).body(ByteStream::from(gzip(body.as_bytes()))).send(),
    )
    .unwrap();
    let both = summary(&cli(&["--warehouse", w, "ingest", "s3://both-bucket", "--json", "-q"]));
    assert_eq!((both["ingested"].as_u64().unwrap(), both["duplicates"].as_u64().unwrap()), (0, 2000), "{both}");
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), 10_800);
}

/// The watermarks in `WAREHOUSE/_checkpoints/cloudwatch.json`, by `region:group`.
fn watermarks(warehouse: &Path) -> std::collections::BTreeMap<String, chrono::DateTime<Utc>> {
    let bytes = std::fs::read(warehouse.join("_checkpoints/cloudwatch.json")).expect("the CloudWatch checkpoint");
    let checkpoint: Value = serde_json::from_slice(&bytes).expect("the checkpoint is JSON");
    let marks = checkpoint["watermarks"].as_object().expect("a watermarks object");
    marks
        .iter()
        .map(|(key, at)| {
            let at = chrono::DateTime::parse_from_rfc3339(at.as_str().expect("a time")).expect("an RFC 3339 time");
            (key.clone(), at.with_timezone(&Utc))
        })
        .collect()
}

/// One CloudWatch window fails in the middle of a run (its log group is gone: moto answers
/// ResourceNotFoundException) while another is read: the failure names the window's source and kind, the run
/// exits 1, the failed group's watermark stays where it was while the good one's moves on, and once the group is
/// back the next run reads the events the failed window held, which a watermark moved past them would have lost.
#[test]
fn a_failed_cloudwatch_window_keeps_its_watermark_and_is_read_by_the_next_run() {
    let t = TestDir::new();
    let rt = rt();
    let logs = rt.block_on(async { aws_sdk_cloudwatchlogs::Client::new(&config("us-east-1").await) });
    let (good, bad) = ("/bedrock/fault-good", "/bedrock/fault-bad");
    let (good_key, bad_key) = (format!("us-east-1:{good}"), format!("us-east-1:{bad}"));
    let bad_source = format!("cloudwatch://{bad}#aws/bedrock/modelinvocations@us-east-1");
    for group in [good, bad] {
        // Start from empty groups, also on a server an earlier run of this test left behind.
        let _ = rt.block_on(logs.delete_log_group().log_group_name(group).send());
    }
    let start = Utc::now() - Duration::hours(2);
    rt.block_on(put_events(&logs, good, &recent_records("fault-good-1", 50, start, Duration::minutes(30))));
    rt.block_on(put_events(&logs, bad, &recent_records("fault-bad-1", 40, start, Duration::minutes(30))));
    let wh = t.warehouse();
    let w = wh.to_str().unwrap();
    let (good_url, bad_url) = (format!("cloudwatch://{good}"), format!("cloudwatch://{bad}"));
    // No overlap: each window starts exactly at its watermark, so a watermark moved too far loses events.
    let args = ["--warehouse", w, "ingest", &good_url, &bad_url, "--overlap-minutes", "0", "--json", "-q"];
    let first = cli(&args);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(summary(&first)["ingested"].as_u64(), Some(90));
    let before = watermarks(&wh);
    let (good_before, bad_before) = (before[&good_key], before[&bad_key]);

    // Events that arrive after the first run's watermark: within (watermark, watermark + 1.5 s].
    let after = |mark: chrono::DateTime<Utc>, prefix: &str, n| {
        recent_records(prefix, n, mark + Duration::seconds(1), Duration::milliseconds(500))
    };
    std::thread::sleep(std::time::Duration::from_secs(2));
    rt.block_on(logs.delete_log_group().log_group_name(bad).send()).expect("delete the log group");
    rt.block_on(put_events(&logs, good, &after(good_before, "fault-good-2", 20)));
    let failed = cli(&args);
    assert_eq!(failed.status.code(), Some(1), "a failed source makes the run partial");
    let s = summary(&failed);
    assert_eq!((s["ingested"].as_u64(), s["sources_failed"].as_u64()), (Some(20), Some(1)), "{s}");
    let failures = s["failures"].as_array().expect("failures is an array");
    assert_eq!(failures.len(), 1, "{s}");
    assert_eq!(failures[0]["source"].as_str(), Some(bad_source.as_str()), "{s}");
    assert_eq!(failures[0]["kind"].as_str(), Some("not_found"), "{s}");
    assert!(failures[0]["message"].as_str().is_some_and(|m| m.contains("logs:FilterLogEvents")), "{s}");
    let marks = watermarks(&wh);
    assert!(marks[&good_key] > good_before, "the window read moves its watermark: {marks:?}");
    assert_eq!(marks[&bad_key], bad_before, "the failed window leaves its watermark where it was");
    let text = cli(&["--warehouse", w, "ingest", &bad_url, "--overlap-minutes", "0"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!("failed (not found; retried by the next run): {bad_source}: ")),
        "the text summary names the source and the kind: {stdout}"
    );
    assert_eq!(watermarks(&wh)[&bad_key], bad_before);

    // The group is back, holding events from the window that failed: the next run reads them.
    rt.block_on(put_events(&logs, bad, &after(bad_before, "fault-bad-2", 15)));
    let recovered = cli(&args);
    assert_eq!(recovered.status.code(), Some(0), "{}", String::from_utf8_lossy(&recovered.stderr));
    let s = summary(&recovered);
    assert_eq!((s["ingested"].as_u64(), s["failures"].as_array().map(Vec::len)), (Some(15), Some(0)), "{s}");
    assert!(watermarks(&wh)[&bad_key] > bad_before);
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations WHERE request_id LIKE 'fault-bad-2-%'"), 15);
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), 50 + 40 + 20 + 15);
}

#[test]
fn interrupted_s3_ingest_resumes_without_loss_or_duplicates() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 12_000, 3, "s3", &["--object-minutes", "2", "--seed", "9"]);
    let rt = rt();
    let client = rt.block_on(s3("us-east-1"));
    rt.block_on(create_bucket(&client, "resume-bucket", "us-east-1"));
    rt.block_on(upload(&client, "resume-bucket", &logs, "", |_| true));
    let wh = t.warehouse();
    let w = wh.to_str().unwrap();
    let mut interrupted = 0;
    for delay in [400u64, 900, 1500] {
        let mut child = Command::new(BIN)
            .args([
                "--warehouse",
                w,
                "-q",
                "ingest",
                "s3://resume-bucket",
                "--commit-every-rows",
                "1000",
                "--concurrency",
                "2",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", endpoint("MOTO_ENDPOINT"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            interrupted += 1;
        }
        let _ = child.wait();
    }
    assert!(interrupted >= 1, "at least one run was cut off");
    let last = summary(&cli(&["--warehouse", w, "ingest", "s3://resume-bucket", "--json", "-q"]));
    assert_eq!(last["sources_failed"].as_u64().unwrap(), 0, "{last}");
    assert_eq!(scalar(&wh, "SELECT count(*) FROM invocations"), 12_000);
    assert_eq!(scalar(&wh, "SELECT count(DISTINCT request_id) FROM invocations"), 12_000);
}

/// POST a JSON body to the Bedrock stub's control endpoint (plain HTTP/1.1 over loopback).
fn stub_post(path: &str, body: &str) {
    use std::io::{Read, Write};
    let endpoint = endpoint("BEDROCK_STUB_ENDPOINT");
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the Bedrock stub");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"), "{response}");
}

fn set_estate(region: &str, estate: Value) {
    stub_post(&format!("/_stub/estate/{region}"), &estate.to_string());
}

async fn put_logging(region: &str, config_json: Value) {
    let conf = config(region).await;
    let client = aws_sdk_bedrock::Client::new(&conf);
    let mut builder = aws_sdk_bedrock::types::LoggingConfig::builder().text_data_delivery_enabled(true);
    if let Some(bucket) = config_json["s3"].as_str() {
        builder = builder.s3_config(
            aws_sdk_bedrock::types::S3Config::builder().bucket_name(bucket).key_prefix("bedrock").build().unwrap(),
        );
    }
    if let Some(group) = config_json["cloudwatch"].as_str() {
        builder = builder.cloud_watch_config(
            aws_sdk_bedrock::types::CloudWatchConfig::builder()
                .log_group_name(group)
                .role_arn("arn:aws:iam::111122223333:role/bedrock-logging")
                .build()
                .unwrap(),
        );
    }
    client.put_model_invocation_logging_configuration().logging_config(builder.build()).send().await.unwrap();
}

#[test]
fn auto_with_s3_resolves_the_estate_and_reruns_read_nothing() {
    let region = "us-west-1";
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 3000, 3, "s3", &["--seed", "3"]);
    let rt = rt();
    let client = rt.block_on(s3(region));
    rt.block_on(create_bucket(&client, "auto-s3-bucket", region));
    rt.block_on(upload(&client, "auto-s3-bucket", &logs, "bedrock/", |_| true));
    rt.block_on(put_logging(region, json!({"s3": "auto-s3-bucket"})));
    let profile = "arn:aws:bedrock:us-west-2:111122223333:application-inference-profile/k8v2x9q4m1ab";
    set_estate(
        region,
        json!({
            "profiles": [{"inferenceProfileName": "copywriter", "inferenceProfileArn": profile, "inferenceProfileId": "k8v2x9q4m1ab",
                          "models": [{"modelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}],
                          "status": "ACTIVE", "type": "APPLICATION", "createdAt": "2025-10-01T00:00:00Z", "updatedAt": "2025-10-01T00:00:00Z"}],
            "throughputs": [{"provisionedModelName": "fraud", "provisionedModelArn": "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/p3x7n2k9w4qz",
                             "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
                             "desiredModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
                             "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
                             "modelUnits": 2, "desiredModelUnits": 2, "status": "InService", "commitmentDuration": "OneMonth",
                             "creationTime": "2025-10-01T00:00:00Z", "lastModifiedTime": "2025-10-01T00:00:00Z"}],
            "tags": {profile: {"cost-center": "marketing-42"}}
        }),
    );
    let wh = t.warehouse();
    let w = wh.to_str().unwrap();
    let out = cli(&["--warehouse", w, "ingest", "auto", "--region", region, "--json", "-q"]);
    let first = summary(&out);
    assert_eq!(first["ingested"].as_u64().unwrap(), 3000, "{first}\n{}", String::from_utf8_lossy(&out.stderr));
    let resolved = query(
        &wh,
        "SELECT model, inference_profile_tags['cost-center'] AS cc, price_status FROM invocation_costs WHERE routing = 'application-profile' LIMIT 1",
    );
    assert_eq!(resolved[0]["model"], "anthropic.claude-3-haiku-20240307-v1:0", "{resolved:?}");
    assert_eq!(resolved[0]["cc"], "marketing-42");
    let pt = query(&wh, "SELECT DISTINCT model FROM invocation_costs WHERE routing = 'provisioned'");
    assert_eq!(pt, vec![json!({"model": "amazon.titan-text-express-v1"})]);
    assert_eq!(scalar(&wh, "SELECT sum(model_units) FROM provisioned_throughputs"), 2);

    let again = summary(&cli(&["--warehouse", w, "ingest", "auto", "--region", region, "--json", "-q"]));
    assert_eq!(
        (
            again["sources_read"].as_u64().unwrap(),
            again["ingested"].as_u64().unwrap(),
            again["bytes_read"].as_u64().unwrap()
        ),
        (0, 0, 0),
        "{again}"
    );
}

#[test]
fn auto_with_cloudwatch_and_with_nothing_configured() {
    let t = TestDir::new();
    let rt = rt();
    let region = "eu-north-1";
    let group = "bedrock-invocations";
    let logs = rt.block_on(async { aws_sdk_cloudwatchlogs::Client::new(&config(region).await) });
    rt.block_on(put_events(
        &logs,
        group,
        &recent_records("auto-cw", 500, Utc::now() - Duration::hours(2), Duration::hours(1)),
    ));
    rt.block_on(put_logging(region, json!({"cloudwatch": group})));
    let wh = t.warehouse();
    let w = wh.to_str().unwrap();
    let out = cli(&["--warehouse", w, "ingest", "auto", "--region", region, "--json", "-q"]);
    assert_eq!(summary(&out)["ingested"].as_u64().unwrap(), 500);
    assert!(String::from_utf8_lossy(&out.stderr).contains("CloudWatch Logs group bedrock-invocations"));

    let none = cli(&["--warehouse", w, "ingest", "auto", "--region", "ap-south-1", "-q"]);
    assert_eq!(none.status.code(), Some(1), "nothing to ingest is worth a scheduler's attention");
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stderr.contains("not enabled in ap-south-1") && stderr.contains("put-model-invocation-logging-configuration"),
        "{stderr}"
    );

    stub_post("/_stub/deny/ca-central-1", "{}");
    let denied = cli(&["--warehouse", w, "ingest", "auto", "--region", "ca-central-1", "-q"]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("bedrock:GetModelInvocationLoggingConfiguration"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    let missing = cli(&["--warehouse", w, "ingest", "s3://no-such-bucket-here/x", "-q"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("s3://no-such-bucket-here/x"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn fetch_offloaded_fingerprints_large_bodies() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 3000, 1, "s3", &["--seed", "21"]);
    let rt = rt();
    let client = rt.block_on(s3("us-east-1"));
    // The generator's records point at this bucket for their offloaded bodies, as Bedrock's do at the log bucket.
    let bucket = "bedrock-logs-111122223333-us-east-1";
    rt.block_on(create_bucket(&client, bucket, "us-east-1"));
    rt.block_on(upload(&client, bucket, &logs, "", |_| true));
    let url = format!("s3://{bucket}");
    let plain = t.path("plain");
    summary(&cli(&["--warehouse", plain.to_str().unwrap(), "ingest", &url, "--json", "-q"]));
    let offloaded = "SELECT count(*) AS n FROM invocations WHERE input_body_s3_path IS NOT NULL";
    let n = scalar(&plain, offloaded);
    assert!(n > 0, "the sample has offloaded bodies");
    let hashed = "SELECT count(*) FROM invocations WHERE input_body_s3_path IS NOT NULL AND system_hash IS NOT NULL";
    assert_eq!(scalar(&plain, hashed), 0, "without --fetch-offloaded only the logged counts are used");

    let fetched = t.path("fetched");
    let s =
        summary(&cli(&["--warehouse", fetched.to_str().unwrap(), "ingest", &url, "--fetch-offloaded", "--json", "-q"]));
    assert_eq!(s["warnings"].as_array().unwrap().len(), 0, "{s}");
    assert_eq!(scalar(&fetched, hashed), n, "every offloaded body was fetched and fingerprinted");
    // The fetched bodies hash like the inline ones of the same job.
    let same = "SELECT count(DISTINCT system_hash) FROM invocations WHERE principal = 'etl-nightly/summarize-job'";
    assert_eq!(scalar(&fetched, same), 1);
}
