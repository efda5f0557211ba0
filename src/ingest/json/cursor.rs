//! A validating JSON cursor: one pass over a record's text that checks it against the JSON grammar (RFC 8259,
//! as serde_json applies it) and hands out the raw spans of the values it passes, without building values or
//! copying text.
//!
//! Why it exists: a log record is mostly prompt and response text inside model bodies, and ingest only needs a
//! few envelope fields plus raw body spans. serde_json validated those bodies byte by byte while capturing
//! them, and was the largest single cost of ingest. Here strings, which are most of the bytes, are crossed 16
//! bytes at a time (looking for the quote, backslash or control character that can end or break one) and
//! everything else is a small state machine with an explicit stack, so hostile nesting cannot overflow the
//! thread's stack. UTF-8 is the caller's check (records arrive as `&str`).
//!
//! What is checked, so that a record accepted here is one serde_json accepts: literals, numbers (no leading
//! zeros, digits after `.` and `e`), escapes (`\uXXXX` needs four hex digits; surrogates are not paired, as
//! serde_json does not pair them when it skips a value), no raw control characters in strings, commas and
//! colons in their places, nothing after the value. A differential test holds the two to the same verdicts.

use std::fmt;

/// The one nesting limit of a log record: containers may nest this deep, the record's own object counting as
/// the first level, wherever the nesting is and whatever the layout (one line, pretty-printed, inside an array
/// or a CloudWatch wrapper, whose levels do not count: every record is judged from its own text). Deeper is
/// rejected ("nested too deeply"), not walked. It is serde_json's own default, so no part of an accepted record
/// that is later read with serde_json (metadata values, counts) can exceed serde_json's budget and get a
/// different verdict; and no log record comes near it (Bedrock bodies nest a few tens of levels at most).
pub const MAX_DEPTH: usize = 128;

/// The problem of the error for nesting deeper than [`MAX_DEPTH`].
const TOO_DEEP: &str = "nested too deeply";

/// Why text is not JSON, and where (a byte offset into the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub problem: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.problem, self.offset + 1)
    }
}

impl std::error::Error for SyntaxError {}

impl SyntaxError {
    /// Is this the error for nesting deeper than [`MAX_DEPTH`] (rather than broken JSON)?
    pub fn is_too_deep(&self) -> bool {
        self.problem == TOO_DEEP
    }
}

/// A position in JSON text, moved forward by validating what it passes.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Bytes inside the strings crossed so far (keys and values, escapes as written).
    string_bytes: usize,
    /// Whitespace bytes outside strings crossed so far.
    whitespace: usize,
    /// Containers open around the cursor (walked by [`object`](Self::object) and [`array`](Self::array)):
    /// nesting counts from the start of the text, however it is walked.
    depth: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0, string_bytes: 0, whitespace: 0, depth: 0 }
    }

    /// Enter a container at `start` (its opening byte): an error past [`MAX_DEPTH`].
    fn enter(&mut self, start: usize) -> Result<(), SyntaxError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error(start, TOO_DEEP));
        }
        self.depth += 1;
        Ok(())
    }

    /// Bytes inside the strings (keys and values, escapes as written) crossed so far: the difference across a
    /// value is what the body walker's `string_bytes` would count in it, without walking it again.
    pub fn string_bytes(&self) -> usize {
        self.string_bytes
    }

    /// Whitespace bytes outside strings crossed so far: when it does not change across a value, the value's text
    /// is already in the whitespace-free form that the body walker's `walk_strings` would piece together.
    pub fn whitespace(&self) -> usize {
        self.whitespace
    }

    /// Where the next value starts (past whitespace), for [`since`](Self::since).
    pub fn mark(&mut self) -> usize {
        self.skip_whitespace();
        self.pos
    }

    /// The text from `mark` to the cursor: the value(s) walked since [`mark`](Self::mark).
    pub fn since(&self, mark: usize) -> &'a [u8] {
        &self.bytes[mark.min(self.pos)..self.pos]
    }

    fn error(&self, offset: usize, problem: &'static str) -> SyntaxError {
        SyntaxError { offset: offset.min(self.bytes.len()), problem }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
            self.whitespace += 1;
        }
    }

    /// The next significant byte, if any, without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), SyntaxError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(self.pos, problem))
        }
    }

    /// Validate the next value and return its text.
    pub fn value(&mut self) -> Result<&'a [u8], SyntaxError> {
        self.skip_whitespace();
        let start = self.pos;
        self.skip_value()?;
        Ok(&self.bytes[start..self.pos])
    }

    /// [`value`](Self::value), also telling whether the value is a string holding escapes (false for any
    /// other value), so a caller borrowing plain strings need not search them again.
    pub fn value_and_escapes(&mut self) -> Result<(&'a [u8], bool), SyntaxError> {
        self.skip_whitespace();
        let start = self.pos;
        let escaped = if self.bytes.get(start) == Some(&b'"') {
            self.skip_string()?
        } else {
            self.skip_value()?;
            false
        };
        Ok((&self.bytes[start..self.pos], escaped))
    }

    /// Only whitespace may follow.
    pub fn end(&mut self) -> Result<(), SyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error(self.pos, "trailing characters")),
        }
    }

    /// Walk an object, calling `on_field(key, cursor)` for each member; the callback must take exactly one value
    /// from the cursor (with [`value`](Self::value), or [`object`](Self::object) for a nested object). The key
    /// is the text between its quotes, unescaped when it holds escapes.
    pub fn object<E: From<SyntaxError>>(
        &mut self,
        mut on_field: impl FnMut(&[u8], &mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.mark();
        self.expect(b'{', "expected an object")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        self.enter(start)?;
        let walked = self.object_members(&mut on_field);
        self.depth -= 1;
        walked
    }

    fn object_members<E: From<SyntaxError>>(
        &mut self,
        on_field: &mut impl FnMut(&[u8], &mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut unescaped: Vec<u8>;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error(self.pos, "expected a key").into());
            }
            let start = self.pos;
            let escaped = self.skip_string()?;
            let raw = &self.bytes[start + 1..self.pos - 1];
            let key: &[u8] = if escaped {
                unescaped = serde_json::from_slice::<String>(&self.bytes[start..self.pos])
                    .map_err(|_| self.error(start, "invalid escape in key"))?
                    .into_bytes();
                &unescaped
            } else {
                raw
            };
            self.expect(b':', "expected ':'")?;
            self.skip_whitespace();
            on_field(key, self)?;
            if self.after_member(b'}', "expected ',' or '}'")? {
                return Ok(());
            }
        }
    }

    /// Validate the value at the cursor and return the span of its first member named `name` (unescaped keys
    /// compared), as a lookup by key would find it; `None` when the value is not an object or has no such member.
    pub fn first_member(&mut self, name: &[u8]) -> Result<Option<&'a [u8]>, SyntaxError> {
        if self.peek() != Some(b'{') {
            self.value()?;
            return Ok(None);
        }
        let mut found = None;
        self.object(|key, c| -> Result<(), SyntaxError> {
            let value = c.value()?;
            if key == name && found.is_none() {
                found = Some(value);
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Walk an array, calling `on_item(cursor)` for each item; the callback must take exactly one value.
    pub fn array<E: From<SyntaxError>>(
        &mut self,
        mut on_item: impl FnMut(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.mark();
        self.expect(b'[', "expected an array")?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        self.enter(start)?;
        let walked = self.array_items(&mut on_item);
        self.depth -= 1;
        walked
    }

    fn array_items<E: From<SyntaxError>>(
        &mut self,
        on_item: &mut impl FnMut(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            self.skip_whitespace();
            on_item(self)?;
            if self.after_member(b']', "expected ',' or ']'")? {
                return Ok(());
            }
        }
    }

    /// After a member of a container: a comma (false, another member follows) or the closing byte (true).
    fn after_member(&mut self, close: u8, problem: &'static str) -> Result<bool, SyntaxError> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.error(self.pos, problem)),
        }
    }

    /// Validate one value of any kind, iteratively: `stack` holds one bit per open container (set = object).
    /// `depth` counts the containers opened here; the ones walked around the cursor count toward the limit too.
    fn skip_value(&mut self) -> Result<(), SyntaxError> {
        let mut stack = [0u64; MAX_DEPTH.div_ceil(64)];
        let mut depth = 0usize;
        let room = MAX_DEPTH - self.depth;
        loop {
            // A value is expected here.
            self.skip_whitespace();
            let start = self.pos;
            match self.bytes.get(start) {
                Some(b'"') => {
                    self.skip_string()?;
                }
                Some(&open @ (b'{' | b'[')) => {
                    self.pos += 1;
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        if depth == room {
                            return Err(self.error(start, TOO_DEEP));
                        }
                        let (word, bit) = (depth / 64, depth % 64);
                        if open == b'{' {
                            stack[word] |= 1 << bit;
                            self.object_key()?;
                        } else {
                            stack[word] &= !(1 << bit);
                        }
                        depth += 1;
                        continue;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(self.error(start, "expected a value")),
                None => return Err(self.error(start, "unexpected end of input")),
            }
            // After a value: close containers or move to the next member.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = (stack[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.object_key()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    Some(b']') if !in_object => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    Some(_) if in_object => return Err(self.error(self.pos, "expected ',' or '}'")),
                    Some(_) => return Err(self.error(self.pos, "expected ',' or ']'")),
                    None => return Err(self.error(self.pos, "unexpected end of input")),
                }
            }
        }
    }

    /// A member's key and colon.
    fn object_key(&mut self) -> Result<(), SyntaxError> {
        if self.peek() != Some(b'"') {
            return Err(self.error(self.pos, "expected a key"));
        }
        self.skip_string()?;
        self.expect(b':', "expected ':'")
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), SyntaxError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error(self.pos, "invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
                    return Err(self.error(self.pos, "invalid number: leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(start, "invalid number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error(self.pos, "invalid number: no digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(self.pos, "invalid number: no digit in exponent"));
            }
        }
        Ok(())
    }

    /// A string whose opening quote is at the cursor; true when it holds an escape (so that a key needs
    /// unescaping is known without searching it again).
    fn skip_string(&mut self) -> Result<bool, SyntaxError> {
        let bytes = self.bytes;
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            i = find_string_special(bytes, i);
            match bytes.get(i) {
                Some(b'"') => {
                    self.string_bytes += i - self.pos - 1;
                    self.pos = i + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => match bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                        escaped = true;
                        i += 2;
                    }
                    Some(b'u') => {
                        let hex = bytes.get(i + 2..i + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(self.error(i, "invalid \\u escape"));
                        }
                        escaped = true;
                        i += 6;
                    }
                    Some(_) => return Err(self.error(i, "invalid escape")),
                    None => return Err(self.error(i, "unterminated string")),
                },
                Some(_) => return Err(self.error(i, "control character in string")),
                None => return Err(self.error(self.pos, "unterminated string")),
            }
        }
    }
}

/// Index of the first byte at or after `from` that can end or break a string: `"`, `\` or a control character
/// (below 0x20); the input length if none.
fn find_string_special(bytes: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86_64 baseline, so every x86_64 CPU has the feature the function enables.
    let from = unsafe { sse2::skip_plain_blocks(bytes, from) };
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// [`std::str::from_utf8`], with the ASCII crossed 32 bytes at a time first. Log records are nearly all ASCII,
/// and std's check of whole record lines was about 3% of ingest CPU. Stretches holding non-ASCII bytes go to std,
/// cut at ASCII bytes: an ASCII byte is never part of a multi-byte character, so each cut is a character
/// boundary and the stretches are valid exactly when the whole is. On failure std reports the exact error.
pub fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    let mut i = 0;
    loop {
        i = find_non_ascii(bytes, i);
        if i == bytes.len() {
            break;
        }
        let mut end = (i + 64).min(bytes.len());
        while bytes.get(end).is_some_and(|b| !b.is_ascii()) {
            end += 1;
        }
        if std::str::from_utf8(&bytes[i..end]).is_err() {
            return std::str::from_utf8(bytes);
        }
        i = end;
    }
    // SAFETY: every byte was either in an ASCII run or in a stretch that std validated, and every stretch begins
    // just after an ASCII byte (or at the start) and ends just before one (or at the end): character boundaries,
    // so the whole slice is valid UTF-8.
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// Index of the first byte at or after `from` that is not ASCII; the input length if none.
fn find_non_ascii(bytes: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86_64 baseline, so every x86_64 CPU has the feature the function enables.
    let from = unsafe { sse2::skip_ascii_blocks(bytes, from) };
    bytes.get(from..).and_then(|rest| rest.iter().position(|b| !b.is_ascii())).map_or(bytes.len(), |p| from + p)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// Skip whole 32-byte blocks of ASCII; return where the first block holding a byte at or above 0x80 starts,
    /// or where the last whole block ended (the caller finishes byte by byte).
    #[target_feature(enable = "sse2")]
    pub(super) fn skip_ascii_blocks(bytes: &[u8], from: usize) -> usize {
        let mut i = from;
        while i + 32 <= bytes.len() {
            // SAFETY: `i + 32 <= bytes.len()`, so both 16-byte reads are inside the slice; the loads are unaligned.
            let (low, high) = unsafe {
                let at = bytes.as_ptr().add(i).cast::<__m128i>();
                (_mm_loadu_si128(at), _mm_loadu_si128(at.add(1)))
            };
            // The mask gathers each byte's top bit: set exactly for non-ASCII bytes.
            if _mm_movemask_epi8(_mm_or_si128(low, high)) != 0 {
                return i;
            }
            i += 32;
        }
        i
    }

    /// Skip whole 16-byte blocks holding no `"`, `\` or control character; return the index of the first special
    /// byte, or where the last whole block ended (the caller finishes the tail byte by byte).
    #[target_feature(enable = "sse2")]
    pub(super) fn skip_plain_blocks(bytes: &[u8], from: usize) -> usize {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let mut i = from;
        while i + 16 <= bytes.len() {
            // SAFETY: `i + 16 <= bytes.len()`, so the 16 bytes read are inside the slice; the load is unaligned.
            let chunk = unsafe { _mm_loadu_si128(bytes.as_ptr().add(i).cast::<__m128i>()) };
            let special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
                // min(b, 0x1f) == b exactly when b <= 0x1f (unsigned).
                _mm_cmpeq_epi8(_mm_min_epu8(chunk, below_space), chunk),
            );
            let mask = _mm_movemask_epi8(special);
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
        i
    }
}

/// JSON's whitespace (RFC 8259): space, tab, line feed, carriage return. Not form feed or vertical tab, which
/// `u8::is_ascii_whitespace` also counts: trimming those would drop bytes of the input without a trace.
pub fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `bytes` without JSON whitespace at either end.
pub fn trim_json_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !is_json_whitespace(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !is_json_whitespace(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `bytes` without JSON whitespace at the end.
pub fn trim_json_whitespace_end(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| !is_json_whitespace(b)).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Is the whole text one valid JSON value (surrounded by whitespace at most)?
pub fn validate(bytes: &[u8]) -> Result<(), SyntaxError> {
    let mut cursor = Cursor::new(bytes);
    cursor.value()?;
    cursor.end()
}

#[cfg(test)]
mod tests {

    #[test]
    fn utf8_agrees_with_std() {
        let long_ascii = "a".repeat(100);
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"plain".to_vec(),
            long_ascii.clone().into_bytes(),
            format!("{long_ascii}\u{e9}{long_ascii}").into_bytes(),
            format!("{long_ascii}\u{1F600}").into_bytes(),
            "\u{65e5}\u{672c}\u{8a9e}".repeat(40).into_bytes(),
            format!("{}\u{e9}x", "b".repeat(31)).into_bytes(),
        ];
        // Broken sequences at every position relative to the 32-byte blocks and the 64-byte stretches.
        for at in [0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 95, 96, 99] {
            for bad in [&[0xff][..], &[0xc3][..], &[0xe6, 0x97][..], &[0x80][..], &[0xed, 0xa0, 0x80][..]] {
                let mut text = long_ascii.clone().into_bytes();
                text.splice(at..at, bad.iter().copied());
                cases.push(text);
            }
            let mut split = long_ascii.clone().into_bytes();
            split.splice(at..at, "\u{e9}\u{1F600}".bytes());
            cases.push(split);
        }
        for case in &cases {
            assert_eq!(utf8(case), std::str::from_utf8(case), "{case:?}");
        }
    }

    use super::*;

    fn serde_accepts(text: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
    }

    fn we_accept(text: &[u8]) -> bool {
        std::str::from_utf8(text).is_ok() && validate(text).is_ok()
    }

    #[test]
    fn grammar_cases_agree_with_serde() {
        let cases: &[&str] = &[
            "{}",
            "[]",
            " { \"a\" : [ 1 , -0.5e+3 , true , false , null , \"x\\u00e9\\n\" ] } ",
            "0",
            "-0",
            "01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "-",
            "+1",
            "1.5E-7",
            "tru",
            "nulll",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1}}",
            "[1 2]",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "\"\\ud800\"",
            "\"tab\there\"",
            "\"unterminated",
            "\"ends in backslash\\",
            "[\"a\"]x",
            "{\"k\\\"ey\":\"v\"}",
            "",
            "   ",
            "[[[[]]]]",
            "[{\"a\":[{\"b\":{}}]}]",
            "{\"a\":{\"b\":[1,{\"c\":\"d\"}]},\"e\":\"0123456789abcdef0123456789abcdef\\\"q\"}",
        ];
        for case in cases {
            assert_eq!(we_accept(case.as_bytes()), serde_accepts(case.as_bytes()), "case {case:?}");
        }
    }

    #[test]
    fn strings_longer_than_a_block_are_checked_throughout() {
        for at in [0, 1, 15, 16, 17, 31, 32, 40, 47, 48, 63, 64, 65, 129] {
            let mut text = vec![b'a'; 130];
            text[at] = 0x01;
            let quoted = [b"\"".as_slice(), &text, b"\""].concat();
            assert!(validate(&quoted).is_err(), "control character at {at}");
            text[at] = b'"';
            let quoted = [b"\"".as_slice(), &text, b"\""].concat();
            assert!(validate(&quoted).is_err(), "early quote at {at}");
            text[at] = 0xff;
            assert!(validate(&[b"\"".as_slice(), &text, b"\""].concat()).is_ok(), "high bytes are UTF-8's business");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(MAX_DEPTH + 1) + "1" + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(validate(deep.as_bytes()).map_err(|e| e.problem), Err("nested too deeply"));
        let ok = "[".repeat(MAX_DEPTH) + "1" + &"]".repeat(MAX_DEPTH);
        assert!(validate(ok.as_bytes()).is_ok());
        let mixed = "{\"a\":".repeat(100) + "1" + &"}".repeat(100);
        assert!(validate(mixed.as_bytes()).is_ok());
    }

    #[test]
    fn object_walk_yields_keys_and_value_spans() {
        let text = br#"{ "a" : 1, "b\u0063" : {"x": [true]}, "c": "s" }"#;
        let mut seen = Vec::new();
        let mut cursor = Cursor::new(text);
        cursor
            .object(|key, c| -> Result<(), SyntaxError> {
                let value = c.value()?;
                seen.push((String::from_utf8_lossy(key).into_owned(), String::from_utf8_lossy(value).into_owned()));
                Ok(())
            })
            .unwrap();
        cursor.end().unwrap();
        let want = [("a", "1"), ("bc", "{\"x\": [true]}"), ("c", "\"s\"")];
        assert_eq!(seen, want.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    /// Random edits of real-shaped records: every verdict must match serde_json's.
    #[test]
    fn mutated_records_agree_with_serde() {
        let seeds = [
            r#"{"schemaType":"ModelInvocationLog","requestId":"r-1","timestamp":"2025-11-02T10:00:00Z","input":{"inputTokenCount":12,"inputBodyJson":{"messages":[{"role":"user","content":[{"text":"hello \"world\"\n\u00e9"}]}]}},"output":{"outputBodyJson":[{"a":-1.5e3},{"b":null,"c":[true,false]}]}}"#,
            r#"[1, -0.0, 2E+5, "x\/y", {"": {}}, [[]], "\ud83d\ude00"]"#,
        ];
        let alphabet = b"{}[]\",:\\ 0123456789-+.eEtrufalsn\t\n\x01\x1fuab/";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut disagreements = Vec::new();
        let mut rejected = 0;
        for round in 0..20_000 {
            let mut text = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % (text.len() + 1);
                let byte = alphabet[(next() as usize) % alphabet.len()];
                match next() % 4 {
                    0 if at < text.len() => {
                        text.remove(at);
                    }
                    1 if at < text.len() => text[at] = byte,
                    2 => text.insert(at, byte),
                    _ => text.truncate(at),
                }
            }
            let (ours, theirs) = (we_accept(&text), serde_accepts(&text));
            rejected += usize::from(!theirs);
            if ours != theirs {
                disagreements.push((String::from_utf8_lossy(&text).into_owned(), ours, theirs));
            }
        }
        assert!(disagreements.is_empty(), "{} disagreements, first: {:?}", disagreements.len(), disagreements[0]);
        // The mutations must exercise both verdicts for the comparison to mean anything.
        assert!(rejected > 5_000 && rejected < 19_000, "rejected {rejected}");
    }
}
