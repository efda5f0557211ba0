//! Typed rows: query results decoded into structs, money as exact [`Decimal`]s (from Arrow `Decimal128`), never
//! `f64`. Every module above the query layer reads data through these types, not by picking Arrow arrays apart.
//!
//! A row type names the query that produces it ([`TypedQuery::QUERY`]) and decodes one batch at a time through
//! [`Columns`], which looks columns up by name and casts each once per batch, so a renamed or retyped column is a
//! [`DecodeError`] naming the query and column, not a wrong number.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type};
use chrono::NaiveDate;
pub use rust_decimal::Decimal;

pub mod recommend;

/// Why a result could not become typed rows.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("query {query} returned no column {column}")]
    MissingColumn { query: &'static str, column: &'static str },
    #[error("query {query}: column {column} is {found}, not {wanted}")]
    WrongType { query: &'static str, column: &'static str, found: DataType, wanted: &'static str },
    #[error("query {query}: column {column} is NULL in row {row}")]
    Null { query: &'static str, column: &'static str, row: usize },
    #[error("query {query}: {column} in row {row} does not fit an exact decimal ({mantissa} at scale {scale})")]
    Overflow { query: &'static str, column: &'static str, row: usize, mantissa: i128, scale: i8 },
}

/// A row type and the named query (`queries/NAME.sql`) that produces it.
pub trait TypedQuery: Sized {
    /// The named query.
    const QUERY: &'static str;
    /// Decode every row of one batch.
    fn decode(columns: &Columns<'_>) -> Result<Vec<Self>, DecodeError>;
}

/// The columns of one result batch, looked up by name.
pub struct Columns<'a> {
    query: &'static str,
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    /// Wrap a batch of `query`'s result.
    pub fn new(query: &'static str, batch: &'a RecordBatch) -> Self {
        Columns { query, batch }
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }

    fn column(&self, column: &'static str) -> Result<&'a ArrayRef, DecodeError> {
        self.batch.column_by_name(column).ok_or(DecodeError::MissingColumn { query: self.query, column })
    }

    fn cast(&self, column: &'static str, to: &DataType, wanted: &'static str) -> Result<ArrayRef, DecodeError> {
        let array = self.column(column)?;
        let wrong = || DecodeError::WrongType { query: self.query, column, found: array.data_type().clone(), wanted };
        if matches!(array.data_type(), DataType::Float16 | DataType::Float32 | DataType::Float64) && wanted != "text" {
            // Money and counts never pass through floating point.
            return Err(wrong());
        }
        arrow::compute::cast(array, to).map_err(|_| wrong())
    }

    /// An integer column (any integer type).
    pub fn ints(&self, column: &'static str) -> Result<Ints, DecodeError> {
        let array = self.cast(column, &DataType::Int64, "an integer")?;
        Ok(Ints { query: self.query, column, array })
    }

    /// A text column (any string type).
    pub fn texts(&self, column: &'static str) -> Result<Texts, DecodeError> {
        let array = self.cast(column, &DataType::Utf8, "text")?;
        Ok(Texts { query: self.query, column, array })
    }

    /// A date column.
    pub fn dates(&self, column: &'static str) -> Result<Dates, DecodeError> {
        let array = self.cast(column, &DataType::Date32, "a date")?;
        Ok(Dates { query: self.query, column, array })
    }

    /// A boolean column.
    pub fn bools(&self, column: &'static str) -> Result<Bools, DecodeError> {
        let array = self.cast(column, &DataType::Boolean, "a boolean")?;
        Ok(Bools { query: self.query, column, array })
    }

    /// An exact decimal column (`Decimal128` at any scale, or an integer column).
    pub fn decimals(&self, column: &'static str) -> Result<Decimals, DecodeError> {
        let array = self.column(column)?;
        let array = match array.data_type() {
            DataType::Decimal128(_, _) => array.clone(),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Null => self.cast(column, &DataType::Decimal128(38, 0), "an exact decimal")?,
            other => {
                return Err(DecodeError::WrongType {
                    query: self.query,
                    column,
                    found: other.clone(),
                    wanted: "an exact decimal",
                });
            }
        };
        Ok(Decimals { query: self.query, column, array })
    }
}

macro_rules! typed_column {
    ($name:ident, $value:ty, $get:expr) => {
        /// One column of a batch, typed.
        pub struct $name {
            query: &'static str,
            column: &'static str,
            array: ArrayRef,
        }

        impl $name {
            /// The value in `row`, `None` when NULL.
            pub fn get(&self, row: usize) -> Option<$value> {
                if row >= self.array.len() || self.array.is_null(row) {
                    return None;
                }
                #[allow(clippy::redundant_closure_call)]
                ($get)(&self.array, row)
            }

            /// The value in `row`, which must not be NULL.
            pub fn req(&self, row: usize) -> Result<$value, DecodeError> {
                self.get(row).ok_or(DecodeError::Null { query: self.query, column: self.column, row })
            }
        }
    };
}

typed_column!(Ints, i64, |a: &ArrayRef, i| Some(a.as_primitive::<Int64Type>().value(i)));
typed_column!(Texts, String, |a: &ArrayRef, i| Some(a.as_string::<i32>().value(i).to_string()));
typed_column!(Bools, bool, |a: &ArrayRef, i| Some(a.as_boolean().value(i)));
typed_column!(Dates, NaiveDate, |a: &ArrayRef, i| a.as_primitive::<Date32Type>().value_as_date(i));

/// A decimal column; values come out as exact [`Decimal`]s.
pub struct Decimals {
    query: &'static str,
    column: &'static str,
    array: ArrayRef,
}

impl Decimals {
    /// The value in `row`, `None` when NULL.
    pub fn get(&self, row: usize) -> Result<Option<Decimal>, DecodeError> {
        if row >= self.array.len() || self.array.is_null(row) {
            return Ok(None);
        }
        let DataType::Decimal128(_, scale) = self.array.data_type() else {
            return Ok(None);
        };
        let mantissa = self.array.as_primitive::<Decimal128Type>().value(row);
        to_decimal(mantissa, *scale).map(Some).ok_or(DecodeError::Overflow {
            query: self.query,
            column: self.column,
            row,
            mantissa,
            scale: *scale,
        })
    }

    /// The value in `row`, which must not be NULL.
    pub fn req(&self, row: usize) -> Result<Decimal, DecodeError> {
        self.get(row)?.ok_or(DecodeError::Null { query: self.query, column: self.column, row })
    }
}

/// Digits kept at least: a millionth of a dollar, the precision every money figure is promised to.
const MIN_SCALE: i8 = 6;

/// An Arrow decimal as a `rust_decimal` (96-bit mantissa, scale up to 28). Costs after a discount carry scale 24;
/// where the mantissa is too wide, excess digits beyond the sixth decimal are rounded half away from zero, so the
/// value stays exact to $0.000001 (the promise) even for large sums. `None` if even that does not fit.
pub fn to_decimal(mantissa: i128, scale: i8) -> Option<Decimal> {
    if scale < 0 {
        let factor = 10i128.checked_pow(u32::from(scale.unsigned_abs()))?;
        return Decimal::try_from_i128_with_scale(mantissa.checked_mul(factor)?, 0).ok();
    }
    let (mut mantissa, mut scale) = (mantissa, scale);
    while scale > 28 || Decimal::try_from_i128_with_scale(mantissa, scale as u32).is_err() {
        if scale <= MIN_SCALE {
            return None;
        }
        let rem = mantissa % 10;
        mantissa /= 10;
        if rem >= 5 {
            mantissa += 1;
        } else if rem <= -5 {
            mantissa -= 1;
        }
        scale -= 1;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale as u32).ok()
}

/// `warehouse_extent`: the first and last day with data, and how many requests the warehouse holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseExtent {
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub requests: i64,
}

impl TypedQuery for WarehouseExtent {
    const QUERY: &'static str = "warehouse_extent";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (first, last, requests) = (c.dates("first_day")?, c.dates("last_day")?, c.ints("requests")?);
        (0..c.len())
            .map(|i| Ok(WarehouseExtent { first_day: first.get(i), last_day: last.get(i), requests: requests.req(i)? }))
            .collect()
    }
}

/// `days_with_data`: a day of the period that holds requests, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataDay {
    pub day: NaiveDate,
    pub requests: i64,
}

impl TypedQuery for DataDay {
    const QUERY: &'static str = "days_with_data";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (day, requests) = (c.dates("day")?, c.ints("requests")?);
        (0..c.len()).map(|i| Ok(DataDay { day: day.req(i)?, requests: requests.req(i)? })).collect()
    }
}

/// `model_days`: one model's requests on one day, priced or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDay {
    pub model: String,
    pub day: NaiveDate,
    pub requests: i64,
}

impl TypedQuery for ModelDay {
    const QUERY: &'static str = "model_days";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, day, requests) = (c.texts("model")?, c.dates("day")?, c.ints("requests")?);
        (0..c.len())
            .map(|i| Ok(ModelDay { model: model.req(i)?, day: day.req(i)?, requests: requests.req(i)? }))
            .collect()
    }
}

/// `unpriced_totals`: requests and tokens in a period with no price (their spend is unknown, not $0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnpricedTotals {
    pub requests: i64,
    pub tokens: i64,
}

impl TypedQuery for UnpricedTotals {
    const QUERY: &'static str = "unpriced_totals";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (requests, tokens) = (c.ints("unpriced_requests")?, c.ints("unpriced_tokens")?);
        (0..c.len()).map(|i| Ok(UnpricedTotals { requests: requests.req(i)?, tokens: tokens.req(i)? })).collect()
    }
}

/// `month_summary`: one month's spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthSummary {
    pub month: String,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    /// `None` when nothing in the month was priced.
    pub list_cost_usd: Option<Decimal>,
    pub cost_usd: Option<Decimal>,
    pub cache_savings_usd: Option<Decimal>,
    pub priced_requests: i64,
    pub unpriced_requests: i64,
    pub unpriced_tokens: i64,
}

impl TypedQuery for MonthSummary {
    const QUERY: &'static str = "month_summary";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let month = c.texts("month")?;
        let requests = c.ints("requests")?;
        let (input, output) = (c.ints("input_tokens")?, c.ints("output_tokens")?);
        let (read, write) = (c.ints("cache_read_tokens")?, c.ints("cache_write_tokens")?);
        let (list, cost, savings) =
            (c.decimals("list_cost_usd")?, c.decimals("cost_usd")?, c.decimals("cache_savings_usd")?);
        let (priced, unpriced, unpriced_tokens) =
            (c.ints("priced_requests")?, c.ints("unpriced_requests")?, c.ints("unpriced_tokens")?);
        (0..c.len())
            .map(|i| {
                Ok(MonthSummary {
                    month: month.req(i)?,
                    requests: requests.req(i)?,
                    input_tokens: input.get(i),
                    output_tokens: output.get(i),
                    cache_read_tokens: read.get(i),
                    cache_write_tokens: write.get(i),
                    list_cost_usd: list.get(i)?,
                    cost_usd: cost.get(i)?,
                    cache_savings_usd: savings.get(i)?,
                    priced_requests: priced.req(i)?,
                    unpriced_requests: unpriced.req(i)?,
                    unpriced_tokens: unpriced_tokens.req(i)?,
                })
            })
            .collect()
    }
}

/// `spend_by_model`: one model's spend in a period, with its tokens by class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpend {
    /// The normalized model, or `(routing)` where the id names no base model.
    pub model: String,
    pub routing: String,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cost_usd: Option<Decimal>,
    pub cache_savings_usd: Option<Decimal>,
    pub unpriced_requests: i64,
}

impl TypedQuery for ModelSpend {
    const QUERY: &'static str = "spend_by_model";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (model, routing, requests) = (c.texts("model")?, c.texts("routing")?, c.ints("requests")?);
        let (input, output) = (c.ints("input_tokens")?, c.ints("output_tokens")?);
        let (read, write) = (c.ints("cache_read_tokens")?, c.ints("cache_write_tokens")?);
        let (cost, savings, unpriced) =
            (c.decimals("cost_usd")?, c.decimals("cache_savings_usd")?, c.ints("unpriced_requests")?);
        (0..c.len())
            .map(|i| {
                Ok(ModelSpend {
                    model: model.req(i)?,
                    routing: routing.req(i)?,
                    requests: requests.req(i)?,
                    input_tokens: input.get(i),
                    output_tokens: output.get(i),
                    cache_read_tokens: read.get(i),
                    cache_write_tokens: write.get(i),
                    cost_usd: cost.get(i)?,
                    cache_savings_usd: savings.get(i)?,
                    unpriced_requests: unpriced.req(i)?,
                })
            })
            .collect()
    }
}

/// `spend_by_day_and_model`: one model's spend on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayModelSpend {
    pub day: NaiveDate,
    /// The normalized model, or `(routing)` where the id names no base model.
    pub model: String,
    pub requests: i64,
    /// `None` when nothing that day and model was priced.
    pub cost_usd: Option<Decimal>,
    pub unpriced_requests: i64,
}

impl TypedQuery for DayModelSpend {
    const QUERY: &'static str = "spend_by_day_and_model";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (day, model, requests) = (c.dates("day")?, c.texts("model")?, c.ints("requests")?);
        let (cost, unpriced) = (c.decimals("cost_usd")?, c.ints("unpriced_requests")?);
        (0..c.len())
            .map(|i| {
                Ok(DayModelSpend {
                    day: day.req(i)?,
                    model: model.req(i)?,
                    requests: requests.req(i)?,
                    cost_usd: cost.get(i)?,
                    unpriced_requests: unpriced.req(i)?,
                })
            })
            .collect()
    }
}

/// `spend_by_principal`: one caller's spend in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalSpend {
    /// The IAM role/session or user, `(unknown)` when the log names none.
    pub principal: String,
    pub account_id: Option<String>,
    pub requests: i64,
    /// Distinct models used.
    pub models: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<Decimal>,
    pub unpriced_requests: i64,
}

impl TypedQuery for PrincipalSpend {
    const QUERY: &'static str = "spend_by_principal";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (principal, account, requests) = (c.texts("principal")?, c.texts("account_id")?, c.ints("requests")?);
        let (models, input, output) = (c.ints("models")?, c.ints("input_tokens")?, c.ints("output_tokens")?);
        let (cost, unpriced) = (c.decimals("cost_usd")?, c.ints("unpriced_requests")?);
        (0..c.len())
            .map(|i| {
                Ok(PrincipalSpend {
                    principal: principal.req(i)?,
                    account_id: account.get(i),
                    requests: requests.req(i)?,
                    models: models.req(i)?,
                    input_tokens: input.get(i),
                    output_tokens: output.get(i),
                    cost_usd: cost.get(i)?,
                    unpriced_requests: unpriced.req(i)?,
                })
            })
            .collect()
    }
}

/// `spend_by_metadata`: the spend of one value of a request-metadata key in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSpend {
    /// The key's value, `(not set)` for requests without the key.
    pub value: String,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<Decimal>,
    pub unpriced_requests: i64,
}

impl TypedQuery for MetadataSpend {
    const QUERY: &'static str = "spend_by_metadata";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (value, requests) = (c.texts("value")?, c.ints("requests")?);
        let (input, output) = (c.ints("input_tokens")?, c.ints("output_tokens")?);
        let (cost, unpriced) = (c.decimals("cost_usd")?, c.ints("unpriced_requests")?);
        (0..c.len())
            .map(|i| {
                Ok(MetadataSpend {
                    value: value.req(i)?,
                    requests: requests.req(i)?,
                    input_tokens: input.get(i),
                    output_tokens: output.get(i),
                    cost_usd: cost.get(i)?,
                    unpriced_requests: unpriced.req(i)?,
                })
            })
            .collect()
    }
}

/// `unpriced_usage`: usage with no price, grouped by why (its spend is unknown, never $0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpricedUsage {
    /// no price | unresolved model | no token counts | no output price.
    pub price_status: String,
    /// A sample raw model id of the group.
    pub model_id: Option<String>,
    pub model: Option<String>,
    pub region: Option<String>,
    pub routing: Option<String>,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub requests: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

impl TypedQuery for UnpricedUsage {
    const QUERY: &'static str = "unpriced_usage";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (status, model_id, model) = (c.texts("price_status")?, c.texts("model_id")?, c.texts("model")?);
        let (region, routing) = (c.texts("region")?, c.texts("routing")?);
        let (first, last, requests) = (c.dates("first_day")?, c.dates("last_day")?, c.ints("requests")?);
        let (input, output) = (c.ints("input_tokens")?, c.ints("output_tokens")?);
        (0..c.len())
            .map(|i| {
                Ok(UnpricedUsage {
                    price_status: status.req(i)?,
                    model_id: model_id.get(i),
                    model: model.get(i),
                    region: region.get(i),
                    routing: routing.get(i),
                    first_day: first.get(i),
                    last_day: last.get(i),
                    requests: requests.req(i)?,
                    input_tokens: input.get(i),
                    output_tokens: output.get(i),
                })
            })
            .collect()
    }
}

/// `coverage_by_day`: requests logged on one day in one Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRegionCoverage {
    pub day: NaiveDate,
    pub region: String,
    pub requests: i64,
}

impl TypedQuery for DayRegionCoverage {
    const QUERY: &'static str = "coverage_by_day";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (day, region, requests) = (c.dates("day")?, c.texts("region")?, c.ints("requests")?);
        (0..c.len())
            .map(|i| Ok(DayRegionCoverage { day: day.req(i)?, region: region.req(i)?, requests: requests.req(i)? }))
            .collect()
    }
}

/// `price_sources`: one price-book source that priced usage in a period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PriceSource {
    pub source: String,
    pub as_of: String,
    /// Distinct models it priced.
    pub models: i64,
    /// Requests priced with it.
    pub requests: i64,
}

impl TypedQuery for PriceSource {
    const QUERY: &'static str = "price_sources";
    fn decode(c: &Columns<'_>) -> Result<Vec<Self>, DecodeError> {
        let (source, as_of, models, requests) =
            (c.texts("source")?, c.texts("as_of")?, c.ints("models")?, c.ints("requests")?);
        (0..c.len())
            .map(|i| {
                Ok(PriceSource {
                    source: source.req(i)?,
                    as_of: as_of.req(i)?,
                    models: models.req(i)?,
                    requests: requests.req(i)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_wide_ones_round_past_the_sixth_place() {
        assert_eq!(to_decimal(123_456_789, 6), Some("123.456789".parse().unwrap()));
        assert_eq!(to_decimal(-5, 0), Some(Decimal::from(-5)));
        assert_eq!(to_decimal(12, -2), Some(Decimal::from(1200)));
        // $123,456.789012345678901234 at scale 24 has 30 digits: more than a 96-bit mantissa holds.
        let wide = 123_456_789_012_345_678_901_234_567_890i128;
        let d = to_decimal(wide, 24).unwrap();
        assert_eq!(d.round_dp(6), "123456.789012".parse::<Decimal>().unwrap());
        assert!((d - "123456.78901234567890123456789".parse::<Decimal>().unwrap()).abs() < "0.000001".parse().unwrap());
        assert_eq!(to_decimal(i128::MAX, 6), None, "too wide even at six decimals");
    }
}
