//! Parquet settings and atomic file writes for the warehouse. The settings live here, once, so every file we
//! write (ingest, compaction) reads the same in DuckDB, pyarrow, Athena and Spark.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::files::Files;
use super::schema::{FILE_SCHEMA, col};

/// Rows per row group: big enough for good compression and fast scans, small enough to bound writer memory.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// zstd level: level 1 compresses these highly repetitive columns nearly as well as level 3, much faster.
pub const ZSTD_LEVEL: i32 = 1;

/// Writer properties for every warehouse file.
///
/// Min/max statistics are kept for the timestamp and the numbers only. Rows are written in time order, so
/// timestamp ranges let readers skip row groups and pages. A string column's range spans nearly every value in
/// every row group (ids, hashes and paths are unique; models and principals recur every hour), so it could never
/// skip one, and computing it cost two comparisons per value: the largest `memcmp` cost of ingest. Engines
/// filter strings on the dictionary pages instead.
pub fn writer_props() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        // Unique per row: a dictionary would only be built to be thrown away at the first page.
        .set_column_dictionary_enabled(column_path(col::REQUEST_ID), false)
        .set_column_dictionary_enabled(column_path(col::TIMESTAMP), false)
        .set_created_by(format!("bedrock-spend {}", env!("CARGO_PKG_VERSION")));
    for path in string_leaf_paths() {
        builder = builder.set_column_statistics_enabled(path, EnabledStatistics::None);
    }
    builder.build()
}

/// The Parquet paths of every string leaf of [`FILE_SCHEMA`], nested ones (the metadata map) included.
pub fn string_leaf_paths() -> Vec<ColumnPath> {
    fn walk(path: &mut Vec<String>, data_type: &DataType, out: &mut Vec<ColumnPath>) {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => out.push(ColumnPath::new(path.clone())),
            DataType::Map(entries, _) => {
                path.push(entries.name().clone());
                walk(path, entries.data_type(), out);
                path.pop();
            }
            DataType::Struct(fields) => {
                for field in fields {
                    path.push(field.name().clone());
                    walk(path, field.data_type(), out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for field in FILE_SCHEMA.fields() {
        walk(&mut vec![field.name().clone()], field.data_type(), &mut out);
    }
    out
}

fn column_path(index: usize) -> ColumnPath {
    ColumnPath::from(FILE_SCHEMA.field(index).name().as_str())
}

/// Write batches to any sink as one Parquet file (used directly by the round-trip test).
pub fn write_batches<W: Write + Send>(sink: W, batches: &[RecordBatch]) -> parquet::errors::Result<W> {
    let mut writer = ArrowWriter::try_new(sink, FILE_SCHEMA.clone(), Some(writer_props()))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}

/// A Parquet file being written under a hidden temporary name in its final directory; it becomes visible
/// only through [`AtomicParquetFile::commit`], so readers and crashed runs never see half a file.
pub struct AtomicParquetFile {
    writer: ArrowWriter<BufWriter<File>>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    rows: usize,
    /// Where a remote warehouse's file goes when published (`None`: renamed in place, as locally).
    files: Option<Files>,
}

/// Prefix of temporary files: hidden from Spark/Hive (leading dot) and from `*.parquet` globs (suffix).
pub const TMP_PREFIX: &str = ".tmp-";

impl AtomicParquetFile {
    /// Start `final_path` (which must end in `.parquet`) as a temporary file beside it.
    pub fn create(final_path: PathBuf) -> io::Result<Self> {
        let dir = final_path.parent().ok_or_else(|| io::Error::other("parquet path has no directory"))?;
        fs::create_dir_all(dir)?;
        let name = final_path.file_name().and_then(|n| n.to_str()).unwrap_or("part.parquet");
        let tmp_path = dir.join(format!("{TMP_PREFIX}{name}.tmp"));
        let file = File::create(&tmp_path)?;
        let writer =
            ArrowWriter::try_new(BufWriter::with_capacity(256 << 10, file), FILE_SCHEMA.clone(), Some(writer_props()))
                .map_err(io::Error::other)?;
        Ok(AtomicParquetFile { writer, tmp_path, final_path, rows: 0, files: None })
    }

    /// Publish through `files` (an upload to the object store) instead of a local rename.
    pub fn published_by(mut self, files: Files) -> Self {
        self.files = Some(files);
        self
    }

    /// Append a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        self.rows += batch.num_rows();
        self.writer.write(batch).map_err(io::Error::other)
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows in the open row group.
    pub fn in_progress_rows(&self) -> usize {
        self.writer.in_progress_rows()
    }

    /// Write out the open row group now, freeing its memory; the file stays open for more rows.
    pub fn flush_row_group(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(io::Error::other)
    }

    /// Finish the file, make it durable, and move it to its final name. On failure (a full disk) the temporary
    /// file is removed, so it does not keep the disk full.
    pub fn commit(self) -> io::Result<PathBuf> {
        let tmp_path = self.tmp_path.clone();
        self.finish()?.publish().inspect_err(|_| {
            let _ = fs::remove_file(&tmp_path);
        })
    }

    /// Finish the file and make it durable under its temporary name; [`FinishedFile::publish`] renames it.
    /// Used where several files must appear together (compaction journals them first). On failure the
    /// temporary file is removed.
    pub fn finish(self) -> io::Result<FinishedFile> {
        let AtomicParquetFile { writer, tmp_path, final_path, files, .. } = self;
        let finished = writer
            .into_inner()
            .map_err(io::Error::other)
            .and_then(|buffered| buffered.into_inner().map_err(|e| e.into_error()))
            .and_then(|file| file.sync_all());
        match finished {
            Ok(()) => Ok(FinishedFile { tmp_path, final_path, files }),
            Err(e) => {
                let _ = fs::remove_file(&tmp_path);
                Err(e)
            }
        }
    }

    /// Drop the temporary file.
    pub fn abort(self) {
        let _ = fs::remove_file(&self.tmp_path);
    }
}

/// A complete, durable file still under its temporary name.
#[derive(Debug, Clone)]
pub struct FinishedFile {
    pub tmp_path: PathBuf,
    pub final_path: PathBuf,
    /// See [`AtomicParquetFile::published_by`].
    pub files: Option<Files>,
}

impl FinishedFile {
    /// Rename to the final name and make the rename durable (in a remote warehouse: upload it under that name).
    pub fn publish(self) -> io::Result<PathBuf> {
        if let Some(files) = &self.files {
            files.upload(&self.tmp_path, &self.final_path)?;
            return Ok(files.display(&self.final_path));
        }
        fs::rename(&self.tmp_path, &self.final_path)?;
        sync_dir(self.final_path.parent())?;
        Ok(self.final_path)
    }
}

/// Make a rename durable: fsync the directory that holds it.
pub fn sync_dir(dir: Option<&Path>) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = dir {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Write a small file atomically: temporary name, fsync, rename, fsync the directory.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("path has no directory"))?;
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!("{TMP_PREFIX}{name}.tmp"));
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        // Failing on a full disk must not leave the disk fuller.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::batch_of_lines;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn round_trip_through_bytes() {
        let line = r#"{"schemaType":"ModelInvocationLog","timestamp":"2025-01-02T03:04:05Z","requestId":"r1","modelId":"us.anthropic.claude-3-5-haiku-20241022-v1:0","region":"us-east-1","input":{"inputTokenCount":5},"output":{"outputTokenCount":7},"requestMetadata":{"team":"a"}}"#;
        let batch = batch_of_lines(line);
        let bytes = write_batches(Vec::new(), std::slice::from_ref(&batch)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap().build().unwrap();
        let back: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0], batch);
    }

    #[test]
    fn statistics_only_where_they_can_prune() {
        let line = r#"{"timestamp":"2025-01-02T03:04:05Z","requestId":"r1","modelId":"anthropic.claude-3-haiku-20240307-v1:0","identity":{"arn":"arn:aws:iam::1:user/u"},"requestMetadata":{"team":"a"},"input":{"inputTokenCount":5,"inputBodyS3Path":"s3://b/k"},"output":{"outputTokenCount":7}}"#;
        let batch = batch_of_lines(line);
        let bytes = write_batches(Vec::new(), std::slice::from_ref(&batch)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        let row_group = reader.metadata().row_group(0);
        let strings: Vec<String> = string_leaf_paths().iter().map(|p| p.string()).collect();
        assert!(strings.contains(&"request_metadata.entries.keys".to_string()), "{strings:?}");
        let mut with_statistics = Vec::new();
        for chunk in row_group.columns() {
            let is_string = chunk.column_descr().physical_type() == parquet::basic::Type::BYTE_ARRAY;
            assert_eq!(is_string, strings.contains(&chunk.column_path().string()), "{}", chunk.column_path());
            let has_statistics = chunk.statistics().is_some_and(|s| s.min_bytes_opt().is_some());
            if has_statistics {
                with_statistics.push(chunk.column_path().string());
            }
            assert!(!(is_string && has_statistics), "{} is a string with statistics", chunk.column_path());
        }
        for name in ["timestamp", "input_tokens", "output_tokens"] {
            assert!(with_statistics.iter().any(|c| c == name), "{name} keeps statistics: {with_statistics:?}");
        }
    }
}
