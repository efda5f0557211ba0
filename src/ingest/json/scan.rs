//! A minimal JSON walker for request bodies that serde has already validated: it finds the top-level fields
//! of an object and the items of an array, and measures strings, without building values or copying text.
//!
//! Why it exists: fingerprinting reads the same prompt several ways (its fields, each message's role, the
//! bytes inside strings, a whitespace-free hash). Doing that with serde meant a full parse per view; here each
//! view is one pass that jumps from quote to quote with `memchr`, which is most of the bytes in a prompt.
//! Input that is not valid JSON never panics: walks stop early and yield what they found.

use memchr::memchr2;

/// Index just past the string whose opening quote is at `start`, or `None` if it never closes.
pub fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match memchr2(b'"', b'\\', &bytes[i..]) {
            Some(k) if bytes[i + k] == b'\\' => i += k + 2,
            Some(k) => return Some(i + k + 1),
            None => return None,
        }
    }
    None
}

/// Index just past the string whose opening quote is at `start`; the input length if it never closes.
pub fn skip_string(bytes: &[u8], start: usize) -> usize {
    string_end(bytes, start).unwrap_or(bytes.len())
}

/// Index just past the value starting at `start` (which must not be whitespace).
pub fn skip_value(bytes: &[u8], start: usize) -> usize {
    let Some(&first) = bytes.get(start) else { return bytes.len() };
    match first {
        b'"' => skip_string(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = skip_string(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        _ => {
            // Scalars end at the next delimiter.
            let len = bytes[start..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(bytes.len() - start);
            start + len
        }
    }
}

fn skip_whitespace(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Where the next member of an object or array starts: past whitespace and the separating comma.
fn next_member(bytes: &[u8], pos: usize) -> usize {
    let i = skip_whitespace(bytes, pos);
    if bytes.get(i) == Some(&b',') { skip_whitespace(bytes, i + 1) } else { i }
}

/// Top-level `(raw key, raw value)` pairs of a JSON object, in order. The key is the text between its quotes
/// (escapes left as written); an input that is not an object yields nothing.
pub fn object_fields(bytes: &[u8]) -> ObjectFields<'_> {
    ObjectFields { bytes, pos: after_opening(bytes, b'{') }
}

/// Index just past `open` when the input starts with it (after whitespace); otherwise the input length, so
/// that iteration yields nothing.
fn after_opening(bytes: &[u8], open: u8) -> usize {
    let start = skip_whitespace(bytes, 0);
    if bytes.get(start) == Some(&open) { start + 1 } else { bytes.len() }
}

/// Iterator behind [`object_fields`].
pub struct ObjectFields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ObjectFields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        let mut i = next_member(bytes, self.pos);
        if bytes.get(i) != Some(&b'"') {
            self.pos = bytes.len();
            return None;
        }
        let key_end = skip_string(bytes, i);
        let key = &bytes[i + 1..key_end.saturating_sub(1).max(i + 1)];
        i = skip_whitespace(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            self.pos = bytes.len();
            return None;
        }
        let value_start = skip_whitespace(bytes, i + 1);
        let value_end = skip_value(bytes, value_start);
        self.pos = value_end;
        Some((key, &bytes[value_start..value_end]))
    }
}

/// Items of a JSON array, raw; an input that is not an array yields nothing.
pub fn array_items(bytes: &[u8]) -> ArrayItems<'_> {
    ArrayItems { bytes, pos: after_opening(bytes, b'[') }
}

/// Iterator behind [`array_items`].
pub struct ArrayItems<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ArrayItems<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        let i = next_member(bytes, self.pos);
        match bytes.get(i) {
            None | Some(b']') => {
                self.pos = bytes.len();
                None
            }
            Some(_) => {
                let end = skip_value(bytes, i);
                self.pos = end.max(i + 1);
                Some(&bytes[i..end])
            }
        }
    }
}

/// Bytes inside JSON strings (keys and values, escapes as written): a proxy for the text a tokenizer sees.
pub fn string_bytes(bytes: &[u8]) -> usize {
    walk_strings(bytes, |_| {})
}

/// Call `emit` with the input in pieces that together are the input minus whitespace outside strings (the
/// canonical form that hashes alike compact or pretty-printed); return the bytes inside strings.
pub fn walk_strings(bytes: &[u8], mut emit: impl FnMut(&[u8])) -> usize {
    let mut inside = 0;
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            match string_end(bytes, i) {
                Some(end) => {
                    inside += end - i - 2;
                    i = end;
                }
                // A string that never closes is not counted.
                None => i = bytes.len(),
            }
        } else if b.is_ascii_whitespace() {
            if run_start < i {
                emit(&bytes[run_start..i]);
            }
            i += 1;
            run_start = i;
        } else {
            i += 1;
        }
    }
    if run_start < bytes.len() {
        emit(&bytes[run_start..]);
    }
    inside
}

/// The value of a top-level string field of an object, unescaped (`None` if absent or not a string).
pub fn string_field<'a>(object: &'a [u8], name: &str) -> Option<std::borrow::Cow<'a, str>> {
    let (_, value) = object_fields(object).find(|(key, _)| *key == name.as_bytes())?;
    string_value(value)
}

/// [`string_value`] of a span of text already checked as UTF-8 (a slice of a validated record), which is not
/// checked again.
pub fn str_value(value: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))?;
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        return Some(std::borrow::Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(value).ok().map(std::borrow::Cow::Owned)
}

/// A JSON string value's text, unescaped only when it holds escapes; `None` for any other value.
pub fn string_value(value: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    let inner = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\""))?;
    if memchr::memchr(b'\\', inner).is_none() {
        return std::str::from_utf8(inner).ok().map(std::borrow::Cow::Borrowed);
    }
    serde_json::from_slice::<String>(value).ok().map(std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_value_reads_as_string_value() {
        let values = [
            r#""end_turn""#,
            r#""""#,
            r#""a\"b""#,
            r#""caf\u00e9""#,
            "\"café\"",
            "null",
            "12",
            "{}",
            r#""x"#,
            r#""\q""#,
        ];
        for value in values {
            assert_eq!(str_value(value), string_value(value.as_bytes()), "{value}");
        }
        assert_eq!(str_value(r#""caf\u00e9""#).as_deref(), Some("café"));
        assert_eq!(str_value(r#""\q""#), None, "an invalid escape is not a string");
    }

    #[test]
    fn fields_and_items_of_compact_and_pretty_json() {
        for text in [
            r#"{"a":1,"b":"x\"}","c":[1,{"d":"]"}],"e":null}"#,
            "{ \"a\" : 1 ,\n \"b\" : \"x\\\"}\" ,\n \"c\" : [ 1 , { \"d\" : \"]\" } ] , \"e\" : null }",
        ] {
            let fields: Vec<(String, String)> = object_fields(text.as_bytes())
                .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["a", "b", "c", "e"], "{text}");
            assert_eq!(fields[1].1, r#""x\"}""#);
            assert_eq!(fields[3].1, "null");
            let items: Vec<&[u8]> = array_items(fields[2].1.as_bytes()).collect();
            assert_eq!(items.len(), 2);
            assert_eq!(items[0], b"1");
            assert!(items[1].starts_with(b"{") && items[1].ends_with(b"}"));
        }
        assert_eq!(array_items(b"[]").count(), 0);
        assert_eq!(object_fields(b"{}").count(), 0);
        assert_eq!(object_fields(b"[1]").count(), 0);
    }

    #[test]
    fn string_field_unescapes_only_when_needed() {
        let msg = br#"{"content":[{"text":"role"}],"role":"user"}"#;
        assert_eq!(string_field(msg, "role").as_deref(), Some("user"));
        assert!(matches!(string_field(msg, "role"), Some(std::borrow::Cow::Borrowed(_))));
        assert_eq!(string_field(br#"{"role":"us\u0065r"}"#, "role").as_deref(), Some("user"));
        assert_eq!(string_field(br#"{"role":1}"#, "role"), None);
        assert_eq!(string_field(br#"{"other":"user"}"#, "role"), None);
    }

    #[test]
    fn canonical_pieces_drop_whitespace_outside_strings_only() {
        let pretty = "{ \"a b\" : [ 1,\n\t2 ] }";
        let mut out = Vec::new();
        let inside = walk_strings(pretty.as_bytes(), |piece| out.extend_from_slice(piece));
        assert_eq!(String::from_utf8(out).unwrap(), "{\"a b\":[1,2]}");
        assert_eq!(inside, 3);
        assert_eq!(string_bytes(br#"{"a": "bc", "d": 1}"#), 4);
        assert_eq!(string_bytes(br#"["x\"y"]"#), 4);
        assert_eq!(string_bytes(br#""unterminated"#), 0);
    }

    #[test]
    fn broken_input_ends_walks_without_panicking() {
        for text in ["{\"a\":", "{\"a", "[1,", "{\"a\":\"\\", "\"\\", "{\"a\" 1}", "[", "{", "}", "]"] {
            let _ = object_fields(text.as_bytes()).count();
            let _ = array_items(text.as_bytes()).count();
            let _ = string_bytes(text.as_bytes());
            let _ = skip_value(text.as_bytes(), 0);
        }
    }
}
