//! What queries read while a writer compacts: each day's files as one generation, old or new, never both and
//! never a file that vanished under the query.
//!
//! Why this is needed: compaction replaces a day's files by new ones, and no directory operation swaps several
//! files at once. A reader listing the day between the steps saw both generations (every row twice), and a
//! query that listed the old files failed once they were deleted ("Object at location … not found").
//!
//! How, with [`super::warehouse`]'s side of it: a compaction's journal, durable before the first new file
//! appears, names the files replaced and written; the replaced files are then *retired* (renamed to a hidden
//! name beside them) rather than deleted, and deleted only after a grace period longer than a query; the journal
//! stays as the swap's tombstone. A reader lists the files, then reads the journals and tombstones, and for each
//! day keeps one generation:
//!
//! - a swap still in its journal may be half done: the reader keeps the *old* files (put back from their
//!   retired names if the listing missed them) and drops any new one it listed;
//! - a finished swap (its tombstone): the reader drops the old files it may have listed before they were
//!   retired, and keeps the new ones (added if the listing ran before they appeared);
//! - swaps later replaced by another swap of the same day are history: their files are dropped.
//!
//! Reading the journals *after* listing is what makes this safe: a journal exists before any file of its swap
//! moves, so a listing that saw a move is always followed by a read that sees its journal. A query that listed a
//! file before it was retired reads it under its retired name, which [`SnapshotStore`] tries when the name is
//! gone. Athena and Spark follow the per-day manifests instead ([`super::symlink`]); engines that glob the files
//! directly (DuckDB, pyarrow) see both generations only for the instant between the renames.
//!
//! The rule sits in an [`ObjectStore`] wrapped around the local file system, so every DataFusion reader of the
//! warehouse (listing tables, the shell, named queries) gets it through [`register`]. The one thing that could
//! still serve a stale listing, DataFusion's list-files cache, is turned off there: a listing is a few
//! directory reads, and a cached one outlives the grace period in a long-lived session.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::parquet::TMP_PREFIX;
use super::schema::PARTITION_COLUMN;
use super::warehouse::{CompactionJournal, JOURNAL_DIR, SUPERSEDED_DIR, retired_name};

/// Errors setting up the snapshot reader.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot resolve warehouse path {path}")]
    Resolve { path: PathBuf, source: std::io::Error },
    #[error("cannot express warehouse path {path} as an object store path")]
    ObjectPath { path: PathBuf, source: object_store::path::Error },
}

/// Make every `file://` read of `runtime`'s sessions see one generation of each day of the warehouse at
/// `warehouse_root` (see the module docs): registers [`SnapshotStore`] for `file://` (other paths pass through
/// unchanged) and turns off the list-files cache. Call once per runtime, before the first query.
pub fn register(runtime: &RuntimeEnv, warehouse_root: &FsPath) -> Result<(), Error> {
    let store = SnapshotStore::new(warehouse_root)?;
    register_store(runtime, &ObjectStoreUrl::local_filesystem(), store);
    Ok(())
}

/// The same for a warehouse in an object store: `store` holds the warehouse under `root`, and is registered for
/// `url` (`s3://bucket`).
pub fn register_remote(runtime: &RuntimeEnv, url: &ObjectStoreUrl, store: Arc<dyn ObjectStore>, root: Path) {
    register_store(runtime, url, SnapshotStore::over(store, root));
}

fn register_store(runtime: &RuntimeEnv, url: &ObjectStoreUrl, store: SnapshotStore) {
    runtime.register_object_store(url.as_ref(), Arc::new(store));
    if let Some(cache) = runtime.cache_manager.get_list_files_cache() {
        // A limit of zero makes the cache refuse every entry.
        cache.update_cache_limit(0);
        cache.clear();
    }
}

/// A store (the local file system, or the warehouse's object store) with listings under the warehouse's
/// `invocations/` cut to one generation per day and reads of retired files served from their retired names.
#[derive(Debug)]
pub struct SnapshotStore {
    inner: Arc<dyn ObjectStore>,
    layout: Arc<Layout>,
}

/// Where things are, as object paths.
#[derive(Debug)]
struct Layout {
    /// The warehouse root, holding `_journal/` and `_superseded/`.
    root: Path,
    /// Its `invocations/` directory.
    invocations: Path,
}

impl SnapshotStore {
    /// A store for the local warehouse at `warehouse_root`.
    pub fn new(warehouse_root: &FsPath) -> Result<Self, Error> {
        let resolve = |source| Error::Resolve { path: warehouse_root.to_path_buf(), source };
        let root = match warehouse_root.canonicalize() {
            Ok(root) => root,
            Err(_) => std::path::absolute(warehouse_root).map_err(resolve)?,
        };
        let root =
            Path::from_absolute_path(&root).map_err(|source| Error::ObjectPath { path: root.clone(), source })?;
        Ok(Self::over(Arc::new(LocalFileSystem::new()), root))
    }

    /// A store for the warehouse under `root` of `inner`.
    pub fn over(inner: Arc<dyn ObjectStore>, root: Path) -> Self {
        let invocations = root.clone().join("invocations");
        SnapshotStore { inner, layout: Arc::new(Layout { root, invocations }) }
    }

    /// Does a listing of `prefix` include (part of) the `invocations` table?
    fn lists_invocations(&self, prefix: Option<&Path>) -> bool {
        let table = &self.layout.invocations;
        prefix.is_none_or(|p| table.prefix_matches(p) || p.prefix_matches(table))
    }

    /// Where a file of the table lives while retired, if `location` names one.
    fn retired_location(&self, location: &Path) -> Option<Path> {
        let mut rest = location.prefix_match(&self.layout.invocations)?;
        let day = rest.next()?;
        let name = rest.next()?;
        if rest.next().is_some() || !day.as_ref().starts_with(PARTITION_COLUMN) || name.as_ref().starts_with('.') {
            return None;
        }
        Some(self.layout.invocations.clone().join(day.as_ref()).join(retired_name(name.as_ref()).as_str()))
    }

    /// Apply the snapshot rule (see the module docs) to a listing of `prefix`: recursive, or only of the files
    /// directly in it (`direct`, for a delimited listing).
    async fn apply(
        &self,
        listed: Vec<ObjectMeta>,
        prefix: Option<&Path>,
        direct: bool,
    ) -> object_store::Result<Vec<ObjectMeta>> {
        let layout = &self.layout;
        // Journals first, then tombstones: a journal finished between the two reads is still seen (as a tombstone,
        // which is written before the journal is removed).
        let pending = read_journals(&self.inner, &layout.root.clone().join(JOURNAL_DIR)).await?;
        let finished = read_journals(&self.inner, &layout.root.clone().join(SUPERSEDED_DIR)).await?;
        if pending.is_empty() && finished.is_empty() {
            return Ok(listed);
        }
        let mut swaps: HashMap<String, Swap> = HashMap::new();
        for (name, journal) in pending {
            swaps.insert(name, Swap { journal, finished: false });
        }
        for (name, journal) in finished {
            swaps.insert(name, Swap { journal, finished: true });
        }
        let mut by_day: HashMap<String, Vec<Swap>> = HashMap::new();
        for swap in swaps.into_values() {
            by_day.entry(swap.journal.day.clone()).or_default().push(swap);
        }
        let choice =
            choose(&by_day, |day| layout.invocations.clone().join(format!("{PARTITION_COLUMN}={day}").as_str()));

        let mut kept = Vec::with_capacity(listed.len());
        let mut seen = HashSet::new();
        for meta in listed {
            if choice.drop.contains(&meta.location) && !choice.keep.iter().any(|k| k.path == meta.location) {
                continue;
            }
            seen.insert(meta.location.clone());
            kept.push(meta);
        }
        for keep in &choice.keep {
            if seen.contains(&keep.path) {
                continue;
            }
            let depth = prefix.map_or(0, |p| p.parts().count());
            if prefix.is_some_and(|p| !keep.path.prefix_matches(p)) || direct && keep.path.parts().count() != depth + 1
            {
                continue;
            }
            // Under its own name, or under its retired one; gone only if expired, which no listing this recent
            // can need.
            for candidate in std::iter::once(&keep.path).chain(&keep.retired) {
                match self.inner.head(candidate).await {
                    Ok(mut meta) => {
                        meta.location = keep.path.clone();
                        kept.push(meta);
                        break;
                    }
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(kept)
    }
}

/// The compaction journals (or tombstones) under `dir`, by file name; one that vanished while this read (moved
/// from `_journal/` to `_superseded/`, or expired) is skipped.
async fn read_journals(
    store: &Arc<dyn ObjectStore>,
    dir: &Path,
) -> object_store::Result<Vec<(String, CompactionJournal)>> {
    let listed = store.list_with_delimiter(Some(dir)).await?;
    let mut out = Vec::new();
    for meta in listed.objects {
        let Some(name) = meta.location.filename().map(String::from) else { continue };
        if name.starts_with(TMP_PREFIX) || !name.ends_with(".json") {
            continue;
        }
        let bytes = match store.get(&meta.location).await {
            Ok(result) => match result.bytes().await {
                Ok(bytes) => bytes,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            },
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let journal = serde_json::from_slice(&bytes).map_err(generic)?;
        out.push((name, journal));
    }
    Ok(out)
}

impl fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotStore({}, {})", self.inner, self.layout.root)
    }
}

fn generic(source: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic { store: "bedrock-spend warehouse", source: Box::new(source) }
}

/// One compaction swap: its journal, and whether it finished (is a tombstone).
struct Swap {
    journal: CompactionJournal,
    finished: bool,
}

/// A file a reader must see, and where it is while retired.
#[derive(Debug, PartialEq, Eq)]
struct Keep {
    path: Path,
    retired: Option<Path>,
}

/// What the rule decided: files to drop from a listing, and files to keep (adding any the listing missed).
#[derive(Debug, Default)]
struct Choice {
    drop: HashSet<Path>,
    keep: Vec<Keep>,
}

/// Pick one generation per day. A day's swaps form a chain (each compaction replaces every file the day has,
/// the previous compaction's output included); the swaps no other swap replaced are its heads, usually one.
fn choose(by_day: &HashMap<String, Vec<Swap>>, day_dir: impl Fn(&str) -> Path) -> Choice {
    let mut choice = Choice::default();
    for (day, swaps) in by_day {
        let dir = day_dir(day);
        let file = |name: &str| dir.clone().join(name);
        let replaced_by_others = |i: usize| {
            swaps
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && swaps[i].journal.written.iter().any(|w| other.journal.replaced.contains(w)))
        };
        for (i, swap) in swaps.iter().enumerate() {
            let (replaced, written) = (&swap.journal.replaced, &swap.journal.written);
            if replaced_by_others(i) {
                choice.drop.extend(replaced.iter().chain(written).map(|n| file(n)));
            } else if swap.finished {
                choice.drop.extend(replaced.iter().map(|n| file(n)));
                choice.keep.extend(written.iter().map(|n| Keep { path: file(n), retired: None }));
            } else {
                choice.drop.extend(written.iter().map(|n| file(n)));
                choice
                    .keep
                    .extend(replaced.iter().map(|n| Keep { path: file(n), retired: Some(file(&retired_name(n))) }));
            }
        }
    }
    choice
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[async_trait]
impl ObjectStore for SnapshotStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        match self.inner.get_opts(location, options.clone()).await {
            Err(e) if is_not_found(&e) => {
                let Some(retired) = self.retired_location(location) else { return Err(e) };
                let mut result = self.inner.get_opts(&retired, options).await.map_err(|_| e)?;
                result.meta.location = location.clone();
                Ok(result)
            }
            other => other,
        }
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
        match self.inner.get_ranges(location, ranges).await {
            Err(e) if is_not_found(&e) => {
                let Some(retired) = self.retired_location(location) else { return Err(e) };
                self.inner.get_ranges(&retired, ranges).await.map_err(|_| e)
            }
            other => other,
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let listing = self.inner.list(prefix);
        if !self.lists_invocations(prefix) {
            return listing;
        }
        let this = SnapshotStore { inner: self.inner.clone(), layout: self.layout.clone() };
        let prefix = prefix.cloned();
        futures::stream::once(async move {
            let listed: Vec<ObjectMeta> = listing.try_collect().await?;
            this.apply(listed, prefix.as_ref(), false).await
        })
        .map_ok(|kept| futures::stream::iter(kept.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let mut result = self.inner.list_with_delimiter(prefix).await?;
        if self.lists_invocations(prefix) && !result.objects.is_empty() {
            let objects = std::mem::take(&mut result.objects);
            result.objects = self.apply(objects, prefix, true).await?;
        }
        Ok(result)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A warehouse directory with one day's files and the journals and tombstones of its swaps.
    struct Fixture {
        dir: tempfile::TempDir,
        store: SnapshotStore,
    }

    const DAY: &str = "2025-11-01";

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            for sub in ["invocations/day=2025-11-01", "invocations/day=2025-11-02", JOURNAL_DIR, SUPERSEDED_DIR] {
                std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            }
            let store = SnapshotStore::new(dir.path()).unwrap();
            Fixture { dir, store }
        }
        fn day_dir(&self, day: &str) -> PathBuf {
            self.dir.path().canonicalize().unwrap().join("invocations").join(format!("day={day}"))
        }
        /// Files present under their own names.
        fn files(&self, names: &[&str]) {
            for name in names {
                std::fs::write(self.day_dir(DAY).join(name), name.as_bytes()).unwrap();
            }
        }
        fn retire(&self, names: &[&str]) {
            for name in names {
                let dir = self.day_dir(DAY);
                std::fs::rename(dir.join(name), dir.join(retired_name(name))).unwrap();
            }
        }
        fn swap(&self, file: &str, finished: bool, replaced: &[&str], written: &[&str]) {
            let journal = CompactionJournal {
                day: DAY.to_string(),
                replaced: replaced.iter().map(|s| s.to_string()).collect(),
                written: written.iter().map(|s| s.to_string()).collect(),
            };
            let dir = if finished { SUPERSEDED_DIR } else { JOURNAL_DIR };
            std::fs::write(self.dir.path().join(dir).join(file), serde_json::to_vec(&journal).unwrap()).unwrap();
        }
        /// What a reader keeps of a listing that saw `names` (of the day, whatever exists now), listing `prefix`.
        fn read(&self, names: &[&str], prefix: Option<&str>) -> Vec<String> {
            let listed = names
                .iter()
                .map(|n| ObjectMeta {
                    location: Path::from_absolute_path(self.day_dir(DAY).join(n)).unwrap(),
                    last_modified: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                    size: 1,
                    e_tag: None,
                    version: None,
                })
                .collect();
            let prefix = prefix.map(|day| Path::from_absolute_path(self.day_dir(day)).unwrap());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let kept = rt.block_on(self.store.apply(listed, prefix.as_ref(), false)).unwrap();
            let mut names: Vec<String> = kept.iter().map(|m| m.location.filename().unwrap().to_string()).collect();
            names.sort();
            names
        }
    }

    #[test]
    fn a_swap_in_progress_reads_the_old_generation() {
        let f = Fixture::new();
        f.files(&["a", "b", "c"]);
        f.swap("compact-1.json", false, &["a", "b"], &["c"]);
        assert_eq!(f.read(&["a", "b", "c"], None), ["a", "b"]);
        // Retiring began after the listing: the retired file is put back under its own name.
        f.retire(&["a"]);
        assert_eq!(f.read(&["b", "c"], None), ["a", "b"]);
        // And it is read from its retired name.
        let location = Path::from_absolute_path(f.day_dir(DAY).join("a")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(async {
            f.store.get_opts(&location, GetOptions::default()).await.unwrap().bytes().await.unwrap()
        });
        assert_eq!(&bytes[..], b"a");
    }

    #[test]
    fn a_finished_swap_reads_the_new_generation() {
        let f = Fixture::new();
        f.files(&["a", "b", "c", "later"]);
        f.retire(&["a", "b"]);
        f.swap("compact-1.json", true, &["a", "b"], &["c"]);
        // A listing from before the retirement, one from before the new file appeared, and a current one.
        assert_eq!(f.read(&["a", "b", "c", "later"], None), ["c", "later"]);
        assert_eq!(f.read(&["a", "b"], None), ["c"]);
        assert_eq!(f.read(&["c", "later"], None), ["c", "later"]);
        // A listing of another day adds nothing of this one.
        assert_eq!(f.read(&[], Some("2025-11-02")), Vec::<String>::new());
        assert_eq!(f.read(&[], Some(DAY)), ["c"]);
    }

    #[test]
    fn only_the_last_swap_of_a_chain_decides() {
        let f = Fixture::new();
        f.files(&["c", "d", "e"]);
        f.swap("compact-1.json", true, &["a", "b"], &["c"]);
        f.swap("compact-2.json", false, &["c", "d"], &["e"]);
        assert_eq!(f.read(&["c", "d", "e"], None), ["c", "d"], "the second swap is in progress: c and d");
        f.retire(&["c", "d"]);
        std::fs::remove_file(f.dir.path().join(JOURNAL_DIR).join("compact-2.json")).unwrap();
        f.swap("compact-2.json", true, &["c", "d"], &["e"]);
        assert_eq!(f.read(&["a", "b", "c", "d", "e"], None), ["e"]);
    }
}
