//! Prompt fingerprints: what prompt-cache analysis needs, without keeping any prompt text.
//!
//! `system_hash` covers the tools and the system prompt; `prefix_hash` covers tools + system + every message
//! before the last user turn, which is what a prompt-cache checkpoint could cover. Hashes are taken over a
//! whitespace-free form of the JSON, so the same prompt pretty-printed or compact hashes alike. Token sizes
//! are estimated by apportioning the record's logged input tokens (uncached + cache read + cache write) by
//! the share of string bytes each part holds, which tracks the real tokenizer far better than a bare chars/4.
//! Without logged tokens the estimate is `None`.
//!
//! The computation lives here, in ingest; the values it produces ([`PromptFingerprint`], [`HexHash`]) are
//! columns of the row, so their types are the store's ([`crate::store::row`]).

use xxhash_rust::xxh3::Xxh3;

use crate::ingest::json::{
    Cursor, SyntaxError, array_items, object_fields, string_bytes, string_field, string_value, walk_strings,
};
use crate::store::row::{HexHash, PromptFingerprint};

/// The prompt-shaped parts of a request body (Anthropic Messages, Converse, Nova, OpenAI-style chat), as raw
/// JSON spans of the body, with what fingerprinting needs of each message already read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputParts<'a> {
    system: Option<Part<'a>>,
    tools: Option<Part<'a>>,
    tool_config: Option<Part<'a>>,
    messages: Vec<Message<'a>>,
    /// Bytes inside the strings of Llama/Mistral `prompt` and Titan `inputText`: one opaque text with no
    /// structure to fingerprint, but part of the prompt's size.
    loose_string_bytes: usize,
}

/// `system`, `tools` or `toolConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part<'a> {
    raw: &'a [u8],
    /// The bytes inside its strings, when the validating walk crossed it and met no whitespace outside strings:
    /// the text is then already the whitespace-free form hashes are taken over, and is hashed as it is instead
    /// of being walked again.
    compact_string_bytes: Option<usize>,
}

/// One item of `messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message<'a> {
    raw: &'a [u8],
    role: Role,
    /// Bytes inside its strings.
    string_bytes: usize,
    /// Whether the validating walk met no whitespace outside its strings (see [`Part::compact_string_bytes`]).
    compact: bool,
}

/// What a message's `role` (its first `role` key) says about where the message belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `system` or `developer`: OpenAI-style bodies put the system prompt in leading messages of these roles.
    System,
    User,
    /// Any other role, or none.
    Other,
}

impl Role {
    fn of(role: Option<&str>) -> Role {
        match role {
            Some("system" | "developer") => Role::System,
            Some("user") => Role::User,
            _ => Role::Other,
        }
    }

    /// [`Role::of`] a `role` value as written in JSON. A string without escapes is its own text, so the common
    /// spellings are matched as bytes (unescaping and UTF-8 checking each message's role showed in the profile);
    /// an escaped one is read first.
    fn of_json(value: Option<&[u8]>) -> Role {
        match value {
            Some(b"\"system\"" | b"\"developer\"") => Role::System,
            Some(b"\"user\"") => Role::User,
            Some(value) if value.contains(&b'\\') => Role::of(string_value(value).as_deref()),
            _ => Role::Other,
        }
    }
}

impl<'a> InputParts<'a> {
    /// Walk an `inputBodyJson` value with the record's validating cursor, picking out the parts as it passes
    /// them: the body is crossed once for validation and location together, instead of once to validate and
    /// four more times to find fields, items and roles. `None` (after taking the value) when the body is not
    /// an object. Later duplicate keys win; `null` is the same as absent.
    pub fn locate(cursor: &mut Cursor<'a>) -> Result<Option<Self>, SyntaxError> {
        if cursor.peek() != Some(b'{') {
            cursor.value()?;
            return Ok(None);
        }
        let mut parts = InputParts::default();
        let mut prompt_bytes = [0usize; 2];
        cursor.object(|key, c| -> Result<(), SyntaxError> {
            match key {
                b"system" => parts.system = measured_part(c)?,
                b"tools" => parts.tools = measured_part(c)?,
                b"toolConfig" => parts.tool_config = measured_part(c)?,
                b"messages" => parts.messages = locate_messages(c)?,
                b"prompt" | b"inputText" => {
                    let before = c.string_bytes();
                    c.value()?;
                    prompt_bytes[usize::from(key == b"inputText")] = c.string_bytes() - before;
                }
                _ => {
                    c.value()?;
                }
            }
            Ok(())
        })?;
        parts.loose_string_bytes = prompt_bytes.iter().sum();
        Ok(Some(parts))
    }

    /// The same parts read from a body's text without a cursor (offloaded bodies, which no record parser has
    /// walked). Never fails: text that is not a JSON object yields no parts.
    pub fn read(raw: &'a [u8]) -> Self {
        let mut parts = InputParts::default();
        let mut prompt_bytes = [0usize; 2];
        for (key, value) in object_fields(raw) {
            match key {
                b"system" => parts.system = unmeasured_part(value),
                b"tools" => parts.tools = unmeasured_part(value),
                b"toolConfig" => parts.tool_config = unmeasured_part(value),
                b"messages" => {
                    parts.messages = array_items(value)
                        .map(|raw| Message {
                            raw,
                            role: Role::of(string_field(raw, "role").as_deref()),
                            string_bytes: string_bytes(raw),
                            compact: false,
                        })
                        .collect();
                }
                b"prompt" => prompt_bytes[0] = string_bytes(value),
                b"inputText" => prompt_bytes[1] = string_bytes(value),
                _ => {}
            }
        }
        parts.loose_string_bytes = prompt_bytes.iter().sum();
        parts
    }
}

fn non_null(value: &[u8]) -> Option<&[u8]> {
    (value != b"null").then_some(value)
}

/// The value at the cursor as a [`Part`], measured as the cursor crosses it; `None` for `null`.
fn measured_part<'a>(cursor: &mut Cursor<'a>) -> Result<Option<Part<'a>>, SyntaxError> {
    let start = cursor.mark();
    let (whitespace, strings) = (cursor.whitespace(), cursor.string_bytes());
    cursor.value()?;
    let compact_string_bytes = (cursor.whitespace() == whitespace).then(|| cursor.string_bytes() - strings);
    Ok(non_null(cursor.since(start)).map(|raw| Part { raw, compact_string_bytes }))
}

/// A value read without a cursor, as a [`Part`] to be walked when hashed; `None` for `null`.
fn unmeasured_part(value: &[u8]) -> Option<Part<'_>> {
    non_null(value).map(|raw| Part { raw, compact_string_bytes: None })
}

/// The items of a `messages` value, each with its role and string bytes; anything but an array has none.
fn locate_messages<'a>(cursor: &mut Cursor<'a>) -> Result<Vec<Message<'a>>, SyntaxError> {
    // Room for a typical conversation at once: grown from empty, the vector reallocated two or three times a row.
    let mut messages = Vec::with_capacity(8);
    if cursor.peek() != Some(b'[') {
        cursor.value()?;
        return Ok(messages);
    }
    cursor.array(|c| -> Result<(), SyntaxError> {
        let (start, before, whitespace) = (c.mark(), c.string_bytes(), c.whitespace());
        // The first `role` decides, as a lookup by key would find it.
        let role = c.first_member(b"role")?;
        let raw = c.since(start);
        messages.push(Message {
            raw,
            role: Role::of_json(role),
            string_bytes: c.string_bytes() - before,
            compact: c.whitespace() == whitespace,
        });
        Ok(())
    })?;
    Ok(messages)
}

/// Fingerprint an `inputBodyJson` text (already validated as JSON). `total_input_tokens` is the logged
/// uncached + cache-read + cache-write input, used to calibrate the size estimates.
pub fn fingerprint_input_body(raw: &str, total_input_tokens: Option<i64>) -> PromptFingerprint {
    fingerprint_parts(&InputParts::read(raw.as_bytes()), total_input_tokens)
}

/// Fingerprint located prompt parts (see [`fingerprint_input_body`]).
pub fn fingerprint_parts(body: &InputParts<'_>, total_input_tokens: Option<i64>) -> PromptFingerprint {
    let messages = &body.messages;
    let leading_system = messages.iter().take_while(|m| m.role == Role::System).count();
    let last_user = messages.iter().rposition(|m| m.role == Role::User);

    let prefix_end = last_user.unwrap_or(0).max(leading_system);
    let prefix_messages = &messages[leading_system..prefix_end];

    // Each hashed part feeds its hash and counts its string bytes. The system parts are hashed once: the prefix
    // hash starts from a copy of the system hash's state, which is the state feeding both would have reached.
    let mut system_hasher = Xxh3::new();
    let mut system_len = 0usize;
    let mut system_items = 0usize;
    for part in [body.tools, body.tool_config, body.system].into_iter().flatten() {
        let (items, left_out_string_bytes) = content_items(part.raw);
        for item in &items {
            match part.compact_string_bytes {
                Some(_) => system_hasher.update(item),
                None => system_len += walk_strings(item, |piece| system_hasher.update(piece)),
            }
            system_hasher.update(&[PART_SEPARATOR]);
        }
        if let Some(all) = part.compact_string_bytes {
            system_len += all.saturating_sub(left_out_string_bytes);
        }
        system_items += items.len();
    }
    for message in &messages[..leading_system] {
        system_len += hash_message(message, &mut system_hasher);
        system_items += 1;
    }
    let mut prefix_hasher = system_hasher.clone();
    let mut prefix_len = system_len;
    for message in prefix_messages {
        prefix_len += hash_message(message, &mut prefix_hasher);
    }
    let total_len: usize =
        prefix_len + messages[prefix_end..].iter().map(|m| m.string_bytes).sum::<usize>() + body.loose_string_bytes;

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
    if system_items > 0 {
        fp.system_hash = Some(HexHash::new(system_hasher.digest128()));
        fp.system_tokens_est = estimate(system_len);
    }
    if system_items > 0 || !prefix_messages.is_empty() {
        fp.prefix_hash = Some(HexHash::new(prefix_hasher.digest128()));
        fp.prefix_tokens_est = estimate(prefix_len);
    }
    fp
}

/// Separates hashed parts, so that part boundaries count.
const PART_SEPARATOR: u8 = 0x1e;

/// Feed a message and its separator to `hasher`; return its string bytes.
fn hash_message(message: &Message<'_>, hasher: &mut Xxh3) -> usize {
    let string_bytes = if message.compact {
        hasher.update(message.raw);
        message.string_bytes
    } else {
        walk_strings(message.raw, |piece| hasher.update(piece))
    };
    hasher.update(&[PART_SEPARATOR]);
    string_bytes
}

/// The items of a system part that are hashed, and the string bytes of those left out.
///
/// Converse `cachePoint` blocks mark where a cache checkpoint goes; they are not prompt content. Leaving them
/// out makes the same system prompt hash alike whether or not the caller caches it, which is exactly the
/// comparison cache analysis needs. (Anthropic's inline `cache_control` keys are still hashed.) Empty values
/// are left out too.
fn content_items(part: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut items = Vec::with_capacity(4);
    let mut left_out = 0;
    if part.first() == Some(&b'[') {
        for item in array_items(part) {
            // Keys are compared as written, so an item without the quoted name anywhere cannot be one; most are
            // text blocks, which the search crosses far faster than a walk of their fields.
            let is_cache_point = memchr::memmem::find(item, b"\"cachePoint\"").is_some()
                && object_fields(item).any(|(key, value)| key == b"cachePoint" && value != b"null");
            if !is_cache_point && !is_empty_json(item) {
                items.push(item);
            } else {
                left_out += string_bytes(item);
            }
        }
    } else if !is_empty_json(part) {
        items.push(part);
    } else {
        left_out += string_bytes(part);
    }
    (items, left_out)
}

fn is_empty_json(raw: &[u8]) -> bool {
    matches!(raw.trim_ascii(), b"null" | b"[]" | b"{}" | b"\"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_written_or_escaped() {
        let values = [
            r#""user""#,
            r#""system""#,
            r#""developer""#,
            r#""assistant""#,
            r#""us\u0065r""#,
            r#""sys\u0074em""#,
            r#""User""#,
            "null",
            "5",
            r#"{"role":"user"}"#,
        ];
        for value in values {
            assert_eq!(
                Role::of_json(Some(value.as_bytes())),
                Role::of(string_value(value.as_bytes()).as_deref()),
                "{value}"
            );
        }
        assert_eq!(Role::of_json(Some(br#""us\u0065r""#)), Role::User);
        assert_eq!(Role::of_json(None), Role::Other);
    }

    impl InputParts<'_> {
        /// The parts as [`InputParts::read`] finds them: the same spans, without what only a walk measures.
        fn unmeasured(mut self) -> Self {
            for part in [&mut self.system, &mut self.tools, &mut self.tool_config].into_iter().flatten() {
                part.compact_string_bytes = None;
            }
            for message in &mut self.messages {
                message.compact = false;
            }
            self
        }
    }

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

    /// The parts the record parser locates while validating are the parts a separate read of the text finds.
    #[test]
    fn located_parts_match_parts_read_from_text() {
        let bodies = [
            CONVERSE.to_string(),
            CONVERSE.replace("{\"", "{\n  \"").replace(",\"", " ,\n\t\""),
            CONVERSE.replace(r#"Follow policy."}]"#, r#"Follow policy."},{"cachePoint":{"type":"default"}}]"#),
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"developer","content":"json"},{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"content":"c","role":"us\u0065r"},{"role":"user","role":"assistant","content":"d"}]}"#.to_string(),
            r#"{"tools":[{"name":"t","input_schema":{"type":"object"}}],"toolConfig":{"tools":[]},"system":"sys \"quoted\"","messages":[1,"x",[{"role":"user"}],null,{"role":5},{"role":"user","content":[]}]}"#.to_string(),
            r#"{"prompt":"A test prompt","max_gen_len":512,"prompt":"second wins"}"#.to_string(),
            r#"{"inputText":"titan text","textGenerationConfig":{"maxTokenCount":10}}"#.to_string(),
            r#"{"messages":null,"system":null}"#.to_string(),
            r#"{"messages":"not a list","messages":[{"role":"user","content":"later wins"}]}"#.to_string(),
            r#"{}"#.to_string(),
            r#"{"system":[ {"text":"sys"} , {"cachePoint":{"type":"default"}} ],"messages":[{"role":"user","content":"a b"},{ "role":"assistant","content":"c"},{"role":"user","content":"d"}]}"#.to_string(),
            r#"{"system":[{"text":"sys"},{"cachePoint":{"type":"default"}},"",{}],"tools":"","toolConfig":[{"cachePoint":null,"x":"\u0041"}],"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]}"#.to_string(),
        ];
        let mut measured = 0;
        for body in &bodies {
            let mut cursor = Cursor::new(body.as_bytes());
            let located = InputParts::locate(&mut cursor).unwrap().expect("an object");
            cursor.end().unwrap();
            let parts = [located.system, located.tools, located.tool_config];
            measured += parts.iter().flatten().filter(|p| p.compact_string_bytes.is_some()).count();
            measured += located.messages.iter().filter(|m| m.compact).count();
            assert_eq!(located.clone().unmeasured(), InputParts::read(body.as_bytes()), "{body}");
            for tokens in [None, Some(1000)] {
                assert_eq!(fingerprint_parts(&located, tokens), fingerprint_input_body(body, tokens), "{body}");
            }
        }
        assert!(measured > 10, "compact parts are hashed as they are, not walked again ({measured})");
        let mut cursor = Cursor::new(br#"["not", "an object"]"#);
        assert_eq!(InputParts::locate(&mut cursor), Ok(None));
        assert!(cursor.end().is_ok(), "the value is taken even when it is not an object");
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
