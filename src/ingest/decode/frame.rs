//! Splits a byte stream into top-level JSON values without parsing them, so a file of any size is read with
//! one record in memory at a time.
//!
//! Accepted framings: newline-delimited records, pretty-printed records over many lines, values simply
//! concatenated, a top-level JSON array of records (its elements are framed one by one), and the output of
//! `aws logs filter-log-events` (`{"events":[...]}`, whose events are framed one by one). A raw newline inside
//! a string cannot occur in valid JSON, so it ends a broken value early; this keeps one truncated line from
//! swallowing the good lines after it. Anything that is not JSON comes out as [`Frame::Garbage`] with a reason.

use std::io::{self, Read};

/// Where a frame starts in the decompressed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line number of the first byte.
    pub line: u64,
    /// 0-based byte offset of the first byte in the decompressed stream.
    pub offset: u64,
}

/// One framed piece of input; the bytes are read with [`Framer::bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete, balanced JSON object or array (not yet validated beyond bracket balance).
    Value { start: usize, end: usize, position: Position },
    /// Bytes that are not a complete JSON value.
    Garbage { start: usize, end: usize, position: Position, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    TopLevel,
    /// Inside a top-level array (or the `events` array of a wrapper object): frame the elements.
    InArray { wrapper: bool },
}

/// Largest single value we hold in memory. Bedrock offloads bodies over 100 KB, so a real record is far
/// smaller; this bounds the damage of a corrupt file.
pub const MAX_VALUE_BYTES: usize = 256 << 20;
const READ_CHUNK: usize = 256 << 10;

/// Streaming framer over any reader (the decompressor, in practice).
pub struct Framer<R: Read> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// Decompressed offset of `buf[0]`.
    base_offset: u64,
    /// Line number at `buf[pos]`.
    line: u64,
    eof: bool,
    error: Option<io::Error>,
    mode: Mode,
    /// No line candidate is offered before this stream offset (set when one is declined).
    no_candidate_before: u64,
    /// Bytes handed out so far; used by callers for progress.
    pub bytes_consumed: u64,
}

/// The rest of a line that starts a top-level object: in newline-delimited logs, one whole record. See
/// [`Framer::line_candidate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCandidate {
    start: usize,
    end: usize,
    pub position: Position,
}

enum Scan {
    /// Value complete at relative index (exclusive).
    Complete(usize),
    /// A raw newline inside a string at this relative index: the value is broken there.
    BrokenAt(usize, &'static str),
    /// Ran out of input.
    Eof(usize),
    TooLarge(usize),
}

impl Framer<io::Empty> {
    /// Frame an input already whole in memory (an inflated object): nothing more is read, nothing is copied.
    pub fn whole(buf: Vec<u8>) -> Self {
        let filled = buf.len();
        Framer::start(io::empty(), buf, filled, true)
    }
}

impl<R: Read> Framer<R> {
    /// Frame the bytes of `reader`.
    pub fn new(reader: R) -> Self {
        Self::with_buffer(reader, Vec::new())
    }

    /// Frame the bytes of `reader` in a buffer left over from an earlier framer (its contents are ignored).
    pub fn with_buffer(reader: R, mut buf: Vec<u8>) -> Self {
        if buf.len() < READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        }
        Framer::start(reader, buf, 0, false)
    }

    /// A framer at the start of its input, whose first `filled` bytes are already in `buf`; with `eof` the
    /// reader is never read.
    fn start(reader: R, buf: Vec<u8>, filled: usize, eof: bool) -> Self {
        Framer {
            reader,
            eof,
            buf,
            pos: 0,
            filled,
            base_offset: 0,
            line: 1,
            error: None,
            mode: Mode::TopLevel,
            no_candidate_before: 0,
            bytes_consumed: 0,
        }
    }

    /// The buffer, for the next framer. A buffer grown for one huge value is not kept.
    pub fn into_buffer(mut self) -> Vec<u8> {
        if self.buf.len() > 4 * READ_CHUNK {
            self.buf = Vec::new();
        }
        self.buf
    }

    /// The bytes of a frame returned by the last call to [`Framer::next_frame`].
    pub fn bytes(&self, frame: &Frame) -> &[u8] {
        match frame {
            Frame::Value { start, end, .. } | Frame::Garbage { start, end, .. } => &self.buf[*start..*end],
        }
    }

    /// The read error that ended the stream early (a truncated or corrupt gzip member), if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Read more input, keeping `buf[pos..filled]`. Returns false when nothing more can be read.
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.base_offset += self.pos as u64;
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.buf.len() {
            let grown = (self.buf.len() * 2).max(READ_CHUNK);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    self.filled += n;
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.eof = true;
                    self.error = Some(e);
                    return false;
                }
            }
        }
    }

    fn position(&self) -> Position {
        Position { line: self.line, offset: self.base_offset + self.pos as u64 }
    }

    /// Consume `len` bytes from `pos`, counting lines.
    fn advance(&mut self, len: usize) {
        let consumed = &self.buf[self.pos..self.pos + len];
        self.line += memchr::memchr_iter(b'\n', consumed).count() as u64;
        self.pos += len;
        self.bytes_consumed += len as u64;
    }

    /// Skip whitespace (and, inside arrays, commas). Returns the next byte without consuming it.
    fn peek_significant(&mut self) -> Option<u8> {
        loop {
            while self.pos < self.filled {
                let b = self.buf[self.pos];
                // JSON whitespace only: anything else between values (a form feed) is garbage, rejected, not lost.
                let skip = crate::ingest::json::is_json_whitespace(b)
                    || (b == b',' && matches!(self.mode, Mode::InArray { .. }));
                // A UTF-8 byte-order mark at the start of a file.
                let bom = self.base_offset + self.pos as u64 == 0
                    && self.buf[self.pos..self.filled].starts_with(&[0xEF, 0xBB, 0xBF]);
                if bom {
                    self.advance(3);
                    continue;
                }
                if !skip {
                    return Some(b);
                }
                self.advance(1);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Scan a JSON value starting at `pos` until its brackets balance, starting at the given depth.
    fn scan_value(&mut self, initial_depth: usize) -> Scan {
        let mut i = 0usize;
        let mut depth = initial_depth;
        let mut in_string = false;
        loop {
            while self.pos + i < self.filled {
                let rest = &self.buf[self.pos + i..self.filled];
                if in_string {
                    match memchr::memchr3(b'"', b'\\', b'\n', rest) {
                        Some(k) => match rest[k] {
                            b'"' => {
                                in_string = false;
                                i += k + 1;
                            }
                            b'\\' => {
                                if k + 1 >= rest.len() {
                                    i += k;
                                    break; // need the escaped byte
                                }
                                i += k + 2;
                            }
                            _ => {
                                return Scan::BrokenAt(i + k, "line ends inside a string (truncated or corrupt JSON)");
                            }
                        },
                        None => i += rest.len(),
                    }
                    continue;
                }
                let b = rest[0];
                i += 1;
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Scan::Complete(i);
                        }
                    }
                    _ => {}
                }
            }
            if i > MAX_VALUE_BYTES {
                return Scan::TooLarge(i);
            }
            let before = self.pos;
            if !self.fill() {
                return Scan::Eof(self.filled - self.pos);
            }
            debug_assert!(self.pos <= before);
        }
    }

    /// Length of the rest of the current line from `pos` (including the newline), reading as needed.
    fn line_len(&mut self) -> usize {
        loop {
            if let Some(k) = memchr::memchr(b'\n', &self.buf[self.pos..self.filled]) {
                return k + 1;
            }
            if self.filled - self.pos > MAX_VALUE_BYTES || !self.fill() {
                return self.filled - self.pos;
            }
        }
    }

    fn emit(&mut self, len: usize, garbage: Option<String>) -> Frame {
        let position = self.position();
        let start = self.pos;
        self.advance(len);
        match garbage {
            None => Frame::Value { start, end: start + len, position },
            Some(reason) => Frame::Garbage { start, end: start + len, position, reason },
        }
    }

    /// The fast path for newline-delimited records: the rest of the current line, when it starts a top-level
    /// object, without scanning it. The caller parses it (the parser validates every byte anyway) and then
    /// either [`accept`s](Framer::accept) it, if the line is exactly one record, or
    /// [`decline`s](Framer::decline) it and calls [`Framer::next_frame`], which frames the same bytes the careful
    /// way. A declined line is not offered again, so each byte is looked at by at most two parsers.
    pub fn line_candidate(&mut self) -> Option<LineCandidate> {
        if self.mode != Mode::TopLevel || self.peek_significant()? != b'{' {
            return None;
        }
        // An export wrapper on one line may be huge; `next_frame` streams its events one by one instead.
        if self.base_offset + (self.pos as u64) < self.no_candidate_before || self.starts_events_wrapper() {
            return None;
        }
        let len = self.line_len();
        Some(LineCandidate { start: self.pos, end: self.pos + len, position: self.position() })
    }

    /// The bytes of a line candidate (trailing whitespace included).
    pub fn candidate_bytes(&self, candidate: &LineCandidate) -> &[u8] {
        &self.buf[candidate.start..candidate.end]
    }

    /// Consume a line candidate that was one whole record.
    pub fn accept(&mut self, candidate: LineCandidate) {
        let len = candidate.end - candidate.start;
        debug_assert_eq!(candidate.start, self.pos);
        self.line += u64::from(self.buf[candidate.start..candidate.end].last() == Some(&b'\n'));
        self.pos += len;
        self.bytes_consumed += len as u64;
    }

    /// Leave a line candidate to [`Framer::next_frame`].
    pub fn decline(&mut self, candidate: LineCandidate) {
        self.no_candidate_before = candidate.position.offset + (candidate.end - candidate.start) as u64;
    }

    /// The next frame, or `None` at the end of the input. Check [`Framer::take_error`] afterwards.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let b = self.peek_significant()?;
            match (self.mode, b) {
                (Mode::TopLevel, b'[') => {
                    self.advance(1);
                    self.mode = Mode::InArray { wrapper: false };
                    continue;
                }
                (Mode::TopLevel, b'{') if self.starts_events_wrapper() => {
                    let len = self.events_prefix_len();
                    self.advance(len);
                    self.mode = Mode::InArray { wrapper: true };
                    continue;
                }
                (Mode::InArray { wrapper }, b']') => {
                    self.advance(1);
                    self.mode = Mode::TopLevel;
                    if wrapper {
                        // Discard the rest of the wrapper object (`"nextToken": ...}`).
                        match self.scan_value(1) {
                            Scan::Complete(len) => self.advance(len),
                            Scan::BrokenAt(len, reason) => {
                                return Some(self.emit(len, Some(reason.to_string())));
                            }
                            Scan::Eof(len) => {
                                return Some(self.emit(len, Some("input ends inside the events wrapper".into())));
                            }
                            Scan::TooLarge(len) => {
                                return Some(self.emit(len, Some("events wrapper tail too large".into())));
                            }
                        }
                    }
                    continue;
                }
                (_, b'{' | b'[') => {
                    return Some(match self.scan_value(0) {
                        Scan::Complete(len) => self.emit(len, None),
                        Scan::BrokenAt(len, reason) => self.emit(len, Some(reason.to_string())),
                        Scan::Eof(len) => {
                            let reason = match &self.error {
                                Some(e) => format!("input ends mid-record: {e}"),
                                None => "input ends mid-record (truncated JSON)".to_string(),
                            };
                            self.emit(len, Some(reason))
                        }
                        Scan::TooLarge(len) => {
                            self.emit(len, Some(format!("value larger than {MAX_VALUE_BYTES} bytes")))
                        }
                    });
                }
                _ => {
                    let len = self.line_len();
                    return Some(self.emit(len, Some("not JSON".to_string())));
                }
            }
        }
    }

    /// Does the object at `pos` start with `{"events": [`? Reads ahead as needed (the prefix is short).
    fn starts_events_wrapper(&mut self) -> bool {
        const PREFIX: &[u8] = b"{\"events\":[";
        while self.filled - self.pos < 64 && self.fill() {}
        let window = &self.buf[self.pos..self.filled.min(self.pos + 64)];
        let mut significant = window.iter().filter(|&&b| !crate::ingest::json::is_json_whitespace(b));
        PREFIX.iter().all(|expected| significant.next() == Some(expected))
    }

    fn events_prefix_len(&self) -> usize {
        let window = &self.buf[self.pos..self.filled];
        memchr::memchr(b'[', window).map_or(0, |k| k + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str) -> Vec<(String, Option<String>, u64)> {
        let mut framer = Framer::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(frame) = framer.next_frame() {
            let text = String::from_utf8_lossy(framer.bytes(&frame)).trim().to_string();
            match frame {
                Frame::Value { position, .. } => out.push((text, None, position.line)),
                Frame::Garbage { reason, position, .. } => out.push((text, Some(reason), position.line)),
            }
        }
        out
    }

    #[test]
    fn framings() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("ndjson", "{\"a\":1}\n{\"b\":2}\n", &["{\"a\":1}", "{\"b\":2}"]),
            ("concatenated", "{\"a\":1}{\"b\":\"}{\"}", &["{\"a\":1}", "{\"b\":\"}{\"}"]),
            ("pretty", "{\n  \"a\": {\n    \"b\": [1, 2]\n  }\n}\n", &["{\n  \"a\": {\n    \"b\": [1, 2]\n  }\n}"]),
            ("array", "[{\"a\":1},\n {\"b\":2}]", &["{\"a\":1}", "{\"b\":2}"]),
            (
                "events wrapper",
                "{ \"events\" : [{\"message\":\"x\"},{\"message\":\"y\"}], \"nextToken\": \"t\"}\n{\"c\":3}",
                &["{\"message\":\"x\"}", "{\"message\":\"y\"}", "{\"c\":3}"],
            ),
            ("escaped quotes", "{\"a\":\"q\\\"}\\\\\"}\n", &["{\"a\":\"q\\\"}\\\\\"}"]),
            ("bom", "\u{feff}{\"a\":1}", &["{\"a\":1}"]),
        ];
        for (name, input, want) in cases {
            let got: Vec<String> = frames(input)
                .into_iter()
                .map(|(t, r, _)| {
                    assert!(r.is_none(), "case {name}: unexpected garbage {t:?} {r:?}");
                    t
                })
                .collect();
            assert_eq!(&got, want, "case {name}");
        }
    }

    #[test]
    fn broken_line_does_not_swallow_the_next() {
        let input = "{\"a\":1}\n{\"b\":\"trunc\n{\"c\":3}\nnot json\n{\"d\":4}";
        let got = frames(input);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0], ("{\"a\":1}".into(), None, 1));
        assert!(got[1].1.is_some() && got[1].2 == 2, "{got:?}");
        assert_eq!(got[2], ("{\"c\":3}".into(), None, 3));
        assert_eq!(got[3].1.as_deref(), Some("not JSON"));
        assert_eq!(got[4], ("{\"d\":4}".into(), None, 5));
    }

    #[test]
    fn line_candidates_are_offered_once_per_line() {
        let input = "{\"a\":1}\n{\"b\":2}{\"c\":3}\n  {\"d\":4}\r\n[{\"e\":5}]\n";
        let mut framer = Framer::new(input.as_bytes());
        let first = framer.line_candidate().unwrap();
        assert_eq!(framer.candidate_bytes(&first), b"{\"a\":1}\n");
        assert_eq!(first.position, Position { line: 1, offset: 0 });
        framer.accept(first);
        // Two values on one line: the caller declines, and the line is then framed value by value with no
        // second offer inside it.
        let second = framer.line_candidate().unwrap();
        assert_eq!(framer.candidate_bytes(&second), b"{\"b\":2}{\"c\":3}\n");
        framer.decline(second);
        let b = framer.next_frame().unwrap();
        assert_eq!(framer.bytes(&b), b"{\"b\":2}");
        assert_eq!(framer.line_candidate(), None);
        let c = framer.next_frame().unwrap();
        assert_eq!(framer.bytes(&c), b"{\"c\":3}");
        // Offers resume on the next line (leading whitespace skipped, positions kept).
        let d = framer.line_candidate().unwrap();
        assert_eq!(framer.candidate_bytes(&d), b"{\"d\":4}\r\n");
        assert_eq!(d.position, Position { line: 3, offset: 25 });
        framer.accept(d);
        // An array is never a candidate: its elements are framed one by one.
        assert_eq!(framer.line_candidate(), None);
        let e = framer.next_frame().unwrap();
        assert_eq!(framer.bytes(&e), b"{\"e\":5}");
        assert!(matches!(e, Frame::Value { position: Position { line: 4, .. }, .. }));

        // Nor is an export wrapper, however it is spaced: its events are streamed.
        let mut framer = Framer::new(&b"{ \"events\" : [{\"f\":6},{\"g\":7}]}\n"[..]);
        assert_eq!(framer.line_candidate(), None);
        let f = framer.next_frame().unwrap();
        assert_eq!(framer.bytes(&f), b"{\"f\":6}");
    }

    #[test]
    fn truncated_at_end() {
        let got = frames("{\"a\":1}\n{\"b\":{\"c\":2}");
        assert_eq!(got.len(), 2);
        assert!(got[1].1.as_deref().unwrap().contains("ends mid-record"), "{got:?}");
    }

    #[test]
    fn small_reads_across_buffer_boundaries() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(3);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let record = format!("{{\"text\":\"{}\\\"x\"}}\n", "y".repeat(300_000));
        let input = format!("{record}{record}");
        let mut framer = Framer::new(Trickle(input.as_bytes()));
        let mut n = 0;
        while let Some(frame) = framer.next_frame() {
            assert!(matches!(frame, Frame::Value { .. }));
            assert_eq!(framer.bytes(&frame).len(), record.len() - 1);
            n += 1;
        }
        assert_eq!(n, 2);
    }
}
