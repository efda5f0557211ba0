//! Builds the DataFusion session behind [`super::Session`]: the warehouse as `invocations`, the estate tables,
//! the price book as `prices`, `provisioned_prices` and `price_settings`, the SQL functions (`long_context_floor`
//! built from the book's thresholds), and the views in `queries/views/` (`usage_costs`, then `invocation_costs`,
//! which reads it).

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::Error;
use crate::pricing::Pricing;
use crate::store::schema::{FILE_SCHEMA, PARTITION_COLUMN};

/// The views, created in this order when a session starts.
pub const VIEWS: &[(&str, &str)] = &[
    ("usage_costs", include_str!("../../queries/views/usage_costs.sql")),
    ("invocation_costs", include_str!("../../queries/views/invocation_costs.sql")),
];

/// Register every table, function and view on `ctx`. The warehouse must exist: a read never creates one, so a
/// mistyped path is an error rather than an empty warehouse answering $0.
pub async fn register_all(ctx: &SessionContext, warehouse_root: &Path, pricing: &Pricing) -> Result<(), Error> {
    let invocations = warehouse_root.join("invocations");
    if !invocations.is_dir() {
        return Err(Error::NoWarehouse { path: warehouse_root.display().to_string() });
    }
    // Readers see one generation of each day while a writer compacts (see `store::snapshot`).
    crate::store::snapshot::register(&ctx.runtime_env(), warehouse_root).map_err(|e| Error::Register {
        table: "invocations",
        path: warehouse_root.display().to_string(),
        source: datafusion::error::DataFusionError::External(Box::new(e)),
    })?;
    for function in super::functions::all() {
        ctx.register_udf(function);
    }
    register_invocations(ctx, &invocations)?;
    register_estate(ctx, warehouse_root)?;
    register_prices(ctx, pricing)?;
    for (name, sql) in VIEWS {
        ctx.sql(sql).await.map_err(|source| Error::View { name, source })?;
    }
    Ok(())
}

/// Register `prices`, `provisioned_prices` and `price_settings` from the parsed book, and the function that bands
/// requests by the book's long-context thresholds.
fn register_prices(ctx: &SessionContext, pricing: &Pricing) -> Result<(), Error> {
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(super::long_context::LongContextFloor::new(
        pricing.book.long_context_thresholds(),
    )));
    let tables = [
        ("prices", pricing.book.to_record_batch()?),
        ("provisioned_prices", pricing.provisioned.clone()),
        ("price_settings", pricing.discount.to_record_batch()?),
    ];
    for (name, batch) in tables {
        ctx.register_batch(name, batch).map_err(|source| Error::Register { table: name, path: name.into(), source })?;
    }
    Ok(())
}

/// Register `provisioned_throughputs` and `inference_profiles`: empty tables until `ingest auto` has written
/// their snapshots.
fn register_estate(ctx: &SessionContext, warehouse_root: &Path) -> Result<(), Error> {
    use crate::store::estate::{PROFILES_SCHEMA, PROVISIONED_SCHEMA, table_dir};
    for (table, schema) in
        [("provisioned_throughputs", &*PROVISIONED_SCHEMA), ("inference_profiles", &*PROFILES_SCHEMA)]
    {
        let dir = table_dir(warehouse_root, table);
        let provider: Arc<dyn datafusion::catalog::TableProvider> = if dir.is_dir() {
            Arc::new(listing(table, &dir, schema.clone(), false)?)
        } else {
            let empty = MemTable::try_new(schema.clone(), vec![vec![]]).map_err(|source| Error::Register {
                table,
                path: dir.display().to_string(),
                source,
            })?;
            Arc::new(empty)
        };
        ctx.register_table(table, provider).map_err(|source| Error::Register {
            table,
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Register the `invocations` listing table. The schema is given, not inferred, so an empty warehouse is
/// queryable and every file is read with the same types.
fn register_invocations(ctx: &SessionContext, dir: &Path) -> Result<(), Error> {
    let table = listing("invocations", dir, query_schema(), true)?;
    ctx.register_table("invocations", Arc::new(table)).map_err(|source| Error::Register {
        table: "invocations",
        path: dir.display().to_string(),
        source,
    })?;
    Ok(())
}

fn listing(table: &'static str, dir: &Path, schema: SchemaRef, partitioned: bool) -> Result<ListingTable, Error> {
    let url_text = format!("{}/", dir.canonicalize().unwrap_or(dir.to_path_buf()).display());
    let err = |source| Error::Register { table, path: url_text.clone(), source };
    let url = ListingTableUrl::parse(&url_text).map_err(err)?;
    let mut options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if partitioned {
        options = options.with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Date32)]);
    }
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    ListingTable::try_new(config).map_err(err)
}

/// The schema queries read the files with: the file schema with its text columns as `Utf8View`. The Parquet
/// reader decodes straight into views, and grouping, hashing and comparing views (whose first bytes sit inline)
/// is cheaper than plain strings: the summary views group ten million rows by model id and Region.
fn query_schema() -> SchemaRef {
    let fields: Vec<arrow::datatypes::FieldRef> = FILE_SCHEMA
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => f.clone(),
        })
        .collect();
    Arc::new(arrow::datatypes::Schema::new_with_metadata(fields, FILE_SCHEMA.metadata().clone()))
}
