//! bedrock-spend: what your Amazon Bedrock usage costs, why, and how to pay less.
//!
//! The modules mirror the pipeline: [`ingest`] (sources to rows) → [`store`] (the Parquet warehouse) →
//! [`query`] (DataFusion SQL over it). [`generate`] writes realistic synthetic logs for the demo, tests and
//! benchmarks; [`cli`] is the command line. Only `ingest::source`, `store` file writes, `cli` and `main`
//! touch the filesystem or the clock.

pub mod aws;
pub mod cli;
pub mod config;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod pricing;
pub mod query;
pub mod recommend;
pub mod store;

pub use error::Error;
