//! `pricing sync` against the offer fixtures in `tests/data/price-list/` (laid out as the Price List endpoint
//! serves them), served by a small HTTP server in the test: the book it writes (prices worked out by hand from
//! the fixture numbers below), what it lists and skips, the diff and exit codes, `--offer-dir`, a duplicate
//! alias, a server error and a timeout (exit 2, book untouched), and the written book pricing a warehouse.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;

use crate::util::*;

/// What the test server does with a request whose path contains `.1` (else it serves the file).
#[derive(Clone, Copy)]
enum Behaviour {
    Serve,
    Fail500(&'static str),
    Hang(&'static str),
}

/// A tiny HTTP/1.1 server over the fixture folder; `hits` counts requests that met the behaviour's path.
struct Server {
    endpoint: String,
    hits: Arc<AtomicUsize>,
}

fn serve(behaviour: Behaviour) -> Server {
    let root = checkout_path("tests/data/price-list");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (root, counter) = (root.clone(), counter.clone());
            std::thread::spawn(move || answer(stream, &root, behaviour, &counter));
        }
    });
    Server { endpoint, hits }
}

fn answer(mut stream: TcpStream, root: &Path, behaviour: Behaviour, hits: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    let _ = reader.read_line(&mut request);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let respond = |stream: &mut TcpStream, status: &str, body: &[u8]| {
        let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    };
    match behaviour {
        Behaviour::Fail500(part) if path.contains(part) => {
            hits.fetch_add(1, Ordering::SeqCst);
            respond(&mut stream, "500 Internal Server Error", b"");
        }
        Behaviour::Hang(part) if path.contains(part) => {
            hits.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(20));
        }
        _ => match std::fs::read(root.join(path.trim_start_matches('/'))) {
            Ok(body) => respond(&mut stream, "200 OK", &body),
            Err(_) => respond(&mut stream, "404 Not Found", b""),
        },
    }
}

/// The hand-kept rows of these tests: one overriding a Price List row, one the Price List lacks.
const HAND_KEPT: &str = "# hand-kept rows for the sync tests\n\
model,region,routing,effective_from,effective_to,input_per_mtok,output_per_mtok,cache_read_per_mtok,cache_write_per_mtok,cache_write_1h_per_mtok,batch_input_per_mtok,batch_output_per_mtok,source,as_of,confidence,tier,long_context_above\n\
openai.gpt-oss-120b-1:0,us-east-1,*,,,0.16,0.64,,,,,,a private rate card (test),2026-11-01,A,,\n\
mistral.pixtral-large-2502-v1:0,us-east-1,*,,,2,6,,,,,,AWS pricing page (test),2026-11-01,B,,\n";

fn sync(args: &[&str]) -> Output {
    let mut all = vec!["pricing", "sync"];
    all.extend_from_slice(args);
    run_cli(&all)
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

type Key = (String, String, String, String, String);

/// The written book, read with the csv crate (not the crate's reader): key -> the seven prices, source, as_of.
fn read_book(path: &Path) -> BTreeMap<Key, (Vec<Option<Decimal>>, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name}"));
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        let key = (
            r[at("model")].to_string(),
            r[at("region")].to_string(),
            r[at("routing")].to_string(),
            r[at("tier")].to_string(),
            r[at("long_context_above")].to_string(),
        );
        let prices = (5..12).map(|i| (!r[i].is_empty()).then(|| r[i].parse::<Decimal>().unwrap())).collect();
        assert!(rows.insert(key.clone(), (prices, r[at("source")].to_string(), r[at("as_of")].to_string())).is_none());
    }
    rows
}

fn d(s: &str) -> Option<Decimal> {
    (!s.is_empty()).then(|| s.parse().unwrap())
}

/// The book the fixtures must give, worked out by hand: `AmazonBedrock` prices are per 1K tokens (x 1,000), the
/// Marketplace's `1M tokens` and `Units` per million. Columns: input, output, cache read, write 5m, write 1h,
/// batch input, batch output.
fn expected_rows() -> Vec<(Key, [&'static str; 7])> {
    let key = |m: &str, r: &str, routing: &str, tier: &str, long: &str| {
        (m.to_string(), r.to_string(), routing.to_string(), tier.to_string(), long.to_string())
    };
    let nova = "amazon.nova-2-lite-v1:0";
    let sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    vec![
        // USE1 0.00030 / 0.00250 per 1K (cross-region-global).
        (key(nova, "us-east-1", "global", "", ""), ["0.3", "2.5", "", "", "", "", ""]),
        // USE1 0.00033 / 0.00275, cache read 0.0000825, batch 0.000165 / 0.001375 per 1K.
        (key(nova, "us-east-1", "regional", "", ""), ["0.33", "2.75", "0.0825", "", "", "0.165", "1.375"]),
        // -flex 0.000165 / 0.001375; -priority 0.0005775 / 0.0048125 per 1K.
        (key(nova, "us-east-1", "regional", "flex", ""), ["0.165", "1.375", "", "", "", "", ""]),
        (key(nova, "us-east-1", "regional", "priority", ""), ["0.5775", "4.8125", "", "", "", "", ""]),
        // APN1 differs from USE1 (Region-specific provider: one row per Region, never `*`).
        (key(nova, "ap-northeast-1", "global", "", ""), ["0.3", "2.5", "", "", "", "", ""]),
        (key(nova, "ap-northeast-1", "regional", "", ""), ["0.396", "3.3", "", "", "", "", ""]),
        // The Price List says 0.00015 / 0.0006 per 1K (no global SKU: routing `*`); the hand-kept row overrides.
        (key("openai.gpt-oss-120b-1:0", "us-east-1", "*", "", ""), ["0.16", "0.64", "", "", "", "", ""]),
        (key("mistral.pixtral-large-2502-v1:0", "us-east-1", "*", "", ""), ["2", "6", "", "", "", "", ""]),
        // Claude: the same in us-east-1 and eu-west-2, so one region `*` row per routing and context.
        (key(sonnet, "*", "global", "", ""), ["3", "15", "0.3", "3.75", "6", "1.5", "7.5"]),
        (key(sonnet, "*", "regional", "", ""), ["3.3", "16.5", "0.33", "4.125", "6.6", "", ""]),
        (key(sonnet, "*", "global", "", "200000"), ["6", "22.5", "0.6", "", "", "", ""]),
    ]
}

#[test]
fn sync_writes_the_book_the_offers_say_and_lists_what_it_cannot_price() {
    let t = TestDir::new();
    let server = serve(Behaviour::Serve);
    let hand_kept = t.write("hand-kept.csv", HAND_KEPT.as_bytes());
    let book = t.path("book.csv");
    let (b, h) = (book.to_str().unwrap(), hand_kept.to_str().unwrap());
    let args = ["--endpoint", &server.endpoint, "--book", b, "--hand-kept", h];
    let mut with_write = args.to_vec();
    with_write.push("--write");
    let out = sync(&with_write);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a new book is a change\n{stdout}\n{stderr}");

    let written = read_book(&book);
    let expected = expected_rows();
    assert_eq!(written.keys().cloned().collect::<Vec<_>>(), {
        let mut keys: Vec<Key> = expected.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys
    });
    for (key, prices) in &expected {
        let want: Vec<Option<Decimal>> = prices.iter().map(|p| d(p)).collect();
        assert_eq!(written[key].0, want, "prices of {key:?}");
    }
    let (_, source, as_of) = &written[&expected[1].0];
    assert!(
        source.contains("AmazonBedrock")
            && source.contains("NOVA2LITEUSE1IN")
            && source.contains("2026-11-20T18:47:12Z"),
        "{source}"
    );
    assert_eq!(as_of, "2026-11-20");
    let (_, source, as_of) = &written[&expected[8].0];
    assert!(source.contains("AmazonBedrockFoundationModels") && source.contains("SONNET45USE100"), "{source}");
    assert_eq!(as_of, "2026-11-18");

    // Listed, skipped, overridden, not written.
    assert!(stdout.contains("NOVA9ULTRAUSE1IN") && stdout.contains("no alias"), "{stdout}");
    assert!(stdout.contains("NOVAPROUSE1TURBO") && stdout.contains("\"turbo\""), "{stdout}");
    assert!(stdout.contains("1 SKU(s) skipped: bedrock-mantle"), "{stdout}");
    assert!(stdout.contains("2 SKU(s) skipped: Reserved tier"), "{stdout}");
    assert!(stdout.contains("1 SKU(s) skipped: not priced per token"), "{stdout}");
    assert!(stdout.contains("48 SKU(s) priced"), "{stdout}");
    assert!(
        stdout.contains(
            "overrides the Price List row openai.gpt-oss-120b-1:0 us-east-1 *: input 0.15 -> 0.16, output 0.6 -> 0.64"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("not written: openai.gpt-oss-120b-1:0 us-east-1 * tier priority"), "{stdout}");
    assert!(stdout.contains("11 added, 0 changed, 0 removed"), "{stdout}");

    // The same offers again: nothing to do, exit 0.
    let out = sync(&with_write);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 added, 0 changed, 0 removed"), "{stdout}");

    // A changed price and a removed row show in the diff (old -> new), exit 1, and without --write nothing moves.
    let edited = std::fs::read_to_string(&book)
        .unwrap()
        .replace(",0.396,3.3,", ",0.39,3.3,")
        .replace("mistral.pixtral-large-2502-v1:0,us-east-1", "mistral.pixtral-large-2502-v1:0,eu-west-1");
    std::fs::write(&book, &edited).unwrap();
    let out = sync(&args);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("changed  amazon.nova-2-lite-v1:0 ap-northeast-1 regional: input 0.39 -> 0.396"),
        "{stdout}"
    );
    assert!(stdout.contains("removed  mistral.pixtral-large-2502-v1:0 eu-west-1 *"), "{stdout}");
    assert!(stdout.contains("added    mistral.pixtral-large-2502-v1:0 us-east-1 *"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&book).unwrap(), edited, "no --write, no change");

    // Saved files give the same book as the endpoint.
    let offline = t.path("offline.csv");
    let dir = checkout_path("tests/data/price-list");
    let out =
        sync(&["--offer-dir", dir.to_str().unwrap(), "--book", offline.to_str().unwrap(), "--hand-kept", h, "--write"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    std::fs::write(&book, std::fs::read_to_string(&offline).unwrap()).unwrap();
    let out = sync(&args);
    assert_eq!(out.status.code(), Some(0), "offer-dir and HTTP agree: {}", text(&out).0);

    // --region: only that Region is read; rows of other Regions stay as they were.
    let out = sync(&["--endpoint", &server.endpoint, "--book", b, "--hand-kept", h, "--region", "ap-northeast-1"]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("for 1 Region(s)") && stdout.contains("row(s) of Regions not synced kept"), "{stdout}");
    assert!(!stdout.contains("removed  amazon.nova-2-lite-v1:0 us-east-1"), "{stdout}");
    assert!(!stdout.contains("removed  anthropic.claude-sonnet-4-5"), "{stdout}");
    assert!(stdout.contains("0 added, 0 changed, 0 removed"), "{stdout}");
}

/// The written book prices a warehouse: Claude by routing class from the region `*` rows, Nova per Region.
#[test]
fn the_synced_book_prices_a_warehouse() {
    let t = TestDir::new();
    let dir = checkout_path("tests/data/price-list");
    let hand_kept = t.write("hand-kept.csv", HAND_KEPT.as_bytes());
    let book = t.path("book.csv");
    let out = sync(&[
        "--offer-dir",
        dir.to_str().unwrap(),
        "--book",
        book.to_str().unwrap(),
        "--hand-kept",
        hand_kept.to_str().unwrap(),
        "--write",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let record = |id: &str, region: &str, model: &str, input: i64, output: i64| {
        serde_json::json!({
            "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-25T10:00:00Z",
            "accountId": "111122223333", "identity": {"arn": "arn:aws:sts::111122223333:assumed-role/app/s"},
            "region": region, "requestId": id, "operation": "Converse", "modelId": model,
            "input": {"inputContentType": "application/json", "inputTokenCount": input},
            "output": {"outputContentType": "application/json", "outputTokenCount": output},
        })
        .to_string()
    };
    let logs = [
        record("r1", "us-east-1", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", 1000, 2000),
        record("r2", "eu-west-2", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", 1000, 1000),
        record("r3", "ap-northeast-1", "amazon.nova-2-lite-v1:0", 10_000, 1000),
    ]
    .join("\n");
    let log = t.write("logs/a.json", logs.as_bytes());
    let wh = t.warehouse();
    ingest_paths(&wh, &[log]);
    let (w, b) = (wh.to_str().unwrap(), book.to_str().unwrap());
    let check = run_cli(&["--warehouse", w, "--price-book", b, "pricing", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check).0);
    let out = run_cli(&[
        "--warehouse",
        w,
        "--price-book",
        b,
        "query",
        "spend_by_model",
        "--param",
        "since=2026-11-01",
        "--param",
        "until=2026-12-01",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let cost = |model: &str, routing: &str| -> Decimal {
        let row = rows.iter().find(|r| r["model"] == model && r["routing"] == routing).expect(model);
        row["cost_usd"].to_string().parse().unwrap()
    };
    // r1 global: 1,000 x $3/M + 2,000 x $15/M = 0.003 + 0.03.
    assert_eq!(cost("anthropic.claude-sonnet-4-5-20250929-v1:0", "global"), "0.033".parse().unwrap());
    // r2 geographic (regional row of region *): 1,000 x $3.30/M + 1,000 x $16.50/M = 0.0033 + 0.0165.
    let regional = rows
        .iter()
        .find(|r| r["model"] == "anthropic.claude-sonnet-4-5-20250929-v1:0" && r["routing"] != "global")
        .unwrap();
    assert_eq!(regional["cost_usd"].to_string().parse::<Decimal>().unwrap(), "0.0198".parse().unwrap());
    // r3 in ap-northeast-1 (not us-east-1's price): 10,000 x $0.396/M + 1,000 x $3.30/M = 0.00396 + 0.0033.
    let nova = rows.iter().find(|r| r["model"] == "amazon.nova-2-lite-v1:0").unwrap();
    assert_eq!(nova["cost_usd"].to_string().parse::<Decimal>().unwrap(), "0.00726".parse().unwrap());
}

/// Failures are fatal (exit 2), name what failed, and leave the book as it was.
#[test]
fn failures_leave_the_book_untouched() {
    let t = TestDir::new();
    let original = "model,region,routing,effective_from,effective_to,input_per_mtok,output_per_mtok,cache_read_per_mtok,cache_write_per_mtok,cache_write_1h_per_mtok,batch_input_per_mtok,batch_output_per_mtok,source,as_of\nm,*,*,,,1,2,,,,,,s,2025-01-01\n";
    let book = t.write("book/prices.csv", original.as_bytes());
    let b = book.to_str().unwrap();
    let untouched = |what: &str| {
        assert_eq!(std::fs::read_to_string(&book).unwrap(), original, "{what}: book untouched");
        let files: Vec<PathBuf> = files_under(&t.path("book"));
        assert_eq!(files.len(), 1, "{what}: no temporary file left: {files:?}");
    };

    // 5xx on one Region's offer: retried (3 attempts with --retries 2), then exit 2 naming the URL.
    let server = serve(Behaviour::Fail500("/ap-northeast-1/"));
    let out = sync(&["--endpoint", &server.endpoint, "--book", b, "--write", "--retries", "2"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let url = format!("{}/offers/v1.0/aws/AmazonBedrock/20261120184712/ap-northeast-1/index.json", server.endpoint);
    assert!(stderr.contains(&url) && stderr.contains("HTTP 500"), "{stderr}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 3, "one try and two retries");
    untouched("server error");

    // A server that never answers: the per-attempt timeout ends it (1 s, no retry).
    let server = serve(Behaviour::Hang("region_index"));
    let started = Instant::now();
    let out = sync(&["--endpoint", &server.endpoint, "--book", b, "--write", "--timeout-secs", "1", "--retries", "0"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("timed out fetching") && stderr.contains("/AmazonBedrock/current/region_index.json"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(8), "the timeout applies: {:?}", started.elapsed());
    untouched("timeout");

    // A SKU matching two aliases: an error naming both rows.
    let aliases = format!(
        "{}*,Claude Sonnet 4.5 (Amazon Bedrock Edition),anthropic.claude-sonnet-4-5-copy,yes,\n",
        std::fs::read_to_string(checkout_path("pricing/price-list-aliases.csv")).unwrap()
    );
    let aliases = t.write("aliases.csv", aliases.as_bytes());
    let dir = checkout_path("tests/data/price-list");
    let out =
        sync(&["--offer-dir", dir.to_str().unwrap(), "--aliases", aliases.to_str().unwrap(), "--book", b, "--write"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("matches two aliases")
            && stderr.contains("-> anthropic.claude-sonnet-4-5-20250929-v1:0")
            && stderr.contains("-> anthropic.claude-sonnet-4-5-copy"),
        "{stderr}"
    );
    untouched("duplicate alias");

    // A missing offer file in --offer-dir names the path.
    let empty = t.path("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    let out = sync(&["--offer-dir", empty.to_str().unwrap(), "--book", b, "--write"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("region_index.json"), "{}", text(&out).1);
    untouched("missing offer file");
}
