//! Store: the Parquet warehouse. Owns the `invocations` table (its row type [`row::Invocation`], its schema, the
//! Arrow builder that turns rows into batches), the file layout, atomic writes, the dedupe index, the manifest of
//! ingested sources, rejects and compaction, and the estate tables. It knows nothing of JSON or AWS and imports
//! nothing from `ingest` or `query`, which sit above it: a type both layers need lives here.

pub mod batch;
pub mod estate;
pub mod files;
pub mod lease;
pub mod parquet;
pub mod row;
pub mod schema;
pub mod snapshot;
pub mod symlink;
pub mod warehouse;
