//! Bytes to log records: picks the decompressor, frames the stream, and turns each framed value into a row or
//! a reject. Pure: it takes a reader and calls back; it never opens files or talks to AWS.
//!
//! This folder owns everything between a source's bytes and a record's text: [`inflate`] (whole-object gzip),
//! [`frame`] (splitting a stream into JSON values) and, here, the choice between them and the handing of each
//! value to [`crate::ingest::record`].
//!
//! Values may be records, CloudWatch export wrappers (`{"events":[{"message": "<record>"}]}`, Logs Insights
//! rows with `@message`), or arrays of either, in any nesting the exports produce. A value that fails to
//! parse and spans several lines is retried line by line, so one corrupt line among newline-delimited records
//! costs only that line.

use std::borrow::Cow;
use std::io::{self, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ingest::json::{self, trim_json_whitespace, trim_json_whitespace_end};
use crate::ingest::record::{WireError, WireRecord};
use crate::store::row::Invocation;
use frame::{Frame, Framer, Position};
use inflate::GzipInflater;

pub mod frame;
pub mod inflate;

/// Compression of an input, decided from its first bytes (never from its name: exports get renamed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// One or more concatenated gzip members.
    Gzip,
}

/// Decide the compression from the leading bytes.
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) { Compression::Gzip } else { Compression::None }
}

/// Where inside an input a record or reject sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub position: Position,
    /// Index inside an array or `events` wrapper, when the value was one element of several.
    pub item: Option<u64>,
}

/// Something that could not become a row: kept with its reason and text, never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub location: Location,
    pub reason: String,
    /// The text, at most its first [`MAX_REJECT_RAW`] bytes (invalid UTF-8 shown as U+FFFD).
    pub raw: String,
    /// The full length of the text in bytes, when `raw` holds only its first [`MAX_REJECT_RAW`] bytes.
    pub raw_len: Option<u64>,
    /// The kept bytes exactly, base64-encoded, when they are not UTF-8 (so `raw` lost some of them).
    pub raw_base64: Option<String>,
}

/// What the decoder hands to its caller.
// Events go straight into a callback and are never stored, so boxing the large variant would only add an
// allocation per record on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event<'a> {
    /// A row, lent to the callback (moving it through the callback chain copied it several times per record),
    /// with the record's text, for a caller that rejects it on grounds of its own (an implausible time).
    Record(&'a mut Invocation<'a>, Location, &'a str),
    Reject(Reject),
}

/// Counts of one input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Decompressed bytes read.
    pub bytes: u64,
    pub records: u64,
    pub rejects: u64,
    /// The kind of read error that ended the input early, if one did.
    pub read_error: Option<io::ErrorKind>,
}

impl DecodeStats {
    /// Did the input end because of the transport (network, permissions) rather than its content? Such a
    /// source is retried by the next run instead of being recorded as done.
    pub fn failed_in_transport(&self) -> bool {
        self.read_error.is_some_and(|k| {
            !matches!(k, io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput)
        })
    }
}

/// Raw text kept for a reject, at most: enough to see what is wrong with it, and small enough that a flood of
/// huge bad values cannot fill memory or disk. Longer values are cut (at a character boundary) and their full
/// length is recorded beside them.
pub const MAX_REJECT_RAW: usize = 64 << 10;
/// Exports nest at most `events[] -> message -> record`; deeper is not a log.
const MAX_NESTING: u8 = 4;

/// Decode every record of one input, detecting gzip from the magic bytes.
pub fn decode_reader<R: Read>(reader: R, on_event: &mut dyn FnMut(Event<'_>)) -> DecodeStats {
    decode_reader_reusing(reader, &mut DecodeScratch::default(), on_event)
}

/// The buffers and inflater one decoding thread keeps from input to input: a worker decoding thousands of
/// small objects reuses them instead of allocating and zeroing fresh ones per object.
#[derive(Default)]
pub struct DecodeScratch {
    /// The framer's buffer; also where a whole input is inflated.
    frame: Vec<u8>,
    /// A whole compressed input; its length is how much is initialized, not how much was read (see
    /// [`read_up_to`]).
    compressed: Vec<u8>,
    inflater: Option<GzipInflater>,
}

/// Compressed inputs up to this size are read whole and inflated in one call ([`inflate`]); larger ones
/// stream, so a multi-GB export never sits in memory.
pub const WHOLE_INPUT_BYTES: usize = 8 << 20;
/// The most a whole input may inflate to; past it the input streams instead.
pub const WHOLE_OUTPUT_BYTES: usize = 64 << 20;

/// [`decode_reader`] with a caller-kept [`DecodeScratch`].
///
/// The input's first bytes, which tell its compression, are read straight into the scratch buffer that holds a
/// whole compressed object: a separate head buffer cost a zero-filled allocation per object (std fills a new
/// buffer before its first read, as our readers have no `read_buf`).
pub fn decode_reader_reusing<R: Read>(
    mut reader: R,
    scratch: &mut DecodeScratch,
    on_event: &mut dyn FnMut(Event<'_>),
) -> DecodeStats {
    let mut compressed = std::mem::take(&mut scratch.compressed);
    let (n, error) = read_up_to(&mut reader, &mut compressed, WHOLE_INPUT_BYTES + 1);
    let read = &compressed[..n];
    // A read error is replayed after the bytes that arrived, so whatever decoded before it stands and the
    // failure is reported where it happened (and the source is retried, as a transport failure).
    let rest = match error {
        None => Rest::Unread(reader),
        Some(e) => Rest::Failed(FailedRead(Some(e))),
    };
    let stats = match (detect_compression(read), rest) {
        (Compression::Gzip, Rest::Unread(_)) if n <= WHOLE_INPUT_BYTES => decode_whole_gzip(read, scratch, on_event),
        // Too large to hold, or cut short: stream what was read, then the rest.
        (Compression::Gzip, rest) => {
            decode_plain(MultiGzDecoder::new(read.chain(BufReader::new(rest))), &mut scratch.frame, on_event)
        }
        (Compression::None, rest) => decode_plain(read.chain(rest), &mut scratch.frame, on_event),
    };
    scratch.compressed = compressed;
    stats
}

/// What follows the bytes of an input read up front: the rest of the input, or the read error that ended it.
enum Rest<R> {
    Unread(R),
    Failed(FailedRead),
}

impl<R: Read> Read for Rest<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Rest::Unread(reader) => reader.read(buf),
            Rest::Failed(failed) => failed.read(buf),
        }
    }
}

/// A whole gzip input, inflated in one call when it is sound and small enough; otherwise streamed.
fn decode_whole_gzip(
    compressed: &[u8],
    scratch: &mut DecodeScratch,
    on_event: &mut dyn FnMut(Event<'_>),
) -> DecodeStats {
    let inflater = scratch.inflater.get_or_insert_with(GzipInflater::new);
    let mut whole = std::mem::take(&mut scratch.frame);
    match inflater.inflate_all(compressed, &mut whole, WHOLE_OUTPUT_BYTES) {
        Ok(()) => decode_framed(Framer::whole(whole), &mut scratch.frame, on_event),
        Err(_) => {
            scratch.frame = whole;
            decode_plain(MultiGzDecoder::new(compressed), &mut scratch.frame, on_event)
        }
    }
}

/// Read into `buffer` until the input ends or `limit` bytes have arrived; return how many arrived, and the
/// error that stopped the read early, if one did (the bytes before it are kept).
///
/// `buffer`'s length is how much of it is initialized, not how much was read: a buffer reused from input to
/// input is zeroed once, when it grows. `read_to_end` zeroes the spare capacity again for every input when the
/// reader has no `read_buf` (ours have none), which cost a memset per object.
fn read_up_to(reader: &mut impl Read, buffer: &mut Vec<u8>, limit: usize) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            if filled >= limit {
                return (filled, None);
            }
            let grow = buffer.len().max(64 << 10).min(limit - filled);
            buffer.resize(filled + grow, 0);
        }
        let end = buffer.len().min(limit);
        match reader.read(&mut buffer[filled..end]) {
            Ok(0) => return (filled, None),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
}

/// A reader that fails with a read error already met, once, then reads as empty.
struct FailedRead(Option<io::Error>);

impl Read for FailedRead {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

/// Decode an uncompressed stream, framing it in `buffer` (handed back afterwards for reuse).
pub fn decode_plain<R: Read>(reader: R, buffer: &mut Vec<u8>, on_event: &mut dyn FnMut(Event<'_>)) -> DecodeStats {
    decode_framed(Framer::with_buffer(reader, std::mem::take(buffer)), buffer, on_event)
}

/// Decode what a framer frames; its buffer is handed back in `buffer` for reuse.
fn decode_framed<R: Read>(
    mut framer: Framer<R>,
    buffer: &mut Vec<u8>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> DecodeStats {
    let mut stats = DecodeStats::default();
    let mut count = |event: Event<'_>, stats: &mut DecodeStats| {
        match &event {
            Event::Record(..) => stats.records += 1,
            Event::Reject(..) => stats.rejects += 1,
        }
        on_event(event);
    };
    loop {
        if let Some(candidate) = framer.line_candidate() {
            let bytes = framer.candidate_bytes(&candidate);
            let location = Location { position: candidate.position, item: None };
            if decode_record_line(bytes, location, &mut |e| count(e, &mut stats)) {
                framer.accept(candidate);
                continue;
            }
            framer.decline(candidate);
        }
        let Some(frame) = framer.next_frame() else { break };
        match &frame {
            Frame::Value { position, .. } => {
                let bytes = framer.bytes(&frame);
                let location = Location { position: *position, item: None };
                decode_value_or_lines(bytes, location, &mut |e| count(e, &mut stats));
            }
            Frame::Garbage { position, reason, .. } => {
                let bytes = framer.bytes(&frame);
                let location = Location { position: *position, item: None };
                if memchr::memchr(b'\n', bytes.trim_ascii()).is_some() {
                    // A broken multi-line value: the good lines inside it may be whole records.
                    decode_lines(bytes, *position, reason, &mut |e| count(e, &mut stats));
                } else {
                    count(Event::Reject(reject(location, reason.clone(), bytes)), &mut stats);
                }
            }
        }
    }
    stats.bytes = framer.bytes_consumed;
    let read_error = framer.take_error();
    *buffer = framer.into_buffer();
    if let Some(e) = read_error {
        stats.read_error = Some(e.kind());
        // The stream ended early. Whatever was decoded before stands; the loss itself is recorded.
        let location = Location { position: Position { line: 0, offset: stats.bytes }, item: None };
        count(
            Event::Reject(reject(
                location,
                format!("input is truncated or corrupt after {} decompressed bytes: {e}", stats.bytes),
                b"",
            )),
            &mut stats,
        );
    }
    stats
}

/// The fast path: a line that is exactly one record becomes a row (or a record-level reject) with no framing
/// scan. Returns false, having emitted nothing, for anything else (a pretty-printed first line, two values on
/// a line, an export wrapper, broken JSON), which the framer then handles the careful way.
fn decode_record_line(line: &[u8], location: Location, on_event: &mut dyn FnMut(Event<'_>)) -> bool {
    let Ok(text) = json::utf8(trim_json_whitespace_end(line)) else { return false };
    let Ok(record) = WireRecord::parse(text) else { return false };
    if !record.looks_like_record() {
        return false;
    }
    match record.into_invocation() {
        Ok(mut invocation) => on_event(Event::Record(&mut invocation, location, text)),
        Err(e) => on_event(Event::Reject(reject(location, e.to_string(), text.as_bytes()))),
    }
    true
}

fn decode_value_or_lines(bytes: &[u8], location: Location, on_event: &mut dyn FnMut(Event<'_>)) {
    let multiline = memchr::memchr(b'\n', bytes).is_some();
    let broken = if multiline { serde_json::from_slice::<serde::de::IgnoredAny>(bytes).err() } else { None };
    match broken {
        Some(e) => decode_lines(bytes, location.position, &format!("invalid JSON: {e}"), on_event),
        None => decode_value(bytes, location, 0, on_event),
    }
}

/// Retry a broken multi-line region line by line; consecutive bad lines become one reject.
fn decode_lines(bytes: &[u8], start: Position, reason: &str, on_event: &mut dyn FnMut(Event<'_>)) {
    let mut offset = start.offset;
    let mut bad: Option<(Position, usize, usize)> = None; // (position, start index, end index)
    let mut index = 0usize;
    let flush_bad = |bad: &mut Option<(Position, usize, usize)>, on_event: &mut dyn FnMut(Event<'_>)| {
        if let Some((position, s, e)) = bad.take() {
            let text = &bytes[s..e];
            // A single line gets its own diagnosis; a run of continuation lines keeps the region's.
            let own_reason = if text.trim_ascii().contains(&b'\n') { reason.to_string() } else { line_reason(text) };
            on_event(Event::Reject(reject(Location { position, item: None }, own_reason, text)));
        }
    };
    for (line_no, line) in (start.line..).zip(bytes.split_inclusive(|&b| b == b'\n')) {
        let position = Position { line: line_no, offset };
        let trimmed = trim_json_whitespace(line);
        let is_good = trimmed.first().is_some_and(|&b| b == b'{' || b == b'[')
            && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok();
        if is_good {
            flush_bad(&mut bad, on_event);
            decode_value(trimmed, Location { position, item: None }, 0, on_event);
        } else if !trimmed.is_empty() {
            // Indented lines and closing brackets continue a broken pretty-printed value; anything else starting
            // at column 0 is a line of its own (NDJSON), rejected on its own.
            let continues =
                line.first().is_some_and(|&b| b.is_ascii_whitespace() || matches!(b, b'}' | b']' | b'"' | b','));
            match &mut bad {
                Some((_, _, e)) if continues => *e = index + line.len(),
                _ => {
                    flush_bad(&mut bad, on_event);
                    bad = Some((position, index, index + line.len()));
                }
            }
        }
        index += line.len();
        offset += line.len() as u64;
    }
    flush_bad(&mut bad, on_event);
}

/// Why one line is not a record.
fn line_reason(line: &[u8]) -> String {
    let trimmed = line.trim_ascii();
    if !trimmed.first().is_some_and(|&b| b == b'{' || b == b'[') {
        return "not JSON".to_string();
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(trimmed) {
        Err(e) if e.is_eof() => format!("truncated JSON: {e}"),
        Err(e) => format!("invalid JSON: {e}"),
        Ok(_) => "invalid JSON".to_string(),
    }
}

/// A reject of `bytes` (trailing JSON whitespace dropped), keeping at most [`MAX_REJECT_RAW`] of them: as text,
/// and also as base64 when they are not UTF-8, so nothing of what was kept is lost to the lossy conversion.
pub fn reject(location: Location, reason: String, bytes: &[u8]) -> Reject {
    let bytes = trim_json_whitespace_end(bytes);
    let mut kept = &bytes[..bytes.len().min(MAX_REJECT_RAW)];
    if kept.len() < bytes.len()
        && let Err(e) = std::str::from_utf8(kept)
        && e.error_len().is_none()
    {
        // Only the cut split a character: end before it, so UTF-8 text stays UTF-8.
        kept = &kept[..e.valid_up_to()];
    }
    let (raw, raw_base64) = match json::utf8(kept) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (String::from_utf8_lossy(kept).into_owned(), Some(base64(kept))),
    };
    let raw_len = (kept.len() < bytes.len()).then_some(bytes.len() as u64);
    Reject { location, reason, raw, raw_len, raw_base64 }
}

/// Standard base64 with padding (RFC 4648, section 4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |w, (i, &b)| w | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(word >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Export wrapper keys, read only when an object is not itself a record.
#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow, default)]
    events: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "@message")]
    at_message: Option<&'a RawValue>,
}

/// Decode one complete JSON value (record, wrapper or array).
fn decode_value(bytes: &[u8], location: Location, depth: u8, on_event: &mut dyn FnMut(Event<'_>)) {
    let text = match json::utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return on_event(Event::Reject(reject(location, format!("invalid UTF-8: {e}"), bytes)));
        }
    };
    let first = text.trim_start().as_bytes().first().copied();
    if depth > MAX_NESTING {
        return on_event(Event::Reject(reject(location, "nested too deeply to be a log export".into(), bytes)));
    }
    match first {
        Some(b'[') => match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    let loc = Location { item: Some(location.item.unwrap_or(i as u64)), ..location };
                    decode_value(item.get().as_bytes(), loc, depth + 1, on_event);
                }
            }
            Err(e) => on_event(Event::Reject(reject(location, format!("invalid JSON: {e}"), bytes))),
        },
        Some(b'{') => decode_object(text, location, depth, on_event),
        Some(b'"') => match serde_json::from_str::<Cow<str>>(text) {
            // A message field holding the record as a JSON string (CloudWatch exports).
            Ok(inner) if matches!(inner.trim_start().as_bytes().first(), Some(b'{' | b'[' | b'"')) => {
                decode_value(inner.as_bytes(), location, depth + 1, on_event)
            }
            Ok(inner) => on_event(Event::Reject(reject(
                location,
                "message is not JSON: a log event's message must hold the log record as a JSON object".into(),
                inner.as_bytes(),
            ))),
            Err(e) => on_event(Event::Reject(reject(location, format!("invalid JSON: {e}"), bytes))),
        },
        _ => on_event(Event::Reject(reject(
            location,
            "not a model invocation log record: not a JSON object".into(),
            bytes,
        ))),
    }
}

fn decode_object(text: &str, location: Location, depth: u8, on_event: &mut dyn FnMut(Event<'_>)) {
    // Too deep to be a record, measured from this object; but a wrapper's levels do not count toward the limit
    // (a record is judged from its own text), so a wrapper holding a record at the limit is still unwrapped.
    let too_deep = match WireRecord::parse(text) {
        Ok(record) if record.looks_like_record() => {
            match record.into_invocation() {
                Ok(mut invocation) => on_event(Event::Record(&mut invocation, location, text)),
                Err(e) => on_event(Event::Reject(reject(location, e.to_string(), text.as_bytes()))),
            }
            return;
        }
        Ok(_) => None,
        Err(WireError::Syntax(e)) if e.is_too_deep() => Some(e),
        Err(e) => return on_event(Event::Reject(reject(location, e.to_string(), text.as_bytes()))),
    };
    let wrapper: Wrapper = match serde_json::from_str(text) {
        Ok(w) => w,
        Err(e) => {
            return on_event(Event::Reject(reject(location, format!("invalid JSON: {e}"), text.as_bytes())));
        }
    };
    if let Some(e) = too_deep
        && wrapper.events.is_none()
        && wrapper.at_message.or(wrapper.message).is_none()
    {
        return on_event(Event::Reject(reject(location, WireError::Syntax(e).to_string(), text.as_bytes())));
    }
    if let Some(events) = wrapper.events {
        for (i, event) in events.into_iter().enumerate() {
            let loc = Location { item: Some(i as u64), ..location };
            decode_value(event.get().as_bytes(), loc, depth + 1, on_event);
        }
    } else if let Some(message) = wrapper.at_message.or(wrapper.message) {
        decode_value(message.get().as_bytes(), location, depth + 1, on_event);
    } else {
        on_event(Event::Reject(reject(
            location,
            "not a model invocation log record: no requestId".into(),
            text.as_bytes(),
        )));
    }
}

/// Read everything from a reader into the callback; used by tests and small inputs.
pub fn decode_bytes(bytes: &[u8], on_event: &mut dyn FnMut(Event<'_>)) -> DecodeStats {
    decode_reader(io::Cursor::new(bytes), on_event)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn records(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!("{{\"requestId\":\"r-{i}\",\"timestamp\":\"2025-11-02T10:00:00Z\",\"modelId\":\"m\",\"pad\":\"{}\"}}\n", "x".repeat(200))
                    .into_bytes()
            })
            .collect()
    }

    fn gzip(data: &[u8], level: flate2::Compression) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn count(input: impl Read, scratch: &mut DecodeScratch) -> (DecodeStats, usize) {
        let mut rows = 0;
        let stats = decode_reader_reusing(input, scratch, &mut |e| rows += usize::from(matches!(e, Event::Record(..))));
        (stats, rows)
    }

    /// Small objects are inflated whole, larger ones stream; both read every record, with one scratch reused.
    #[test]
    fn whole_and_streamed_inputs_decode_alike() {
        let (small_text, large_text) = (records(1000), records(40_000));
        let large = gzip(&large_text, flate2::Compression::none());
        assert!(large.len() > WHOLE_INPUT_BYTES, "stored blocks keep it over the whole-input limit");
        let small = gzip(&small_text, flate2::Compression::default());
        let mut scratch = DecodeScratch::default();
        for (input, text, want) in
            [(&small, &small_text, 1000), (&large, &large_text, 40_000), (&small, &small_text, 1000)]
        {
            let (stats, rows) = count(input.as_slice(), &mut scratch);
            assert_eq!((rows, stats.records, stats.rejects), (want, want as u64, 0));
            assert_eq!(stats.bytes, text.len() as u64);
        }
    }

    /// `read_up_to` stops at the end or at the limit, keeps what arrived before an error, and a reused buffer's
    /// old bytes never leak into a shorter input's count.
    #[test]
    fn reads_stop_at_the_end_or_the_limit() {
        /// Hands out its chunks in order (a read never crosses into the next chunk), errors included.
        struct Chunks(std::collections::VecDeque<io::Result<Vec<u8>>>);
        impl Read for Chunks {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some(next) = self.0.pop_front() else { return Ok(0) };
                let mut chunk = next?;
                let n = buf.len().min(chunk.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                chunk.drain(..n);
                if !chunk.is_empty() {
                    self.0.push_front(Ok(chunk));
                }
                Ok(n)
            }
        }
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut buffer = Vec::new();
        let interrupted = || Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
        let mut whole = Chunks([Ok(data[..70_000].to_vec()), interrupted(), Ok(data[70_000..].to_vec())].into());
        let (n, error) = read_up_to(&mut whole, &mut buffer, 300_000);
        assert_eq!((n, error.is_none()), (data.len(), true));
        assert_eq!(&buffer[..n], &data[..]);

        let mut short = Chunks([Ok(data[..10].to_vec())].into());
        let (n, error) = read_up_to(&mut short, &mut buffer, 300_000);
        assert_eq!((n, error.is_none(), &buffer[..n]), (10, true, &data[..10]));

        let mut long = Chunks([Ok(data.clone())].into());
        let (n, error) = read_up_to(&mut long, &mut buffer, 150_001);
        assert_eq!((n, error.is_none()), (150_001, true));
        let mut rest = Vec::new();
        long.read_to_end(&mut rest).unwrap();
        assert_eq!([&buffer[..n], &rest[..]].concat(), data, "the reader goes on where the limit stopped it");

        let mut failing = Chunks([Ok(data[..5000].to_vec()), Err(io::Error::other("reset"))].into());
        let (n, error) = read_up_to(&mut failing, &mut buffer, 300_000);
        assert_eq!((n, error.map(|e| e.to_string())), (5000, Some("reset".to_string())));
        assert_eq!(&buffer[..n], &data[..5000]);
    }

    /// A transport failure part way through an object: what arrived is decoded, and the failure keeps its kind
    /// so the source is retried rather than recorded as done.
    #[test]
    fn transport_failure_keeps_what_arrived_and_is_reported() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "peer went away"));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let whole = gzip(&records(2000), flate2::Compression::default());
        let (stats, rows) = count(Failing(&whole[..whole.len() / 2]), &mut DecodeScratch::default());
        assert!(rows > 0 && rows < 2000, "rows {rows}");
        assert_eq!(stats.read_error, Some(io::ErrorKind::ConnectionReset));
        assert!(stats.failed_in_transport());
        // Failing before the first byte is a transport failure too (the source is retried, not recorded as done),
        // for plain and gzip inputs alike.
        let plain = records(3);
        for input in [&whole[..], &plain[..]] {
            for arrived in [0, 1, 5] {
                let (stats, rows) = count(Failing(&input[..arrived]), &mut DecodeScratch::default());
                assert_eq!(
                    (rows, stats.read_error),
                    (0, Some(io::ErrorKind::ConnectionReset)),
                    "after {arrived} bytes"
                );
                assert!(stats.failed_in_transport());
            }
        }
    }

    /// A small deterministic generator (xorshift64), so a failing case is reproduced by its round number.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Real records and sample logs (plain text), the seeds of the mutated inputs.
    fn seed_texts() -> Vec<Vec<u8>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = Vec::new();
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("tests/data/real"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.push(root.join("sample-logs/cloudwatch/us-east-1/filter-log-events-2025-12-30.json"));
        for f in files {
            seeds.push(std::fs::read(f).unwrap());
        }
        let s3 = root.join("sample-logs/s3/AWSLogs");
        let mut stack = vec![s3];
        let mut gz = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else if p.extension().is_some_and(|e| e == "gz") {
                    gz.push(p)
                }
            }
        }
        gz.sort();
        for f in gz.iter().take(3) {
            let mut text = Vec::new();
            MultiGzDecoder::new(std::fs::read(f).unwrap().as_slice()).read_to_end(&mut text).unwrap();
            seeds.push(text);
        }
        seeds
    }

    /// One arbitrary input: random bytes, or a seed mutated a few times; gzipped (single or multi-member,
    /// sometimes damaged) or not.
    fn arbitrary_input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
        const JSONISH: &[u8] = b"{}[]\",:\\ \n\r\t0123456789-+.eEtrufalsn\x00\x1f\xff\xc3\xa9requestIdtimestamp";
        let text = if rng.below(4) == 0 {
            let len = rng.below(600);
            (0..len)
                .map(|_| if rng.below(3) == 0 { rng.next() as u8 } else { JSONISH[rng.below(JSONISH.len())] })
                .collect()
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            let start = if rng.below(3) == 0 { rng.below(seed.len()) } else { 0 };
            let end = (start + 1 + rng.below(20_000)).min(seed.len());
            let mut text = seed[start..end].to_vec();
            for _ in 0..rng.below(8) {
                let at = rng.below(text.len() + 1);
                match rng.below(6) {
                    0 if at < text.len() => {
                        text.remove(at);
                    }
                    1 if at < text.len() => text[at] = JSONISH[rng.below(JSONISH.len())],
                    2 => text.insert(at, JSONISH[rng.below(JSONISH.len())]),
                    3 => text.truncate(at),
                    4 => {
                        let other = &seeds[rng.below(seeds.len())];
                        let from = rng.below(other.len());
                        let piece = &other[from..(from + rng.below(400)).min(other.len())];
                        text.splice(at..at, piece.iter().copied());
                    }
                    _ if at < text.len() => text[at] = rng.next() as u8,
                    _ => {}
                }
            }
            text
        };
        match rng.below(4) {
            0 => {
                let mut gz = gzip(&text, flate2::Compression::fast());
                if rng.below(2) == 0 && !gz.is_empty() {
                    let at = rng.below(gz.len());
                    if rng.below(2) == 0 { gz.truncate(at) } else { gz[at] ^= 1 << rng.below(8) }
                }
                gz
            }
            1 => {
                let cut = rng.below(text.len() + 1);
                let mut gz = gzip(&text[..cut], flate2::Compression::fast());
                gz.extend(gzip(&text[cut..], flate2::Compression::fast()));
                gz
            }
            _ => text,
        }
    }

    fn unbase64(text: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(4) {
            let digits: Vec<u8> = chunk.iter().filter(|&&c| c != b'=').map(|&c| value(c)).collect();
            let word = digits.iter().enumerate().fold(0u32, |w, (i, &d)| w | u32::from(d) << (18 - 6 * i));
            out.extend((0..digits.len().saturating_sub(1)).map(|i| (word >> (16 - 8 * i)) as u8));
        }
        out
    }

    #[test]
    fn base64_round_trips() {
        let mut rng = Rng(7);
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert_eq!(unbase64(&base64(&bytes)), bytes, "{len} bytes");
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }

    /// The decoder over arbitrary bytes, gzip or not: it never panics, counts what it emits, gives every reject
    /// a reason, and accounts for every byte it read: each is part of a record or of a reject's text, or is
    /// whitespace or array punctuation between values.
    #[test]
    fn every_byte_is_ingested_or_rejected() {
        let seeds = seed_texts();
        let rounds: u64 = std::env::var("BEDROCK_SPEND_FUZZ_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3000);
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for round in 0..rounds {
            let input = arbitrary_input(&mut rng, &seeds);
            let mut events: Vec<(Location, Vec<u8>, bool)> = Vec::new();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                decode_bytes(&input, &mut |event| match event {
                    Event::Record(_, location, text) => events.push((location, text.as_bytes().to_vec(), true)),
                    Event::Reject(r) => {
                        assert!(!r.reason.is_empty(), "a reject without a reason: {r:?}");
                        let kept = r.raw_base64.as_deref().map_or_else(|| r.raw.clone().into_bytes(), unbase64);
                        assert!(
                            r.raw_len.is_none_or(|n| n > kept.len() as u64) && kept.len() <= MAX_REJECT_RAW,
                            "{r:?}"
                        );
                        events.push((r.location, kept, false));
                    }
                })
            }));
            let Ok(stats) = outcome else { panic!("round {round}: the decoder panicked on {input:?}") };
            let records = events.iter().filter(|e| e.2).count() as u64;
            assert_eq!((stats.records, stats.rejects), (records, events.len() as u64 - records), "round {round}");

            // What the decoder read: the input, or as much of its gzip as inflates.
            let mut plain = Vec::new();
            if detect_compression(&input) == Compression::Gzip {
                let _ = MultiGzDecoder::new(input.as_slice()).read_to_end(&mut plain);
            } else {
                plain = input.clone();
            }
            plain.truncate(stats.bytes as usize);
            // Values inside export wrappers are unescaped copies, not spans of the input: only the counts above
            // hold for them.
            if memchr::memmem::find(&plain, b"message\"").is_some()
                || memchr::memmem::find(&plain, b"\"events\"").is_some()
            {
                continue;
            }
            let mut covered = vec![false; plain.len()];
            // A byte-order mark opening the input is skipped by design.
            if plain.starts_with(&[0xEF, 0xBB, 0xBF]) {
                covered[..3].fill(true);
            }
            for (location, text, _) in &events {
                let from = (location.position.offset as usize).min(plain.len());
                if text.is_empty() {
                    continue;
                }
                let found = memchr::memmem::find(&plain[from..], text);
                let Some(at) = found else {
                    panic!(
                        "round {round}: event text {:?} not found at or after offset {from} of {:?}",
                        String::from_utf8_lossy(text),
                        String::from_utf8_lossy(&plain)
                    );
                };
                covered[from + at..from + at + text.len()].fill(true);
            }
            let lost: Vec<usize> = (0..plain.len())
                .filter(|&i| !covered[i] && !matches!(plain[i], b' ' | b'\t' | b'\n' | b'\r' | b'[' | b']' | b','))
                .collect();
            let shown: Vec<(u64, String)> =
                events.iter().map(|(l, t, _)| (l.position.offset, String::from_utf8_lossy(t).into_owned())).collect();
            assert!(
                lost.is_empty(),
                "round {round}: bytes {:?}.. ({:?}) neither ingested nor rejected in {:?}; events: {shown:?}",
                &lost[..lost.len().min(8)],
                lost.first().map(|&i| &plain[i.saturating_sub(4)..(i + 4).min(plain.len())]),
                String::from_utf8_lossy(&plain)
            );
        }
    }

    /// One nesting limit, whatever the layout: a record nested exactly [`MAX_DEPTH`] deep is ingested and one
    /// level deeper is rejected, on one line, pretty-printed over many, inside an array, and inside each
    /// CloudWatch wrapper (as an object, and as the JSON string a message holds).
    #[test]
    fn one_nesting_limit_in_every_layout() {
        use crate::ingest::json::MAX_DEPTH;
        // The record object and `input` are two levels; the body adds the rest.
        let record = |depth: usize, newline: &str| {
            let body = "[".repeat(depth - 2) + "1" + &"]".repeat(depth - 2);
            let body = if newline.is_empty() { body } else { body.replace('[', "[\n  ").replace(']', "\n]") };
            format!(
                "{{{newline}\"requestId\":\"r\",{newline}\"timestamp\":\"2025-11-02T10:00:00Z\",{newline}\"modelId\":\"m\",{newline}\"input\":{{\"inputBodyJson\":{body}}}{newline}}}"
            )
        };
        for depth in [3, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2, 1000, 1025, 5000] {
            let line = record(depth, "");
            let string = serde_json::to_string(&line).unwrap();
            let layouts = [
                ("one line", format!("{line}\n")),
                ("pretty-printed", record(depth, "\n")),
                ("in an array", format!("[{line}]")),
                ("in an array over lines", format!("[\n{}\n]", record(depth, "\n"))),
                ("events, message an object", format!("{{\"events\":[{{\"message\":{line}}}]}}")),
                ("events, message a string", format!("{{\"events\":[{{\"message\":{string}}}]}}")),
                ("logs insights row", format!("[{{\"@message\":{string}}}]")),
                ("after a broken line", format!("{{\"broken\":\n{line}\n")),
            ];
            let want = depth <= MAX_DEPTH;
            for (layout, input) in layouts {
                let mut verdicts = Vec::new();
                decode_bytes(input.as_bytes(), &mut |e| match e {
                    Event::Record(..) => verdicts.push(Ok(())),
                    Event::Reject(r) => verdicts.push(Err(r.reason)),
                });
                let ingested = verdicts.iter().any(Result::is_ok);
                assert_eq!(ingested, want, "depth {depth}, {layout}: {verdicts:?}");
                if !want {
                    assert!(
                        verdicts.iter().any(|v| v.as_ref().is_err_and(|r| r.contains("nested too deeply"))),
                        "depth {depth}, {layout}: {verdicts:?}"
                    );
                }
            }
        }
    }

    /// A CloudWatch event whose message is not JSON is rejected as such, with the message as its text; a value
    /// longer than the cap keeps its start and its length; invalid UTF-8 keeps its exact bytes.
    #[test]
    fn rejects_say_what_and_keep_the_text() {
        let rejects = |input: &[u8]| {
            let mut out = Vec::new();
            decode_bytes(input, &mut |e| {
                if let Event::Reject(r) = e {
                    out.push(r)
                }
            });
            out
        };
        let got = rejects(br#"{"events":[{"timestamp":1,"message":"START RequestId: 42 Version: $LATEST"}]}"#);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].reason.starts_with("message is not JSON"), "{got:?}");
        // The framer hands out the events one by one: the location is the event's own.
        assert_eq!(
            (got[0].raw.as_str(), got[0].location.position.offset),
            ("START RequestId: 42 Version: $LATEST", 11)
        );

        let long = format!("not json {}\n", "x".repeat(MAX_REJECT_RAW * 3));
        let got = rejects(long.as_bytes());
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].raw.len(), got[0].raw_len), (MAX_REJECT_RAW, Some(long.trim_end().len() as u64)));
        assert_eq!(got[0].raw.as_bytes(), &long.as_bytes()[..MAX_REJECT_RAW]);
        // A cut inside a character keeps the text UTF-8 (no base64 needed) and whole characters only.
        let wide = format!("{}\u{e9}\u{e9}\u{e9}\n", "y".repeat(MAX_REJECT_RAW - 1));
        let got = rejects(wide.as_bytes());
        assert_eq!((got[0].raw.len(), got[0].raw_base64.is_none()), (MAX_REJECT_RAW - 1, true), "{:?}", got[0].raw_len);

        let bytes = b"{\"requestId\": \"\xff\xfe\x80\", broken\n";
        let got = rejects(bytes);
        assert_eq!(got.len(), 1, "{got:?}");
        let kept = got[0].raw_base64.as_deref().map(unbase64);
        assert_eq!(kept.as_deref(), Some(&bytes[..bytes.len() - 1]), "the bytes exactly, newline trimmed");
        assert!(got[0].raw.contains('\u{fffd}'), "{got:?}");
    }
}
