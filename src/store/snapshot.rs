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
//! gone. Other engines (DuckDB, Spark) glob the files directly and see both generations only for the instant
//! between the renames, as before.
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
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::schema::PARTITION_COLUMN;
use super::warehouse::{CompactionJournal, JOURNAL_DIR, SUPERSEDED_DIR, read_journals, retired_name};

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
    runtime.register_object_store(ObjectStoreUrl::local_filesystem().as_ref(), Arc::new(store));
    if let Some(cache) = runtime.cache_manager.get_list_files_cache() {
        // A limit of zero makes the cache refuse every entry.
        cache.update_cache_limit(0);
        cache.clear();
    }
    Ok(())
}

/// The local file system, with listings under the warehouse's `invocations/` cut to one generation per day and
/// reads of retired files served from their retired names.
#[derive(Debug)]
pub struct SnapshotStore {
    inner: Arc<LocalFileSystem>,
    layout: Arc<Layout>,
}

/// Where things are, on disk and as object paths.
#[derive(Debug)]
struct Layout {
    /// The warehouse root (canonical), holding `_journal/` and `_superseded/`.
    root: PathBuf,
    /// Its `invocations/` directory.
    invocations: PathBuf,
    /// The same, as an object path.
    invocations_path: Path,
}

impl SnapshotStore {
    /// A store for the warehouse at `warehouse_root`.
    pub fn new(warehouse_root: &FsPath) -> Result<Self, Error> {
        let resolve = |source| Error::Resolve { path: warehouse_root.to_path_buf(), source };
        let root = match warehouse_root.canonicalize() {
            Ok(root) => root,
            Err(_) => std::path::absolute(warehouse_root).map_err(resolve)?,
        };
        let invocations = root.join("invocations");
        let invocations_path = Path::from_absolute_path(&invocations)
            .map_err(|source| Error::ObjectPath { path: invocations.clone(), source })?;
        let layout = Layout { root, invocations, invocations_path };
        Ok(SnapshotStore { inner: Arc::new(LocalFileSystem::new()), layout: Arc::new(layout) })
    }

    /// Does a listing of `prefix` include (part of) the `invocations` table?
    fn lists_invocations(&self, prefix: Option<&Path>) -> bool {
        let table = &self.layout.invocations_path;
        prefix.is_none_or(|p| table.prefix_matches(p) || p.prefix_matches(table))
    }

    /// Where a file of the table lives while retired, if `location` names one.
    fn retired_location(&self, location: &Path) -> Option<Path> {
        let path = self.inner.path_to_filesystem(location).ok()?;
        let name = path.file_name()?.to_str()?;
        let day_dir = path.parent()?;
        let in_table = day_dir.parent() == Some(self.layout.invocations.as_path())
            && day_dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PARTITION_COLUMN));
        if !in_table || name.starts_with('.') {
            return None;
        }
        Path::from_absolute_path(day_dir.join(retired_name(name))).ok()
    }
}

impl fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotStore({})", self.layout.root.display())
    }
}

fn generic(source: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic { store: "bedrock-spend warehouse", source: Box::new(source) }
}

/// Run blocking file-system work off the async threads when there is a runtime (there always is under
/// DataFusion), in place otherwise.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> object_store::Result<T> + Send + 'static,
) -> object_store::Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(work).await.map_err(generic)?,
        Err(_) => work(),
    }
}

impl Layout {
    /// Apply the snapshot rule (see the module docs) to a listing of `prefix`: recursive, or only of the files
    /// directly in it (`direct`, for a delimited listing).
    fn apply(
        &self,
        listed: Vec<ObjectMeta>,
        prefix: Option<&Path>,
        direct: bool,
        inner: &LocalFileSystem,
    ) -> object_store::Result<Vec<ObjectMeta>> {
        // Journals first, then tombstones: a journal moved to `_superseded/` between the two reads is still seen.
        let pending = read_journals(&self.root.join(JOURNAL_DIR)).map_err(generic)?;
        let finished = read_journals(&self.root.join(SUPERSEDED_DIR)).map_err(generic)?;
        if pending.is_empty() && finished.is_empty() {
            return Ok(listed);
        }
        let mut swaps: HashMap<String, Swap> = HashMap::new();
        for (path, journal) in pending {
            swaps.insert(file_name(&path), Swap { journal, finished: false });
        }
        for (path, journal) in finished {
            swaps.insert(file_name(&path), Swap { journal, finished: true });
        }
        let mut by_day: HashMap<String, Vec<Swap>> = HashMap::new();
        for swap in swaps.into_values() {
            by_day.entry(swap.journal.day.clone()).or_default().push(swap);
        }
        let choice = choose(&by_day, |day| self.invocations.join(format!("{PARTITION_COLUMN}={day}")));

        let mut kept = Vec::with_capacity(listed.len());
        let mut seen = HashSet::new();
        for meta in listed {
            let path = inner.path_to_filesystem(&meta.location)?;
            if choice.drop.contains(&path) && !choice.keep.iter().any(|k| k.path == path) {
                continue;
            }
            seen.insert(path);
            kept.push(meta);
        }
        for keep in &choice.keep {
            if seen.contains(&keep.path) {
                continue;
            }
            let location = Path::from_absolute_path(&keep.path).map_err(generic)?;
            let depth = prefix.map_or(0, |p| p.parts().count());
            if prefix.is_some_and(|p| !location.prefix_matches(p)) || direct && location.parts().count() != depth + 1 {
                continue;
            }
            // Under its own name, or under its retired one; gone only if expired, which no listing this recent
            // can need.
            let found = std::iter::once(&keep.path).chain(&keep.retired).find_map(|p| std::fs::metadata(p).ok());
            if let Some(metadata) = found {
                kept.push(object_meta(location, &metadata));
            }
        }
        Ok(kept)
    }
}

fn file_name(path: &FsPath) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string()
}

/// One compaction swap: its journal, and whether it finished (is a tombstone).
struct Swap {
    journal: CompactionJournal,
    finished: bool,
}

/// A file a reader must see, and where it is while retired.
#[derive(Debug, PartialEq, Eq)]
struct Keep {
    path: PathBuf,
    retired: Option<PathBuf>,
}

/// What the rule decided: files to drop from a listing, and files to keep (adding any the listing missed).
#[derive(Debug, Default)]
struct Choice {
    drop: HashSet<PathBuf>,
    keep: Vec<Keep>,
}

/// Pick one generation per day. A day's swaps form a chain (each compaction replaces every file the day has,
/// the previous compaction's output included); the swaps no other swap replaced are its heads, usually one.
fn choose(by_day: &HashMap<String, Vec<Swap>>, day_dir: impl Fn(&str) -> PathBuf) -> Choice {
    let mut choice = Choice::default();
    for (day, swaps) in by_day {
        let dir = day_dir(day);
        let replaced_by_others = |i: usize| {
            swaps
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && swaps[i].journal.written.iter().any(|w| other.journal.replaced.contains(w)))
        };
        for (i, swap) in swaps.iter().enumerate() {
            let (replaced, written) = (&swap.journal.replaced, &swap.journal.written);
            if replaced_by_others(i) {
                choice.drop.extend(replaced.iter().chain(written).map(|n| dir.join(n)));
            } else if swap.finished {
                choice.drop.extend(replaced.iter().map(|n| dir.join(n)));
                choice.keep.extend(written.iter().map(|n| Keep { path: dir.join(n), retired: None }));
            } else {
                choice.drop.extend(written.iter().map(|n| dir.join(n)));
                choice.keep.extend(
                    replaced.iter().map(|n| Keep { path: dir.join(n), retired: Some(dir.join(retired_name(n))) }),
                );
            }
        }
    }
    choice
}

/// An [`ObjectMeta`] as [`LocalFileSystem`] describes a file (its e-tag included), so a file found by its
/// metadata here is the same object to DataFusion's caches as one it listed.
fn object_meta(location: Path, metadata: &std::fs::Metadata) -> ObjectMeta {
    use std::os::unix::fs::MetadataExt;
    let modified = metadata.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    let micros = modified.duration_since(std::time::SystemTime::UNIX_EPOCH).unwrap_or_default().as_micros();
    ObjectMeta {
        location,
        last_modified: modified.into(),
        size: metadata.len(),
        e_tag: Some(format!("{:x}-{micros:x}-{:x}", metadata.ino(), metadata.len())),
        version: None,
    }
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
        let (inner, layout, prefix) = (self.inner.clone(), self.layout.clone(), prefix.cloned());
        futures::stream::once(async move {
            let listed: Vec<ObjectMeta> = listing.try_collect().await?;
            blocking(move || layout.apply(listed, prefix.as_ref(), false, &inner)).await
        })
        .map_ok(|kept| futures::stream::iter(kept.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let mut result = self.inner.list_with_delimiter(prefix).await?;
        if self.lists_invocations(prefix) && !result.objects.is_empty() {
            let (inner, layout, prefix) = (self.inner.clone(), self.layout.clone(), prefix.cloned());
            let objects = std::mem::take(&mut result.objects);
            result.objects = blocking(move || layout.apply(objects, prefix.as_ref(), true, &inner)).await?;
        }
        Ok(result)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
