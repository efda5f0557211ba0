//! Whole-buffer gzip inflate with libdeflate: the fast path for inputs small enough to hold in memory (S3 log
//! objects are tens of KB compressed).
//!
//! Why not only flate2: a streaming inflater decodes through a state machine that must be able to stop
//! anywhere, and hands its output through the framer's read buffer in chunks. libdeflate decodes a whole member
//! straight into the buffer the framer then reads; on the 1M-record ingest profile inflate went from about 17%
//! to about 12% of CPU (BENCHMARKS.md, round 4). The streaming decoder stays for large inputs and for every
//! input this path refuses (corrupt, truncated, trailing garbage): it reads up to the broken byte and reports
//! where, so the records before the damage are kept exactly as before.

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// Why a buffer was not inflated here (the caller then streams it instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not whole, valid gzip: corrupt, truncated, or followed by bytes that are not another member.
    NotWholeGzip,
    /// The output would pass the caller's limit.
    TooLarge,
    /// libdeflate could not allocate its decompressor.
    NoDecompressor,
}

/// A libdeflate decompressor, reused from input to input by one thread.
pub struct GzipInflater {
    decompressor: Option<NonNull<libdeflate_decompressor>>,
}

// SAFETY: a libdeflate decompressor is plain memory used by one call at a time; `&mut self` on every use keeps
// calls from overlapping, so moving it to another thread is sound.
unsafe impl Send for GzipInflater {}

impl Default for GzipInflater {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipInflater {
    pub fn new() -> Self {
        // SAFETY: no preconditions; a null result (out of memory) is handled as "no decompressor".
        GzipInflater { decompressor: NonNull::new(unsafe { libdeflate_alloc_decompressor() }) }
    }

    /// Inflate every gzip member of `input`, one after another, into `out` (cleared first), writing at most
    /// `limit` bytes. On refusal `out` holds nothing meaningful.
    pub fn inflate_all(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Refused> {
        let decompressor = self.decompressor.ok_or(Refused::NoDecompressor)?;
        out.clear();
        // The trailer's ISIZE is the exact size of a last (usually only) member; a first guess for the others.
        let trailer_size = input
            .len()
            .checked_sub(4)
            .and_then(|at| input.get(at..))
            .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize);
        let mut offset = 0;
        while offset < input.len() {
            let member = &input[offset..];
            let mut room = trailer_size.max(member.len().saturating_mul(4)).max(64 << 10);
            loop {
                room = room.min(limit.saturating_sub(out.len()));
                out.try_reserve(room).map_err(|_| Refused::TooLarge)?;
                let (mut used_in, mut used_out) = (0usize, 0usize);
                // SAFETY: `member` is a live slice of `member.len()` bytes; `out` has at least `room` bytes of
                // spare capacity after its length (reserved above), which libdeflate only writes, never reads;
                // both counts are written through valid pointers to locals.
                let result: libdeflate_result = unsafe {
                    libdeflate_gzip_decompress_ex(
                        decompressor.as_ptr(),
                        member.as_ptr().cast(),
                        member.len(),
                        out.as_mut_ptr().add(out.len()).cast(),
                        room,
                        &mut used_in,
                        &mut used_out,
                    )
                };
                if result == libdeflate_result_LIBDEFLATE_SUCCESS && used_in > 0 && used_out <= room {
                    // SAFETY: libdeflate initialized exactly `used_out` bytes after the old length, within the
                    // reserved capacity (checked above).
                    unsafe { out.set_len(out.len() + used_out) };
                    offset += used_in;
                    break;
                }
                if result != libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE {
                    return Err(Refused::NotWholeGzip);
                }
                if out.len() + room >= limit {
                    return Err(Refused::TooLarge);
                }
                room = room.saturating_mul(2);
            }
        }
        Ok(())
    }
}

impl Drop for GzipInflater {
    fn drop(&mut self) {
        if let Some(decompressor) = self.decompressor.take() {
            // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once (taken out of the option).
            unsafe { libdeflate_free_decompressor(decompressor.as_ptr()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    const LIMIT: usize = 64 << 20;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn streamed(input: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(input).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn members_inflate_as_the_streaming_decoder_reads_them() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes()).collect();
        let one = gzip(&text);
        // Three members, the first two larger than the last one's trailer says: the guess must grow.
        let many = [gzip(&text), gzip(&text[..1000]), gzip(b"{}\n")].concat();
        let mut inflater = GzipInflater::new();
        let mut out = Vec::new();
        for input in [&one, &many] {
            inflater.inflate_all(input, &mut out, LIMIT).unwrap();
            assert_eq!(out, streamed(input).unwrap());
        }
        assert_eq!(out.len(), text.len() + 1000 + 3);
    }

    #[test]
    fn damage_and_size_are_refused_for_the_streaming_path() {
        let whole = gzip(&b"{\"requestId\":\"a\"}\n".repeat(10_000));
        let mut inflater = GzipInflater::new();
        let mut out = Vec::new();
        let truncated = &whole[..whole.len() / 2];
        assert_eq!(inflater.inflate_all(truncated, &mut out, LIMIT), Err(Refused::NotWholeGzip));
        let trailing = [whole.as_slice(), b"garbage"].concat();
        assert_eq!(inflater.inflate_all(&trailing, &mut out, LIMIT), Err(Refused::NotWholeGzip));
        assert!(streamed(&trailing).is_err(), "the streaming decoder reports trailing garbage too");
        let mut flipped = whole.clone();
        flipped[whole.len() / 3] ^= 0xff;
        assert!(inflater.inflate_all(&flipped, &mut out, LIMIT).is_err());
        assert_eq!(inflater.inflate_all(&whole, &mut out, 1000), Err(Refused::TooLarge));
        inflater.inflate_all(&whole, &mut out, LIMIT).unwrap();
        assert_eq!(out.len(), 180_000, "the inflater is still usable after refusals");
    }
}
