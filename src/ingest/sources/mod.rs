//! What the pipeline reads: a list of [`SourceObject`]s, each able to open a byte stream. Local files live here;
//! S3 objects and CloudWatch windows will implement the same shape, so the decode and write path is shared.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// Opens the bytes of one source; called on a worker thread.
pub type Opener = Arc<dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync>;

/// One input object.
#[derive(Clone)]
pub struct SourceObject {
    /// Stable identity, also stored in the `source` column: canonical path or `s3://bucket/key`.
    pub id: String,
    /// Content identity (size + mtime, or ETag): a changed fingerprint means the source is read again.
    pub fingerprint: String,
    /// Compressed size in bytes, for progress.
    pub size: u64,
    /// The UTC hour folder of the S3 delivery layout, when the path has one (used to skip files by time).
    pub hour: Option<DateTime<Utc>>,
    pub open: Opener,
}

impl std::fmt::Debug for SourceObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceObject")
            .field("id", &self.id)
            .field("fingerprint", &self.fingerprint)
            .field("size", &self.size)
            .finish()
    }
}

/// Why a path was not read as a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotALog {
    /// Under a `data/` prefix: an offloaded large body, not a batch of records.
    OffloadedBody,
    /// `amazon-bedrock-logs-permission-check`: the marker Bedrock writes when logging is configured.
    PermissionCheck,
    /// Found while walking a folder, with a name that is not a log file (README, .DS_Store...).
    OtherFile,
}

/// Classify a path or key by name alone.
pub fn not_a_log(path: &str) -> Option<NotALog> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if name.contains("amazon-bedrock-logs-permission-check") {
        return Some(NotALog::PermissionCheck);
    }
    // Offloaded bodies sit in a `data/` folder directly under an hour folder (`.../HH/data/<id>_input.json.gz`);
    // a `data` folder anywhere else (a user's own tree) means nothing.
    let segments: Vec<&str> = path.split(['/', '\\']).collect();
    let under_hour =
        segments.windows(2).any(|w| w[1] == "data" && w[0].len() == 2 && w[0].bytes().all(|b| b.is_ascii_digit()));
    if under_hour {
        return Some(NotALog::OffloadedBody);
    }
    None
}

/// File names we read when walking a folder; a file named explicitly is always read.
fn looks_like_log_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz", ".log", ".log.gz", ".txt"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// The hour folder of a key in the delivery layout
/// `.../BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<file>`.
pub fn delivery_hour(path: &str) -> Option<DateTime<Utc>> {
    let segments: Vec<&str> = path.split(['/', '\\']).collect();
    let at = segments.iter().position(|s| *s == "BedrockModelInvocationLogs")?;
    let parts = segments.get(at + 2..at + 6)?;
    let num = |s: &str| s.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(num(parts[0])? as i32, num(parts[1])?, num(parts[2])?)?;
    let hour = num(parts[3]).filter(|h| *h < 24)?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0)?))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_keys() {
        let cases = [
            (
                "logs/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/16/20241120T164851056Z_9b86bf4994c4ab1c.json.gz",
                None,
            ),
            (
                "logs/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2026/04/20/00/data/f3ae_input.json.gz",
                Some(NotALog::OffloadedBody),
            ),
            (
                "logs/AWSLogs/1/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check",
                Some(NotALog::PermissionCheck),
            ),
            ("prefix/amazon-bedrock-logs-permission-check", Some(NotALog::PermissionCheck)),
            ("exports/database.json", None),
            ("/home/me/data/bedrock/export.json", None),
        ];
        for (key, want) in cases {
            assert_eq!(not_a_log(key), want, "case {key}");
        }
    }

    #[test]
    fn hour_folders() {
        let key = "p/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/16/x.json.gz";
        assert_eq!(delivery_hour(key).map(|t| t.to_rfc3339()).as_deref(), Some("2024-11-20T16:00:00+00:00"));
        assert_eq!(delivery_hour("p/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/x.json.gz"), None);
        assert_eq!(delivery_hour("p/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/13/20/01/x.gz"), None);
        assert_eq!(delivery_hour("other/2024/11/20/16/x.json.gz"), None);
    }
}
