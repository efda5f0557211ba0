//! The one integration-test binary (each file in `tests/` would link its own 250 MB binary).
#![allow(clippy::disallowed_methods)] // Tests are an edge: they read the clock to make recent CloudWatch events.

mod aws;
mod bench;
mod engines;
mod ingest;
mod pricing;
mod pricing_sync;
mod query;
mod readers;
mod recommend;
mod report;
mod s3_warehouse;
mod util;
