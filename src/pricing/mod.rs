//! The price book: loads `pricing/bedrock-prices.csv` (or a user's sheet in the same format) and
//! `pricing/provisioned-throughput.csv`, validates them, and turns them into the Arrow tables `prices`,
//! `provisioned_prices` and `price_settings` that the SQL in `queries/` joins. Pure: text in, tables out.
//!
//! A price row is keyed by model, Region (`*` = every commercial Region, never GovCloud), routing class
//! (`global`, `regional`, `*`), service tier (blank = standard, `flex`, `priority`), long-context threshold
//! (blank = standard context; N = the row prices whole requests whose total input exceeds N tokens) and the
//! period it is in force. The last two columns are optional, so books written before they existed still load.
//! Which row prices a request is decided in SQL (`queries/views/usage_costs.sql`); this module only makes sure
//! that at most one row can match.
//!
//! Prices stay exact: a price is parsed from its decimal text into an integer count of 1e-10 dollars per
//! million tokens, never through `f64`. The same integer read at scale 16 is the exact price per token, which
//! is what the cost SQL multiplies token counts by.
//!
//! [`sync`] rebuilds the book from the AWS Price List (`pricing sync`); its `fetch` is the one part of this module
//! that does I/O.

pub mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use serde::Deserialize;

/// The bundled price book.
pub const BUNDLED_PRICES: &str = include_str!("../../pricing/bedrock-prices.csv");
/// Price rows kept by hand (prices the AWS Price List lacks), which `pricing sync` merges into the bundled book;
/// each of them is also in [`BUNDLED_PRICES`].
pub const HAND_KEPT_PRICES: &str = include_str!("../../pricing/hand-kept-prices.csv");
/// The model lifecycle table: end-of-life dates and suggested successors.
pub const BUNDLED_LIFECYCLE: &str = include_str!("../../pricing/model-lifecycle.csv");
/// The bundled Provisioned Throughput prices.
pub const BUNDLED_PROVISIONED: &str = include_str!("../../pricing/provisioned-throughput.csv");

/// Digits after the point in a per-million-token price (the AWS Price List publishes up to 10).
pub const PRICE_SCALE: i8 = 10;
/// Scale of the same integer read as a per-token price (per million = 10^6 more digits).
pub const PER_TOKEN_SCALE: i8 = PRICE_SCALE + 6;
/// Digits after the point of the discount multiplier.
pub const MULTIPLIER_SCALE: i8 = 8;

/// Errors loading a price book; each names the sheet and line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read price book {path}")]
    Read { path: String, source: std::io::Error },
    #[error("{origin}: malformed CSV")]
    Csv { origin: String, source: csv::Error },
    #[error("{origin} line {line}: {column} {value:?} {reason}")]
    Invalid { origin: String, line: u64, column: &'static str, value: String, reason: &'static str },
    #[error("{origin}: lines {first} and {second} both price {key} on overlapping dates")]
    Overlap {
        origin: String,
        /// Model, Region, routing, tier and context, as words.
        key: String,
        first: u64,
        second: u64,
    },
    #[error("discount {0:?} is not a percentage from 0 to 100 with at most 6 decimals")]
    Discount(String),
    #[error("arrow error building the {table} table")]
    Arrow { table: &'static str, source: arrow::error::ArrowError },
}

/// A non-negative decimal, as an integer count of 10^-scale units.
pub fn parse_decimal(text: &str, scale: u32) -> Option<i128> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > scale as usize {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_value: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    frac_value *= 10i128.pow(scale - frac.len() as u32);
    int.checked_mul(10i128.pow(scale))?.checked_add(frac_value)
}

/// The seven price columns (USD per million tokens), in the sheet's order, which is also the order of [`Rates`]'
/// fields.
pub const PRICE_COLUMNS: [&str; 7] = [
    "input_per_mtok",
    "output_per_mtok",
    "cache_read_per_mtok",
    "cache_write_per_mtok",
    "cache_write_1h_per_mtok",
    "batch_input_per_mtok",
    "batch_output_per_mtok",
];

/// One row of the price sheet as written, every cell as text (columns beyond these are allowed and ignored). The
/// loader below validates it into a [`PriceRow`]; `pricing sync` reads, compares and rewrites the sheet through it.
#[derive(Debug, Deserialize)]
pub(crate) struct RawPriceRow {
    pub(crate) model: String,
    pub(crate) region: String,
    pub(crate) routing: String,
    pub(crate) effective_from: String,
    pub(crate) effective_to: String,
    input_per_mtok: String,
    output_per_mtok: String,
    cache_read_per_mtok: String,
    cache_write_per_mtok: String,
    cache_write_1h_per_mtok: String,
    batch_input_per_mtok: String,
    batch_output_per_mtok: String,
    pub(crate) source: String,
    pub(crate) as_of: String,
    /// Optional, and not read by the loader: the sync's note on how sure a price is.
    #[serde(default)]
    pub(crate) confidence: String,
    /// Optional (books older than the column load): blank = standard.
    #[serde(default)]
    pub(crate) tier: String,
    /// Optional (books older than the column load): blank = standard context.
    #[serde(default)]
    pub(crate) long_context_above: String,
}

impl RawPriceRow {
    /// The seven price cells, in [`PRICE_COLUMNS`] order.
    pub(crate) fn prices(&self) -> [&str; 7] {
        [
            &self.input_per_mtok,
            &self.output_per_mtok,
            &self.cache_read_per_mtok,
            &self.cache_write_per_mtok,
            &self.cache_write_1h_per_mtok,
            &self.batch_input_per_mtok,
            &self.batch_output_per_mtok,
        ]
    }
}

/// The service tier a row prices. Reserved capacity is billed per tokens-per-minute, never per token, so it has
/// no rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Tier {
    /// On-demand Standard: a blank `tier` cell.
    #[default]
    Standard,
    Flex,
    Priority,
}

impl Tier {
    /// The value in the `prices` table's `tier` column (the SQL compares a request's tier with it).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Flex => "flex",
            Tier::Priority => "priority",
        }
    }

    /// A sheet's `tier` cell: blank (or `standard`), `flex` or `priority`, any case.
    pub fn parse(cell: &str) -> Option<Tier> {
        match cell.trim().to_ascii_lowercase().as_str() {
            "" | "standard" => Some(Tier::Standard),
            "flex" => Some(Tier::Flex),
            "priority" => Some(Tier::Priority),
            _ => None,
        }
    }
}

/// Prices of one row, in 1e-10 USD per million tokens; `None` = not offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    pub input: Option<i128>,
    pub output: Option<i128>,
    pub cache_read: Option<i128>,
    pub cache_write: Option<i128>,
    pub cache_write_1h: Option<i128>,
    pub batch_input: Option<i128>,
    pub batch_output: Option<i128>,
}

/// One validated price period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    /// 1-based line in the sheet (the header is line 1).
    pub line: u64,
    pub model: String,
    /// A Region or `*`.
    pub region: String,
    /// `global`, `regional` or `*`.
    pub routing: String,
    /// Inclusive; `None` = open.
    pub effective_from: Option<NaiveDate>,
    /// Exclusive; `None` = open.
    pub effective_to: Option<NaiveDate>,
    pub tier: Tier,
    /// `Some(n)`: the row prices whole requests whose total input (input + cache read + cache write tokens)
    /// exceeds `n`; `None`: standard context.
    pub long_context_above: Option<i64>,
    pub rates: Rates,
    pub source: String,
    pub as_of: String,
}

/// A validated price book.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    /// Where it came from: `bundled` or a path.
    pub origin: String,
    pub rows: Vec<PriceRow>,
}

fn invalid(origin: &str, line: u64, column: &'static str, value: &str, reason: &'static str) -> Error {
    Error::Invalid { origin: origin.to_string(), line, column, value: value.to_string(), reason }
}

fn parse_date(origin: &str, line: u64, column: &'static str, value: &str) -> Result<Option<NaiveDate>, Error> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| invalid(origin, line, column, value, "is not a date (YYYY-MM-DD)"))
}

fn parse_price(origin: &str, line: u64, column: &'static str, value: &str) -> Result<Option<i128>, Error> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse_decimal(value, PRICE_SCALE as u32)
        .map(Some)
        .ok_or_else(|| invalid(origin, line, column, value, "is not a non-negative price with at most 10 decimals"))
}

/// Read a CSV sheet into rows, each with its line in the file as written (comments included), so errors and
/// `price_row` point at it. Columns beyond those of `T` are ignored.
pub(crate) fn read_sheet<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<Vec<(u64, T)>, Error> {
    let csv_error = |source| Error::Csv { origin: origin.to_string(), source };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| record_line(text, p));
        rows.push((line, record.deserialize(Some(&headers)).map_err(csv_error)?));
    }
    Ok(rows)
}

/// The line a record is on. The reader's position is where it started reading the record, which is before any
/// comment or blank lines it skipped on the way: step over those.
fn record_line(text: &str, position: &csv::Position) -> u64 {
    let (mut line, mut byte) = (position.line(), position.byte() as usize);
    while let Some(rest) = text.get(byte..) {
        let skipped = rest.starts_with('#') || rest.starts_with('\n') || rest.starts_with("\r\n");
        match rest.find('\n') {
            Some(end) if skipped => {
                byte += end + 1;
                line += 1;
            }
            _ => break,
        }
    }
    line
}

/// Parse and validate a price sheet.
pub fn parse_price_book(text: &str, origin: &str) -> Result<PriceBook, Error> {
    let mut rows = Vec::new();
    for (line, raw) in read_sheet::<RawPriceRow>(text, origin)? {
        let routing = raw.routing.trim().to_ascii_lowercase();
        if !matches!(routing.as_str(), "*" | "global" | "regional") {
            return Err(invalid(origin, line, "routing", &raw.routing, "must be global, regional or *"));
        }
        if raw.model.trim().is_empty() {
            return Err(invalid(origin, line, "model", &raw.model, "is empty"));
        }
        if raw.region.trim().is_empty() {
            return Err(invalid(origin, line, "region", &raw.region, "is empty (use * for every Region)"));
        }
        let effective_from = parse_date(origin, line, "effective_from", &raw.effective_from)?;
        let effective_to = parse_date(origin, line, "effective_to", &raw.effective_to)?;
        if let (Some(f), Some(t)) = (effective_from, effective_to)
            && f >= t
        {
            return Err(invalid(origin, line, "effective_to", &raw.effective_to, "is not after effective_from"));
        }
        let mut prices = [None; 7];
        for (price, (column, text)) in prices.iter_mut().zip(PRICE_COLUMNS.into_iter().zip(raw.prices())) {
            *price = parse_price(origin, line, column, text)?;
        }
        let [input, output, cache_read, cache_write, cache_write_1h, batch_input, batch_output] = prices;
        let rates = Rates { input, output, cache_read, cache_write, cache_write_1h, batch_input, batch_output };
        if rates.input.is_none() {
            return Err(invalid(origin, line, "input_per_mtok", "", "is required (the fallback for unpriced classes)"));
        }
        let tier = Tier::parse(&raw.tier)
            .ok_or_else(|| invalid(origin, line, "tier", &raw.tier, "must be blank (standard), flex or priority"))?;
        let long_context_above = match raw.long_context_above.trim() {
            "" => None,
            n => Some(n.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(origin, line, "long_context_above", &raw.long_context_above, "is not a positive whole number")
            })?),
        };
        rows.push(PriceRow {
            line,
            model: raw.model.trim().to_string(),
            region: raw.region.trim().to_string(),
            routing,
            effective_from,
            effective_to,
            tier,
            long_context_above,
            rates,
            source: raw.source,
            as_of: raw.as_of,
        });
    }
    check_overlaps(origin, &rows)?;
    Ok(PriceBook { origin: origin.to_string(), rows })
}

/// Two rows with the same key (model, Region, routing, tier, long-context threshold) may not cover the same day:
/// the match must be unique.
fn check_overlaps(origin: &str, rows: &[PriceRow]) -> Result<(), Error> {
    type Key<'a> = (&'a str, &'a str, &'a str, Tier, Option<i64>);
    let mut by_key: BTreeMap<Key<'_>, Vec<&PriceRow>> = BTreeMap::new();
    for r in rows {
        by_key.entry((&r.model, &r.region, &r.routing, r.tier, r.long_context_above)).or_default().push(r);
    }
    for ((model, region, routing, tier, context), mut group) in by_key {
        group.sort_by_key(|r| r.effective_from);
        for pair in group.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let a_ends_before_b = match (a.effective_to, b.effective_from) {
                (Some(end), Some(start)) => end <= start,
                _ => false,
            };
            if !a_ends_before_b {
                let context = context.map_or("standard".to_string(), |n| format!("above {n}"));
                return Err(Error::Overlap {
                    origin: origin.to_string(),
                    key: format!(
                        "{model} in {region} for routing {routing}, tier {}, context {context}",
                        tier.as_str()
                    ),
                    first: a.line,
                    second: b.line,
                });
            }
        }
    }
    Ok(())
}

/// Days from 1970-01-01, as Arrow's Date32 counts them.
fn date32(d: NaiveDate) -> i32 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

/// Open period ends, as dates the SQL can compare without NULL handling.
const OPEN_START: i32 = i32::MIN / 2;
const OPEN_END: i32 = i32::MAX / 2;

fn decimal(values: Vec<Option<i128>>, precision: u8, scale: i8, table: &'static str) -> Result<ArrayRef, Error> {
    let array = Decimal128Array::from(values)
        .with_precision_and_scale(precision, scale)
        .map_err(|source| Error::Arrow { table, source })?;
    Ok(Arc::new(array))
}

impl PriceBook {
    /// The distinct long-context thresholds of the book, ascending: the bands `usage_costs` groups requests into
    /// (see [`crate::query`]'s `long_context_floor`).
    pub fn long_context_thresholds(&self) -> Vec<i64> {
        let mut out: Vec<i64> = self.rows.iter().filter_map(|r| r.long_context_above).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The `prices` table: the sheet's columns, prices per million tokens (scale 10) and per token (scale 16),
    /// plus `row_id` and `valid_from`/`valid_to` (open ends filled) for the matching joins. `tier` is
    /// `standard`, `flex` or `priority` (never blank), `long_context_above` NULL for standard context.
    pub fn to_record_batch(&self) -> Result<RecordBatch, Error> {
        let rows = &self.rows;
        let strings = |f: &dyn Fn(&PriceRow) -> &str| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(|r| f(r).to_string()).collect::<Vec<_>>()))
        };
        let mut fields = vec![
            Field::new("row_id", DataType::Int64, false),
            Field::new("model", DataType::Utf8, false),
            Field::new("region", DataType::Utf8, false),
            Field::new("routing", DataType::Utf8, false),
            Field::new("effective_from", DataType::Date32, true),
            Field::new("effective_to", DataType::Date32, true),
            Field::new("valid_from", DataType::Date32, false),
            Field::new("valid_to", DataType::Date32, false),
            Field::new("tier", DataType::Utf8, false),
            Field::new("long_context_above", DataType::Int64, true),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.line as i64).collect::<Vec<_>>())),
            strings(&|r| &r.model),
            strings(&|r| &r.region),
            strings(&|r| &r.routing),
            Arc::new(Date32Array::from(rows.iter().map(|r| r.effective_from.map(date32)).collect::<Vec<_>>())),
            Arc::new(Date32Array::from(rows.iter().map(|r| r.effective_to.map(date32)).collect::<Vec<_>>())),
            Arc::new(Date32Array::from(
                rows.iter().map(|r| r.effective_from.map_or(OPEN_START, date32)).collect::<Vec<_>>(),
            )),
            Arc::new(Date32Array::from(
                rows.iter().map(|r| r.effective_to.map_or(OPEN_END, date32)).collect::<Vec<_>>(),
            )),
            strings(&|r| r.tier.as_str()),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.long_context_above).collect::<Vec<_>>())),
        ];
        type Get = fn(&Rates) -> Option<i128>;
        let classes: [(&str, Get); 7] = [
            ("input", |r| r.input),
            ("output", |r| r.output),
            ("cache_read", |r| r.cache_read),
            ("cache_write", |r| r.cache_write),
            ("cache_write_1h", |r| r.cache_write_1h),
            ("batch_input", |r| r.batch_input),
            ("batch_output", |r| r.batch_output),
        ];
        for (name, get) in classes {
            let values: Vec<Option<i128>> = rows.iter().map(|r| get(&r.rates)).collect();
            fields.push(Field::new(format!("{name}_per_mtok"), DataType::Decimal128(24, PRICE_SCALE), true));
            columns.push(decimal(values.clone(), 24, PRICE_SCALE, "prices")?);
            fields.push(Field::new(format!("{name}_per_token"), DataType::Decimal128(24, PER_TOKEN_SCALE), true));
            columns.push(decimal(values, 24, PER_TOKEN_SCALE, "prices")?);
        }
        fields.push(Field::new("source", DataType::Utf8, false));
        columns.push(strings(&|r| &r.source));
        fields.push(Field::new("as_of", DataType::Utf8, false));
        columns.push(strings(&|r| &r.as_of));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|source| Error::Arrow { table: "prices", source })
    }
}

/// One Provisioned Throughput price.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RawProvisionedRow {
    pub model: String,
    pub region: String,
    pub commitment: String,
    pub price_per_mu_hour: String,
    pub input_tpm_per_mu: String,
    pub output_tpm_per_mu: String,
    pub source: String,
    pub as_of: String,
}

/// Parse the Provisioned Throughput sheet into the `provisioned_prices` table.
pub fn provisioned_batch(text: &str, origin: &str) -> Result<RecordBatch, Error> {
    let mut rows = Vec::new();
    for (line, raw) in read_sheet::<RawProvisionedRow>(text, origin)? {
        if !matches!(raw.commitment.as_str(), "none" | "1-month" | "6-month") {
            return Err(invalid(origin, line, "commitment", &raw.commitment, "must be none, 1-month or 6-month"));
        }
        let price = parse_price(origin, line, "price_per_mu_hour", &raw.price_per_mu_hour)?
            .ok_or_else(|| invalid(origin, line, "price_per_mu_hour", "", "is required"))?;
        let tpm = |column, v: &str| -> Result<Option<i64>, Error> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            v.trim().parse().map(Some).map_err(|_| invalid(origin, line, column, v, "is not a whole number"))
        };
        rows.push((
            raw.clone(),
            price,
            tpm("input_tpm_per_mu", &raw.input_tpm_per_mu)?,
            tpm("output_tpm_per_mu", &raw.output_tpm_per_mu)?,
        ));
    }
    let schema = Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("commitment", DataType::Utf8, false),
        Field::new("price_per_mu_hour", DataType::Decimal128(24, PRICE_SCALE), false),
        Field::new("input_tpm_per_mu", DataType::Int64, true),
        Field::new("output_tpm_per_mu", DataType::Int64, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("as_of", DataType::Utf8, false),
    ]);
    let s = |f: &dyn Fn(&RawProvisionedRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(|r| f(&r.0).to_string()).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = vec![
        s(&|r| &r.model),
        s(&|r| &r.region),
        s(&|r| &r.commitment),
        decimal(rows.iter().map(|r| Some(r.1)).collect(), 24, PRICE_SCALE, "provisioned_prices")?,
        Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
        s(&|r| &r.source),
        s(&|r| &r.as_of),
    ];
    RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|source| Error::Arrow { table: "provisioned_prices", source })
}

/// One row of the model lifecycle table (`pricing/model-lifecycle.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndOfLife {
    pub model: String,
    /// The first day the model is no longer served (its price rows end here).
    pub end_of_life: NaiveDate,
    /// The suggested successor, if any (this project's suggestion, not an AWS statement).
    pub successor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawLifecycleRow {
    model: String,
    end_of_life: String,
    successor: String,
}

/// Parse the lifecycle table.
pub fn parse_lifecycle(text: &str, origin: &str) -> Result<Vec<EndOfLife>, Error> {
    let mut out = Vec::new();
    for (line, raw) in read_sheet::<RawLifecycleRow>(text, origin)? {
        let end_of_life = parse_date(origin, line, "end_of_life", &raw.end_of_life)?
            .ok_or_else(|| invalid(origin, line, "end_of_life", "", "is required"))?;
        let successor = Some(raw.successor.trim().to_string()).filter(|s| !s.is_empty());
        out.push(EndOfLife { model: raw.model.trim().to_string(), end_of_life, successor });
    }
    Ok(out)
}

/// Traffic on a model on or after its end of life: what `pricing check` warns about (the book has no price for
/// it, and the model no longer answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastEndOfLife {
    pub model: String,
    pub end_of_life: NaiveDate,
    pub successor: Option<String>,
    /// Requests on or after the end-of-life day, and the first and last such day.
    pub requests: i64,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// The models of `traffic` (model, day, requests) with requests on or after their end of life, by model.
pub fn past_end_of_life<'a>(
    traffic: impl IntoIterator<Item = (&'a str, NaiveDate, i64)>,
    lifecycle: &[EndOfLife],
) -> Vec<PastEndOfLife> {
    let mut out: BTreeMap<&str, PastEndOfLife> = BTreeMap::new();
    for (model, day, requests) in traffic {
        let Some(eol) = lifecycle.iter().find(|e| e.model == model && day >= e.end_of_life) else { continue };
        let entry = out.entry(model).or_insert_with(|| PastEndOfLife {
            model: model.to_string(),
            end_of_life: eol.end_of_life,
            successor: eol.successor.clone(),
            requests: 0,
            first_day: day,
            last_day: day,
        });
        entry.requests += requests;
        entry.first_day = entry.first_day.min(day);
        entry.last_day = entry.last_day.max(day);
    }
    out.into_values().collect()
}

/// A private-pricing / EDP discount off list prices, parsed exactly from its decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    /// Percent at scale 6 (12.5% is 12_500_000).
    pct_micro: i128,
    /// As typed, for display.
    text: String,
}

impl Discount {
    /// No discount.
    pub fn none() -> Discount {
        Discount { pct_micro: 0, text: "0".to_string() }
    }

    /// A percentage from 0 to 100 with at most 6 decimals.
    pub fn parse(text: &str) -> Result<Discount, Error> {
        let pct_micro =
            parse_decimal(text, 6).filter(|p| *p <= 100_000_000).ok_or_else(|| Error::Discount(text.to_string()))?;
        Ok(Discount { pct_micro, text: text.trim().to_string() })
    }

    /// The percentage as typed.
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// The percentage as an integer count of millionths of a percent.
    pub fn micro_percent(&self) -> i128 {
        self.pct_micro
    }

    /// The `price_settings` table for this discount.
    pub fn to_record_batch(&self) -> Result<RecordBatch, Error> {
        settings_batch(&self.text)
    }
}

/// Everything a query session prices with, parsed and validated once per process.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// The per-token price book (`prices`).
    pub book: PriceBook,
    /// The Provisioned Throughput sheet as the `provisioned_prices` table.
    pub provisioned: RecordBatch,
    /// Applied to list prices (`price_settings`).
    pub discount: Discount,
}

impl Pricing {
    /// Parse a price sheet (`origin` names it in errors) with the bundled Provisioned Throughput sheet.
    pub fn parse(prices_csv: &str, origin: &str, discount: Discount) -> Result<Pricing, Error> {
        Ok(Pricing {
            book: parse_price_book(prices_csv, origin)?,
            provisioned: provisioned_batch(BUNDLED_PROVISIONED, "bundled pricing/provisioned-throughput.csv")?,
            discount,
        })
    }

    /// The bundled sheets, no discount.
    pub fn bundled() -> Result<Pricing, Error> {
        Pricing::parse(BUNDLED_PRICES, BUNDLED_ORIGIN, Discount::none())
    }
}

/// How the bundled price sheet is named in messages.
pub const BUNDLED_ORIGIN: &str = "bundled pricing/bedrock-prices.csv";

/// The `price_settings` table: one row with the discount and the exact multiplier applied to list cost.
pub fn settings_batch(discount_pct: &str) -> Result<RecordBatch, Error> {
    let pct = parse_decimal(discount_pct, 6)
        .filter(|p| *p <= 100_000_000)
        .ok_or_else(|| Error::Discount(discount_pct.to_string()))?;
    // (100 - pct) / 100 with pct at scale 6 is exactly (100e6 - pct) at scale 8.
    let multiplier = 100_000_000 - pct;
    let schema = Schema::new(vec![
        Field::new("discount_pct", DataType::Decimal128(12, 6), false),
        Field::new("discount_multiplier", DataType::Decimal128(12, MULTIPLIER_SCALE), false),
    ]);
    let columns = vec![
        decimal(vec![Some(pct)], 12, 6, "price_settings")?,
        decimal(vec![Some(multiplier)], 12, MULTIPLIER_SCALE, "price_settings")?,
    ];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|source| Error::Arrow { table: "price_settings", source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        let cases = [
            ("0.25", Some(2_500_000_000)),
            ("0.00875", Some(87_500_000)),
            ("3", Some(30_000_000_000)),
            ("4.125", Some(41_250_000_000)),
            (".5", Some(5_000_000_000)),
            ("0.00000000001", None),
            ("-1", None),
            ("1e3", None),
            ("", None),
            ("1.2.3", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_decimal(text, 10), want, "case {text:?}");
        }
    }

    #[test]
    fn bundled_books_load() {
        let book = parse_price_book(BUNDLED_PRICES, "bundled").unwrap();
        assert!(book.rows.len() > 50);
        let batch = book.to_record_batch().unwrap();
        assert_eq!(batch.num_rows(), book.rows.len());
        assert!(provisioned_batch(BUNDLED_PROVISIONED, "bundled").unwrap().num_rows() > 10);
        for r in &book.rows {
            assert!(
                !r.source.trim().is_empty() && !r.as_of.trim().is_empty(),
                "line {} names a source and date",
                r.line
            );
        }
    }

    const HEADER: &str = "model,region,routing,effective_from,effective_to,input_per_mtok,output_per_mtok,cache_read_per_mtok,cache_write_per_mtok,cache_write_1h_per_mtok,batch_input_per_mtok,batch_output_per_mtok,source,as_of";

    fn bundled() -> PriceBook {
        parse_price_book(BUNDLED_PRICES, "bundled").unwrap()
    }

    /// A price as the sheet writes it, at the book's scale.
    fn p(text: &str) -> Option<i128> {
        parse_decimal(text, PRICE_SCALE as u32)
    }

    fn rates_of(r: &PriceRow) -> [Option<i128>; 7] {
        let x = r.rates;
        [x.input, x.output, x.cache_read, x.cache_write, x.cache_write_1h, x.batch_input, x.batch_output]
    }

    #[test]
    fn tier_and_long_context_columns_are_optional_and_validated() {
        let header = format!("{HEADER},tier,long_context_above");
        let book = parse_price_book(
            &format!("{header}\nm,*,*,,,1,1,,,,,,s,d,,\nm,*,*,,,2,2,,,,,,s,d,,200000\nm,*,*,,,3,3,,,,,,s,d,FLEX,\n"),
            "new",
        )
        .unwrap();
        let keys: Vec<(Tier, Option<i64>)> = book.rows.iter().map(|r| (r.tier, r.long_context_above)).collect();
        assert_eq!(keys, [(Tier::Standard, None), (Tier::Standard, Some(200_000)), (Tier::Flex, None)]);
        assert_eq!(book.long_context_thresholds(), [200_000]);
        let old = parse_price_book(&format!("{HEADER}\nm,*,*,,,1,1,,,,,,s,d\n"), "old").unwrap();
        assert_eq!((old.rows[0].tier, old.rows[0].long_context_above), (Tier::Standard, None), "older books load");
        for (body, want) in [
            ("m,*,*,,,1,1,,,,,,s,d,reserved,", "tier \"reserved\""),
            ("m,*,*,,,1,1,,,,,,s,d,,-5", "long_context_above \"-5\""),
            ("m,*,*,,,1,1,,,,,,s,d,,2e5", "long_context_above"),
            ("m,*,*,,,1,1,,,,,,s,d,,200000\nm,*,*,,,2,2,,,,,,s,d,,200000", "context above 200000"),
            ("m,*,*,,,1,1,,,,,,s,d,priority,\nm,*,*,,,2,2,,,,,,s,d,Priority,", "tier priority"),
        ] {
            let err = parse_price_book(&format!("{header}\n{body}\n"), "sheet.csv").unwrap_err().to_string();
            assert!(err.contains(want), "case {body}: {err}");
        }
        let batch = book.to_record_batch().unwrap();
        let tiers = batch.column_by_name("tier").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(tiers.iter().collect::<Vec<_>>(), [Some("standard"), Some("standard"), Some("flex")]);
    }

    /// Every row of the bundled book names a source; the hand-kept rows are in it unchanged.
    #[test]
    fn bundled_book_cites_sources_and_holds_every_hand_kept_row() {
        let book = bundled();
        for r in &book.rows {
            assert!(!r.source.trim().is_empty(), "line {} has a source", r.line);
        }
        let hand = parse_price_book(HAND_KEPT_PRICES, "hand-kept").unwrap();
        assert!(hand.rows.len() > 10);
        let strip = |r: &PriceRow| PriceRow { line: 0, ..r.clone() };
        for h in &hand.rows {
            assert!(
                book.rows.iter().any(|b| strip(b) == strip(h)),
                "hand-kept line {} ({} {}) is in the bundled book",
                h.line,
                h.model,
                h.region
            );
            assert!(
                h.effective_to.is_some() || h.region.starts_with("us-gov-"),
                "hand-kept line {} is history, a retired model or GovCloud, as the file's header says",
                h.line
            );
        }
    }

    /// Claude Opus 4.5 and later, Sonnet 4.5 / 4.6 and Haiku 4.5: `regional` is exactly 1.1x `global`, every
    /// token class (an unpriced class stays unpriced in both), long-context rows included.
    #[test]
    fn regional_claude_is_exactly_one_point_one_times_global() {
        let book = bundled();
        let models = [
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic.claude-opus-4-5-20251101-v1:0",
            "anthropic.claude-sonnet-4-6",
            "anthropic.claude-opus-4-6-v1",
            "anthropic.claude-opus-4-7",
            "anthropic.claude-opus-4-8",
        ];
        for model in models {
            let rows = |routing: &str| -> Vec<&PriceRow> {
                book.rows.iter().filter(|r| r.model == model && r.region == "*" && r.routing == routing).collect()
            };
            let (global, regional) = (rows("global"), rows("regional"));
            assert!(!global.is_empty() && global.len() == regional.len(), "{model}: global and regional rows");
            assert!(rows("*").is_empty(), "{model}: no row for every routing");
            for g in global {
                let r = regional
                    .iter()
                    .find(|r| r.long_context_above == g.long_context_above && r.tier == g.tier)
                    .unwrap_or_else(|| panic!("{model}: a regional row for line {}", g.line));
                for (class, (g, r)) in rates_of(g).into_iter().zip(rates_of(r)).enumerate() {
                    assert_eq!(r.map(|r| r * 10), g.map(|g| g * 11), "{model} class {class}");
                }
            }
        }
        // Opus 4.5 as the reference gives it, not as computed: global 5 / 25, regional 5.50 / 27.50, cache read
        // 0.50 (0.55), write 5m 6.25 (6.875), write 1h 10 (11), batch 2.50 / 12.50 (2.75 / 13.75).
        let opus = |routing: &str| {
            let r = book.rows.iter().find(|r| r.model == models[2] && r.routing == routing).unwrap();
            rates_of(r)
        };
        assert_eq!(opus("global"), [p("5"), p("25"), p("0.50"), p("6.25"), p("10"), p("2.50"), p("12.50")]);
        assert_eq!(opus("regional"), [p("5.50"), p("27.50"), p("0.55"), p("6.875"), p("11"), p("2.75"), p("13.75")]);
    }

    /// Long context above 200K for Sonnet 4 and 4.5 at the reference's rates; none for Sonnet 4.6 / Opus 4.6.
    #[test]
    fn long_context_rows_match_the_reference() {
        let book = bundled();
        let lc = [p("6"), p("22.50"), p("0.60"), p("7.50"), p("12"), p("3"), p("11.25")];
        for (model, routing) in
            [("anthropic.claude-sonnet-4-20250514-v1:0", "*"), ("anthropic.claude-sonnet-4-5-20250929-v1:0", "global")]
        {
            let row = book
                .rows
                .iter()
                .find(|r| r.model == model && r.routing == routing && r.long_context_above.is_some())
                .unwrap_or_else(|| panic!("{model} has a long-context row"));
            assert_eq!((row.long_context_above, rates_of(row)), (Some(200_000), lc), "{model}");
        }
        for model in ["anthropic.claude-sonnet-4-6", "anthropic.claude-opus-4-6-v1"] {
            assert!(book.rows.iter().all(|r| r.model != model || r.long_context_above.is_none()), "{model}");
        }
    }

    /// The missing models of updates-2026-12 section 1 are in the book at its prices: Claude for every commercial
    /// Region, the others per US Region only (never a fallback elsewhere); an UNCONFIRMED price stays empty.
    #[test]
    fn current_models_are_priced_as_the_reference_says() {
        let book = bundled();
        let us = ["us-east-1", "us-east-2", "us-west-2"];
        let others = [
            ("meta.llama4-maverick-17b-instruct-v1:0", "0.24", "0.97", Some(("0.12", "0.485"))),
            ("meta.llama4-scout-17b-instruct-v1:0", "0.17", "0.66", Some(("0.085", "0.33"))),
            ("deepseek.r1-v1:0", "1.35", "5.40", None),
            ("deepseek.v3.2", "0.62", "1.85", Some(("0.31", "0.925"))),
            ("openai.gpt-oss-120b-1:0", "0.15", "0.60", Some(("0.075", "0.30"))),
            ("openai.gpt-oss-20b-1:0", "0.07", "0.30", Some(("0.035", "0.15"))),
            ("qwen.qwen3-32b-v1:0", "0.15", "0.60", Some(("0.075", "0.30"))),
            ("qwen.qwen3-coder-30b-a3b-v1:0", "0.15", "0.60", Some(("0.075", "0.30"))),
            ("qwen.qwen3-235b-a22b-2507-v1:0", "0.22", "0.88", Some(("0.11", "0.44"))),
            ("mistral.mistral-large-3-675b-instruct", "0.50", "1.50", Some(("0.25", "0.75"))),
            ("mistral.pixtral-large-2502-v1:0", "2", "6", None),
            ("google.gemma-3-27b-it", "0.23", "0.38", None),
            ("google.gemma-3-12b-it", "0.09", "0.29", None),
            ("google.gemma-3-4b-it", "0.04", "0.08", None),
        ];
        for (model, input, output, batch) in others {
            let rows: Vec<&PriceRow> = book.rows.iter().filter(|r| r.model == model).collect();
            let mut regions: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
            regions.sort_unstable();
            assert_eq!(regions, us, "{model}: the US Regions, nothing else");
            for r in rows {
                assert_eq!((r.rates.input, r.rates.output), (p(input), p(output)), "{model} {}", r.region);
                assert_eq!(
                    (r.rates.batch_input, r.rates.batch_output),
                    batch.map_or((None, None), |(i, o)| (p(i), p(o)))
                );
            }
        }
        let nova: Vec<&PriceRow> = book.rows.iter().filter(|r| r.model == "amazon.nova-2-lite-v1:0").collect();
        assert_eq!(nova.len(), 6, "global and regional in each US Region");
        for r in nova {
            let want = if r.routing == "global" {
                [p("0.30"), p("2.50"), p("0.075")]
            } else {
                [p("0.33"), p("2.75"), p("0.0825")]
            };
            assert_eq!([r.rates.input, r.rates.output, r.rates.cache_read], want, "Nova 2 Lite {}", r.routing);
        }
        for model in ["anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-7", "anthropic.claude-opus-4-8"] {
            let rows: Vec<&PriceRow> = book.rows.iter().filter(|r| r.model == model).collect();
            assert!(rows.iter().all(|r| r.region == "*") && rows.len() == 2, "{model}");
            let global = rows.iter().find(|r| r.routing == "global").unwrap();
            assert_eq!((global.rates.input, global.rates.output), (p("5"), p("25")), "{model}");
            let batch = (global.rates.batch_input, global.rates.batch_output);
            let want = if model.ends_with("4-7") { (None, None) } else { (p("2.50"), p("12.50")) };
            assert_eq!(batch, want, "{model}: Opus 4.7 batch is UNCONFIRMED, so unpriced");
        }
    }

    /// Each model of the lifecycle table has price rows, all ending on or before its end of life, and at least one
    /// ending exactly then; the table itself parses.
    #[test]
    fn retired_models_end_on_their_end_of_life() {
        let book = bundled();
        let lifecycle = parse_lifecycle(BUNDLED_LIFECYCLE, "lifecycle").unwrap();
        assert!(lifecycle.len() >= 15);
        for eol in &lifecycle {
            let rows: Vec<&PriceRow> = book.rows.iter().filter(|r| r.model == eol.model).collect();
            assert!(!rows.is_empty(), "{} is in the book", eol.model);
            assert!(rows.iter().all(|r| r.effective_to.is_some_and(|t| t <= eol.end_of_life)), "{}", eol.model);
            assert!(rows.iter().any(|r| r.effective_to == Some(eol.end_of_life)), "{}", eol.model);
        }
    }

    #[test]
    fn traffic_past_end_of_life_is_found_per_model() {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let lifecycle = vec![
            EndOfLife { model: "old".into(), end_of_life: day("2026-07-07"), successor: Some("new".into()) },
            EndOfLife { model: "later".into(), end_of_life: day("2027-01-01"), successor: None },
        ];
        let traffic = [
            ("old", day("2026-07-06"), 5),
            ("old", day("2026-07-07"), 2),
            ("old", day("2026-08-01"), 3),
            ("later", day("2026-12-31"), 9),
            ("other", day("2030-01-01"), 1),
        ];
        let found = past_end_of_life(traffic, &lifecycle);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(
            (f.model.as_str(), f.requests, f.first_day, f.last_day, f.successor.as_deref()),
            ("old", 5, day("2026-07-07"), day("2026-08-01"), Some("new")),
            "the end-of-life day itself counts; the day before does not"
        );
    }

    #[test]
    fn rejects_bad_sheets_with_the_line() {
        let cases = [
            ("m,*,*,,,abc,1,,,,,,s,d", "line 2: input_per_mtok \"abc\""),
            ("m,*,bogus,,,1,1,,,,,,s,d", "routing"),
            ("m,*,*,2025-02-01,2025-01-01,1,1,,,,,,s,d", "effective_to"),
            ("m,*,*,,2025-02-01,1,1,,,,,,s,d\nm,*,*,2025-01-15,,2,2,,,,,,s,d", "lines 2 and 3"),
            ("m,*,*,,,,1,,,,,,s,d", "input_per_mtok"),
        ];
        for (body, want) in cases {
            let err = parse_price_book(&format!("{HEADER}\n{body}\n"), "sheet.csv").unwrap_err().to_string();
            assert!(err.contains(want), "case {body}: {err}");
        }
        let ok = format!(
            "{HEADER},notes\nm,*,*,,2025-02-01,1,1,,,,,,s,d,x\nm,*,*,2025-02-01,,2,2,,,,,,s,d,y\nm,us-east-1,*,,,3,3,,,,,,s,d,z\n"
        );
        assert_eq!(parse_price_book(&ok, "extra columns").unwrap().rows.len(), 3);
    }

    #[test]
    fn lines_are_counted_past_comments_between_rows() {
        let text = format!(
            "# top\n{HEADER}\nm,*,*,,2025-01-01,1,1,,,,,,s,d\n# a note\n\n# another\nm,*,*,2025-01-01,,2,2,,,,,,s,d\n"
        );
        let lines: Vec<u64> = parse_price_book(&text, "commented").unwrap().rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 7]);
    }

    #[test]
    fn discount_multiplier_is_exact() {
        let b = settings_batch("12.5").unwrap();
        let m = b.column(1).as_any().downcast_ref::<Decimal128Array>().unwrap().value(0);
        assert_eq!(m, 87_500_000);
        assert!(settings_batch("101").is_err());
        assert!(settings_batch("-3").is_err());
    }
}
