//! bedrock-spend: what your Amazon Bedrock usage costs, why, and how to pay less.
//!
//! The modules mirror the pipeline, each layer importing only the ones below it:
//!
//! - [`ingest`]: sources to rows. [`ingest::plan`] decides what a run reads, [`ingest::sources`] lists and opens
//!   local files, S3 objects and CloudWatch windows, [`ingest::decode`] frames bytes into JSON values,
//!   [`ingest::json`] is the JSON engine, [`ingest::record`] reads the log record and derives the row.
//! - [`store`]: the Parquet warehouse: the row type ([`store::row`]), its schema and Arrow builder, files,
//!   manifest, rejects, and the estate tables.
//! - [`pricing`] (the price book as exact decimal tables) and [`query`] (DataFusion SQL over the warehouse; the
//!   SQL itself lives in `queries/`).
//! - Next, each in a folder of its own: `recommend/` (rules over query results), `report/` (the monthly report),
//!   `notify/` (delivery, e.g. email) and `export/` (FinOps exports).
//!
//! Beside the pipeline: [`model_id`] (the model-id normalizer that ingest, query and discovery share), [`money`]
//! (dollars as people read them, for the report, the recommendations and the demo), [`aws`]
//! (SDK set-up and clients, and [`aws::discover`], the one place that asks the Bedrock control plane anything),
//! [`generate`] (realistic synthetic logs for the demo, tests and benchmarks), [`config`], [`error`], and [`cli`]
//! (the command line). Only `ingest::sources`, `ingest::plan`, `aws`, `pricing::sync::fetch`, `store` file writes,
//! `cli` and `main` touch the network, the filesystem or the clock.

pub mod aws;
pub mod cli;
pub mod config;
pub mod ddl;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod model_id;
pub mod money;
pub mod notify;
pub mod output_file;
pub mod pricing;
pub mod query;
pub mod recommend;
pub mod report;
pub mod store;

pub use error::Error;
