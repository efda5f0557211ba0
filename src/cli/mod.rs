//! The command line: argument parsing (clap derive) and one function per command. Errors here carry context
//! with anyhow; the library below returns typed errors.

pub mod output;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};

use crate::error::Outcome;
use crate::generate::{self, GenerateOptions, Layout};
use crate::ingest::{self, IngestOptions, IngestSummary, source};
use crate::query;
use crate::store::warehouse::Warehouse;
use output::PrintFormat;

/// What your Amazon Bedrock usage costs, why, and how to pay less.
#[derive(Debug, Parser)]
#[command(name = "bedrock-spend", version, about)]
pub struct Cli {
    /// The Parquet warehouse every command reads or writes.
    #[arg(long, global = true, env = "BEDROCK_SPEND_WAREHOUSE", default_value = "./bedrock-spend-data")]
    pub warehouse: PathBuf,
    /// Print only errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest invocation logs from files or folders into the warehouse.
    Ingest(IngestArgs),
    /// Merge each day's Parquet files into as few as possible.
    Compact {
        /// Only these days (YYYY-MM-DD); default: every day with more than one file.
        #[arg(long)]
        day: Vec<NaiveDate>,
    },
    /// Ingest the bundled sample logs and print a usage summary.
    Demo {
        /// The logs to use (default: the repository's sample-logs/).
        #[arg(long)]
        logs: Option<PathBuf>,
    },
    /// Write realistic synthetic logs (S3 delivery layout and/or CloudWatch exports).
    Generate(GenerateArgs),
    /// List records that could not be ingested, with their source, position and reason.
    Rejects {
        /// Show at most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Include the raw text of each reject.
        #[arg(long)]
        raw: bool,
    },
    /// Run SQL over the warehouse (table `invocations`).
    Sql {
        /// The statement.
        query: Option<String>,
        /// Read the statement from a file.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = PrintFormat::Table)]
        format: PrintFormat,
    },
}

/// Arguments of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Files or folders (walked recursively): gzip or plain, NDJSON, pretty-printed, arrays, CloudWatch exports.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// Keep records at or after this time (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Keep records before this time (YYYY-MM-DD or RFC 3339, UTC; exclusive).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Decoder threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Commit after this many new rows (bounds the work a crash makes the next run redo).
    #[arg(long, default_value_t = 2_000_000)]
    pub commit_every_rows: u64,
    /// Print the summary as JSON (for schedulers) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of records.
    #[arg(long, default_value_t = 10_000)]
    pub records: u64,
    /// First day (UTC).
    #[arg(long, default_value = "2025-11-01")]
    pub start: NaiveDate,
    /// Number of days.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Layout::S3)]
    pub layout: Layout,
    /// With `--layout both`, only the last N days also go to the CloudWatch export.
    #[arg(long)]
    pub cloudwatch_days: Option<u32>,
    #[arg(long, default_value = "111122223333")]
    pub account_id: String,
    /// Writer threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Minutes of traffic per S3 object.
    #[arg(long, default_value_t = 5)]
    pub object_minutes: u32,
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{text:?} is not YYYY-MM-DD or an RFC 3339 time"))
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    match &cli.command {
        Command::Ingest(args) => run_ingest(&cli, args),
        Command::Compact { day } => run_compact(&cli, day),
        Command::Demo { logs } => run_demo(&cli, logs.as_deref()),
        Command::Generate(args) => run_generate(&cli, args),
        Command::Rejects { limit, raw } => run_rejects(&cli, *limit, *raw),
        Command::Sql { query, file, format } => {
            let sql = match (query, file) {
                (Some(q), None) => q.clone(),
                (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                _ => bail!("give exactly one of a query or -f FILE"),
            };
            let batches = runtime()?.block_on(query::run_sql(&cli.warehouse, &sql, &[]))?;
            output::print_batches(&mut std::io::stdout().lock(), &batches, *format)?;
            Ok(Outcome::Ok)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn run_ingest(cli: &Cli, args: &IngestArgs) -> Result<Outcome> {
    if let (Some(s), Some(u)) = (args.since, args.until)
        && s >= u
    {
        bail!("--since {s} is not before --until {u}");
    }
    let listing = source::list_local(&args.sources)?;
    let options = IngestOptions {
        since: args.since,
        until: args.until,
        threads: args.threads.unwrap_or_else(default_threads),
        progress: !cli.quiet,
        commit_every_rows: args.commit_every_rows.max(1),
        now: Utc::now(),
        ..IngestOptions::default()
    };
    let summary = ingest_into(&cli.warehouse, listing, &options)?;
    if args.json {
        println!("{}", output::summary_json(&summary));
    } else if !cli.quiet {
        output::print_summary(&mut std::io::stdout().lock(), &summary)?;
    }
    Ok(if summary.rejected > 0 { Outcome::Partial } else { Outcome::Ok })
}

fn ingest_into(warehouse: &Path, listing: source::LocalListing, options: &IngestOptions) -> Result<IngestSummary> {
    let mut wh =
        Warehouse::open_for_write(warehouse).with_context(|| format!("opening warehouse {}", warehouse.display()))?;
    Ok(ingest::run(&mut wh, listing.sources, listing.not_logs, options)?)
}

fn run_compact(cli: &Cli, days: &[NaiveDate]) -> Result<Outcome> {
    let mut wh = Warehouse::open_for_write(&cli.warehouse)
        .with_context(|| format!("opening warehouse {}", cli.warehouse.display()))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let selected: Vec<i32> = if days.is_empty() {
        wh.day_dirs()?.into_iter().map(|(d, _)| d).collect()
    } else {
        days.iter().map(|d| d.signed_duration_since(epoch).num_days() as i32).collect()
    };
    let mut compacted = 0;
    for day in selected {
        let outcome = wh.compact_day(day, ingest::COMPACT_MAX_ROWS_PER_FILE)?;
        if outcome.files_before > 1 {
            compacted += 1;
            if !cli.quiet {
                println!(
                    "{}: {} files -> {} ({} rows, {} duplicates dropped)",
                    crate::store::warehouse::day_date(day),
                    outcome.files_before,
                    outcome.files_after,
                    outcome.rows,
                    outcome.duplicates_dropped
                );
            }
        }
    }
    if !cli.quiet {
        println!("compacted {compacted} day(s)");
    }
    Ok(Outcome::Ok)
}

fn run_demo(cli: &Cli, logs: Option<&Path>) -> Result<Outcome> {
    let default_logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let logs = logs.unwrap_or(&default_logs);
    let explicit_warehouse = std::env::args().any(|a| a == "--warehouse" || a.starts_with("--warehouse="))
        || std::env::var_os("BEDROCK_SPEND_WAREHOUSE").is_some();
    // The demo keeps its own warehouse unless told otherwise, so it never mixes samples into real data.
    let warehouse = if explicit_warehouse { cli.warehouse.clone() } else { PathBuf::from("./bedrock-spend-demo") };
    let listing =
        source::list_local(&[logs.to_path_buf()]).with_context(|| format!("reading sample logs {}", logs.display()))?;
    let options =
        IngestOptions { threads: default_threads(), progress: !cli.quiet, now: Utc::now(), ..IngestOptions::default() };
    let summary = ingest_into(&warehouse, listing, &options)?;
    let mut out = std::io::stdout().lock();
    output::print_summary(&mut out, &summary)?;
    let batches = runtime()?.block_on(query::run_named(
        &warehouse,
        "tokens_by_model",
        &[("since", "1970-01-01"), ("until", "9999-12-31")],
    ))?;
    use std::io::Write;
    writeln!(out, "\nUsage by model ({}):", warehouse.display())?;
    output::print_batches(&mut out, &batches, PrintFormat::Table)?;
    writeln!(
        out,
        "\nTry: bedrock-spend --warehouse {} sql \"SELECT principal, count(*) FROM invocations GROUP BY 1\"",
        warehouse.display()
    )?;
    Ok(if summary.rejected > 0 { Outcome::Partial } else { Outcome::Ok })
}

fn run_generate(cli: &Cli, args: &GenerateArgs) -> Result<Outcome> {
    let options = GenerateOptions {
        out: args.out.clone(),
        records: args.records,
        start: args.start,
        days: args.days,
        seed: args.seed,
        layout: args.layout,
        cloudwatch_days: args.cloudwatch_days,
        account_id: args.account_id.clone(),
        threads: args.threads.unwrap_or_else(default_threads),
        object_minutes: args.object_minutes,
    };
    let summary = generate::generate(&options)?;
    if !cli.quiet {
        println!(
            "wrote {} records: {} S3 objects ({} bytes gzip), {} CloudWatch export files ({} events) under {}",
            summary.records,
            summary.s3_objects,
            summary.bytes,
            summary.cloudwatch_files,
            summary.cloudwatch_records,
            args.out.display()
        );
    }
    Ok(Outcome::Ok)
}

fn run_rejects(cli: &Cli, limit: usize, raw: bool) -> Result<Outcome> {
    let wh = Warehouse::open_read_only(&cli.warehouse);
    let rejects = wh.read_rejects()?;
    let mut out = std::io::stdout().lock();
    output::print_rejects(&mut out, &rejects, limit, raw)?;
    Ok(Outcome::Ok)
}
