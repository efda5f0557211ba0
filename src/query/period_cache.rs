//! A per-process memo of a view over one period (`usage_costs`, `request_groups`), for commands that ask many
//! questions of the same month.
//!
//! Why: `usage_costs` is cheap to read (hundreds of rows) but each read groups every request of its period, and
//! the report and the recommender read it a dozen times over the same period (directly, and as the rates side
//! of the queries that price group by group). At 10M records each of those reads was most of a second of CPU.
//! `request_groups` (requests by caller and minute) is what five of those queries grouped the requests into
//! themselves, about two CPU-seconds each at 10M records; held once, they roll up from its groups.
//!
//! How: [`PeriodCached`] stands in for the view under the same name. It holds the view's rows for one period,
//! computed once by the view itself (so the rules stay in `queries/views/`), and serves a scan from them only when
//! the scan's own filters prove that it asks for days inside that period; any other scan (no day filter, a wider
//! one, a form of filter it does not recognise) goes to the view as before. Filters are taken as `Inexact`, so
//! DataFusion applies them again above the scan either way: the memo can only save work, never change an answer.
//! `invocation_costs` keeps reading the view itself: its plan was made when it was created.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringViewArray, StringViewBuilder};
use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::catalog::Session as EngineSession;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

/// The column every cached table is filtered on.
const DAY: &str = "day";

/// A table's rows for `[since, until)` in memory, in front of the table itself.
#[derive(Debug)]
pub struct PeriodCached {
    inner: Arc<dyn TableProvider>,
    /// `inner`'s schema with every column nullable (see [`PeriodCached::new`]).
    schema: SchemaRef,
    rows: MemTable,
    /// Days since 1970-01-01, as Arrow's `Date32` counts them.
    since: i32,
    until: i32,
}

impl PeriodCached {
    /// `rows` must be exactly `inner`'s rows with `since <= day < until`.
    ///
    /// The memo declares every column nullable. Why: a query planned over it derives each expression's
    /// nullability twice, from this schema (logical) and from the rows' own (physical), and DataFusion refuses a
    /// plan where the physical side may be null but the logical side may not. A view's declared schema can be
    /// stricter than what the engine derives when it runs the view (it rewrites `coalesce` into a `CASE` it
    /// cannot prove non-null), so only "anything may be null" is safe for both a scan of the memo and a scan
    /// passed on to the view. Nullability is bookkeeping here: the values are the view's.
    pub fn new(
        inner: Arc<dyn TableProvider>,
        rows: Vec<RecordBatch>,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<PeriodCached> {
        let relaxed =
            inner.schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>();
        let schema = Arc::new(Schema::new_with_metadata(relaxed, inner.schema().metadata().clone()));
        // Two partitions, so that a scan of the memo runs on both cores as a scan of the files would.
        let mut partitions = vec![Vec::new(), Vec::new()];
        for (i, batch) in rows.into_iter().enumerate() {
            partitions[i % 2]
                .push(RecordBatch::try_new(schema.clone(), batch.columns().iter().map(shared_strings).collect())?);
        }
        let rows = MemTable::try_new(schema.clone(), partitions)?;
        Ok(PeriodCached { inner, schema, rows, since: date32(since), until: date32(until) })
    }

    /// Whether the rows held cover `period`.
    pub fn holds(&self, period: &super::Period) -> bool {
        date32(period.since()) >= self.since && date32(period.until()) <= self.until
    }

    /// Whether `filters` (all of which hold for every row the scan must return) confine `day` to the cached days.
    fn covers(&self, filters: &[Expr]) -> bool {
        let (mut low, mut high) = (None::<i32>, None::<i32>);
        for filter in filters {
            for conjunct in conjuncts(filter) {
                match day_bound(conjunct) {
                    Some(Bound::AtLeast(d)) => low = Some(low.map_or(d, |l| l.max(d))),
                    Some(Bound::Below(d)) => high = Some(high.map_or(d, |h| h.min(d))),
                    None => {}
                }
            }
        }
        matches!((low, high), (Some(low), Some(high)) if low >= self.since && high <= self.until)
    }
}

/// A string-view column rebuilt so that equal strings share their bytes. Why: a memo holds a row per group, and
/// its strings (callers' ARNs, model ids) repeat on most rows; stored once each they cost 16 bytes a row instead of
/// 16 plus the string (at 10M records, a month of `request_groups` goes from about 370 to about 240 MB).
fn shared_strings(column: &ArrayRef) -> ArrayRef {
    let Some(strings) = column.as_any().downcast_ref::<StringViewArray>() else { return column.clone() };
    let mut builder = StringViewBuilder::with_capacity(strings.len()).with_deduplicate_strings();
    for value in strings.iter() {
        builder.append_option(value);
    }
    Arc::new(builder.finish())
}

pub(super) fn date32(day: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((day - epoch).num_days()).unwrap_or(i32::MIN)
}

/// What one filter says about `day`: every row has `day >= d`, or every row has `day < d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    AtLeast(i32),
    Below(i32),
}

fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        other => vec![other],
    }
}

/// `day >= D`, `day > D`, `day < D`, `day <= D` (either way round) with `D` a date literal; anything else: `None`.
fn day_bound(expr: &Expr) -> Option<Bound> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else { return None };
    let (op, value) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) if c.name == DAY => (*op, v),
        (Expr::Literal(v, _), Expr::Column(c)) if c.name == DAY => (op.swap()?, v),
        _ => return None,
    };
    let ScalarValue::Date32(Some(d)) = value else { return None };
    match op {
        Operator::GtEq => Some(Bound::AtLeast(*d)),
        Operator::Gt => d.checked_add(1).map(Bound::AtLeast),
        Operator::Lt => Some(Bound::Below(*d)),
        Operator::LtEq => d.checked_add(1).map(Bound::Below),
        _ => None,
    }
}

#[async_trait]
impl TableProvider for PeriodCached {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // Inexact: the filters reach `scan` (to choose memory or the view) and are still applied above it.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn EngineSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.covers(filters) {
            self.rows.scan(state, projection, filters, limit).await
        } else {
            self.inner.scan(state, projection, filters, limit).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, lit};

    fn day(y: i32, m: u32, d: u32) -> Expr {
        lit(ScalarValue::Date32(Some(date32(NaiveDate::from_ymd_opt(y, m, d).unwrap()))))
    }

    fn cache() -> PeriodCached {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            DAY,
            arrow::datatypes::DataType::Date32,
            true,
        )]));
        let inner = Arc::new(MemTable::try_new(schema, vec![vec![]]).unwrap());
        PeriodCached::new(
            inner,
            Vec::new(),
            NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
            NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn serves_only_periods_it_holds() {
        let c = cache();
        let nov = [col(DAY).gt_eq(day(2025, 11, 1)), col(DAY).lt(day(2025, 12, 1))];
        assert!(c.covers(&nov), "November inside October-November");
        let both = [col(DAY).gt_eq(day(2025, 10, 1)).and(col(DAY).lt(day(2025, 12, 1)))];
        assert!(c.covers(&both), "the whole period, as one conjunction");
        let flipped = [day(2025, 10, 15).lt_eq(col(DAY)), day(2025, 11, 30).gt_eq(col(DAY))];
        assert!(c.covers(&flipped), "literal first, inclusive end");
        assert!(!c.covers(&[col(DAY).gt_eq(day(2025, 11, 1))]), "no upper bound: the view");
        assert!(!c.covers(&[]), "no filter: the view");
        let wider = [col(DAY).gt_eq(day(2025, 9, 30)), col(DAY).lt(day(2025, 12, 1))];
        assert!(!c.covers(&wider), "a day before the period: the view");
        let later = [col(DAY).gt_eq(day(2025, 11, 1)), col(DAY).lt_eq(day(2025, 12, 1))];
        assert!(!c.covers(&later), "`<=` the first day after: that day is not held");
        let other = [col("region").gt_eq(lit("a")), col(DAY).lt(day(2025, 12, 1))];
        assert!(!c.covers(&other), "a bound on another column is no bound on day");
        let either = [col(DAY).gt_eq(day(2025, 11, 1)).or(col(DAY).lt(day(2025, 12, 1)))];
        assert!(!c.covers(&either), "a disjunction bounds nothing");
    }
}
