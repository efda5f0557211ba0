//! [`Session`]: one DataFusion context per process over the warehouse and the price book, with a memory pool, so
//! a runaway query fails with a clear error instead of being killed, and every named query runs with typed
//! parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;

use super::period_cache::{self, PeriodCached};
use super::rows::{Columns, DataDay, TypedQuery, UnpricedTotals, WarehouseExtent};
use super::{Error, Period, catalog, context};
use crate::pricing::Pricing;

/// A view the session can hold in memory for a period ([`Session::cache_period`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachedView {
    /// `usage_costs`: the requests grouped by what decides their price, and their costs.
    UsageCosts,
    /// `request_groups`: the requests grouped by caller, minute and the pricing grain.
    RequestGroups,
}

impl CachedView {
    fn name(self) -> &'static str {
        match self {
            CachedView::UsageCosts => "usage_costs",
            CachedView::RequestGroups => "request_groups",
        }
    }

    fn label(self) -> &'static str {
        match self {
            CachedView::UsageCosts => "usage_costs (cached for the period)",
            CachedView::RequestGroups => "request_groups (cached for the period)",
        }
    }

    /// Whether every group of the view lies within one day (the day is part of its grain), so that it can be
    /// computed day by day. `usage_costs`' grain has the day too, but it is small: one pass is cheaper.
    fn groups_within_a_day(self) -> bool {
        self == CachedView::RequestGroups
    }
}

/// How a session runs queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Bytes the query engine may hold for joins, aggregations and sorts before it spills or fails.
    pub memory_limit_bytes: usize,
    /// How a warehouse in S3 is reached (credentials, Region, endpoint); unused for a local one.
    pub aws: crate::aws::AwsOptions,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { memory_limit_bytes: default_memory_limit(), aws: crate::aws::AwsOptions::default() }
    }
}

/// Half of the machine's physical memory (4 GiB where it cannot be read): room for the largest honest query,
/// while a runaway one (an accidental cross join) fails with a clear error before the kernel kills the process.
pub fn default_memory_limit() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    total.map_or(4 << 30, |bytes| bytes / 2)
}

/// How a statement may run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Permit statements that write files or register outside data (`COPY`, `CREATE EXTERNAL TABLE`, `INSERT`).
    pub allow_write: bool,
}

/// A parameter value, bound to `$name` in a statement (never pasted into its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Text(String),
    Date(NaiveDate),
    Int(i64),
}

impl ParamValue {
    fn to_scalar(&self) -> ScalarValue {
        match self {
            ParamValue::Text(s) => ScalarValue::Utf8(Some(s.clone())),
            ParamValue::Date(d) => {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                ScalarValue::Date32(Some((*d - epoch).num_days() as i32))
            }
            ParamValue::Int(i) => ScalarValue::Int64(Some(*i)),
        }
    }

    fn as_date(&self) -> Option<NaiveDate> {
        match self {
            ParamValue::Date(d) => Some(*d),
            ParamValue::Text(s) => super::period::parse_day(s).ok(),
            ParamValue::Int(_) => None,
        }
    }
}

/// Named parameters for a statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params::default()
    }

    /// `$since` and `$until` from the window, and `$month` (`YYYY-MM`) when it is a calendar month.
    pub fn period(mut self, period: &Period) -> Params {
        self.values.insert("since".into(), ParamValue::Date(period.since()));
        self.values.insert("until".into(), ParamValue::Date(period.until()));
        if let Some(month) = period.month_label() {
            self.values.insert("month".into(), ParamValue::Text(month));
        }
        self
    }

    /// Bind `$name` to text.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Params {
        self.values.insert(name.to_string(), ParamValue::Text(value.into()));
        self
    }

    /// Bind `$name` to an integer.
    pub fn int(mut self, name: &str, value: i64) -> Params {
        self.values.insert(name.to_string(), ParamValue::Int(value));
        self
    }

    /// Parameters as typed on a command line (`--param since=2025-11-01`); the SQL casts them.
    pub fn from_pairs(pairs: &[(String, String)]) -> Params {
        let values = pairs.iter().map(|(k, v)| (k.clone(), ParamValue::Text(v.clone()))).collect();
        Params { values }
    }

    /// The window these parameters select, when they name one (`$month`, or `$since` and `$until`).
    pub fn implied_period(&self) -> Option<Period> {
        if let Some(ParamValue::Text(month)) = self.values.get("month") {
            return Period::parse_month(month).ok();
        }
        let since = self.values.get("since")?.as_date()?;
        let until = self.values.get("until")?.as_date()?;
        Period::new(since, until).ok()
    }

    fn bind(&self, df: DataFrame, only: Option<&[String]>) -> Result<DataFrame, datafusion::error::DataFusionError> {
        let map: std::collections::HashMap<_, _> = self
            .values
            .iter()
            .filter(|(k, _)| only.is_none_or(|names| names.contains(k)))
            .map(|(k, v)| (k.clone(), v.to_scalar().into()))
            .collect();
        if map.is_empty() {
            return Ok(df);
        }
        df.with_param_values(ParamValues::Map(map))
    }
}

/// A planned statement, ready to stream.
pub struct Statement {
    df: DataFrame,
    label: String,
    tables: BTreeSet<String>,
    limit_bytes: usize,
}

impl Statement {
    /// Whether the statement reads a cost view, so its money needs the unpriced-usage note beside it.
    pub fn reads_costs(&self) -> bool {
        self.tables.contains("usage_costs") || self.tables.contains("invocation_costs")
    }

    /// The tables and views the statement names.
    pub fn tables(&self) -> &BTreeSet<String> {
        &self.tables
    }

    /// The result's columns.
    pub fn schema(&self) -> arrow::datatypes::SchemaRef {
        Arc::new(self.df.schema().as_arrow().clone())
    }

    /// The query name or statement text, for errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Start running: batches arrive as the engine produces them, so the whole result is never held.
    pub async fn stream(self) -> Result<ResultStream, Error> {
        let (label, limit_bytes) = (self.label, self.limit_bytes);
        match self.df.execute_stream().await {
            Ok(inner) => Ok(ResultStream { inner, label, limit_bytes }),
            Err(e) => Err(Error::execution(&label, limit_bytes, e)),
        }
    }
}

/// A running statement's batches; errors arrive typed, naming the statement.
pub struct ResultStream {
    inner: SendableRecordBatchStream,
    label: String,
    limit_bytes: usize,
}

impl ResultStream {
    /// The next batch, or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<arrow::array::RecordBatch, Error>> {
        let item = self.inner.next().await?;
        Some(item.map_err(|e| Error::execution(&self.label, self.limit_bytes, e)))
    }
}

/// One query session per process: tables, views and functions registered once, the price book parsed once.
/// Cloning is cheap (the engine's state is shared), so a statement can run on a task of its own.
#[derive(Clone)]
pub struct Session {
    ctx: SessionContext,
    warehouse: PathBuf,
    price_origin: String,
    limit_bytes: usize,
    /// The request-metadata keys `request_groups` splits by now (see [`Session::group_by_metadata`]).
    group_keys: Arc<tokio::sync::Mutex<Vec<String>>>,
}

impl Session {
    /// Open a session over an existing warehouse (a read never creates one).
    pub async fn open(warehouse: &Path, pricing: &Pricing, options: SessionOptions) -> Result<Session, Error> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(options.memory_limit_bytes, 1.0)
            .build_arc()
            .map_err(|source| Error::Register { table: "runtime", path: String::new(), source })?;
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        context::register_all(&ctx, warehouse, pricing, &options.aws).await?;
        Ok(Session {
            ctx,
            warehouse: warehouse.to_path_buf(),
            price_origin: pricing.book.origin.clone(),
            limit_bytes: options.memory_limit_bytes,
            group_keys: Arc::default(),
        })
    }

    /// The warehouse this session reads.
    pub fn warehouse(&self) -> &Path {
        &self.warehouse
    }

    /// Where the price book came from.
    pub fn price_origin(&self) -> &str {
        &self.price_origin
    }

    /// Plan a statement with its parameters bound. Statements that write are refused unless allowed.
    pub async fn statement(&self, sql: &str, params: &Params, options: RunOptions) -> Result<Statement, Error> {
        self.plan(sql, sql, params, None, options).await
    }

    /// Plan a named query from `queries/`, checking that every parameter it uses is bound.
    pub async fn named(&self, name: &str, params: &Params) -> Result<Statement, Error> {
        let query = catalog::find(name).ok_or_else(|| Error::UnknownQuery(name.to_string()))?;
        let needed = catalog::parameters(query.sql);
        if let Some(missing) = needed.iter().find(|n| !params.values.contains_key(*n)) {
            return Err(Error::MissingParam { query: name.to_string(), name: missing.clone() });
        }
        self.plan(query.sql, name, params, Some(&needed), RunOptions::default()).await
    }

    /// Run the named query that produces `R` and decode its rows.
    pub async fn rows<R: TypedQuery>(&self, params: &Params) -> Result<Vec<R>, Error> {
        let mut stream = self.named(R::QUERY, params).await?.stream().await?;
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            out.extend(R::decode(&Columns::new(R::QUERY, &batch?))?);
        }
        Ok(out)
    }

    /// The first and last day with data.
    pub async fn extent(&self) -> Result<WarehouseExtent, Error> {
        let rows = self.rows::<WarehouseExtent>(&Params::new()).await?;
        Ok(rows.into_iter().next().unwrap_or(WarehouseExtent { first_day: None, last_day: None, requests: 0 }))
    }

    /// Split `request_groups` by these request-metadata keys (at most three; `[recommend] batch_group_by_metadata`)
    /// from now on. The view is created anew, dropping any rows held for it; the same keys again do nothing.
    pub async fn group_by_metadata(&self, keys: &[String]) -> Result<(), Error> {
        let mut current = self.group_keys.lock().await;
        if current.as_slice() == keys {
            return Ok(());
        }
        context::register_request_groups(&self.ctx, keys).await?;
        *current = keys.to_vec();
        Ok(())
    }

    /// Keep `view`'s rows over `period` in memory for the rest of this session: commands that read the same period
    /// many times (the report, the recommender) compute it once instead of once per read. Reads of other days still
    /// go to the view (see [`super::period_cache`]). Asking again for a period already held does nothing.
    pub async fn cache_period(&self, view: CachedView, period: &Period) -> Result<(), Error> {
        let name = view.name();
        let registered = |source| Error::Register { table: name, path: String::new(), source };
        // Held across the computation: a concurrent `group_by_metadata` must not replace `request_groups` between
        // reading the view and installing its rows.
        let _keys = self.group_keys.lock().await;
        let inner = self.ctx.table_provider(name).await.map_err(registered)?;
        let provider: &dyn std::any::Any = inner.as_ref();
        if provider.downcast_ref::<PeriodCached>().is_some_and(|held| held.holds(period)) {
            return Ok(());
        }
        let label = view.label();
        let limit = self.limit_bytes;
        let day = |d: NaiveDate| datafusion::prelude::lit(ScalarValue::Date32(Some(period_cache::date32(d))));
        let rows_of = |since: NaiveDate, until: NaiveDate| async move {
            let filter =
                datafusion::prelude::col("day").gt_eq(day(since)).and(datafusion::prelude::col("day").lt(day(until)));
            let df = self.ctx.table(name).await.and_then(|df| df.filter(filter));
            let batches = match df {
                Ok(df) => df.collect().await,
                Err(e) => Err(e),
            };
            batches.map_err(|e| Error::execution(label, limit, e))
        };
        let batches = if view.groups_within_a_day() {
            // One day at a time (two at once, for both cores): the view's groups never span two days, so this is
            // the same rows, and the engine's hash tables hold one day's groups instead of the whole period's (at
            // 10M records a month, about 800 MB for the month at once).
            let days = self.rows::<DataDay>(&Params::new().period(period)).await?;
            let per_day = futures::stream::iter(days.iter().map(|d| rows_of(d.day, d.day.succ_opt().unwrap_or(d.day))))
                .buffered(2)
                .collect::<Vec<_>>()
                .await;
            per_day.into_iter().collect::<Result<Vec<_>, _>>()?.concat()
        } else {
            rows_of(period.since(), period.until()).await?
        };
        // Should the rows not fit the view's columns, the view is kept: the memo only saves work.
        let Ok(cached) = PeriodCached::new(inner, batches, period.since(), period.until()) else {
            return Ok(());
        };
        self.ctx.deregister_table(name).map_err(registered)?;
        self.ctx.register_table(name, Arc::new(cached)).map_err(registered)?;
        release_free_memory();
        Ok(())
    }

    /// Requests and tokens in `period` that have no price.
    pub async fn unpriced(&self, period: &Period) -> Result<UnpricedTotals, Error> {
        let rows = self.rows::<UnpricedTotals>(&Params::new().period(period)).await?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    async fn plan(
        &self,
        sql: &str,
        label: &str,
        params: &Params,
        only: Option<&[String]>,
        options: RunOptions,
    ) -> Result<Statement, Error> {
        let sql_options = SQLOptions::new()
            .with_allow_ddl(options.allow_write)
            .with_allow_dml(options.allow_write)
            .with_allow_statements(true);
        let limit = self.limit_bytes;
        let df = self.ctx.sql_with_options(sql, sql_options).await.map_err(|e| match e {
            // DataFusion's own wording when SQLOptions refuses a statement; any other error is reported as is.
            datafusion::error::DataFusionError::Plan(msg)
                if !options.allow_write
                    && (msg.starts_with("DDL not supported") || msg.starts_with("DML not supported")) =>
            {
                Error::ReadOnly(msg)
            }
            other => Error::execution(label, limit, other),
        })?;
        let tables = referenced_tables(df.logical_plan());
        let df = params.bind(df, only).map_err(|e| Error::execution(label, limit, e))?;
        Ok(Statement { df, label: label.to_string(), tables, limit_bytes: limit })
    }
}

/// The tables and views a plan reads, subqueries included. A table is a scan; a view is planned as its query under
/// an alias of the view's name, so aliases count too (a user's alias that shadows a view name only adds a note).
fn referenced_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(scan) => {
                tables.insert(scan.table_name.table().to_string());
            }
            LogicalPlan::SubqueryAlias(alias) => {
                tables.insert(alias.alias.table().to_string());
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
    tables
}

/// Give the pages of freed allocations back to the system. Why: grouping a month of requests (`request_groups`)
/// builds hash tables of several hundred MB on the engine's worker threads; glibc keeps the freed pages in those
/// threads' arenas, where the queries that follow (on other threads) cannot reuse them, so without this the
/// recommender's peak memory was the groups' tables plus everything after them. Elsewhere a no-op.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the kernel; it changes no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
