//! Builds the DataFusion session with the warehouse registered as the `invocations` table.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::store::schema::{FILE_SCHEMA, PARTITION_COLUMN};

/// Errors building the query session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot register the invocations table at {path}")]
    Register { path: String, source: DataFusionError },
    #[error("no named query {0:?} (see `bedrock-spend query --list`)")]
    UnknownQuery(String),
    #[error("query failed: {sql}")]
    Execute { sql: String, source: DataFusionError },
}

/// A session with `invocations` registered over `WAREHOUSE/invocations`, partition-pruned on `day`.
pub async fn session(warehouse_root: &Path) -> Result<SessionContext, Error> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    register_invocations(&ctx, warehouse_root).await?;
    Ok(ctx)
}

/// Register the `invocations` listing table. The schema is given, not inferred, so an empty warehouse is
/// queryable and every file is read with the same types.
pub async fn register_invocations(ctx: &SessionContext, warehouse_root: &Path) -> Result<(), Error> {
    let dir = warehouse_root.join("invocations");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Register { path: dir.display().to_string(), source: e.into() })?;
    let url_text = format!("{}/", dir.canonicalize().unwrap_or(dir.clone()).display());
    let err = |source| Error::Register { path: url_text.clone(), source };
    let url = ListingTableUrl::parse(&url_text).map_err(err)?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Date32)]);
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(FILE_SCHEMA.clone());
    let table = ListingTable::try_new(config).map_err(err)?;
    ctx.register_table("invocations", Arc::new(table)).map_err(err)?;
    Ok(())
}
