//! Local files and folders as sources (edge: reads the filesystem): files named explicitly, and folders walked
//! recursively in name order. A source's id is its canonical path; its fingerprint is size and mtime, so a
//! changed file is read again.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{SourceObject, delivery_hour, not_a_log};

/// Local paths expanded into sources, plus what was passed over.
#[derive(Debug, Default)]
pub struct LocalListing {
    pub sources: Vec<SourceObject>,
    pub not_logs: u64,
}

/// Errors while listing local inputs.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("input {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read {path}")]
    Io { path: PathBuf, source: io::Error },
}

/// Expand files and folders (walked recursively, in name order) into sources.
pub fn list_local(inputs: &[PathBuf]) -> Result<LocalListing, ListError> {
    let mut listing = LocalListing::default();
    for input in inputs {
        let meta = fs::metadata(input).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => ListError::Missing { path: input.clone() },
            _ => ListError::Io { path: input.clone(), source },
        })?;
        let canonical = fs::canonicalize(input).map_err(|source| ListError::Io { path: input.clone(), source })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(&canonical, &mut files)?;
            for (path, meta) in files.iter().zip(stat_all(&files)) {
                let meta = meta.map_err(|source| ListError::Io { path: path.clone(), source })?;
                push_file(path.clone(), &meta, &mut listing, false)?;
            }
        } else {
            push_file(canonical, &meta, &mut listing, true)?;
        }
    }
    Ok(listing)
}

/// Walk a folder given by its canonical path, collecting its files in name order. Entries are not followed
/// through symlinks (their type is the link's own, neither file nor folder), so every path below is canonical
/// too: one `canonicalize` per input rather than one per file, which took a path lookup per component of every
/// one of thousands of files. Types come from the directory listing itself; only files are `stat`ed, later.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ListError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|source| ListError::Io { path: dir.to_path_buf(), source })?
        .collect::<Result<_, _>>()
        .map_err(|source| ListError::Io { path: dir.to_path_buf(), source })?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let hidden = entry.file_name().to_str().is_none_or(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let kind = entry.file_type().map_err(|source| ListError::Io { path: path.clone(), source })?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// The metadata (size and modification time, for fingerprints) of every file, in order. A delivery layout
/// holds tens of thousands of small objects, and one `stat` after another was a large part of a re-run's time, with
/// the decoders of a first run waiting on it; the calls are spread over a few threads. Not followed through
/// symlinks, as the walk does not follow them.
fn stat_all(files: &[PathBuf]) -> Vec<io::Result<fs::Metadata>> {
    const PER_THREAD_AT_LEAST: usize = 1024;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = files.len().div_ceil(threads).max(PER_THREAD_AT_LEAST);
    if files.len() <= chunk {
        return files.iter().map(fs::symlink_metadata).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(fs::symlink_metadata).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .zip(files.chunks(chunk))
            .flat_map(|(handle, part)| {
                // A thread that panicked (it cannot: `metadata` returns errors) leaves its files as errors.
                handle
                    .join()
                    .unwrap_or_else(|_| part.iter().map(|_| Err(io::Error::other("stat thread failed"))).collect())
            })
            .collect()
    })
}

fn push_file(
    canonical: PathBuf,
    meta: &fs::Metadata,
    listing: &mut LocalListing,
    explicit: bool,
) -> Result<(), ListError> {
    let id = canonical.to_string_lossy().into_owned();
    let name = canonical.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if not_a_log(&id).is_some() || (!explicit && !looks_like_log_file(name)) {
        listing.not_logs += 1;
        return Ok(());
    }
    let mtime =
        meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let open_path = canonical;
    listing.sources.push(SourceObject {
        fingerprint: format!("{}-{mtime}", meta.len()),
        size: meta.len(),
        hour: delivery_hour(&id),
        id,
        open: Arc::new(move || File::open(&open_path).map(|f| Box::new(f) as Box<dyn Read + Send>)),
    });
    Ok(())
}

/// File names we read when walking a folder; a file named explicitly is always read.
fn looks_like_log_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz", ".log", ".log.gz", ".txt"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}
