//! Reads the few facts we keep from a response body (`output.outputBodyJson`): usage counts as a fallback for
//! missing top-level counts, stop reason, latency, guardrail action and the model the response names.
//!
//! Bodies are model-native (Anthropic, Converse, Llama, Titan, Nova, Mistral, Cohere, OpenAI-style...) and may be
//! an object or, for InvokeModelWithResponseStream, an array of stream chunks. Every known path is read
//! leniently: a body of an unexpected shape yields fewer facts, never a rejected record, because the body is
//! the model's business and the top-level counts are what Bedrock bills. Text content is skipped, not copied.
//! The facts are taken inside the record parser's validating walk ([`locate_output_body`]), so a body is crossed
//! once.

use std::borrow::Cow;

use serde::Deserialize;

use super::{loose_count, plain_integer, raw as span_text};
use crate::ingest::json::{Cursor, SyntaxError, array_items, object_fields, str_value, string_field, string_value};

/// Usage counts found in a body, all optional.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyUsage {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cache_read: Option<i64>,
    pub cache_write: Option<i64>,
    pub cache_write_1h: Option<i64>,
}

/// What a response body tells us.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyFacts<'a> {
    pub usage: BodyUsage,
    /// Borrowed from the record's text unless it held escapes, like the model below.
    pub stop_reason: Option<Cow<'a, str>>,
    pub latency_ms: Option<i64>,
    pub first_byte_latency_ms: Option<i64>,
    pub guardrail_intervened: bool,
    pub response_model: Option<Cow<'a, str>>,
    pub is_chunk_array: bool,
}

/// Every usage spelling seen across providers, in one lenient struct.
#[derive(Debug, Default, PartialEq, Deserialize)]
struct Usage {
    // Converse / Nova
    #[serde(default, rename = "inputTokens", deserialize_with = "loose_count")]
    input_tokens_camel: Option<i64>,
    #[serde(default, rename = "outputTokens", deserialize_with = "loose_count")]
    output_tokens_camel: Option<i64>,
    #[serde(default, rename = "cacheReadInputTokens", deserialize_with = "loose_count")]
    cache_read_camel: Option<i64>,
    #[serde(default, rename = "cacheWriteInputTokens", deserialize_with = "loose_count")]
    cache_write_camel: Option<i64>,
    #[serde(default, rename = "cacheReadInputTokenCount", deserialize_with = "loose_count")]
    cache_read_count: Option<i64>,
    #[serde(default, rename = "cacheWriteInputTokenCount", deserialize_with = "loose_count")]
    cache_write_count: Option<i64>,
    #[serde(default, rename = "cacheDetails")]
    cache_details: Option<Vec<CacheDetail>>,
    // Anthropic Messages
    #[serde(default, deserialize_with = "loose_count")]
    input_tokens: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    output_tokens: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    cache_read_input_tokens: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    cache_creation_input_tokens: Option<i64>,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    // OpenAI-compatible
    #[serde(default, deserialize_with = "loose_count")]
    prompt_tokens: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    completion_tokens: Option<i64>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct CacheDetail {
    #[serde(default, rename = "inputTokens", deserialize_with = "loose_count")]
    input_tokens: Option<i64>,
    #[serde(default)]
    ttl: Option<String>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
struct CacheCreation {
    #[serde(default, deserialize_with = "loose_count")]
    ephemeral_1h_input_tokens: Option<i64>,
}

impl CacheDetail {
    fn read_plain(raw: &[u8]) -> Option<CacheDetail> {
        let mut detail = CacheDetail::default();
        plain_object(raw, |key, value| {
            Some(match key {
                b"inputTokens" => {
                    detail.input_tokens = plain_count(value)?;
                    Member::Known(0)
                }
                b"ttl" => {
                    detail.ttl = plain_text(value)?;
                    Member::Known(1)
                }
                _ => Member::Unknown,
            })
        })?;
        Some(detail)
    }
}

impl CacheCreation {
    fn read_plain(raw: &[u8]) -> Option<CacheCreation> {
        let ephemeral_1h_input_tokens = plain_lone_count(raw, b"ephemeral_1h_input_tokens")?;
        Some(CacheCreation { ephemeral_1h_input_tokens })
    }
}

impl Usage {
    /// The common shapes without serde (see [`parse_plain`]): counts plain, `cacheDetails` a list of objects with
    /// a plain count and a plain `ttl`, `cache_creation` an object of plain counts.
    fn read_plain(raw: &[u8]) -> Option<Usage> {
        let mut usage = Usage::default();
        plain_object(raw, |key, value| {
            let (number, slot) = match key {
                b"inputTokens" => (0, &mut usage.input_tokens_camel),
                b"outputTokens" => (1, &mut usage.output_tokens_camel),
                b"cacheReadInputTokens" => (2, &mut usage.cache_read_camel),
                b"cacheWriteInputTokens" => (3, &mut usage.cache_write_camel),
                b"cacheReadInputTokenCount" => (4, &mut usage.cache_read_count),
                b"cacheWriteInputTokenCount" => (5, &mut usage.cache_write_count),
                b"input_tokens" => (6, &mut usage.input_tokens),
                b"output_tokens" => (7, &mut usage.output_tokens),
                b"cache_read_input_tokens" => (8, &mut usage.cache_read_input_tokens),
                b"cache_creation_input_tokens" => (9, &mut usage.cache_creation_input_tokens),
                b"prompt_tokens" => (10, &mut usage.prompt_tokens),
                b"completion_tokens" => (11, &mut usage.completion_tokens),
                b"cacheDetails" => {
                    usage.cache_details = match value {
                        b"null" => None,
                        list if list.first() == Some(&b'[') => {
                            Some(array_items(list).map(CacheDetail::read_plain).collect::<Option<Vec<_>>>()?)
                        }
                        _ => return None,
                    };
                    return Some(Member::Known(12));
                }
                b"cache_creation" => {
                    usage.cache_creation = match value {
                        b"null" => None,
                        object => Some(CacheCreation::read_plain(object)?),
                    };
                    return Some(Member::Known(13));
                }
                _ => return Some(Member::Unknown),
            };
            *slot = plain_count(value)?;
            Some(Member::Known(number))
        })?;
        Some(usage)
    }

    fn to_body_usage(&self) -> BodyUsage {
        let cache_write_1h = if let Some(details) = &self.cache_details {
            // Converse `cacheDetails`: the split by TTL, present means known (an empty list is "no write").
            Some(details.iter().filter(|d| d.ttl.as_deref() == Some("1h")).filter_map(|d| d.input_tokens).sum())
        } else {
            self.cache_creation.as_ref().and_then(|c| c.ephemeral_1h_input_tokens)
        };
        BodyUsage {
            input: self.input_tokens_camel.or(self.input_tokens).or(self.prompt_tokens),
            output: self.output_tokens_camel.or(self.output_tokens).or(self.completion_tokens),
            cache_read: self.cache_read_camel.or(self.cache_read_count).or(self.cache_read_input_tokens),
            cache_write: self.cache_write_camel.or(self.cache_write_count).or(self.cache_creation_input_tokens),
            cache_write_1h,
        }
    }
}

/// `amazon-bedrock-invocationMetrics` on the last stream chunk.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvocationMetrics {
    #[serde(default, deserialize_with = "loose_count")]
    input_token_count: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    output_token_count: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    cache_read_input_token_count: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    cache_write_input_token_count: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    invocation_latency: Option<i64>,
    #[serde(default, deserialize_with = "loose_count")]
    first_byte_latency: Option<i64>,
}

impl InvocationMetrics {
    fn read_plain(raw: &[u8]) -> Option<InvocationMetrics> {
        let mut m = InvocationMetrics::default();
        plain_object(raw, |key, value| {
            let (number, slot) = match key {
                b"inputTokenCount" => (0, &mut m.input_token_count),
                b"outputTokenCount" => (1, &mut m.output_token_count),
                b"cacheReadInputTokenCount" => (2, &mut m.cache_read_input_token_count),
                b"cacheWriteInputTokenCount" => (3, &mut m.cache_write_input_token_count),
                b"invocationLatency" => (4, &mut m.invocation_latency),
                b"firstByteLatency" => (5, &mut m.first_byte_latency),
                _ => return Some(Member::Unknown),
            };
            *slot = plain_count(value)?;
            Some(Member::Known(number))
        })?;
        Some(m)
    }
}

/// Anthropic stream `message_start.message`: usage and the model that answered.
#[derive(Debug, Default, PartialEq, Deserialize)]
struct Message {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    model: Option<String>,
}

impl Message {
    fn read_plain(raw: &[u8]) -> Option<Message> {
        let mut message = Message::default();
        plain_object(raw, |key, value| {
            Some(match key {
                b"usage" => {
                    message.usage = if value == b"null" { None } else { Some(Usage::read_plain(value)?) };
                    Member::Known(0)
                }
                b"model" => {
                    message.model = plain_text(value)?;
                    Member::Known(1)
                }
                _ => Member::Unknown,
            })
        })?;
        Some(message)
    }
}

/// Converse `metrics`.
#[derive(Debug, Default, PartialEq, Deserialize)]
struct Metrics {
    #[serde(default, rename = "latencyMs", deserialize_with = "loose_count")]
    latency_ms: Option<i64>,
}

impl Metrics {
    fn read_plain(raw: &[u8]) -> Option<Metrics> {
        Some(Metrics { latency_ms: plain_lone_count(raw, b"latencyMs")? })
    }
}

/// A body object or stream chunk. Fields whose shape varies by provider are raw spans, read on demand.
#[derive(Debug, Default, PartialEq)]
struct BodyObject<'a> {
    usage: Option<&'a str>,
    model: Option<&'a str>,
    stop_reason: Option<&'a str>,
    stop_reason_camel: Option<&'a str>,
    completion_reason: Option<&'a str>,
    metrics: Option<&'a str>,
    invocation_metrics: Option<&'a str>,
    guardrail_action: Option<&'a str>,
    /// Anthropic stream: `message_start.message` carries usage and model.
    message: Option<&'a str>,
    /// Anthropic stream: `message_delta.delta.stop_reason` (the first in its `delta`). Taken while the walk
    /// crosses the `delta` object, because most stream chunks' deltas are generated text that a second scan
    /// for the key would cross again.
    delta_stop_reason: Option<&'a str>,
    // Llama
    prompt_token_count: Option<&'a str>,
    generation_token_count: Option<&'a str>,
    // Titan
    input_text_token_count: Option<&'a str>,
    total_output_text_token_count: Option<&'a str>,
    results: Option<&'a str>,
    // Mistral `outputs[].stop_reason`, OpenAI `choices[].finish_reason`, Cohere `generations[].finish_reason`
    outputs: Option<&'a str>,
    choices: Option<&'a str>,
    generations: Option<&'a str>,
}

impl<'a> BodyObject<'a> {
    /// Where the value of `key` goes, for the keys we read.
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<&'a str>> {
        Some(match key {
            b"usage" => &mut self.usage,
            b"model" => &mut self.model,
            b"stop_reason" => &mut self.stop_reason,
            b"stopReason" => &mut self.stop_reason_camel,
            b"completionReason" => &mut self.completion_reason,
            b"metrics" => &mut self.metrics,
            b"amazon-bedrock-invocationMetrics" => &mut self.invocation_metrics,
            b"amazon-bedrock-guardrailAction" => &mut self.guardrail_action,
            b"message" => &mut self.message,
            b"prompt_token_count" => &mut self.prompt_token_count,
            b"generation_token_count" => &mut self.generation_token_count,
            b"inputTextTokenCount" => &mut self.input_text_token_count,
            b"totalOutputTextTokenCount" => &mut self.total_output_text_token_count,
            b"results" => &mut self.results,
            b"outputs" => &mut self.outputs,
            b"choices" => &mut self.choices,
            b"generations" => &mut self.generations,
            _ => return None,
        })
    }

    /// The fields we read from the object at `cursor`, taken while the cursor validates it; spans of `text`.
    fn locate(text: &'a str, cursor: &mut Cursor<'a>) -> Result<Self, SyntaxError> {
        let mut obj = BodyObject::default();
        cursor.object(|key, c| -> Result<(), SyntaxError> {
            if key == b"delta" {
                // A later `delta` replaces an earlier one, as any other repeated key does.
                obj.delta_stop_reason = c.first_member(b"stop_reason")?.and_then(|v| span_text(text, v));
                return Ok(());
            }
            let value = c.value()?;
            if let Some(slot) = obj.slot(key) {
                *slot = span_text(text, value);
            }
            Ok(())
        })?;
        Ok(obj)
    }
}

fn parse<'a, T: Deserialize<'a>>(raw: Option<&'a str>) -> Option<T> {
    raw.and_then(|r| serde_json::from_str(r).ok())
}

/// [`parse`], with `plain` tried first. Most body fields we read are small objects of integers (usage, metrics),
/// and serde's derived visitors were the largest cost of reading a body's facts. `plain` answers only shapes it
/// reads exactly as serde would and returns `None` for anything else, which serde then reads (or refuses) as
/// before; a differential test holds the two to the same results.
fn parse_plain<'a, T: Deserialize<'a>>(raw: Option<&'a str>, plain: impl FnOnce(&'a [u8]) -> Option<T>) -> Option<T> {
    let raw = raw?;
    plain(raw.as_bytes()).or_else(|| serde_json::from_str(raw).ok())
}

/// A count written as a plain JSON integer (at most 18 digits, so it fits an i64) or `null`: `Some(count)`, as
/// [`loose_count`] reads it. `None` for any other value (floats, numeric strings, anything else), which is left
/// to [`loose_count`] itself.
fn plain_count(value: &[u8]) -> Option<Option<i64>> {
    if value == b"null" { Some(None) } else { plain_integer(value).map(Some) }
}

/// A string, or `null`, as serde reads it into an `Option<String>`; `None` for anything else.
fn plain_text(value: &[u8]) -> Option<Option<String>> {
    if value == b"null" { Some(None) } else { string_value(value).map(|t| Some(t.into_owned())) }
}

/// What a plain reader made of one member of an object.
enum Member {
    /// A field it reads (numbered below 32, for spotting repeats), whose value it took.
    Known(u32),
    /// A field it does not read.
    Unknown,
}

/// Walk an object for a plain reader, which takes each member's value with `member`. Gives up (`None`, for serde
/// to read the object) when `raw` is not an object, when `member` gives up on a value, when a known field comes
/// twice (serde refuses a struct with a field twice), or when an unknown key holds an escape (it might spell a
/// known name).
fn plain_object<'v>(raw: &'v [u8], mut member: impl FnMut(&[u8], &'v [u8]) -> Option<Member>) -> Option<()> {
    if raw.first() != Some(&b'{') {
        return None;
    }
    let mut seen = 0u32;
    for (key, value) in object_fields(raw) {
        match member(key, value)? {
            Member::Known(number) => {
                if seen & (1 << number) != 0 {
                    return None;
                }
                seen |= 1 << number;
            }
            Member::Unknown if key.contains(&b'\\') => return None,
            Member::Unknown => {}
        }
    }
    Some(())
}

/// The plain reader of an object with one field read, a count named `name` (`Some(None)` when it is absent).
fn plain_lone_count(raw: &[u8], name: &[u8]) -> Option<Option<i64>> {
    let mut count = None;
    plain_object(raw, |key, value| {
        if key != name {
            return Some(Member::Unknown);
        }
        count = plain_count(value)?;
        Some(Member::Known(0))
    })?;
    Some(count)
}

fn count(raw: Option<&str>) -> Option<i64> {
    #[derive(Deserialize)]
    struct C(#[serde(deserialize_with = "loose_count")] Option<i64>);
    parse_plain::<C>(raw, |v| plain_count(v).map(C)).and_then(|c| c.0)
}

/// A string value, unescaped; `None` for `null` and for anything that is not a string (as serde reading an
/// `Option<String>` would refuse it).
fn text(raw: Option<&str>) -> Option<Cow<'_, str>> {
    str_value(raw?)
}

/// The first element's `key` of an array of objects (`results[0].completionReason` and the like).
fn first_text<'a>(raw: Option<&'a str>, key: &str) -> Option<Cow<'a, str>> {
    let first = array_items(raw?.as_bytes()).next()?;
    string_field(first, key)
}

/// Read the facts we keep from the `outputBodyJson` value at `cursor` (a span of `text`) in the same walk that
/// validates it, so the body is crossed once; fails only when the value is not JSON. Never fails on shape:
/// unknown shapes give empty facts.
pub fn locate_output_body<'a>(text: &'a str, cursor: &mut Cursor<'a>) -> Result<BodyFacts<'a>, SyntaxError> {
    let mut facts = BodyFacts::default();
    match cursor.peek() {
        Some(b'{') => {
            let obj = BodyObject::locate(text, cursor)?;
            absorb(&mut facts, &obj, false);
        }
        Some(b'[') => {
            facts.is_chunk_array = true;
            cursor.array(|c| -> Result<(), SyntaxError> {
                if c.peek() == Some(b'{') {
                    let obj = BodyObject::locate(text, c)?;
                    absorb(&mut facts, &obj, true);
                } else {
                    c.value()?;
                }
                Ok(())
            })?;
        }
        _ => {
            cursor.value()?;
        }
    }
    Ok(facts)
}

/// Fold one body object (or stream chunk) into the facts. For streams later chunks win for output counts,
/// because Anthropic's `message_delta` usage is cumulative and the metrics chunk comes last.
fn absorb<'a>(facts: &mut BodyFacts<'a>, obj: &BodyObject<'a>, chunk: bool) {
    // Most stream chunks carry generated text and none of the fields read here; folding them in changes nothing.
    if *obj == BodyObject::default() {
        return;
    }
    let mut found = BodyUsage::default();
    if let Some(usage) = parse_plain(obj.usage, Usage::read_plain) {
        found = usage.to_body_usage();
    }
    if let Some(message) = parse_plain(obj.message, Message::read_plain) {
        if let Some(usage) = message.usage {
            let u = usage.to_body_usage();
            found = merge(found, u);
        }
        if message.model.is_some() {
            facts.response_model = message.model.map(Cow::Owned);
        }
    }
    if let Some(m) = parse_plain(obj.invocation_metrics, InvocationMetrics::read_plain) {
        // Bedrock's own metrics are authoritative over provider usage inside the same stream.
        let metric_usage = BodyUsage {
            input: m.input_token_count,
            output: m.output_token_count,
            cache_read: m.cache_read_input_token_count,
            cache_write: m.cache_write_input_token_count,
            cache_write_1h: None,
        };
        found = merge(metric_usage, found);
        facts.latency_ms = m.invocation_latency.or(facts.latency_ms);
        facts.first_byte_latency_ms = m.first_byte_latency.or(facts.first_byte_latency_ms);
    }
    // Llama / Titan native counts.
    found.input = found.input.or(count(obj.prompt_token_count)).or(count(obj.input_text_token_count));
    found.output = found.output.or(count(obj.generation_token_count)).or(count(obj.total_output_text_token_count));
    if found.output.is_none() && obj.results.is_some() {
        #[derive(Deserialize)]
        struct TitanResult {
            #[serde(default, rename = "tokenCount", deserialize_with = "loose_count")]
            token_count: Option<i64>,
        }
        if let Some(results) = parse::<Vec<TitanResult>>(obj.results) {
            let counts: Vec<i64> = results.iter().filter_map(|r| r.token_count).collect();
            if !counts.is_empty() {
                found.output = Some(counts.iter().sum());
            }
        }
    }

    facts.usage = if chunk { merge(found, facts.usage.clone()) } else { merge(facts.usage.clone(), found) };

    if let Some(latency) = parse_plain(obj.metrics, Metrics::read_plain).and_then(|m| m.latency_ms) {
        facts.latency_ms = Some(latency);
    }
    let stop = text(obj.stop_reason_camel)
        .or_else(|| text(obj.stop_reason))
        .or_else(|| text(obj.delta_stop_reason))
        .or_else(|| text(obj.completion_reason))
        .or_else(|| first_text(obj.results, "completionReason"))
        .or_else(|| first_text(obj.outputs, "stop_reason"))
        .or_else(|| first_text(obj.choices, "finish_reason"))
        .or_else(|| first_text(obj.generations, "finish_reason"));
    if stop.is_some() {
        facts.stop_reason = stop;
    }
    if let Some(model) = text(obj.model) {
        facts.response_model = Some(model);
    }
    let intervened_action = text(obj.guardrail_action).is_some_and(|a| a.eq_ignore_ascii_case("INTERVENED"));
    let intervened_stop = facts.stop_reason.as_deref() == Some("guardrail_intervened");
    facts.guardrail_intervened |= intervened_action || intervened_stop;
}

/// Field-wise `a.or(b)`.
fn merge(a: BodyUsage, b: BodyUsage) -> BodyUsage {
    BodyUsage {
        input: a.input.or(b.input),
        output: a.output.or(b.output),
        cache_read: a.cache_read.or(b.cache_read),
        cache_write: a.cache_write.or(b.cache_write),
        cache_write_1h: a.cache_write_1h.or(b.cache_write_1h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(
        input: Option<i64>,
        output: Option<i64>,
        read: Option<i64>,
        write: Option<i64>,
        w1h: Option<i64>,
    ) -> BodyUsage {
        BodyUsage { input, output, cache_read: read, cache_write: write, cache_write_1h: w1h }
    }

    #[test]
    fn body_shapes() {
        type Case<'a> = (&'a str, &'a str, BodyUsage, Option<&'a str>, Option<i64>, bool);
        let cases: &[Case] = &[
            (
                "converse with cache details",
                r#"{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":52,"totalTokens":24534,"cacheReadInputTokens":0,"cacheWriteInputTokens":24479,"cacheDetails":[{"inputTokens":20000,"ttl":"1h"},{"inputTokens":4479,"ttl":"5m"}]},"metrics":{"latencyMs":1234}}"#,
                usage(Some(3), Some(52), Some(0), Some(24479), Some(20000)),
                Some("end_turn"),
                Some(1234),
                false,
            ),
            (
                "converse blocked on input",
                r#"{"output":{"message":{"content":[{"text":"blocked"}]}},"stopReason":"guardrail_intervened","usage":{"inputTokens":0,"outputTokens":0,"totalTokens":0}}"#,
                usage(Some(0), Some(0), None, None, None),
                Some("guardrail_intervened"),
                None,
                true,
            ),
            (
                "anthropic messages with 1h cache split",
                r#"{"id":"msg_bdrk_1","model":"claude-sonnet-4-20250514","stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":20,"cache_read_input_tokens":300,"cache_creation_input_tokens":40,"cache_creation":{"ephemeral_5m_input_tokens":15,"ephemeral_1h_input_tokens":25}}}"#,
                usage(Some(10), Some(20), Some(300), Some(40), Some(25)),
                Some("end_turn"),
                None,
                false,
            ),
            (
                "llama",
                r#"{"generation":"text","prompt_token_count":4,"generation_token_count":160,"stop_reason":"stop"}"#,
                usage(Some(4), Some(160), None, None, None),
                Some("stop"),
                None,
                false,
            ),
            (
                "titan invoke",
                r#"{"inputTextTokenCount":12,"results":[{"tokenCount":30,"outputText":"x","completionReason":"FINISH"}]}"#,
                usage(Some(12), Some(30), None, None, None),
                Some("FINISH"),
                None,
                false,
            ),
            (
                "anthropic stream chunks",
                r#"[{"type":"message_start","message":{"model":"claude-3-haiku-48k-20240307","usage":{"input_tokens":571,"output_tokens":1}}},{"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}},{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":281}},{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":571,"outputTokenCount":281,"invocationLatency":3848,"firstByteLatency":509}}]"#,
                usage(Some(571), Some(281), None, None, None),
                Some("end_turn"),
                Some(3848),
                false,
            ),
            (
                "anthropic stream without metrics chunk",
                r#"[{"type":"message_start","message":{"usage":{"input_tokens":50,"output_tokens":1,"cache_read_input_tokens":7}}},{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":99}}]"#,
                usage(Some(50), Some(99), Some(7), None, None),
                Some("max_tokens"),
                None,
                false,
            ),
            (
                "stream deltas: a key's name inside text is text; the first stop_reason of a delta counts",
                r#"[{"type":"content_block_delta","delta":{"type":"text_delta","text":"say \"stop_reason\":\"x\" {"}},{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_reason":"later"},"usage":{"output_tokens":5}},{"type":"content_block_delta","delta":"not an object"}]"#,
                usage(None, Some(5), None, None, None),
                Some("end_turn"),
                None,
                false,
            ),
            (
                "guardrail intervened invoke",
                r#"{"type":"message","content":[{"type":"text","text":"Sorry"}],"amazon-bedrock-guardrailAction":"INTERVENED"}"#,
                usage(None, None, None, None, None),
                None,
                None,
                true,
            ),
            (
                "unexpected shapes",
                r#"{"usage":"lots","message":"hello","stop_reason":7}"#,
                usage(None, None, None, None, None),
                None,
                None,
                false,
            ),
            ("not json object", r#""just a string""#, usage(None, None, None, None, None), None, None, false),
        ];
        for (name, body, want_usage, want_stop, want_latency, want_guard) in cases {
            let mut cursor = Cursor::new(body.as_bytes());
            let facts = locate_output_body(body, &mut cursor).expect("valid JSON");
            assert_eq!(cursor.end(), Ok(()), "the whole body is walked, case {name}");
            assert_eq!(&facts.usage, want_usage, "usage, case {name}");
            assert_eq!(facts.stop_reason.as_deref(), *want_stop, "stop reason, case {name}");
            assert_eq!(facts.latency_ms, *want_latency, "latency, case {name}");
            assert_eq!(facts.guardrail_intervened, *want_guard, "guardrail, case {name}");
        }
    }

    /// Objects built from the keys and values that matter (known keys, unknown ones, an escaped spelling of a
    /// known one, repeats; integers, null, floats, numeric strings, huge numbers, other types), pseudo-randomly
    /// but the same every run.
    fn objects(keys: &[&str], values: &[&str], count: usize) -> Vec<String> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        (0..count)
            .map(|_| {
                let fields: Vec<String> = (0..next(6))
                    .map(|_| format!("{}:{}", keys[next(keys.len())], values[next(values.len())]))
                    .collect();
                format!("{{{}}}", fields.join(","))
            })
            .collect()
    }

    /// Hold a plain reader to serde on every object: where it answers, serde must answer the same. Returns how
    /// many it answered, so a test can check the plain path is taken at all.
    fn agree_with_serde<T>(texts: &[String], plain: fn(&[u8]) -> Option<T>) -> usize
    where
        T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let mut answered = 0;
        for text in texts {
            assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "the test writes JSON: {text}");
            if let Some(fast) = plain(text.as_bytes()) {
                assert_eq!(Some(&fast), serde_json::from_str::<T>(text).ok().as_ref(), "{text}");
                answered += 1;
            }
        }
        answered
    }

    const COUNT_VALUES: &[&str] =
        &["5", "-3", "0", "null", "1.0", "2.5", "\"12\"", "123456789012345678901", "{}", "[]", "true", "\"x\""];

    #[test]
    fn plain_readers_agree_with_serde() {
        let mut usage_keys = vec![
            "\"inputTokens\"",
            "\"outputTokens\"",
            "\"cacheReadInputTokens\"",
            "\"cacheWriteInputTokens\"",
            "\"cacheReadInputTokenCount\"",
            "\"cacheWriteInputTokenCount\"",
            "\"input_tokens\"",
            "\"output_tokens\"",
            "\"cache_read_input_tokens\"",
            "\"cache_creation_input_tokens\"",
            "\"prompt_tokens\"",
            "\"completion_tokens\"",
            "\"totalTokens\"",
            "\"input\\u005ftokens\"",
        ];
        let usages = objects(&usage_keys, COUNT_VALUES, 4000);
        let answered = agree_with_serde(&usages, Usage::read_plain);
        assert!(answered > usages.len() / 4, "plain path answered only {answered} of {}", usages.len());

        usage_keys.extend(["\"cacheDetails\"", "\"cache_creation\""]);
        let nested_values = [
            "5",
            "null",
            "[]",
            "[{\"inputTokens\":20,\"ttl\":\"1h\"},{\"inputTokens\":4,\"ttl\":\"5m\"}]",
            "[{\"inputTokens\":\"20\",\"ttl\":\"1h\"}]",
            "[{\"inputTokens\":1,\"inputTokens\":2}]",
            "[{\"ttl\":5}]",
            "[{\"ttl\":\"1\\u0068\"}]",
            "[1]",
            "{\"ephemeral_1h_input_tokens\":25,\"ephemeral_5m_input_tokens\":15}",
            "{\"ephemeral_1h_input_tokens\":null}",
            "{\"ephemeral_1h_input_tokens\":1.0}",
            "{\"ephemeral_1h_input_tokens\":1,\"ephemeral_1h_input_tokens\":2}",
            "{}",
            "\"x\"",
        ];
        let nested = objects(&usage_keys, &nested_values, 4000);
        assert!(agree_with_serde(&nested, Usage::read_plain) > nested.len() / 10);

        let metric_keys = [
            "\"inputTokenCount\"",
            "\"outputTokenCount\"",
            "\"cacheReadInputTokenCount\"",
            "\"cacheWriteInputTokenCount\"",
            "\"invocationLatency\"",
            "\"firstByteLatency\"",
            "\"other\"",
            "\"invocation\\u004catency\"",
        ];
        let metrics = objects(&metric_keys, COUNT_VALUES, 3000);
        assert!(agree_with_serde(&metrics, InvocationMetrics::read_plain) > metrics.len() / 4);
        let latencies = objects(&["\"latencyMs\"", "\"other\""], COUNT_VALUES, 500);
        assert!(agree_with_serde(&latencies, Metrics::read_plain) > latencies.len() / 4);

        let message_values = [
            "null",
            "\"claude-3-haiku\"",
            "\"claude\\u002d3\"",
            "5",
            "{\"input_tokens\":571,\"output_tokens\":1}",
            "{\"input_tokens\":\"571\"}",
            "{\"input_tokens\":1,\"input_tokens\":2}",
            "[]",
        ];
        let messages = objects(&["\"usage\"", "\"model\"", "\"id\"", "\"mod\\u0065l\""], &message_values, 3000);
        assert!(agree_with_serde(&messages, Message::read_plain) > messages.len() / 4);

        // The shapes Bedrock writes are all read plain.
        for common in [
            r#"{"input_tokens":90,"output_tokens":1}"#,
            r#"{"inputTokens":3,"outputTokens":52,"totalTokens":24534,"cacheReadInputTokens":0,"cacheWriteInputTokens":24479,"cacheDetails":[{"inputTokens":20000,"ttl":"1h"}]}"#,
            r#"{"input_tokens":10,"output_tokens":20,"cache_read_input_tokens":300,"cache_creation_input_tokens":40,"cache_creation":{"ephemeral_5m_input_tokens":15,"ephemeral_1h_input_tokens":25}}"#,
        ] {
            assert!(Usage::read_plain(common.as_bytes()).is_some(), "{common}");
        }
        assert!(
            Message::read_plain(
                br#"{"model":"claude-3-7-sonnet-20250219","usage":{"input_tokens":90,"output_tokens":1}}"#
            )
            .is_some()
        );

        // Counts and texts on their own.
        for value in COUNT_VALUES {
            #[derive(Deserialize)]
            struct C(#[serde(deserialize_with = "loose_count")] Option<i64>);
            let serde = serde_json::from_str::<C>(value).ok().and_then(|c| c.0);
            if let Some(plain) = plain_count(value.as_bytes()) {
                assert_eq!(plain, serde, "{value}");
            }
            assert_eq!(count(Some(value)), serde, "{value}");
        }
        for value in ["null", "\"end_turn\"", "\"a\\\"b\"", "7", "[]", "\"\\u00e9\""] {
            let serde = serde_json::from_str::<Option<Cow<str>>>(value).ok().flatten().map(Cow::into_owned);
            assert_eq!(text(Some(value)).map(Cow::into_owned), serde, "{value}");
            if let Some(plain) = plain_text(value.as_bytes()) {
                assert_eq!(plain, serde, "{value}");
            }
        }
    }

    #[test]
    fn located_bodies_are_validated() {
        for broken in [r#"{"usage":"#, r#"[{"stopReason":"x"},]"#, r#"{"usage":{"inputTokens":01}}"#, "[1 2]"] {
            let mut cursor = Cursor::new(broken.as_bytes());
            let result = locate_output_body(broken, &mut cursor).and_then(|_| cursor.end());
            assert!(result.is_err(), "{broken} is not JSON");
        }
    }
}
