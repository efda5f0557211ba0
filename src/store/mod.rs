//! Store: the Parquet warehouse. Owns the `invocations` schema, the file layout, atomic writes, the dedupe
//! index, the manifest of ingested sources, rejects and compaction. It knows nothing of JSON or AWS.

pub mod batch;
pub mod estate;
pub mod parquet;
pub mod schema;
pub mod snapshot;
pub mod warehouse;
