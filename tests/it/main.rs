//! The one integration-test binary (each file in `tests/` would link its own 250 MB binary).

mod aws;
mod bench;
mod ingest;
mod pricing;
mod readers;
mod util;
