//! Renders results for people and programs. Every renderer takes a writer; stdout is locked only at the top.

use std::io::{self, Write};

use arrow::array::{Array, RecordBatch};
use serde_json::json;

use crate::ingest::IngestSummary;
use crate::store::warehouse::RejectTail;

/// Output formats for query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrintFormat {
    /// Aligned text table.
    Table,
    Csv,
    /// One JSON array of objects; money as numbers.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// A Parquet file (needs -o).
    Parquet,
}

/// The batch with its `Utf8View` columns (how the session reads text) as plain `Utf8`: an exported Parquet file
/// records its Arrow types, and readers on older Arrow versions do not know views.
fn plain_strings(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type() == &DataType::Utf8View) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if field.data_type() == &DataType::Utf8View {
            fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
            columns.push(arrow::compute::cast(column, &DataType::Utf8)?);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    RecordBatch::try_new(std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())), columns)
}

/// Write a result where the output arguments say: stdout (locked once) or a file.
pub fn write_result(batches: &[RecordBatch], args: &super::OutputArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    match (&args.output, args.format) {
        (None, PrintFormat::Parquet) => anyhow::bail!("--format parquet needs -o FILE"),
        (None, format) => print_batches(&mut io::stdout().lock(), batches, format).context("writing to stdout"),
        (Some(path), PrintFormat::Parquet) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let batches = batches.iter().map(plain_strings).collect::<Result<Vec<_>, _>>()?;
            let schema = batches
                .first()
                .map(|b| b.schema())
                .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
            let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            for b in &batches {
                writer.write(b)?;
            }
            writer.close().with_context(|| format!("writing {}", path.display()))?;
            Ok(())
        }
        (Some(path), format) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = io::BufWriter::new(file);
            print_batches(&mut w, batches, format).with_context(|| format!("writing {}", path.display()))?;
            w.flush().with_context(|| format!("writing {}", path.display()))
        }
    }
}

/// The named queries with their descriptions and parameters.
pub fn print_query_list<W: Write>(out: &mut W) -> io::Result<()> {
    for q in crate::query::catalog::QUERIES {
        let params = crate::query::catalog::parameters(q.sql);
        let params: Vec<String> = params.iter().map(|p| format!("--param {p}=...")).collect();
        writeln!(out, "{:<22} {}", q.name, crate::query::catalog::description(q))?;
        if !params.is_empty() {
            writeln!(out, "{:<22} {}", "", params.join(" "))?;
        }
    }
    Ok(())
}

/// The first two integer cells of a one-row result (NULL as 0).
pub fn first_two_ints(batches: &[RecordBatch]) -> (i64, i64) {
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else { return (0, 0) };
    let get = |i: usize| -> i64 {
        batch
            .columns()
            .get(i)
            .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Int64).ok())
            .and_then(|c| {
                c.as_any().downcast_ref::<arrow::array::Int64Array>().filter(|a| a.is_valid(0)).map(|a| a.value(0))
            })
            .unwrap_or(0)
    };
    (get(0), get(1))
}

/// The first cell of a result as text, if any.
pub fn first_string(batches: &[RecordBatch]) -> Option<String> {
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let col = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8).ok()?;
    let col = col.as_any().downcast_ref::<arrow::array::StringArray>()?;
    col.is_valid(0).then(|| col.value(0).to_string())
}

/// `YYYY-MM` to the dates `[first of month, first of next month)`.
pub fn month_bounds(month: &str) -> anyhow::Result<(String, String)> {
    let start = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("{month:?} is not a month (YYYY-MM)"))?;
    let end = start.checked_add_months(chrono::Months::new(1)).ok_or_else(|| anyhow::anyhow!("month out of range"))?;
    Ok((start.to_string(), end.to_string()))
}

fn print_table<W: Write>(out: &mut W, batches: &[RecordBatch], markdown: bool) -> io::Result<()> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut table = comfy_table::Table::new();
    table.load_preset(if markdown {
        comfy_table::presets::ASCII_MARKDOWN
    } else {
        comfy_table::presets::UTF8_FULL_CONDENSED
    });
    let Some(first) = batches.first() else {
        return writeln!(out, "(no rows)");
    };
    table.set_header(first.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>());
    let options = FormatOptions::default().with_null("");
    let mut rows = 0;
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io::Error::other)?;
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>());
            rows += 1;
        }
    }
    for (i, field) in first.schema().fields().iter().enumerate() {
        if field.data_type().is_numeric()
            && let Some(column) = table.column_mut(i)
        {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    writeln!(out, "{table}")?;
    if !markdown && rows == 0 {
        writeln!(out, "(no rows)")?;
    }
    Ok(())
}

/// Write batches in the chosen format.
pub fn print_batches<W: Write>(out: &mut W, batches: &[RecordBatch], format: PrintFormat) -> io::Result<()> {
    match format {
        PrintFormat::Table => print_table(out, batches, false),
        PrintFormat::Markdown => print_table(out, batches, true),
        PrintFormat::Parquet => Err(io::Error::other("parquet output needs a file (-o)")),
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
    for warning in s.warnings.iter().take(20) {
        writeln!(out, "warning: {warning}")?;
    }
    if s.warnings.len() > 20 {
        writeln!(out, "warning: ... and {} more", s.warnings.len() - 20)?;
    }
    for failure in &s.failures {
        writeln!(out, "failed (retried by the next run): {failure}")?;
    }
    if s.rejects_carried_over > 0 {
        writeln!(
            out,
            "{} rejected record(s) carried over from an interrupted run (see `bedrock-spend rejects`)",
            s.rejects_carried_over
        )?;
    }
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
        "rejects_carried_over": s.rejects_carried_over,
        "out_of_range_records": s.out_of_range_records,
        "bytes_read": s.bytes_read,
        "bytes_decompressed": s.bytes_decompressed,
        "files_written": s.files_written,
        "days_compacted": s.days_compacted,
        "sources_failed": s.sources_failed,
        "failures": s.failures,
        "warnings": s.warnings,
        "elapsed_secs": s.elapsed.as_secs_f64(),
        "records_per_sec": s.records_per_sec(),
        "rejects_file": s.rejects_file.as_ref().map(|p| p.display().to_string()),
    })
    .to_string()
}

/// List the last rejects, newest last, after the number of rejects in all.
pub fn print_rejects<W: Write>(out: &mut W, rejects: &RejectTail, raw: bool) -> io::Result<()> {
    writeln!(out, "{} rejected record(s)", rejects.total)?;
    for r in &rejects.last {
        let item = r.item.map(|i| format!(" item {i}")).unwrap_or_default();
        let repeats = match r.repeats {
            Some(run) => {
                format!(" and the {} lines after it, each {} bytes on (the same text)", run.count - 1, run.offset_step)
            }
            None => String::new(),
        };
        writeln!(out, "{}:{} (byte {}{item}){repeats}: {}", r.source, r.line, r.offset, r.reason)?;
        if raw {
            let shown: String = r.raw.chars().take(2000).collect();
            let cut = r.raw_len.map(|n| format!(" [first {} of {n} bytes]", r.raw.len())).unwrap_or_default();
            writeln!(out, "    {shown}{cut}")?;
        }
    }
    Ok(())
}
