//! The warehouse and the cost views on engines we do not run ourselves (`bedrock-spend ddl`): the DDL's columns
//! against a real Parquet file of the warehouse, the Athena SQL parsed as Trino with the DataFusion views'
//! columns, the price book uploaded to S3 (moto), and the Spark SQL run on a real Spark in local mode over a
//! generated warehouse, its costs compared with DataFusion's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::util::*;

/// The Python that `scripts/test` installs PySpark and sqlglot into. Missing is a failure, not a skip.
fn python() -> String {
    std::env::var("BEDROCK_SPEND_PYTHON")
        .expect("BEDROCK_SPEND_PYTHON is not set: run the suite with scripts/test, which installs PySpark and sqlglot")
}

/// A generated month slice with every kind of model id the generator makes (priced, unpriced, profiles,
/// provisioned, custom, imported), plus [`rule_cases`], ingested in commits of 1000 rows (so days have several
/// files, as a warehouse fed hourly does). Returns the warehouse and the number of records ingested.
fn generated_warehouse(t: &TestDir) -> (PathBuf, u64) {
    let logs = t.path("logs");
    generate(&logs, 4000, 3, "s3", &["--seed", "11", "--start", "2025-11-28"]);
    t.write("logs/rule-cases.json.gz", &gzip(rule_cases().join("\n").as_bytes()));
    let wh = t.warehouse();
    let out = run_cli(&[
        "--warehouse",
        wh.to_str().unwrap(),
        "-q",
        "ingest",
        logs.to_str().unwrap(),
        "--commit-every-rows",
        "1000",
        "--json",
    ]);
    let summary: Value = serde_json::from_str(&ok(out, "ingest")).unwrap();
    let ingested = summary["ingested"].as_u64().unwrap();
    assert_eq!(ingested, 4000 + rule_cases().len() as u64, "{summary}");
    (wh, ingested)
}

/// The live Parquet files of each day, by day folder name (`day=…`), as `file:` URIs, sorted: what the day's
/// manifest must name, worked out from the directory here.
fn live_files(warehouse: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::<String, Vec<String>>::new();
    for file in files_under(&warehouse.canonicalize().unwrap().join("invocations")) {
        let name = file.file_name().unwrap().to_str().unwrap();
        if name.ends_with(".parquet") && !name.starts_with('.') {
            let day = file.parent().unwrap().file_name().unwrap().to_str().unwrap().to_string();
            out.entry(day).or_default().push(format!("file:{}", file.display()));
        }
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

/// What each day's manifest names, by day folder name.
fn manifests(warehouse: &Path) -> BTreeMap<String, Vec<String>> {
    let dir = warehouse.join("_symlink_format_manifest");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("day=") {
            let text = std::fs::read_to_string(path.join("manifest")).unwrap();
            out.insert(name, text.lines().map(String::from).collect());
        }
    }
    out
}

/// Requests the generator does not make, one per rule of the price book that the engine views must restate:
/// total input (input + cache read + cache write) just above and exactly at Sonnet 4.5's 200,000-token
/// threshold, regional and global; above the book's threshold on a model without a long-context row; GovCloud on
/// a model priced only for region `*` (never GovCloud) and on one with GovCloud rows (above the threshold too:
/// the long-context row is `*`, so unpriced); service tiers flex and priority (no rows: unpriced), reserved (no
/// per-token charge), and `resolvedServiceTier` default (Standard, not assumed). Built with [`token_record`], as
/// tests/it/pricing.rs builds its long-context cases.
fn rule_cases() -> Vec<String> {
    let request = |id: &str, model: &str, region: &str, tokens: [i64; 4], extra: Value| {
        token_record("2025-11-29T08:00:00Z", "app/rules", id, model, region, tokens, extra)
    };
    let sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    let (us, global) = (format!("us.{sonnet}"), format!("global.{sonnet}"));
    let haiku = "anthropic.claude-3-haiku-20240307-v1:0";
    let none = Value::Null;
    vec![
        request("lc-above", &us, "us-east-1", [150_000, 40_000, 10_001, 900], none.clone()),
        request("lc-at", &us, "us-east-1", [150_000, 40_000, 10_000, 900], none.clone()),
        request("lc-global-above", &global, "us-west-2", [250_000, 0, 0, 10], none.clone()),
        request("lc-no-row", haiku, "us-east-1", [300_000, 0, 0, 5], none.clone()),
        request(
            "gov-star-only",
            "anthropic.claude-opus-4-20250514-v1:0",
            "us-gov-west-1",
            [1_000, 0, 0, 5],
            none.clone(),
        ),
        request("gov-row", sonnet, "us-gov-west-1", [1_000, 0, 0, 5], none.clone()),
        request("gov-lc", sonnet, "us-gov-west-1", [210_000, 0, 0, 5], none.clone()),
        request("tier-flex", "amazon.nova-lite-v1:0", "us-east-1", [7_000, 0, 0, 333], json!({"serviceTier": "flex"})),
        request("tier-priority", &us, "us-east-1", [7_000, 0, 0, 333], json!({"serviceTier": {"type": "priority"}})),
        request("tier-reserved", &us, "us-east-1", [7_000, 0, 0, 333], json!({"serviceTier": "reserved"})),
        request(
            "tier-default",
            "amazon.nova-lite-v1:0",
            "us-east-1",
            [7_000, 0, 0, 333],
            json!({"serviceTier": "priority", "resolvedServiceTier": "default"}),
        ),
    ]
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn ddl(warehouse: &Path, args: &[&str]) -> String {
    let mut all = vec!["--warehouse", warehouse.to_str().unwrap(), "ddl"];
    all.extend_from_slice(args);
    ok(run_cli(&all), "ddl")
}

/// `(name, type)` of the column lines of the `CREATE ... TABLE (...)` statement.
fn table_columns(script: &str, table: &str) -> Vec<(String, String)> {
    let head = format!("{table} (\n");
    let start = script.find(&head).expect("the table") + head.len();
    let body = &script[start..start + script[start..].find("\n)").expect("the column list ends")];
    body.lines()
        .map(|l| {
            let (name, ty) = l.trim().trim_end_matches(',').split_once(' ').expect("name and type");
            (name.trim_matches('`').to_string(), ty.to_string())
        })
        .collect()
}

/// The DDL type a Parquet column must be declared with, worked out from the file's Arrow schema here rather
/// than through the code under test.
fn expected_type(data_type: &arrow::datatypes::DataType) -> String {
    use arrow::datatypes::DataType::*;
    match data_type {
        Utf8 | Utf8View | LargeUtf8 => "string".into(),
        Int64 => "bigint".into(),
        Boolean => "boolean".into(),
        Timestamp(_, Some(_)) => "timestamp".into(),
        Map(entries, _) => match entries.data_type() {
            Struct(f) => format!("map<{},{}>", expected_type(f[0].data_type()), expected_type(f[1].data_type())),
            other => panic!("map entries {other}"),
        },
        other => panic!("the warehouse holds a column of type {other}, which this test does not know"),
    }
}

#[test]
fn ddl_columns_are_the_columns_of_a_warehouse_file() {
    let t = TestDir::new();
    let (wh, _) = generated_warehouse(&t);
    let file = files_under(&wh.join("invocations"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a Parquet file");
    let day_folder = file.parent().unwrap().file_name().unwrap().to_str().unwrap().to_string();
    let day = day_folder.strip_prefix("day=").expect("a day=... folder");
    assert!(chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok(), "{day} is yyyy-MM-dd, as projected");
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap();
    let expected: Vec<(String, String)> =
        reader.schema().fields().iter().map(|f| (f.name().clone(), expected_type(f.data_type()))).collect();
    assert!(expected.len() > 30 && expected.iter().any(|(n, _)| n == "request_metadata"));

    let athena = ddl(&wh, &["--engine", "athena", "--location", "s3://bucket/warehouse"]);
    assert_eq!(table_columns(&athena, "invocations"), expected, "Athena columns are the file's, in order");
    assert!(athena.contains("PARTITIONED BY (`day` date)"));
    assert!(
        athena.contains("'storage.location.template' = 's3://bucket/warehouse/_symlink_format_manifest/day=${day}/'")
    );

    let spark = ddl(&wh, &["--engine", "spark"]);
    let mut with_day = expected.clone();
    with_day.push(("day".into(), "date".into()));
    assert_eq!(table_columns(&spark, "invocation_files"), with_day, "Spark columns: the file's, then the partition");
    let location = format!("LOCATION 'file:{}/invocations/'", wh.canonicalize().unwrap().display());
    assert!(spark.contains(&location), "the default location is the warehouse: {location}");
}

/// Column names of a DataFusion view, in order.
fn datafusion_columns(warehouse: &Path, view: &str) -> Vec<String> {
    query(warehouse, &format!("DESCRIBE {view}"))
        .iter()
        .map(|r| r["column_name"].as_str().expect("a column name").to_string())
        .collect()
}

#[test]
fn athena_sql_parses_as_trino_and_names_the_datafusion_columns() {
    let t = TestDir::new();
    let (wh, _) = generated_warehouse(&t);
    let script =
        ddl(&wh, &["--engine", "athena", "--database", "bedrock", "--location", "s3://b/wh", "--discount-pct", "10"]);
    let path = t.write("athena.sql", script.as_bytes());
    // Every statement through sqlglot's Athena dialect (Hive DDL, Trino queries); each view's select list names.
    let check = r#"
import json, re, sys, sqlglot
from sqlglot import exp
text = open(sys.argv[1]).read()
views, kinds = {}, []
for statement in [s for s in re.split(r";[ \t]*\n", text) if s.strip()]:
    body = "\n".join(l for l in statement.splitlines() if not l.startswith("--")).strip()
    if not body:
        continue
    tree = sqlglot.parse_one(body, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    kinds.append(tree.key)
    if isinstance(tree, exp.Create) and (tree.args.get("kind") or "").upper() == "VIEW":
        name = tree.this.name
        select = tree.expression
        views[name] = select.named_selects
        # The query part must also be valid Trino on its own.
        sqlglot.parse_one(select.sql(dialect="trino"), read="trino", error_level=sqlglot.ErrorLevel.RAISE)
print(json.dumps({"views": views, "kinds": kinds}))
"#;
    let out = Command::new(python()).arg("-c").arg(check).arg(&path).output().expect("run python");
    let parsed: Value = serde_json::from_str(&ok(out, "sqlglot")).unwrap();
    let kinds: Vec<&str> = parsed["kinds"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(kinds.len() >= 10 && kinds.iter().all(|k| *k == "create"), "{kinds:?}");
    for view in ["usage_costs", "invocation_costs"] {
        let athena: Vec<String> = serde_json::from_value(parsed["views"][view].clone()).expect(view);
        assert_eq!(athena, datafusion_columns(&wh, view), "{view}: the Athena view names DataFusion's columns");
    }
    assert!(script.contains("CAST('0.90000000' AS DECIMAL(9,8)) AS discount_multiplier"), "the discount follows");
}

#[test]
fn upload_prices_puts_the_book_beside_an_s3_warehouse() {
    let endpoint = std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT is not set: run the suite with scripts/test");
    let t = TestDir::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let s3 = rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "static"))
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
        s3.create_bucket().bucket("ddl-prices").send().await.unwrap();
        s3
    });
    let out = Command::new(BIN)
        .args(["--warehouse", t.warehouse().to_str().unwrap(), "ddl", "--engine", "athena"])
        .args(["--location", "s3://ddl-prices/wh", "--upload-prices", "--endpoint-url", &endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    let script = ok(out, "ddl --upload-prices");
    assert!(script.contains("LOCATION 's3://ddl-prices/wh/pricing/bedrock-prices/'"));
    let body = rt.block_on(async {
        let o = s3.get_object().bucket("ddl-prices").key("wh/pricing/bedrock-prices/bedrock-prices.csv").send().await;
        o.expect("the price book was uploaded").body.collect().await.unwrap().into_bytes()
    });
    let bundled = std::fs::read(checkout_path("pricing/bedrock-prices.csv")).unwrap();
    assert_eq!(body.as_ref(), bundled.as_slice(), "the bundled book, byte for byte");
    let pt = rt.block_on(
        s3.head_object()
            .bucket("ddl-prices")
            .key("wh/pricing/provisioned-throughput/provisioned-throughput.csv")
            .send(),
    );
    assert!(pt.is_ok(), "the Provisioned Throughput sheet too");
}

/// Model ids of every form, the inputs of `model_id`'s own tests and a few edge cases.
const MODEL_IDS: &[&str] = &[
    "anthropic.claude-3-haiku-20240307-v1:0",
    "meta.llama2-13b-chat-v1",
    "amazon.titan-text-lite-v1",
    "anthropic.claude-v2:1",
    "ai21.jamba-instruct-v1:0",
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0",
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
    "eu.meta.llama3-2-3b-instruct-v1:0",
    "apac.amazon.nova-lite-v1:0",
    "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
    "global.anthropic.claude-opus-4-6-v1",
    "arn:aws:bedrock:us-east-1:663981805246:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6",
    "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abcdef123456",
    "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.titan-text-express-v1/abcdef123456",
    "arn:aws:bedrock:us-east-1:111122223333:custom-model/abcdef123456",
    "arn:aws:bedrock:us-east-1:111122223333:custom-model-deployment/abcdef123456",
    "arn:aws:bedrock:us-east-1:111122223333:imported-model/abcdef123456",
    "arn:aws:bedrock:us-east-1:111122223333:prompt/PROMPT12345:1",
    "arn:aws:bedrock:us-east-1:111122223333:default-prompt-router/anthropic.claude:1",
    "arn:aws:sagemaker:us-east-1:111122223333:endpoint/my-endpoint",
    "",
    "gibberish",
    " meta.llama3-70b-instruct-v1:0 ",
    "us.foo",
    "zz.acme.model-v1",
    "toolongprefix.anthropic.claude-v2",
    "acme.model with space",
    "amazon.odd/slash",
];

/// A decimal from a JSON cell (text or number); `None` for NULL.
fn money(v: &Value) -> Option<Decimal> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))),
        Value::Number(n) => Some(Decimal::from_str(&n.to_string()).unwrap()),
        other => panic!("not money: {other}"),
    }
}

/// Rows keyed by the given columns.
fn keyed(rows: &[Value], key: &[&str]) -> BTreeMap<String, Value> {
    rows.iter().map(|r| (key.iter().map(|k| r[*k].to_string()).collect::<Vec<_>>().join(" | "), r.clone())).collect()
}

const COST_COLUMNS: [&str; 5] =
    ["cost_usd", "list_cost_usd", "batch_cost_usd", "cache_savings_usd", "uncached_cost_usd"];

/// Sums of the cost columns, to 12 decimals (both engines hold them exactly; 12 decimals fit rust_decimal).
fn cost_sums() -> String {
    COST_COLUMNS.iter().map(|c| format!("CAST(sum({c}) AS DECIMAL(38,12)) AS {c}")).collect::<Vec<_>>().join(", ")
}

/// Compare one row's money columns to $0.000001, NULL only where the other is NULL; returns the largest gap.
fn assert_money_close(what: &str, ours: &Value, spark: &Value) -> Decimal {
    let tolerance = Decimal::new(1, 6);
    let mut largest = Decimal::ZERO;
    for c in COST_COLUMNS {
        match (money(&ours[c]), money(&spark[c])) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                let gap = (a - b).abs();
                assert!(gap <= tolerance, "{what} {c}: DataFusion {a}, Spark {b}");
                largest = largest.max(gap);
            }
            (a, b) => panic!("{what} {c}: DataFusion {a:?}, Spark {b:?} (NULL must stay NULL)"),
        }
    }
    largest
}

/// Put a warehouse in the state an engine listing a day in the middle of a compaction's swap could see, from a real
/// compaction's files: runs `compact`, then copies the old generation back under its names beside the new files
/// and puts the old manifests back. Returns the manifests the compaction wrote (the switch to make next).
fn mid_swap(t: &TestDir, warehouse: &Path) -> BTreeMap<String, Vec<u8>> {
    let before = live_files(warehouse);
    assert_eq!(manifests(warehouse), before, "ingest wrote each day's manifest, naming exactly its files");
    assert!(before.values().any(|files| files.len() > 1), "some day has files to compact: {before:?}");
    let manifest_bytes = || {
        manifests(warehouse)
            .keys()
            .map(|day| {
                (
                    day.clone(),
                    std::fs::read(warehouse.join("_symlink_format_manifest").join(day).join("manifest")).unwrap(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let old_manifests = manifest_bytes();
    let saved = t.path("old-generation");
    std::fs::create_dir_all(&saved).unwrap();
    let old_files: Vec<PathBuf> =
        before.values().flatten().map(|uri| PathBuf::from(uri.strip_prefix("file:").unwrap())).collect();
    for file in &old_files {
        std::fs::copy(file, saved.join(file.file_name().unwrap())).unwrap();
    }
    ok(run_cli(&["--warehouse", warehouse.to_str().unwrap(), "-q", "compact"]), "compact");
    let after = live_files(warehouse);
    assert!(after.values().all(|files| files.len() == 1), "one file a day: {after:?}");
    assert_eq!(manifests(warehouse), after, "the compaction switched every day's manifest to its new file");
    let new_manifests = manifest_bytes();
    for file in &old_files {
        if !file.exists() {
            std::fs::copy(saved.join(file.file_name().unwrap()), file).unwrap();
        }
    }
    for (day, bytes) in &old_manifests {
        std::fs::write(warehouse.join("_symlink_format_manifest").join(day).join("manifest"), bytes).unwrap();
    }
    let listed: usize = live_files(warehouse).values().map(Vec::len).sum();
    let compacted = before.values().filter(|files| files.len() > 1).count();
    assert_eq!(listed, old_files.len() + compacted, "both generations of every compacted day are listed");
    new_manifests
}

#[test]
fn spark_runs_the_ddl_and_prices_like_datafusion() {
    let t = TestDir::new();
    let (wh, ingested) = generated_warehouse(&t);
    let prices = t.path("prices");
    let script = ddl(
        &wh,
        &[
            "--engine",
            "spark",
            "--database",
            "bedrock",
            "--prices-location",
            prices.to_str().unwrap(),
            "--upload-prices",
            "--discount-pct",
            "12.5",
        ],
    );
    assert!(prices.join("bedrock-prices/bedrock-prices.csv").is_file(), "--upload-prices copies to a local folder");
    let ddl_file = t.write("spark.sql", script.as_bytes());

    let sums = cost_sums();
    let rule_ids: Vec<String> = rule_cases()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["requestId"].as_str().unwrap().to_string())
        .collect();
    let ids = MODEL_IDS.iter().map(|id| format!("('{id}')")).chain(["(NULL)".to_string()]).collect::<Vec<_>>();
    let model_refs = bedrock_spend::ddl::sql::model_ref_ctes(bedrock_spend::ddl::Engine::Spark);
    let queries = json!({
        "by_model": format!(
            "SELECT coalesce(model, '(none)') AS model, price_status, count(*) AS requests, \
             sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS null_costs, {sums} \
             FROM bedrock.invocation_costs GROUP BY 1, 2"),
        "total": format!("SELECT count(*) AS requests, {sums} FROM bedrock.invocation_costs"),
        "listed": "SELECT count(*) AS requests FROM bedrock.invocation_files",
        "rule_cases": format!(
            "SELECT request_id, price_tier, tier_assumed, long_context, price_status, priced, {sums} \
             FROM bedrock.invocation_costs WHERE request_id IN ({}) GROUP BY 1, 2, 3, 4, 5, 6",
            rule_ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ")),
        "groups": format!(
            "SELECT CAST(day AS STRING) AS day, region, model_id, service_tier, long_context_floor, has_token_counts, \
             has_output_tokens, model, provider, routing, inference_profile, price_tier, tier_assumed, long_context, \
             price_status, priced, requests, {} FROM bedrock.usage_costs",
            COST_COLUMNS.iter().map(|c| format!("CAST({c} AS DECIMAL(38,12)) AS {c}")).collect::<Vec<_>>().join(", ")),
        "model_ids": format!(
            "WITH grouped AS (SELECT * FROM VALUES {} AS t(model_id)), {model_refs} \
             SELECT model_id, model, provider, routing, inference_profile FROM named",
            ids.join(", ")),
    });
    let queries_file = t.write("queries.json", queries.to_string().as_bytes());
    // After the manifests switch: the totals again, and what a plain listing of the day folders sees.
    let later = json!([{"total": queries["total"], "listed": queries["listed"]}]);
    let later_file = t.write("later.json", later.to_string().as_bytes());

    // Spark first reads the warehouse as an engine could find it in the middle of a compaction's swap: both
    // generations of each compacted day listed, the manifests still naming the old one.
    let switch = mid_swap(&t, &wh);
    let started = std::time::Instant::now();
    let mut child = Command::new(python())
        .arg(checkout_path("scripts/spark-check.py"))
        .arg(&ddl_file)
        .arg(&queries_file)
        .arg(&later_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(t.path("spark.log")).unwrap())
        .spawn()
        .expect("run spark-check.py");
    let mut phases = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut next_phase = |what: &str| -> Value {
        let line = phases.next().and_then(Result::ok).unwrap_or_else(|| {
            panic!(
                "spark-check.py gave no {what}: {}",
                std::fs::read_to_string(t.path("spark.log")).unwrap_or_default()
            )
        });
        serde_json::from_str(&line).unwrap()
    };
    let spark = next_phase("results");
    // The swap point: the compaction's manifests replace the old ones (the old files are still listed).
    for (day, bytes) in &switch {
        std::fs::write(wh.join("_symlink_format_manifest").join(day).join("manifest"), bytes).unwrap();
    }
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"switched\n").unwrap();
    let switched = next_phase("results after the switch");
    assert!(child.wait().unwrap().success(), "{}", std::fs::read_to_string(t.path("spark.log")).unwrap_or_default());
    eprintln!(
        "Spark: {:.1} s in all, {} then {} (seconds)",
        started.elapsed().as_secs_f64(),
        spark["seconds"],
        switched["seconds"]
    );
    let rows = |name: &str| spark["rows"][name].as_array().unwrap_or_else(|| panic!("{name}")).clone();
    // Every record once through the manifests, though a listing of the folders holds some twice (so the
    // comparisons below are made while both generations are there).
    assert_eq!(rows("total")[0]["requests"], json!(ingested), "Spark counts every record once mid-swap");
    assert!(rows("listed")[0]["requests"].as_u64().unwrap() > ingested, "the listing holds both generations");

    // The model-id rule, in SQL, on every form: the same answer as the crate's normalizer.
    for r in rows("model_ids") {
        let id = r["model_id"].as_str();
        let want = id.map(bedrock_spend::model_id::normalize).unwrap_or_default();
        let got = |c: &str| r[c].as_str().map(str::to_string);
        assert_eq!(got("model"), want.model, "model of {id:?}");
        assert_eq!(got("provider"), want.provider, "provider of {id:?}");
        assert_eq!(got("routing").as_deref(), Some(want.routing.as_str()), "routing of {id:?}");
        assert_eq!(got("inference_profile"), want.inference_profile, "profile of {id:?}");
    }
    assert_eq!(rows("model_ids").len(), MODEL_IDS.len() + 1);

    // DataFusion over the same warehouse and discount.
    let pricing = bedrock_spend::pricing::Pricing::parse(
        bedrock_spend::pricing::BUNDLED_PRICES,
        "bundled",
        bedrock_spend::pricing::Discount::parse("12.5").unwrap(),
    )
    .unwrap();
    let ours = |sql: &str| query_with(&wh, &pricing, &sql.replace("bedrock.", "").replace("AS STRING", "AS VARCHAR"));

    let mut largest = Decimal::ZERO;
    let spark_models = keyed(&rows("by_model"), &["model", "price_status"]);
    let our_models = keyed(&ours(queries["by_model"].as_str().unwrap()), &["model", "price_status"]);
    assert_eq!(
        spark_models.keys().collect::<Vec<_>>(),
        our_models.keys().collect::<Vec<_>>(),
        "same models and statuses"
    );
    for (key, mine) in &our_models {
        let theirs = &spark_models[key];
        assert_eq!(mine["requests"], theirs["requests"], "{key}: requests");
        assert_eq!(mine["null_costs"], theirs["null_costs"], "{key}: requests with no cost (unpriced stays NULL)");
        largest = largest.max(assert_money_close(key, mine, theirs));
    }
    // The data is not all alike: some usage priced, some not, with NULL costs.
    let unpriced: i64 = our_models.values().map(|r| r["null_costs"].as_i64().unwrap()).sum();
    assert!(unpriced > 0 && our_models.values().any(|r| r["price_status"] == "priced"), "{our_models:?}");
    assert!(our_models.len() >= 6, "several models: {:?}", our_models.keys());

    let grain =
        ["day", "region", "model_id", "service_tier", "long_context_floor", "has_token_counts", "has_output_tokens"];
    let spark_groups = keyed(&rows("groups"), &grain);
    let our_groups = keyed(&ours(queries["groups"].as_str().unwrap()), &grain);
    assert_eq!(spark_groups.len(), our_groups.len(), "same usage_costs groups");
    for (key, mine) in &our_groups {
        let theirs = spark_groups.get(key).unwrap_or_else(|| panic!("Spark lacks group {key}"));
        for c in [
            "model",
            "provider",
            "routing",
            "inference_profile",
            "price_tier",
            "tier_assumed",
            "long_context",
            "price_status",
            "priced",
            "requests",
        ] {
            assert_eq!(mine[c], theirs[c], "{key}: {c}");
        }
        largest = largest.max(assert_money_close(key, mine, theirs));
    }

    // The rule cases, request by request, and what DataFusion makes of them (worked out from the book's rows:
    // Sonnet 4.5 has `*` long-context rows above 200000 for both routings, Haiku 3 none; Opus 4 only `*` rows;
    // no flex or priority rows), so that each rule is exercised, not just agreed on.
    let spark_cases = keyed(&rows("rule_cases"), &["request_id"]);
    let our_cases = keyed(&ours(queries["rule_cases"].as_str().unwrap()), &["request_id"]);
    assert_eq!(our_cases.len(), rule_ids.len(), "every rule case ingested: {:?}", our_cases.keys());
    let case = |id: &str| &our_cases[&format!("\"{id}\"")];
    for (id, long_context, status) in [
        ("lc-above", true, "priced"),
        ("lc-at", false, "priced"),
        ("lc-global-above", true, "priced"),
        ("lc-no-row", false, "priced"),
        ("gov-star-only", false, "no price"),
        ("gov-row", false, "priced"),
        ("gov-lc", true, "no price"),
        ("tier-flex", false, "no price"),
        ("tier-priority", false, "no price"),
        ("tier-reserved", false, "no per-token charge"),
        ("tier-default", false, "priced"),
    ] {
        assert_eq!(
            (case(id)["long_context"].as_bool(), case(id)["price_status"].as_str()),
            (Some(long_context), Some(status)),
            "{id}"
        );
    }
    assert_eq!(case("tier-default")["tier_assumed"], false, "the record names its tier");
    assert_eq!(case("lc-at")["tier_assumed"], true);
    assert_eq!(case("tier-reserved")["price_tier"], "reserved");
    // List costs from the Sonnet 4.5 rows (USD per million: input, cache read, cache write, output). At the
    // threshold, regional standard 3.30, 0.33, 4.125, 16.50: 150000 x 3.30 + 40000 x 0.33 + 10000 x 4.125
    // + 900 x 16.50 = 0.5643. One token above, regional long context 6.60, 0.66, 8.25, 24.75: 0.99 + 0.0264
    // + 0.08250825 + 0.022275 = 1.12118325. Global above: 250000 x 6.00 + 10 x 22.50 = 1.500225.
    let cost = |id: &str| money(&case(id)["list_cost_usd"]);
    for (id, want) in [("lc-at", "0.5643"), ("lc-above", "1.12118325"), ("lc-global-above", "1.500225")] {
        assert_eq!(cost(id), Some(Decimal::from_str(want).unwrap()), "{id}");
    }
    for (key, mine) in &our_cases {
        let theirs = spark_cases.get(key).unwrap_or_else(|| panic!("Spark lacks {key}"));
        for c in ["price_tier", "tier_assumed", "long_context", "price_status", "priced"] {
            assert_eq!(mine[c], theirs[c], "{key}: {c}");
        }
        largest = largest.max(assert_money_close(key, mine, theirs));
    }

    // Every usage_costs group was compared above; the grand total of invocation_costs too.
    let (mine, theirs) = (&ours(queries["total"].as_str().unwrap())[0], &rows("total")[0]);
    assert_eq!(mine["requests"], theirs["requests"], "total requests");
    assert!(money(&mine["cost_usd"]).is_some_and(|c| c > Decimal::ONE), "real money: {mine}");
    largest = largest.max(assert_money_close("total", mine, theirs));
    assert_eq!(mine["requests"], json!(ingested), "DataFusion counts every record once");
    // After the switch, through the new generation: the same totals.
    let (theirs, listed) = (&switched["rows"]["total"][0], &switched["rows"]["listed"][0]);
    assert_eq!(mine["requests"], theirs["requests"], "total requests after the switch");
    largest = largest.max(assert_money_close("total after the switch", mine, theirs));
    assert!(listed["requests"].as_u64().unwrap() > ingested, "the old files were still listed after the switch");
    eprintln!("largest gap between Spark and DataFusion: ${largest}");
}
