//! The record: the wire format of one Bedrock model invocation log record and its conversion to an
//! [`Invocation`] row (the row type itself is the store's, [`crate::store::row`]). This folder owns what a record
//! *means*: this file reads the envelope, [`body`] reads the model-native bodies, [`fingerprint`] hashes the
//! prompt. It never sees bytes before they are framed (that is `decode`) and never reads JSON grammar itself
//! (that is `json`).
//!
//! Follows <https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html> ("Log entry
//! format") and the fields seen in real records (`../shared/reference/invocation-log-format.md`). Every field is
//! optional and unknown fields are ignored, because the format has grown over time (cache counts in 2025,
//! `inferenceRegion`, `requestMetadata`) and will again. Bodies are model-native and of any shape: they are kept
//! as raw JSON spans and only known paths are read from them (see [`body`]); prompt text is never copied into the
//! row.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::ingest::json::{Cursor, SyntaxError};
use crate::model_id;
use crate::store::row::{Invocation, PromptFingerprint, StringMap, TokenSource};
use body::BodyFacts;
use fingerprint::InputParts;

pub mod body;
pub mod fingerprint;

/// One record as it appears on the wire, read by [`WireRecord::parse`]. Borrowed from the decoded text where no
/// unescaping is needed; bodies are raw JSON spans of it.
#[derive(Debug, Default)]
pub struct WireRecord<'a> {
    pub schema_type: Option<Cow<'a, str>>,
    pub schema_version: Option<Cow<'a, str>>,
    /// Raw JSON, because export wrappers put epoch milliseconds under the same key; read in [`read_timestamp`].
    pub timestamp: Option<&'a str>,
    pub account_id: Option<Cow<'a, str>>,
    /// `identity.arn`: the caller.
    pub identity_arn: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub inference_region: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub model_id: Option<Cow<'a, str>>,
    pub request_metadata: Option<StringMap<'a>>,
    pub error_code: Option<Cow<'a, str>>,
    /// `performanceConfig.latency` (latency-optimized inference); seen only in third-party schemas.
    pub performance_latency: Option<Cow<'a, str>>,
    /// `serviceTier`: the tier requested (a string, or an object with `type`, as the runtime API writes it).
    /// Whether logs carry it is UNCONFIRMED; read wherever a record has it at the top level.
    pub service_tier: Option<Cow<'a, str>>,
    /// `resolvedServiceTier`: the tier that served the request, where a record names it; wins over
    /// `serviceTier` (a request can be served on another tier than it asked for).
    pub resolved_service_tier: Option<Cow<'a, str>>,
    pub input: WireInput<'a>,
    pub output: WireOutput<'a>,
}

/// `input` of a record.
#[derive(Debug, Default)]
pub struct WireInput<'a> {
    pub input_body_json: Option<&'a str>,
    /// The prompt parts of `inputBodyJson`, located while it was validated (`None` unless it is an object).
    pub prompt_parts: Option<InputParts<'a>>,
    pub input_body_s3_path: Option<Cow<'a, str>>,
    pub input_token_count: Option<i64>,
    pub cache_read_input_token_count: Option<i64>,
    pub cache_write_input_token_count: Option<i64>,
}

/// `output` of a record.
#[derive(Debug, Default)]
pub struct WireOutput<'a> {
    pub output_body_json: Option<&'a str>,
    /// What `outputBodyJson` tells, read while it was validated (empty when it is absent or `null`).
    pub body_facts: BodyFacts<'a>,
    pub output_body_s3_path: Option<Cow<'a, str>>,
    pub output_token_count: Option<i64>,
}

/// Why a JSON object could not be read as a record: broken JSON, or a known field of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("invalid JSON: {0}")]
    Syntax(#[from] SyntaxError),
    #[error("invalid field {field}: {problem}")]
    Field { field: &'static str, problem: String },
}

fn field_error(field: &'static str, problem: impl Into<String>) -> WireError {
    WireError::Field { field, problem: problem.into() }
}

/// Which fields of one object were seen: a field given twice is an error (as serde's derive made it), even
/// when the first was `null`.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    #[inline]
    fn first(&mut self, bit: u32, field: &'static str) -> Result<(), WireError> {
        if self.0 & (1 << bit) != 0 {
            return Err(field_error(field, "given twice"));
        }
        self.0 |= 1 << bit;
        Ok(())
    }
}

impl<'a> WireRecord<'a> {
    /// Read a record from the text of one JSON object, validating all of it in the same pass. Unknown fields are
    /// checked as JSON and skipped; `null` is the same as absent. Text that is not an object is a syntax error.
    pub fn parse(text: &'a str) -> Result<Self, WireError> {
        let mut record = WireRecord::default();
        let mut seen = Seen::default();
        let mut cursor = Cursor::new(text.as_bytes());
        cursor.object(|key, c| -> Result<(), WireError> {
            let r = &mut record;
            match key {
                b"schemaType" => {
                    seen.first(0, "schemaType")?;
                    r.schema_type = string(text, "schemaType", c.value_and_escapes()?)?;
                }
                b"schemaVersion" => {
                    seen.first(1, "schemaVersion")?;
                    r.schema_version = string(text, "schemaVersion", c.value_and_escapes()?)?;
                }
                b"timestamp" => {
                    seen.first(2, "timestamp")?;
                    r.timestamp = raw(text, c.value()?);
                }
                b"accountId" => {
                    seen.first(3, "accountId")?;
                    r.account_id = loose_string(text, "accountId", c.value_and_escapes()?)?;
                }
                b"identity" => {
                    seen.first(4, "identity")?;
                    let mut seen = Seen::default();
                    nested_object(c, "identity", |key, c| match key {
                        b"arn" => {
                            seen.first(0, "identity.arn")?;
                            r.identity_arn = string(text, "identity.arn", c.value_and_escapes()?)?;
                            Ok(())
                        }
                        _ => skip(c),
                    })?;
                }
                b"region" => {
                    seen.first(5, "region")?;
                    r.region = string(text, "region", c.value_and_escapes()?)?;
                }
                b"inferenceRegion" => {
                    seen.first(6, "inferenceRegion")?;
                    r.inference_region = string(text, "inferenceRegion", c.value_and_escapes()?)?;
                }
                b"requestId" => {
                    seen.first(7, "requestId")?;
                    r.request_id = string(text, "requestId", c.value_and_escapes()?)?;
                }
                b"operation" => {
                    seen.first(8, "operation")?;
                    r.operation = string(text, "operation", c.value_and_escapes()?)?;
                }
                b"modelId" => {
                    seen.first(9, "modelId")?;
                    r.model_id = string(text, "modelId", c.value_and_escapes()?)?;
                }
                b"requestMetadata" => {
                    seen.first(10, "requestMetadata")?;
                    r.request_metadata = string_map(text, "requestMetadata", c)?;
                }
                b"errorCode" => {
                    seen.first(11, "errorCode")?;
                    r.error_code = loose_string(text, "errorCode", c.value_and_escapes()?)?;
                }
                b"performanceConfig" => {
                    seen.first(12, "performanceConfig")?;
                    let mut seen = Seen::default();
                    nested_object(c, "performanceConfig", |key, c| match key {
                        b"latency" => {
                            seen.first(0, "performanceConfig.latency")?;
                            r.performance_latency = string(text, "performanceConfig.latency", c.value_and_escapes()?)?;
                            Ok(())
                        }
                        _ => skip(c),
                    })?;
                }
                b"serviceTier" => {
                    seen.first(15, "serviceTier")?;
                    r.service_tier = tier(text, "serviceTier", c)?;
                }
                b"resolvedServiceTier" => {
                    seen.first(16, "resolvedServiceTier")?;
                    r.resolved_service_tier = tier(text, "resolvedServiceTier", c)?;
                }
                b"input" => {
                    seen.first(13, "input")?;
                    let (input, mut seen) = (&mut r.input, Seen::default());
                    nested_object(c, "input", |key, c| {
                        match key {
                            b"inputBodyJson" => {
                                seen.first(0, "input.inputBodyJson")?;
                                let start = c.mark();
                                input.prompt_parts = InputParts::locate(c)?;
                                input.input_body_json = raw(text, c.since(start));
                            }
                            b"inputBodyS3Path" => {
                                seen.first(1, "input.inputBodyS3Path")?;
                                input.input_body_s3_path =
                                    string(text, "input.inputBodyS3Path", c.value_and_escapes()?)?;
                            }
                            b"inputTokenCount" => {
                                seen.first(2, "input.inputTokenCount")?;
                                input.input_token_count = count(text, "input.inputTokenCount", c.value()?)?;
                            }
                            b"cacheReadInputTokenCount" => {
                                seen.first(3, "input.cacheReadInputTokenCount")?;
                                input.cache_read_input_token_count =
                                    count(text, "input.cacheReadInputTokenCount", c.value()?)?;
                            }
                            b"cacheWriteInputTokenCount" => {
                                seen.first(4, "input.cacheWriteInputTokenCount")?;
                                input.cache_write_input_token_count =
                                    count(text, "input.cacheWriteInputTokenCount", c.value()?)?;
                            }
                            _ => skip(c)?,
                        }
                        Ok(())
                    })?;
                }
                b"output" => {
                    seen.first(14, "output")?;
                    let (output, mut seen) = (&mut r.output, Seen::default());
                    nested_object(c, "output", |key, c| {
                        match key {
                            b"outputBodyJson" => {
                                seen.first(0, "output.outputBodyJson")?;
                                let start = c.mark();
                                output.body_facts = body::locate_output_body(text, c)?;
                                output.output_body_json = raw(text, c.since(start));
                            }
                            b"outputBodyS3Path" => {
                                seen.first(1, "output.outputBodyS3Path")?;
                                output.output_body_s3_path =
                                    string(text, "output.outputBodyS3Path", c.value_and_escapes()?)?;
                            }
                            b"outputTokenCount" => {
                                seen.first(2, "output.outputTokenCount")?;
                                output.output_token_count = count(text, "output.outputTokenCount", c.value()?)?;
                            }
                            _ => skip(c)?,
                        }
                        Ok(())
                    })?;
                }
                _ => skip(c)?,
            }
            Ok(())
        })?;
        cursor.end()?;
        Ok(record)
    }
}

/// A service tier: a string (`"flex"`), or an object whose `type` is one (`{"type": "flex"}`, the runtime API's
/// `ServiceTier`); other keys of the object are skipped.
fn tier<'a>(text: &'a str, field: &'static str, cursor: &mut Cursor<'a>) -> Result<Option<Cow<'a, str>>, WireError> {
    if cursor.peek() != Some(b'{') {
        return string(text, field, cursor.value_and_escapes()?);
    }
    let (mut found, mut seen) = (None, Seen::default());
    cursor.object(|key, c| match key {
        b"type" => {
            seen.first(0, field)?;
            found = string(text, field, c.value_and_escapes()?)?;
            Ok(())
        }
        _ => skip(c),
    })?;
    Ok(found)
}

/// Validate and drop a value the record does not use.
fn skip(cursor: &mut Cursor<'_>) -> Result<(), WireError> {
    cursor.value()?;
    Ok(())
}

/// An object-valued field walked in place (so its bodies are validated once, here); `null` is absent.
fn nested_object<'a>(
    cursor: &mut Cursor<'a>,
    field: &'static str,
    on_field: impl FnMut(&[u8], &mut Cursor<'a>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    match cursor.peek() {
        Some(b'{') => cursor.object(on_field),
        _ => match cursor.value()? {
            b"null" => Ok(()),
            _ => Err(field_error(field, "expected an object")),
        },
    }
}

/// The text of a span of `text` (spans start and end at ASCII delimiters, so always on char boundaries); `null`
/// is absent, and so is a span that does not lie inside `text` (an unescaped copy of a key). Only addresses are
/// compared; nothing is read through them.
pub(crate) fn raw<'a>(text: &'a str, span: &[u8]) -> Option<&'a str> {
    if span == b"null" {
        return None;
    }
    let start = (span.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    text.get(start..start.checked_add(span.len())?)
}

/// A JSON integer of at most 18 digits (so it always fits an i64), read without serde; `None` for anything else.
pub(crate) fn plain_integer(span: &[u8]) -> Option<i64> {
    let digits = span.strip_prefix(b"-").unwrap_or(span);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Some(if digits.len() < span.len() { -magnitude } else { magnitude })
}

/// A string field, from [`Cursor::value_and_escapes`]: borrowed when it holds no escapes.
fn string<'a>(
    text: &'a str,
    field: &'static str,
    (span, escaped): (&'a [u8], bool),
) -> Result<Option<Cow<'a, str>>, WireError> {
    let Some(value) = raw(text, span) else { return Ok(None) };
    if !value.starts_with('"') {
        return Err(field_error(field, "expected a string"));
    }
    if !escaped {
        return Ok(Some(Cow::Borrowed(&value[1..value.len() - 1])));
    }
    // Escapes are rare; serde_json decodes them (and refuses lone surrogates, as it always did here).
    serde_json::from_str::<String>(value).map(|s| Some(Cow::Owned(s))).map_err(|e| field_error(field, e.to_string()))
}

/// A token count, with [`loose_count`]'s leniency; plain integers skip serde.
fn count(text: &str, field: &'static str, span: &[u8]) -> Result<Option<i64>, WireError> {
    if let Some(count) = plain_integer(span) {
        return Ok(Some(count));
    }
    let digits = span.strip_prefix(b"-").unwrap_or(span);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // An integer too long for `plain_integer`: an i64 still holds some of 19 digits. serde_json would read a
        // longer one as a float and print it rounded, so it is named here as it was written.
        let written = String::from_utf8_lossy(span);
        return match written.parse::<i64>() {
            Ok(count) => Ok(Some(count)),
            Err(_) => Err(field_error(field, format!("{written} is out of range for a token count"))),
        };
    }
    #[derive(Deserialize)]
    struct Count(#[serde(deserialize_with = "loose_count")] Option<i64>);
    let value = raw(text, span).unwrap_or("null");
    serde_json::from_str::<Count>(value).map(|c| c.0).map_err(|e| field_error(field, e.to_string()))
}

/// A string that some writers emit as a number (`accountId`) or another scalar, from
/// [`Cursor::value_and_escapes`]; borrowed when it is a string without escapes.
fn loose_string<'a>(
    text: &'a str,
    field: &'static str,
    (span, escaped): (&'a [u8], bool),
) -> Result<Option<Cow<'a, str>>, WireError> {
    let Some(value) = raw(text, span) else { return Ok(None) };
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))
        && !escaped
    {
        return Ok(Some(Cow::Borrowed(inner)));
    }
    let value = serde_json::from_str::<serde_json::Value>(value).map_err(|e| field_error(field, e.to_string()))?;
    Ok(scalar_to_string(value).map(Cow::Owned))
}

/// `requestMetadata`: string to string; non-string values are kept as their JSON text rather than dropped, and
/// `null` values are dropped.
fn string_map<'a>(
    text: &'a str,
    field: &'static str,
    cursor: &mut Cursor<'a>,
) -> Result<Option<StringMap<'a>>, WireError> {
    if cursor.peek() != Some(b'{') {
        return match cursor.value()? {
            b"null" => Ok(None),
            _ => Err(field_error(field, "expected an object")),
        };
    }
    let mut map: StringMap<'a> = Vec::with_capacity(8);
    cursor.object(|key, c| -> Result<(), WireError> {
        if let Some(value) = loose_string(text, field, c.value_and_escapes()?)? {
            let key = match raw(text, key) {
                Some(borrowed) => Cow::Borrowed(borrowed),
                None => Cow::Owned(String::from_utf8_lossy(key).into_owned()),
            };
            map.push((key, value));
        }
        Ok(())
    })?;
    // A stable sort keeps equal keys in the order written, so the last of each run is the one that wins: each
    // later entry of a run hands its value to the entry kept, then goes.
    map.sort_by(|a, b| a.0.cmp(&b.0));
    map.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    Ok(Some(map))
}

/// Why a JSON value could not become a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A JSON object that is not an invocation log record.
    #[error("not a model invocation log record: {0}")]
    NotALogRecord(&'static str),
    /// No `timestamp` (or `null`).
    #[error("timestamp is missing")]
    MissingTimestamp,
    /// `timestamp` is a string that is not an ISO 8601 time.
    #[error("timestamp {0:?} is not an ISO 8601 time")]
    InvalidTimestamp(String),
    /// `timestamp` is a number that cannot be read as epoch seconds, milliseconds or microseconds; the number is
    /// shown as written.
    #[error("timestamp {raw} is not a time in epoch seconds, milliseconds or microseconds: {problem}")]
    InvalidEpochTimestamp { raw: String, problem: &'static str },
    /// `timestamp` is neither a string nor a number (shown as written, cut to [`SHOWN_VALUE_CHARS`]).
    #[error("timestamp {0} is neither a string nor a number")]
    TimestampNotATime(String),
    /// A time before the earliest plausible one ([`TimestampWindow::earliest`]).
    #[error("timestamp {} is before {}, the earliest accepted (Amazon Bedrock became generally available on 2023-09-28)", rfc3339(.timestamp), rfc3339(.earliest))]
    TimestampTooEarly { timestamp: DateTime<Utc>, earliest: DateTime<Utc> },
    /// A time further ahead of the run's clock than [`TimestampWindow::max_ahead`].
    #[error("timestamp {} is more than {} hour(s) after this run's clock ({})", rfc3339(.timestamp), .max_ahead.num_hours(), rfc3339(.now))]
    TimestampInFuture { timestamp: DateTime<Utc>, now: DateTime<Utc>, max_ahead: chrono::TimeDelta },
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
            Some(raw) => read_timestamp(raw)?,
            None => return Err(RecordError::MissingTimestamp),
        };

        let (input, output) = (self.input, self.output);
        let facts = output.body_facts;

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
        let fingerprint = match &input.prompt_parts {
            Some(parts) => fingerprint::fingerprint_parts(parts, total_input),
            None => PromptFingerprint::default(),
        };

        let streaming = match self.operation.as_deref() {
            Some("InvokeModelWithResponseStream" | "ConverseStream") => Some(true),
            Some("InvokeModel" | "Converse") => Some(false),
            _ => facts.is_chunk_array.then_some(true),
        };
        let identity_arn = self.identity_arn;
        let principal = match &identity_arn {
            Some(Cow::Borrowed(arn)) => Some(Cow::Borrowed(principal_of(arn))),
            Some(Cow::Owned(arn)) => Some(Cow::Owned(principal_of(arn).to_string())),
            None => None,
        };
        let model = self.model_id.as_deref().map(model_id::normalize_shared).unwrap_or_default();

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
            input_bytes: input.input_body_json.map(|r| r.len() as i64),
            output_bytes: output.output_body_json.map(|r| r.len() as i64),
            input_body_s3_path: input.input_body_s3_path,
            output_body_s3_path: output.output_body_s3_path,
            response_model: facts.response_model,
            performance_latency: self.performance_latency,
            schema_version: self.schema_version,
            fingerprint,
            service_tier: self.resolved_service_tier.or(self.service_tier),
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

/// Which record times are believable. A log record cannot predate Amazon Bedrock, nor come from the future; a
/// time outside the window is a corrupt or mis-scaled field (a year 9999, an epoch read in the wrong unit), and
/// pricing it would put spend in a month that never had any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampWindow {
    /// Records before this are rejected. Default: 2023-09-28T00:00:00Z, Bedrock's general availability.
    pub earliest: DateTime<Utc>,
    /// Records more than this after the run's clock are rejected. Default: one day (clock skew, late delivery
    /// and time zones all fit well inside it).
    pub max_ahead: chrono::TimeDelta,
}

/// 2023-09-28T00:00:00Z, when Amazon Bedrock became generally available.
pub const BEDROCK_GA: DateTime<Utc> = match DateTime::from_timestamp(1_695_859_200, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::UNIX_EPOCH,
};

impl Default for TimestampWindow {
    fn default() -> Self {
        TimestampWindow { earliest: BEDROCK_GA, max_ahead: chrono::TimeDelta::days(1) }
    }
}

impl TimestampWindow {
    /// Is `timestamp` believable for a run whose clock reads `now`?
    pub fn check(&self, timestamp: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), RecordError> {
        if timestamp < self.earliest {
            return Err(RecordError::TimestampTooEarly { timestamp, earliest: self.earliest });
        }
        if now.checked_add_signed(self.max_ahead).is_some_and(|latest| timestamp > latest) {
            return Err(RecordError::TimestampInFuture { timestamp, now, max_ahead: self.max_ahead });
        }
        Ok(())
    }
}

/// Characters of a value shown in a reason before it is cut.
const SHOWN_VALUE_CHARS: usize = 64;

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A record timestamp (the raw JSON value): an ISO 8601 string as Bedrock writes it, or an epoch number as some
/// exporters write it, read by its magnitude (see [`read_epoch`]).
pub fn read_timestamp(raw: &str) -> Result<DateTime<Utc>, RecordError> {
    let raw = raw.trim();
    if let Some(time) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).and_then(parse_bedrock_timestamp) {
        return Ok(time);
    }
    if raw.starts_with('"') {
        let text: Cow<str> = serde_json::from_str(raw).map_err(|_| RecordError::InvalidTimestamp(raw.to_string()))?;
        return parse_timestamp(&text).ok_or_else(|| RecordError::InvalidTimestamp(text.into_owned()));
    }
    if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return read_epoch(raw);
    }
    let mut shown: String = raw.chars().take(SHOWN_VALUE_CHARS).collect();
    if shown.len() < raw.len() {
        shown.push_str("...");
    }
    Err(RecordError::TimestampNotATime(shown))
}

/// An epoch time written as a JSON number, in the unit its magnitude gives: below 10^11 it is seconds (up to the
/// year 5138), below 10^14 milliseconds (1973 to 5138), below 10^17 microseconds (1973 to 5138). Each unit
/// covers the years the others cannot reach, so a time from Bedrock's era reads the same whichever unit it was
/// written in, and never lands decades off. A fraction is kept down to the microsecond; negative numbers,
/// exponents and larger magnitudes are refused with the number as written.
fn read_epoch(raw: &str) -> Result<DateTime<Utc>, RecordError> {
    let refuse = |problem| RecordError::InvalidEpochTimestamp { raw: raw.to_string(), problem };
    if raw.starts_with('-') {
        return Err(refuse("it is negative"));
    }
    if raw.contains(['e', 'E']) {
        return Err(refuse("it has an exponent"));
    }
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(refuse("it is not a number"));
    }
    // 17 digits or more is at least 10^16; only 10^16..10^17 of those can be microseconds.
    let value: u64 = match whole.parse() {
        Ok(v) if v < 100_000_000_000_000_000 => v,
        _ => return Err(refuse("it is too large for any of them")),
    };
    // Microseconds per unit, and the fraction's digits that reach down to a microsecond.
    let (per_unit, fraction_digits) = match value {
        0..100_000_000_000 => (1_000_000, 6),
        100_000_000_000..100_000_000_000_000 => (1_000, 3),
        _ => (1, 0),
    };
    let kept = &fraction[..fraction.len().min(fraction_digits)];
    let sub_unit =
        kept.bytes().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) * 10u64.pow((fraction_digits - kept.len()) as u32);
    let micros = i64::try_from(value * per_unit + sub_unit).map_err(|_| refuse("it is too large for any of them"))?;
    DateTime::from_timestamp_micros(micros).ok_or_else(|| refuse("it is too large for any of them"))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form Bedrock writes, read without the general parsers (which cost about 1.5% of
/// ingest); `None` for anything else, including impossible dates and leap seconds, which the general path reads.
fn parse_bedrock_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let bytes: &[u8; 20] = text.as_bytes().try_into().ok()?;
    let [y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1, b'Z'] = *bytes
    else {
        return None;
    };
    let number =
        |digits: &[u8]| digits.iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')));
    let year = i32::try_from(number(&[y0, y1, y2, y3])?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, number(&[mo0, mo1])?, number(&[d0, d1])?)?;
    let time = date.and_hms_opt(number(&[h0, h1])?, number(&[mi0, mi1])?, number(&[s0, s1])?)?;
    Some(time.and_utc())
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
pub fn principal_of(arn: &str) -> &str {
    // The resource follows the fifth ':'. Found byte by byte: ARNs are short, and `splitn` cost ten times more.
    let mut colons = 0;
    let Some(resource_start) = arn.bytes().position(|b| {
        colons += usize::from(b == b':');
        colons == 5
    }) else {
        return arn;
    };
    let resource = &arn[resource_start + 1..];
    let (kind, rest) = match resource.bytes().position(|b| b == b'/') {
        Some(slash) => (&resource[..slash], Some(&resource[slash + 1..])),
        None => (resource, None),
    };
    match (kind, rest) {
        ("assumed-role" | "user" | "role" | "federated-user", Some(rest)) => rest,
        (_, _) => resource,
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
    fn service_tier_is_kept_where_a_record_names_one() {
        let tier_of = |text: &str| {
            let row = WireRecord::parse(text).unwrap().into_invocation().unwrap();
            row.service_tier.map(|t| t.into_owned())
        };
        let base = r#""requestId":"r","timestamp":"2026-11-02T10:00:00Z","modelId":"openai.gpt-oss-120b-1:0""#;
        assert_eq!(tier_of(&format!("{{{base}}}")), None, "no tier: unknown, never a guess");
        assert_eq!(tier_of(&format!(r#"{{{base},"serviceTier":"flex"}}"#)).as_deref(), Some("flex"));
        assert_eq!(
            tier_of(&format!(r#"{{{base},"serviceTier":{{"type":"priority","x":1}}}}"#)).as_deref(),
            Some("priority")
        );
        assert_eq!(tier_of(&format!(r#"{{{base},"serviceTier":null}}"#)), None);
        let resolved = format!(r#"{{{base},"serviceTier":{{"type":"priority"}},"resolvedServiceTier":"default"}}"#);
        assert_eq!(tier_of(&resolved).as_deref(), Some("default"), "the tier that served the request wins");
        for bad in [r#""serviceTier":5"#, r#""serviceTier":{"type":[1]}"#, r#""serviceTier":"a","serviceTier":"b""#] {
            assert!(WireRecord::parse(&format!("{{{base},{bad}}}")).is_err(), "{bad}");
        }
    }

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
    fn wire_fields_are_read_leniently_and_type_errors_are_named() {
        let text = r#"{"requestId":"a\u0062c","region":"us-east-1","accountId":123456789012,
            "identity":{"arn":"arn:x","other":[1]},"output":null,"unknown":{"deep":[{}, "\"]"]},
            "input":{"inputTokenCount":"12","cacheReadInputTokenCount":3.0,"cacheWriteInputTokenCount":-4,"inputBodyJson":null},
            "requestMetadata":{"team":"a\tb","n":1,"gone":null,"obj":{"k":[true]}}}"#;
        let r = WireRecord::parse(text).unwrap();
        assert_eq!(r.request_id.as_deref(), Some("abc"));
        assert!(matches!(r.region, Some(Cow::Borrowed("us-east-1"))), "unescaped strings are borrowed");
        assert_eq!(r.account_id.as_deref(), Some("123456789012"));
        assert_eq!(r.identity_arn.as_deref(), Some("arn:x"));
        let counts =
            (r.input.input_token_count, r.input.cache_read_input_token_count, r.input.cache_write_input_token_count);
        assert_eq!(counts, (Some(12), Some(3), Some(-4)));
        assert_eq!((r.input.input_body_json, r.output.output_body_json), (None, None));
        let metadata: Vec<(&str, &str)> =
            r.request_metadata.iter().flatten().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(metadata, [("n", "1"), ("obj", r#"{"k":[true]}"#), ("team", "a\tb")]);
        // As a map reads it: sorted by key, the last of a repeated key wins, escaped keys unescaped.
        let repeated =
            r#"{"requestId":"x","requestMetadata":{"z":"1","b\u0061":"2","a":"3","z":"4","ba":"5","a":null}}"#;
        let r = WireRecord::parse(repeated).unwrap();
        let metadata: Vec<(&str, &str)> =
            r.request_metadata.iter().flatten().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(metadata, [("a", "3"), ("ba", "5"), ("z", "4")]);
        let entries = r.request_metadata.unwrap_or_default();
        assert!(matches!(entries[2].0, Cow::Borrowed("z")), "plain keys are borrowed from the record");

        let errors = [
            (r#"{"requestId":5}"#, "invalid field requestId: expected a string"),
            (r#"{"requestId":"a","requestId":null}"#, "invalid field requestId: given twice"),
            (r#"{"input":{"inputTokenCount":1.5}}"#, "invalid field input.inputTokenCount"),
            (r#"{"input":[]}"#, "invalid field input: expected an object"),
            (r#"{"requestMetadata":"x"}"#, "invalid field requestMetadata: expected an object"),
            (r#"{"requestId":"\ud800"}"#, "invalid field requestId: unexpected end of hex escape"),
            (r#"{"requestId":"a"} x"#, "invalid JSON: trailing characters at column 19"),
            (r#"{"requestId":"a","input":{"inputBodyJson":{"a":01}}}"#, "invalid JSON: invalid number"),
            (r#"["requestId"]"#, "invalid JSON: expected an object at column 1"),
        ];
        for (text, want) in errors {
            let got = WireRecord::parse(text).map(|_| ()).map_err(|e| e.to_string());
            assert!(got.as_ref().is_err_and(|e| e.starts_with(want)), "{text}: {got:?}");
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
            ("arn:aws:sts::1:federated-user/bob", "bob"),
            ("arn:aws:iam::1:user/", ""),
            ("arn:aws:iam::1:group/admins", "group/admins"),
            ("arn:aws:iam::1", "arn:aws:iam::1"),
            ("arn:aws:bedrock:us-east-1:1:application-inference-profile/a:b", "application-inference-profile/a:b"),
            ("not-an-arn", "not-an-arn"),
        ];
        for (arn, want) in cases {
            assert_eq!(principal_of(arn), want, "case {arn}");
        }
    }

    /// The fast path for Bedrock's own form gives what the general parsers give, and leaves everything else to
    /// them.
    #[test]
    fn bedrock_timestamps_read_as_the_general_parser_reads_them() {
        let general = |text: &str| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc));
        for text in [
            "2025-11-23T03:54:30Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert!(general(text).is_some());
            assert_eq!(parse_bedrock_timestamp(text), general(text), "{text}");
            assert_eq!(read_timestamp(&format!("\"{text}\"")).ok(), general(text), "{text}");
        }
        // Not the fast form, or not a possible time: the fast path declines and the general path decides.
        for text in [
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-11-23T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2025-11-23t03:54:30z",
            "2025-11-23T03:54:30.5Z",
            "2025-11-23T03:54:30+01:00",
            "2025-1x-23T03:54:30Z",
            "+025-11-23T03:54:30Z",
            "2025-11-23 03:54:30Z",
        ] {
            assert_eq!(parse_bedrock_timestamp(text), None, "{text}");
            assert_eq!(read_timestamp(&format!("\"{text}\"")).ok(), parse_timestamp(text), "{text}");
        }
    }

    /// Reasons say exactly what is wrong, with numbers as written.
    #[test]
    fn reasons_are_exact() {
        let reason = |text: &str| {
            WireRecord::parse(text)
                .map_err(|e| e.to_string())
                .and_then(|r| r.into_invocation().map(|_| ()).map_err(|e| e.to_string()))
        };
        let cases = [
            (r#"{"requestId":"r"}"#, "timestamp is missing"),
            (r#"{"requestId":"r","timestamp":null}"#, "timestamp is missing"),
            (r#"{"requestId":"r","timestamp":""}"#, r#"timestamp "" is not an ISO 8601 time"#),
            (r#"{"requestId":"r","timestamp":"yesterday"}"#, r#"timestamp "yesterday" is not an ISO 8601 time"#),
            (
                r#"{"requestId":"r","timestamp":123456789012345678901234567890}"#,
                "timestamp 123456789012345678901234567890 is not a time in epoch seconds, milliseconds or microseconds: it is too large for any of them",
            ),
            (
                r#"{"requestId":"r","timestamp":-1730800000}"#,
                "timestamp -1730800000 is not a time in epoch seconds, milliseconds or microseconds: it is negative",
            ),
            (
                r#"{"requestId":"r","timestamp":1.7308e9}"#,
                "timestamp 1.7308e9 is not a time in epoch seconds, milliseconds or microseconds: it has an exponent",
            ),
            (r#"{"requestId":"r","timestamp":{"s":1}}"#, r#"timestamp {"s":1} is neither a string nor a number"#),
            (
                r#"{"requestId":"r","timestamp":"2025-11-02T10:00:00Z","input":{"inputTokenCount":99999999999999999999}}"#,
                "invalid field input.inputTokenCount: 99999999999999999999 is out of range for a token count",
            ),
            (
                r#"{"requestId":"r","timestamp":"2025-11-02T10:00:00Z","output":{"outputTokenCount":-99999999999999999999}}"#,
                "invalid field output.outputTokenCount: -99999999999999999999 is out of range for a token count",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(reason(text), Err(want.to_string()), "{text}");
        }
        // Nineteen digits still fit an i64.
        let big =
            r#"{"requestId":"r","timestamp":"2025-11-02T10:00:00Z","input":{"inputTokenCount":1234567890123456789}}"#;
        assert_eq!(WireRecord::parse(big).unwrap().input.input_token_count, Some(1_234_567_890_123_456_789));
    }

    /// An epoch number is read in the unit its magnitude gives: the same instant written in seconds,
    /// milliseconds or microseconds reads the same.
    #[test]
    fn epoch_timestamps_are_read_by_magnitude() {
        // 1730800000 s is 2024-11-05T09:46:40Z (20032 days and 35200 s after the epoch).
        let want = DateTime::from_timestamp(20_032 * 86_400 + 35_200, 0).unwrap();
        assert_eq!(want.to_rfc3339(), "2024-11-05T09:46:40+00:00");
        for (raw, fraction_micros) in [
            ("1730800000", 0),
            ("1730800000000", 0),
            ("1730800000000000", 0),
            ("1730800000.25", 250_000),
            ("1730800000123.5", 123_500),
            ("1730800000123456.9", 123_456),
            (" 1730800000 ", 0),
        ] {
            let got = read_timestamp(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(got, want + chrono::TimeDelta::microseconds(fraction_micros), "{raw}");
        }
        // Every band's edges: the largest seconds value, the first milliseconds one, and so on.
        let edges = [
            ("99999999999", DateTime::from_timestamp(99_999_999_999, 0)),
            ("100000000000", DateTime::from_timestamp_millis(100_000_000_000)),
            ("99999999999999", DateTime::from_timestamp_millis(99_999_999_999_999)),
            ("100000000000000", DateTime::from_timestamp_micros(100_000_000_000_000)),
            ("99999999999999999", DateTime::from_timestamp_micros(99_999_999_999_999_999)),
            ("0", DateTime::from_timestamp(0, 0)),
        ];
        for (raw, want) in edges {
            assert_eq!(read_timestamp(raw).ok(), want, "{raw}");
        }
        assert!(read_timestamp("100000000000000000").is_err(), "10^17 fits no unit");
    }

    /// The window: nothing before Bedrock's general availability, nothing more than a day after the run's clock.
    #[test]
    fn timestamp_window() {
        let window = TimestampWindow::default();
        let now = DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z").unwrap().to_utc();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        let cases = [
            (
                "2023-09-27T23:59:59Z",
                Some(
                    "timestamp 2023-09-27T23:59:59Z is before 2023-09-28T00:00:00Z, the earliest accepted (Amazon Bedrock became generally available on 2023-09-28)",
                ),
            ),
            ("2023-09-28T00:00:00Z", None),
            ("2026-01-11T12:00:00Z", None),
            (
                "2026-01-11T12:00:01Z",
                Some(
                    "timestamp 2026-01-11T12:00:01Z is more than 24 hour(s) after this run's clock (2026-01-10T12:00:00Z)",
                ),
            ),
            (
                "9999-12-31T23:59:59Z",
                Some(
                    "timestamp 9999-12-31T23:59:59Z is more than 24 hour(s) after this run's clock (2026-01-10T12:00:00Z)",
                ),
            ),
            (
                "1970-01-01T00:00:00Z",
                Some(
                    "timestamp 1970-01-01T00:00:00Z is before 2023-09-28T00:00:00Z, the earliest accepted (Amazon Bedrock became generally available on 2023-09-28)",
                ),
            ),
        ];
        for (t, want) in cases {
            let got = window.check(at(t), now).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{t}");
        }
        let wide = TimestampWindow { earliest: at("1970-01-01T00:00:00Z"), max_ahead: chrono::TimeDelta::MAX };
        assert!(wide.check(at("9999-12-31T23:59:59Z"), now).is_ok(), "the window is configurable");
    }
}
