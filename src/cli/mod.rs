//! The command line: argument parsing (clap derive) and one function per command. Errors here carry context
//! with anyhow; the library below returns typed errors. This is the edge that reads the clock.
#![allow(clippy::disallowed_methods)]

pub mod output;
mod remote;
mod shell;

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
use std::io::Write;

/// What your Amazon Bedrock usage costs, why, and how to pay less.
#[derive(Debug, Parser)]
#[command(name = "bedrock-spend", version, about)]
pub struct Cli {
    /// The Parquet warehouse every command reads or writes [default: ./bedrock-spend-data].
    #[arg(long, global = true, env = "BEDROCK_SPEND_WAREHOUSE")]
    pub warehouse: Option<PathBuf>,
    /// A price sheet replacing the bundled pricing/bedrock-prices.csv (same columns).
    #[arg(long, global = true, env = "BEDROCK_SPEND_PRICE_BOOK")]
    pub price_book: Option<PathBuf>,
    /// Private-pricing / EDP discount off list prices, in percent.
    #[arg(long, global = true, env = "BEDROCK_SPEND_DISCOUNT_PCT")]
    pub discount_pct: Option<String>,
    /// Configuration file [default: ./bedrock-spend.toml when present].
    #[arg(long, global = true, env = "BEDROCK_SPEND_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print only errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings after the config file, the environment and the flags are combined.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warehouse: PathBuf,
    pub prices: query::PriceInputs,
    pub quiet: bool,
}

impl Settings {
    /// Combine the file, the environment (through clap) and the flags, flags winning; read the price sheet.
    pub fn resolve(cli: &Cli) -> Result<Settings> {
        let file = crate::config::load(cli.config.as_deref())?;
        let warehouse =
            cli.warehouse.clone().or(file.warehouse).unwrap_or_else(|| PathBuf::from("./bedrock-spend-data"));
        let mut prices = query::PriceInputs::default();
        if let Some(path) = cli.price_book.clone().or(file.price_book) {
            prices.prices_csv =
                std::fs::read_to_string(&path).with_context(|| format!("reading price book {}", path.display()))?;
            prices.prices_origin = path.display().to_string();
        }
        if let Some(d) = cli.discount_pct.clone().or(file.discount_pct.map(|d| d.as_text())) {
            prices.discount_pct = d;
        }
        // Validate now, so a bad sheet or discount fails before any work is done.
        crate::pricing::parse_price_book(&prices.prices_csv, &prices.prices_origin)?;
        crate::pricing::settings_batch(&prices.discount_pct)?;
        Ok(Settings { warehouse, prices, quiet: cli.quiet })
    }
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
    /// Run SQL over the warehouse: tables invocations, prices, provisioned_prices; views usage_costs, invocation_costs.
    /// With no statement on a terminal, starts an interactive shell.
    Sql {
        /// The statement.
        query: Option<String>,
        /// Read the statement from a file.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Bind a named parameter: `--param since=2025-11-01` for `$since`.
        #[arg(long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// Permit statements that write files or register outside data (COPY, CREATE EXTERNAL TABLE, INSERT).
        #[arg(long)]
        allow_write: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Run a named query from queries/ (`--list` shows them).
    Query {
        /// The query name.
        name: Option<String>,
        /// List the named queries with their descriptions and parameters.
        #[arg(long)]
        list: bool,
        /// Bind a parameter: `--param month=2025-12`.
        #[arg(long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Inspect the price book.
    Pricing {
        #[command(subcommand)]
        command: PricingCommand,
    },
}

/// `pricing` subcommands.
#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// Every price row.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The prices of one model (any modelId form: `us.anthropic...`, an ARN, a base id).
    Show {
        model: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The models, Regions and days in the warehouse that the book does not price. Exit 1 if any.
    Check {
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Where and how results are written.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    #[arg(long, value_enum, default_value_t = PrintFormat::Table)]
    pub format: PrintFormat,
    /// Write to this file instead of stdout (required for parquet).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

/// `key=value`.
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().trim_start_matches('$').to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// Arguments of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// What to read: files or folders (walked recursively), `s3://BUCKET/PREFIX`, `cloudwatch://LOG_GROUP`,
    /// or `auto` (find each Region's logging destination and read it).
    #[arg(required = true)]
    pub sources: Vec<String>,
    /// Keep records at or after this time (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Keep records before this time (YYYY-MM-DD or RFC 3339, UTC; exclusive).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Decoder threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Objects fetched at once from S3 (bounds memory and connections).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Commit after this many new rows (bounds the work a crash makes the next run redo).
    #[arg(long, default_value_t = 2_000_000)]
    pub commit_every_rows: u64,
    /// Print the summary as JSON (for schedulers) instead of text.
    #[arg(long)]
    pub json: bool,
    /// AWS Region; repeat with `auto` to read several (default: the configured Region).
    #[arg(long)]
    pub region: Vec<String>,
    /// AWS profile from the shared config files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send AWS calls to this endpoint (an emulator or a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Attempts per AWS call, with backoff on throttling (default: the SDK's 3).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Fetch request bodies offloaded to S3 (over 100 KB) to fingerprint their prompts; one GET per such record.
    #[arg(long)]
    pub fetch_offloaded: bool,
    /// CloudWatch: how far before the last run's end an incremental run starts, to catch late events.
    #[arg(long, default_value_t = crate::ingest::cloudwatch::DEFAULT_OVERLAP_MINUTES)]
    pub overlap_minutes: i64,
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
    /// Multiply prompt and response lengths (0.25 gives bodies of ~100 bytes to a few KB).
    #[arg(long, default_value_t = 1.0)]
    pub body_scale: f64,
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
    let settings = Settings::resolve(&cli)?;
    match &cli.command {
        Command::Ingest(args) => run_ingest(&settings, args),
        Command::Compact { day } => run_compact(&settings, day),
        Command::Demo { logs } => run_demo(&settings, cli.warehouse.is_some(), logs.as_deref()),
        Command::Generate(args) => run_generate(&settings, args),
        Command::Rejects { limit, raw } => run_rejects(&settings, *limit, *raw),
        Command::Sql { query, file, params, allow_write, output } => {
            let sql = match (query, file) {
                (Some(q), None) => q.clone(),
                (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                (None, None) if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    return shell::run(&settings, *allow_write);
                }
                (None, None) => {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                        .context("reading SQL from stdin")?;
                    text
                }
                (Some(_), Some(_)) => bail!("give a statement or -f FILE, not both"),
            };
            let options = query::RunOptions { allow_write: *allow_write };
            let batches =
                runtime()?.block_on(query::run_sql(&settings.warehouse, &settings.prices, &sql, params, options))?;
            output::write_result(&batches, output)?;
            if (sql.contains("invocation_costs") || sql.contains("usage_costs")) && !settings.quiet {
                report_unpriced(&settings, None)?;
            }
            Ok(Outcome::Ok)
        }
        Command::Query { name, list, params, output } => {
            if *list || name.is_none() {
                let mut out = std::io::stdout().lock();
                output::print_query_list(&mut out)?;
                return Ok(Outcome::Ok);
            }
            let name = name.as_deref().unwrap_or_default();
            let batches = runtime()?.block_on(query::run_named(&settings.warehouse, &settings.prices, name, params))?;
            output::write_result(&batches, output)?;
            let costs = query::catalog::find(name).is_some_and(|q| q.sql.contains("cost_usd"));
            if costs && !settings.quiet {
                report_unpriced(&settings, Some(params))?;
            }
            Ok(Outcome::Ok)
        }
        Command::Pricing { command } => run_pricing(&settings, command),
    }
}

/// Say, on stderr, how much usage has no price: unknown spend is never silently shown as $0.
fn report_unpriced(settings: &Settings, params: Option<&[(String, String)]>) -> Result<()> {
    let filter = match params {
        Some(p) if p.iter().any(|(k, _)| k == "month") => {
            "day >= CAST($month || '-01' AS DATE) AND day < CAST($month || '-01' AS DATE) + INTERVAL '1 month'"
        }
        Some(p) if p.iter().any(|(k, _)| k == "since") && p.iter().any(|(k, _)| k == "until") => {
            "day >= CAST($since AS DATE) AND day < CAST($until AS DATE)"
        }
        _ => "true",
    };
    let sql = format!(
        "SELECT sum(requests) AS requests, sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0) \
         + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS tokens \
         FROM usage_costs WHERE NOT priced AND {filter}"
    );
    let params: Vec<(String, String)> = params.map(|p| p.to_vec()).unwrap_or_default();
    let params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| filter.contains(&format!("${k}"))).collect();
    let batches = runtime()?.block_on(query::run_sql(
        &settings.warehouse,
        &settings.prices,
        &sql,
        &params,
        Default::default(),
    ))?;
    let (requests, tokens) = output::first_two_ints(&batches);
    if requests > 0 {
        eprintln!(
            "note: {requests} request(s) with {tokens} token(s) have no price and are not in the totals above \
             (their spend is unknown, not $0); see `bedrock-spend pricing check`"
        );
    } else {
        eprintln!("note: every request in scope is priced");
    }
    Ok(())
}

fn run_pricing(settings: &Settings, command: &PricingCommand) -> Result<Outcome> {
    let columns = "model, region, routing, effective_from, effective_to, input_per_mtok, output_per_mtok, \
        cache_read_per_mtok, cache_write_per_mtok, cache_write_1h_per_mtok, batch_input_per_mtok, \
        batch_output_per_mtok, source, as_of";
    let rt = runtime()?;
    match command {
        PricingCommand::List { output: out_args } => {
            let sql = format!("SELECT {columns} FROM prices ORDER BY model, region, routing, valid_from");
            let batches =
                rt.block_on(query::run_sql(&settings.warehouse, &settings.prices, &sql, &[], Default::default()))?;
            output::write_result(&batches, out_args)?;
            Ok(Outcome::Ok)
        }
        PricingCommand::Show { model, output: out_args } => {
            let base = crate::ingest::model_id::normalize(model).model.unwrap_or_else(|| model.clone());
            let params = vec![("model".to_string(), base.clone())];
            let sql = format!("SELECT {columns} FROM prices WHERE model = $model ORDER BY region, routing, valid_from");
            let batches =
                rt.block_on(query::run_sql(&settings.warehouse, &settings.prices, &sql, &params, Default::default()))?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                eprintln!("no prices for {base}: its usage is reported as unpriced");
                return Ok(Outcome::Partial);
            }
            output::write_result(&batches, out_args)?;
            let pt = "SELECT model, region, commitment, price_per_mu_hour, input_tpm_per_mu, output_tpm_per_mu, source, as_of \
                      FROM provisioned_prices WHERE model = $model ORDER BY region, commitment";
            let batches =
                rt.block_on(query::run_sql(&settings.warehouse, &settings.prices, pt, &params, Default::default()))?;
            if batches.iter().any(|b| b.num_rows() > 0) && out_args.output.is_none() {
                println!("\nProvisioned Throughput:");
                output::write_result(&batches, out_args)?;
            }
            Ok(Outcome::Ok)
        }
        PricingCommand::Check { output: out_args } => {
            let params =
                vec![("since".to_string(), "0001-01-01".to_string()), ("until".to_string(), "9999-12-31".to_string())];
            let batches =
                rt.block_on(query::run_named(&settings.warehouse, &settings.prices, "unpriced_usage", &params))?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if rows == 0 {
                if !settings.quiet {
                    println!(
                        "the price book ({}) covers every request in the warehouse",
                        settings.prices.prices_origin
                    );
                }
                return Ok(Outcome::Ok);
            }
            output::write_result(&batches, out_args)?;
            Ok(Outcome::Partial)
        }
    }
}

/// The one async runtime of the process: queries block on it from the main thread, and ingest workers block on
/// it for AWS calls from their own threads.
static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();

pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    Ok(RUNTIME.get_or_init(|| rt))
}

fn run_ingest(cli: &Settings, args: &IngestArgs) -> Result<Outcome> {
    if let (Some(s), Some(u)) = (args.since, args.until)
        && s >= u
    {
        bail!("--since {s} is not before --until {u}");
    }
    let plan = remote::plan_sources(args)?;
    let listing =
        if plan.local.is_empty() { source::LocalListing::default() } else { source::list_local(&plan.local)? };
    let mut wh = Warehouse::open_for_write(&cli.warehouse)
        .with_context(|| format!("opening warehouse {}", cli.warehouse.display()))?;
    let now = Utc::now();
    let mut sources = listing.sources;
    let mut not_logs = listing.not_logs;
    let mut remote = remote::Gathered::default();
    if plan.has_remote() {
        remote = remote::gather(&plan, args, &cli.warehouse, now)?;
        sources.append(&mut remote.sources);
        not_logs += remote.not_logs;
    }
    let mut threads = args.threads.unwrap_or_else(default_threads);
    if plan.has_remote() {
        threads = threads.max(args.concurrency.clamp(1, 256));
    }
    let offloaded = if args.fetch_offloaded { Some(remote::offloaded_fetcher(args)?) } else { None };
    let options = IngestOptions {
        since: args.since,
        until: args.until,
        offloaded,
        threads,
        progress: !cli.quiet,
        commit_every_rows: args.commit_every_rows.max(1),
        now,
        ..IngestOptions::default()
    };
    let summary = ingest::run(&mut wh, sources, not_logs, &options)?;
    remote::advance_checkpoints(&cli.warehouse, &remote.cloudwatch_windows, &summary)?;
    if args.json {
        println!("{}", output::summary_json(&summary));
    } else if !cli.quiet {
        output::print_summary(&mut std::io::stdout().lock(), &summary)?;
    }
    let nothing_configured = plan.auto && remote.regions_with_logging == 0;
    Ok(if !summary.all_ingested() || nothing_configured || remote.errors > 0 { Outcome::Partial } else { Outcome::Ok })
}

fn ingest_into(warehouse: &Path, listing: source::LocalListing, options: &IngestOptions) -> Result<IngestSummary> {
    let mut wh =
        Warehouse::open_for_write(warehouse).with_context(|| format!("opening warehouse {}", warehouse.display()))?;
    Ok(ingest::run(&mut wh, listing.sources, listing.not_logs, options)?)
}

fn run_compact(cli: &Settings, days: &[NaiveDate]) -> Result<Outcome> {
    let mut wh = Warehouse::open_for_write(&cli.warehouse)
        .with_context(|| format!("opening warehouse {}", cli.warehouse.display()))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let selected: Vec<i32> = if days.is_empty() {
        wh.day_dirs()?.into_iter().map(|(d, _)| d).collect()
    } else {
        days.iter().map(|d| d.signed_duration_since(epoch).num_days() as i32).collect()
    };
    wh.expire_superseded(Utc::now(), crate::store::warehouse::SUPERSEDED_GRACE)?;
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

fn run_demo(settings: &Settings, explicit_warehouse: bool, logs: Option<&Path>) -> Result<Outcome> {
    let default_logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let logs = logs.unwrap_or(&default_logs);
    // The demo keeps its own warehouse unless told otherwise, so it never mixes samples into real data.
    let warehouse = if explicit_warehouse { settings.warehouse.clone() } else { PathBuf::from("./bedrock-spend-demo") };
    let listing =
        source::list_local(&[logs.to_path_buf()]).with_context(|| format!("reading sample logs {}", logs.display()))?;
    let options = IngestOptions {
        threads: default_threads(),
        progress: !settings.quiet,
        now: Utc::now(),
        ..IngestOptions::default()
    };
    let summary = ingest_into(&warehouse, listing, &options)?;
    let mut out = std::io::stdout().lock();
    output::print_summary(&mut out, &summary)?;

    let rt = runtime()?;
    let prices = &settings.prices;
    let latest = rt.block_on(query::run_sql(
        &warehouse,
        prices,
        "SELECT CAST(max(day) AS VARCHAR) FROM invocations",
        &[],
        Default::default(),
    ))?;
    let Some(latest) = output::first_string(&latest) else {
        writeln!(out, "\nno records were ingested")?;
        return Ok(Outcome::Partial);
    };
    let month = latest[..7].to_string();
    let params = vec![("month".to_string(), month.clone())];
    let summary_rows = rt.block_on(query::run_named(&warehouse, prices, "month_summary", &params))?;
    writeln!(out, "\nSpend in {month} ({}, discount {}%):", prices.prices_origin, prices.discount_pct)?;
    output::print_batches(&mut out, &summary_rows, PrintFormat::Table)?;

    let (since, until) = output::month_bounds(&month)?;
    let range = vec![("since".to_string(), since), ("until".to_string(), until)];
    let by_model = rt.block_on(query::run_named(&warehouse, prices, "spend_by_model", &range))?;
    writeln!(out, "\nSpend by model in {month}, with cache savings:")?;
    output::print_batches(&mut out, &by_model, PrintFormat::Table)?;
    let unpriced = rt.block_on(query::run_named(&warehouse, prices, "unpriced_usage", &range))?;
    if unpriced.iter().any(|b| b.num_rows() > 0) {
        writeln!(out, "\nUnpriced usage in {month} (spend unknown, not $0):")?;
        output::print_batches(&mut out, &unpriced, PrintFormat::Table)?;
    }
    writeln!(out, "\nNext: bedrock-spend --warehouse {} query --list", warehouse.display())?;
    Ok(if summary.all_ingested() { Outcome::Ok } else { Outcome::Partial })
}

fn run_generate(cli: &Settings, args: &GenerateArgs) -> Result<Outcome> {
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
        body_scale: args.body_scale,
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

fn run_rejects(cli: &Settings, limit: usize, raw: bool) -> Result<Outcome> {
    let wh = Warehouse::open_read_only(&cli.warehouse);
    let rejects = wh.last_rejects(limit)?;
    let mut out = std::io::stdout().lock();
    output::print_rejects(&mut out, &rejects, raw)?;
    Ok(Outcome::Ok)
}
