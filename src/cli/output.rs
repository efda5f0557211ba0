//! Renders results for people and programs. Every renderer takes a writer; stdout is locked only at the top.

use std::io::{self, Write};

use arrow::array::RecordBatch;
use serde_json::json;

use crate::ingest::IngestSummary;
use crate::store::warehouse::RejectRow;

/// Output formats for query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrintFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

/// Write batches in the chosen format.
pub fn print_batches<W: Write>(out: &mut W, batches: &[RecordBatch], format: PrintFormat) -> io::Result<()> {
    match format {
        PrintFormat::Table => {
            let table = arrow::util::pretty::pretty_format_batches(batches).map_err(io::Error::other)?;
            writeln!(out, "{table}")
        }
        PrintFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            for b in batches {
                writer.write(b).map_err(io::Error::other)?;
            }
            Ok(())
        }
        PrintFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs).map_err(io::Error::other)?;
            writer.finish().map_err(io::Error::other)?;
            writeln!(out)
        }
        PrintFormat::Ndjson => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs).map_err(io::Error::other)?;
            writer.finish().map_err(io::Error::other)
        }
    }
}

/// The human summary of an ingest run.
pub fn print_summary<W: Write>(out: &mut W, s: &IngestSummary) -> io::Result<()> {
    let secs = s.elapsed.as_secs_f64();
    writeln!(
        out,
        "files: {} listed, {} read, {} already ingested, {} outside --since/--until, {} not logs",
        s.sources_listed, s.sources_read, s.sources_unchanged, s.sources_out_of_range, s.not_logs
    )?;
    writeln!(
        out,
        "records: {} read, {} ingested, {} duplicates skipped, {} rejected, {} outside --since/--until",
        s.records_read, s.ingested, s.duplicates, s.rejected, s.out_of_range_records
    )?;
    writeln!(
        out,
        "bytes: {} read ({} decompressed); {} parquet files written, {} days compacted",
        s.bytes_read, s.bytes_decompressed, s.files_written, s.days_compacted
    )?;
    writeln!(out, "elapsed: {secs:.2}s ({:.0} records/s)", s.records_per_sec())?;
    if let Some(path) = &s.rejects_file {
        writeln!(out, "rejected records were kept in {} (see `bedrock-spend rejects`)", path.display())?;
    }
    Ok(())
}

/// The ingest summary as one JSON object, for schedulers.
pub fn summary_json(s: &IngestSummary) -> String {
    json!({
        "sources_listed": s.sources_listed,
        "sources_read": s.sources_read,
        "sources_unchanged": s.sources_unchanged,
        "sources_out_of_range": s.sources_out_of_range,
        "not_logs": s.not_logs,
        "records_read": s.records_read,
        "ingested": s.ingested,
        "duplicates": s.duplicates,
        "rejected": s.rejected,
        "out_of_range_records": s.out_of_range_records,
        "bytes_read": s.bytes_read,
        "bytes_decompressed": s.bytes_decompressed,
        "files_written": s.files_written,
        "days_compacted": s.days_compacted,
        "elapsed_secs": s.elapsed.as_secs_f64(),
        "records_per_sec": s.records_per_sec(),
        "rejects_file": s.rejects_file.as_ref().map(|p| p.display().to_string()),
    })
    .to_string()
}

/// List rejects, newest last.
pub fn print_rejects<W: Write>(out: &mut W, rejects: &[RejectRow], limit: usize, raw: bool) -> io::Result<()> {
    writeln!(out, "{} rejected record(s)", rejects.len())?;
    for r in rejects.iter().rev().take(limit).rev() {
        let item = r.item.map(|i| format!(" item {i}")).unwrap_or_default();
        writeln!(out, "{}:{} (byte {}{item}): {}", r.source, r.line, r.offset, r.reason)?;
        if raw {
            let shown: String = r.raw.chars().take(2000).collect();
            writeln!(out, "    {shown}")?;
        }
    }
    Ok(())
}
