//! Query: the one typed door to the warehouse. A [`Session`] is built once per process from the warehouse, a
//! parsed price book and the discount; it runs named queries from `queries/` with typed parameters and a
//! [`Period`], and returns typed rows ([`rows`]) with money as exact decimals, or, for `sql` and `query`, a
//! stream of Arrow batches to print. All SQL text, the cost rules included, lives in `queries/`; this module
//! registers tables, views and functions and binds parameters. It knows nothing of ingest or the CLI.

pub mod catalog;
mod context;
pub mod functions;
pub mod long_context;
pub mod period;
mod period_cache;
pub mod rows;
mod session;
pub mod token_costs;

use datafusion::error::DataFusionError;

pub use context::VIEWS;
pub use period::{Period, PeriodError};
pub use rows::{Decimal, TypedQuery};
pub use session::{CachedView, ParamValue, Params, ResultStream, RunOptions, Session, SessionOptions, Statement};

/// Errors opening a session or running a query; each names the warehouse, view, query or statement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no warehouse at {path} (run `bedrock-spend ingest` to create one, or pass --warehouse)")]
    NoWarehouse { path: String },
    #[error("cannot register the {table} table at {path}")]
    Register { table: &'static str, path: String, source: DataFusionError },
    #[error(transparent)]
    Pricing(#[from] crate::pricing::Error),
    #[error("cannot create view {name}")]
    View { name: &'static str, source: DataFusionError },
    #[error("no named query {0:?} (see `bedrock-spend query --list`)")]
    UnknownQuery(String),
    #[error("query {query} needs parameter ${name} (pass --param {name}=VALUE)")]
    MissingParam { query: String, name: String },
    #[error("{0} (pass --allow-write to permit statements that write or register outside data)")]
    ReadOnly(String),
    #[error(
        "query ran out of memory: {message} (the limit is {limit_bytes} bytes; raise it with --memory-limit, \
         or narrow the query)"
    )]
    MemoryLimit { limit_bytes: usize, message: String },
    #[error("query failed: {query}")]
    Execute { query: String, source: DataFusionError },
    #[error(transparent)]
    Decode(#[from] rows::DecodeError),
}

impl Error {
    /// Classify an error from planning or running `query` (a name or the statement's text).
    pub fn execution(query: &str, limit_bytes: usize, source: DataFusionError) -> Error {
        match source.find_root() {
            DataFusionError::ResourcesExhausted(message) => {
                Error::MemoryLimit { limit_bytes, message: message.clone() }
            }
            _ => Error::Execute { query: query.to_string(), source },
        }
    }
}
