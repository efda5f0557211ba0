//! The scanning floor of the record walk: how long validating each record line as JSON takes on its own, with
//! nothing extracted, next to the UTF-8 check that precedes it in ingest. It tells how much of ingest's CPU per
//! record a faster scanner (a structural index, SIMD of any width) could ever save.
//!
//! Usage: `scan_floor <file.jsonl> [passes]`, on decompressed JSON lines (e.g. `zcat` of generated logs). Lines
//! that are not valid JSON are left out. Prints the best pass of each step, per line and in GB/s.

use std::time::Instant;

use bedrock_spend::ingest::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("missing <file.jsonl>")?;
    let passes: usize = args.next().map(|p| p.parse()).transpose()?.unwrap_or(7);
    let data = std::fs::read(&path)?;
    let lines: Vec<&[u8]> =
        data.split(|&b| b == b'\n').filter(|l| !l.is_empty() && json::validate(l).is_ok()).collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut best = [f64::MAX; 2];
    for _ in 0..passes.max(1) {
        let start = Instant::now();
        let valid = lines.iter().filter(|l| json::utf8(l).is_ok()).count();
        best[0] = best[0].min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let parsed = lines.iter().filter(|l| json::validate(l).is_ok()).count();
        best[1] = best[1].min(start.elapsed().as_secs_f64());
        if valid != lines.len() || parsed != lines.len() {
            return Err("a line changed its verdict between passes".into());
        }
    }
    println!("{} lines, {:.1} MB, best of {} passes, one thread", lines.len(), bytes as f64 / 1e6, passes.max(1));
    for (step, seconds) in ["utf8 check", "JSON validation"].iter().zip(best) {
        let per_line = seconds * 1e9 / lines.len().max(1) as f64;
        println!("{step:16} {per_line:7.0} ns/line  {:6.2} GB/s", bytes as f64 / 1e9 / seconds);
    }
    Ok(())
}
