//! The decompression floor for `scripts/bench`: read and gunzip the same files with the same decompressor
//! the ingester uses (whole objects through libdeflate, as `ingest::decode` does, streaming flate2 over
//! zlib-rs for any it refuses), on the same number of threads, and do nothing else. No ingester can be faster
//! than this on the same machine.
//!
//! Usage: `decompress_floor <threads> <file-list>`, where the list holds paths separated by NUL bytes.
//! Prints the decompressed byte count.

use std::io::Read;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bedrock_spend::ingest::decode::inflate::GzipInflater;
use bedrock_spend::ingest::decode::{WHOLE_INPUT_BYTES, WHOLE_OUTPUT_BYTES};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().ok_or("missing <threads>")?.parse()?;
    let list = std::fs::read(args.next().ok_or("missing <file-list>")?)?;
    let paths: Vec<&[u8]> = list.split(|&b| b == 0).filter(|p| !p.is_empty()).collect();
    let next = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> std::io::Result<()> {
                    let mut inflater = GzipInflater::new();
                    let (mut compressed, mut whole) = (Vec::new(), Vec::new());
                    let mut buffer = vec![0u8; 256 << 10];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { return Ok(()) };
                        let path = std::path::Path::new(std::str::from_utf8(path).map_err(std::io::Error::other)?);
                        compressed.clear();
                        std::fs::File::open(path)?.read_to_end(&mut compressed)?;
                        if compressed.len() <= WHOLE_INPUT_BYTES
                            && inflater.inflate_all(&compressed, &mut whole, WHOLE_OUTPUT_BYTES).is_ok()
                        {
                            total.fetch_add(whole.len() as u64, Ordering::Relaxed);
                            continue;
                        }
                        let mut gz = flate2::bufread::MultiGzDecoder::new(compressed.as_slice());
                        loop {
                            let n = gz.read(&mut buffer)?;
                            if n == 0 {
                                break;
                            }
                            total.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().map_err(|_| std::io::Error::other("thread panicked"))?)
    })?;
    println!("{}", total.load(Ordering::Relaxed));
    Ok(())
}
