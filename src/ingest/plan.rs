//! Turning `s3://`, `cloudwatch://` and `auto` arguments into sources: the AWS edge of `ingest`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

use super::IngestArgs;
use crate::aws::{self, AwsOptions};
use crate::ingest::IngestSummary;
use crate::ingest::cloudwatch::{self, Checkpoint};
use crate::ingest::discover::{self, Destination};
use crate::ingest::s3::{self, S3Location};
use crate::ingest::source::SourceObject;

/// The ingest arguments, sorted by kind.
#[derive(Debug, Default)]
pub struct Plan {
    pub local: Vec<PathBuf>,
    pub s3: Vec<S3Location>,
    pub cloudwatch: Vec<String>,
    pub auto: bool,
}

impl Plan {
    /// Does anything need AWS?
    pub fn has_remote(&self) -> bool {
        self.auto || !self.s3.is_empty() || !self.cloudwatch.is_empty()
    }
}

/// Sort the SOURCE arguments.
pub fn plan_sources(args: &IngestArgs) -> Result<Plan> {
    let mut plan = Plan::default();
    for text in &args.sources {
        if text == "auto" {
            plan.auto = true;
        } else if text.starts_with("s3://") {
            plan.s3.push(s3::parse_url(text)?);
        } else if text.starts_with("cloudwatch://") {
            plan.cloudwatch.push(cloudwatch::parse_url(text).with_context(|| format!("{text:?} names no log group"))?);
        } else {
            plan.local.push(PathBuf::from(text));
        }
    }
    Ok(plan)
}

/// A CloudWatch window read by this run, to become the new watermark once its rows are durable.
#[derive(Debug, Clone)]
pub struct CloudWatchWindow {
    pub key: String,
    pub source_id: String,
    pub end: DateTime<Utc>,
}

/// Sources found in AWS, and what discovery said.
#[derive(Default)]
pub struct Gathered {
    pub sources: Vec<SourceObject>,
    pub not_logs: u64,
    pub cloudwatch_windows: Vec<CloudWatchWindow>,
    pub regions_with_logging: usize,
    /// Regions or locations that could not be read (already reported on stderr).
    pub errors: usize,
}

/// List S3 prefixes, plan CloudWatch windows and, for `auto`, discover each Region's destination and estate.
pub fn gather(plan: &Plan, args: &IngestArgs, warehouse: &Path, now: DateTime<Utc>) -> Result<Gathered> {
    let rt = super::runtime()?;
    let handle = rt.handle().clone();
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.first().cloned(),
        endpoint_url: args.endpoint_url.clone(),
        max_attempts: args.max_attempts,
    };
    let checkpoint = Checkpoint::load(warehouse).context("reading the CloudWatch checkpoint")?;
    let overlap = Duration::minutes(args.overlap_minutes.max(0));
    let mut gathered = Gathered::default();

    let default_config = rt.block_on(aws::sdk_config(&options, None));
    let default_region = default_config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".to_string());
    let add_s3 = |gathered: &mut Gathered, config: &aws_config::SdkConfig, location: &S3Location| -> Result<()> {
        let client = aws::s3_client(config);
        let listing = rt.block_on(s3::list(&client, location, args.since, args.until, now))?;
        gathered.not_logs += listing.not_logs;
        gathered.sources.extend(s3::sources(&client, &handle, &location.bucket, listing.objects));
        Ok(())
    };
    let add_cloudwatch = |gathered: &mut Gathered, config: &aws_config::SdkConfig, region: &str, group: &str| {
        let key = Checkpoint::key(region, group);
        let (start, end) =
            cloudwatch::window(checkpoint.watermarks.get(&key).copied(), args.since, args.until, now, overlap);
        let source = cloudwatch::source(&aws::logs_client(config), &handle, region, group, start, end);
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
        let regions = if args.region.is_empty() { vec![default_region.clone()] } else { args.region.clone() };
        for region in regions {
            let config = rt.block_on(aws::sdk_config(&options, Some(&region)));
            let bedrock = aws::bedrock_client(&config);
            let destination = match rt.block_on(discover::logging_destination(&bedrock, &region)) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("bedrock-spend: {region}: {e}");
                    gathered.errors += 1;
                    continue;
                }
            };
            let estate = rt.block_on(discover::estate(&bedrock, &region));
            for warning in &estate.warnings {
                eprintln!(
                    "bedrock-spend: {region}: warning: {warning} (model resolution for profiles goes on without it)"
                );
            }
            crate::store::estate::write_snapshot(warehouse, &region, &estate.provisioned, &estate.profiles, now)?;
            match destination {
                Destination::S3(location) => {
                    gathered.regions_with_logging += 1;
                    eprintln!("bedrock-spend: {region}: logs go to s3://{}/{}", location.bucket, location.prefix);
                    if let Err(e) = add_s3(&mut gathered, &config, &location) {
                        eprintln!("bedrock-spend: {region}: {e:#}");
                        gathered.errors += 1;
                    }
                }
                Destination::CloudWatch { group } => {
                    gathered.regions_with_logging += 1;
                    eprintln!("bedrock-spend: {region}: logs go to CloudWatch Logs group {group}");
                    add_cloudwatch(&mut gathered, &config, &region, &group);
                }
                Destination::NotConfigured => eprintln!("bedrock-spend: {}", discover::enable_hint(&region)),
            }
        }
    }
    Ok(gathered)
}

/// A fetcher of offloaded bodies (`s3://bucket/key`) through the run's S3 client.
pub fn offloaded_fetcher(args: &IngestArgs) -> Result<crate::ingest::OffloadedFetcher> {
    let rt = super::runtime()?;
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.first().cloned(),
        endpoint_url: args.endpoint_url.clone(),
        max_attempts: args.max_attempts,
    };
    let client = aws::s3_client(&rt.block_on(aws::sdk_config(&options, None)));
    let handle = rt.handle().clone();
    Ok(crate::ingest::OffloadedFetcher(std::sync::Arc::new(move |path: &str| {
        let location = s3::parse_url(path).map_err(std::io::Error::other)?;
        handle.block_on(async {
            let response = client
                .get_object()
                .bucket(&location.bucket)
                .key(&location.prefix)
                .send()
                .await
                .map_err(|e| std::io::Error::other(aws::describe(&e, "s3:GetObject", path)))?;
            let bytes = response.body.collect().await.map_err(std::io::Error::other)?;
            Ok(bytes.into_bytes().to_vec())
        })
    })))
}

/// Move each CloudWatch watermark to the end of the window just read, unless reading it failed.
pub fn advance_checkpoints(warehouse: &Path, windows: &[CloudWatchWindow], summary: &IngestSummary) -> Result<()> {
    if windows.is_empty() {
        return Ok(());
    }
    let mut checkpoint = Checkpoint::load(warehouse).context("reading the CloudWatch checkpoint")?;
    checkpoint.version = 1;
    for w in windows {
        let failed = summary.failures.iter().any(|f| f.contains(&w.source_id));
        if !failed {
            checkpoint.watermarks.insert(w.key.clone(), w.end);
        }
    }
    checkpoint.save(warehouse).context("writing the CloudWatch checkpoint")
}
