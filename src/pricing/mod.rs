//! The price book: loads `pricing/bedrock-prices.csv` (or a user's sheet in the same format) and
//! `pricing/provisioned-throughput.csv`, validates them, and turns them into the Arrow tables `prices`,
//! `provisioned_prices` and `price_settings` that the SQL in `queries/` joins. Pure: text in, tables out.
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
    #[error(
        "{origin}: lines {first} and {second} both price {model} in {region} for routing {routing} on overlapping dates"
    )]
    Overlap { origin: String, model: String, region: String, routing: String, first: u64, second: u64 },
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

/// One row of the price sheet as written (columns beyond these are allowed and ignored).
#[derive(Debug, Deserialize)]
struct RawPriceRow {
    model: String,
    region: String,
    routing: String,
    effective_from: String,
    effective_to: String,
    input_per_mtok: String,
    output_per_mtok: String,
    cache_read_per_mtok: String,
    cache_write_per_mtok: String,
    cache_write_1h_per_mtok: String,
    batch_input_per_mtok: String,
    batch_output_per_mtok: String,
    source: String,
    as_of: String,
    /// Blank (standard), `flex` or `priority`; absent in books written before `pricing sync`.
    #[serde(default)]
    tier: String,
    /// Blank, or the input-token count above which the row's rates apply to the whole request.
    #[serde(default)]
    long_context_above: String,
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
    pub rates: Rates,
    pub source: String,
    pub as_of: String,
    /// Blank (standard), `flex` or `priority`.
    pub tier: String,
    /// Long-context rates: they apply to a request whose input exceeds this many tokens.
    pub long_context_above: Option<u64>,
}

impl PriceRow {
    /// A standard-tier, standard-context row: the only kind the cost queries price with so far.
    pub fn is_standard(&self) -> bool {
        self.tier.is_empty() && self.long_context_above.is_none()
    }
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
fn read_sheet<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<Vec<(u64, T)>, Error> {
    let csv_error = |source| Error::Csv { origin: origin.to_string(), source };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record.deserialize(Some(&headers)).map_err(csv_error)?));
    }
    Ok(rows)
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
        let rates = Rates {
            input: parse_price(origin, line, "input_per_mtok", &raw.input_per_mtok)?,
            output: parse_price(origin, line, "output_per_mtok", &raw.output_per_mtok)?,
            cache_read: parse_price(origin, line, "cache_read_per_mtok", &raw.cache_read_per_mtok)?,
            cache_write: parse_price(origin, line, "cache_write_per_mtok", &raw.cache_write_per_mtok)?,
            cache_write_1h: parse_price(origin, line, "cache_write_1h_per_mtok", &raw.cache_write_1h_per_mtok)?,
            batch_input: parse_price(origin, line, "batch_input_per_mtok", &raw.batch_input_per_mtok)?,
            batch_output: parse_price(origin, line, "batch_output_per_mtok", &raw.batch_output_per_mtok)?,
        };
        let tier = raw.tier.trim().to_ascii_lowercase();
        if !matches!(tier.as_str(), "" | "flex" | "priority") {
            return Err(invalid(origin, line, "tier", &raw.tier, "must be blank (standard), flex or priority"));
        }
        let long_context_above = match raw.long_context_above.trim() {
            "" => None,
            n => Some(n.parse::<u64>().map_err(|_| {
                invalid(origin, line, "long_context_above", &raw.long_context_above, "is not a whole number of tokens")
            })?),
        };
        if rates.input.is_none() {
            return Err(invalid(origin, line, "input_per_mtok", "", "is required (the fallback for unpriced classes)"));
        }
        rows.push(PriceRow {
            line,
            model: raw.model.trim().to_string(),
            region: raw.region.trim().to_string(),
            routing,
            effective_from,
            effective_to,
            rates,
            source: raw.source,
            as_of: raw.as_of,
            tier,
            long_context_above,
        });
    }
    check_overlaps(origin, &rows)?;
    Ok(PriceBook { origin: origin.to_string(), rows })
}

/// Two rows for the same model, Region, routing, tier and context threshold may not cover the same day: the match
/// must be unique.
fn check_overlaps(origin: &str, rows: &[PriceRow]) -> Result<(), Error> {
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str, Option<u64>);
    let mut by_key: BTreeMap<Key, Vec<&PriceRow>> = BTreeMap::new();
    for r in rows {
        by_key.entry((&r.model, &r.region, &r.routing, &r.tier, r.long_context_above)).or_default().push(r);
    }
    for ((model, region, routing, _, _), mut group) in by_key {
        group.sort_by_key(|r| r.effective_from);
        for pair in group.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let a_ends_before_b = match (a.effective_to, b.effective_from) {
                (Some(end), Some(start)) => end <= start,
                _ => false,
            };
            if !a_ends_before_b {
                return Err(Error::Overlap {
                    origin: origin.to_string(),
                    model: model.to_string(),
                    region: region.to_string(),
                    routing: routing.to_string(),
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
    /// The `prices` table: the sheet's columns, prices per million tokens (scale 10) and per token (scale 16),
    /// plus `row_id` and `valid_from`/`valid_to` (open ends filled) for the matching joins. Only standard-tier,
    /// standard-context rows: the cost queries do not yet choose a tier or a long-context rate, and a second row
    /// for the same key would count a request twice.
    pub fn to_record_batch(&self) -> Result<RecordBatch, Error> {
        let rows: Vec<&PriceRow> = self.rows.iter().filter(|r| r.is_standard()).collect();
        let rows = &rows;
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
    fn discount_multiplier_is_exact() {
        let b = settings_batch("12.5").unwrap();
        let m = b.column(1).as_any().downcast_ref::<Decimal128Array>().unwrap().value(0);
        assert_eq!(m, 87_500_000);
        assert!(settings_batch("101").is_err());
        assert!(settings_batch("-3").is_err());
    }
}
