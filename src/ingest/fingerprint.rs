//! Prompt fingerprints: what prompt-cache analysis needs, without keeping any prompt text.
//!
//! `system_hash` covers the tools and the system prompt; `prefix_hash` covers tools + system + every message
//! before the last user turn, which is what a prompt-cache checkpoint could cover. Hashes are taken over a
//! whitespace-free form of the JSON, so the same prompt pretty-printed or compact hashes alike. Token sizes
//! are estimated by apportioning the record's logged input tokens (uncached + cache read + cache write) by
//! the share of string bytes each part holds, which tracks the real tokenizer far better than a bare chars/4.
//! Without logged tokens the estimate is `None`.

use serde::Deserialize;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::Xxh3;

/// Fingerprints of one request's prompt; `None` where the body has no such part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptFingerprint {
    pub system_hash: Option<String>,
    pub system_tokens_est: Option<i64>,
    pub prefix_hash: Option<String>,
    pub prefix_tokens_est: Option<i64>,
}

/// The prompt-shaped parts of a request body (Anthropic Messages, Converse, Nova, OpenAI-style chat).
#[derive(Debug, Default, Deserialize)]
struct InputBody<'a> {
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "toolConfig")]
    tool_config: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<Vec<&'a RawValue>>,
    /// Llama/Mistral `prompt`, Titan `inputText`: one opaque string with no structure to fingerprint.
    #[serde(borrow, default)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "inputText")]
    input_text: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct MessageRole<'a> {
    #[serde(borrow, default)]
    role: Option<std::borrow::Cow<'a, str>>,
}

/// Fingerprint an `inputBodyJson` span. `total_input_tokens` is the logged uncached + cache-read + cache-write
/// input, used to calibrate the size estimates.
pub fn fingerprint_input_body(raw: &str, total_input_tokens: Option<i64>) -> PromptFingerprint {
    let Ok(body) = serde_json::from_str::<InputBody>(raw) else {
        return PromptFingerprint::default();
    };
    let messages = body.messages.unwrap_or_default();
    let roles: Vec<Option<String>> = messages
        .iter()
        .map(|m| serde_json::from_str::<MessageRole>(m.get()).ok().and_then(|r| r.role).map(|r| r.into_owned()))
        .collect();
    // OpenAI-style bodies put the system prompt in leading `system`/`developer` messages.
    let leading_system = roles.iter().take_while(|r| matches!(r.as_deref(), Some("system" | "developer"))).count();
    let last_user = roles.iter().rposition(|r| r.as_deref() == Some("user"));

    let mut system_parts: Vec<&str> = Vec::new();
    for part in [body.tools, body.tool_config, body.system].into_iter().flatten() {
        push_content_parts(part, &mut system_parts);
    }
    system_parts.extend(messages[..leading_system].iter().map(|m| m.get()));

    let prefix_end = last_user.unwrap_or(0).max(leading_system);
    let prefix_messages: Vec<&str> = messages[leading_system..prefix_end].iter().map(|m| m.get()).collect();

    let system_len: usize = system_parts.iter().map(|p| string_bytes(p)).sum();
    let prefix_len: usize = system_len + prefix_messages.iter().map(|p| string_bytes(p)).sum::<usize>();
    let total_len: usize = system_len
        + messages[leading_system..].iter().map(|m| string_bytes(m.get())).sum::<usize>()
        + [body.prompt, body.input_text].into_iter().flatten().map(|p| string_bytes(p.get())).sum::<usize>();

    let estimate = |part_len: usize| -> Option<i64> {
        let total_tokens = total_input_tokens?;
        if total_len == 0 {
            return None;
        }
        // Integer apportioning, rounded half up: exact and reproducible across engines.
        let numerator = (total_tokens as i128) * (part_len as i128);
        Some(((2 * numerator + total_len as i128) / (2 * total_len as i128)) as i64)
    };

    let mut fp = PromptFingerprint::default();
    if !system_parts.is_empty() {
        fp.system_hash = Some(hash_parts(system_parts.iter().copied()));
        fp.system_tokens_est = estimate(system_len);
    }
    if !system_parts.is_empty() || !prefix_messages.is_empty() {
        fp.prefix_hash = Some(hash_parts(system_parts.iter().copied().chain(prefix_messages.iter().copied())));
        fp.prefix_tokens_est = estimate(prefix_len);
    }
    fp
}

/// Converse `cachePoint` blocks mark where a cache checkpoint goes; they are not prompt content. Leaving them
/// out makes the same system prompt hash alike whether or not the caller caches it, which is exactly the
/// comparison cache analysis needs. (Anthropic's inline `cache_control` keys are still hashed.)
fn push_content_parts<'a>(part: &'a RawValue, parts: &mut Vec<&'a str>) {
    #[derive(Deserialize)]
    struct CachePoint<'b> {
        #[serde(borrow, rename = "cachePoint")]
        cache_point: Option<&'b RawValue>,
    }
    let raw = part.get();
    if raw.trim_start().starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw)
    {
        for item in items {
            let is_cache_point = serde_json::from_str::<CachePoint>(item.get()).is_ok_and(|c| c.cache_point.is_some());
            if !is_cache_point && !is_empty_json(item.get()) {
                parts.push(item.get());
            }
        }
        return;
    }
    if !is_empty_json(raw) {
        parts.push(raw);
    }
}

fn is_empty_json(raw: &str) -> bool {
    matches!(raw.trim(), "null" | "[]" | "{}" | "\"\"")
}

/// Hash JSON parts with insignificant whitespace removed, separated so that part boundaries count.
fn hash_parts<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut hasher = Xxh3::new();
    for part in parts {
        feed_canonical(&mut hasher, part.as_bytes());
        hasher.update(&[0x1e]);
    }
    format!("{:032x}", hasher.digest128())
}

/// Feed JSON bytes to the hasher without whitespace outside strings.
fn feed_canonical(hasher: &mut Xxh3, json: &[u8]) {
    let mut in_string = false;
    let mut escaped = false;
    let mut run_start = 0;
    for (i, &b) in json.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            if run_start < i {
                hasher.update(&json[run_start..i]);
            }
            run_start = i + 1;
        }
    }
    if run_start < json.len() {
        hasher.update(&json[run_start..]);
    }
}

/// Bytes inside JSON strings (keys and values): a proxy for the text a tokenizer sees.
fn string_bytes(json: &str) -> usize {
    let bytes = json.as_bytes();
    let mut total = 0;
    let mut i = 0;
    while let Some(start) = memchr::memchr(b'"', &bytes[i..]) {
        let mut j = i + start + 1;
        loop {
            match memchr::memchr2(b'"', b'\\', &bytes[j..]) {
                Some(k) if bytes[j + k] == b'\\' => j += k + 2,
                Some(k) => {
                    total += (j + k) - (i + start + 1);
                    i = j + k + 1;
                    break;
                }
                None => return total,
            }
            if j >= bytes.len() {
                return total;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONVERSE: &str = r#"{"system":[{"text":"You are a support agent for Acme. Follow policy."}],"messages":[{"role":"user","content":[{"text":"hello"}]},{"role":"assistant","content":[{"text":"hi, how can I help"}]},{"role":"user","content":[{"text":"refund please"}]}],"inferenceConfig":{"maxTokens":512}}"#;

    #[test]
    fn same_prompt_pretty_or_compact_hashes_alike() {
        // Re-indent by hand: serde_json's pretty printer would also reorder keys.
        let pretty = CONVERSE
            .replace("{\"", "{\n    \"")
            .replace(",\"", ",\n  \"")
            .replace("\":", "\" : ")
            .replace("}]", "}\n]");
        assert_ne!(pretty, CONVERSE);
        let a = fingerprint_input_body(CONVERSE, Some(100));
        let b = fingerprint_input_body(&pretty, Some(100));
        assert!(a.system_hash.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn prefix_covers_messages_before_last_user_turn() {
        let fp = fingerprint_input_body(CONVERSE, Some(100));
        assert_ne!(fp.system_hash, fp.prefix_hash, "two earlier turns are in the prefix");
        let sys = fp.system_tokens_est.unwrap();
        let prefix = fp.prefix_tokens_est.unwrap();
        assert!(sys > 0 && sys < prefix && prefix < 100, "sys {sys} prefix {prefix}");

        // A different last user turn keeps both hashes; a different earlier turn changes only the prefix.
        let other_last = CONVERSE.replace("refund please", "where is my parcel");
        let fp2 = fingerprint_input_body(&other_last, Some(100));
        assert_eq!(fp.system_hash, fp2.system_hash);
        assert_eq!(fp.prefix_hash, fp2.prefix_hash);
        let other_history = CONVERSE.replace("hi, how can I help", "hello there");
        let fp3 = fingerprint_input_body(&other_history, Some(100));
        assert_eq!(fp.system_hash, fp3.system_hash);
        assert_ne!(fp.prefix_hash, fp3.prefix_hash);
    }

    #[test]
    fn cache_points_do_not_change_the_hash() {
        let cached = CONVERSE.replace(r#"Follow policy."}]"#, r#"Follow policy."},{"cachePoint":{"type":"default"}}]"#);
        assert_ne!(cached, CONVERSE);
        let a = fingerprint_input_body(CONVERSE, Some(100));
        let b = fingerprint_input_body(&cached, Some(100));
        assert_eq!(a.system_hash, b.system_hash);
        assert_eq!(a.prefix_hash, b.prefix_hash);
    }

    #[test]
    fn single_turn_without_system_has_no_fingerprint() {
        let body = r#"{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":5}"#;
        assert_eq!(fingerprint_input_body(body, Some(10)), PromptFingerprint::default());
        let llama = r#"{"prompt":"A test prompt","max_gen_len":512}"#;
        assert_eq!(fingerprint_input_body(llama, Some(4)), PromptFingerprint::default());
    }

    #[test]
    fn estimates_need_logged_tokens_and_are_calibrated() {
        let fp = fingerprint_input_body(CONVERSE, None);
        assert!(fp.system_hash.is_some());
        assert_eq!(fp.system_tokens_est, None);
        let big = fingerprint_input_body(CONVERSE, Some(10_000));
        let small = fingerprint_input_body(CONVERSE, Some(100));
        assert!(big.system_tokens_est.unwrap() > 50 * small.system_tokens_est.unwrap());
    }

    #[test]
    fn string_bytes_counts_inside_quotes_only() {
        assert_eq!(string_bytes(r#"{"a": "bc", "d": 1}"#), 4);
        assert_eq!(string_bytes(r#"["x\"y"]"#), 4);
        assert_eq!(string_bytes(r#""unterminated"#), 0);
    }
}
