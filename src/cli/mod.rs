//! The command line: argument parsing (clap derive) and one function per command. Errors here carry context
//! with anyhow; the library below returns typed errors. This is the edge that reads the clock.
#![allow(clippy::disallowed_methods)]

pub mod output;
mod shell;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};

use crate::aws::{AwsOptions, S3Location};
use crate::config::{Config, Overrides};
use crate::error::Outcome;
use crate::generate::{self, GenerateOptions, Layout};
use crate::ingest::plan::{self, Plan, PlanOptions};
use crate::ingest::sources::local::{self, LocalListing};
use crate::ingest::{self, IngestOptions, IngestSummary};
use crate::query::rows::{ModelSpend, MonthSummary};
use crate::query::{Params, Period, RunOptions, Session, SessionOptions, Statement};
use crate::report::{MonthlyReport, ReportFormat};
use crate::store::files::Remote;
use crate::store::warehouse::Warehouse;
use output::PrintFormat;
use std::io::Write;

/// What your Amazon Bedrock usage costs, why, and how to pay less.
#[derive(Debug, Parser)]
#[command(name = "bedrock-spend", version, about)]
pub struct Cli {
    /// The Parquet warehouse every command reads or writes: a directory or s3://BUCKET/PREFIX (env
    /// BEDROCK_SPEND_WAREHOUSE) [default: ./bedrock-spend-data].
    #[arg(long, global = true)]
    pub warehouse: Option<PathBuf>,
    /// A price sheet replacing the bundled pricing/bedrock-prices.csv, same columns (env BEDROCK_SPEND_PRICE_BOOK).
    #[arg(long, global = true)]
    pub price_book: Option<PathBuf>,
    /// Private-pricing / EDP discount off list prices, in percent (env BEDROCK_SPEND_DISCOUNT_PCT).
    #[arg(long, global = true)]
    pub discount_pct: Option<String>,
    /// Memory a query may hold before it fails with a clear error, e.g. 4G (env BEDROCK_SPEND_MEMORY_LIMIT)
    /// [default: half the machine's memory].
    #[arg(long, global = true)]
    pub memory_limit: Option<String>,
    /// Configuration file (env BEDROCK_SPEND_CONFIG) [default: ./bedrock-spend.toml when present].
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Print only errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What every command runs with: the validated configuration and the run's flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warehouse: PathBuf,
    pub config: Config,
    pub quiet: bool,
    /// How an `s3://` warehouse (and every other AWS call) is reached: the command's AWS flags.
    pub aws: AwsOptions,
}

impl Settings {
    /// Combine the file, the environment and the flags (flags winning); parse the price book once.
    pub fn resolve(cli: &Cli) -> Result<Settings> {
        let flags = Overrides {
            config: cli.config.clone(),
            warehouse: cli.warehouse.clone(),
            price_book: cli.price_book.clone(),
            discount_pct: cli.discount_pct.clone(),
            memory_limit: cli.memory_limit.clone(),
        };
        let config = Config::resolve(&flags)?;
        let aws = cli.command.aws().cloned().unwrap_or_default();
        if aws.regions.len() > 1 && !matches!(cli.command, Command::Ingest(_)) {
            bail!("--region is given {} times: only `ingest` reads several Regions", aws.regions.len());
        }
        Ok(Settings { warehouse: config.warehouse.clone(), config, quiet: cli.quiet, aws: aws.options() })
    }

    /// Open the query session over the warehouse (which must exist).
    fn session(&self) -> Result<Session> {
        self.session_over(&self.warehouse)
    }

    /// Open a query session over `warehouse` (which must exist), reached with the command's AWS flags.
    fn session_over(&self, warehouse: &Path) -> Result<Session> {
        let options = SessionOptions { memory_limit_bytes: self.config.memory_limit_bytes, aws: self.aws.clone() };
        Ok(runtime()?.block_on(async {
            let session = Session::open(warehouse, &self.config.pricing, options).await?;
            // `query recommend_batch` splits callers' traffic as `recommend` does.
            session.group_by_metadata(&self.config.recommend.batch_group_by_metadata).await?;
            Ok::<_, crate::query::Error>(session)
        })?)
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
        /// S3 warehouse: take over the writer lease held by a run on another host (make sure that run is dead: a
        /// live one stops at its next commit). One not renewed for 10 minutes is taken over without it.
        #[arg(long)]
        break_lease: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Generate the sample logs (the repository's sample-logs/), ingest them into ./bedrock-spend-demo and print
    /// the last month's spend.
    Demo {
        /// Ingest these logs instead of generating the samples.
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
        #[command(flatten)]
        aws: AwsArgs,
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
        #[command(flatten)]
        aws: AwsArgs,
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
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Find the money: ranked recommendations (batch, prompt caching, throughput commitments, routing, model
    /// lifecycle) with their evidence, computed from the price book; optionally emailed (exit 3 when the email was
    /// not delivered).
    Recommend(RecommendArgs),
    /// The monthly FinOps report: spend, change, models, callers, caching, unpriced usage, coverage and prices,
    /// as HTML, Markdown, JSON or CSV; optionally emailed (exit 3 when the email was not delivered).
    Report(ReportArgs),
    /// Print the SQL that defines the warehouse, the price book and the cost views (`usage_costs`,
    /// `invocation_costs`) in Athena or Spark, for data that outgrew one machine.
    Ddl(DdlArgs),
    /// Inspect the price book.
    Pricing {
        #[command(subcommand)]
        command: PricingCommand,
    },
}

impl Command {
    /// The command's AWS flags; `None` for the commands that never call AWS.
    fn aws(&self) -> Option<&AwsArgs> {
        match self {
            Command::Ingest(IngestArgs { aws, .. })
            | Command::Compact { aws, .. }
            | Command::Rejects { aws, .. }
            | Command::Sql { aws, .. }
            | Command::Query { aws, .. }
            | Command::Recommend(RecommendArgs { aws, .. })
            | Command::Report(ReportArgs { aws, .. })
            | Command::Ddl(DdlArgs { aws, .. })
            | Command::Pricing {
                command:
                    PricingCommand::List { aws, .. } | PricingCommand::Show { aws, .. } | PricingCommand::Check { aws, .. },
            } => Some(aws),
            Command::Demo { .. } | Command::Generate(_) | Command::Pricing { command: PricingCommand::Sync(_) } => None,
        }
    }
}

/// `pricing` subcommands.
#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// Every price row.
    List {
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// The prices of one model (any modelId form: `us.anthropic...`, an ARN, a base id).
    Show {
        model: String,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// The models, Regions and days in the warehouse that the book does not price, and traffic on models past
    /// their end of life (a warning on stderr). Exit 1 if any.
    Check {
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Rebuild the book from the AWS Price List (both Bedrock offer codes) plus the hand-kept rows, and print how
    /// it differs from the current book. Exit 0 when the prices are the same, 1 when they changed, 2 on an error
    /// (the book is then untouched).
    Sync(SyncArgs),
}

/// Arguments of `pricing sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Sync only this Region (repeatable) [default: every Region of the region index]. Rows of other Regions
    /// in the current book are kept as they are.
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Read saved offer files from this folder instead of the network, laid out as the endpoint serves them
    /// (offers/v1.0/aws/<OfferCode>/current/region_index.json and the paths it names).
    #[arg(long, value_name = "DIR")]
    pub offer_dir: Option<PathBuf>,
    /// Replace the book with the synced one (a temporary file renamed over it).
    #[arg(long)]
    pub write: bool,
    /// The book to compare with and to write [default: --price-book when set, else the bundled book, which can
    /// only be compared with]. A missing file counts as an empty book.
    #[arg(long, value_name = "PATH")]
    pub book: Option<PathBuf>,
    /// The Price List endpoint.
    #[arg(long, value_name = "URL", default_value = crate::pricing::sync::fetch::DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The alias table from Price List product names to model ids [default: the bundled
    /// pricing/price-list-aliases.csv].
    #[arg(long, value_name = "PATH")]
    pub aliases: Option<PathBuf>,
    /// The hand-kept rows merged over the Price List's [default: the bundled pricing/hand-kept-prices.csv].
    #[arg(long, value_name = "PATH")]
    pub hand_kept: Option<PathBuf>,
    /// Seconds one HTTP attempt may take, from connecting to the last byte.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// HTTP attempts after the first, on timeouts, connection errors, 5xx and 429 (waiting 0.5 s, 1 s, 2 s ...).
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
}

/// Where and how results are written.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    #[arg(long, value_enum, default_value_t = PrintFormat::Table)]
    pub format: PrintFormat,
    /// Write to this file instead of stdout (required for parquet). Written whole or not at all.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Rows a table or Markdown result shows (0: all); other formats always write every row.
    #[arg(long, default_value_t = output::DEFAULT_MAX_ROWS)]
    pub maxrows: usize,
}

/// How AWS is reached: the sources and discovery of `ingest`, `ddl --upload-prices`, and every command over an
/// `s3://` warehouse. Flattened into each command that may call AWS, so `--help` shows them only there.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// AWS Region [default: the configured Region, e.g. AWS_REGION]; `ingest auto` reads each Region given
    /// (repeat it).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// AWS profile from the shared config files.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Send AWS calls to this endpoint (an emulator or a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Attempts per AWS call, with backoff on throttling and 5xx [default: the SDK's 3].
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
}

impl AwsArgs {
    /// The options every AWS client is built with: the first `--region` (`ingest auto` reads the others too).
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.regions.first().cloned(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: self.max_attempts,
        }
    }
}

/// Arguments of `recommend`.
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    /// First day analysed (YYYY-MM-DD, inclusive) [default: `[recommend] window_days` days ending with the last
    /// day of data].
    #[arg(long, value_parser = parse_date)]
    pub since: Option<NaiveDate>,
    /// Day after the last one analysed (YYYY-MM-DD, exclusive) [default: the day after the last day of data].
    #[arg(long, value_parser = parse_date)]
    pub until: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = crate::recommend::render::Format::Table)]
    pub format: crate::recommend::render::Format,
    /// Hide recommendations saving less than this a month (USD) [default: `[recommend] min_monthly_savings_usd`].
    #[arg(long)]
    pub min_monthly_savings: Option<crate::query::Decimal>,
    /// Write to this file instead of stdout (written whole or not at all); with --email-to and no -o, nothing is
    /// written besides the email.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Email the recommendations (Markdown text, an HTML alternative, the JSON attached) to these addresses,
    /// comma-separated. SMTP settings come from [smtp] or BEDROCK_SPEND_SMTP_*; the password only from
    /// BEDROCK_SPEND_SMTP_PASSWORD.
    #[arg(long, value_delimiter = ',')]
    pub email_to: Vec<String>,
    /// With --email-to: write the message as a .eml file instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the .eml file [default: bedrock-spend-recommendations-SINCE.eml].
    #[arg(long)]
    pub eml: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `YYYY-MM-DD`.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The month: YYYY-MM, or `last` (the previous calendar month, UTC).
    #[arg(long, default_value = "last")]
    pub month: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// Write the report to this file (whole or not at all) instead of stdout; with --email-to and no -o, nothing
    /// is written besides the email.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Email the report (HTML body, plain-text alternative, CSV attached) to these addresses, comma-separated.
    /// SMTP settings come from [smtp] or BEDROCK_SPEND_SMTP_*; the password only from BEDROCK_SPEND_SMTP_PASSWORD.
    #[arg(long, value_delimiter = ',')]
    pub email_to: Vec<String>,
    /// With --email-to: write the message as a .eml file instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the .eml file [default: bedrock-spend-report-YYYY-MM.eml].
    #[arg(long)]
    pub eml: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
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
    /// Fetch request bodies offloaded to S3 (over 100 KB) to fingerprint their prompts; one GET per such record.
    #[arg(long)]
    pub fetch_offloaded: bool,
    /// CloudWatch: how far before the last run's end an incremental run starts, to catch late events.
    #[arg(long, default_value_t = crate::ingest::sources::cloudwatch::DEFAULT_OVERLAP_MINUTES)]
    pub overlap_minutes: i64,
    /// S3 warehouse: take over the writer lease left by a run that died on another host (make sure
    /// that run is dead: two writers at once are not safe). A lease of a dead process on this host, or one not
    /// renewed for 10 minutes, is taken over without it.
    #[arg(long)]
    pub break_lease: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Arguments of `ddl`.
#[derive(Debug, clap::Args)]
pub struct DdlArgs {
    /// The engine whose SQL to print.
    #[arg(long, value_enum)]
    pub engine: crate::ddl::Engine,
    /// Database (Glue database, Spark schema) for the tables and views [default: the current one].
    #[arg(long)]
    pub database: Option<String>,
    /// Where the warehouse is, as the engine reads it: `s3://BUCKET/PREFIX` (Spark outside EMR: `s3a://`), a
    /// `file:` URI or a local path (Spark only) [default: --warehouse].
    #[arg(long)]
    pub location: Option<String>,
    /// The folder holding the price book files [default: LOCATION/pricing].
    #[arg(long)]
    pub prices_location: Option<String>,
    /// Put the price book files (the bundled ones or --price-book) under the prices location first.
    #[arg(long)]
    pub upload_prices: bool,
    /// First day of Athena's partition projection (YYYY-MM-DD) [default: 2023-09-01].
    #[arg(long)]
    pub since: Option<NaiveDate>,
    #[command(flatten)]
    pub aws: AwsArgs,
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
        Command::Compact { day, break_lease, .. } => run_compact(&settings, day, *break_lease),
        Command::Demo { logs } => run_demo(&settings, cli.warehouse.is_some(), logs.as_deref()),
        Command::Generate(args) => run_generate(&settings, args),
        Command::Rejects { limit, raw, .. } => run_rejects(&settings, *limit, *raw),
        Command::Sql { query, file, params, allow_write, output, .. } => {
            let sql = match (query, file) {
                (Some(q), None) => q.clone(),
                (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                (None, None) if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    return shell::run(&settings.session()?, *allow_write);
                }
                (None, None) => {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                        .context("reading SQL from stdin")?;
                    text
                }
                (Some(_), Some(_)) => bail!("give a statement or -f FILE, not both"),
            };
            let session = settings.session()?;
            let params = Params::from_pairs(params);
            let options = RunOptions { allow_write: *allow_write };
            let statement = runtime()?.block_on(session.statement(&sql, &params, options))?;
            print_statement(&settings, &session, statement, &params, output)?;
            Ok(Outcome::Ok)
        }
        Command::Query { name, list, params, output, .. } => {
            let Some(name) = name.as_deref().filter(|_| !*list) else {
                output::print_query_list(&mut std::io::stdout().lock())?;
                return Ok(Outcome::Ok);
            };
            let session = settings.session()?;
            let params = Params::from_pairs(params);
            let statement = runtime()?.block_on(session.named(name, &params))?;
            print_statement(&settings, &session, statement, &params, output)?;
            Ok(Outcome::Ok)
        }
        Command::Pricing { command } => run_pricing(&settings, command),
        Command::Ddl(args) => run_ddl(&settings, args),
        Command::Recommend(args) => run_recommend(&settings, args),
        Command::Report(args) => run_report(&settings, args),
    }
}

/// `ddl`: print the engine SQL, after uploading the price book when asked.
fn run_ddl(settings: &Settings, args: &DdlArgs) -> Result<Outcome> {
    use crate::ddl::{self, upload};
    let location = match &args.location {
        Some(l) => location_uri(l)?,
        None => location_uri(&settings.warehouse.display().to_string())?,
    };
    let prices_location = match &args.prices_location {
        Some(l) => location_uri(l)?,
        None => format!("{location}/pricing"),
    };
    let book = &settings.config.pricing.book;
    let book_text = if book.origin == crate::pricing::BUNDLED_ORIGIN {
        crate::pricing::BUNDLED_PRICES.to_string()
    } else {
        std::fs::read_to_string(&book.origin).with_context(|| format!("reading price book {}", book.origin))?
    };
    let provisioned_text = crate::pricing::BUNDLED_PROVISIONED;
    let options = ddl::Options {
        engine: args.engine,
        database: args.database.clone(),
        location,
        prices_location: prices_location.clone(),
        since: args.since.unwrap_or(ddl::DEFAULT_SINCE),
        discount: settings.config.pricing.discount.clone(),
        price_columns: ddl::csv_header(&book_text, &book.origin)?,
        provisioned_columns: ddl::csv_header(provisioned_text, "bundled pricing/provisioned-throughput.csv")?,
        long_context_thresholds: book.long_context_thresholds(),
        header_lines: [ddl::csv_header_lines(&book_text), ddl::csv_header_lines(provisioned_text)],
    };
    let script = ddl::script(&options)?;
    if args.upload_prices {
        let [(prices_folder, prices_name, _), (pt_folder, pt_name, _)] = ddl::PRICE_FILES;
        let files = [
            upload::PriceFile { folder: prices_folder, name: prices_name, bytes: book_text.into_bytes() },
            upload::PriceFile { folder: pt_folder, name: pt_name, bytes: provisioned_text.as_bytes().to_vec() },
        ];
        let written = runtime()?.block_on(upload::upload(&prices_location, &files, &settings.aws))?;
        if !settings.quiet {
            for w in written {
                eprintln!("bedrock-spend: uploaded {w}");
            }
        }
    }
    std::io::stdout().lock().write_all(script.as_bytes())?;
    Ok(Outcome::Ok)
}

/// A location as engines name it: URIs as given (without a trailing slash), a local path as an absolute
/// `file:` URI.
fn location_uri(text: &str) -> Result<String> {
    let text = text.trim_end_matches('/');
    if ["s3://", "s3a://", "file:", "gs://", "abfss://"].iter().any(|scheme| text.starts_with(scheme)) {
        return Ok(text.to_string());
    }
    let path = std::path::absolute(text).with_context(|| format!("resolving {text}"))?;
    Ok(format!("file:{}", path.display()))
}

/// Stream a statement's result where the output arguments say, then, when it read a cost view, say how much usage
/// in its window has no price.
fn print_statement(
    settings: &Settings,
    session: &Session,
    statement: Statement,
    params: &Params,
    args: &OutputArgs,
) -> Result<output::Written> {
    let reads_costs = statement.reads_costs();
    let written = write_statement(statement, args)?;
    if reads_costs && !settings.quiet {
        let period = params.implied_period().unwrap_or_else(Period::all);
        report_unpriced(session, &period)?;
    }
    Ok(written)
}

/// Stream a statement's batches to stdout or a file. A file appears only once complete: it is written beside its
/// final name and renamed, and removed if the query or the write fails.
fn write_statement(statement: Statement, args: &OutputArgs) -> Result<output::Written> {
    let schema = statement.schema();
    match &args.output {
        None if args.format == PrintFormat::Parquet => bail!("--format parquet needs -o FILE"),
        None => {
            // Buffered (the sink must be Send for the Parquet writer; stdout is locked per flush, not per row).
            let out = std::io::BufWriter::new(std::io::stdout());
            stream_into(statement, output::ResultWriter::new(out, args.format, args.maxrows), &schema)
        }
        Some(path) => {
            let (file, pending) =
                crate::output_file::create(path).with_context(|| format!("creating {}", path.display()))?;
            let written = stream_into(
                statement,
                output::ResultWriter::new(std::io::BufWriter::new(file), args.format, 0),
                &schema,
            )
            .with_context(|| format!("writing {}", path.display()))?;
            pending.commit().with_context(|| format!("writing {}", path.display()))?;
            Ok(written)
        }
    }
}

fn stream_into<W: Write + Send>(
    statement: Statement,
    mut writer: output::ResultWriter<W>,
    schema: &arrow::datatypes::SchemaRef,
) -> Result<output::Written> {
    let mut written = output::Written::default();
    runtime()?.block_on(async {
        let mut stream = statement.stream().await?;
        while let Some(batch) = stream.next().await {
            writer.write(&batch?, &mut written).context("writing the result")?;
        }
        anyhow::Ok(())
    })?;
    writer.finish(schema, written).context("writing the result")?;
    Ok(written)
}

/// Say, on stderr, how much usage has no price: unknown spend is never silently shown as $0.
fn report_unpriced(session: &Session, period: &Period) -> Result<()> {
    let unpriced = runtime()?.block_on(session.unpriced(period))?;
    if unpriced.requests > 0 {
        eprintln!(
            "note: {} request(s) with {} token(s) have no price and are not in the totals above \
             (their spend is unknown, not $0); see `bedrock-spend pricing check`",
            unpriced.requests, unpriced.tokens
        );
    } else {
        eprintln!("note: every request in scope is priced");
    }
    Ok(())
}

fn run_pricing(settings: &Settings, command: &PricingCommand) -> Result<Outcome> {
    let rt = runtime()?;
    // Every subcommand but sync reads the warehouse.
    let session = || settings.session();
    match command {
        PricingCommand::Sync(args) => run_sync(settings, args),
        PricingCommand::List { output: out_args, .. } => {
            let session = session()?;
            let statement = rt.block_on(session.named("price_book", &Params::new()))?;
            write_statement(statement, out_args)?;
            Ok(Outcome::Ok)
        }
        PricingCommand::Show { model, output: out_args, .. } => {
            let session = session()?;
            let base = crate::model_id::normalize(model).model.unwrap_or_else(|| model.clone());
            let params = Params::new().text("model", base.clone());
            let statement = rt.block_on(session.named("model_prices", &params))?;
            if write_statement(statement, out_args)?.rows == 0 {
                eprintln!("no prices for {base}: its usage is reported as unpriced");
                return Ok(Outcome::Partial);
            }
            let provisioned = rt.block_on(session.named("model_provisioned_prices", &params))?;
            if out_args.output.is_none() {
                println!("\nProvisioned Throughput:");
                write_statement(provisioned, out_args)?;
            }
            Ok(Outcome::Ok)
        }
        PricingCommand::Check { output: out_args, .. } => {
            let session = session()?;
            let params = Params::new().period(&Period::all());
            let statement = rt.block_on(session.named("unpriced_usage", &params))?;
            let unpriced = rt.block_on(session.unpriced(&Period::all()))?;
            // Traffic on retired models: the book stops pricing a model on its end-of-life day, so this traffic
            // is also in the unpriced listing; the warning says why, and what to move to.
            let days = rt.block_on(session.rows::<crate::query::rows::ModelDay>(&Params::new()))?;
            let lifecycle = crate::pricing::parse_lifecycle(
                crate::pricing::BUNDLED_LIFECYCLE,
                "bundled pricing/model-lifecycle.csv",
            )?;
            let retired = crate::pricing::past_end_of_life(
                days.iter().map(|d| (d.model.as_str(), d.day, d.requests)),
                &lifecycle,
            );
            for r in &retired {
                let successor =
                    r.successor.as_deref().map(|s| format!("; suggested successor {s}")).unwrap_or_default();
                eprintln!(
                    "warning: {} request(s) on {} from {} to {}, on or after its end of life ({}){successor}",
                    r.requests, r.model, r.first_day, r.last_day, r.end_of_life
                );
            }
            if unpriced.requests == 0 {
                if !settings.quiet {
                    println!("the price book ({}) covers every request in the warehouse", session.price_origin());
                }
                return Ok(if retired.is_empty() { Outcome::Ok } else { Outcome::Partial });
            }
            write_statement(statement, out_args)?;
            Ok(Outcome::Partial)
        }
    }
}

/// `pricing sync`: fetch, build, validate with the book loader, print the diff, and write only when asked.
fn run_sync(settings: &Settings, args: &SyncArgs) -> Result<Outcome> {
    use crate::pricing::sync::{self, alias::AliasTable, book, fetch};
    let read = |path: &Path| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()));
    let configured = &settings.config.pricing.book.origin;
    let book_path = args
        .book
        .clone()
        .or_else(|| (configured.as_str() != crate::pricing::BUNDLED_ORIGIN).then(|| PathBuf::from(configured)));
    if args.write && book_path.is_none() {
        bail!("--write needs --book PATH (or --price-book): the bundled book is compiled into the binary");
    }
    let (current_text, current_origin) = match &book_path {
        Some(path) if !path.exists() => (String::new(), path.display().to_string()),
        Some(path) => (read(path)?, path.display().to_string()),
        None => (crate::pricing::BUNDLED_PRICES.to_string(), crate::pricing::BUNDLED_ORIGIN.to_string()),
    };
    let current: Vec<book::BookRow> = if current_text.trim().is_empty() {
        Vec::new()
    } else {
        book::read_book(&current_text, &current_origin)?.into_iter().map(|(_, r)| r).collect()
    };
    let aliases = match &args.aliases {
        Some(path) => AliasTable::parse(&read(path)?, &path.display().to_string())?,
        None => AliasTable::parse(sync::alias::BUNDLED_ALIASES, "bundled pricing/price-list-aliases.csv")?,
    };
    let hand_kept = match &args.hand_kept {
        Some(path) => book::read_book(&read(path)?, &path.display().to_string())?,
        None => book::read_book(sync::BUNDLED_HAND_KEPT, "bundled pricing/hand-kept-prices.csv")?,
    };
    let source = match &args.offer_dir {
        Some(dir) => fetch::OfferSource::Dir(dir.clone()),
        None => fetch::OfferSource::http(
            &args.endpoint,
            fetch::HttpOptions {
                timeout: std::time::Duration::from_secs(args.timeout_secs.max(1)),
                retries: args.retries,
                ..fetch::HttpOptions::default()
            },
        )?,
    };
    let offers = runtime()?.block_on(fetch::fetch_offers(&source, &args.regions))?;
    let carry_over = if args.regions.is_empty() {
        Vec::new()
    } else {
        sync::rows_outside(&current, &offers.iter().map(|o| o.region.clone()).collect())
    };
    let synced = sync::build(&offers, &aliases, &hand_kept, &carry_over)?;
    let dates: Vec<&str> = synced.report.publication_dates.iter().map(String::as_str).collect();
    let comment = format!(
        "Written by `bedrock-spend pricing sync` from the AWS Price List (offers {}; published {})\n\
         and the hand-kept rows. Edit pricing/hand-kept-prices.csv and pricing/price-list-aliases.csv, not this file.",
        crate::pricing::sync::offer::OFFER_CODES.join(", "),
        dates.join(", ")
    );
    let text = book::write_book(&synced.rows, &comment)?;
    // The loader the queries use must accept what is written.
    crate::pricing::parse_price_book(&text, "the synced book").map_err(sync::Error::Invalid)?;
    let diff = book::Diff::between(&current, &synced.rows);
    let mut out = std::io::stdout().lock();
    if !settings.quiet {
        write!(out, "{}", synced.report.render())?;
    }
    writeln!(out, "compared with {current_origin}:")?;
    write!(out, "{}", diff.render())?;
    if args.write {
        let Some(path) = &book_path else {
            bail!("--write needs --book PATH (or --price-book): the bundled book is compiled into the binary");
        };
        write_atomically(path, text.as_bytes())?;
        writeln!(out, "wrote {} ({} rows)", path.display(), synced.rows.len())?;
    }
    Ok(if diff.prices_changed() { Outcome::Partial } else { Outcome::Ok })
}

/// Write a file whole or not at all (see [`crate::output_file`]).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::output_file::write_whole(path, bytes).with_context(|| format!("writing {}", path.display()))
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
    let plan = Plan::new(&args.sources)?;
    let has_remote = plan.has_remote();
    let auto = plan.auto;
    let aws = cli.aws.clone();
    let mut wh = open_for_write(&cli.warehouse, &aws, args.break_lease)?;
    let now = Utc::now();
    let plan_options = PlanOptions {
        since: args.since,
        until: args.until,
        aws,
        regions: args.aws.regions.clone(),
        overlap: chrono::Duration::minutes(args.overlap_minutes.max(0)),
        fetch_offloaded: args.fetch_offloaded,
    };
    let gathered = plan::gather(plan, &plan_options, runtime()?.handle(), &wh, now)?;
    for notice in &gathered.notices {
        eprintln!("bedrock-spend: {notice}");
    }
    let (region_errors, nothing_configured) = (gathered.errors(), auto && gathered.regions_with_logging == 0);
    let mut threads = args.threads.unwrap_or_else(default_threads);
    if has_remote {
        threads = threads.max(args.concurrency.clamp(1, 256));
    }
    let options = IngestOptions {
        since: args.since,
        until: args.until,
        threads,
        progress: !cli.quiet,
        commit_every_rows: args.commit_every_rows.max(1),
        now,
        ..IngestOptions::default()
    };
    let summary = gathered.ingest(&mut wh, &options)?;
    if args.json {
        println!("{}", output::summary_json(&summary));
    } else if !cli.quiet {
        output::print_summary(&mut std::io::stdout().lock(), &summary)?;
    }
    Ok(if !summary.all_ingested() || nothing_configured || region_errors > 0 { Outcome::Partial } else { Outcome::Ok })
}

fn ingest_into(warehouse: &Path, listing: LocalListing, options: &IngestOptions) -> Result<IngestSummary> {
    let mut wh = open_for_write(warehouse, &AwsOptions::default(), false)?;
    Ok(ingest::run(&mut wh, listing.sources, listing.not_logs, options)?)
}

/// Open the warehouse for writing: a local directory (held with a lock file), or `s3://BUCKET/PREFIX` (held with
/// a lease object; see `store::lease`), reached with `aws`'s credentials, Region and endpoint.
fn open_for_write(warehouse: &Path, aws: &AwsOptions, break_lease: bool) -> Result<Warehouse> {
    let context = || format!("opening warehouse {}", warehouse.display());
    match warehouse.to_str().and_then(S3Location::parse) {
        None => Warehouse::open_for_write(warehouse).with_context(context),
        Some(location) => {
            let remote = remote_warehouse(&location, aws).with_context(context)?;
            let warehouse = Warehouse::open_remote_for_write(remote, break_lease).with_context(context)?;
            if let Some(notice) = warehouse.lease_notice() {
                eprintln!("bedrock-spend: warning: {notice}");
            }
            Ok(warehouse)
        }
    }
}

/// Open the warehouse for reading its rejects (no lock, no lease).
fn open_read_only(warehouse: &Path, aws: &AwsOptions) -> Result<Warehouse> {
    match warehouse.to_str().and_then(S3Location::parse) {
        None => {
            if !warehouse.join("invocations").is_dir() {
                return Err(crate::query::Error::NoWarehouse { path: warehouse.display().to_string() }.into());
            }
            Ok(Warehouse::open_read_only(warehouse))
        }
        Some(location) => {
            let remote = remote_warehouse(&location, aws)
                .with_context(|| format!("opening warehouse {}", warehouse.display()))?;
            Ok(Warehouse::open_remote_read_only(remote))
        }
    }
}

/// The object store and staging directory of a warehouse in S3.
fn remote_warehouse(location: &S3Location, aws: &AwsOptions) -> Result<std::sync::Arc<Remote>> {
    let rt = runtime()?;
    let store = rt
        .block_on(crate::aws::warehouse_store(aws, &location.bucket))
        .with_context(|| format!("connecting to S3 bucket {}", location.bucket))?;
    let url = format!("s3://{}/{}", location.bucket, location.prefix);
    let remote =
        Remote::new(store, &url, &location.prefix, rt.handle().clone()).context("making a staging directory")?;
    Ok(std::sync::Arc::new(remote))
}

fn run_compact(cli: &Settings, days: &[NaiveDate], break_lease: bool) -> Result<Outcome> {
    let mut wh = open_for_write(&cli.warehouse, &cli.aws, break_lease)?;
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

/// How `sample-logs/` was made (README, "Synthetic logs"): `demo` makes the same logs on the spot, so a bare
/// binary needs no source tree.
pub fn sample_logs_options(out: PathBuf, threads: usize) -> GenerateOptions {
    GenerateOptions {
        out,
        records: 2500,
        start: NaiveDate::from_ymd_opt(2025, 11, 1).unwrap_or_default(),
        days: 61,
        seed: 2025,
        layout: Layout::Both,
        cloudwatch_days: Some(2),
        account_id: "111122223333".to_string(),
        threads,
        object_minutes: 60,
        body_scale: 1.0,
    }
}

fn run_demo(settings: &Settings, explicit_warehouse: bool, logs: Option<&Path>) -> Result<Outcome> {
    // The demo keeps its own warehouse unless told otherwise, so it never mixes samples into real data.
    let warehouse = if explicit_warehouse { settings.warehouse.clone() } else { PathBuf::from("./bedrock-spend-demo") };
    let mut out = std::io::stdout().lock();
    let generated = match logs {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(format!("bedrock-spend-demo-logs-{}", std::process::id()));
            let summary = generate::generate(&sample_logs_options(dir.clone(), default_threads()))
                .context("generating the sample logs")?;
            writeln!(
                out,
                "generated the sample logs: {} records from 2025-11-01 to 2025-12-31 ({} S3 objects, {} CloudWatch \
                 export files)",
                summary.records, summary.s3_objects, summary.cloudwatch_files
            )?;
            Some(dir)
        }
    };
    let logs_dir = logs.map(Path::to_path_buf).or_else(|| generated.clone()).unwrap_or_default();
    let listing = local::list_local(std::slice::from_ref(&logs_dir))
        .with_context(|| format!("reading sample logs {}", logs_dir.display()));
    let options = IngestOptions {
        threads: default_threads(),
        progress: !settings.quiet,
        now: Utc::now(),
        ..IngestOptions::default()
    };
    let summary = listing.and_then(|listing| ingest_into(&warehouse, listing, &options));
    if let Some(dir) = &generated {
        let _ = std::fs::remove_dir_all(dir);
    }
    let summary = summary?;
    output::print_summary(&mut out, &summary)?;

    let rt = runtime()?;
    let session = settings.session_over(&warehouse)?;
    let Some(latest) = rt.block_on(session.extent())?.last_day else {
        writeln!(out, "\nno records were ingested")?;
        return Ok(Outcome::Partial);
    };
    let month = Period::month(chrono::Datelike::year(&latest), chrono::Datelike::month(&latest))?;
    let params = Params::new().period(&month);
    let pricing = &settings.config.pricing;
    writeln!(out, "\nSpend in {month} ({}, discount {}%):", pricing.book.origin, pricing.discount.as_text())?;
    for row in rt.block_on(session.rows::<MonthSummary>(&params))? {
        writeln!(
            out,
            "  {} requests, {} (list {}), cache savings {}; {} request(s) unpriced",
            row.requests,
            usd(row.cost_usd),
            usd(row.list_cost_usd),
            usd(row.cache_savings_usd),
            row.unpriced_requests
        )?;
    }
    writeln!(out, "\nSpend by model in {month}, with cache savings:")?;
    let by_model = rt.block_on(session.rows::<ModelSpend>(&params))?;
    let width = by_model.iter().map(|r| r.model.len()).max().unwrap_or(0);
    for row in &by_model {
        writeln!(
            out,
            "  {:<width$}  {:>12}  {:>7} requests  cache savings {}",
            row.model,
            usd(row.cost_usd),
            row.requests,
            usd(row.cache_savings_usd)
        )?;
    }
    let unpriced = rt.block_on(session.named("unpriced_usage", &params))?;
    writeln!(out, "\nUnpriced usage in {month} (spend unknown, not $0):")?;
    drop(out);
    write_statement(unpriced, &OutputArgs { format: PrintFormat::Table, output: None, maxrows: 20 })?;
    println!(
        "\nNext: bedrock-spend --warehouse {dir} query --list; bedrock-spend --warehouse {dir} recommend",
        dir = warehouse.display()
    );
    // The demo ends with what to change: the top three savings over the last 30 days of the samples, every saving
    // shown (the samples are small, so their savings are cents). Recommendations that claim no saving (evidence, a
    // quote to ask for) rank after every saving; they are counted here and listed by `recommend`.
    let mut config = settings.config.recommend.clone();
    config.min_monthly_savings_usd = crate::query::Decimal::ZERO;
    let window = Period::days_ending(latest, config.window_days);
    let recs = rt.block_on(crate::recommend::recommend(&session, &window, &config))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nTop recommendations for {window} (bedrock-spend recommend shows them all):")?;
    let without_saving = recs.iter().filter(|r| r.monthly_savings_usd <= crate::query::Decimal::ZERO).count();
    let top: Vec<_> =
        recs.into_iter().filter(|r| r.monthly_savings_usd > crate::query::Decimal::ZERO).take(3).collect();
    crate::recommend::render::render(&mut out, &top, crate::recommend::render::Format::Table)?;
    if without_saving > 0 {
        writeln!(out, "and {without_saving} recommendation(s) that claim no saving (evidence, a quote to ask for)")?;
    }
    Ok(if summary.all_ingested() { Outcome::Ok } else { Outcome::Partial })
}

fn run_recommend(settings: &Settings, args: &RecommendArgs) -> Result<Outcome> {
    let recipients = email_recipients(settings, &args.email_to, args.dry_run)?;
    let session = settings.session()?;
    let rt = runtime()?;
    let mut config = settings.config.recommend.clone();
    if let Some(min) = args.min_monthly_savings {
        if min.is_sign_negative() {
            bail!("--min-monthly-savings {min} is negative");
        }
        config.min_monthly_savings_usd = min;
    }
    let period = match (args.since, args.until) {
        (Some(since), Some(until)) => Period::new(since, until)?,
        (since, until) => {
            let last = match until {
                Some(u) => u.pred_opt().unwrap_or(u),
                None => match rt.block_on(session.extent())?.last_day {
                    Some(day) => day,
                    None => {
                        if !settings.quiet {
                            let emailed = if recipients.is_some() { " (nothing emailed)" } else { "" };
                            eprintln!("bedrock-spend: the warehouse holds no records: nothing to recommend{emailed}");
                        }
                        return Ok(Outcome::Ok);
                    }
                },
            };
            match since {
                Some(since) => Period::new(since, last.succ_opt().unwrap_or(last))?,
                None => Period::days_ending(last, config.window_days),
            }
        }
    };
    let recs = rt.block_on(crate::recommend::recommend(&session, &period, &config))?;
    let mut buffer = Vec::new();
    crate::recommend::render::render(&mut buffer, &recs, args.format)?;
    match (&args.output, &recipients) {
        (Some(path), _) => write_atomically(path, &buffer)?,
        (None, None) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&buffer)?;
            out.flush()?;
        }
        (None, Some(_)) => {}
    }
    if let Some(to) = recipients {
        let unpriced = rt.block_on(session.unpriced(&period))?;
        let email = recommend_email(&recs, &period, &unpriced)?;
        let eml = args
            .eml
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("bedrock-spend-recommendations-{}.eml", period.since())));
        deliver_email(settings, &to, &email, args.dry_run, &eml, "recommendations")?;
    } else if !settings.quiet && args.format == crate::recommend::render::Format::Table {
        report_unpriced(&session, &period)?;
    }
    Ok(Outcome::Ok)
}

/// The recommendations as an email: the Markdown text (the ranked table, then each action and why), an HTML
/// alternative, and the JSON attached (exactly what `--format json` prints).
pub fn recommend_email(
    recs: &[crate::recommend::Recommendation],
    period: &Period,
    unpriced: &crate::query::rows::UnpricedTotals,
) -> Result<crate::notify::Email> {
    use crate::recommend::render;
    let last = period.until().pred_opt().unwrap_or(period.until());
    let window = format!("{} to {last}", period.since());
    let context = render::EmailContext {
        window: &window,
        unpriced_requests: unpriced.requests,
        unpriced_tokens: unpriced.tokens,
    };
    let mut text = Vec::new();
    render::render_email_text(&mut text, recs, &context)?;
    let mut html = Vec::new();
    render::render_email_html(&mut html, recs, &context)?;
    let mut json = Vec::new();
    render::render(&mut json, recs, render::Format::Json)?;
    Ok(crate::notify::Email {
        subject: render::subject(recs, &context),
        text: String::from_utf8(text).context("the recommendations' text")?,
        html: String::from_utf8(html).context("the recommendations' HTML")?,
        related: Vec::new(),
        attachments: vec![crate::notify::Attachment {
            filename: format!("bedrock-spend-recommendations-{}-to-{last}.json", period.since()),
            content_type: "application/json".to_string(),
            body: json,
        }],
    })
}

/// `--email-to`'s recipients, checked before the (possibly long) queries so a typo fails fast; `None` without
/// `--email-to`. Sending needs `[smtp]`; `--dry-run` (a `.eml` file) does not.
fn email_recipients(settings: &Settings, email_to: &[String], dry_run: bool) -> Result<Option<Vec<lettre::Address>>> {
    if email_to.is_empty() {
        if dry_run {
            bail!("--dry-run needs --email-to (it writes the email as a .eml file instead of sending it)");
        }
        return Ok(None);
    }
    let to = crate::notify::parse_recipients(email_to)?;
    if !dry_run && settings.config.smtp.is_none() {
        bail!("--email-to needs an SMTP server: set [smtp] host and from in the config, or BEDROCK_SPEND_SMTP_HOST");
    }
    Ok(Some(to))
}

/// Send `email` over SMTP, or with `dry_run` write it to `eml`; `what` names it in the confirmation on stderr. A
/// failure is a `notify::Error` in the chain: exit 3.
fn deliver_email(
    settings: &Settings,
    to: &[lettre::Address],
    email: &crate::notify::Email,
    dry_run: bool,
    eml: &Path,
    what: &str,
) -> Result<()> {
    let from = settings.config.smtp.as_ref().map_or("bedrock-spend@localhost", |s| s.from.as_str());
    let password = std::env::var("BEDROCK_SPEND_SMTP_PASSWORD").ok().filter(|p| !p.is_empty());
    let delivery = match (&settings.config.smtp, dry_run) {
        (_, true) => crate::notify::Delivery::Eml { path: eml, from },
        (Some(config), false) => crate::notify::Delivery::Smtp { config, password: password.as_deref() },
        (None, false) => bail!("--email-to needs an SMTP server"),
    };
    let warning = crate::notify::deliver(&delivery, to, email)?;
    if let Some(w) = warning {
        eprintln!("bedrock-spend: warning: {:#}", anyhow::Error::from(w));
    }
    if !settings.quiet {
        let names = to.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        if dry_run {
            eprintln!("wrote the email to {names} as {}", eml.display());
        } else {
            eprintln!("emailed the {what} to {names}");
        }
    }
    Ok(())
}

/// Money for people: `$1,234.56`; unknown is `unknown`, never `$0`.
fn usd(value: Option<crate::query::Decimal>) -> String {
    value.map_or_else(|| "unknown".to_string(), crate::money::usd)
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
    let wh = open_read_only(&cli.warehouse, &cli.aws)?;
    let rejects = wh.last_rejects(limit)?;
    let mut out = std::io::stdout().lock();
    output::print_rejects(&mut out, &rejects, raw)?;
    Ok(Outcome::Ok)
}

/// Records rejected at ingest in the whole warehouse. One small function, so the reader behind it (the rejects
/// files) can change without touching the report.
pub fn count_rejects(warehouse: &Path, aws: &AwsOptions) -> Result<u64> {
    let mut count = 0;
    for row in open_read_only(warehouse, aws)?.read_rejects()? {
        count += row?.count();
    }
    Ok(count)
}

/// `last` (the calendar month before `now`, UTC) or `YYYY-MM`.
pub fn parse_report_month(text: &str, now: DateTime<Utc>) -> Result<Period> {
    if text.trim().eq_ignore_ascii_case("last") {
        return Ok(Period::last_month(now));
    }
    Ok(Period::parse_month(text)?)
}

/// Build the month's report from the warehouse.
pub fn build_report(settings: &Settings, session: &Session, period: &Period) -> Result<MonthlyReport> {
    let config = &settings.config;
    let options = crate::report::GatherOptions {
        metadata_keys: &config.report.metadata_keys,
        recommend: &config.recommend,
        rejected_records: count_rejects(&settings.warehouse, &settings.aws)?,
        price_book: config.pricing.book.origin.clone(),
        discount_pct: config.pricing.discount.as_text().to_string(),
    };
    let inputs = runtime()?.block_on(crate::report::gather(session, period, &options))?;
    Ok(MonthlyReport::build(inputs))
}

/// A rendered report in memory.
fn render_to_vec(report: &MonthlyReport, format: ReportFormat) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    crate::report::render(report, format, &mut out)?;
    Ok(out)
}

fn run_report(settings: &Settings, args: &ReportArgs) -> Result<Outcome> {
    let period = parse_report_month(&args.month, Utc::now())?;
    let recipients = email_recipients(settings, &args.email_to, args.dry_run)?;
    let session = settings.session()?;
    let report = build_report(settings, &session, &period)?;
    let rendered = render_to_vec(&report, args.format)?;
    match (&args.output, &recipients) {
        (Some(path), _) => write_atomically(path, &rendered)?,
        (None, None) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&rendered)?;
            out.flush()?;
        }
        (None, Some(_)) => {}
    }
    if let Some(to) = recipients {
        let email = report_email(&report)?;
        let month = report.month.clone();
        let eml = args.eml.clone().unwrap_or_else(|| PathBuf::from(format!("bedrock-spend-report-{month}.eml")));
        deliver_email(settings, &to, &email, args.dry_run, &eml, &format!("{month} report"))?;
    }
    if report.totals.unpriced_requests > 0 && !settings.quiet {
        eprintln!(
            "note: {} request(s) with {} token(s) in {} have no price; the report calls them out (spend unknown, not $0)",
            report.totals.unpriced_requests, report.totals.unpriced_tokens, report.month
        );
    }
    Ok(Outcome::Ok)
}

/// The report as an email: HTML body with the chart as an inline PNG beside it (Gmail and Outlook desktop drop
/// inline SVG), the Markdown as the plain-text alternative, the CSV attached.
pub fn report_email(report: &MonthlyReport) -> Result<crate::notify::Email> {
    let text = String::from_utf8(render_to_vec(report, ReportFormat::Markdown)?).context("the report's text")?;
    let chart_cid = format!("daily-spend-{}@bedrock-spend", report.month);
    let body = crate::report::render_email_html(report, &chart_cid)?;
    let related = body.chart_png.map(|png| crate::notify::Related {
        content_id: chart_cid,
        filename: format!("bedrock-spend-{}-daily.png", report.month),
        content_type: "image/png".to_string(),
        body: png,
    });
    Ok(crate::notify::Email {
        subject: crate::report::subject(report),
        text,
        html: body.html,
        related: related.into_iter().collect(),
        attachments: vec![crate::notify::Attachment {
            filename: format!("bedrock-spend-{}.csv", report.month),
            content_type: "text/csv; charset=utf-8".to_string(),
            body: render_to_vec(report, ReportFormat::Csv)?,
        }],
    })
}
