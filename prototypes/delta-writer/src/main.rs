//! Prototype for issue #20: bedrock-spend's writer path on Delta Lake (delta-rs), measured.
//!
//! Not part of the product: a throwaway binary that answers "what would Delta cost and give us" with numbers.
//! The table is `WAREHOUSE/invocations` itself (its `_delta_log/` beside the `day=` folders), so the Delta table
//! and our warehouse share the Parquet files. Subcommands:
//!
//! - `ingest` — shape (a), *commit-only*: run our ingest unchanged (the library's CLI entry, in process), then
//!   `sync`.
//! - `sync` — mirror the warehouse's live file set (our per-day `_symlink_format_manifest`s, the snapshot we
//!   already publish for Athena and Spark) into the Delta log: one commit adding the files the log lacks and
//!   removing the files our compaction retired. State-based, so it is idempotent: a run killed anywhere is
//!   repaired by the next `sync`.
//! - `convert` — delta-rs' own CONVERT TO DELTA, in place (the migration path of an existing warehouse).
//! - `write` — shape (b), *Delta writer*: the rows of a warehouse (read from its Parquet files, since the
//!   library's decoder does not expose its batch stream) written again, once through delta-rs' writer
//!   (partitioned by `day`, our writer properties) and once through our own Parquet writer, timing the write
//!   side alone.
//! - `check` — read the Delta table with delta-rs' DataFusion provider and compare it with the files our
//!   manifests name: same request ids, each once, partition values right.
//!
//! Every phase prints one JSON line with its wall and CPU seconds (CPU of this process, all threads).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, Date32Array, RecordBatch};
use arrow::datatypes::{DataType as ArrowDataType, Field, Schema};
use clap::{Parser, Subcommand};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake_core::kernel::schema::cast::normalize_for_delta;
use deltalake_core::kernel::transaction::CommitBuilder;
use deltalake_core::kernel::{Action, Add, DataType, StructField, StructType};
use deltalake_core::operations::convert_to_delta::ConvertToDeltaBuilder;
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::json;
use url::Url;

const PARTITION: &str = "day";
const MANIFEST_DIR: &str = "_symlink_format_manifest";

#[derive(Parser)]
#[command(about = "Delta Lake prototype for bedrock-spend (issue #20)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Shape (a): our ingest, unchanged, then one Delta commit mirroring the warehouse.
    Ingest {
        #[arg(long)]
        warehouse: PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 2_000_000)]
        commit_every_rows: u64,
        sources: Vec<String>,
    },
    /// Mirror the warehouse's live files into the Delta log (one commit, nothing if already equal).
    Sync {
        #[arg(long)]
        warehouse: PathBuf,
    },
    /// delta-rs' CONVERT TO DELTA of WAREHOUSE/invocations in place.
    Convert {
        #[arg(long)]
        warehouse: PathBuf,
    },
    /// Shape (b): write the warehouse's rows again, through delta-rs' writer or ours (write side only).
    Write {
        /// The warehouse whose rows to write.
        #[arg(long)]
        from: PathBuf,
        /// The new table's folder (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Write with our Parquet writer (one file per day) instead of delta-rs'.
        #[arg(long)]
        ours: bool,
    },
    /// Run any bedrock-spend command (the library's CLI, in process), then `sync` if `--sync`: e.g. `compact`
    /// followed by the Delta commit of its swap, or `sql` over a warehouse that holds a Delta log.
    Ours {
        /// Sync the Delta log afterwards (the warehouse is read from the arguments' `--warehouse`).
        #[arg(long)]
        sync: Option<PathBuf>,
        /// bedrock-spend's arguments, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// S3 commits (against moto): copy a warehouse's rows into `s3://…` through delta-rs, then let two writers
    /// that loaded the same version each commit an append; Delta's conditional PUT of the log entry must keep
    /// both (no lost commit). Endpoint and credentials from the `AWS_*` environment.
    S3Race {
        /// The warehouse whose first day's rows to write.
        #[arg(long)]
        from: PathBuf,
        /// `s3://BUCKET/PREFIX` (the bucket must exist).
        #[arg(long)]
        to: String,
    },
    /// Compare the Delta table with the files our manifests name.
    Check {
        #[arg(long)]
        warehouse: PathBuf,
        /// The number of distinct records the warehouse must hold.
        #[arg(long)]
        expect: Option<u64>,
        /// Write a Delta checkpoint first (to see whether our own readers mind `_delta_log/*.checkpoint.parquet`).
        #[arg(long)]
        checkpoint: bool,
    },
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("delta-proto: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<u8> {
    match args.command {
        Command::Ingest { warehouse, threads, commit_every_rows, sources } => {
            // Our ingest runs first, on the library's own runtime (it blocks on it, so it cannot run inside ours).
            let phase = Phase::start();
            let mut argv: Vec<String> = vec!["bedrock-spend".into(), "--warehouse".into()];
            argv.push(warehouse.display().to_string());
            argv.extend(["-q", "ingest", "--threads"].map(String::from));
            argv.push(threads.to_string());
            argv.push("--commit-every-rows".into());
            argv.push(commit_every_rows.to_string());
            argv.extend(sources);
            let cli = <bedrock_spend::cli::Cli as clap::Parser>::try_parse_from(argv)?;
            let outcome = bedrock_spend::cli::run(cli)?;
            phase.report("ingest (ours, unchanged)", json!({}));
            let phase = Phase::start();
            let info = runtime()?.block_on(sync(&warehouse))?;
            phase.report("delta commit (sync)", info);
            Ok(if outcome.exit_code() == std::process::ExitCode::SUCCESS { 0 } else { 1 })
        }
        Command::Ours { sync: warehouse, args } => {
            let phase = Phase::start();
            let argv = std::iter::once("bedrock-spend".to_string()).chain(args);
            let cli = <bedrock_spend::cli::Cli as clap::Parser>::try_parse_from(argv)?;
            let outcome = bedrock_spend::cli::run(cli)?;
            phase.report("bedrock-spend (ours, unchanged)", json!({}));
            if let Some(warehouse) = warehouse {
                let phase = Phase::start();
                let info = runtime()?.block_on(sync(&warehouse))?;
                phase.report("delta commit (sync)", info);
            }
            Ok(if outcome.exit_code() == std::process::ExitCode::SUCCESS { 0 } else { 1 })
        }
        Command::Sync { warehouse } => {
            let phase = Phase::start();
            let info = runtime()?.block_on(sync(&warehouse))?;
            phase.report("delta commit (sync)", info);
            Ok(0)
        }
        Command::Convert { warehouse } => {
            let phase = Phase::start();
            let info = runtime()?.block_on(convert(&warehouse))?;
            phase.report("convert to delta", info);
            Ok(0)
        }
        Command::Write { from, to, ours } => {
            if to.exists() {
                bail!("{} exists", to.display());
            }
            let phase = Phase::start();
            let days = read_days(&from)?;
            let rows: usize = days.values().flatten().map(RecordBatch::num_rows).sum();
            phase.report("read (not part of the comparison)", json!({ "rows": rows, "days": days.len() }));
            let phase = Phase::start();
            let info = if ours { write_ours(&to, &days)? } else { runtime()?.block_on(write_delta(&to, days))? };
            phase.report(if ours { "write: ours" } else { "write: delta-rs" }, info);
            Ok(0)
        }
        Command::S3Race { from, to } => {
            let phase = Phase::start();
            let info = runtime()?.block_on(s3_race(&from, &to))?;
            phase.report("s3 race", info);
            Ok(0)
        }
        Command::Check { warehouse, expect, checkpoint } => {
            let phase = Phase::start();
            let (ok, info) = runtime()?.block_on(check(&warehouse, expect, checkpoint))?;
            phase.report("check", info);
            Ok(if ok { 0 } else { 1 })
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Wall and CPU time of one phase.
struct Phase {
    wall: Instant,
    cpu: f64,
}

impl Phase {
    fn start() -> Phase {
        Phase { wall: Instant::now(), cpu: cpu_seconds() }
    }

    fn report(self, name: &str, info: serde_json::Value) {
        let line = json!({
            "phase": name,
            "wall_s": self.wall.elapsed().as_secs_f64(),
            "cpu_s": cpu_seconds() - self.cpu,
            "info": info,
        });
        println!("{line}");
    }
}

/// User + system CPU seconds of this process, all threads (Linux: `/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return f64::NAN };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

fn table_root(warehouse: &Path) -> Result<PathBuf> {
    Ok(std::path::absolute(warehouse)?.join("invocations"))
}

fn table_url(root: &Path) -> Result<Url> {
    Url::from_directory_path(root).map_err(|()| anyhow::anyhow!("not an absolute path: {}", root.display()))
}

/// One live data file of the warehouse, as the Delta log names it.
struct LiveFile {
    /// Relative to the table root: `day=YYYY-MM-DD/part-….parquet`.
    path: String,
    day: String,
    size: i64,
    modified_ms: i64,
}

/// The warehouse's live files: what its per-day manifests name (the snapshot Athena and Spark read). A warehouse
/// written before the manifests has none; then the `day=` folders are listed (no compaction may be in progress).
fn live_files(warehouse: &Path) -> Result<BTreeMap<String, LiveFile>> {
    let root = table_root(warehouse)?;
    let manifests = std::path::absolute(warehouse)?.join(MANIFEST_DIR);
    let mut names: Vec<(String, String)> = Vec::new();
    if manifests.is_dir() {
        for entry in std::fs::read_dir(&manifests)? {
            let entry = entry?;
            let dir = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = dir.strip_prefix("day=") else { continue };
            let text = std::fs::read_to_string(entry.path().join("manifest"))
                .with_context(|| format!("reading the manifest of {dir}"))?;
            for line in text.lines().filter(|l| !l.is_empty()) {
                let name = line.rsplit('/').next().unwrap_or(line);
                names.push((day.to_string(), name.to_string()));
            }
        }
    } else {
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let dir = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = dir.strip_prefix("day=") else { continue };
            for file in std::fs::read_dir(entry.path())? {
                let name = file?.file_name().to_string_lossy().into_owned();
                if bedrock_spend::store::symlink::is_live_data_file(&name) {
                    names.push((day.to_string(), name));
                }
            }
        }
    }
    let mut files = BTreeMap::new();
    for (day, name) in names {
        let path = format!("day={day}/{name}");
        let meta = std::fs::metadata(root.join(&path)).with_context(|| format!("stat {path}"))?;
        let modified_ms =
            meta.modified()?.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default();
        files.insert(path.clone(), LiveFile { path, day, size: meta.len() as i64, modified_ms });
    }
    Ok(files)
}

/// The add action of one of our files. Stats hold the row count only (from the footer): Delta's min/max of a
/// timestamp are millisecond strings, and truncating our microsecond maxima would let a reader skip a file it
/// needs; a real writer would round maxima up.
fn add_action(root: &Path, file: &LiveFile) -> Result<Action> {
    let reader = SerializedFileReader::new(File::open(root.join(&file.path))?)?;
    let rows = reader.metadata().file_metadata().num_rows();
    Ok(Action::Add(Add {
        path: file.path.clone(),
        partition_values: HashMap::from([(PARTITION.to_string(), Some(file.day.clone()))]),
        size: file.size,
        modification_time: file.modified_ms,
        data_change: true,
        stats: Some(json!({ "numRecords": rows }).to_string()),
        ..Default::default()
    }))
}

/// The Delta schema of our files plus the `day` partition column.
fn delta_columns(root: &Path, any_file: &LiveFile) -> Result<Vec<StructField>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(root.join(&any_file.path))?)?;
    let mut schema = builder.schema().as_ref().clone();
    schema.metadata.clear();
    let schema: StructType = normalize_for_delta(&Arc::new(schema)).as_ref().try_into_kernel()?;
    let mut fields: Vec<StructField> = schema.fields().cloned().collect();
    fields.push(StructField::new(PARTITION, DataType::DATE, true));
    Ok(fields)
}

/// Make the Delta log name exactly the warehouse's live files: one commit of the adds and removes needed.
async fn sync(warehouse: &Path) -> Result<serde_json::Value> {
    let root = table_root(warehouse)?;
    let live = live_files(warehouse)?;
    let table = DeltaTable::try_from_url(table_url(&root)?).await?;
    let Some(version) = table.version() else {
        let Some(first) = live.values().next() else { return Ok(json!({ "created": false, "files": 0 })) };
        let columns = delta_columns(&root, first)?;
        let adds = live.values().map(|f| add_action(&root, f)).collect::<Result<Vec<_>>>()?;
        let n = adds.len();
        let table = table
            .create()
            .with_columns(columns)
            .with_partition_columns([PARTITION])
            .with_actions(adds)
            .with_save_mode(SaveMode::ErrorIfExists)
            .await?;
        return Ok(json!({ "created": true, "version": table.version(), "added": n }));
    };
    let snapshot = table.snapshot()?;
    let mut current = BTreeSet::new();
    let mut removes = Vec::new();
    for file in snapshot.log_data().iter() {
        let path = file.path().into_owned();
        if !live.contains_key(&path) {
            removes.push(Action::Remove(file.remove_action(true)));
        }
        current.insert(path);
    }
    let adds = live
        .values()
        .filter(|f| !current.contains(&f.path))
        .map(|f| add_action(&root, f))
        .collect::<Result<Vec<_>>>()?;
    if adds.is_empty() && removes.is_empty() {
        return Ok(json!({ "version": version, "added": 0, "removed": 0 }));
    }
    let (added, removed) = (adds.len(), removes.len());
    // Adds only: an append. With removes (our compaction swapped days): recorded as an OPTIMIZE.
    let operation = if removes.is_empty() {
        DeltaOperation::Write { mode: SaveMode::Append, partition_by: Some(vec![PARTITION.into()]), predicate: None }
    } else {
        DeltaOperation::Optimize { predicate: None, target_size: 0 }
    };
    let mut actions = adds;
    actions.extend(removes);
    let done =
        CommitBuilder::default().with_actions(actions).build(Some(snapshot), table.log_store(), operation).await?;
    Ok(json!({ "version": done.version(), "added": added, "removed": removed }))
}

async fn convert(warehouse: &Path) -> Result<serde_json::Value> {
    let root = table_root(warehouse)?;
    let table = ConvertToDeltaBuilder::new()
        .with_location(table_url(&root)?.to_string())
        .with_partition_schema([StructField::new(PARTITION, DataType::DATE, true)])
        .await?;
    Ok(json!({ "version": table.version(), "files": table.snapshot()?.log_data().num_files() }))
}

/// The warehouse's rows, by day (`YYYY-MM-DD`), in batches of 8192 rows as our decoders send them.
fn read_days(warehouse: &Path) -> Result<BTreeMap<String, Vec<RecordBatch>>> {
    let root = table_root(warehouse)?;
    let mut days: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for file in live_files(warehouse)?.values() {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(root.join(&file.path))?)?
            .with_batch_size(8192)
            .build()?;
        for batch in reader {
            days.entry(file.day.clone()).or_default().push(batch?);
        }
    }
    Ok(days)
}

/// Our write side: one Parquet file per day with the warehouse's writer properties, one thread (as our ingest's
/// single writer).
fn write_ours(to: &Path, days: &BTreeMap<String, Vec<RecordBatch>>) -> Result<serde_json::Value> {
    let mut bytes = 0;
    for (day, batches) in days {
        let dir = to.join(format!("day={day}"));
        std::fs::create_dir_all(&dir)?;
        let file = File::create(dir.join("part-0.parquet"))?;
        bedrock_spend::store::parquet::write_batches(file, batches)?;
        bytes += std::fs::metadata(dir.join("part-0.parquet"))?.len();
    }
    Ok(json!({ "files": days.len(), "bytes": bytes }))
}

/// delta-rs' writer: the same batches with a `day` column, partitioned by it, with our writer properties.
async fn write_delta(to: &Path, days: BTreeMap<String, Vec<RecordBatch>>) -> Result<serde_json::Value> {
    std::fs::create_dir_all(to)?;
    let mut input = Vec::new();
    for (day, batches) in days {
        let date = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")?;
        let epoch_days = (date - chrono::NaiveDate::default()).num_days() as i32;
        for batch in batches {
            input.push(with_day(&batch, epoch_days)?);
        }
    }
    let table = DeltaTable::try_from_url(table_url(&std::path::absolute(to)?)?).await?;
    let table = table
        .write(input)
        .with_partition_columns([PARTITION])
        .with_writer_properties(bedrock_spend::store::parquet::writer_props())
        .with_save_mode(SaveMode::Append)
        .await?;
    let snapshot = table.snapshot()?;
    let bytes: i64 = snapshot.log_data().iter().map(|f| f.size()).sum();
    Ok(json!({ "version": table.version(), "files": snapshot.log_data().num_files(), "bytes": bytes }))
}

fn with_day(batch: &RecordBatch, epoch_days: i32) -> Result<RecordBatch> {
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(PARTITION, ArrowDataType::Date32, true)));
    let mut columns: Vec<Arc<dyn Array>> = batch.columns().to_vec();
    columns.push(Arc::new(Date32Array::from(vec![epoch_days; batch.num_rows()])));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// Read the Delta table through delta-rs' DataFusion provider and the files our manifests name through a plain
/// listing table, and compare.
async fn check(warehouse: &Path, expect: Option<u64>, checkpoint: bool) -> Result<(bool, serde_json::Value)> {
    let root = table_root(warehouse)?;
    let table = deltalake_core::open_table(table_url(&root)?).await?;
    if checkpoint {
        deltalake_core::checkpoints::create_checkpoint(&table, None).await?;
    }
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    ctx.register_table("d", table.table_provider().await?)?;

    let urls = live_files(warehouse)?
        .values()
        .map(|f| ListingTableUrl::parse(root.join(&f.path).to_string_lossy()))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config =
        ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).infer_schema(&ctx.state()).await?;
    ctx.register_table("w", Arc::new(ListingTable::try_new(config)?))?;

    let cols = "request_id, timestamp, model_id, input_tokens, output_tokens, cache_read_tokens, source";
    let d_rows = count(&ctx, "SELECT count(*) FROM d").await?;
    let d_distinct = count(&ctx, "SELECT count(DISTINCT request_id) FROM d").await?;
    let w_rows = count(&ctx, "SELECT count(*) FROM w").await?;
    let w_distinct = count(&ctx, "SELECT count(DISTINCT request_id) FROM w").await?;
    let only_d =
        count(&ctx, &format!("SELECT count(*) FROM (SELECT {cols} FROM d EXCEPT ALL SELECT {cols} FROM w)")).await?;
    let only_w =
        count(&ctx, &format!("SELECT count(*) FROM (SELECT {cols} FROM w EXCEPT ALL SELECT {cols} FROM d)")).await?;
    let wrong_day = count(&ctx, "SELECT count(*) FROM d WHERE day <> CAST(timestamp AS DATE)").await?;
    let ok = d_rows == d_distinct
        && only_d == 0
        && only_w == 0
        && wrong_day == 0
        && w_rows == w_distinct
        && expect.is_none_or(|n| n == d_distinct);
    Ok((
        ok,
        json!({
            "ok": ok, "version": table.version(), "delta_rows": d_rows, "delta_distinct": d_distinct,
            "warehouse_rows": w_rows, "warehouse_distinct": w_distinct, "only_in_delta": only_d,
            "only_in_warehouse": only_w, "wrong_day": wrong_day, "expected": expect,
        }),
    ))
}

/// The single count a query returns.
async fn count(ctx: &SessionContext, sql: &str) -> Result<u64> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let value = batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().map(|a| a.value(0)))
        .with_context(|| format!("no count from {sql}"))?;
    Ok(u64::try_from(value)?)
}

/// One day's rows written to S3 through delta-rs, then two appends from two writers holding the same snapshot.
async fn s3_race(from: &Path, to: &str) -> Result<serde_json::Value> {
    deltalake_aws::register_handlers(None);
    let options: HashMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).collect();
    let url = Url::parse(to)?;
    let (day, batches) = read_days(from)?.into_iter().next().context("the warehouse has no rows")?;
    let epoch_days = (chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")? - chrono::NaiveDate::default()).num_days();
    let input = batches.iter().map(|b| with_day(b, epoch_days as i32)).collect::<Result<Vec<_>>>()?;
    let rows: usize = input.iter().map(RecordBatch::num_rows).sum();
    let open = || DeltaTable::try_from_url_with_storage_options(url.clone(), options.clone());
    let first = open()
        .await?
        .write(input.clone())
        .with_partition_columns([PARTITION])
        .with_writer_properties(bedrock_spend::store::parquet::writer_props())
        .await?;
    // Two writers load version 0, then both append: the second's PUT of 00…01.json must fail its condition,
    // and delta-rs must retry it as version 2 (appends do not conflict), losing neither.
    // Run at once, so that the two PUTs of the next log entry can meet.
    let (a, b) = (open().await?, open().await?);
    let (a, b) = tokio::join!(
        a.write(input.clone()).with_partition_columns([PARTITION]).into_future(),
        b.write(input).with_partition_columns([PARTITION]).into_future()
    );
    let (a, b) = (a?, b?);
    let last = open().await?;
    // What the commit protocol rests on: a PUT of an existing log entry with If-None-Match must be refused.
    let entry = object_store::path::Path::from("_delta_log/00000000000000000001.json");
    let again = last
        .log_store()
        .object_store(None)
        .put_opts(&entry, "{}".into(), object_store::PutOptions::from(object_store::PutMode::Create))
        .await;
    let overwrite_refused = matches!(again, Err(object_store::Error::AlreadyExists { .. }));
    let files = last.snapshot()?.log_data().num_files();
    let total: usize = last.snapshot()?.log_data().iter().filter_map(|f| f.num_records()).sum();
    Ok(json!({
        "rows_per_write": rows, "first_version": first.version(), "writer_a_version": a.version(),
        "writer_b_version": b.version(), "final_version": last.version(), "files": files, "total_rows": total,
        "no_lost_commit": total == 3 * rows, "put_if_absent_refused_existing_entry": overwrite_refused,
        "put_if_absent_result": format!("{again:?}"),
    }))
}
