//! Builds the DataFusion session: the warehouse as `invocations`, the price book as `prices`,
//! `provisioned_prices` and `price_settings`, and the views in `queries/views/` (`usage_costs`, then
//! `invocation_costs`, which reads it).

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::pricing;
use crate::store::schema::{FILE_SCHEMA, PARTITION_COLUMN};

/// Errors building the query session or running a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot register the invocations table at {path}")]
    Register { path: String, source: DataFusionError },
    #[error(transparent)]
    Pricing(#[from] pricing::Error),
    #[error("cannot create view {name}")]
    View { name: &'static str, source: DataFusionError },
    #[error("no named query {0:?} (see `bedrock-spend query --list`)")]
    UnknownQuery(String),
    #[error("query {query} needs parameter ${name} (pass --param {name}=VALUE)")]
    MissingParam { query: String, name: String },
    #[error("{0} (pass --allow-write to permit statements that write or register outside data)")]
    ReadOnly(String),
    #[error("query failed: {sql}")]
    Execute { sql: String, source: DataFusionError },
}

/// Where prices come from for one session.
#[derive(Debug, Clone)]
pub struct PriceInputs {
    /// Text of the price sheet (the bundled one unless `--price-book` names another).
    pub prices_csv: String,
    /// Where it came from, for error messages.
    pub prices_origin: String,
    pub provisioned_csv: String,
    /// Private-pricing / EDP discount in percent, as typed (decimal text, parsed exactly).
    pub discount_pct: String,
}

impl Default for PriceInputs {
    fn default() -> Self {
        PriceInputs {
            prices_csv: pricing::BUNDLED_PRICES.to_string(),
            prices_origin: "bundled pricing/bedrock-prices.csv".to_string(),
            provisioned_csv: pricing::BUNDLED_PROVISIONED.to_string(),
            discount_pct: "0".to_string(),
        }
    }
}

/// The views, created in this order when a session starts.
pub const VIEWS: &[(&str, &str)] = &[
    ("usage_costs", include_str!("../../queries/views/usage_costs.sql")),
    ("invocation_costs", include_str!("../../queries/views/invocation_costs.sql")),
];

/// A session over the warehouse with prices and views registered.
pub async fn session(warehouse_root: &Path, prices: &PriceInputs) -> Result<SessionContext, Error> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    // Readers see one generation of each day while a writer compacts (see `store::snapshot`).
    crate::store::snapshot::register(&ctx.runtime_env(), warehouse_root).map_err(|e| Error::Register {
        path: warehouse_root.display().to_string(),
        source: DataFusionError::External(Box::new(e)),
    })?;
    for function in super::functions::all() {
        ctx.register_udf(function);
    }
    register_invocations(&ctx, warehouse_root).await?;
    register_estate(&ctx, warehouse_root).await?;
    register_prices(&ctx, prices)?;
    for (name, sql) in VIEWS {
        ctx.sql(sql).await.map_err(|source| Error::View { name, source })?;
    }
    Ok(ctx)
}

/// Register `prices`, `provisioned_prices` and `price_settings`.
pub fn register_prices(ctx: &SessionContext, prices: &PriceInputs) -> Result<(), Error> {
    let book = pricing::parse_price_book(&prices.prices_csv, &prices.prices_origin)?;
    let tables = [
        ("prices", book.to_record_batch()?),
        ("provisioned_prices", pricing::provisioned_batch(&prices.provisioned_csv, "provisioned prices")?),
        ("price_settings", pricing::settings_batch(&prices.discount_pct)?),
    ];
    for (name, batch) in tables {
        ctx.register_batch(name, batch).map_err(|source| Error::Register { path: name.to_string(), source })?;
    }
    Ok(())
}

/// Register `provisioned_throughputs` and `inference_profiles` (empty until `ingest auto` discovers them).
pub async fn register_estate(ctx: &SessionContext, warehouse_root: &Path) -> Result<(), Error> {
    use crate::store::estate::{PROFILES_SCHEMA, PROVISIONED_SCHEMA, table_dir};
    for (table, schema) in
        [("provisioned_throughputs", &*PROVISIONED_SCHEMA), ("inference_profiles", &*PROFILES_SCHEMA)]
    {
        let dir = table_dir(warehouse_root, table);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Register { path: dir.display().to_string(), source: e.into() })?;
        let url_text = format!("{}/", dir.canonicalize().unwrap_or(dir.clone()).display());
        let err = |source| Error::Register { path: url_text.clone(), source };
        let url = ListingTableUrl::parse(&url_text).map_err(err)?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema.clone());
        let listing = ListingTable::try_new(config).map_err(err)?;
        ctx.register_table(table, Arc::new(listing)).map_err(err)?;
    }
    Ok(())
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
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(query_schema());
    let table = ListingTable::try_new(config).map_err(err)?;
    ctx.register_table("invocations", Arc::new(table)).map_err(err)?;
    Ok(())
}

/// The schema queries read the files with: the file schema with its text columns as `Utf8View`. The Parquet
/// reader decodes straight into views, and grouping, hashing and comparing views (whose first bytes sit inline)
/// is cheaper than plain strings: the summary views group ten million rows by model id and Region.
fn query_schema() -> arrow::datatypes::SchemaRef {
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
