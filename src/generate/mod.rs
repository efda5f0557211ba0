//! Writes realistic synthetic Bedrock invocation logs, in the exact S3 delivery layout and as CloudWatch Logs
//! exports, for the demo, the tests and the benchmarks.
//!
//! The traffic is built from workloads that later analysis must find: a steady 24/7 high-volume model
//! (provisioned-throughput candidate), a chat app repeating a long system prompt with and without prompt
//! caching, a nightly non-streaming job (batch candidate), and developers calling many models through every
//! `modelId` form, with guardrail blocks, request metadata and offloaded bodies. Output is a pure function of
//! the options (seeded), hours are generated independently and in parallel, and an exact record count is
//! allocated across hours, so 10M+ records stream out in bounded memory.

mod text;
mod workload;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

pub use workload::{Rng, Workload};

/// Generator errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error("invalid generator options: {0}")]
    Options(String),
}

/// Which delivery shapes to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// `AWSLogs/<acct>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<stamp>_<hex>.json.gz`
    S3,
    /// `aws logs filter-log-events` output files, one per Region and day.
    Cloudwatch,
    /// Both, as when both destinations are configured: the same records arrive twice.
    Both,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out: PathBuf,
    pub records: u64,
    pub start: NaiveDate,
    pub days: u32,
    pub seed: u64,
    pub layout: Layout,
    /// With [`Layout::Both`], only the last this-many days also go to CloudWatch (None: all days).
    pub cloudwatch_days: Option<u32>,
    pub account_id: String,
    pub threads: usize,
    /// Minutes of traffic per S3 object (Bedrock delivers several objects an hour; fewer makes smaller samples).
    pub object_minutes: u32,
    /// Multiplies prompt and response lengths (1.0: a few hundred bytes to tens of KB per body).
    pub body_scale: f64,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    pub records: u64,
    pub s3_objects: u64,
    pub cloudwatch_files: u64,
    pub cloudwatch_records: u64,
    pub bytes: u64,
}

/// One generated record, ready to write.
#[derive(Debug, Clone)]
pub struct GeneratedRecord {
    pub timestamp: DateTime<Utc>,
    pub region: &'static str,
    pub request_id: String,
    pub json: String,
    /// An offloaded input body to write under the hour's `data/` prefix.
    pub offloaded_input: Option<String>,
}

/// Generate logs.
pub fn generate(options: &GenerateOptions) -> Result<GenerateSummary, Error> {
    if options.days == 0 {
        return Err(Error::Options("--days must be at least 1".into()));
    }
    if !(options.body_scale > 0.0 && options.body_scale <= 100.0) {
        return Err(Error::Options("--body-scale must be above 0 and at most 100".into()));
    }
    let hours = options.days as usize * 24;
    let start = Utc.from_utc_datetime(&options.start.and_hms_opt(0, 0, 0).unwrap_or_default());
    let allocation = workload::allocate(options.records, start, hours, options.seed);
    let cw_from_hour = match (options.layout, options.cloudwatch_days) {
        (Layout::S3, _) => usize::MAX,
        (Layout::Both, Some(d)) => hours.saturating_sub(d as usize * 24),
        _ => 0,
    };

    let threads = options.threads.clamp(1, 64);
    let next_day = std::sync::atomic::AtomicUsize::new(0);
    // Work is handed out a day at a time, so each day's CloudWatch file is written by one thread, streaming.
    let results: Vec<Result<GenerateSummary, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (next_day, allocation) = (&next_day, &allocation);
                scope.spawn(move || -> Result<GenerateSummary, Error> {
                    let mut summary = GenerateSummary::default();
                    loop {
                        let day = next_day.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if day >= options.days as usize {
                            break;
                        }
                        let mut cloudwatch = CloudWatchDay::default();
                        for (hour, counts) in allocation.iter().enumerate().skip(day * 24).take(24) {
                            let hour_start = start + Duration::hours(hour as i64);
                            let records = workload::generate_hour(
                                hour_start,
                                counts,
                                options.seed,
                                &options.account_id,
                                options.body_scale,
                            );
                            summary.records += records.len() as u64;
                            if options.layout != Layout::Cloudwatch {
                                write_s3_hour(options, hour_start, &records, &mut summary)?;
                            }
                            if hour >= cw_from_hour {
                                cloudwatch.append(options, hour_start, &records, &mut summary)?;
                            }
                        }
                        cloudwatch.finish(&mut summary)?;
                    }
                    Ok(summary)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Options("generator thread panicked".into()))))
            .collect()
    });
    let mut total = GenerateSummary::default();
    for r in results {
        let s = r?;
        total.records += s.records;
        total.s3_objects += s.s3_objects;
        total.cloudwatch_files += s.cloudwatch_files;
        total.cloudwatch_records += s.cloudwatch_records;
        total.bytes += s.bytes;
    }
    if options.layout != Layout::Cloudwatch {
        // Bedrock writes this zero-byte marker when logging is configured; ingest must skip it.
        for region in workload::REGIONS {
            let marker = s3_region_dir(options, region).join("amazon-bedrock-logs-permission-check");
            write_bytes(&marker, b"")?;
        }
    }
    Ok(total)
}

fn s3_region_dir(options: &GenerateOptions, region: &str) -> PathBuf {
    options.out.join("s3").join("AWSLogs").join(&options.account_id).join("BedrockModelInvocationLogs").join(region)
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source| Error::Write { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
    }
    fs::write(path, bytes).map_err(err)
}

fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}

fn write_s3_hour(
    options: &GenerateOptions,
    hour: DateTime<Utc>,
    records: &[GeneratedRecord],
    summary: &mut GenerateSummary,
) -> Result<(), Error> {
    for region in workload::REGIONS {
        let dir = s3_region_dir(options, region).join(hour.format("%Y/%m/%d/%H").to_string());
        let minutes = options.object_minutes.clamp(1, 60);
        for slot in 0..60u32.div_ceil(minutes) {
            let in_slot: Vec<&GeneratedRecord> =
                records.iter().filter(|r| r.region == region && r.timestamp.minute() / minutes == slot).collect();
            if in_slot.is_empty() {
                continue;
            }
            let mut body = Vec::new();
            for r in &in_slot {
                body.extend_from_slice(r.json.as_bytes());
                body.push(b'\n');
                if let Some(input) = &r.offloaded_input {
                    let data = dir.join("data").join(format!("{}_input.json.gz", r.request_id));
                    let gz = gzip(input.as_bytes()).map_err(|source| Error::Write { path: data.clone(), source })?;
                    write_bytes(&data, &gz)?;
                }
            }
            // Named like real objects: delivery stamp about a minute after the slot, plus 16 hex digits.
            let last = in_slot.iter().map(|r| r.timestamp).max().unwrap_or(hour);
            let stamp = last + Duration::seconds(59);
            let hex = workload::Rng::new(options.seed ^ (stamp.timestamp() as u64) ^ region.len() as u64).next_u64();
            let name = format!("{}Z_{hex:016x}.json.gz", stamp.format("%Y%m%dT%H%M%S%3f"));
            let path = dir.join(name);
            let gz = gzip(&body).map_err(|source| Error::Write { path: path.clone(), source })?;
            summary.bytes += gz.len() as u64;
            summary.s3_objects += 1;
            write_bytes(&path, &gz)?;
        }
    }
    Ok(())
}

/// One day's `aws logs filter-log-events` output files, one per Region, written as the hours are generated.
#[derive(Default)]
struct CloudWatchDay {
    files: Vec<(&'static str, PathBuf, BufWriter<File>, u64)>,
}

impl CloudWatchDay {
    fn append(
        &mut self,
        options: &GenerateOptions,
        hour: DateTime<Utc>,
        records: &[GeneratedRecord],
        summary: &mut GenerateSummary,
    ) -> Result<(), Error> {
        for r in records {
            let slot = match self.files.iter().position(|(region, ..)| *region == r.region) {
                Some(i) => i,
                None => {
                    let path = options
                        .out
                        .join("cloudwatch")
                        .join(r.region)
                        .join(format!("filter-log-events-{}.json", hour.format("%Y-%m-%d")));
                    let err = |source| Error::Write { path: path.clone(), source };
                    fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(err)?;
                    let mut w = BufWriter::new(File::create(&path).map_err(err)?);
                    w.write_all(b"{\"events\": [\n").map_err(err)?;
                    self.files.push((r.region, path, w, 0));
                    self.files.len() - 1
                }
            };
            let (_, path, w, n) = &mut self.files[slot];
            let ms = r.timestamp.timestamp_millis();
            let event = serde_json::json!({
                "logStreamName": "aws/bedrock/modelinvocations",
                "timestamp": ms,
                "message": r.json,
                "ingestionTime": ms + 7_000,
                "eventId": format!("{:056}", ms as u128 * 1_000_000 + *n as u128),
            });
            let result = (|| -> io::Result<()> {
                if *n > 0 {
                    w.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut *w, &event).map_err(io::Error::other)
            })();
            result.map_err(|source| Error::Write { path: path.clone(), source })?;
            *n += 1;
            summary.cloudwatch_records += 1;
        }
        Ok(())
    }

    fn finish(self, summary: &mut GenerateSummary) -> Result<(), Error> {
        for (_, path, mut w, _) in self.files {
            let result = w.write_all(b"\n], \"searchedLogStreams\": []}\n").and_then(|_| w.flush());
            result.map_err(|source| Error::Write { path: path.clone(), source })?;
            summary.cloudwatch_files += 1;
        }
        Ok(())
    }
}
