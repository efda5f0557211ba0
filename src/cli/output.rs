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

/// Columns whose values are nested (maps, lists, structs): CSV has no place for them, so they are written as
/// JSON text, the way engines print them.
fn is_nested(data_type: &arrow::datatypes::DataType) -> bool {
    use arrow::datatypes::DataType::*;
    matches!(
        data_type,
        Map(_, _) | List(_) | LargeList(_) | ListView(_) | LargeListView(_) | FixedSizeList(_, _) | Struct(_)
    )
}

/// The batch with every nested column replaced by its values as JSON text (NULL stays NULL).
fn nested_as_json(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| is_nested(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !is_nested(field.data_type()) {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let single = RecordBatch::try_new(
            std::sync::Arc::new(Schema::new(vec![Field::new("v", field.data_type().clone(), true)])),
            vec![column.clone()],
        )?;
        let mut lines = Vec::new();
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut lines);
        writer.write(&single)?;
        writer.finish()?;
        let mut texts = arrow::array::StringBuilder::new();
        for (row, line) in lines.split(|b| *b == b'\n').take(batch.num_rows()).enumerate() {
            let value: serde_json::Value =
                serde_json::from_slice(line).map_err(|e| arrow::error::ArrowError::JsonError(e.to_string()))?;
            match value.get("v") {
                Some(v) if column.is_valid(row) => texts.append_value(v.to_string()),
                _ => texts.append_null(),
            }
        }
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(std::sync::Arc::new(texts.finish()));
    }
    RecordBatch::try_new(std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())), columns)
}

/// Rows a table shows unless `--maxrows` says otherwise.
pub const DEFAULT_MAX_ROWS: usize = 100;

/// A sink for a result arriving batch by batch: only a table keeps rows (at most `max_rows`); every other format
/// writes each batch as it comes, so a result of any size needs the memory of one batch.
pub enum ResultWriter<W: Write + Send> {
    Table {
        out: W,
        markdown: bool,
        kept: Vec<RecordBatch>,
        kept_rows: usize,
        max_rows: usize,
    },
    Csv(arrow::csv::Writer<W>),
    Json(arrow::json::ArrayWriter<W>),
    Ndjson(arrow::json::LineDelimitedWriter<W>),
    /// The sink until the first batch gives the schema, then the writer holding it.
    Parquet {
        sink: Option<W>,
        writer: Option<parquet::arrow::ArrowWriter<W>>,
    },
}

/// What a finished result held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Rows in the result.
    pub rows: usize,
    /// Rows a table left out (beyond `--maxrows`).
    pub hidden: usize,
}

impl<W: Write + Send> ResultWriter<W> {
    /// A writer of `format` into `out`. `max_rows` bounds a table (0: no bound).
    pub fn new(out: W, format: PrintFormat, max_rows: usize) -> ResultWriter<W> {
        match format {
            PrintFormat::Table | PrintFormat::Markdown => ResultWriter::Table {
                out,
                markdown: format == PrintFormat::Markdown,
                kept: Vec::new(),
                kept_rows: 0,
                max_rows: if max_rows == 0 { usize::MAX } else { max_rows },
            },
            PrintFormat::Csv => ResultWriter::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(out)),
            PrintFormat::Json => ResultWriter::Json(arrow::json::ArrayWriter::new(out)),
            PrintFormat::Ndjson => ResultWriter::Ndjson(arrow::json::LineDelimitedWriter::new(out)),
            PrintFormat::Parquet => ResultWriter::Parquet { sink: Some(out), writer: None },
        }
    }

    /// Write one batch.
    pub fn write(&mut self, batch: &RecordBatch, written: &mut Written) -> io::Result<()> {
        written.rows += batch.num_rows();
        match self {
            ResultWriter::Table { kept, kept_rows, max_rows, .. } => {
                let room = max_rows.saturating_sub(*kept_rows);
                let take = room.min(batch.num_rows());
                if take > 0 || kept.is_empty() {
                    kept.push(batch.slice(0, take));
                    *kept_rows += take;
                }
                written.hidden += batch.num_rows() - take;
                Ok(())
            }
            ResultWriter::Csv(w) => {
                w.write(&nested_as_json(batch).map_err(io::Error::other)?).map_err(io::Error::other)
            }
            ResultWriter::Json(w) => w.write(batch).map_err(io::Error::other),
            ResultWriter::Ndjson(w) => w.write(batch).map_err(io::Error::other),
            ResultWriter::Parquet { sink, writer } => {
                let batch = plain_strings(batch).map_err(io::Error::other)?;
                if let Some(sink) = sink.take() {
                    let created = parquet::arrow::ArrowWriter::try_new(sink, batch.schema(), None);
                    *writer = Some(created.map_err(io::Error::other)?);
                }
                match writer {
                    Some(w) => w.write(&batch).map_err(io::Error::other),
                    None => Err(io::Error::other("internal: the Parquet writer was lost")),
                }
            }
        }
    }

    /// Finish the output (a table is printed here); `schema` gives a header to an empty result.
    pub fn finish(self, schema: &arrow::datatypes::SchemaRef, written: Written) -> io::Result<()> {
        match self {
            ResultWriter::Table { mut out, markdown, kept, .. } => {
                let kept = if kept.is_empty() { vec![RecordBatch::new_empty(schema.clone())] } else { kept };
                print_table(&mut out, &kept, markdown)?;
                if written.hidden > 0 {
                    writeln!(
                        out,
                        "({} rows; the first {} shown: --maxrows N shows more, 0 all; --format csv -o FILE writes all)",
                        written.rows,
                        written.rows - written.hidden
                    )?;
                }
                out.flush()
            }
            ResultWriter::Csv(w) => {
                let mut out = w.into_inner();
                if written.rows == 0 {
                    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    writeln!(out, "{}", names.join(","))?;
                }
                out.flush()
            }
            ResultWriter::Json(mut w) => {
                w.finish().map_err(io::Error::other)?;
                let mut out = w.into_inner();
                if written.rows == 0 {
                    write!(out, "[]")?;
                }
                writeln!(out)?;
                out.flush()
            }
            ResultWriter::Ndjson(mut w) => {
                w.finish().map_err(io::Error::other)?;
                w.into_inner().flush()
            }
            ResultWriter::Parquet { sink, writer } => {
                let writer = match (writer, sink) {
                    (Some(w), _) => w,
                    (None, Some(out)) => {
                        let empty = plain_strings(&RecordBatch::new_empty(schema.clone())).map_err(io::Error::other)?;
                        parquet::arrow::ArrowWriter::try_new(out, empty.schema(), None).map_err(io::Error::other)?
                    }
                    (None, None) => return Err(io::Error::other("internal: the Parquet writer was lost")),
                };
                writer.close().map_err(io::Error::other)?;
                Ok(())
            }
        }
    }
}

/// Write batches in the chosen format, all rows (for results already in memory, e.g. tests).
pub fn print_batches<W: Write + Send>(out: &mut W, batches: &[RecordBatch], format: PrintFormat) -> io::Result<()> {
    if format == PrintFormat::Parquet {
        return Err(io::Error::other("parquet output needs a file (-o)"));
    }
    let Some(first) = batches.first() else {
        return writeln!(out, "(no rows)");
    };
    let schema = first.schema();
    let mut writer = ResultWriter::new(&mut *out, format, 0);
    let mut written = Written::default();
    for batch in batches {
        writer.write(batch, &mut written)?;
    }
    writer.finish(&schema, written)
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
    for f in &s.failures {
        writeln!(out, "failed ({}; retried by the next run): {}: {}", f.kind, f.source_id, f.message)?;
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
        "failures": s.failures.iter().map(|f| json!({
            "source": f.source_id,
            "kind": f.kind.as_str(),
            "message": f.message,
        })).collect::<Vec<_>>(),
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
