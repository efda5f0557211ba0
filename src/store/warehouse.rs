//! The on-disk warehouse: layout, the single-writer lock, crash recovery, the dedupe key index, the manifest of
//! ingested sources, rejects, and compaction.
//!
//! ```text
//! WAREHOUSE/
//!   invocations/day=YYYY-MM-DD/part-<run>-<n>.parquet   Hive layout, what every engine reads
//!   rejects/rejects-<run>-<n>.jsonl                     records that could not be ingested, with reasons
//!   _manifest/<run>-<n>.json                            sources fully ingested (one segment per commit)
//!   _journal/compact-<run>.json                         pending compaction swaps (rolled forward on open)
//!   .lock                                               held by the one process writing
//! ```
//!
//! Durability rule, after Vector's "acknowledge only after delivery": a source enters the manifest only in a
//! commit that follows the rename of every Parquet file holding its rows. A crash before that leaves rows
//! without a manifest entry; the re-run reads the source again and the key index drops the rows already
//! there. Duplicates over loss, then dedupe makes the duplicates vanish.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use super::parquet::{AtomicParquetFile, FinishedFile, TMP_PREFIX, sync_dir, write_file_atomic};
use super::schema::{FILE_SCHEMA, PARTITION_COLUMN, col};

/// Errors of the warehouse; each names the path that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create warehouse directory {path}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("warehouse {path} is locked by another bedrock-spend process")]
    Locked { path: PathBuf },
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

/// A record that could not be ingested, as written to `rejects/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RejectRow {
    pub source: String,
    pub line: u64,
    pub offset: u64,
    pub item: Option<u64>,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CompactionJournal {
    day: String,
    /// Files the compacted output replaces; deleted when the journal is rolled forward.
    replaced: Vec<String>,
    /// The compacted files, already renamed into place when the journal exists.
    written: Vec<String>,
}

/// An open warehouse. Writers hold the lock for their lifetime.
pub struct Warehouse {
    root: PathBuf,
    run_id: String,
    seq: u64,
    _lock: Option<File>,
}

impl Warehouse {
    /// Open for writing: create the layout, take the lock, and recover from any crashed run.
    pub fn open_for_write(root: &Path) -> Result<Self> {
        for dir in [root.join("invocations"), root.join("rejects"), root.join("_manifest"), root.join("_journal")] {
            fs::create_dir_all(&dir).map_err(|source| Error::CreateDir { path: dir.clone(), source })?;
        }
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
        let warehouse = Warehouse { root: root.to_path_buf(), run_id: new_run_id(), seq: 0, _lock: Some(lock) };
        warehouse.recover()?;
        Ok(warehouse)
    }

    /// Open for reading only (queries): no lock, no recovery.
    pub fn open_read_only(root: &Path) -> Self {
        Warehouse { root: root.to_path_buf(), run_id: new_run_id(), seq: 0, _lock: None }
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

    /// Remove temporary files left by a crashed run and finish interrupted compactions.
    fn recover(&self) -> Result<()> {
        let journal_dir = self.root.join("_journal");
        for path in list_files(&journal_dir)? {
            if path.extension().is_some_and(|e| e == "json") {
                let text = fs::read_to_string(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
                let journal: CompactionJournal =
                    serde_json::from_str(&text).map_err(|source| Error::Parse { path: path.clone(), source })?;
                self.roll_forward(&path, &journal)?;
            }
        }
        let mut dirs =
            vec![self.invocations_dir(), self.root.join("rejects"), self.root.join("_manifest"), journal_dir];
        dirs.extend(self.day_dirs()?.into_iter().map(|(_, d)| d));
        for dir in dirs {
            for path in list_files(&dir)? {
                if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(TMP_PREFIX)) {
                    fs::remove_file(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
                }
            }
        }
        Ok(())
    }

    fn roll_forward(&self, journal_path: &Path, journal: &CompactionJournal) -> Result<()> {
        let day_dir = self.invocations_dir().join(format!("{PARTITION_COLUMN}={}", journal.day));
        for name in &journal.written {
            let tmp = day_dir.join(format!("{TMP_PREFIX}{name}.tmp"));
            if tmp.exists() {
                fs::rename(&tmp, day_dir.join(name)).map_err(|source| Error::Write { path: tmp.clone(), source })?;
            }
        }
        for name in &journal.replaced {
            let path = day_dir.join(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
        sync_dir(Some(&day_dir)).map_err(|source| Error::Write { path: day_dir.clone(), source })?;
        fs::remove_file(journal_path).map_err(|source| Error::Write { path: journal_path.to_path_buf(), source })
    }

    /// Every day partition present, sorted.
    pub fn day_dirs(&self) -> Result<Vec<(i32, PathBuf)>> {
        let mut days = Vec::new();
        let dir = self.invocations_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(days),
            Err(source) => return Err(Error::Read { path: dir, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read { path: dir.clone(), source })?;
            let name = entry.file_name();
            let Some(date) = name.to_str().and_then(|n| n.strip_prefix("day=")) else {
                continue;
            };
            if let Ok(d) = NaiveDate::parse_from_str(date, "%Y-%m-%d") {
                let day =
                    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32;
                days.push((day, entry.path()));
            }
        }
        days.sort();
        Ok(days)
    }

    /// The committed Parquet files of a day, sorted by name.
    pub fn day_files(&self, day: i32) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = list_files(&self.day_dir(day))?
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
            for batch in read_parquet(&path, Some(&[col::REQUEST_ID]))? {
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
        AtomicParquetFile::create(path.clone()).map_err(|source| Error::Write { path, source })
    }

    /// Read all manifest segments.
    pub fn load_manifest(&self) -> Result<Manifest> {
        let mut manifest = Manifest::default();
        for path in list_files(&self.root.join("_manifest"))? {
            if path.extension().is_none_or(|e| e != "json") || is_tmp(&path) {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
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
        let name = self.next_name("", "json");
        let path = self.root.join("_manifest").join(name);
        let segment = ManifestSegment::V1 { run: self.run_id.clone(), committed_at: now, sources };
        let bytes = serde_json::to_vec(&segment).map_err(|source| Error::Parse { path: path.clone(), source })?;
        write_file_atomic(&path, &bytes).map_err(|source| Error::Write { path, source })
    }

    /// Write rejects as one JSON-lines file.
    pub fn write_rejects(&mut self, rejects: &[RejectRow]) -> Result<Option<PathBuf>> {
        if rejects.is_empty() {
            return Ok(None);
        }
        let name = self.next_name("rejects-", "jsonl");
        let path = self.root.join("rejects").join(name);
        let mut bytes = Vec::new();
        for r in rejects {
            serde_json::to_writer(&mut bytes, r).map_err(|source| Error::Parse { path: path.clone(), source })?;
            bytes.push(b'\n');
        }
        write_file_atomic(&path, &bytes).map_err(|source| Error::Write { path: path.clone(), source })?;
        Ok(Some(path))
    }

    /// Every reject ever recorded, oldest file first.
    pub fn read_rejects(&self) -> Result<Vec<RejectRow>> {
        let mut out = Vec::new();
        let mut files = list_files(&self.root.join("rejects"))?;
        files.sort();
        for path in files.into_iter().filter(|p| !is_tmp(p) && p.extension().is_some_and(|e| e == "jsonl")) {
            let file = File::open(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
            for line in BufReader::new(file).lines() {
                let line = line.map_err(|source| Error::Read { path: path.clone(), source })?;
                if line.trim().is_empty() {
                    continue;
                }
                out.push(serde_json::from_str(&line).map_err(|source| Error::Parse { path: path.clone(), source })?);
            }
        }
        Ok(out)
    }

    /// Merge a day's files into as few as the row limit allows, dropping any duplicate request ids.
    /// Streaming: one batch at a time, so memory does not grow with the day's size.
    pub fn compact_day(&mut self, day: i32, max_rows_per_file: usize) -> Result<CompactOutcome> {
        let files = self.day_files(day)?;
        let mut outcome = CompactOutcome { day, files_before: files.len(), ..CompactOutcome::default() };
        if files.len() <= 1 {
            outcome.files_after = files.len();
            return Ok(outcome);
        }
        let mut seen = key_set(0);
        let mut finished: Vec<FinishedFile> = Vec::new();
        let mut current: Option<AtomicParquetFile> = None;
        let write_err = |path: PathBuf| move |source| Error::Write { path, source };
        for path in &files {
            for batch in read_parquet(path, None)? {
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
        // The journal is written once every new file is durable and before any is visible: a crash after
        // it is rolled forward (new files published, old ones deleted), a crash before it leaves only
        // temporary files that recovery deletes. Readers never see both generations from a finished run.
        let name_of = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(String::from);
        let journal = CompactionJournal {
            day: day_date(day).format("%Y-%m-%d").to_string(),
            replaced: files.iter().filter_map(|p| name_of(p)).collect(),
            written: finished.iter().filter_map(|f| name_of(&f.final_path)).collect(),
        };
        let name = self.next_name("compact-", "json");
        let journal_path = self.root.join("_journal").join(name);
        let bytes =
            serde_json::to_vec(&journal).map_err(|source| Error::Parse { path: journal_path.clone(), source })?;
        write_file_atomic(&journal_path, &bytes).map_err(write_err(journal_path.clone()))?;
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

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read { path: dir.to_path_buf(), source });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read { path: dir.to_path_buf(), source })?;
        if entry.file_type().map_err(|source| Error::Read { path: entry.path(), source })?.is_file() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Read a warehouse Parquet file, optionally only some columns (by index in the file schema).
pub fn read_parquet(path: &Path, columns: Option<&[usize]>) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|source| Error::ReadParquet { path: path.to_path_buf(), source })?;
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
    reader.map(|b| b.map_err(|source| Error::Arrow { during: "reading a warehouse file", source })).collect()
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
