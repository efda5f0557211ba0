//! The row of the `invocations` table as Rust values: [`Invocation`] and the value types its fields hold. Ingest
//! fills it (`ingest::record` reads the wire format into it, `ingest::record::fingerprint` computes its
//! [`PromptFingerprint`]); [`super::batch`] appends it to Arrow builders. It lives in `store` because the table
//! is the store's: the row type belongs with the schema it is written to, and the layers above import it from
//! here. Values only: no parsing, no I/O.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::model_id::ModelRef;

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
    pub account_id: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub inference_region: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub model_id: Option<Cow<'a, str>>,
    pub model: std::rc::Rc<ModelRef>,
    pub identity_arn: Option<Cow<'a, str>>,
    pub principal: Option<Cow<'a, str>>,
    pub request_metadata: Option<StringMap<'a>>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cache_write_1h_tokens: Option<i64>,
    pub token_source: TokenSource,
    pub streaming: Option<bool>,
    pub stop_reason: Option<Cow<'a, str>>,
    pub latency_ms: Option<i64>,
    pub first_byte_latency_ms: Option<i64>,
    pub guardrail_intervened: Option<bool>,
    pub error_code: Option<Cow<'a, str>>,
    pub input_bytes: Option<i64>,
    pub output_bytes: Option<i64>,
    pub input_body_s3_path: Option<Cow<'a, str>>,
    pub output_body_s3_path: Option<Cow<'a, str>>,
    pub response_model: Option<Cow<'a, str>>,
    pub performance_latency: Option<Cow<'a, str>>,
    pub schema_version: Option<Cow<'a, str>>,
    pub fingerprint: PromptFingerprint,
    /// The service tier the record names (`default`, `flex`, `priority`, `reserved`), as written; `None` where it
    /// names none, and cost then assumes Standard.
    pub service_tier: Option<Cow<'a, str>>,
}

/// `requestMetadata` entries, sorted by key, each key once (the last one written wins, as in a map); borrowed
/// from the record where they hold no escapes. A `Vec` rather than a map: a record has a handful, and two heap
/// strings plus a tree node per entry showed in the ingest profile.
pub type StringMap<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Fingerprints of one request's prompt; `None` where the body has no such part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptFingerprint {
    pub system_hash: Option<HexHash>,
    pub system_tokens_est: Option<i64>,
    pub prefix_hash: Option<HexHash>,
    pub prefix_tokens_est: Option<i64>,
}

/// A 128-bit hash as the 32 lowercase hex digits stored in the warehouse, held inline: two per row, so a heap
/// string each (and `fmt`'s general hex path) showed in the ingest profile.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexHash([u8; 32]);

impl HexHash {
    /// The hex digits of `value`, most significant first.
    pub fn new(value: u128) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 32];
        for (i, digit) in digits.iter_mut().enumerate() {
            *digit = DIGITS[((value >> (124 - 4 * i)) & 0xf) as usize];
        }
        HexHash(digits)
    }

    /// The 32 digits as text.
    pub fn as_str(&self) -> &str {
        // SAFETY: the only constructor, `new`, fills every byte from `DIGITS`, which are ASCII, so the bytes are
        // valid UTF-8. (The checked conversion was 0.5% of ingest instructions, two per row.)
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl std::fmt::Debug for HexHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_hash_is_the_zero_padded_lowercase_hex_of_the_value() {
        for value in [0u128, 1, 0xabc, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, 1 << 127] {
            assert_eq!(HexHash::new(value).as_str(), format!("{value:032x}"));
        }
    }
}
