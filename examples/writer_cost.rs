//! The Parquet writer's share of ingest: how long writing a warehouse file's rows takes with the warehouse's own
//! settings, and with each setting a faster writer could change (no compression, lighter codecs, no dictionaries,
//! delta-encoded integers). It tells how much of ingest's CPU per record writer settings could ever save, and at
//! what cost in file size.
//!
//! Usage: `writer_cost <warehouse-file.parquet> [passes]`, on a file ingest wrote (e.g. one day of generated logs).
//! Prints the best pass of each variant, per row and in total, with the file size it produced; one thread.

use std::time::Instant;

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use bedrock_spend::store::parquet::writer_props;
use bedrock_spend::store::schema::FILE_SCHEMA;

/// Ingest sends the writer batches of this many rows.
const BATCH_ROWS: usize = 8 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("missing <warehouse-file.parquet>")?;
    let passes: usize = args.next().map(|p| p.parse()).transpose()?.unwrap_or(5).max(1);
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path)?)?.with_batch_size(BATCH_ROWS);
    let batches: Vec<RecordBatch> = reader.build()?.collect::<Result<_, _>>()?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!("{rows} rows, best of {passes} passes, one thread");

    let integers: Vec<ColumnPath> = FILE_SCHEMA
        .fields()
        .iter()
        .filter(|f| f.data_type().is_integer())
        .map(|f| ColumnPath::from(f.name().as_str()))
        .collect();
    let ours = || writer_props().into_builder();
    let integers_plain = || integers.iter().fold(ours(), |b, c| b.set_column_dictionary_enabled(c.clone(), false));
    let variants: Vec<(&str, WriterProperties)> = vec![
        ("warehouse settings", writer_props()),
        ("uncompressed", ours().set_compression(Compression::UNCOMPRESSED).build()),
        ("snappy", ours().set_compression(Compression::SNAPPY).build()),
        ("lz4_raw", ours().set_compression(Compression::LZ4_RAW).build()),
        ("no dictionaries", ours().set_dictionary_enabled(false).build()),
        ("integers plain, no dictionary", integers_plain().build()),
        (
            "integers delta-encoded",
            integers
                .iter()
                .fold(integers_plain(), |b, c| b.set_column_encoding(c.clone(), Encoding::DELTA_BINARY_PACKED))
                .build(),
        ),
    ];
    for (name, props) in variants {
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..passes {
            let start = Instant::now();
            let mut writer = ArrowWriter::try_new(Vec::new(), FILE_SCHEMA.clone(), Some(props.clone()))?;
            for batch in &batches {
                writer.write(batch)?;
            }
            size = writer.into_inner()?.len();
            best = best.min(start.elapsed().as_secs_f64());
        }
        let per_row = best * 1e9 / rows.max(1) as f64;
        println!("{name:32} {best:7.3} s  {per_row:6.0} ns/row  {:7.1} MB", size as f64 / 1e6);
    }
    Ok(())
}
