//! Pricing and the SQL layer: exact costs against an independent decimal computation, golden results for
//! every named query, and the read-only guard.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bedrock_spend::pricing::{Discount, Pricing};
use bedrock_spend::query::Params;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::util::*;

const FIXTURE_PRICES: &str = include_str!("../data/prices-fixture.csv");

/// One price row of the fixture, parsed independently of the crate's loader.
#[derive(Debug)]
struct Row {
    model: String,
    region: String,
    routing: String,
    from: Option<String>,
    to: Option<String>,
    prices: [Option<Decimal>; 7],
    /// `standard` for a blank cell.
    tier: String,
    long_context_above: Option<i64>,
}

fn fixture_rows() -> Vec<Row> {
    let mut out = Vec::new();
    for line in FIXTURE_PRICES.lines().filter(|l| !l.starts_with('#') && !l.starts_with("model,")) {
        let f: Vec<&str> = line.split(',').collect();
        let dec = |s: &str| if s.is_empty() { None } else { Some(s.parse::<Decimal>().unwrap()) };
        let opt = |s: &str| if s.is_empty() { None } else { Some(s.to_string()) };
        out.push(Row {
            model: f[0].into(),
            region: f[1].into(),
            routing: f[2].into(),
            from: opt(f[3]),
            to: opt(f[4]),
            prices: [dec(f[5]), dec(f[6]), dec(f[7]), dec(f[8]), dec(f[9]), dec(f[10]), dec(f[11])],
            tier: f.get(14).filter(|t| !t.is_empty()).unwrap_or(&"standard").to_string(),
            long_context_above: f.get(15).filter(|t| !t.is_empty()).map(|n| n.parse().unwrap()),
        });
    }
    out
}

/// Independent model-id reading: (base model, routing class, per-token charge?).
fn classify(model_id: &str) -> (Option<String>, &'static str, bool) {
    let id = model_id.rsplit_once("inference-profile/").map(|(_, r)| r).unwrap_or(model_id);
    let id = id.rsplit_once("foundation-model/").map(|(_, r)| r).unwrap_or(id);
    for no_charge in ["provisioned-model/", "custom-model/", "imported-model/"] {
        if model_id.contains(no_charge) {
            return (None, "regional", false);
        }
    }
    if model_id.contains("application-inference-profile/") {
        return (None, "regional", true);
    }
    for geo in ["us.", "eu.", "apac.", "global."] {
        if let Some(rest) = id.strip_prefix(geo) {
            return (Some(rest.to_string()), if geo == "global." { "global" } else { "regional" }, true);
        }
    }
    (Some(id.to_string()), "regional", true)
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// Expected cost of every record, by request id (None = unpriced), computed from the raw JSON.
fn expected_costs(logs: &Path, multiplier: Decimal) -> HashMap<String, Option<Decimal>> {
    let rows = fixture_rows();
    let mut out = HashMap::new();
    for path in files_under(logs) {
        let name = path.to_string_lossy();
        if !name.ends_with(".json.gz") || name.contains("/data/") {
            continue;
        }
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_string(&mut text).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let r: Value = serde_json::from_str(line).unwrap();
            let id = r["requestId"].as_str().unwrap().to_string();
            let day = &r["timestamp"].as_str().unwrap()[..10];
            let region = r["region"].as_str().unwrap();
            let (model, class, charged) = classify(r["modelId"].as_str().unwrap());
            let mut input = int(&r["input"]["inputTokenCount"]);
            let mut output = int(&r["output"]["outputTokenCount"]);
            let read = int(&r["input"]["cacheReadInputTokenCount"]);
            let write = int(&r["input"]["cacheWriteInputTokenCount"]);
            if input.is_none() && output.is_none() {
                // Stream records without top-level counts: Bedrock's metrics chunk.
                if let Some(chunks) = r["output"]["outputBodyJson"].as_array() {
                    for c in chunks {
                        let m = &c["amazon-bedrock-invocationMetrics"];
                        input = int(&m["inputTokenCount"]).or(input);
                        output = int(&m["outputTokenCount"]).or(output);
                    }
                }
            }
            let w1h: i64 = r["output"]["outputBodyJson"]["usage"]["cacheDetails"]
                .as_array()
                .map(|d| d.iter().filter(|x| x["ttl"] == "1h").filter_map(|x| x["inputTokens"].as_i64()).sum())
                .unwrap_or(0);
            // The tier the record names (the resolved one first); none: Standard assumed.
            let tier_of = |v: &Value| v.as_str().or_else(|| v["type"].as_str()).map(str::to_ascii_lowercase);
            let tier = match tier_of(&r["resolvedServiceTier"]).or_else(|| tier_of(&r["serviceTier"])).as_deref() {
                None | Some("default") | Some("standard") => "standard".to_string(),
                Some(other) => other.to_string(),
            };
            let reserved = tier == "reserved";
            if (!charged && model.is_none() && !r["modelId"].as_str().unwrap().contains("application")) || reserved {
                out.insert(id, Some(Decimal::ZERO));
                continue;
            }
            let Some(model) = model else {
                out.insert(id, None);
                continue;
            };
            if input.is_none() && output.is_none() && read.is_none() && write.is_none() {
                out.insert(id, None);
                continue;
            }
            let in_period = |row: &&Row| {
                row.model == model
                    && row.from.as_deref().is_none_or(|f| day >= f)
                    && row.to.as_deref().is_none_or(|t| day < t)
            };
            // Long context: the whole request is priced at the model's largest threshold its total input exceeds
            // (over all of the model's rows in force); no row at that threshold for the request's scope: unpriced.
            let total_input = input.unwrap_or(0) + read.unwrap_or(0) + write.unwrap_or(0);
            let candidates: Vec<&Row> = rows
                .iter()
                .filter(in_period)
                .filter(|row| row.long_context_above.is_none_or(|n| total_input > n))
                .collect();
            let band = candidates.iter().filter_map(|row| row.long_context_above).max();
            let candidates: Vec<&Row> =
                candidates.into_iter().filter(|row| row.long_context_above == band && row.tier == tier).collect();
            // Region `*` is every commercial Region: never GovCloud.
            let ladder: &[(&str, &str)] = if region.starts_with("us-gov-") {
                &[(region, class), (region, "*")]
            } else {
                &[(region, class), (region, "*"), ("*", class), ("*", "*")]
            };
            let pick = ladder
                .iter()
                .find_map(|(rg, rt)| candidates.iter().find(|row| row.region == *rg && row.routing == *rt));
            let Some(row) = pick else {
                out.insert(id, None);
                continue;
            };
            let [p_in, p_out, p_cr, p_cw, p_cw1h, _, _] = row.prices;
            let p_in = p_in.unwrap();
            // A row with no output price prices requests without output tokens; output tokens make it unpriced.
            let p_out = match (p_out, output.unwrap_or(0)) {
                (Some(p), _) => p,
                (None, 0) => Decimal::ZERO,
                (None, _) => {
                    out.insert(id, None);
                    continue;
                }
            };
            let million = Decimal::from(1_000_000);
            let d = |n: Option<i64>| Decimal::from(n.unwrap_or(0));
            let write_total = write.unwrap_or(0);
            let cost = (d(input) * p_in
                + d(read) * p_cr.unwrap_or(p_in)
                + Decimal::from(write_total - w1h) * p_cw.unwrap_or(p_in)
                + Decimal::from(w1h) * p_cw1h.unwrap_or(p_in)
                + d(output) * p_out)
                / million;
            out.insert(id, Some(cost * multiplier));
        }
    }
    out
}

/// Costs from `invocation_costs` match an independent decimal computation over the raw records to $0.000001,
/// per request and in total.
#[test]
fn costs_match_an_independent_decimal_computation() {
    let t = TestDir::new();
    let logs = t.path("logs");
    generate(&logs, 6000, 30, "s3", &["--seed", "11"]);
    // An embedding model, whose price row has no output price: no output tokens (zero or not logged) is priced,
    // output tokens make the request unpriced ("no output price"), never priced at NULL.
    let embed = |id: &str, input: i64, output: Option<i64>| {
        let mut r = serde_json::json!({
            "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2025-11-10T10:00:00Z",
            "accountId": "111122223333", "identity": {"arn": "arn:aws:sts::111122223333:assumed-role/rag/indexer"},
            "region": "us-east-1", "requestId": id, "operation": "InvokeModel", "modelId": "amazon.titan-embed-text-v2:0",
            "input": {"inputContentType": "application/json", "inputTokenCount": input},
            "output": {"outputContentType": "application/json"},
        });
        if let Some(o) = output {
            r["output"]["outputTokenCount"] = o.into();
        }
        r.to_string()
    };
    let lines = [embed("embed-zero", 120, Some(0)), embed("embed-none", 80, None), embed("embed-out", 40, Some(7))];
    t.write("logs/embeddings.json.gz", &gzip(lines.join("\n").as_bytes()));
    // Long context and service tiers: requests just below, at and above Sonnet 4's 200000-token threshold (total
    // input = input + cache read + cache write), a global request above it (the fixture has no global long-context
    // row: unpriced), a model without a threshold, GovCloud (region `*` does not cover it), and named tiers.
    let request = |id: &str, model: &str, region: &str, tokens: [i64; 4], extra: Value| {
        token_record("2025-11-12T08:00:00Z", "app/long", id, model, region, tokens, extra)
    };
    let (sonnet_us, sonnet_global) =
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "global.anthropic.claude-sonnet-4-20250514-v1:0");
    let none = Value::Null;
    let lines = [
        request("lc-below", sonnet_us, "us-east-1", [150_000, 49_999, 0, 900], none.clone()),
        request("lc-at", sonnet_us, "us-east-1", [100_000, 50_000, 50_000, 900], none.clone()),
        request("lc-above", sonnet_us, "us-east-1", [100_000, 50_000, 50_001, 900], none.clone()),
        request("lc-above-input-only", sonnet_us, "eu-west-1", [420_000, 0, 0, 1_234], none.clone()),
        request("lc-global-below", sonnet_global, "us-east-1", [199_999, 0, 0, 10], none.clone()),
        request("lc-global-above", sonnet_global, "us-east-1", [150_000, 60_000, 0, 10], none.clone()),
        request(
            "lc-no-threshold",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "us-east-1",
            [300_000, 0, 0, 5],
            none.clone(),
        ),
        request("govcloud", "anthropic.claude-3-haiku-20240307-v1:0", "us-gov-west-1", [1_000, 0, 0, 5], none.clone()),
        request(
            "tier-priority",
            "amazon.nova-lite-v1:0",
            "us-east-1",
            [7_000, 100, 0, 333],
            json!({"serviceTier": "priority"}),
        ),
        request(
            "tier-flex",
            "amazon.nova-lite-v1:0",
            "us-east-1",
            [7_000, 0, 0, 333],
            json!({"serviceTier": {"type": "flex"}}),
        ),
        request(
            "tier-default",
            "amazon.nova-lite-v1:0",
            "us-east-1",
            [7_000, 0, 0, 333],
            json!({"serviceTier": "priority", "resolvedServiceTier": "default"}),
        ),
        request(
            "tier-reserved",
            "amazon.nova-lite-v1:0",
            "us-east-1",
            [7_000, 0, 0, 333],
            json!({"serviceTier": "reserved"}),
        ),
    ];
    t.write("logs/long-context.json.gz", &gzip(lines.join("\n").as_bytes()));
    let wh = t.warehouse();
    ingest_paths(&wh, std::slice::from_ref(&logs));
    let prices = Pricing::parse(FIXTURE_PRICES, "fixture", Discount::parse("12.5").unwrap()).unwrap();
    let multiplier: Decimal = "0.875".parse().unwrap();
    let expected = expected_costs(&logs, multiplier);
    assert_eq!(expected.len(), 6015);
    assert!(expected["embed-zero"].is_some() && expected["embed-none"].is_some() && expected["embed-out"].is_none());
    // The long-context cases, worked out by hand from the fixture (tokens x USD per million / 10^6, list price):
    // at the threshold, standard regional rates: 100000 x 3.00 + 50000 x 0.30 + 50000 x 3.75 + 900 x 15.00
    // = 0.3 + 0.015 + 0.1875 + 0.0135 = 0.516; one token above, the long-context row for every class:
    // 100000 x 6.00 + 50000 x 0.60 + 50001 x 7.50 + 900 x 22.50 = 0.6 + 0.03 + 0.3750075 + 0.02025 = 1.0252575.
    assert_eq!(expected["lc-at"], Some("0.516".parse::<Decimal>().unwrap() * multiplier));
    assert_eq!(expected["lc-above"], Some("1.0252575".parse::<Decimal>().unwrap() * multiplier));
    for unpriced in ["lc-global-above", "govcloud", "tier-flex"] {
        assert_eq!(expected[unpriced], None, "{unpriced} has no price");
    }
    assert_eq!(expected["tier-reserved"], Some(Decimal::ZERO), "reserved capacity has no per-token charge");

    let rows = query_with(
        &wh,
        &prices,
        "SELECT request_id, CAST(cost_usd AS VARCHAR) AS cost, price_status FROM invocation_costs",
    );
    assert_eq!(rows.len(), 6015);
    let tolerance: Decimal = "0.000001".parse().unwrap();
    let (mut got_total, mut want_total) = (Decimal::ZERO, Decimal::ZERO);
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let id = row["request_id"].as_str().unwrap();
        let got: Option<Decimal> = row["cost"].as_str().map(|c| c.parse().unwrap());
        let want = expected[id];
        *statuses.entry(row["price_status"].as_str().unwrap().to_string()).or_default() += 1;
        match (got, want) {
            (Some(g), Some(w)) => {
                assert!((g - w).abs() <= tolerance, "{id}: view {g} vs expected {w} ({})", row["price_status"]);
                got_total += g;
                want_total += w;
            }
            (None, None) => {}
            (g, w) => panic!("{id}: view {g:?} vs expected {w:?} ({})", row["price_status"]),
        }
    }
    assert!((got_total - want_total).abs() <= tolerance, "total {got_total} vs {want_total}");
    // The run covered what it must: priced, unpriced, no-charge and no-count rows all occur.
    for status in
        ["priced", "no price", "unresolved model", "no per-token charge", "no token counts", "no output price"]
    {
        assert!(statuses.get(status).copied().unwrap_or(0) > 0, "no {status:?} rows: {statuses:?}");
    }
    // The mid-period change and the Region override are both exercised.
    let by_row = query_with(
        &wh,
        &prices,
        "SELECT price_row, count(*) AS n FROM invocation_costs WHERE price_status = 'priced' GROUP BY 1 ORDER BY 1",
    );
    let used: Vec<i64> = by_row.iter().map(|r| r["price_row"].as_i64().unwrap()).collect();
    // Lines in the fixture: 4/5 Sonnet v2 before/after the change, 6 Sonnet 4 global (global requests never take 7),
    // 9 the us-east-1 Nova override (not 8, its `*` row), 11 a routing-specific row.
    for line in [4, 5, 6, 9, 11] {
        assert!(used.contains(&line), "price row on line {line} never matched: {used:?}");
    }
    assert!(!used.contains(&8), "the * nova row loses to the us-east-1 override");
    let global_rows = query_with(
        &wh,
        &prices,
        "SELECT DISTINCT price_row FROM invocation_costs WHERE routing = 'global' AND price_status = 'priced'",
    );
    assert!(!global_rows.is_empty() && global_rows.iter().all(|r| r["price_row"] != 7), "global never takes line 7");
    assert!(
        used.contains(&17) && used.contains(&18),
        "the long-context and priority rows price their requests: {used:?}"
    );
    let flags = query_with(
        &wh,
        &prices,
        "SELECT request_id, long_context, tier_assumed, price_tier, price_status, price_row FROM invocation_costs \
         WHERE request_id LIKE 'lc-%' OR request_id LIKE 'tier-%' OR request_id = 'govcloud' ORDER BY request_id",
    );
    let flag = |id: &str| flags.iter().find(|r| r["request_id"] == id).unwrap_or_else(|| panic!("{id} in {flags:?}"));
    for (id, long_context) in [("lc-below", false), ("lc-at", false), ("lc-above", true), ("lc-global-above", true)] {
        assert_eq!(flag(id)["long_context"], json!(long_context), "{id}");
    }
    assert_eq!(flag("lc-above")["price_row"], json!(17));
    assert_eq!(flag("lc-above-input-only")["price_row"], json!(17), "Region * prices eu-west-1 too");
    assert_eq!(flag("lc-global-above")["price_status"], json!("no price"));
    assert_eq!(flag("lc-no-threshold")["price_row"], json!(10), "a model without a threshold keeps its rates");
    assert_eq!(flag("govcloud")["price_status"], json!("no price"), "region * is not GovCloud");
    assert_eq!(flag("tier-priority")["price_row"], json!(18), "the tier's row, even over a Region-specific row");
    assert_eq!(flag("tier-default")["price_row"], json!(9), "default is Standard");
    assert_eq!(flag("tier-flex")["price_status"], json!("no price"), "no flex row: unknown, not Standard");
    assert_eq!(flag("tier-reserved")["price_status"], json!("no per-token charge"));
    assert_eq!(
        (flag("lc-at")["tier_assumed"].clone(), flag("tier-default")["tier_assumed"].clone()),
        (json!(true), json!(false))
    );
    // Money sums exactly: the SQL total equals the sum of the per-request costs.
    let total = query_with(&wh, &prices, "SELECT CAST(sum(cost_usd) AS VARCHAR) AS t FROM invocation_costs");
    let sql_total: Decimal = total[0]["t"].as_str().unwrap().parse().unwrap();
    assert!((sql_total - want_total).abs() <= tolerance);

    // The summary view prices groups' token sums, not single requests: its total matches the independent
    // computation too, its groups hold every request with the same status as the requests themselves, and each
    // day's group costs equal that day's request costs exactly (linear decimals, no rounding per request).
    let groups = query_with(
        &wh,
        &prices,
        "SELECT price_status, CAST(sum(requests) AS BIGINT) AS n, CAST(sum(cost_usd) AS VARCHAR) AS c, \
         CAST(sum(cache_savings_usd) AS VARCHAR) AS s FROM usage_costs GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(groups.len(), statuses.len(), "statuses of groups {groups:?} vs of requests {statuses:?}");
    let mut usage_total = Decimal::ZERO;
    for g in &groups {
        let status = g["price_status"].as_str().unwrap();
        assert_eq!(g["n"].as_u64().unwrap() as usize, statuses[status], "requests with status {status}");
        if let Some(c) = g["c"].as_str() {
            usage_total += c.parse::<Decimal>().unwrap();
        }
    }
    assert!((usage_total - want_total).abs() <= tolerance, "usage_costs total {usage_total} vs {want_total}");
    let disagreeing_days = query_with(
        &wh,
        &prices,
        "WITH per_request AS (SELECT day, sum(cost_usd) AS c, sum(cache_savings_usd) AS s, sum(batch_cost_usd) AS b \
           FROM invocation_costs GROUP BY day), \
         per_group AS (SELECT day, sum(cost_usd) AS c, sum(cache_savings_usd) AS s, sum(batch_cost_usd) AS b \
           FROM usage_costs GROUP BY day) \
         SELECT r.day FROM per_request r FULL JOIN per_group g ON r.day = g.day \
         WHERE (r.c IS DISTINCT FROM g.c) OR (r.s IS DISTINCT FROM g.s) OR (r.b IS DISTINCT FROM g.b)",
    );
    assert!(disagreeing_days.is_empty(), "days where groups and requests disagree: {disagreeing_days:?}");
}

fn sample_warehouse(t: &TestDir) -> PathBuf {
    let wh = t.warehouse();
    let s = ingest_paths(&wh, &[checkout_path("sample-logs")]);
    assert_eq!(s.rejected, 0);
    wh
}

fn golden_params(sql: &str) -> Params {
    Params::from_pairs(&golden_pairs(sql))
}

fn golden_pairs(sql: &str) -> Vec<(String, String)> {
    let values = [
        ("since", "2025-11-01"),
        ("until", "2026-01-01"),
        ("month", "2025-12"),
        ("key", "team"),
        ("min_requests", "5"),
        ("min_prefix_tokens", "1000"),
        ("model", "amazon.titan-text-express-v1"),
        ("table", "usage_costs"),
    ];
    bedrock_spend::query::catalog::parameters(sql)
        .into_iter()
        .map(|p| {
            let v = values.iter().find(|(k, _)| *k == p).unwrap_or_else(|| panic!("no golden value for ${p}")).1;
            (p, v.to_string())
        })
        .collect()
}

/// Every named query on the sample-logs warehouse matches its checked-in result
/// (`UPDATE_GOLDEN=1 scripts/test` rewrites them after a deliberate change).
#[test]
fn named_queries_match_golden_results() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let golden_dir = checkout_path("tests/data/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for q in bedrock_spend::query::catalog::QUERIES {
        let params = golden_params(q.sql);
        // Batch candidates split by `team`, as `[recommend] batch_group_by_metadata = ["team"]` would.
        let batches = collect_grouped(&wh, &Pricing::bundled().unwrap(), q.name, Some(&params), &["team"]);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert!(rows > 0, "{} returns rows on the sample data", q.name);
        let mut csv = Vec::new();
        bedrock_spend::cli::output::print_batches(&mut csv, &batches, bedrock_spend::cli::output::PrintFormat::Csv)
            .unwrap();
        let path = golden_dir.join(format!("{}.csv", q.name));
        if update {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&path, &csv).unwrap();
        } else {
            let want = std::fs::read(&path).unwrap_or_default();
            if want != csv {
                mismatches.push(format!(
                    "{}:\n--- golden\n{}\n--- got\n{}",
                    q.name,
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&csv)
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A session holding `usage_costs` and `request_groups` in memory for a period (as `recommend` and `report` do)
/// answers every named query about the data exactly as one that reads the views: the memo is built day by day and declares its
/// columns nullable, and a scan is served from it only when its day filters fall inside the period held. Three
/// sessions: none held; November and December held (the golden period: every period-bounded scan is served from
/// memory); December only (scans of November and December go to the view, `$month` scans to memory).
#[test]
fn periods_held_in_memory_answer_as_the_views_do() {
    use bedrock_spend::query::{CachedView, Period, Session, SessionOptions};
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let pricing = Pricing::bundled().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let keys = vec!["team".to_string()];
        let open = |held: Option<Period>| {
            let (wh, pricing, keys) = (&wh, &pricing, &keys);
            async move {
                let session = Session::open(wh, pricing, SessionOptions::default()).await.unwrap();
                session.group_by_metadata(keys).await.unwrap();
                if let Some(period) = held {
                    session.cache_period(CachedView::UsageCosts, &period).await.unwrap();
                    session.cache_period(CachedView::RequestGroups, &period).await.unwrap();
                }
                session
            }
        };
        let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        let plain = open(None).await;
        let both = open(Some(Period::new(day("2025-11-01"), day("2026-01-01")).unwrap())).await;
        let december = open(Some(Period::parse_month("2025-12").unwrap())).await;
        // The rows are in place (a held view declares every column nullable), so what is compared below is memory
        // against the view, not the view against itself.
        for (session, held) in [(&plain, "NO"), (&both, "YES"), (&december, "YES")] {
            for view in ["usage_costs", "request_groups"] {
                let sql = format!(
                    "SELECT is_nullable FROM information_schema.columns WHERE table_name = '{view}' AND column_name = 'day'"
                );
                let statement = session.statement(&sql, &Params::new(), Default::default()).await.unwrap();
                let mut stream = statement.stream().await.unwrap();
                let batch = stream.next().await.unwrap().unwrap();
                let column = arrow::util::display::ArrayFormatter::try_new(batch.column(0).as_ref(), &Default::default())
                    .unwrap()
                    .value(0)
                    .to_string();
                assert_eq!(column, held, "{view} held in memory?");
            }
        }
        // The catalog's own queries describe the tables, not the data: a view held in memory reads as every column
        // nullable there (the memo's declared schema; see `PeriodCached::new`), and nothing that holds a period
        // (recommend, report) asks the catalog.
        let catalog = ["table_columns", "warehouse_tables"];
        for q in bedrock_spend::query::catalog::QUERIES.iter().filter(|q| !catalog.contains(&q.name)) {
            let params = golden_params(q.sql);
            let mut answers = Vec::new();
            for session in [&plain, &both, &december] {
                let mut stream = session.named(q.name, &params).await.unwrap().stream().await.unwrap();
                let mut batches = Vec::new();
                while let Some(batch) = stream.next().await {
                    batches.push(batch.unwrap_or_else(|e| panic!("{}: {e:#}", q.name)));
                }
                let mut csv = Vec::new();
                bedrock_spend::cli::output::print_batches(
                    &mut csv,
                    &batches,
                    bedrock_spend::cli::output::PrintFormat::Csv,
                )
                .unwrap();
                answers.push(String::from_utf8(csv).unwrap());
            }
            assert!(answers[0].lines().count() > 1, "{} returns rows", q.name);
            assert_eq!(answers[1], answers[0], "{}: November and December held", q.name);
            assert_eq!(answers[2], answers[0], "{}: December held", q.name);
        }
    });
}

/// Spot checks that tie the golden numbers to the data, so a wrong golden file cannot hide a wrong query.
#[test]
fn golden_numbers_agree_with_each_other() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let month = query(
        &wh,
        "SELECT count(*) AS n, CAST(sum(cost_usd) AS DECIMAL(38, 6)) AS c FROM invocation_costs WHERE day >= DATE '2025-12-01' AND day < DATE '2026-01-01'",
    );
    let golden = std::fs::read_to_string(checkout_path("tests/data/golden/month_summary.csv")).unwrap();
    let fields: Vec<&str> = golden.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(fields[1], month[0]["n"].to_string(), "requests");
    assert_eq!(fields[7].parse::<f64>().unwrap(), month[0]["c"].as_f64().unwrap(), "cost");
    let by_day = std::fs::read_to_string(checkout_path("tests/data/golden/spend_by_day.csv")).unwrap();
    let days = by_day.lines().skip(1).count();
    assert_eq!(days, 61, "Nov and Dec 2025");
}

/// Every named query plans and runs on an empty warehouse.
#[test]
fn named_queries_run_on_an_empty_warehouse() {
    let t = TestDir::new();
    let wh = t.warehouse();
    bedrock_spend::store::warehouse::Warehouse::open_for_write(&wh).unwrap();
    for q in bedrock_spend::query::catalog::QUERIES {
        collect(&wh, &Pricing::bundled().unwrap(), q.name, Some(&golden_params(q.sql)));
    }
}

#[test]
fn sql_is_read_only_unless_allowed() {
    let t = TestDir::new();
    let wh = t.warehouse();
    bedrock_spend::store::warehouse::Warehouse::open_for_write(&wh).unwrap();
    let out_file = t.path("copy.parquet");
    for sql in [
        format!("COPY (SELECT 1 AS x) TO '{}' STORED AS PARQUET", out_file.display()),
        "CREATE EXTERNAL TABLE other STORED AS PARQUET LOCATION '/tmp/'".to_string(),
        "INSERT INTO prices SELECT * FROM prices".to_string(),
    ] {
        let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "sql", &sql]);
        assert_eq!(out.status.code(), Some(2), "{sql}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--allow-write"), "{sql}: {stderr}");
    }
    assert!(!out_file.exists());
    let copy = format!("COPY (SELECT 1 AS x) TO '{}' STORED AS PARQUET", out_file.display());
    let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "sql", "--allow-write", &copy]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out_file.exists());
}

#[test]
fn query_and_pricing_commands() {
    let t = TestDir::new();
    let wh = sample_warehouse(&t);
    let w = wh.to_str().unwrap();
    let list = run_cli(&["--warehouse", w, "query", "--list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    for q in bedrock_spend::query::catalog::QUERIES {
        assert!(text.contains(q.name), "{} listed", q.name);
    }
    // JSON: one array of objects, money as numbers; the unpriced note goes to stderr.
    let out = run_cli(&["--warehouse", w, "query", "month_summary", "--param", "month=2025-12", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows[0]["cost_usd"].is_number(), "{rows}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("have no price"), "unpriced usage is announced");
    // A Parquet export holds plain strings (the session reads text as views, which older readers do not know).
    let exported = t.path("export.parquet");
    let sql = "SELECT request_id, model_id, model, cost_usd FROM invocation_costs";
    let out = run_cli(&["--warehouse", w, "-q", "sql", sql, "--format", "parquet", "-o", exported.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&exported).unwrap())
            .unwrap();
    let schema = reader.schema().clone();
    for name in ["request_id", "model_id", "model"] {
        assert_eq!(schema.field_with_name(name).unwrap().data_type(), &arrow::datatypes::DataType::Utf8, "{name}");
    }
    let exported_rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(exported_rows as i64, scalar(&wh, "SELECT count(*) FROM invocations"));
    // `bedrock_model` in SQL is ingest's normalizer: it gives every stored row's model columns back.
    let disagreeing = "SELECT count(*) FROM invocations WHERE (bedrock_model(model_id)['model'] IS DISTINCT FROM model) \
        OR (bedrock_model(model_id)['provider'] IS DISTINCT FROM provider) \
        OR (bedrock_model(model_id)['routing'] IS DISTINCT FROM routing) \
        OR (bedrock_model(model_id)['inference_profile'] IS DISTINCT FROM inference_profile)";
    assert_eq!(scalar(&wh, disagreeing), 0);
    let kinds = "SELECT count(DISTINCT bedrock_model(model_id)['routing']) FROM invocations";
    assert!(scalar(&wh, kinds) >= 3, "the sample spans several routing classes, so the check above is not vacuous");
    // A missing parameter is a clear error.
    let out = run_cli(&["--warehouse", w, "query", "spend_by_day"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--param since="));
    // A discount applies to cost but not list cost.
    let out = run_cli(&[
        "--warehouse",
        w,
        "--discount-pct",
        "10",
        "query",
        "month_summary",
        "--param",
        "month=2025-12",
        "--format",
        "json",
    ]);
    let discounted: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list_cost = discounted[0]["list_cost_usd"].as_f64().unwrap();
    let cost = discounted[0]["cost_usd"].as_f64().unwrap();
    assert!((cost - list_cost * 0.9).abs() < 1e-6, "{cost} vs {list_cost}");
    // pricing check exits 1 when usage is unpriced; with a book covering nothing, everything is unpriced.
    let check = run_cli(&["--warehouse", w, "pricing", "check", "--format", "csv"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("mistral.mistral-large-2407-v1:0"));
    let empty_book = t.write("empty.csv", b"model,region,routing,effective_from,effective_to,input_per_mtok,output_per_mtok,cache_read_per_mtok,cache_write_per_mtok,cache_write_1h_per_mtok,batch_input_per_mtok,batch_output_per_mtok,source,as_of\n");
    let out = run_cli(&[
        "--warehouse",
        w,
        "--price-book",
        empty_book.to_str().unwrap(),
        "query",
        "month_summary",
        "--param",
        "month=2025-12",
        "--format",
        "json",
    ]);
    let none: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        none[0]["priced_requests"].as_i64().unwrap(),
        none[0]["requests"].as_i64().unwrap() - none[0]["unpriced_requests"].as_i64().unwrap()
    );
    assert!(none[0]["unpriced_requests"].as_i64().unwrap() > 1000, "{none}");
    // pricing show accepts any modelId form.
    let show = run_cli(&[
        "--warehouse",
        w,
        "pricing",
        "show",
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("2025-12-01") && text.contains("6.0000000000"), "{text}");
    // A bad price book is a fatal error naming the line.
    let bad = t.write("bad.csv", b"model,region,routing,effective_from,effective_to,input_per_mtok,output_per_mtok,cache_read_per_mtok,cache_write_per_mtok,cache_write_1h_per_mtok,batch_input_per_mtok,batch_output_per_mtok,source,as_of\nm,*,*,,,x,1,,,,,,s,d\n");
    let out = run_cli(&["--warehouse", w, "--price-book", bad.to_str().unwrap(), "pricing", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

/// The interactive shell on a real pseudo-terminal (`script`): a multi-line statement, `\d`, `\q`.
#[test]
fn interactive_shell_runs_statements() {
    let t = TestDir::new();
    bedrock_spend::store::warehouse::Warehouse::open_for_write(&t.warehouse()).unwrap();
    let mut shell = PtyShell::start(&t.warehouse(), &t.path("home"));
    shell.wait_for("bedrock-spend> ", 1);
    shell.send(b"SELECT 40 + 2\r");
    shell.wait_for("-> ", 1);
    shell.send(b"  AS answer;\r");
    shell.wait_for("│     42 │", 1);
    shell.wait_for("bedrock-spend> ", 2);
    shell.send(b"\\d\r");
    shell.wait_for("provisioned_prices", 1);
    shell.wait_for("bedrock-spend> ", 3);
    shell.send(b"\\q\r");
    let (status, text) = shell.finish();
    assert!(status.success(), "the shell ended with {status}: {text}");
    assert!(text.contains("invocation_costs"), "{text}");
}

/// The five real log records: every one with token counts is priced by the bundled book, at costs worked out here
/// from the reference's prices; `pricing check` lists only the guardrail block (no token counts).
/// And warehouses written before `service_tier` existed stay readable and compactable: the files are rewritten
/// without the column, queried, then merged with a new file that has it.
#[test]
fn real_samples_are_priced_and_old_warehouse_files_stay_readable() {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let t = TestDir::new();
    let wh = t.warehouse();
    let s = ingest_paths(&wh, &[checkout_path("tests/data/real")]);
    assert_eq!((s.ingested, s.rejected), (5, 0));
    // Files as a version before `service_tier` wrote them.
    let mut rewritten = 0;
    for path in
        files_under(&wh.join("invocations")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet"))
    {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap().build().unwrap();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        let keep: Vec<usize> =
            (0..batches[0].num_columns()).filter(|&i| batches[0].schema().field(i).name() != "service_tier").collect();
        assert_eq!(keep.len() + 1, batches[0].num_columns(), "{} has the column", path.display());
        let old_schema = std::sync::Arc::new(batches[0].schema().project(&keep).unwrap());
        let mut writer = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), old_schema, None).unwrap();
        for b in &batches {
            writer.write(&b.project(&keep).unwrap()).unwrap();
        }
        writer.close().unwrap();
        rewritten += 1;
    }
    assert!(rewritten >= 3, "one file per day");

    let costs = query(
        &wh,
        "SELECT request_id, service_tier, tier_assumed, price_status, CAST(list_cost_usd AS VARCHAR) AS cost \
         FROM invocation_costs ORDER BY request_id",
    );
    assert_eq!(costs.len(), 5);
    // USD per million tokens from the reference: Sonnet 4 3.00 / 15.00 (one price in every commercial Region);
    // Titan Text Lite 0.30 / 0.40 before the 2024 cut; Llama 2 Chat 13B 0.75 / 1.00 (us-west-2 = us-east-1).
    let million = Decimal::from(1_000_000);
    let want = |input: i64, p_in: &str, output: i64, p_out: &str| {
        (Decimal::from(input) * p_in.parse::<Decimal>().unwrap()
            + Decimal::from(output) * p_out.parse::<Decimal>().unwrap())
            / million
    };
    let expected = [
        ("02eb4735-770d-4a21-9113-c53db06d31b0", Some(want(219, "3.00", 87, "15.00"))),
        ("27451c8c-bb7e-43c0-9c9e-3d964e3a6c6e", Some(want(20, "0.30", 354, "0.40"))),
        ("7329a13d-94f6-4723-a75b-9cd8c5690664", Some(want(4, "0.75", 160, "1.00"))),
        ("a0dc0578-f33c-4a44-b739-107d672d5662", Some(want(219, "3.00", 112, "15.00"))),
    ];
    for (id, cost) in expected {
        let row = costs.iter().find(|r| r["request_id"] == id).unwrap_or_else(|| panic!("{id} in {costs:?}"));
        let got: Option<Decimal> = row["cost"].as_str().map(|c| c.parse().unwrap());
        assert_eq!(got, cost, "{id}: {row}");
        assert_eq!(row["price_status"], "priced");
        assert!(row.get("service_tier").is_none_or(Value::is_null), "old files read the new column as NULL");
        assert_eq!(row["tier_assumed"], true, "no tier in the log: Standard assumed");
    }
    let unpriced = query(&wh, "SELECT price_status, requests FROM usage_costs WHERE NOT priced");
    assert_eq!(unpriced.len(), 1, "{unpriced:?}");
    assert_eq!(unpriced[0]["price_status"], "no token counts", "only the guardrail block, which has no counts");
    let check = run_cli(&["--warehouse", wh.to_str().unwrap(), "pricing", "check", "--format", "csv"]);
    let listing = String::from_utf8_lossy(&check.stdout);
    assert_eq!(listing.lines().skip(1).filter(|l| !l.starts_with("no token counts,")).count(), 0, "{listing}");

    // A new file of the same day with the column, then compaction merges both generations into today's schema.
    let new = record("tier-new", "2025-08-15T18:00:00Z", 10, 20)
        .replace("\"requestId\"", "\"serviceTier\":\"flex\",\"requestId\"");
    t.write("more/new.json", new.as_bytes());
    assert_eq!(ingest_paths(&wh, &[t.path("more")]).ingested, 1);
    let out = run_cli(&["--warehouse", wh.to_str().unwrap(), "compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let tiers = query(
        &wh,
        "SELECT request_id, service_tier FROM invocations WHERE day = DATE '2025-08-15' ORDER BY request_id",
    );
    let tiers: Vec<(String, Option<String>)> = tiers
        .iter()
        .map(|r| (r["request_id"].as_str().unwrap().to_string(), r["service_tier"].as_str().map(String::from)))
        .collect();
    assert_eq!(tiers.len(), 3, "{tiers:?}");
    assert!(tiers.contains(&("tier-new".to_string(), Some("flex".to_string()))), "{tiers:?}");
    assert_eq!(tiers.iter().filter(|(_, t)| t.is_none()).count(), 2, "{tiers:?}");
}
