//! Builds the DataFusion session behind [`super::Session`]: the warehouse as `invocations`, the estate tables,
//! the price book as `prices`, `provisioned_prices` and `price_settings`, the SQL functions (`long_context_floor`
//! built from the book's thresholds), and the views in `queries/views/` (`invocation_keys`, `usage_costs` over it,
//! then `invocation_costs`, which reads both, and `request_groups`).

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::optimizer::analyzer::{Analyzer, type_coercion::TypeCoercion};
use datafusion::prelude::SessionContext;

use super::Error;
use crate::aws::{AwsOptions, S3Location};
use crate::pricing::Pricing;
use crate::store::schema::{FILE_SCHEMA, PARTITION_COLUMN};

/// The views, created in this order when a session starts.
pub const VIEWS: &[(&str, &str)] = &[
    ("invocation_keys", include_str!("../../queries/views/invocation_keys.sql")),
    ("usage_costs", include_str!("../../queries/views/usage_costs.sql")),
    ("invocation_costs", include_str!("../../queries/views/invocation_costs.sql")),
];

/// The view of requests grouped by caller and minute: a plain query with a parameter (`$metadata_keys`), bound
/// when the view is created (see [`register_request_groups`]).
pub const REQUEST_GROUPS: (&str, &str) = ("request_groups", include_str!("../../queries/views/request_groups.sql"));

/// (Re)create `request_groups`, splitting by the request-metadata `keys` (at most three; none is the default). The
/// keys are bound as a parameter, never spliced into the SQL text.
pub async fn register_request_groups(ctx: &SessionContext, keys: &[String]) -> Result<(), Error> {
    let (name, sql) = REQUEST_GROUPS;
    let view_err = |source| Error::View { name, source };
    let keys = datafusion::scalar::ScalarValue::Utf8(Some(keys.join(",")));
    let plan = ctx
        .sql(sql)
        .await
        .and_then(|df| df.with_param_values(vec![("metadata_keys", keys)]))
        .map_err(view_err)?
        .into_unoptimized_plan();
    // Type coercion first, as `CREATE VIEW` does: the view's declared schema (which a period's rows held in memory
    // take on) must have the nullability the engine derives when it plans the view's query.
    let plan = Analyzer::with_rules(vec![Arc::new(TypeCoercion::new())])
        .execute_and_check(plan, &datafusion::config::ConfigOptions::default(), |_, _| {})
        .map_err(view_err)?;
    let view = datafusion::catalog::view::ViewTable::new(plan, Some(sql.to_string()));
    ctx.deregister_table(name).map_err(view_err)?;
    ctx.register_table(name, Arc::new(view)).map_err(view_err)?;
    Ok(())
}

/// Register every table, function and view on `ctx`. The warehouse must exist: a read never creates one, so a
/// mistyped path is an error rather than an empty warehouse answering $0.
/// A warehouse `s3://BUCKET/PREFIX` is read through the object store built by [`crate::aws::warehouse_store`]
/// from `aws` (the command's `--profile`, `--region`, `--endpoint-url`, then the environment, as for every AWS
/// call).
pub async fn register_all(
    ctx: &SessionContext,
    warehouse_root: &Path,
    pricing: &Pricing,
    aws: &AwsOptions,
) -> Result<(), Error> {
    match warehouse_root.to_str().and_then(S3Location::parse) {
        Some(location) => register_remote(ctx, &location, aws).await?,
        None => register_local(ctx, warehouse_root)?,
    }
    for function in super::functions::all() {
        ctx.register_udf(function);
    }
    register_prices(ctx, pricing)?;
    for (name, sql) in VIEWS {
        ctx.sql(sql).await.map_err(|source| Error::View { name, source })?;
    }
    register_request_groups(ctx, &[]).await
}

fn register_local(ctx: &SessionContext, warehouse_root: &Path) -> Result<(), Error> {
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
    let url = |dir: &Path| format!("{}/", dir.canonicalize().unwrap_or(dir.to_path_buf()).display());
    register_invocations(ctx, &url(&invocations))?;
    use crate::store::estate::table_dir;
    for table in ESTATE_TABLES {
        let dir = table_dir(warehouse_root, table);
        register_estate(ctx, table, dir.is_dir().then(|| url(&dir)))?;
    }
    Ok(())
}

/// The warehouse at `s3://bucket/prefix`: its object store, wrapped in the snapshot reader, serves `s3://bucket`.
async fn register_remote(ctx: &SessionContext, location: &S3Location, aws: &AwsOptions) -> Result<(), Error> {
    use datafusion::object_store::ObjectStoreExt;
    use datafusion::object_store::path::Path as ObjectPath;
    let url = format!("s3://{}/{}", location.bucket, location.prefix.trim_end_matches('/'));
    let url = url.trim_end_matches('/').to_string();
    let register_err = |source| Error::Register { table: "invocations", path: url.clone(), source };
    let external = |e: datafusion::object_store::Error| datafusion::error::DataFusionError::ObjectStore(Box::new(e));
    let store = crate::aws::warehouse_store(aws, &location.bucket).await.map_err(|e| register_err(external(e)))?;
    let root = ObjectPath::from(location.prefix.trim_matches('/'));
    // A read never creates a warehouse: the marker every writer leaves tells an empty one from a mistyped URL.
    match store.head(&root.clone().join(crate::store::warehouse::WAREHOUSE_MARKER)).await {
        Ok(_) => {}
        Err(datafusion::object_store::Error::NotFound { .. }) => return Err(Error::NoWarehouse { path: url.clone() }),
        Err(e) => return Err(register_err(external(e))),
    }
    let bucket_url = datafusion::execution::object_store::ObjectStoreUrl::parse(format!("s3://{}", location.bucket))
        .map_err(register_err)?;
    crate::store::snapshot::register_remote(&ctx.runtime_env(), &bucket_url, store.clone(), root.clone());
    register_invocations(ctx, &format!("{url}/invocations/"))?;
    for table in ESTATE_TABLES {
        let dir = root.clone().join("estate").join(table);
        let listed = store.list_with_delimiter(Some(&dir)).await.map_err(|e| register_err(external(e)))?;
        register_estate(ctx, table, (!listed.objects.is_empty()).then(|| format!("{url}/estate/{table}/")))?;
    }
    Ok(())
}

const ESTATE_TABLES: [&str; 2] = ["provisioned_throughputs", "inference_profiles"];

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

/// Register `provisioned_throughputs` or `inference_profiles` over its directory (given as a URL ending in `/`),
/// or as an empty table until `ingest auto` has written its snapshots.
fn register_estate(ctx: &SessionContext, table: &'static str, dir: Option<String>) -> Result<(), Error> {
    use crate::store::estate::{PROFILES_SCHEMA, PROVISIONED_SCHEMA};
    let schema = if table == "inference_profiles" { &*PROFILES_SCHEMA } else { &*PROVISIONED_SCHEMA };
    let path = dir.clone().unwrap_or_else(|| table.to_string());
    let provider: Arc<dyn datafusion::catalog::TableProvider> = match &dir {
        Some(url) => Arc::new(listing(table, url, schema.clone(), false)?),
        None => {
            let empty = MemTable::try_new(schema.clone(), vec![vec![]]).map_err(|source| Error::Register {
                table,
                path: path.clone(),
                source,
            })?;
            Arc::new(empty)
        }
    };
    ctx.register_table(table, provider).map_err(|source| Error::Register { table, path, source })?;
    Ok(())
}

/// Register the `invocations` listing table over its directory's URL (ending in `/`). The schema is given, not
/// inferred, so an empty warehouse is queryable and every file is read with the same types.
fn register_invocations(ctx: &SessionContext, url: &str) -> Result<(), Error> {
    let table = listing("invocations", url, query_schema(), true)?;
    ctx.register_table("invocations", Arc::new(table)).map_err(|source| Error::Register {
        table: "invocations",
        path: url.to_string(),
        source,
    })?;
    Ok(())
}

fn listing(table: &'static str, url_text: &str, schema: SchemaRef, partitioned: bool) -> Result<ListingTable, Error> {
    let err = |source| Error::Register { table, path: url_text.to_string(), source };
    let url = ListingTableUrl::parse(url_text).map_err(err)?;
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
