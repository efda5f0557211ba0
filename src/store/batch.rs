//! Appends decoded rows to Arrow builders and finishes them as [`RecordBatch`]es of the `invocations` file
//! schema. Rows are appended as they are decoded, so no intermediate owned copy of a record exists.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanBuilder, Int64Builder, MapBuilder, MapFieldNames,
    PrimitiveBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;

use super::row::{HexHash, Invocation};
use super::schema::{FILE_SCHEMA, UTC};

/// Builders for every column of [`FILE_SCHEMA`], in order.
pub struct InvocationBatchBuilder {
    request_id: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    account_id: StringBuilder,
    region: StringBuilder,
    inference_region: StringBuilder,
    operation: StringBuilder,
    model_id: StringBuilder,
    model: StringBuilder,
    provider: StringBuilder,
    routing: StringBuilder,
    inference_profile: StringBuilder,
    identity_arn: StringBuilder,
    principal: StringBuilder,
    request_metadata: MapBuilder<StringBuilder, StringBuilder>,
    input_tokens: Int64Builder,
    output_tokens: Int64Builder,
    cache_read_tokens: Int64Builder,
    cache_write_tokens: Int64Builder,
    cache_write_1h_tokens: Int64Builder,
    token_source: StringBuilder,
    streaming: BooleanBuilder,
    stop_reason: StringBuilder,
    latency_ms: Int64Builder,
    first_byte_latency_ms: Int64Builder,
    guardrail_intervened: BooleanBuilder,
    error_code: StringBuilder,
    input_bytes: Int64Builder,
    output_bytes: Int64Builder,
    input_body_s3_path: StringBuilder,
    output_body_s3_path: StringBuilder,
    response_model: StringBuilder,
    performance_latency: StringBuilder,
    schema_version: StringBuilder,
    system_hash: StringBuilder,
    system_tokens_est: Int64Builder,
    prefix_hash: StringBuilder,
    prefix_tokens_est: Int64Builder,
    source: StringBuilder,
    service_tier: StringBuilder,
    rows: usize,
}

impl Default for InvocationBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl InvocationBatchBuilder {
    /// Empty builders.
    pub fn new() -> Self {
        InvocationBatchBuilder {
            request_id: StringBuilder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone(UTC),
            account_id: StringBuilder::new(),
            region: StringBuilder::new(),
            inference_region: StringBuilder::new(),
            operation: StringBuilder::new(),
            model_id: StringBuilder::new(),
            model: StringBuilder::new(),
            provider: StringBuilder::new(),
            routing: StringBuilder::new(),
            inference_profile: StringBuilder::new(),
            identity_arn: StringBuilder::new(),
            principal: StringBuilder::new(),
            request_metadata: metadata_builder(0, 0, 0, 0),
            input_tokens: Int64Builder::new(),
            output_tokens: Int64Builder::new(),
            cache_read_tokens: Int64Builder::new(),
            cache_write_tokens: Int64Builder::new(),
            cache_write_1h_tokens: Int64Builder::new(),
            token_source: StringBuilder::new(),
            streaming: BooleanBuilder::new(),
            stop_reason: StringBuilder::new(),
            latency_ms: Int64Builder::new(),
            first_byte_latency_ms: Int64Builder::new(),
            guardrail_intervened: BooleanBuilder::new(),
            error_code: StringBuilder::new(),
            input_bytes: Int64Builder::new(),
            output_bytes: Int64Builder::new(),
            input_body_s3_path: StringBuilder::new(),
            output_body_s3_path: StringBuilder::new(),
            response_model: StringBuilder::new(),
            performance_latency: StringBuilder::new(),
            schema_version: StringBuilder::new(),
            system_hash: StringBuilder::new(),
            system_tokens_est: Int64Builder::new(),
            prefix_hash: StringBuilder::new(),
            prefix_tokens_est: Int64Builder::new(),
            source: StringBuilder::new(),
            service_tier: StringBuilder::new(),
            rows: 0,
        }
    }

    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one row; `source` names the file, S3 object or log stream it came from.
    pub fn append(&mut self, row: &Invocation<'_>, source: &str) {
        self.request_id.append_value(&row.request_id);
        self.timestamp.append_value(row.timestamp.timestamp_micros());
        self.account_id.append_option(row.account_id.as_deref());
        self.region.append_option(row.region.as_deref());
        self.inference_region.append_option(row.inference_region.as_deref());
        self.operation.append_option(row.operation.as_deref());
        self.model_id.append_option(row.model_id.as_deref());
        self.model.append_option(row.model.model.as_deref());
        self.provider.append_option(row.model.provider.as_deref());
        self.routing.append_value(row.model.routing.as_str());
        self.inference_profile.append_option(row.model.inference_profile.as_deref());
        self.identity_arn.append_option(row.identity_arn.as_deref());
        self.principal.append_option(row.principal.as_deref());
        match &row.request_metadata {
            Some(map) => {
                for (k, v) in map {
                    self.request_metadata.keys().append_value(k);
                    self.request_metadata.values().append_value(v);
                }
                // Appending a map entry cannot fail while keys and values are appended in pairs.
                let _ = self.request_metadata.append(true);
            }
            None => {
                let _ = self.request_metadata.append(false);
            }
        }
        self.input_tokens.append_option(row.input_tokens);
        self.output_tokens.append_option(row.output_tokens);
        self.cache_read_tokens.append_option(row.cache_read_tokens);
        self.cache_write_tokens.append_option(row.cache_write_tokens);
        self.cache_write_1h_tokens.append_option(row.cache_write_1h_tokens);
        self.token_source.append_value(row.token_source.as_str());
        self.streaming.append_option(row.streaming);
        self.stop_reason.append_option(row.stop_reason.as_deref());
        self.latency_ms.append_option(row.latency_ms);
        self.first_byte_latency_ms.append_option(row.first_byte_latency_ms);
        self.guardrail_intervened.append_option(row.guardrail_intervened);
        self.error_code.append_option(row.error_code.as_deref());
        self.input_bytes.append_option(row.input_bytes);
        self.output_bytes.append_option(row.output_bytes);
        self.input_body_s3_path.append_option(row.input_body_s3_path.as_deref());
        self.output_body_s3_path.append_option(row.output_body_s3_path.as_deref());
        self.response_model.append_option(row.response_model.as_deref());
        self.performance_latency.append_option(row.performance_latency.as_deref());
        self.schema_version.append_option(row.schema_version.as_deref());
        self.system_hash.append_option(row.fingerprint.system_hash.as_ref().map(HexHash::as_str));
        self.system_tokens_est.append_option(row.fingerprint.system_tokens_est);
        self.prefix_hash.append_option(row.fingerprint.prefix_hash.as_ref().map(HexHash::as_str));
        self.prefix_tokens_est.append_option(row.fingerprint.prefix_tokens_est);
        self.source.append_value(source);
        self.service_tier.append_option(row.service_tier.as_deref());
        self.rows += 1;
    }

    /// Finish the pending rows as one batch and reset the builders.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            renew_strings(&mut self.request_id),
            renew_primitive(&mut self.timestamp),
            renew_strings(&mut self.account_id),
            renew_strings(&mut self.region),
            renew_strings(&mut self.inference_region),
            renew_strings(&mut self.operation),
            renew_strings(&mut self.model_id),
            renew_strings(&mut self.model),
            renew_strings(&mut self.provider),
            renew_strings(&mut self.routing),
            renew_strings(&mut self.inference_profile),
            renew_strings(&mut self.identity_arn),
            renew_strings(&mut self.principal),
            renew_metadata(&mut self.request_metadata),
            renew_primitive(&mut self.input_tokens),
            renew_primitive(&mut self.output_tokens),
            renew_primitive(&mut self.cache_read_tokens),
            renew_primitive(&mut self.cache_write_tokens),
            renew_primitive(&mut self.cache_write_1h_tokens),
            renew_strings(&mut self.token_source),
            renew_bools(&mut self.streaming),
            renew_strings(&mut self.stop_reason),
            renew_primitive(&mut self.latency_ms),
            renew_primitive(&mut self.first_byte_latency_ms),
            renew_bools(&mut self.guardrail_intervened),
            renew_strings(&mut self.error_code),
            renew_primitive(&mut self.input_bytes),
            renew_primitive(&mut self.output_bytes),
            renew_strings(&mut self.input_body_s3_path),
            renew_strings(&mut self.output_body_s3_path),
            renew_strings(&mut self.response_model),
            renew_strings(&mut self.performance_latency),
            renew_strings(&mut self.schema_version),
            renew_strings(&mut self.system_hash),
            renew_primitive(&mut self.system_tokens_est),
            renew_strings(&mut self.prefix_hash),
            renew_primitive(&mut self.prefix_tokens_est),
            renew_strings(&mut self.source),
            renew_strings(&mut self.service_tier),
        ];
        self.rows = 0;
        RecordBatch::try_new(FILE_SCHEMA.clone(), columns)
    }
}

// Each finished column hands its builder a fresh one sized like the batch just finished: a builder left empty
// would grow from nothing again, reallocating and copying every column several times per batch (about 5% of
// ingest CPU in the round-4 profile, with the page faults of the regrown buffers).

fn renew_strings(builder: &mut StringBuilder) -> ArrayRef {
    let array = builder.finish();
    // An eighth more than the last batch held: sized exactly, a batch only slightly larger than the last
    // doubled and copied the buffer (`realloc` was 1.4% of ingest instructions).
    let bytes = array.value_data().len();
    *builder = StringBuilder::with_capacity(array.len(), bytes + bytes / 8);
    Arc::new(array)
}

fn renew_primitive<T: ArrowPrimitiveType>(builder: &mut PrimitiveBuilder<T>) -> ArrayRef {
    let array = builder.finish();
    // The data type carries the timestamp's time zone.
    *builder = PrimitiveBuilder::with_capacity(array.len()).with_data_type(array.data_type().clone());
    Arc::new(array)
}

fn renew_bools(builder: &mut BooleanBuilder) -> ArrayRef {
    let array = builder.finish();
    *builder = BooleanBuilder::with_capacity(array.len());
    Arc::new(array)
}

fn renew_metadata(builder: &mut MapBuilder<StringBuilder, StringBuilder>) -> ArrayRef {
    let array = builder.finish();
    let (keys, values) = (array.keys().as_string::<i32>(), array.values().as_string::<i32>());
    let more = |n: usize| n + n / 8; // as in `renew_strings`
    *builder =
        metadata_builder(array.len(), more(keys.len()), more(keys.value_data().len()), more(values.value_data().len()));
    Arc::new(array)
}

/// `request_metadata`'s builder, with room for `rows` maps of `entries` pairs in all, whose keys and values
/// hold so many bytes.
fn metadata_builder(
    rows: usize,
    entries: usize,
    key_bytes: usize,
    value_bytes: usize,
) -> MapBuilder<StringBuilder, StringBuilder> {
    let names = MapFieldNames { entry: "entries".into(), key: "keys".into(), value: "values".into() };
    MapBuilder::with_capacity(
        Some(names),
        StringBuilder::with_capacity(entries, key_bytes),
        StringBuilder::with_capacity(entries, value_bytes),
        rows,
    )
}

/// The batch of the records in `text` (JSON lines), for tests of what is built from batches. Reads only the
/// handful of fields those tests write (`requestId`, `timestamp`, `modelId`, `region`, `identity.arn`,
/// `requestMetadata`, `input.inputTokenCount`, `input.inputBodyS3Path`, `output.outputTokenCount`), with
/// serde_json: the store's tests do not depend on ingest's decoder (the layers below ingest never import it).
#[cfg(test)]
pub(crate) fn batch_of_lines(text: &str) -> RecordBatch {
    use std::borrow::Cow;

    use serde_json::Value;

    use super::row::{PromptFingerprint, TokenSource};

    let owned = |v: &Value| v.as_str().map(|s| Cow::Owned(s.to_string()));
    let mut builder = InvocationBatchBuilder::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("a test line is JSON");
        let timestamp = v["timestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let metadata = v["requestMetadata"].as_object().map(|m| {
            let mut entries: Vec<_> =
                m.iter().map(|(k, v)| (Cow::Owned(k.clone()), owned(v).unwrap_or_default())).collect();
            entries.sort();
            entries
        });
        let (input_tokens, output_tokens) =
            (v["input"]["inputTokenCount"].as_i64(), v["output"]["outputTokenCount"].as_i64());
        let row = Invocation {
            request_id: owned(&v["requestId"]).expect("a test record has a requestId"),
            timestamp: timestamp.expect("a test record has an RFC 3339 timestamp").with_timezone(&chrono::Utc),
            account_id: owned(&v["accountId"]),
            region: owned(&v["region"]),
            inference_region: None,
            operation: owned(&v["operation"]),
            model_id: owned(&v["modelId"]),
            model: std::rc::Rc::new(v["modelId"].as_str().map(crate::model_id::normalize).unwrap_or_default()),
            identity_arn: owned(&v["identity"]["arn"]),
            principal: None,
            request_metadata: metadata,
            input_tokens,
            output_tokens,
            cache_read_tokens: None,
            cache_write_tokens: None,
            cache_write_1h_tokens: None,
            token_source: if input_tokens.is_some() || output_tokens.is_some() {
                TokenSource::Log
            } else {
                TokenSource::None
            },
            streaming: None,
            stop_reason: None,
            latency_ms: None,
            first_byte_latency_ms: None,
            guardrail_intervened: None,
            error_code: None,
            input_bytes: None,
            output_bytes: None,
            input_body_s3_path: owned(&v["input"]["inputBodyS3Path"]),
            output_body_s3_path: None,
            response_model: None,
            performance_latency: None,
            schema_version: None,
            fingerprint: PromptFingerprint::default(),
            service_tier: owned(&v["serviceTier"]),
        };
        builder.append(&row, "mem");
    }
    builder.finish().expect("a batch of valid records")
}
