//! The Arrow schema of the `invocations` table: the one place its column names and types are written.
//!
//! This schema is a public contract: users write SQL against these names, and Athena/Trino/Spark read the
//! same Parquet files. Change it only by adding nullable columns at the end.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// Name of the Hive partition column. It lives in the directory name (`day=YYYY-MM-DD`), not in the files,
/// as Spark, Athena and DataFusion expect.
pub const PARTITION_COLUMN: &str = "day";

/// Timezone of every timestamp we write.
pub const UTC: &str = "UTC";

/// The type of `request_metadata`: a map of string to string, queryable as `request_metadata['team']`.
pub fn request_metadata_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("keys", DataType::Utf8, false),
                Field::new("values", DataType::Utf8, true),
            ])),
            false,
        )),
        false,
    )
}

/// The columns stored in each Parquet file (everything but the partition column `day`).
pub static FILE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Boolean, Int64, Utf8};
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()));
    Arc::new(Schema::new(vec![
        Field::new("request_id", Utf8, false),
        Field::new("timestamp", ts, false),
        Field::new("account_id", Utf8, true),
        Field::new("region", Utf8, true),
        Field::new("inference_region", Utf8, true),
        Field::new("operation", Utf8, true),
        Field::new("model_id", Utf8, true),
        Field::new("model", Utf8, true),
        Field::new("provider", Utf8, true),
        Field::new("routing", Utf8, false),
        Field::new("inference_profile", Utf8, true),
        Field::new("identity_arn", Utf8, true),
        Field::new("principal", Utf8, true),
        Field::new("request_metadata", request_metadata_type(), true),
        Field::new("input_tokens", Int64, true),
        Field::new("output_tokens", Int64, true),
        Field::new("cache_read_tokens", Int64, true),
        Field::new("cache_write_tokens", Int64, true),
        Field::new("cache_write_1h_tokens", Int64, true),
        Field::new("token_source", Utf8, false),
        Field::new("streaming", Boolean, true),
        Field::new("stop_reason", Utf8, true),
        Field::new("latency_ms", Int64, true),
        Field::new("first_byte_latency_ms", Int64, true),
        Field::new("guardrail_intervened", Boolean, true),
        Field::new("error_code", Utf8, true),
        Field::new("input_bytes", Int64, true),
        Field::new("output_bytes", Int64, true),
        Field::new("input_body_s3_path", Utf8, true),
        Field::new("output_body_s3_path", Utf8, true),
        Field::new("response_model", Utf8, true),
        Field::new("performance_latency", Utf8, true),
        Field::new("schema_version", Utf8, true),
        Field::new("system_hash", Utf8, true),
        Field::new("system_tokens_est", Int64, true),
        Field::new("prefix_hash", Utf8, true),
        Field::new("prefix_tokens_est", Int64, true),
        Field::new("source", Utf8, false),
        // Added 2026-12: the service tier a record names (`serviceTier`), NULL where it names none (every log
        // seen so far). Files written before it lack the column; readers fill it with NULL (see
        // `warehouse::read_parquet` and the listing table's schema adapter).
        Field::new("service_tier", Utf8, true),
    ]))
});

/// Index of each column in [`FILE_SCHEMA`], so builders and readers never look columns up by string.
pub mod col {
    /// `request_id`
    pub const REQUEST_ID: usize = 0;
    /// `timestamp`
    pub const TIMESTAMP: usize = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_indexes_match_names() {
        assert_eq!(FILE_SCHEMA.field(col::REQUEST_ID).name(), "request_id");
        assert_eq!(FILE_SCHEMA.field(col::TIMESTAMP).name(), "timestamp");
        assert!(FILE_SCHEMA.field_with_name(PARTITION_COLUMN).is_err(), "day is a partition column, not a file column");
    }

    #[test]
    fn only_signed_integers() {
        for f in FILE_SCHEMA.fields() {
            assert!(!f.data_type().is_unsigned_integer(), "{} is unsigned", f.name());
        }
    }
}
