//! The crate error, gathering each module's errors, and the exit code a scheduler sees.

use std::process::ExitCode;

/// Every error a command can end with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ingest(#[from] crate::ingest::Error),
    #[error(transparent)]
    Warehouse(#[from] crate::store::warehouse::Error),
    #[error(transparent)]
    List(#[from] crate::ingest::sources::local::ListError),
    #[error(transparent)]
    Plan(#[from] crate::ingest::plan::Error),
    #[error(transparent)]
    Query(#[from] crate::query::Error),
    #[error(transparent)]
    Ddl(#[from] crate::ddl::Error),
    #[error(transparent)]
    Generate(#[from] crate::generate::Error),
    #[error(transparent)]
    Pricing(#[from] crate::pricing::Error),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    S3(#[from] crate::ingest::sources::s3::Error),
}

/// How a command ended, for the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything succeeded (duplicates skipped count as success).
    Ok,
    /// The command finished but some items failed (records rejected, objects unreadable).
    Partial,
}

impl Outcome {
    /// 0 for success, 1 for a partial success.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Partial => ExitCode::from(1),
        }
    }
}

impl Error {
    /// Fatal errors exit with 2.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(2)
    }
}
