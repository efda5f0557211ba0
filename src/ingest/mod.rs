//! Ingest: sources in, deduplicated Parquet out.
//!
//! The folders follow the data: [`plan`] decides what a run reads (local paths, `s3://`, `cloudwatch://`,
//! `auto`) and moves the CloudWatch watermarks afterwards; [`sources`] lists and opens each kind of input;
//! [`decode`] turns bytes into framed JSON values; [`json`] is the JSON engine they are read with; [`record`]
//! reads a value as a log record and derives its row ([`crate::store::row::Invocation`]). This file runs them:
//! decoders on worker threads, one writer, and the summary with its typed [`SourceFailure`]s.
//!
//! Decoding runs on worker threads, one source at a time each, and produces bounded Arrow batches; a single
//! writer (the calling thread) owns the dedupe index and the open day files, so no lock sits on the hot path.
//! Backpressure comes from a bounded channel, so memory stays flat however large the input is. The writer
//! commits (files renamed into place, rejects written, then the manifest) every
//! [`IngestOptions::commit_every_rows`] rows and at the end; see [`crate::store::warehouse`] for why that order
//! makes a killed run safe to repeat.

pub mod decode;
mod failure;
pub mod json;
pub mod plan;
pub mod record;
pub mod sources;

pub use failure::{FailureKind, SourceFailure};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};

use crate::store::batch::InvocationBatchBuilder;
use crate::store::parquet::AtomicParquetFile;
use crate::store::row::Invocation;
use crate::store::warehouse::{
    self, KeySet, ManifestEntry, RecordKey, RejectRow, Warehouse, day_number, group_by_day, record_key, take_rows,
};
use decode::{DecodeStats, Event, Reject};
use sources::SourceObject;

/// Errors that stop an ingest run (per-record problems are rejects, not errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Warehouse(#[from] warehouse::Error),
    #[error("cannot build a record batch")]
    Batch(#[source] arrow::error::ArrowError),
    #[error("a decoder or file-committing thread panicked")]
    WorkerPanicked,
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Keep only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Keep only records before this time.
    pub until: Option<DateTime<Utc>>,
    /// Decoder threads.
    pub threads: usize,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// Commit after this many new rows, bounding what a crash makes the next run redo.
    pub commit_every_rows: u64,
    /// Commit after this many bytes of rejects too (they stream to a temporary file, published by a commit).
    pub commit_every_reject_bytes: u64,
    /// How long files replaced by compaction stay readable for queries that listed them; this run deletes the
    /// ones retired longer ago than that.
    pub superseded_grace: Duration,
    /// After the run, compact any day it touched that has more files than this.
    pub compact_above_files: usize,
    /// Request keys the dedupe index may hold in memory (see [`MAX_INDEXED_KEYS`]).
    pub max_indexed_keys: usize,
    /// The current time, for the manifest and for [`timestamps`](Self::timestamps) (passed in: the clock is read
    /// at the edge). The default, the Unix epoch, suits only tests: every record after its next day is rejected.
    pub now: DateTime<Utc>,
    /// Which record times are believable; records outside the window are rejected with the reason.
    pub timestamps: record::TimestampWindow,
    /// Fetches offloaded request bodies (`inputBodyS3Path`) to fingerprint them; `None` uses the logged
    /// token counts alone, which is the default because each fetch is one more S3 GET.
    pub offloaded: Option<OffloadedFetcher>,
}

/// Reads an offloaded body given its `s3://` path (I/O lives in the caller's closure).
#[derive(Clone)]
pub struct OffloadedFetcher(pub Arc<FetchFn>);

/// The function behind an [`OffloadedFetcher`]: `s3://` path in, body bytes out.
pub type FetchFn = dyn Fn(&str) -> io::Result<Vec<u8>> + Send + Sync;

impl std::fmt::Debug for OffloadedFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OffloadedFetcher")
    }
}

/// Fill in the prompt fingerprints of a record whose request body was offloaded to S3.
fn fingerprint_offloaded(row: &mut Invocation<'_>, fetcher: &OffloadedFetcher) -> Result<(), String> {
    let Some(path) = row.input_body_s3_path.as_deref() else { return Ok(()) };
    let bytes = (fetcher.0)(path).map_err(|e| format!("cannot fetch offloaded body {path}: {e}"))?;
    let text = if decode::detect_compression(&bytes) == decode::Compression::Gzip {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_string(&mut out)
            .map_err(|e| format!("offloaded body {path} is not valid gzip text: {e}"))?;
        out
    } else {
        String::from_utf8(bytes).map_err(|e| format!("offloaded body {path} is not UTF-8: {e}"))?
    };
    let total_input = record::total_input_tokens(row.input_tokens, row.cache_read_tokens, row.cache_write_tokens);
    row.fingerprint = record::fingerprint::fingerprint_input_body(&text, total_input);
    row.input_bytes = Some(text.len() as i64);
    Ok(())
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            since: None,
            until: None,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            progress: false,
            commit_every_rows: 2_000_000,
            commit_every_reject_bytes: 64 << 20,
            superseded_grace: warehouse::SUPERSEDED_GRACE,
            compact_above_files: 8,
            max_indexed_keys: MAX_INDEXED_KEYS,
            now: DateTime::<Utc>::UNIX_EPOCH,
            timestamps: record::TimestampWindow::default(),
            offloaded: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestSummary {
    pub sources_listed: u64,
    pub sources_read: u64,
    pub sources_unchanged: u64,
    pub sources_out_of_range: u64,
    pub not_logs: u64,
    pub records_read: u64,
    pub ingested: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Rejects recorded by an earlier run that did not finish (killed, or failed) and so never reported them.
    pub rejects_carried_over: u64,
    pub out_of_range_records: u64,
    pub bytes_read: u64,
    pub bytes_decompressed: u64,
    pub files_written: u64,
    pub days_compacted: u64,
    /// Sources that could not be read (network, permissions): not recorded as done, retried next run.
    pub sources_failed: u64,
    /// Each failed source: its id, the kind of failure and what was said about it.
    pub failures: Vec<SourceFailure>,
    /// Problems that lost nothing (e.g. an offloaded body that could not be fetched for fingerprinting).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    pub rejects_file: Option<std::path::PathBuf>,
}

impl IngestSummary {
    /// Was everything ingested: no reject (this run's or carried over) and no source that failed? The exit code
    /// is 1 when not.
    pub fn all_ingested(&self) -> bool {
        self.rejected == 0 && self.rejects_carried_over == 0 && self.sources_failed == 0
    }

    /// Records per second over the whole run.
    pub fn records_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.records_read as f64 / secs } else { 0.0 }
    }
}

/// Rows per batch sent from a decoder to the writer.
const BATCH_ROWS: usize = 8 * 1024;
/// Sources a worker may hold finished (waiting for their batch) before it sends a partial batch: bounds how
/// stale the progress bar gets.
const MAX_HELD_MESSAGES: usize = 256;
/// A worker sends a source's rejects to the writer in messages of at most this many, or about
/// [`REJECT_BYTES_PER_MESSAGE`] of text: a source of ten million bad lines never sits in memory.
const REJECTS_PER_MESSAGE: usize = 1024;
const REJECT_BYTES_PER_MESSAGE: usize = 1 << 20;
/// Open row groups (not yet written) of all open day files together may hold this many rows; beyond it the
/// largest are written out early (see [`WriterState::bound_buffered_rows`]). Counted in rows because the
/// writer's own byte estimate leaves out most of what an open row group really holds.
const MAX_BUFFERED_ROWS: usize = 128 * 1024;
/// Request keys the dedupe index holds across days by default (16 bytes each plus the hash tables' slack:
/// under about 100 MB). Beyond it the writer commits and drops the least recently used days (see
/// [`WriterState::bound_key_index`]); their keys reload from the committed files if a later source needs them.
const MAX_INDEXED_KEYS: usize = 2_000_000;

enum Msg {
    /// A batch and the messages that waited for it, sent as one: a source's `Done` may only follow its rows, and
    /// one message per source through the bounded channel kept a decoder waiting on the writer for each of them
    /// (a quarter of each decoder's time was spent blocked there).
    Bundle(Vec<Msg>),
    Batch {
        batch: RecordBatch,
        keys: Vec<RecordKey>,
        days: Vec<i32>,
    },
    Rejects {
        source: usize,
        rejects: Vec<Reject>,
    },
    Done {
        source: usize,
        stats: DecodeStats,
        out_of_range: u64,
    },
    /// A source that could not be read: not recorded as done.
    Failed {
        source: usize,
        kind: FailureKind,
        message: String,
    },
    Warnings(Vec<String>),
}

/// Ingest `sources` into the warehouse.
pub fn run(
    warehouse: &mut Warehouse,
    sources: Vec<SourceObject>,
    not_logs: u64,
    options: &IngestOptions,
) -> Result<IngestSummary, Error> {
    let result = ingest_sources(warehouse, sources, not_logs, options);
    if result.is_err() {
        // A failed run (a full disk, say) must not leave temporary files keeping the disk full until the next one.
        // The run's error is what is reported; whatever this sweep cannot remove, the next writer does.
        warehouse.discard_rejects();
        let _ = warehouse.remove_temporary_files();
    }
    result
}

fn ingest_sources(
    warehouse: &mut Warehouse,
    sources: Vec<SourceObject>,
    not_logs: u64,
    options: &IngestOptions,
) -> Result<IngestSummary, Error> {
    let started = Instant::now();
    let mut summary = IngestSummary { sources_listed: sources.len() as u64, not_logs, ..IngestSummary::default() };
    warehouse.expire_superseded(options.now, options.superseded_grace)?;
    let carried = warehouse.carry_over_rejects()?;
    summary.rejects_carried_over = carried.rejects;
    let manifest = warehouse.load_manifest()?;

    let mut pending = Vec::new();
    for src in sources {
        if manifest.is_done(&src.id, &src.fingerprint, options.since, options.until) {
            summary.sources_unchanged += 1;
        } else if !hour_in_range(src.hour, options.since, options.until) {
            summary.sources_out_of_range += 1;
        } else {
            pending.push(src);
        }
    }
    summary.sources_read = pending.len() as u64;
    // Read in delivery-hour order across Regions (listings are Region-major): the days being written then move
    // forward together, so few day files are open at once and the dedupe index holds few days.
    pending.sort_by_key(|s| s.hour);
    let total_bytes: u64 = pending.iter().map(|s| s.size).sum();

    let progress = progress_bar(options.progress, total_bytes);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let threads = options.threads.clamp(1, 64).min(pending.len().max(1));
    let (tx, rx) = mpsc::sync_channel::<Msg>(threads * 4);

    let mut writer = WriterState::new(warehouse, options);
    let outcome = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for _ in 0..threads {
            let tx = tx.clone();
            let (pending, next, stop, bytes_read) = (&pending, &next, &stop, bytes_read.clone());
            handles.push(scope.spawn(move || {
                let mut worker = Worker::new(options, &tx);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= pending.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if !worker.decode_source(i, &pending[i], &bytes_read) {
                        break;
                    }
                }
                worker.flush();
            }));
        }
        drop(tx);
        let result = writer.consume(&rx, &pending, &progress, &bytes_read);
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
            drop(rx);
        }
        for h in handles {
            if h.join().is_err() {
                return Err(Error::WorkerPanicked);
            }
        }
        result
    });
    progress.finish_and_clear();
    if let Err(e) = outcome {
        writer.abort();
        return Err(e);
    }
    writer.commit()?;

    let counters = writer.counters;
    summary.records_read = counters.records_read;
    summary.ingested = counters.ingested;
    summary.duplicates = counters.duplicates;
    summary.rejected = counters.rejected;
    summary.out_of_range_records = counters.out_of_range;
    summary.bytes_decompressed = counters.bytes_decompressed;
    summary.files_written = counters.files_written;
    summary.rejects_file = writer.last_rejects_file.clone();
    summary.bytes_read = bytes_read.load(Ordering::Relaxed);
    summary.failures = std::mem::take(&mut writer.failures);
    summary.sources_failed = summary.failures.len() as u64;
    summary.warnings = std::mem::take(&mut writer.warnings);

    let touched = std::mem::take(&mut writer.days_touched);
    let warehouse = writer.warehouse;
    for day in touched {
        if warehouse.day_files(day)?.len() > options.compact_above_files {
            warehouse.compact_day(day, COMPACT_MAX_ROWS_PER_FILE)?;
            summary.days_compacted += 1;
        }
    }
    // This run's rejects and those it carried over are in the summary now: no later run reports them again.
    warehouse.close_rejects(&carried)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Rows per file when compacting: a typical day fits in one file, a huge one is split.
pub const COMPACT_MAX_ROWS_PER_FILE: usize = 4_000_000;

pub(crate) fn hour_in_range(
    hour: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> bool {
    // Delivery may lag the record time, and which time names the folder is unconfirmed: one hour of margin.
    let Some(hour) = hour else { return true };
    let margin = chrono::Duration::hours(1);
    let after_since = since.is_none_or(|s| hour + chrono::Duration::hours(1) + margin > s);
    let before_until = until.is_none_or(|u| hour - margin < u);
    after_since && before_until
}

fn progress_bar(enabled: bool, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} ingest [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Counts compressed bytes as the decompressor pulls them, for the progress bar, and keeps the first error the
/// source raised (its kind and text), for the failure that names it.
struct CountingReader<R> {
    inner: R,
    counter: Arc<AtomicU64>,
    /// Bytes this source gave.
    read: u64,
    error: Option<(io::ErrorKind, String)>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.counter.fetch_add(n as u64, Ordering::Relaxed);
                self.read += n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted && self.error.is_none() {
                    self.error = Some((e.kind(), e.to_string()));
                }
                Err(e)
            }
        }
    }
}

/// One decoder thread. Rows of consecutive sources share one batch (an S3 object holds a few dozen records,
/// and per-batch costs would otherwise dominate). A source's `Done` is held back until the batch holding its
/// rows has been sent, so the writer records a source only after its rows.
struct Worker<'a> {
    options: &'a IngestOptions,
    tx: &'a mpsc::SyncSender<Msg>,
    builder: InvocationBatchBuilder,
    keys: Vec<RecordKey>,
    days: Vec<i32>,
    /// Messages to send after the current batch.
    after_batch: Vec<Msg>,
    /// Decoding buffers and inflater, reused from source to source.
    scratch: decode::DecodeScratch,
    /// False once the writer has gone away.
    alive: bool,
}

impl<'a> Worker<'a> {
    fn new(options: &'a IngestOptions, tx: &'a mpsc::SyncSender<Msg>) -> Self {
        Worker {
            options,
            tx,
            builder: InvocationBatchBuilder::new(),
            keys: Vec::with_capacity(BATCH_ROWS),
            days: Vec::with_capacity(BATCH_ROWS),
            after_batch: Vec::new(),
            scratch: decode::DecodeScratch::default(),
            alive: true,
        }
    }

    fn send(&mut self, msg: Msg) {
        if self.alive {
            self.alive = self.tx.send(msg).is_ok();
        }
    }

    /// Send the batch, then what waited for it, in one message.
    fn flush(&mut self) {
        let mut bundle = Vec::with_capacity(1 + self.after_batch.len());
        if !self.builder.is_empty() {
            match self.builder.finish() {
                Ok(batch) => bundle.push(Msg::Batch {
                    batch,
                    keys: std::mem::take(&mut self.keys),
                    days: std::mem::take(&mut self.days),
                }),
                Err(e) => {
                    // Cannot happen with builders filled in lockstep; recorded rather than panicking. The sources
                    // of the lost rows are failed, so the next run reads them again.
                    self.keys.clear();
                    self.days.clear();
                    for msg in &mut self.after_batch {
                        if let Msg::Done { source, .. } = *msg {
                            *msg = Msg::Failed {
                                source,
                                kind: FailureKind::Internal,
                                message: format!("cannot build the record batch holding its rows: {e}"),
                            };
                        }
                    }
                }
            }
        }
        bundle.append(&mut self.after_batch);
        match bundle.len() {
            0 => {}
            1 => {
                if let Some(msg) = bundle.pop() {
                    self.send(msg);
                }
            }
            _ => self.send(Msg::Bundle(bundle)),
        }
    }

    /// Decode one source. Returns false when the writer has gone away.
    fn decode_source(&mut self, index: usize, src: &SourceObject, bytes_read: &Arc<AtomicU64>) -> bool {
        let reader = match (src.open)() {
            Ok(r) => r,
            Err(e) => {
                let kind = FailureKind::from_io(e.kind());
                self.send(Msg::Failed { source: index, kind, message: format!("cannot open: {e}") });
                return self.alive;
            }
        };
        let mut reader = CountingReader { inner: reader, counter: bytes_read.clone(), read: 0, error: None };
        let options = self.options;
        let mut rejects = Vec::new();
        let mut rejects_bytes = 0usize;
        let mut implausible = 0u64;
        let mut warnings: Vec<String> = Vec::new();
        let mut out_of_range = 0u64;
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut stats = decode::decode_reader_reusing(&mut reader, &mut scratch, &mut |event| {
            if !self.alive {
                return;
            }
            let reject = match event {
                Event::Record(row, location, text) => {
                    if let Err(e) = options.timestamps.check(row.timestamp, options.now) {
                        implausible += 1;
                        decode::reject(location, e.to_string(), text.as_bytes())
                    } else {
                        self.take_row(row, src, &mut out_of_range, &mut warnings);
                        return;
                    }
                }
                Event::Reject(r) => r,
            };
            rejects_bytes += reject.raw.len() + reject.reason.len();
            rejects.push(reject);
            // A flood of rejects goes to the writer in bounded pieces as it comes, never held whole.
            if rejects.len() >= REJECTS_PER_MESSAGE || rejects_bytes >= REJECT_BYTES_PER_MESSAGE {
                rejects_bytes = 0;
                self.send(Msg::Rejects { source: index, rejects: std::mem::take(&mut rejects) });
            }
        });
        // Records turned into rejects here count as rejects in the manifest too.
        stats.records -= implausible;
        stats.rejects += implausible;
        self.scratch = scratch;
        if !warnings.is_empty() {
            self.send(Msg::Warnings(warnings));
        }
        if stats.failed_in_transport() {
            // The rows read so far are kept (and deduplicated next time); the source is not marked done. The
            // source's own error, when it raised one, names the failure better than the decoder's account of it.
            let (kind, error) = match reader.error.take() {
                Some((kind, error)) => (kind, error),
                None => {
                    let reason = rejects.iter().rev().find(|r| r.raw.is_empty()).map(|r| r.reason.clone());
                    (stats.read_error.unwrap_or(io::ErrorKind::Other), reason.unwrap_or_else(|| "read error".into()))
                }
            };
            rejects.retain(|r| !r.raw.is_empty());
            if !rejects.is_empty() {
                self.send(Msg::Rejects { source: index, rejects });
            }
            let message = format!("read failed after {} bytes: {error}", reader.read);
            self.send(Msg::Failed { source: index, kind: FailureKind::from_io(kind), message });
            return self.alive;
        }
        if !rejects.is_empty() {
            self.send(Msg::Rejects { source: index, rejects });
        }
        self.after_batch.push(Msg::Done { source: index, stats, out_of_range });
        if self.after_batch.len() >= MAX_HELD_MESSAGES {
            self.flush();
        }
        self.alive
    }

    /// A decoded record, kept if it is inside `--since/--until`.
    fn take_row(
        &mut self,
        row: &mut crate::store::row::Invocation<'_>,
        src: &SourceObject,
        out_of_range: &mut u64,
        warnings: &mut Vec<String>,
    ) {
        let options = self.options;
        let in_range =
            options.since.is_none_or(|s| row.timestamp >= s) && options.until.is_none_or(|u| row.timestamp < u);
        if !in_range {
            *out_of_range += 1;
            return;
        }
        if let Some(fetcher) = &options.offloaded
            && row.input_body_s3_path.is_some()
            && let Err(reason) = fingerprint_offloaded(row, fetcher)
        {
            // The record itself is sound; only its fingerprint is missing. Keep it, and say why.
            warnings.push(format!("{}: record kept without prompt fingerprints: {reason}", src.id));
        }
        self.keys.push(record_key(&row.request_id));
        self.days.push(day_number(row.timestamp));
        self.builder.append(row, &src.id);
        if self.builder.len() >= BATCH_ROWS {
            self.flush();
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    records_read: u64,
    ingested: u64,
    duplicates: u64,
    rejected: u64,
    out_of_range: u64,
    bytes_decompressed: u64,
    files_written: u64,
}

/// The dedupe index of one day: keys already stored or written by this run.
struct DayKeys {
    keys: KeySet,
    /// The last batch (of [`WriterState::batches_written`]) that had rows for this day.
    last_used: u64,
}

/// The single writer: dedupe index, open day files, pending rejects and manifest entries.
struct WriterState<'w> {
    warehouse: &'w mut Warehouse,
    options: &'w IngestOptions,
    keys: HashMap<i32, DayKeys>,
    /// Batches written so far: the clock of [`DayKeys::last_used`].
    batches_written: u64,
    days_touched: std::collections::BTreeSet<i32>,
    open_files: BTreeMap<i32, AtomicParquetFile>,
    completed: Vec<ManifestEntry>,
    rows_since_commit: u64,
    counters: Counters,
    last_rejects_file: Option<std::path::PathBuf>,
    failures: Vec<SourceFailure>,
    warnings: Vec<String>,
}

impl<'w> WriterState<'w> {
    fn new(warehouse: &'w mut Warehouse, options: &'w IngestOptions) -> Self {
        WriterState {
            warehouse,
            options,
            keys: HashMap::new(),
            batches_written: 0,
            days_touched: Default::default(),
            open_files: BTreeMap::new(),
            completed: Vec::new(),
            rows_since_commit: 0,
            counters: Counters::default(),
            last_rejects_file: None,
            failures: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn consume(
        &mut self,
        rx: &mpsc::Receiver<Msg>,
        sources: &[SourceObject],
        progress: &indicatif::ProgressBar,
        bytes_read: &AtomicU64,
    ) -> Result<(), Error> {
        loop {
            let msg = match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    progress.set_position(bytes_read.load(Ordering::Relaxed));
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            };
            self.handle(msg, sources, progress, bytes_read)?;
        }
    }

    /// One message from a decoder (a bundle's messages one by one, in order).
    fn handle(
        &mut self,
        msg: Msg,
        sources: &[SourceObject],
        progress: &indicatif::ProgressBar,
        bytes_read: &AtomicU64,
    ) -> Result<(), Error> {
        match msg {
            Msg::Bundle(msgs) => {
                for msg in msgs {
                    self.handle(msg, sources, progress, bytes_read)?;
                }
                return Ok(());
            }
            Msg::Batch { batch, keys, days } => self.write_batch(batch, &keys, &days)?,
            Msg::Rejects { source, rejects } => {
                let id = &sources[source].id;
                self.counters.rejected += rejects.len() as u64;
                for r in rejects {
                    self.warehouse.append_reject(RejectRow {
                        source: id.clone(),
                        line: r.location.position.line,
                        offset: r.location.position.offset,
                        item: r.location.item,
                        reason: r.reason,
                        raw: r.raw,
                        raw_len: r.raw_len,
                        raw_base64: r.raw_base64,
                        repeats: None,
                    })?;
                }
            }
            Msg::Failed { source, kind, message } => {
                self.failures.push(SourceFailure { source_id: sources[source].id.clone(), kind, message })
            }
            Msg::Warnings(w) => self.warnings.extend(w),
            Msg::Done { source, stats, out_of_range } => {
                let src = &sources[source];
                self.counters.out_of_range += out_of_range;
                self.counters.bytes_decompressed += stats.bytes;
                self.completed.push(ManifestEntry {
                    id: src.id.clone(),
                    fingerprint: src.fingerprint.clone(),
                    since: self.options.since,
                    until: self.options.until,
                    records: stats.records,
                    rejects: stats.rejects,
                });
                progress.set_message(format!("{} records", self.counters.records_read));
            }
        }
        progress.set_position(bytes_read.load(Ordering::Relaxed));
        if self.rows_since_commit >= self.options.commit_every_rows
            || self.warehouse.pending_reject_bytes() >= self.options.commit_every_reject_bytes
        {
            self.commit()
        } else {
            self.bound_buffered_rows()
        }
    }

    fn write_batch(&mut self, batch: RecordBatch, keys: &[RecordKey], days: &[i32]) -> Result<(), Error> {
        self.counters.records_read += keys.len() as u64;
        self.batches_written += 1;
        let mut keep = Vec::with_capacity(keys.len());
        // Rows come in runs of one day (sources are read in hour order), so the day's index is found once a run.
        let mut rows = keys.iter().zip(days).peekable();
        while let Some((&key, &day)) = rows.next() {
            let index = match self.keys.entry(day) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(DayKeys { keys: self.warehouse.load_day_keys(day)?, last_used: 0 })
                }
            };
            index.last_used = self.batches_written;
            keep.push(index.keys.insert(key));
            while let Some((&key, _)) = rows.next_if(|&(_, &next_day)| next_day == day) {
                keep.push(index.keys.insert(key));
            }
        }
        for (day, rows) in group_by_day(days, |i| keep[i]) {
            let n = rows.len() as u64;
            let part = take_rows(&batch, rows)?;
            let file = match self.open_files.entry(day) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(self.warehouse.create_day_file(day)?),
            };
            file.write(&part)
                .map_err(|source| warehouse::Error::Write { path: self.warehouse.day_dir(day), source })?;
            self.counters.ingested += n;
            self.rows_since_commit += n;
            self.days_touched.insert(day);
        }
        self.counters.duplicates += keep.iter().filter(|k| !**k).count() as u64;
        self.bound_key_index()
    }

    /// Keep the dedupe index under [`IngestOptions::max_indexed_keys`] by dropping the least recently used
    /// days. A day's keys may go only after a commit (until then the keys of its rows written by this run exist
    /// nowhere else) and only if the current batch did not touch it. A forced commit must free at least a
    /// quarter of the budget, so a single day larger than the whole budget is kept rather than committing after
    /// every batch.
    fn bound_key_index(&mut self) -> Result<(), Error> {
        let budget = self.options.max_indexed_keys;
        let indexed: usize = self.keys.values().map(|d| d.keys.len()).sum();
        if indexed <= budget {
            return Ok(());
        }
        let mut cold: Vec<(u64, i32, usize)> = self
            .keys
            .iter()
            .filter(|(_, d)| d.last_used < self.batches_written)
            .map(|(&day, d)| (d.last_used, day, d.keys.len()))
            .collect();
        if cold.iter().map(|&(_, _, n)| n).sum::<usize>() < budget / 4 {
            return Ok(());
        }
        self.commit()?;
        cold.sort_unstable();
        let mut held = indexed;
        for (_, day, n) in cold {
            if held <= budget / 2 {
                break;
            }
            self.keys.remove(&day);
            held -= n;
        }
        Ok(())
    }

    /// Keep the open row groups of all day files under [`MAX_BUFFERED_ROWS`] by writing out the largest ones
    /// early. Logs arrive roughly in time order, so most open days are quiet and their partial row groups would
    /// otherwise sit in memory until the commit; flushing keeps memory flat without making more files.
    fn bound_buffered_rows(&mut self) -> Result<(), Error> {
        let mut buffered: usize = self.open_files.values().map(|f| f.in_progress_rows()).sum();
        if buffered <= MAX_BUFFERED_ROWS {
            return Ok(());
        }
        let mut open: Vec<(usize, i32)> = self.open_files.iter().map(|(&day, f)| (f.in_progress_rows(), day)).collect();
        open.sort_unstable_by(|a, b| b.cmp(a));
        // Flush down to half the budget, so this does not run again after every batch.
        for (rows, day) in open {
            if buffered <= MAX_BUFFERED_ROWS / 2 {
                break;
            }
            if let Some(file) = self.open_files.get_mut(&day) {
                file.flush_row_group()
                    .map_err(|source| warehouse::Error::Write { path: self.warehouse.day_dir(day), source })?;
            }
            buffered -= rows;
        }
        Ok(())
    }

    /// Files first (with the days' manifests), then rejects, then the manifest of sources: a source is recorded
    /// only once its rows are durable.
    fn commit(&mut self) -> Result<(), Error> {
        // The days written since the last commit are exactly the days with an open file.
        let written: HashSet<i32> = self.open_files.keys().copied().collect();
        let days: Vec<i32> = self.open_files.keys().copied().collect();
        // The days' manifests (what Athena and Spark read) follow the files, under a mark a crash leaves behind.
        let mark = self.warehouse.begin_day_manifests(&days)?;
        let files: Vec<(i32, AtomicParquetFile)> = std::mem::take(&mut self.open_files).into_iter().collect();
        for (day, committed) in commit_files(files, self.options.threads)? {
            committed.map_err(|source| warehouse::Error::Write { path: self.warehouse.day_dir(day), source })?;
            self.counters.files_written += 1;
        }
        self.warehouse.finish_day_manifests(&days, mark)?;
        if let Some(path) = self.warehouse.publish_rejects()? {
            self.last_rejects_file = Some(path);
        }
        self.warehouse.append_manifest(std::mem::take(&mut self.completed), self.options.now)?;
        // Keep the key index only for days still receiving rows; the rest is on disk and reloads on demand.
        self.keys.retain(|day, _| written.contains(day));
        self.rows_since_commit = 0;
        Ok(())
    }

    fn abort(&mut self) {
        for (_, file) in std::mem::take(&mut self.open_files) {
            file.abort();
        }
        self.warehouse.discard_rejects();
    }
}

/// Commit day files on up to `threads` threads; every file is tried, and each result is returned with its day.
/// A committing thread that panicked is an error for the whole commit: its files' fate is unknown, so the
/// sources behind them must not be recorded as done.
///
/// Finishing a file encodes and compresses its open row groups. At the end of a run the decoders are done and
/// nothing else is left to run, so one thread finishing the files one by one left the other cores idle for the
/// last part of every ingest.
fn commit_files(
    files: Vec<(i32, AtomicParquetFile)>,
    threads: usize,
) -> Result<Vec<(i32, io::Result<std::path::PathBuf>)>, Error> {
    let threads = threads.clamp(1, 64).min(files.len());
    if threads <= 1 {
        return Ok(files.into_iter().map(|(day, file)| (day, file.commit())).collect());
    }
    let queue = std::sync::Mutex::new(files);
    let take = || queue.lock().ok().and_then(|mut q| q.pop());
    let mut results = Vec::new();
    let mut panicked = false;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((day, file)) = take() {
                        done.push((day, file.commit()));
                    }
                    done
                })
            })
            .collect();
        // Every handle is joined (an unjoined panicked thread would make the scope itself panic).
        for handle in handles {
            match handle.join() {
                Ok(done) => results.extend(done),
                Err(_) => panicked = true,
            }
        }
    });
    // A poisoned queue would leave files behind, neither committed nor reported.
    let left_behind = queue.into_inner().map_or(true, |left| !left.is_empty());
    if panicked || left_behind { Err(Error::WorkerPanicked) } else { Ok(results) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hour_pruning_keeps_a_margin() {
        let at = |h| Utc.with_ymd_and_hms(2025, 1, 10, h, 0, 0).single();
        let since = at(10);
        let until = at(12);
        let cases = [(7, false), (8, false), (9, true), (10, true), (11, true), (12, true), (13, false)];
        for (hour, want) in cases {
            assert_eq!(hour_in_range(at(hour), since, until), want, "hour {hour}");
        }
        assert!(hour_in_range(None, since, until));
    }
}
