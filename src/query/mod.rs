//! Query: DataFusion over the warehouse. Builds the session and registers the tables; SQL lives in `queries/`.

pub mod catalog;
pub mod context;

use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;

pub use context::Error;

/// Run one SQL statement over the warehouse with named parameters (`$name`), collecting the result.
pub async fn run_sql(warehouse_root: &Path, sql: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, Error> {
    let ctx = context::session(warehouse_root).await?;
    let err = |source| Error::Execute { sql: sql.to_string(), source };
    let mut df = ctx.sql(sql).await.map_err(err)?;
    if !params.is_empty() {
        let map = params.iter().map(|(k, v)| (k.to_string(), ScalarValue::Utf8(Some(v.to_string())).into())).collect();
        df = df.with_param_values(ParamValues::Map(map)).map_err(err)?;
    }
    df.collect().await.map_err(err)
}

/// Run a named query from `queries/`.
pub async fn run_named(warehouse_root: &Path, name: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, Error> {
    let query = catalog::find(name).ok_or_else(|| Error::UnknownQuery(name.to_string()))?;
    run_sql(warehouse_root, query.sql, params).await
}
