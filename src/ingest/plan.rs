//! Source planning: what a run reads, and the checkpoints it moves afterwards. The library's entry to ingesting
//! from AWS by itself.
//!
//! A run is three steps: [`Plan::new`] sorts the SOURCE arguments (local paths, `s3://`, `cloudwatch://`,
//! `auto`) and lists the local ones, so a missing input fails before the warehouse is touched; [`gather`] does the
//! AWS side (lists S3, plans each CloudWatch window from its watermark, and for `auto` asks each Region's control
//! plane where its logs go and stores its estate snapshot); [`Gathered::ingest`] runs the ingest and then moves
//! each CloudWatch watermark whose window was read without failure, matching failures to windows by source id.
//!
//! It prints nothing: what a person should hear (where a Region's logs go, how to enable logging, what part of
//! the estate could not be read, which Region failed) comes back as [`Notice`]s for the caller to show.

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use tokio::runtime::Handle;

use super::sources::SourceObject;
use super::sources::cloudwatch::{self, Checkpoint};
use super::sources::local::{self, LocalListing};
use super::sources::s3;
use super::{IngestOptions, IngestSummary, OffloadedFetcher, SourceFailure};
use crate::aws::discover::{self, Destination};
use crate::aws::{self, AwsOptions, S3Location};
use crate::store::warehouse::{self, Warehouse};

/// Errors that stop planning (a Region that cannot be read is a [`Notice`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{text:?} names no log group")]
    LogGroupUrl { text: String },
    #[error(transparent)]
    S3(#[from] s3::Error),
    #[error(transparent)]
    Local(#[from] local::ListError),
    #[error("cannot read the CloudWatch checkpoint in {}", warehouse.display())]
    ReadCheckpoint { warehouse: PathBuf, source: io::Error },
    #[error("cannot write the CloudWatch checkpoint in {}", warehouse.display())]
    WriteCheckpoint { warehouse: PathBuf, source: io::Error },
    #[error("cannot store the Bedrock estate of {region}")]
    Estate { region: String, source: warehouse::Error },
    #[error(transparent)]
    Ingest(#[from] super::Error),
}

/// How to read AWS sources. Plain values, so any caller (not only the CLI) can build one.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Keep only records at or after this time (also prunes S3 hour folders and starts new CloudWatch windows).
    pub since: Option<DateTime<Utc>>,
    /// Keep only records before this time.
    pub until: Option<DateTime<Utc>>,
    /// How to reach AWS; its `region` is the Region of `s3://` and `cloudwatch://` sources.
    pub aws: AwsOptions,
    /// The Regions `auto` reads; empty reads the default Region.
    pub regions: Vec<String>,
    /// How far before the watermark an incremental CloudWatch run starts, to catch late events.
    pub overlap: Duration,
    /// Build a fetcher of offloaded request bodies (one S3 GET per such record) for [`Gathered::ingest`].
    pub fetch_offloaded: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            since: None,
            until: None,
            aws: AwsOptions::default(),
            regions: Vec::new(),
            overlap: Duration::minutes(cloudwatch::DEFAULT_OVERLAP_MINUTES),
            fetch_offloaded: false,
        }
    }
}

/// The SOURCE arguments, sorted by kind, with the local ones already listed.
#[derive(Debug, Default)]
pub struct Plan {
    /// Files found under the local paths.
    pub local: LocalListing,
    /// `s3://` locations.
    pub s3: Vec<S3Location>,
    /// `cloudwatch://` log groups.
    pub cloudwatch: Vec<String>,
    /// `auto` was given: discover each Region's destination.
    pub auto: bool,
}

impl Plan {
    /// Sort the SOURCE arguments and list the local ones (files, and folders walked recursively). Fails on an
    /// unreadable URL or a missing local input, before anything is written.
    pub fn new<S: AsRef<str>>(sources: &[S]) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        let mut local = Vec::new();
        for text in sources.iter().map(AsRef::as_ref) {
            if text == "auto" {
                plan.auto = true;
            } else if text.starts_with("s3://") {
                plan.s3.push(s3::parse_url(text)?);
            } else if text.starts_with("cloudwatch://") {
                let group = cloudwatch::parse_url(text).ok_or_else(|| Error::LogGroupUrl { text: text.to_string() })?;
                plan.cloudwatch.push(group);
            } else {
                local.push(PathBuf::from(text));
            }
        }
        if !local.is_empty() {
            plan.local = local::list_local(&local)?;
        }
        Ok(plan)
    }

    /// Does anything need AWS?
    pub fn has_remote(&self) -> bool {
        self.auto || !self.s3.is_empty() || !self.cloudwatch.is_empty()
    }
}

/// A CloudWatch window read by this run, to become the new watermark once its rows are durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchWindow {
    /// The checkpoint key (`region:group`).
    pub key: String,
    /// The id of the source reading the window: what a failure of it carries.
    pub source_id: String,
    /// The end of the window: the watermark once it has been read.
    pub end: DateTime<Utc>,
}

/// Something planning found that a person should hear about. Only [`Notice::RegionFailed`] means something
/// was left unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `auto`: where a Region's logs go.
    LogsGoTo { region: String, destination: Destination },
    /// `auto`: invocation logging is off in a Region, so there is nothing to read there.
    LoggingNotEnabled { region: String },
    /// `auto`: part of a Region's estate could not be read; model resolution for profiles goes on without it.
    EstateIncomplete { region: String, warning: String },
    /// `auto`: a Region's destination could not be read or listed; nothing of it is read this run.
    RegionFailed { region: String, message: String },
}

impl Notice {
    /// Was something left unread (the run should end as a partial success)?
    pub fn is_error(&self) -> bool {
        matches!(self, Notice::RegionFailed { .. })
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::LogsGoTo { region, destination: Destination::S3(location) } => {
                write!(f, "{region}: logs go to s3://{}/{}", location.bucket, location.prefix)
            }
            Notice::LogsGoTo { region, destination: Destination::CloudWatch { group } } => {
                write!(f, "{region}: logs go to CloudWatch Logs group {group}")
            }
            Notice::LogsGoTo { region, destination: Destination::NotConfigured }
            | Notice::LoggingNotEnabled { region } => f.write_str(&discover::enable_hint(region)),
            Notice::EstateIncomplete { region, warning } => {
                write!(f, "{region}: warning: {warning} (model resolution for profiles goes on without it)")
            }
            Notice::RegionFailed { region, message } => write!(f, "{region}: {message}"),
        }
    }
}

/// Everything a run reads, and what planning found.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Local files, S3 objects and CloudWatch windows, in that order.
    pub sources: Vec<SourceObject>,
    /// Objects and files passed over as not logs.
    pub not_logs: u64,
    /// The CloudWatch windows among `sources`, for the watermarks.
    pub cloudwatch_windows: Vec<CloudWatchWindow>,
    /// `auto`: Regions whose logging is enabled.
    pub regions_with_logging: usize,
    /// What to tell the user, in the order it was found.
    pub notices: Vec<Notice>,
    /// Fetches offloaded bodies, when [`PlanOptions::fetch_offloaded`] asked for it.
    pub offloaded: Option<OffloadedFetcher>,
}

/// Gather the plan's sources: the local listing, then S3 listings, CloudWatch windows planned from the
/// checkpoint in the warehouse and, for `auto`, each Region's destination and estate (whose snapshot is written
/// to the warehouse). AWS calls block on `runtime`, which the sources' readers also use from decoder threads.
pub fn gather(
    plan: Plan,
    options: &PlanOptions,
    runtime: &Handle,
    warehouse: &Warehouse,
    now: DateTime<Utc>,
) -> Result<Gathered, Error> {
    let has_remote = plan.has_remote();
    let mut gathered = Gathered { sources: plan.local.sources, not_logs: plan.local.not_logs, ..Gathered::default() };
    let files = warehouse.files();
    let root = files.display(files.root());
    if options.fetch_offloaded {
        let config = runtime.block_on(aws::sdk_config(&options.aws, None));
        gathered.offloaded = Some(s3::offloaded_fetcher(aws::s3_client(&config), runtime.clone()));
    }
    if !has_remote {
        return Ok(gathered);
    }
    let checkpoint =
        Checkpoint::load(files).map_err(|source| Error::ReadCheckpoint { warehouse: root.clone(), source })?;
    let default_config = runtime.block_on(aws::sdk_config(&options.aws, None));
    let default_region = default_config.region().map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
    let add_s3 =
        |gathered: &mut Gathered, config: &aws_config::SdkConfig, location: &S3Location| -> Result<(), s3::Error> {
            let client = aws::s3_client(config);
            let listing = runtime.block_on(s3::list(&client, location, options.since, options.until, now))?;
            gathered.not_logs += listing.not_logs;
            gathered.sources.extend(s3::sources(&client, runtime, &location.bucket, listing.objects));
            Ok(())
        };
    let add_cloudwatch = |gathered: &mut Gathered, config: &aws_config::SdkConfig, region: &str, group: &str| {
        let key = Checkpoint::key(region, group);
        let watermark = checkpoint.watermarks.get(&key).copied();
        let (start, end) = cloudwatch::window(watermark, options.since, options.until, now, options.overlap);
        let source = cloudwatch::source(&aws::logs_client(config), runtime, region, group, start, end);
        gathered.cloudwatch_windows.push(CloudWatchWindow { key, source_id: source.id.clone(), end });
        gathered.sources.push(source);
    };

    for location in &plan.s3 {
        add_s3(&mut gathered, &default_config, location)?;
    }
    for group in &plan.cloudwatch {
        add_cloudwatch(&mut gathered, &default_config, &default_region, group);
    }
    if plan.auto {
        let regions = if options.regions.is_empty() { vec![default_region.clone()] } else { options.regions.clone() };
        for region in regions {
            let config = runtime.block_on(aws::sdk_config(&options.aws, Some(&region)));
            let bedrock = aws::bedrock_client(&config);
            let destination = match runtime.block_on(discover::logging_destination(&bedrock, &region)) {
                Ok(d) => d,
                Err(message) => {
                    gathered.notices.push(Notice::RegionFailed { region, message });
                    continue;
                }
            };
            let estate = runtime.block_on(discover::estate(&bedrock, &region));
            for warning in estate.warnings {
                gathered.notices.push(Notice::EstateIncomplete { region: region.clone(), warning });
            }
            crate::store::estate::write_snapshot_to(files, &region, &estate.provisioned, &estate.profiles, now)
                .map_err(|source| Error::Estate { region: region.clone(), source })?;
            match &destination {
                Destination::S3(location) => {
                    gathered.regions_with_logging += 1;
                    gathered
                        .notices
                        .push(Notice::LogsGoTo { region: region.clone(), destination: destination.clone() });
                    if let Err(e) = add_s3(&mut gathered, &config, location) {
                        gathered.notices.push(Notice::RegionFailed { region, message: e.to_string() });
                    }
                }
                Destination::CloudWatch { group } => {
                    gathered.regions_with_logging += 1;
                    gathered
                        .notices
                        .push(Notice::LogsGoTo { region: region.clone(), destination: destination.clone() });
                    add_cloudwatch(&mut gathered, &config, &region, group);
                }
                Destination::NotConfigured => gathered.notices.push(Notice::LoggingNotEnabled { region }),
            }
        }
    }
    Ok(gathered)
}

impl Gathered {
    /// Notices that mean something was left unread.
    pub fn errors(&self) -> usize {
        self.notices.iter().filter(|n| n.is_error()).count()
    }

    /// Ingest the gathered sources into `warehouse` (with the offloaded-body fetcher, if one was asked for),
    /// then move each CloudWatch watermark whose window was read without failure. The watermark file is written
    /// only after the run committed, so a window is never marked read unless its rows are durable.
    pub fn ingest(self, warehouse: &mut Warehouse, options: &IngestOptions) -> Result<IngestSummary, Error> {
        let options =
            IngestOptions { offloaded: self.offloaded.or_else(|| options.offloaded.clone()), ..options.clone() };
        let summary = super::run(warehouse, self.sources, self.not_logs, &options)?;
        advance_checkpoints(warehouse.files(), &self.cloudwatch_windows, &summary.failures)?;
        Ok(summary)
    }
}

/// Move each CloudWatch watermark to the end of the window just read, unless reading it failed.
pub fn advance_checkpoints(
    warehouse: &crate::store::files::Files,
    windows: &[CloudWatchWindow],
    failures: &[SourceFailure],
) -> Result<(), Error> {
    if windows.is_empty() {
        return Ok(());
    }
    let shown = warehouse.display(warehouse.root());
    let mut checkpoint =
        Checkpoint::load(warehouse).map_err(|source| Error::ReadCheckpoint { warehouse: shown.clone(), source })?;
    advance(&mut checkpoint, windows, failures);
    checkpoint.save(warehouse).map_err(|source| Error::WriteCheckpoint { warehouse: shown, source })
}

/// The watermark rule: a window's end becomes its watermark unless a failure carries the window's source id.
/// Ids are compared whole; a failure's text is never searched (one window's id may be part of another's, or of
/// a message about something else).
fn advance(checkpoint: &mut Checkpoint, windows: &[CloudWatchWindow], failures: &[SourceFailure]) {
    checkpoint.version = 1;
    for w in windows {
        let failed = failures.iter().any(|f| f.source_id == w.source_id);
        if !failed {
            checkpoint.watermarks.insert(w.key.clone(), w.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ingest::FailureKind;

    #[test]
    fn watermarks_advance_by_source_id_not_by_text() {
        let t = |h| Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).single().expect("a valid time");
        let window = |group: &str, region: &str, end| CloudWatchWindow {
            key: Checkpoint::key(region, group),
            source_id: format!("cloudwatch://{group}#{}@{region}", cloudwatch::STREAM),
            end,
        };
        // The first id is a prefix of the second, and the third's group name holds the first's whole id.
        let short = window("bedrock", "us-east-1", t(12));
        let long = window("bedrock", "us-east-1-extra", t(12));
        let nested = window(&short.source_id, "us-east-1", t(12));
        let failure = |id: &str, message: String| SourceFailure {
            source_id: id.to_string(),
            kind: FailureKind::NotFound,
            message,
        };
        let cases = [
            // (failures, keys that must advance)
            (vec![], vec![&short.key, &long.key, &nested.key]),
            (vec![failure(&long.source_id, "gone".into())], vec![&short.key, &nested.key]),
            (vec![failure(&nested.source_id, "gone".into())], vec![&short.key, &long.key]),
            (vec![failure(&short.source_id, "gone".into())], vec![&long.key, &nested.key]),
            // A message naming another window's id fails only its own source.
            (
                vec![failure("s3://b/k", format!("while {} was read", short.source_id))],
                vec![&short.key, &long.key, &nested.key],
            ),
        ];
        let windows = [short.clone(), long.clone(), nested.clone()];
        for (failures, advanced) in cases {
            let mut checkpoint = Checkpoint::default();
            checkpoint.watermarks.insert(short.key.clone(), t(9));
            advance(&mut checkpoint, &windows, &failures);
            for w in &windows {
                let want = if advanced.contains(&&w.key) {
                    Some(t(12))
                } else if w.key == short.key {
                    Some(t(9))
                } else {
                    None
                };
                let ids: Vec<&str> = failures.iter().map(|f| f.source_id.as_str()).collect();
                assert_eq!(checkpoint.watermarks.get(&w.key).copied(), want, "window {} with failures {ids:?}", w.key);
            }
        }
    }
}
