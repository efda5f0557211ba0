//! Prompt fingerprints: what prompt-cache analysis needs, without keeping any prompt text.
//!
//! `system_hash` covers the tools and the system prompt; `prefix_hash` covers tools + system + every message
//! before the last user turn, which is what a prompt-cache checkpoint could cover. Hashes are taken over a
//! whitespace-free form of the JSON, so the same prompt pretty-printed or compact hashes alike. Token sizes
//! are estimated by apportioning the record's logged input tokens (uncached + cache read + cache write) by
//! the share of string bytes each part holds, which tracks the real tokenizer far better than a bare chars/4.
//! Without logged tokens the estimate is `None`.

use xxhash_rust::xxh3::Xxh3;

use super::json_scan::{array_items, object_fields, string_bytes, string_field, walk_strings};

/// Fingerprints of one request's prompt; `None` where the body has no such part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptFingerprint {
    pub system_hash: Option<String>,
    pub system_tokens_est: Option<i64>,
    pub prefix_hash: Option<String>,
    pub prefix_tokens_est: Option<i64>,
}

/// The prompt-shaped parts of a request body (Anthropic Messages, Converse, Nova, OpenAI-style chat), as raw
/// JSON spans of the body.
#[derive(Default)]
struct InputBody<'a> {
    system: Option<&'a [u8]>,
    tools: Option<&'a [u8]>,
    tool_config: Option<&'a [u8]>,
    messages: Option<&'a [u8]>,
    /// Llama/Mistral `prompt`, Titan `inputText`: one opaque string with no structure to fingerprint.
    prompt: Option<&'a [u8]>,
    input_text: Option<&'a [u8]>,
}

impl<'a> InputBody<'a> {
    fn read(raw: &'a [u8]) -> Self {
        let mut body = InputBody::default();
        for (key, value) in object_fields(raw) {
            // `null` is the same as absent, as it was for the serde reader this replaces.
            let value = (value != b"null").then_some(value);
            match key {
                b"system" => body.system = value,
                b"tools" => body.tools = value,
                b"toolConfig" => body.tool_config = value,
                b"messages" => body.messages = value,
                b"prompt" => body.prompt = value,
                b"inputText" => body.input_text = value,
                _ => {}
            }
        }
        body
    }
}

/// Fingerprint an `inputBodyJson` span (already validated as JSON by the record parser). `total_input_tokens`
/// is the logged uncached + cache-read + cache-write input, used to calibrate the size estimates.
pub fn fingerprint_input_body(raw: &str, total_input_tokens: Option<i64>) -> PromptFingerprint {
    let body = InputBody::read(raw.as_bytes());
    let messages: Vec<&[u8]> = body.messages.map(|m| array_items(m).collect()).unwrap_or_default();
    let roles: Vec<Option<std::borrow::Cow<str>>> = messages.iter().map(|m| string_field(m, "role")).collect();
    // OpenAI-style bodies put the system prompt in leading `system`/`developer` messages.
    let leading_system = roles.iter().take_while(|r| matches!(r.as_deref(), Some("system" | "developer"))).count();
    let last_user = roles.iter().rposition(|r| r.as_deref() == Some("user"));

    let mut system_parts: Vec<&[u8]> = Vec::new();
    for part in [body.tools, body.tool_config, body.system].into_iter().flatten() {
        push_content_parts(part, &mut system_parts);
    }
    system_parts.extend(&messages[..leading_system]);
    let prefix_end = last_user.unwrap_or(0).max(leading_system);
    let prefix_messages = &messages[leading_system..prefix_end];

    // One walk per hashed part feeds both hashes and counts its string bytes.
    let mut system_hasher = Xxh3::new();
    let mut prefix_hasher = Xxh3::new();
    let mut system_len = 0usize;
    for part in &system_parts {
        system_len += walk_strings(part, |piece| {
            system_hasher.update(piece);
            prefix_hasher.update(piece);
        });
        system_hasher.update(&[PART_SEPARATOR]);
        prefix_hasher.update(&[PART_SEPARATOR]);
    }
    let mut prefix_len = system_len;
    for part in prefix_messages {
        prefix_len += walk_strings(part, |piece| prefix_hasher.update(piece));
        prefix_hasher.update(&[PART_SEPARATOR]);
    }
    let total_len: usize = prefix_len
        + messages[prefix_end..].iter().map(|m| string_bytes(m)).sum::<usize>()
        + [body.prompt, body.input_text].into_iter().flatten().map(string_bytes).sum::<usize>();

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
        fp.system_hash = Some(hex128(system_hasher.digest128()));
        fp.system_tokens_est = estimate(system_len);
    }
    if !system_parts.is_empty() || !prefix_messages.is_empty() {
        fp.prefix_hash = Some(hex128(prefix_hasher.digest128()));
        fp.prefix_tokens_est = estimate(prefix_len);
    }
    fp
}

/// Separates hashed parts, so that part boundaries count.
const PART_SEPARATOR: u8 = 0x1e;

fn hex128(value: u128) -> String {
    format!("{value:032x}")
}

/// Converse `cachePoint` blocks mark where a cache checkpoint goes; they are not prompt content. Leaving them
/// out makes the same system prompt hash alike whether or not the caller caches it, which is exactly the
/// comparison cache analysis needs. (Anthropic's inline `cache_control` keys are still hashed.)
fn push_content_parts<'a>(part: &'a [u8], parts: &mut Vec<&'a [u8]>) {
    if part.first() == Some(&b'[') {
        for item in array_items(part) {
            let is_cache_point = object_fields(item).any(|(key, value)| key == b"cachePoint" && value != b"null");
            if !is_cache_point && !is_empty_json(item) {
                parts.push(item);
            }
        }
        return;
    }
    if !is_empty_json(part) {
        parts.push(part);
    }
}

fn is_empty_json(raw: &[u8]) -> bool {
    matches!(raw.trim_ascii(), b"null" | b"[]" | b"{}" | b"\"\"")
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
}
