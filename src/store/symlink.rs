//! Per-day manifests for engines that list files themselves (Athena, Spark, Trino): one object per day naming the
//! day's live Parquet files, one absolute URI a line, the layout Hive's `SymlinkTextInputFormat` reads and Delta
//! Lake's `GENERATE symlink_format_manifest` writes.
//!
//! ```text
//! WAREHOUSE/_symlink_format_manifest/day=YYYY-MM-DD/manifest     the day's live files
//! WAREHOUSE/_symlink_format_manifest/_pending/<run>.json         days whose manifests a commit is updating
//! ```
//!
//! Why: no S3 listing is a snapshot and no rename is atomic, so an engine listing `invocations/day=…/` while a
//! compaction swaps the day can see both generations. A manifest is replaced in one PUT (locally: a temporary file
//! and a rename), so an engine that reads the day through it sees exactly the old files or exactly the new ones.
//! The writer ([`super::warehouse`]) rewrites a day's manifest when a commit adds files to the day and when a
//! compaction swaps it, at the swap point: after the new files are durable and before the old ones are retired.
//!
//! Absolute URIs, because `SymlinkTextInputFormat` opens each line as a path of its own (it does not resolve lines
//! against the table): `s3://bucket/prefix/invocations/day=…/part-….parquet` for a warehouse in S3 (what Athena
//! and EMR read; open-source Spark reads them as `s3a://` through the name-based match of the Spark DDL, see
//! [`crate::ddl`]), `file:/absolute/path/…` for a local warehouse (what a local Spark reads). The name is the
//! directory Delta Lake uses for the same purpose, and unlike `_manifest/` (the sources already ingested) it says
//! what it holds.
//!
//! The `_pending` mark closes the one gap a crash could open: a commit's files are published before its manifests
//! are rewritten, so a run killed between the two would leave a day whose manifest misses a file its re-run will
//! never write again (the re-run's rows are duplicates). The mark names the commit's days before the first file
//! is published and is removed after the last manifest; the next writer rewrites the manifests of any days a mark
//! names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Directory of the manifests, under the warehouse root.
pub const SYMLINK_DIR: &str = "_symlink_format_manifest";
/// The manifest's file name in each day's directory.
pub const MANIFEST_FILE: &str = "manifest";
/// Directory of the marks of commits in progress, under [`SYMLINK_DIR`] (a leading `_`, so Spark's partition
/// discovery skips it, and outside any `day=` directory, so Athena's projection never reads it).
pub const PENDING_DIR: &str = "_pending";

/// The manifest of the day `date` (`YYYY-MM-DD`) under the warehouse `root`.
pub fn manifest_path(root: &Path, date: &str) -> PathBuf {
    root.join(SYMLINK_DIR).join(format!("{}={date}", super::schema::PARTITION_COLUMN)).join(MANIFEST_FILE)
}

/// The text of a manifest naming `uris`: one a line, sorted (so an unchanged day writes the same bytes), each
/// line ending in a newline.
pub fn manifest_text(mut uris: Vec<String>) -> String {
    uris.sort();
    uris.dedup();
    uris.into_iter().map(|u| u + "\n").collect()
}

/// Is `name` a live data file of a day: a Parquet file that is neither temporary nor retired (both hidden by a
/// leading dot)?
pub fn is_live_data_file(name: &str) -> bool {
    name.ends_with(".parquet") && !name.starts_with('.')
}

/// A commit in progress: the days whose manifests it will rewrite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingDays {
    /// `YYYY-MM-DD`.
    pub days: Vec<String>,
}

/// The URI a local file is named by in a manifest: `file:` and its absolute path (Hadoop's form of a local URI).
pub fn local_uri(path: &Path) -> String {
    let absolute = path.canonicalize().or_else(|_| std::path::absolute(path)).unwrap_or_else(|_| path.to_path_buf());
    format!("file:{}", absolute.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_is_sorted_unique_lines() {
        let text =
            manifest_text(vec!["s3://b/p/b.parquet".into(), "s3://b/p/a.parquet".into(), "s3://b/p/a.parquet".into()]);
        assert_eq!(text, "s3://b/p/a.parquet\ns3://b/p/b.parquet\n");
        assert_eq!(manifest_text(Vec::new()), "", "an emptied day names nothing");
    }

    #[test]
    fn only_visible_parquet_files_are_live() {
        for (name, live) in [
            ("part-20251201T000000-1a2b3c4d-00001.parquet", true),
            (".tmp-part-x.parquet.tmp", false),
            (".superseded-part-x.parquet.old", false),
            (".hidden.parquet", false),
            ("manifest", false),
        ] {
            assert_eq!(is_live_data_file(name), live, "{name}");
        }
    }

    #[test]
    fn manifest_path_is_per_day() {
        let path = manifest_path(Path::new("/wh"), "2025-11-28");
        assert_eq!(path, Path::new("/wh/_symlink_format_manifest/day=2025-11-28/manifest"));
    }

    #[test]
    fn local_uri_is_absolute_file_uri() {
        let dir = std::env::temp_dir();
        let uri = local_uri(&dir.join("x.parquet"));
        assert!(uri.starts_with("file:/") && !uri.starts_with("file://"), "{uri}");
        assert!(uri.ends_with("/x.parquet"), "{uri}");
    }
}
