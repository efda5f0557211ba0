//! Query: DataFusion over the warehouse and the price book. Builds the session and registers the tables;
//! the SQL itself (named queries and the cost view) lives in `queries/`.

pub mod catalog;
pub mod context;
pub mod functions;

use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

pub use context::{Error, PriceInputs};

/// How a statement may run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Permit statements that write files or register outside data (`COPY`, `CREATE EXTERNAL TABLE`, `INSERT`).
    pub allow_write: bool,
}

/// Plan one statement with named parameters (`$name`) bound as strings; engines coerce them to the column type.
pub async fn plan(
    ctx: &SessionContext,
    sql: &str,
    params: &[(String, String)],
    options: RunOptions,
) -> Result<datafusion::prelude::DataFrame, Error> {
    let sql_options = SQLOptions::new()
        .with_allow_ddl(options.allow_write)
        .with_allow_dml(options.allow_write)
        .with_allow_statements(true);
    let err = |source| Error::Execute { sql: sql.to_string(), source };
    let df = ctx.sql_with_options(sql, sql_options).await.map_err(|e| match e {
        // DataFusion's own wording when SQLOptions refuses a statement; any other planning error is reported as is.
        datafusion::error::DataFusionError::Plan(msg)
            if !options.allow_write
                && (msg.starts_with("DDL not supported") || msg.starts_with("DML not supported")) =>
        {
            Error::ReadOnly(msg)
        }
        other => err(other),
    })?;
    if params.is_empty() {
        return Ok(df);
    }
    let map = params.iter().map(|(k, v)| (k.clone(), ScalarValue::Utf8(Some(v.clone())).into())).collect();
    df.with_param_values(ParamValues::Map(map)).map_err(err)
}

/// Run one statement and collect the result.
pub async fn run_sql(
    warehouse_root: &Path,
    prices: &PriceInputs,
    sql: &str,
    params: &[(String, String)],
    options: RunOptions,
) -> Result<Vec<RecordBatch>, Error> {
    let ctx = context::session(warehouse_root, prices).await?;
    let df = plan(&ctx, sql, params, options).await?;
    df.collect().await.map_err(|source| Error::Execute { sql: sql.to_string(), source })
}

/// Run a named query from `queries/`, checking that every parameter it uses was given.
pub async fn run_named(
    warehouse_root: &Path,
    prices: &PriceInputs,
    name: &str,
    params: &[(String, String)],
) -> Result<Vec<RecordBatch>, Error> {
    let query = catalog::find(name).ok_or_else(|| Error::UnknownQuery(name.to_string()))?;
    for needed in catalog::parameters(query.sql) {
        if !params.iter().any(|(k, _)| *k == needed) {
            return Err(Error::MissingParam { query: name.to_string(), name: needed });
        }
    }
    run_sql(warehouse_root, prices, query.sql, params, RunOptions::default()).await
}
