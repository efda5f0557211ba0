//! The wire format of one Bedrock model invocation log record, and its conversion to an [`Invocation`] row.
//!
//! Follows <https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html> ("Log entry
//! format") and the fields seen in real records (`../shared/reference/invocation-log-format.md`). Every field is
//! optional and unknown fields are ignored, because the format has grown over time (cache counts in 2025,
//! `inferenceRegion`, `requestMetadata`) and will again. Bodies are model-native and of any shape: they are kept
//! as raw JSON spans and only known paths are read from them (see [`super::body`]); prompt text is never copied
//! into the row.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;

use super::body::{self, BodyFacts};
use super::fingerprint::{self, PromptFingerprint};
use super::model_id::{self, ModelRef};

/// One record as it appears on the wire. Borrowed from the decoded bytes where no unescaping is needed.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WireRecord<'a> {
    #[serde(borrow)]
    pub schema_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub schema_version: Option<Cow<'a, str>>,
    /// Raw, because export wrappers put epoch milliseconds under the same key; read in [`read_timestamp`].
    #[serde(borrow)]
    pub timestamp: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "loose_string")]
    pub account_id: Option<String>,
    #[serde(borrow)]
    pub identity: Option<WireIdentity<'a>>,
    #[serde(borrow)]
    pub region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub inference_region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub operation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub model_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "loose_string_map")]
    pub request_metadata: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "loose_string")]
    pub error_code: Option<String>,
    #[serde(borrow)]
    pub performance_config: Option<WirePerformanceConfig<'a>>,
    #[serde(borrow)]
    pub input: Option<WireInput<'a>>,
    #[serde(borrow)]
    pub output: Option<WireOutput<'a>>,
}

/// `identity` of a record: the caller.
#[derive(Debug, Deserialize, Default)]
pub struct WireIdentity<'a> {
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
}

/// `performanceConfig` (latency-optimized inference); seen only in third-party schemas.
#[derive(Debug, Deserialize, Default)]
pub struct WirePerformanceConfig<'a> {
    #[serde(borrow)]
    pub latency: Option<Cow<'a, str>>,
}

/// `input` of a record.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WireInput<'a> {
    #[serde(borrow)]
    pub input_body_json: Option<&'a RawValue>,
    #[serde(borrow)]
    pub input_body_s3_path: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "loose_count")]
    pub input_token_count: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    pub cache_read_input_token_count: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    pub cache_write_input_token_count: Option<i64>,
}

/// `output` of a record.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WireOutput<'a> {
    #[serde(borrow)]
    pub output_body_json: Option<&'a RawValue>,
    #[serde(borrow)]
    pub output_body_s3_path: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "loose_count")]
    pub output_token_count: Option<i64>,
}

/// Where the token counts of a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The record's top-level `inputTokenCount`/`outputTokenCount`.
    Log,
    /// The response body's usage (Converse `usage`, stream metrics, Anthropic/Llama/Titan fields).
    Body,
    /// No count anywhere (e.g. an InvokeModel call blocked by a guardrail).
    None,
}

impl TokenSource {
    /// The value stored in the `token_source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Log => "log",
            TokenSource::Body => "body",
            TokenSource::None => "none",
        }
    }
}

/// One row of the `invocations` table, before it is appended to Arrow builders.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation<'a> {
    pub request_id: Cow<'a, str>,
    pub timestamp: DateTime<Utc>,
    pub account_id: Option<String>,
    pub region: Option<Cow<'a, str>>,
    pub inference_region: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub model_id: Option<Cow<'a, str>>,
    pub model: ModelRef,
    pub identity_arn: Option<Cow<'a, str>>,
    pub principal: Option<String>,
    pub request_metadata: Option<BTreeMap<String, String>>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cache_write_1h_tokens: Option<i64>,
    pub token_source: TokenSource,
    pub streaming: Option<bool>,
    pub stop_reason: Option<String>,
    pub latency_ms: Option<i64>,
    pub first_byte_latency_ms: Option<i64>,
    pub guardrail_intervened: Option<bool>,
    pub error_code: Option<String>,
    pub input_bytes: Option<i64>,
    pub output_bytes: Option<i64>,
    pub input_body_s3_path: Option<Cow<'a, str>>,
    pub output_body_s3_path: Option<Cow<'a, str>>,
    pub response_model: Option<String>,
    pub performance_latency: Option<Cow<'a, str>>,
    pub schema_version: Option<Cow<'a, str>>,
    pub fingerprint: PromptFingerprint,
}

/// Why a JSON value could not become a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A JSON object that is not an invocation log record.
    #[error("not a model invocation log record: {0}")]
    NotALogRecord(&'static str),
    /// `timestamp` is missing or not an ISO 8601 time.
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    /// A count is negative.
    #[error("{field} is negative ({value})")]
    NegativeCount { field: &'static str, value: i64 },
}

impl<'a> WireRecord<'a> {
    /// Is this object shaped like a log record at all (as opposed to an export wrapper or another document)?
    pub fn looks_like_record(&self) -> bool {
        self.request_id.is_some() || self.schema_type.is_some() || self.model_id.is_some()
    }

    /// Validate the record and derive the row. Token counts follow the precedence in the reference (section
    /// 5.4): top-level counts first, each missing one filled from the body; missing stays `None`, never 0.
    pub fn into_invocation(self) -> Result<Invocation<'a>, RecordError> {
        if let Some(t) = &self.schema_type
            && t != "ModelInvocationLog"
        {
            return Err(RecordError::NotALogRecord("schemaType is not ModelInvocationLog"));
        }
        let request_id = match self.request_id {
            Some(id) if !id.trim().is_empty() => id,
            _ => return Err(RecordError::NotALogRecord("requestId is missing")),
        };
        let timestamp = match self.timestamp {
            Some(raw) => read_timestamp(raw.get()).ok_or_else(|| {
                let text = serde_json::from_str::<Cow<str>>(raw.get()).map(Cow::into_owned);
                RecordError::InvalidTimestamp(text.unwrap_or_else(|_| raw.get().to_string()))
            })?,
            None => return Err(RecordError::InvalidTimestamp(String::new())),
        };

        let input = self.input.unwrap_or_default();
        let output = self.output.unwrap_or_default();
        let facts = match output.output_body_json {
            Some(raw) => body::read_output_body(raw.get()),
            None => BodyFacts::default(),
        };

        let log_in = input.input_token_count;
        let log_out = output.output_token_count;
        let token_source = if log_in.is_some() || log_out.is_some() {
            TokenSource::Log
        } else if facts.usage.input.is_some() || facts.usage.output.is_some() {
            TokenSource::Body
        } else {
            TokenSource::None
        };
        let input_tokens = log_in.or(facts.usage.input);
        let output_tokens = log_out.or(facts.usage.output);
        let cache_read_tokens = input.cache_read_input_token_count.or(facts.usage.cache_read);
        let cache_write_tokens = input.cache_write_input_token_count.or(facts.usage.cache_write);
        // The 1-hour split is only trusted when it does not exceed the total it splits.
        let cache_write_1h_tokens = match (facts.usage.cache_write_1h, cache_write_tokens) {
            (Some(h), Some(total)) if h <= total => Some(h),
            (Some(h), None) => Some(h),
            _ => None,
        };
        for (field, value) in [
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cache_read_tokens", cache_read_tokens),
            ("cache_write_tokens", cache_write_tokens),
            ("cache_write_1h_tokens", cache_write_1h_tokens),
        ] {
            if let Some(v) = value
                && v < 0
            {
                return Err(RecordError::NegativeCount { field, value: v });
            }
        }

        let total_input = total_input_tokens(input_tokens, cache_read_tokens, cache_write_tokens);
        let fingerprint = match input.input_body_json {
            Some(raw) => fingerprint::fingerprint_input_body(raw.get(), total_input),
            None => PromptFingerprint::default(),
        };

        let streaming = match self.operation.as_deref() {
            Some("InvokeModelWithResponseStream" | "ConverseStream") => Some(true),
            Some("InvokeModel" | "Converse") => Some(false),
            _ => facts.is_chunk_array.then_some(true),
        };
        let identity_arn = self.identity.and_then(|i| i.arn);
        let principal = identity_arn.as_deref().map(principal_of);
        let model = self.model_id.as_deref().map(model_id::normalize).unwrap_or_default();

        Ok(Invocation {
            request_id,
            timestamp,
            account_id: self.account_id,
            region: self.region,
            inference_region: self.inference_region,
            operation: self.operation,
            model_id: self.model_id,
            model,
            identity_arn,
            principal,
            request_metadata: self.request_metadata,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
            cache_write_1h_tokens,
            token_source,
            streaming,
            stop_reason: facts.stop_reason,
            latency_ms: facts.latency_ms,
            first_byte_latency_ms: facts.first_byte_latency_ms,
            guardrail_intervened: output.output_body_json.map(|_| facts.guardrail_intervened),
            error_code: self.error_code,
            input_bytes: input.input_body_json.map(|r| r.get().len() as i64),
            output_bytes: output.output_body_json.map(|r| r.get().len() as i64),
            input_body_s3_path: input.input_body_s3_path,
            output_body_s3_path: output.output_body_s3_path,
            response_model: facts.response_model,
            performance_latency: self.performance_config.and_then(|p| p.latency),
            schema_version: self.schema_version,
            fingerprint,
        })
    }
}

/// All input tokens of a request (uncached + cache read + cache write; the counts are disjoint on Bedrock), or
/// `None` when none of the three was logged.
pub fn total_input_tokens(input: Option<i64>, cache_read: Option<i64>, cache_write: Option<i64>) -> Option<i64> {
    match (input, cache_read, cache_write) {
        (None, None, None) => None,
        (i, r, w) => Some(i.unwrap_or(0) + r.unwrap_or(0) + w.unwrap_or(0)),
    }
}

/// A record timestamp: an ISO 8601 string as Bedrock writes it, or epoch milliseconds as some exporters do.
pub fn read_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.starts_with('"') {
        let text: Cow<str> = serde_json::from_str(raw).ok()?;
        return parse_timestamp(&text);
    }
    let millis: i64 = raw.parse().ok()?;
    DateTime::from_timestamp_millis(millis)
}

/// Parse an ISO 8601 timestamp. Real records carry whole seconds with `Z`; fractions and offsets are accepted,
/// and a timestamp without a zone is taken as UTC (the zone Bedrock writes).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    // CloudWatch Logs Insights prints `2025-08-15 14:39:40.000` with an optional trailing zone.
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f %z").ok().map(|t| t.with_timezone(&Utc))
}

/// A readable short form of the caller: `Role/Session` for assumed roles, the name for users and roles.
pub fn principal_of(arn: &str) -> String {
    let Some(resource) = arn.splitn(6, ':').nth(5) else {
        return arn.to_string();
    };
    let mut parts = resource.splitn(2, '/');
    let kind = parts.next().unwrap_or_default();
    let rest = parts.next();
    match (kind, rest) {
        ("assumed-role" | "user" | "role" | "federated-user", Some(rest)) => rest.to_string(),
        (_, _) => resource.to_string(),
    }
}

/// A count that may be written as an integer, an integral float or a numeric string; `null` is `None`.
pub(crate) fn loose_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct CountVisitor;
    impl<'de> de::Visitor<'de> for CountVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a token count")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v).map(Some).map_err(|_| E::custom(format!("token count {v} is out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("token count {v} is not an integer")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse().map(Some).map_err(|_| E::custom(format!("token count {v:?} is not an integer")))
        }
    }
    d.deserialize_option(CountVisitor)
}

/// A string that some writers emit as a number (`accountId`) or another scalar.
fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.and_then(scalar_to_string))
}

/// `requestMetadata`: string to string; non-string values are kept as their JSON text rather than dropped.
fn loose_string_map<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let value = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?;
    Ok(value.map(|m| {
        m.into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::Null => None,
                other => Some((k, scalar_to_string(other.clone()).unwrap_or_else(|| other.to_string()))),
            })
            .collect()
    }))
}

fn scalar_to_string(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let cases = [
            ("2025-08-15T14:39:40Z", Some("2025-08-15T14:39:40+00:00")),
            ("2025-08-15T14:39:40.123456Z", Some("2025-08-15T14:39:40.123456+00:00")),
            ("2025-08-15T16:39:40+02:00", Some("2025-08-15T14:39:40+00:00")),
            ("2025-08-15T14:39:40", Some("2025-08-15T14:39:40+00:00")),
            ("2025-08-15 14:39:40.000", Some("2025-08-15T14:39:40+00:00")),
            ("2025-02-30T00:00:00Z", None),
            ("<redacted>", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = parse_timestamp(input).map(|t| t.to_rfc3339());
            assert_eq!(got.as_deref(), want, "case {input:?}");
        }
    }

    #[test]
    fn principals() {
        let cases = [
            (
                "arn:aws:sts::663981805246:assumed-role/ie-staging-lambdaRole/ie-staging-claudeInvoker",
                "ie-staging-lambdaRole/ie-staging-claudeInvoker",
            ),
            ("arn:aws:iam::893487256304:user/acme-user-bravo", "acme-user-bravo"),
            ("arn:aws:iam::893487256304:role/service/etl", "service/etl"),
            ("arn:aws:iam::893487256304:root", "root"),
            ("not-an-arn", "not-an-arn"),
        ];
        for (arn, want) in cases {
            assert_eq!(principal_of(arn), want, "case {arn}");
        }
    }
}
