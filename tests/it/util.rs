//! Helpers: a temp directory per test, running the real binary, and reading the warehouse back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::RecordBatch;
use bedrock_spend::ingest::sources::local;
use bedrock_spend::ingest::{self, IngestOptions, IngestSummary};
use bedrock_spend::pricing::Pricing;
use bedrock_spend::query::{Params, RunOptions, Session, SessionOptions};
use bedrock_spend::store::warehouse::Warehouse;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_bedrock-spend");

/// A path inside the checkout, read at run time (cargo sets `CARGO_MANIFEST_DIR` for the test process): a test
/// binary that a shared build cache reuses from another checkout must still read this checkout's files.
pub fn checkout_path(relative: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join(relative)
}

/// A fresh temporary directory, removed on drop.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        TestDir { dir: tempfile::tempdir().expect("temp dir") }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
    pub fn warehouse(&self) -> PathBuf {
        self.path("wh")
    }
}

/// Ingest through the library with default options.
pub fn ingest_paths(warehouse: &Path, inputs: &[PathBuf]) -> IngestSummary {
    let listing = local::list_local(inputs).expect("list inputs");
    let mut wh = Warehouse::open_for_write(warehouse).expect("open warehouse");
    ingest::run(&mut wh, listing.sources, listing.not_logs, &test_options()).expect("ingest")
}

/// Ingest options for tests: two threads, and the clock read (the default clock is the epoch, which makes every
/// record's time look like the future).
pub fn test_options() -> IngestOptions {
    IngestOptions { threads: 2, now: chrono::Utc::now(), ..IngestOptions::default() }
}

/// Run the binary.
pub fn run_cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("BEDROCK_SPEND_WAREHOUSE").output().expect("run bedrock-spend")
}

/// Run SQL over a warehouse and return the rows as JSON objects.
pub fn query(warehouse: &Path, sql: &str) -> Vec<Value> {
    query_with(warehouse, &Pricing::bundled().unwrap(), sql)
}

/// All batches of a statement or named query run through a session.
pub fn collect(warehouse: &Path, pricing: &Pricing, sql_or_name: &str, params: Option<&Params>) -> Vec<RecordBatch> {
    collect_grouped(warehouse, pricing, sql_or_name, params, &[])
}

/// As [`collect`], with `request_groups` split by the request-metadata `keys` (`[recommend] batch_group_by_metadata`).
pub fn collect_grouped(
    warehouse: &Path,
    pricing: &Pricing,
    sql_or_name: &str,
    params: Option<&Params>,
    keys: &[&str],
) -> Vec<RecordBatch> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let session = Session::open(warehouse, pricing, SessionOptions::default()).await.expect("session");
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        session.group_by_metadata(&keys).await.expect("request groups");
        let statement = match params {
            Some(p) => session.named(sql_or_name, p).await,
            None => session.statement(sql_or_name, &Params::new(), RunOptions::default()).await,
        };
        let mut stream = statement.unwrap_or_else(|e| panic!("{sql_or_name}: {e:#}")).stream().await.expect("stream");
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch.unwrap_or_else(|e| panic!("{sql_or_name}: {e:#}")));
        }
        batches
    })
}

/// Run SQL over a warehouse with the given prices.
pub fn query_with(warehouse: &Path, pricing: &Pricing, sql: &str) -> Vec<Value> {
    let batches = collect(warehouse, pricing, sql, None);
    let mut out = Vec::new();
    {
        let mut writer = arrow::json::ArrayWriter::new(&mut out);
        let refs: Vec<_> = batches.iter().collect();
        writer.write_batches(&refs).unwrap();
        writer.finish().unwrap();
    }
    if out.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&out).unwrap()
}

/// The single number a query returns.
pub fn scalar(warehouse: &Path, sql: &str) -> i64 {
    let rows = query(warehouse, sql);
    rows[0].as_object().unwrap().values().next().and_then(Value::as_i64).unwrap_or(0)
}

/// gzip bytes as one member.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A minimal valid record with the given id, time and counts.
pub fn record(id: &str, ts: &str, input: i64, output: i64) -> String {
    serde_json::json!({
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": ts, "accountId": "111122223333",
        "identity": {"arn": "arn:aws:sts::111122223333:assumed-role/app/session"}, "region": "us-east-1",
        "requestId": id, "operation": "Converse", "modelId": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "input": {"inputContentType": "application/json", "inputTokenCount": input},
        "output": {"outputContentType": "application/json", "outputTokenCount": output},
    })
    .to_string()
}

/// A Converse record at `ts` by the role `role` (`arn:aws:sts::111122223333:assumed-role/ROLE`) with every token
/// count, `[input, cache read, cache write, output]`, and `extra`'s fields added at the top level (`serviceTier`,
/// `resolvedServiceTier`): the price-rule cases of the pricing and engine tests.
pub fn token_record(
    ts: &str,
    role: &str,
    id: &str,
    model: &str,
    region: &str,
    tokens: [i64; 4],
    extra: Value,
) -> String {
    let [input, read, write, output] = tokens;
    let mut r = serde_json::json!({
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": ts, "accountId": "111122223333",
        "identity": {"arn": format!("arn:aws:sts::111122223333:assumed-role/{role}")},
        "region": region, "requestId": id, "operation": "Converse", "modelId": model,
        "input": {"inputContentType": "application/json", "inputTokenCount": input,
                  "cacheReadInputTokenCount": read, "cacheWriteInputTokenCount": write},
        "output": {"outputContentType": "application/json", "outputTokenCount": output},
    });
    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        r.extend(extra.clone());
    }
    r.to_string()
}

/// Generate logs with the project's generator.
pub fn generate(out: &Path, records: u64, days: u32, layout: &str, extra: &[&str]) {
    let (records, days) = (records.to_string(), days.to_string());
    let mut args = vec!["generate", "--out", out.to_str().unwrap(), "--records", &records, "--days", &days];
    args.extend_from_slice(&["--layout", layout, "-q"]);
    args.extend_from_slice(extra);
    let o = run_cli(&args);
    assert!(o.status.success(), "generate failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// Every file under a folder, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

/// Run the binary and return its output with its peak resident memory in KiB, read from `/proc/<pid>/status`
/// (`VmHWM`, the high-water mark) until it exits. Linux only, like the rest of the suite's tooling.
pub fn run_cli_measured(args: &[&str]) -> (Output, u64) {
    use std::io::Read;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("BEDROCK_SPEND_WAREHOUSE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run bedrock-spend");
    // Drain the pipes on threads, so a chatty child never blocks on a full pipe while it is watched.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stderr.read_to_end(&mut v).unwrap();
        v
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let output = Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() };
    (output, peak_kb)
}

/// `bedrock-spend sql` on a real pseudo-terminal (util-linux `script`). Each step waits for what the shell printed,
/// so a slow machine delays a test instead of breaking it; a shell that never prints what is awaited fails the test
/// within two minutes, and its whole session is killed when the test ends.
pub struct PtyShell {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl PtyShell {
    pub fn start(warehouse: &Path, home: &Path) -> Self {
        use std::io::Read;
        // `exec`: script(1) runs the command through $SHELL (/bin/sh when SHELL is unset, as in CI), and dash does not
        // exec a lone command; an intermediate sh would share the terminal's process group and die of a Ctrl-C.
        let command = format!("exec {BIN} --warehouse {} sql", warehouse.display());
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("HOME", home)
            .env("SHELL", "/bin/sh")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped stdout");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        PtyShell { child, stdin, seen, reader: Some(reader) }
    }

    /// Wait until `text` has been printed `occurrences` times in all.
    pub fn wait_for(&self, text: &str, occurrences: usize) {
        let start = std::time::Instant::now();
        while self.seen.lock().unwrap().matches(text).count() < occurrences {
            assert!(start.elapsed() < std::time::Duration::from_secs(120), "waited for {text:?}: {}", self.seen());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Type `bytes` (a line ends with `\r`, as a terminal sends Enter).
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("the shell's input is open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Everything the shell printed so far.
    pub fn seen(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    /// Close the input, wait for the shell to end, and return its status with all it printed.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status, self.seen())
    }
}

impl Drop for PtyShell {
    fn drop(&mut self) {
        // Kill script's child (the shell, thanks to `exec`) first, so a shell stuck in a statement does not outlive
        // the test.
        let _ = std::process::Command::new("pkill").args(["-KILL", "-P", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
    }
}
