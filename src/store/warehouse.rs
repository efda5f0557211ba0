//! The on-disk warehouse: layout, the single-writer lock, crash recovery, the dedupe key index, the manifest of
//! ingested sources, rejects, and compaction.
//!
//! ```text
//! WAREHOUSE/
//!   invocations/day=YYYY-MM-DD/part-<run>-<n>.parquet   Hive layout, what every engine reads
//!   rejects/rejects-<run>-<n>.jsonl                     records that could not be ingested, with reasons
//!   _manifest/<run>-<n>.json                            sources fully ingested (one segment per commit)
//!   rejects/<run>.open                                  a run whose rejects were not yet reported (see below)
//!   _manifest/<run>-<n>.json                            sources fully ingested (one segment per commit)
//!   _journal/compact-<run>.json                         pending compaction swaps (rolled forward on open)
//!   _superseded/compact-<run>.json                      finished swaps, kept for the grace period (tombstones)
//!   _symlink_format_manifest/day=YYYY-MM-DD/manifest    each day's live files, for Athena and Spark
//!   .lock                                               held by the one process writing
//! ```
//!
//! Durability rule, after Vector's "acknowledge only after delivery": a source enters the manifest only in a
//! commit that follows the rename of every Parquet file holding its rows (and the rewrite of those days' manifests
//! for other engines, see [`super::symlink`]). A crash before that leaves rows
//! without a manifest entry; the re-run reads the source again and the key index drops the rows already
//! there. Duplicates over loss, then dedupe makes the duplicates vanish.
//!
//! Compaction and readers: a compaction's journal names the files it replaces and the files it writes, and is
//! durable before the first new file appears. Rolling it forward renames the new files in, then *retires* the
//! old ones (renamed to a hidden `.superseded-<name>.old` beside them, which no engine's `*.parquet` listing
//! matches), then writes the journal to `_superseded/` and removes it from `_journal/`: it is now the tombstone of
//! that swap. Retired files are
//! deleted by a later writer once the grace period ([`SUPERSEDED_GRACE`], longer than any query) has passed, and
//! their tombstones after a second one. Our own readers (see [`super::snapshot`]) use the tombstones to see
//! exactly one generation of a day, and find a retired file under its hidden name when a query listed it before
//! the swap. Engines that list files themselves read each day through its manifest ([`super::symlink`]), rewritten
//! at the swap point: after the new files are published and before the old ones are retired, so they see one
//! generation too; engines that glob the folders see both only for the instant between the renames.
//!
//! Rejects stream to a temporary file as they arrive and are published with each commit, before the manifest.
//! A run marks itself `rejects/<run>.open` before its first rejects file appears and removes the mark when it
//! finishes (having reported its rejects). A run that finds another run's mark (that run was killed or failed)
//! reports that run's rejects as carried over, keeping only the rows of sources that run finished: the others
//! are read again, and rejected again, by the run that reads them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use super::files::{Files, Remote};
use super::lease::{Lease, LeaseError};
use super::parquet::{AtomicParquetFile, FinishedFile, TMP_PREFIX};
use super::schema::{FILE_SCHEMA, PARTITION_COLUMN, col};
use super::symlink::{self, PENDING_DIR, PendingDays, SYMLINK_DIR};

/// Errors of the warehouse; each names the path that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create warehouse directory {path}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("warehouse {path} is locked by another bedrock-spend process")]
    Locked { path: PathBuf },
    #[error(transparent)]
    Leased(#[from] LeaseError),
    #[error("cannot lock warehouse {path}")]
    Lock { path: PathBuf, source: io::Error },
    #[error("cannot read {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot read parquet file {path}")]
    ReadParquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("cannot write {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot parse {path}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("arrow error while {during}")]
    Arrow { during: &'static str, source: arrow::error::ArrowError },
}

type Result<T> = std::result::Result<T, Error>;

/// Key of a record in the dedupe index: a 128-bit hash of `request_id` (collisions are negligible at any
/// realistic volume, and 16 bytes a key keeps a day's index small).
pub type RecordKey = u128;

/// A set of record keys. The keys are already xxh3 hashes, so the set's hasher only folds each to 64 bits and mixes
/// it once; std's default SipHash of every key was about 1% of ingest CPU.
pub type KeySet = HashSet<RecordKey, FoldKey>;

/// An empty [`KeySet`] with room for `capacity` keys.
pub fn key_set(capacity: usize) -> KeySet {
    HashSet::with_capacity_and_hasher(capacity, FoldKey::new())
}

/// The [`KeySet`] hasher: a key's two halves XORed together and with a seed, then one full 64x64-bit multiply by a
/// second seed, folding the product's halves (foldhash's mixing step). The table picks buckets from the low bits
/// of the result, which the multiply makes depend on every bit of the key; with fixed constants a log crafted for
/// them could pile its keys into one bucket, and the seeds, drawn once per process, make that depend on the run.
#[derive(Debug, Clone, Copy)]
pub struct FoldKey {
    seed: u64,
    multiplier: u64,
}

impl FoldKey {
    fn new() -> Self {
        static SEEDS: std::sync::LazyLock<(u64, u64)> = std::sync::LazyLock::new(|| {
            let random = std::collections::hash_map::RandomState::new();
            let draw = |n: u8| std::hash::BuildHasher::hash_one(&random, n);
            (draw(0), draw(1) | 1)
        });
        let (seed, multiplier) = *SEEDS;
        FoldKey { seed, multiplier }
    }
}

impl std::hash::BuildHasher for FoldKey {
    type Hasher = FoldKeyHasher;
    fn build_hasher(&self) -> FoldKeyHasher {
        FoldKeyHasher { state: self.seed, multiplier: self.multiplier }
    }
}

/// See [`FoldKey`]. Only `u128` keys are expected; any other input is folded in eight bytes at a time.
#[derive(Debug)]
pub struct FoldKeyHasher {
    state: u64,
    multiplier: u64,
}

impl std::hash::Hasher for FoldKeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.state = (self.state ^ n).rotate_left(29);
    }
    fn write_u128(&mut self, n: u128) {
        self.state ^= (n as u64) ^ ((n >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        let product = u128::from(self.state) * u128::from(self.multiplier);
        (product as u64) ^ ((product >> 64) as u64)
    }
}

/// Hash a request id into its index key.
pub fn record_key(request_id: &str) -> RecordKey {
    xxh3_128(request_id.as_bytes())
}

/// Days since 1970-01-01, as Arrow's Date32 counts them.
pub fn day_number(t: DateTime<Utc>) -> i32 {
    t.timestamp().div_euclid(86_400) as i32
}

/// The calendar day of a Date32 day number.
pub fn day_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or_default()
}

/// One source (file, S3 object, log stream window) fully ingested, as recorded in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Stable identity: a canonical path, `s3://bucket/key`, or a log group.
    pub id: String,
    /// Content identity: size and mtime for files, ETag for S3 objects. A changed fingerprint means re-read.
    pub fingerprint: String,
    /// Time window the ingest was restricted to (`None` = unbounded): a file read with `--since` is only done
    /// for runs whose window lies inside this one.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub records: u64,
    pub rejects: u64,
}

impl ManifestEntry {
    /// Does this entry cover a run over `[since, until)`?
    pub fn covers(&self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
        let since_ok = match (self.since, since) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(done), Some(want)) => done <= want,
        };
        let until_ok = match (self.until, until) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(done), Some(want)) => done >= want,
        };
        since_ok && until_ok
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "version")]
enum ManifestSegment {
    #[serde(rename = "1")]
    V1 { run: String, committed_at: DateTime<Utc>, sources: Vec<ManifestEntry> },
}

/// All manifest entries, by source id.
#[derive(Debug, Default)]
pub struct Manifest {
    entries: HashMap<String, Vec<ManifestEntry>>,
}

impl Manifest {
    /// Was this source, with this content, already ingested for the window?
    pub fn is_done(
        &self,
        id: &str,
        fingerprint: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> bool {
        self.entries.get(id).is_some_and(|v| v.iter().any(|e| e.fingerprint == fingerprint && e.covers(since, until)))
    }

    /// Number of distinct sources recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was ever ingested.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A record that could not be ingested, as written to `rejects/` (one JSON object a line).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RejectRow {
    pub source: String,
    pub line: u64,
    pub offset: u64,
    pub item: Option<u64>,
    pub reason: String,
    /// The text, at most its first 64 KiB (invalid UTF-8 shown as U+FFFD).
    pub raw: String,
    /// The text's full length in bytes, when `raw` holds only its first part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_len: Option<u64>,
    /// The bytes of `raw` exactly, base64-encoded, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
    /// Set when this row stands for a run of identical rejects on consecutive lines (a flood of one bad line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
}

/// A run of identical rejects summarised by one [`RejectRow`]: reject `i` (from 0) of the run is on line
/// `line + i` at byte `offset + i * offset_step`, so every location stays recoverable.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Repeats {
    pub count: u64,
    pub offset_step: u64,
}

impl RejectRow {
    /// The rejects this row stands for.
    pub fn count(&self) -> u64 {
        self.repeats.map_or(1, |r| r.count)
    }

    /// The `(line, offset)` of every reject this row stands for.
    pub fn locations(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let step = self.repeats.map_or(0, |r| r.offset_step);
        (0..self.count()).map(move |i| (self.line + i, self.offset + i * step))
    }

    /// Fold `next` into this row when it repeats it on the next line (same source, reason and text, no item).
    fn absorb(&mut self, next: &RejectRow) -> bool {
        let count = self.count();
        let same = next.source == self.source
            && next.reason == self.reason
            && next.raw == self.raw
            && next.raw_len == self.raw_len
            && next.raw_base64 == self.raw_base64
            && self.item.is_none()
            && next.item.is_none()
            && self.line > 0
            && next.line == self.line + count;
        let step = match self.repeats {
            Some(r) => r.offset_step,
            None => next.offset.saturating_sub(self.offset),
        };
        if !same || step == 0 || next.offset != self.offset + count * step {
            return false;
        }
        self.repeats = Some(Repeats { count: count + 1, offset_step: step });
        true
    }
}

/// The last rejects recorded and how many there are in all, read without holding them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectTail {
    /// Rejects in all (a summarised row counts for each reject it stands for).
    pub total: u64,
    /// The last rows, oldest first.
    pub last: Vec<RejectRow>,
}

/// Rejects of another run found by [`Warehouse::carry_over_rejects`]: never reported, because that run did not
/// finish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarriedOver {
    /// The runs whose rejects these are.
    pub runs: Vec<String>,
    /// Rejects carried over (each reject a summarised row stands for counted).
    pub rejects: u64,
}

/// How long a file replaced by compaction stays readable under its retired name, by default: longer than any
/// query should run. Its tombstone stays twice as long.
pub const SUPERSEDED_GRACE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Where pending compaction journals are, under the warehouse root.
pub(crate) const JOURNAL_DIR: &str = "_journal";
/// Where finished compaction journals stay as tombstones for the grace period.
pub(crate) const SUPERSEDED_DIR: &str = "_superseded";

/// The hidden name a file replaced by compaction has during the grace period: a leading dot and no `.parquet`
/// ending, so neither our listings nor other engines' globs take it for part of the table.
pub(crate) fn retired_name(name: &str) -> String {
    format!(".superseded-{name}.old")
}

/// One compaction swap of a day's files: the journal while it is rolled forward, then its tombstone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CompactionJournal {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Files the compacted output replaces; retired when the journal is rolled forward.
    pub replaced: Vec<String>,
    /// The compacted files, finished under their temporary names before the journal is written.
    pub written: Vec<String>,
}

/// A rejects file being written: rows are appended as they arrive; a repeat of the row before is folded into it.
struct OpenRejects {
    writer: io::BufWriter<File>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    /// The last row, not yet written, while it may still absorb repeats.
    held: Option<RejectRow>,
    /// Bytes written so far.
    bytes: u64,
    /// One row's JSON, reused from row to row.
    line: Vec<u8>,
}

/// An open warehouse. Writers hold the lock for their lifetime.
pub struct Warehouse {
    root: PathBuf,
    /// Where the files under `root` really are (see [`super::files`]).
    files: Files,
    run_id: String,
    seq: u64,
    _lock: Option<File>,
    /// The writer lease of a warehouse in an object store (the lock of a local one is `_lock`).
    lease: Option<Lease>,
    rejects: Option<OpenRejects>,
    /// This run's `rejects/<run>.open` mark exists.
    rejects_marked: bool,
}

impl Warehouse {
    /// Open for writing: create the layout, take the lock, and recover from any crashed run.
    pub fn open_for_write(root: &Path) -> Result<Self> {
        create_layout(root)?;
        let lock_path = root.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| Error::Lock { path: lock_path.clone(), source })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked { path: root.to_path_buf() });
            }
            Err(fs::TryLockError::Error(source)) => {
                return Err(Error::Lock { path: lock_path, source });
            }
        }
        let warehouse = Warehouse {
            root: root.to_path_buf(),
            files: Files::local(root),
            run_id: new_run_id(),
            seq: 0,
            _lock: Some(lock),
            lease: None,
            rejects: None,
            rejects_marked: false,
        };
        warehouse.recover()?;
        Ok(warehouse)
    }

    /// Open a warehouse in an object store for writing: take the writer lease (breaking an existing one first
    /// when `break_lease`; see [`super::lease`]), mark the warehouse, and recover from any crashed run. Fails
    /// with [`Error::Leased`], having written nothing, while another writer holds the lease.
    pub fn open_remote_for_write(remote: Arc<Remote>, break_lease: bool) -> Result<Self> {
        let files = Files::remote(remote.clone());
        let root = files.root().to_path_buf();
        create_layout(&root)?;
        let run_id = new_run_id();
        let lease = Lease::acquire(remote, &run_id, break_lease)?;
        let marker = root.join(WAREHOUSE_MARKER);
        let bytes = br#"{"format":"bedrock-spend hive parquet","version":1}"#;
        files.write_atomic(&marker, bytes).map_err(|source| Error::Write { path: files.display(&marker), source })?;
        let warehouse = Warehouse {
            root,
            files,
            run_id,
            seq: 0,
            _lock: None,
            lease: Some(lease),
            rejects: None,
            rejects_marked: false,
        };
        warehouse.recover()?;
        Ok(warehouse)
    }

    /// Open for reading only (queries): no lock, no recovery.
    pub fn open_read_only(root: &Path) -> Self {
        Self::read_only(Files::local(root))
    }

    /// Open a warehouse in an object store for reading only.
    pub fn open_remote_read_only(remote: Arc<Remote>) -> Self {
        Self::read_only(Files::remote(remote))
    }

    fn read_only(files: Files) -> Self {
        Warehouse {
            root: files.root().to_path_buf(),
            files,
            run_id: new_run_id(),
            seq: 0,
            _lock: None,
            lease: None,
            rejects: None,
            rejects_marked: false,
        }
    }

    /// Where the warehouse's files are (for the estate tables and checkpoints kept beside the data).
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// The warehouse root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `invocations` table directory.
    pub fn invocations_dir(&self) -> PathBuf {
        self.root.join("invocations")
    }

    /// Directory of one day partition.
    pub fn day_dir(&self, day: i32) -> PathBuf {
        self.invocations_dir().join(format!("{PARTITION_COLUMN}={}", day_date(day).format("%Y-%m-%d")))
    }

    fn next_name(&mut self, prefix: &str, ext: &str) -> String {
        self.seq += 1;
        format!("{prefix}{}-{:05}.{ext}", self.run_id, self.seq)
    }

    /// Finish interrupted compactions and remove temporary files left by a crashed run.
    fn recover(&self) -> Result<()> {
        for (path, journal) in read_journals(&self.files, &self.root.join(JOURNAL_DIR))? {
            self.roll_forward(&path, &journal)?;
        }
        self.repair_day_manifests()?;
        self.remove_temporary_files()
    }

    /// Stop with [`LeaseError::Lost`] when this writer's lease of a remote warehouse was broken and taken by another
    /// writer (see [`super::lease`]); called before each step that makes files visible.
    pub fn check_lease(&self) -> Result<()> {
        match &self.lease {
            Some(lease) => Ok(lease.check()?),
            None => Ok(()),
        }
    }

    /// A notice about how the lease was taken (over a stale one), for the caller to show.
    pub fn lease_notice(&self) -> Option<&str> {
        self.lease.as_ref().and_then(Lease::notice)
    }

    /// Rewrite the manifests a killed commit may have left behind its files (its `_pending` mark names the days),
    /// and write the manifest of every day that has none (a warehouse written before manifests existed).
    fn repair_day_manifests(&self) -> Result<()> {
        let pending_dir = self.root.join(SYMLINK_DIR).join(PENDING_DIR);
        let mut marks: Vec<PathBuf> = self.list_files(&pending_dir)?.into_iter().filter(|p| !is_tmp(p)).collect();
        marks.sort();
        for mark in &marks {
            let text = match self.files.read(mark) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Read { path: self.shown(mark), source }),
            };
            let pending: PendingDays =
                serde_json::from_slice(&text).map_err(|source| Error::Parse { path: mark.clone(), source })?;
            for date in &pending.days {
                self.write_day_manifest(date, &[])?;
            }
        }
        let dated = |dirs: Vec<PathBuf>| -> HashSet<String> {
            dirs.iter()
                .filter_map(|d| d.file_name().and_then(|n| n.to_str()))
                .filter_map(|n| n.strip_prefix("day=").map(String::from))
                .collect()
        };
        let with_manifest = if self.files.remote_store().is_some() {
            // A remote "directory" exists only while an object is under it: the manifest.
            let dir = self.root.join(SYMLINK_DIR);
            dated(self.files.list_dirs(&dir).map_err(|source| Error::Read { path: self.shown(&dir), source })?)
        } else {
            // A local one may hold only a temporary file a crash left.
            let dir = self.root.join(SYMLINK_DIR);
            let dirs = self.files.list_dirs(&dir).map_err(|source| Error::Read { path: dir.clone(), source })?;
            dated(dirs.into_iter().filter(|d| d.join(symlink::MANIFEST_FILE).is_file()).collect())
        };
        for (_, dir) in self.day_dirs()? {
            let Some(date) = dir.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("day=")) else {
                continue;
            };
            if !with_manifest.contains(date) {
                self.write_day_manifest(date, &[])?;
            }
        }
        for mark in marks {
            self.remove_if_present(&mark)?;
        }
        Ok(())
    }

    /// Write the manifest of the day `date` (`YYYY-MM-DD`): every live Parquet file of the day but those named in
    /// `exclude` (the files a compaction swap is replacing), as absolute URIs (see [`super::symlink`]). One PUT in a
    /// remote warehouse, an atomic rename locally, so an engine reads the old manifest or the new one.
    fn write_day_manifest(&self, date: &str, exclude: &[String]) -> Result<()> {
        let day_dir = self.invocations_dir().join(format!("{PARTITION_COLUMN}={date}"));
        let remote = self.files.remote_store().is_some();
        let uris = self
            .list_files(&day_dir)?
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| symlink::is_live_data_file(n) && !exclude.iter().any(|e| e == n))
            })
            .map(|p| if remote { self.shown(&p).display().to_string() } else { symlink::local_uri(&p) })
            .collect();
        let path = symlink::manifest_path(&self.root, date);
        self.files
            .write_atomic(&path, symlink::manifest_text(uris).as_bytes())
            .map_err(|source| Error::Write { path: self.shown(&path), source })
    }

    /// Before a commit publishes files into `days`: check the lease, and mark the days whose manifests the commit
    /// will rewrite (see [`super::symlink`]). Returns the mark, for [`Self::finish_day_manifests`].
    pub fn begin_day_manifests(&mut self, days: &[i32]) -> Result<Option<PathBuf>> {
        self.check_lease()?;
        if days.is_empty() {
            return Ok(None);
        }
        let mark = self.root.join(SYMLINK_DIR).join(PENDING_DIR).join(format!("{}.json", self.run_id));
        let pending = PendingDays { days: days.iter().map(|&d| day_date(d).format("%Y-%m-%d").to_string()).collect() };
        let bytes = serde_json::to_vec(&pending).map_err(|source| Error::Parse { path: mark.clone(), source })?;
        self.files.write_atomic(&mark, &bytes).map_err(|source| Error::Write { path: self.shown(&mark), source })?;
        Ok(Some(mark))
    }

    /// After a commit published its files into `days`: rewrite those days' manifests, then remove the mark.
    pub fn finish_day_manifests(&mut self, days: &[i32], mark: Option<PathBuf>) -> Result<()> {
        for &day in days {
            self.write_day_manifest(&day_date(day).format("%Y-%m-%d").to_string(), &[])?;
        }
        match mark {
            Some(mark) => self.remove_if_present(&mark),
            None => Ok(()),
        }
    }

    /// Remove every temporary file (`.tmp-*`) in the warehouse: what a crashed or failed run left behind. Only
    /// the lock holder may call this (nobody else writes); the finished files of a pending compaction journal
    /// are kept, since rolling it forward needs them.
    pub fn remove_temporary_files(&self) -> Result<()> {
        let journal_dir = self.root.join(JOURNAL_DIR);
        let mut needed = HashSet::new();
        for (_, journal) in read_journals(&self.files, &journal_dir)? {
            let day_dir = self.invocations_dir().join(format!("{PARTITION_COLUMN}={}", journal.day));
            needed.extend(journal.written.iter().map(|name| day_dir.join(format!("{TMP_PREFIX}{name}.tmp"))));
        }
        let candidates = if self.files.remote_store().is_some() {
            // One recursive listing rather than one per day: a LIST returns a thousand keys a call.
            self.files
                .list_recursive(&self.root)
                .map_err(|source| Error::Read { path: self.shown(&self.root), source })?
        } else {
            let mut dirs =
                vec![self.invocations_dir(), self.root.join("rejects"), self.root.join("_manifest"), journal_dir];
            dirs.push(self.root.join(SUPERSEDED_DIR));
            dirs.extend(self.day_dirs()?.into_iter().map(|(_, d)| d));
            let symlinks = self.root.join(SYMLINK_DIR);
            dirs.push(symlinks.join(PENDING_DIR));
            dirs.extend(
                self.files
                    .list_dirs(&symlinks)
                    .map_err(|source| Error::Read { path: symlinks.clone(), source })?
                    .into_iter()
                    .filter(|d| d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("day="))),
            );
            let mut all = Vec::new();
            for dir in dirs {
                all.extend(self.list_files(&dir)?);
            }
            all
        };
        for path in candidates {
            if is_tmp(&path) && !needed.contains(&path) {
                self.remove_if_present(&path)?;
            }
        }
        Ok(())
    }

    /// Publish a journal's new files, retire the files they replace, and keep the journal as the swap's
    /// tombstone. Every step can be repeated, so a crash anywhere is finished by the next writer.
    fn roll_forward(&self, journal_path: &Path, journal: &CompactionJournal) -> Result<()> {
        let day_dir = self.invocations_dir().join(format!("{PARTITION_COLUMN}={}", journal.day));
        for name in &journal.written {
            let tmp = day_dir.join(format!("{TMP_PREFIX}{name}.tmp"));
            let path = day_dir.join(name);
            if self.files.exists(&tmp).map_err(|source| Error::Read { path: self.shown(&tmp), source })? {
                self.files.rename(&tmp, &path).map_err(|source| Error::Write { path: self.shown(&tmp), source })?;
            } else if !self.files.exists(&path).map_err(|source| Error::Read { path: self.shown(&path), source })? {
                // Retiring the old files now would lose rows: stop, and leave the journal for a person to see.
                let source = io::Error::new(io::ErrorKind::NotFound, "a compacted file named in the journal is gone");
                return Err(Error::Read { path: self.shown(&path), source });
            }
        }
        // The new generation is durable before the old one leaves the listing.
        self.files.sync_dir(&day_dir).map_err(|source| Error::Write { path: day_dir.clone(), source })?;
        // The swap point for engines reading through the day's manifest: one atomic write switches it from the old
        // generation to the new one, before any old file is retired (see `super::symlink`).
        self.write_day_manifest(&journal.day, &journal.replaced)?;
        for name in &journal.replaced {
            let path = day_dir.join(name);
            match self.files.rename(&path, &day_dir.join(retired_name(name))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Write { path: self.shown(&path), source }),
            }
        }
        self.files.sync_dir(&day_dir).map_err(|source| Error::Write { path: day_dir.clone(), source })?;
        // The tombstone is written afresh rather than moved, so its time (which the grace period counts from) is
        // when the old files left, even for a journal rolled forward long after its crash. Readers that see both
        // it and the journal take the tombstone.
        let tombstone = self.root.join(SUPERSEDED_DIR).join(journal_path.file_name().unwrap_or_default());
        let bytes = serde_json::to_vec(journal).map_err(|source| Error::Parse { path: tombstone.clone(), source })?;
        self.files
            .write_atomic(&tombstone, &bytes)
            .map_err(|source| Error::Write { path: self.shown(&tombstone), source })?;
        self.remove_if_present(journal_path)?;
        let journal_dir = journal_path.parent().unwrap_or(&self.root);
        self.files.sync_dir(journal_dir).map_err(|source| Error::Write { path: journal_path.to_path_buf(), source })
    }

    /// Delete the retired files of swaps older than `grace` (by their tombstone's time), and tombstones older
    /// than twice `grace`. Called by writers, with the clock read at the edge.
    pub fn expire_superseded(&self, now: DateTime<Utc>, grace: std::time::Duration) -> Result<()> {
        let grace = chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX);
        for (path, journal) in read_journals(&self.files, &self.root.join(SUPERSEDED_DIR))? {
            let modified = match self.files.modified(&path) {
                Ok(modified) => modified,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::Read { path: self.shown(&path), source }),
            };
            let age = now.signed_duration_since(modified);
            if age < grace {
                continue;
            }
            let day_dir = self.invocations_dir().join(format!("{PARTITION_COLUMN}={}", journal.day));
            for name in &journal.replaced {
                self.remove_if_present(&day_dir.join(retired_name(name)))?;
            }
            if age >= grace.checked_mul(2).unwrap_or(chrono::TimeDelta::MAX) {
                self.remove_if_present(&path)?;
            }
        }
        Ok(())
    }

    /// Every day partition present, sorted.
    pub fn day_dirs(&self) -> Result<Vec<(i32, PathBuf)>> {
        let mut days = Vec::new();
        let dir = self.invocations_dir();
        let entries = self.files.list_dirs(&dir).map_err(|source| Error::Read { path: self.shown(&dir), source })?;
        for path in entries {
            let Some(date) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("day=")) else {
                continue;
            };
            if let Ok(d) = NaiveDate::parse_from_str(date, "%Y-%m-%d") {
                let day =
                    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32;
                days.push((day, path));
            }
        }
        days.sort();
        Ok(days)
    }

    /// The committed Parquet files of a day, sorted by name.
    pub fn day_files(&self, day: i32) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = self
            .list_files(&self.day_dir(day))?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(TMP_PREFIX)))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Keys of every record already stored for a day.
    pub fn load_day_keys(&self, day: i32) -> Result<KeySet> {
        // Gathered first so the set is built at its final size: growing it would hold the old and the new table
        // at once.
        let mut found = Vec::new();
        for path in self.day_files(day)? {
            for batch in self.read_parquet(&path, Some(&[col::REQUEST_ID]))? {
                found.extend(batch.column(0).as_string::<i32>().iter().flatten().map(record_key));
            }
        }
        let mut keys = key_set(found.len());
        keys.extend(found);
        Ok(keys)
    }

    /// Start a new Parquet file in a day partition.
    pub fn create_day_file(&mut self, day: i32) -> Result<AtomicParquetFile> {
        let name = self.next_name("part-", "parquet");
        let path = self.day_dir(day).join(name);
        let file = AtomicParquetFile::create(path.clone()).map_err(|source| Error::Write { path, source })?;
        Ok(if self.files.remote_store().is_some() { file.published_by(self.files.clone()) } else { file })
    }

    /// The path shown for a file in messages (its `s3://` URL in a remote warehouse).
    fn shown(&self, path: &Path) -> PathBuf {
        self.files.display(path)
    }

    fn list_files(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.files.list_files(dir).map_err(|source| Error::Read { path: self.shown(dir), source })
    }

    fn read_text(&self, path: &Path) -> Result<String> {
        let bytes = self.files.read(path).map_err(|source| Error::Read { path: self.shown(path), source })?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::Read { path: self.shown(path), source: io::Error::new(io::ErrorKind::InvalidData, e) })
    }

    fn remove_if_present(&self, path: &Path) -> Result<()> {
        self.files.remove_if_present(path).map_err(|source| Error::Write { path: self.shown(path), source })
    }

    /// Read a warehouse Parquet file (local, or fetched whole from the object store).
    pub fn read_parquet(&self, path: &Path, columns: Option<&[usize]>) -> Result<Vec<RecordBatch>> {
        if self.files.remote_store().is_none() {
            return read_parquet(path, columns);
        }
        let bytes = self.files.read(path).map_err(|source| Error::Read { path: self.shown(path), source })?;
        parquet_batches(ParquetRecordBatchReaderBuilder::try_new(bytes), &self.shown(path), columns)
    }

    /// Read all manifest segments.
    pub fn load_manifest(&self) -> Result<Manifest> {
        let mut manifest = Manifest::default();
        for path in self.list_files(&self.root.join("_manifest"))? {
            if path.extension().is_none_or(|e| e != "json") || is_tmp(&path) {
                continue;
            }
            let text = self.read_text(&path)?;
            let ManifestSegment::V1 { sources, .. } =
                serde_json::from_str(&text).map_err(|source| Error::Parse { path: path.clone(), source })?;
            for entry in sources {
                manifest.entries.entry(entry.id.clone()).or_default().push(entry);
            }
        }
        Ok(manifest)
    }

    /// Record fully ingested sources. Call only after their rows' files were committed.
    pub fn append_manifest(&mut self, sources: Vec<ManifestEntry>, now: DateTime<Utc>) -> Result<()> {
        if sources.is_empty() {
            return Ok(());
        }
        self.check_lease()?;
        let name = self.next_name("", "json");
        let path = self.root.join("_manifest").join(name);
        let segment = ManifestSegment::V1 { run: self.run_id.clone(), committed_at: now, sources };
        let bytes = serde_json::to_vec(&segment).map_err(|source| Error::Parse { path: path.clone(), source })?;
        self.files.write_atomic(&path, &bytes).map_err(|source| Error::Write { path: self.shown(&path), source })
    }

    /// Append a reject to this run's rejects file (created on first use). Memory stays flat however many there
    /// are: rows go to the file as they come, a repeat of the row before folded into it.
    pub fn append_reject(&mut self, row: RejectRow) -> Result<()> {
        if self.rejects.is_none() {
            let name = self.next_name("rejects-", "jsonl");
            let final_path = self.root.join("rejects").join(&name);
            let tmp_path = self.root.join("rejects").join(format!("{TMP_PREFIX}{name}.tmp"));
            let file = File::create(&tmp_path).map_err(|source| Error::Write { path: tmp_path.clone(), source })?;
            let writer = io::BufWriter::with_capacity(256 << 10, file);
            self.rejects = Some(OpenRejects { writer, tmp_path, final_path, held: None, bytes: 0, line: Vec::new() });
        }
        let Some(open) = self.rejects.as_mut() else { return Ok(()) };
        if let Some(held) = open.held.as_mut()
            && held.absorb(&row)
        {
            return Ok(());
        }
        if let Some(previous) = open.held.replace(row) {
            open.write(&previous)?;
        }
        Ok(())
    }

    /// Bytes of rejects written since the last [`publish_rejects`](Self::publish_rejects) (the commit trigger
    /// counts them, so a flood of rejects is committed in bounded pieces).
    pub fn pending_reject_bytes(&self) -> u64 {
        self.rejects.as_ref().map_or(0, |r| r.bytes + r.held.as_ref().map_or(0, |h| h.raw.len() as u64))
    }

    /// Make the rejects appended so far durable and visible under their final name; `None` when there were none.
    /// The first time, this run is marked `rejects/<run>.open` first (see the module docs).
    pub fn publish_rejects(&mut self) -> Result<Option<PathBuf>> {
        let Some(open) = self.rejects.take() else { return Ok(None) };
        let tmp = open.tmp_path.clone();
        let result = self.publish(open);
        if result.is_err() {
            // The error is what matters; a leftover is removed by the next writer anyway.
            let _ = fs::remove_file(&tmp);
        }
        result.map(Some)
    }

    fn publish(&mut self, mut open: OpenRejects) -> Result<PathBuf> {
        if let Some(last) = open.held.take() {
            open.write(&last)?;
        }
        let OpenRejects { writer, tmp_path, final_path, .. } = open;
        let file = writer.into_inner().map_err(|e| Error::Write { path: tmp_path.clone(), source: e.into_error() })?;
        file.sync_all().map_err(|source| Error::Write { path: tmp_path.clone(), source })?;
        if !self.rejects_marked {
            let mark = self.root.join("rejects").join(format!("{}.open", self.run_id));
            self.files.write_atomic(&mark, b"").map_err(|source| Error::Write { path: self.shown(&mark), source })?;
            self.rejects_marked = true;
        }
        self.files.upload(&tmp_path, &final_path).map_err(|source| Error::Write { path: tmp_path, source })?;
        Ok(self.shown(&final_path))
    }

    /// Drop the rejects appended since the last publish (a failed run: its sources are read again next time).
    pub fn discard_rejects(&mut self) {
        if let Some(open) = self.rejects.take() {
            drop(open.writer);
            let _ = fs::remove_file(&open.tmp_path);
        }
    }

    /// Find the rejects of runs that did not finish (killed, or failed), keep only the rows of the sources those
    /// runs recorded as done (the others are read, and rejected, again), and count them. The caller reports them
    /// and, once it has, calls [`close_rejects`](Self::close_rejects).
    pub fn carry_over_rejects(&mut self) -> Result<CarriedOver> {
        let dir = self.root.join("rejects");
        let mut carried = CarriedOver::default();
        let mut marks: Vec<String> = self
            .list_files(&dir)?
            .iter()
            .filter(|p| !is_tmp(p) && p.extension().is_some_and(|e| e == "open"))
            .filter_map(|p| p.file_stem().and_then(|n| n.to_str()).map(String::from))
            .filter(|run| *run != self.run_id)
            .collect();
        marks.sort();
        for run in marks {
            let done = self.sources_done_by(&run)?;
            let prefix = format!("rejects-{run}-");
            let mut files: Vec<PathBuf> = self
                .list_files(&dir)?
                .into_iter()
                .filter(|p| !is_tmp(p) && p.extension().is_some_and(|e| e == "jsonl"))
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
                .collect();
            files.sort();
            for path in files {
                carried.rejects += self.keep_rejects_of(&path, &done)?;
            }
            carried.runs.push(run);
        }
        Ok(carried)
    }

    /// The sources a run recorded as done, from its manifest segments.
    fn sources_done_by(&self, run: &str) -> Result<HashSet<String>> {
        let prefix = format!("{run}-");
        let mut done = HashSet::new();
        for path in self.list_files(&self.root.join("_manifest"))? {
            let ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix));
            if !ours || is_tmp(&path) || path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = self.read_text(&path)?;
            let ManifestSegment::V1 { sources, .. } =
                serde_json::from_str(&text).map_err(|source| Error::Parse { path: path.clone(), source })?;
            done.extend(sources.into_iter().map(|e| e.id));
        }
        Ok(done)
    }

    /// This run has reported its rejects and those `carried` over: remove the marks that kept them pending.
    pub fn close_rejects(&mut self, carried: &CarriedOver) -> Result<()> {
        let dir = self.root.join("rejects");
        let own = self.rejects_marked.then(|| self.run_id.clone());
        for run in carried.runs.iter().chain(own.as_ref()) {
            self.remove_if_present(&dir.join(format!("{run}.open")))?;
        }
        self.rejects_marked = false;
        self.files.sync_dir(&dir).map_err(|source| Error::Write { path: dir, source })
    }

    /// Every reject ever recorded, oldest file first, read one row at a time.
    pub fn read_rejects(&self) -> Result<Rejects> {
        let mut files: Vec<PathBuf> = self
            .list_files(&self.root.join("rejects"))?
            .into_iter()
            .filter(|p| !is_tmp(p) && p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        files.reverse();
        Ok(Rejects { store: self.files.clone(), files, current: None })
    }

    /// The last `limit` reject rows and the number of rejects in all, holding no more than `limit` rows.
    pub fn last_rejects(&self, limit: usize) -> Result<RejectTail> {
        let mut tail = RejectTail::default();
        let mut last = std::collections::VecDeque::with_capacity(limit.min(1024));
        for row in self.read_rejects()? {
            let row = row?;
            tail.total += row.count();
            if limit > 0 {
                if last.len() == limit {
                    last.pop_front();
                }
                last.push_back(row);
            }
        }
        tail.last = last.into();
        Ok(tail)
    }

    /// Merge a day's files into as few as the row limit allows, dropping any duplicate request ids.
    /// Streaming: one batch at a time, so memory does not grow with the day's size. The replaced files are
    /// retired, not deleted (see the module docs). A failed compaction leaves no temporary file behind.
    pub fn compact_day(&mut self, day: i32, max_rows_per_file: usize) -> Result<CompactOutcome> {
        let result = self.merge_day(day, max_rows_per_file);
        if result.is_err() {
            // The compaction's error is what matters; the next writer sweeps whatever this could not.
            let _ = self.remove_temporary_files();
        }
        result
    }

    fn merge_day(&mut self, day: i32, max_rows_per_file: usize) -> Result<CompactOutcome> {
        let files = self.day_files(day)?;
        let mut outcome = CompactOutcome { day, files_before: files.len(), ..CompactOutcome::default() };
        if files.len() <= 1 {
            // Nothing to merge; the manifest is rewritten all the same, so `compact` brings every day's manifest up
            // to date (after a warehouse was moved, say).
            self.write_day_manifest(&day_date(day).format("%Y-%m-%d").to_string(), &[])?;
            outcome.files_after = files.len();
            return Ok(outcome);
        }
        let mut seen = key_set(0);
        let mut finished: Vec<FinishedFile> = Vec::new();
        let mut current: Option<AtomicParquetFile> = None;
        let write_err = |path: PathBuf| move |source| Error::Write { path, source };
        for path in &files {
            for batch in self.read_parquet(path, None)? {
                let ids = batch.column(col::REQUEST_ID).as_string::<i32>();
                let keep: Vec<u32> = (0..batch.num_rows())
                    .filter(|&i| seen.insert(record_key(ids.value(i))))
                    .map(|i| i as u32)
                    .collect();
                outcome.duplicates_dropped += (batch.num_rows() - keep.len()) as u64;
                let batch = take_rows(&batch, keep)?;
                if batch.num_rows() == 0 {
                    continue;
                }
                if current.as_ref().is_some_and(|f| f.rows() >= max_rows_per_file)
                    && let Some(f) = current.take()
                {
                    finished.push(f.finish().map_err(write_err(self.day_dir(day)))?);
                }
                let file = match &mut current {
                    Some(f) => f,
                    None => current.insert(self.create_day_file(day)?),
                };
                file.write(&batch).map_err(write_err(self.day_dir(day)))?;
                outcome.rows += batch.num_rows() as u64;
            }
        }
        if let Some(f) = current.take() {
            finished.push(f.finish().map_err(write_err(self.day_dir(day)))?);
        }
        if self.files.remote_store().is_some() {
            // The journal must name files every later writer can find: upload them under their temporary names
            // (hidden from every engine's listing), which rolling forward then renames.
            for f in &finished {
                self.files.upload(&f.tmp_path, &f.tmp_path).map_err(write_err(self.shown(&f.tmp_path)))?;
            }
        }
        // The journal is written once every new file is durable and before any is visible: a crash after
        // it is rolled forward (new files published, old ones retired), a crash before it leaves only
        // temporary files that recovery deletes. From the moment it exists, readers use it to pick one
        // generation of the day (see `super::snapshot`).
        let name_of = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(String::from);
        let journal = CompactionJournal {
            day: day_date(day).format("%Y-%m-%d").to_string(),
            replaced: files.iter().filter_map(|p| name_of(p)).collect(),
            written: finished.iter().filter_map(|f| name_of(&f.final_path)).collect(),
        };
        self.check_lease()?;
        let name = self.next_name("compact-", "json");
        let journal_path = self.root.join(JOURNAL_DIR).join(name);
        let bytes =
            serde_json::to_vec(&journal).map_err(|source| Error::Parse { path: journal_path.clone(), source })?;
        self.files.write_atomic(&journal_path, &bytes).map_err(write_err(self.shown(&journal_path)))?;
        self.roll_forward(&journal_path, &journal)?;
        outcome.files_after = finished.len();
        Ok(outcome)
    }
}

/// What compacting one day did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactOutcome {
    pub day: i32,
    pub files_before: usize,
    pub files_after: usize,
    pub rows: u64,
    pub duplicates_dropped: u64,
}

fn is_tmp(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(TMP_PREFIX))
}

/// The layout's directories (in a remote warehouse, their staging twins).
fn create_layout(root: &Path) -> Result<()> {
    for dir in [root.join("invocations"), root.join("rejects"), root.join("_manifest"), root.join(JOURNAL_DIR)] {
        std::fs::create_dir_all(&dir).map_err(|source| Error::CreateDir { path: dir.clone(), source })?;
    }
    Ok(())
}

/// Marks a warehouse in an object store (where no directory exists until a file does), so a reader can tell an
/// empty warehouse from a mistyped URL.
pub const WAREHOUSE_MARKER: &str = "_warehouse.json";

/// The compaction journals (or tombstones) in a directory, oldest name first.
fn read_journals(files: &Files, dir: &Path) -> Result<Vec<(PathBuf, CompactionJournal)>> {
    let listed = files.list_files(dir).map_err(|source| Error::Read { path: files.display(dir), source })?;
    let mut paths: Vec<PathBuf> =
        listed.into_iter().filter(|p| !is_tmp(p) && p.extension().is_some_and(|e| e == "json")).collect();
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let text = match files.read(&path) {
            Ok(text) => text,
            // Moved from `_journal/` to `_superseded/`, or expired, while this was reading.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Read { path: files.display(&path), source }),
        };
        let journal = serde_json::from_slice(&text).map_err(|source| Error::Parse { path: path.clone(), source })?;
        out.push((path, journal));
    }
    Ok(out)
}

impl OpenRejects {
    fn write(&mut self, row: &RejectRow) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, row)
            .map_err(|source| Error::Parse { path: self.tmp_path.clone(), source })?;
        self.line.push(b'\n');
        self.writer.write_all(&self.line).map_err(|source| Error::Write { path: self.tmp_path.clone(), source })?;
        self.bytes += self.line.len() as u64;
        Ok(())
    }
}

/// The rows of every rejects file, oldest file first, read one line at a time (see [`Warehouse::read_rejects`]).
pub struct Rejects {
    store: Files,
    /// Files still to read, the next one last.
    files: Vec<PathBuf>,
    current: Option<(PathBuf, RejectLines)>,
}

/// The lines of one rejects file, local or fetched from the object store.
type RejectLines = io::Lines<BufReader<Box<dyn io::Read + Send>>>;

impl Iterator for Rejects {
    type Item = Result<RejectRow>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((path, lines)) = self.current.as_mut() {
                match lines.next() {
                    Some(Ok(line)) if line.trim().is_empty() => continue,
                    Some(Ok(line)) => {
                        return Some(
                            serde_json::from_str(&line).map_err(|source| Error::Parse { path: path.clone(), source }),
                        );
                    }
                    Some(Err(source)) => return Some(Err(Error::Read { path: path.clone(), source })),
                    None => self.current = None,
                }
            }
            let path = self.files.pop()?;
            match self.store.open_read(&path) {
                Ok(file) => self.current = Some((path, BufReader::new(file).lines())),
                Err(source) => return Some(Err(Error::Read { path: self.store.display(&path), source })),
            }
        }
    }
}

impl Warehouse {
    /// Keep only the rows of a rejects file whose source is in `done` (rewriting it when some go), and return how
    /// many rejects are left in it.
    fn keep_rejects_of(&self, path: &Path, done: &HashSet<String>) -> Result<u64> {
        let read_err = |source| Error::Read { path: self.shown(path), source };
        let (mut kept, mut dropped) = (0u64, 0u64);
        for line in BufReader::new(self.files.open_read(path).map_err(read_err)?).lines() {
            let line = line.map_err(read_err)?;
            if line.trim().is_empty() {
                continue;
            }
            let row: RejectRow =
                serde_json::from_str(&line).map_err(|source| Error::Parse { path: path.to_path_buf(), source })?;
            if done.contains(&row.source) { kept += row.count() } else { dropped += 1 }
        }
        if dropped == 0 {
            return Ok(kept);
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("rejects.jsonl");
        let tmp = path.with_file_name(format!("{TMP_PREFIX}{name}.tmp"));
        let write_err = |source| Error::Write { path: tmp.clone(), source };
        let mut out = io::BufWriter::new(File::create(&tmp).map_err(write_err)?);
        for line in BufReader::new(self.files.open_read(path).map_err(read_err)?).lines() {
            let line = line.map_err(read_err)?;
            let keep = serde_json::from_str::<RejectRow>(&line).is_ok_and(|row| done.contains(&row.source));
            if keep {
                out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(write_err)?;
            }
        }
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        self.files.upload(&tmp, path).map_err(write_err)?;
        Ok(kept)
    }
}

/// Read a warehouse Parquet file, optionally only some columns (by index in the file schema).
pub fn read_parquet(path: &Path, columns: Option<&[usize]>) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    parquet_batches(ParquetRecordBatchReaderBuilder::try_new(file), path, columns)
}

fn parquet_batches<T: parquet::file::reader::ChunkReader + 'static>(
    builder: parquet::errors::Result<ParquetRecordBatchReaderBuilder<T>>,
    path: &Path,
    columns: Option<&[usize]>,
) -> Result<Vec<RecordBatch>> {
    let builder = builder.map_err(|source| Error::ReadParquet { path: path.to_path_buf(), source })?;
    let builder = match columns {
        Some(cols) => {
            let mask = ProjectionMask::roots(builder.parquet_schema(), cols.iter().copied());
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|source| Error::ReadParquet { path: path.to_path_buf(), source })?;
    let batches = reader.map(|b| b.map_err(|source| Error::Arrow { during: "reading a warehouse file", source }));
    match columns {
        Some(_) => batches.collect(),
        None => batches.map(|b| b.and_then(|b| to_file_schema(&b))).collect(),
    }
}

/// A whole batch of a warehouse file in today's [`FILE_SCHEMA`]: columns matched by name, and the nullable
/// columns added since the file was written (e.g. `service_tier`) filled with NULL, so compaction can merge old
/// and new files of a day into one schema.
pub fn to_file_schema(batch: &RecordBatch) -> Result<RecordBatch> {
    if batch.schema().fields() == FILE_SCHEMA.fields() {
        return Ok(batch.clone());
    }
    let columns = FILE_SCHEMA
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => Ok(column.clone()),
            None if field.is_nullable() => Ok(arrow::array::new_null_array(field.data_type(), batch.num_rows())),
            None => Err(Error::Arrow {
                during: "reading a warehouse file",
                source: arrow::error::ArrowError::SchemaError(format!("required column {} is missing", field.name())),
            }),
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(FILE_SCHEMA.clone(), columns)
        .map_err(|source| Error::Arrow { during: "reading a warehouse file", source })
}

/// Keep the given rows (strictly ascending) of a batch; without a copy when they are one contiguous run, as
/// they are for the rows of one day in a batch that crosses midnight (sources are read in hour order).
pub fn take_rows(batch: &RecordBatch, rows: Vec<u32>) -> Result<RecordBatch> {
    debug_assert!(rows.windows(2).all(|w| w[0] < w[1]), "rows must be strictly ascending");
    if let (Some(&first), Some(&last)) = (rows.first(), rows.last())
        && (last - first) as usize + 1 == rows.len()
        && (last as usize) < batch.num_rows()
    {
        return Ok(batch.slice(first as usize, rows.len()));
    }
    let indices = UInt32Array::from(rows);
    let columns = batch
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c.as_ref(), &indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|source| Error::Arrow { during: "selecting rows", source })?;
    RecordBatch::try_new(FILE_SCHEMA.clone(), columns)
        .map_err(|source| Error::Arrow { during: "selecting rows", source })
}

// The run id only names files; reading the clock here keeps every writer's names unique without threading a
// time through callers that have no other use for it.
#[allow(clippy::disallowed_methods)]
fn new_run_id() -> String {
    let now = Utc::now();
    let salt =
        xxh3_128(format!("{}-{}", std::process::id(), now.timestamp_nanos_opt().unwrap_or_default()).as_bytes()) as u32;
    format!("{}-{salt:08x}", now.format("%Y%m%dT%H%M%S"))
}

/// Group row indices by day (most batches hold one day, which takes the fast path).
pub fn group_by_day(days: &[i32], keep: impl Fn(usize) -> bool) -> BTreeMap<i32, Vec<u32>> {
    let mut groups: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for (i, &d) in days.iter().enumerate() {
        if keep(i) {
            groups.entry(d).or_default().push(i as u32);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::batch_of_lines;

    #[test]
    fn key_set_tells_keys_apart_by_either_half() {
        use std::hash::BuildHasher;
        let (low, high) = (1u128, 1u128 << 64);
        let mut keys = key_set(4);
        for key in [low, high, low | high, 0, low] {
            keys.insert(key);
        }
        assert_eq!(keys.len(), 4, "the repeated key is held once, the other four apart");
        let hasher = FoldKey::new();
        assert_ne!(hasher.hash_one(low), hasher.hash_one(low << 1), "a changed bit changes the hash");
        // The low bits the table picks buckets from depend on the key's high bits too.
        let buckets = (0..64u32).map(|bit| hasher.hash_one(1u128 << (32 + bit)) & 0xffff);
        assert!(buckets.collect::<HashSet<u64>>().len() > 60, "keys differing only above bit 32 spread over buckets");
        assert_eq!(hasher.hash_one(42u128), FoldKey::new().hash_one(42u128), "one seed per process");
    }

    /// The day the test files hold.
    fn test_day() -> i32 {
        day_number("2025-11-28T03:04:05Z".parse().unwrap())
    }

    /// Commit `files` files of two records each into [`test_day`] (no manifests: what the caller does).
    fn commit_files(wh: &mut Warehouse, files: usize) {
        for f in 0..files {
            let lines: String = (0..2)
                .map(|i| format!(r#"{{"timestamp":"2025-11-28T03:04:05Z","requestId":"f{f}-{i}"}}"#) + "\n")
                .collect();
            let mut file = wh.create_day_file(test_day()).unwrap();
            file.write(&batch_of_lines(&lines)).unwrap();
            file.commit().unwrap();
        }
    }

    /// What the day's manifest names, and the day's live files as `file:` URIs (worked out from the directory).
    fn manifest_and_live(root: &Path) -> (Option<Vec<String>>, Vec<String>) {
        let manifest = fs::read_to_string(root.join("_symlink_format_manifest/day=2025-11-28/manifest"))
            .ok()
            .map(|t| t.lines().map(String::from).collect());
        let mut live: Vec<String> = fs::read_dir(root.join("invocations/day=2025-11-28"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "parquet")
                    && !p.file_name().unwrap().to_str().unwrap().starts_with('.')
            })
            .map(|p| format!("file:{}", p.canonicalize().unwrap().display()))
            .collect();
        live.sort();
        (manifest, live)
    }

    #[test]
    fn manifests_follow_commits_crashes_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A commit killed after publishing its files, before rewriting the day's manifest: its mark stays.
        let day = test_day();
        let mut wh = Warehouse::open_for_write(root).unwrap();
        let mark = wh.begin_day_manifests(&[day]).unwrap();
        commit_files(&mut wh, 1);
        wh.finish_day_manifests(&[day], mark).unwrap();
        let (manifest, first) = manifest_and_live(root);
        assert_eq!((manifest.as_ref(), first.len()), (Some(&first), 1), "a whole commit: its manifest");
        let mark = wh.begin_day_manifests(&[day]).unwrap();
        assert!(mark.as_ref().is_some_and(|m| m.exists()), "the mark is written before the files");
        commit_files(&mut wh, 1);
        drop(wh);
        let (manifest, live) = manifest_and_live(root);
        assert_eq!((manifest, live.len()), (Some(first), 2), "the killed commit's file is not in the manifest");
        drop(Warehouse::open_for_write(root).unwrap());
        let (manifest, live) = manifest_and_live(root);
        assert_eq!(manifest, Some(live.clone()), "the next writer repaired the day the mark names");
        assert!(!mark.unwrap().exists(), "and removed the mark");

        // A warehouse from before manifests: the next writer writes the missing ones.
        fs::remove_dir_all(root.join("_symlink_format_manifest")).unwrap();
        let mut wh = Warehouse::open_for_write(root).unwrap();
        assert_eq!(manifest_and_live(root).0, Some(live.clone()), "backfilled on open");

        // A commit through begin/finish, then a compaction: the manifest names the new file only.
        wh.finish_day_manifests(&[day], None).unwrap();
        let outcome = wh.compact_day(day, 1_000).unwrap();
        // Both commits wrote request ids f0-0 and f0-1: two rows, two duplicates dropped.
        let counts = (outcome.files_before, outcome.files_after, outcome.rows, outcome.duplicates_dropped);
        assert_eq!(counts, (2, 1, 2, 2));
        let (manifest, live_after) = manifest_and_live(root);
        assert_eq!(live_after.len(), 1);
        assert!(!live.contains(&live_after[0]), "a new file");
        assert_eq!(manifest, Some(live_after), "switched to the new generation");
    }

    #[test]
    fn take_rows_keeps_exactly_the_rows_asked_for() {
        let lines: String = (0..10)
            .map(|i| {
                format!(
                    r#"{{"timestamp":"2025-01-02T03:04:05Z","requestId":"r{i}","input":{{"inputTokenCount":{i}}}}}"#
                ) + "\n"
            })
            .collect();
        let batch = batch_of_lines(&lines);
        assert_eq!(batch.num_rows(), 10);
        let sliced_or_taken = [vec![], vec![0], vec![3, 4, 5], (0..10).collect(), vec![1, 3], vec![8, 9], vec![0, 9]];
        for rows in sliced_or_taken {
            let got = take_rows(&batch, rows.clone()).unwrap();
            let ids: Vec<&str> = got.column(col::REQUEST_ID).as_string::<i32>().iter().flatten().collect();
            let want: Vec<String> = rows.iter().map(|r| format!("r{r}")).collect();
            assert_eq!(ids, want, "rows {rows:?}");
            let input_tokens = FILE_SCHEMA.index_of("input_tokens").unwrap();
            let tokens = got.column(input_tokens).as_primitive::<arrow::datatypes::Int64Type>();
            assert_eq!(tokens.values().to_vec(), rows.iter().map(|&r| i64::from(r)).collect::<Vec<_>>());
        }
    }
}
