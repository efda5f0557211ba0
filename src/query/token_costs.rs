//! `token_costs(...)`: the one place the per-token cost arithmetic is written. Both cost views call it, so the
//! summary view (`usage_costs`, token sums of a pricing key) and the per-request view (`invocation_costs`) cannot
//! drift apart. Which rates apply (the price row, the cache fallbacks, the status) stays in SQL, in
//! `queries/views/usage_costs.sql`; this function only multiplies and adds, exactly, in 128-bit integers.
//!
//! Arguments, in order: the token counts `n_input`, `n_cache_read`, `n_cache_write_5m`, `n_cache_write_1h`,
//! `n_output` (integers); the USD-per-token rates `input_rate`, `cache_read_rate`, `cache_write_rate`,
//! `cache_write_1h_rate`, `output_rate`, `batch_input_rate`, `batch_output_rate` (decimals at scale 16); and the
//! `discount_multiplier` (a decimal at scale 8). The result is a struct:
//!
//! - `input_cost_usd`, `output_cost_usd`, `cache_read_cost_usd`, `cache_write_cost_usd` (5-minute writes at the
//!   write rate plus 1-hour writes at the 1-hour rate) and their sum `list_cost_usd`, at list price (scale 16);
//! - `cost_usd` (`list_cost_usd` after the discount), `uncached_cost_usd` (every input token at the input rate,
//!   as if nothing were cached), `cache_savings_usd` (`uncached - list`, after the discount) and `batch_cost_usd`
//!   (the same tokens at batch rates), at scale 24.
//!
//! NULL behaves as in SQL arithmetic: a NULL rate makes every figure that uses it NULL, so an unpriced request
//! costs NULL, never 0. Overflow is an error, never a wrapped number.

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Builder, PrimitiveArray, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Decimal128Type, Field, Fields, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use crate::pricing::{MULTIPLIER_SCALE, PER_TOKEN_SCALE};

/// Scale of list-price figures: token counts times per-token rates.
const LIST_SCALE: i8 = PER_TOKEN_SCALE;
/// Scale of figures after the discount multiplier.
const NET_SCALE: i8 = PER_TOKEN_SCALE + MULTIPLIER_SCALE;

const LIST_FIELDS: [&str; 5] =
    ["input_cost_usd", "output_cost_usd", "cache_read_cost_usd", "cache_write_cost_usd", "list_cost_usd"];
const NET_FIELDS: [&str; 4] = ["cost_usd", "uncached_cost_usd", "cache_savings_usd", "batch_cost_usd"];

/// The fields of the result, in order.
pub static COST_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let list = LIST_FIELDS.iter().map(|n| Field::new(*n, DataType::Decimal128(38, LIST_SCALE), true));
    let net = NET_FIELDS.iter().map(|n| Field::new(*n, DataType::Decimal128(38, NET_SCALE), true));
    Fields::from(list.chain(net).collect::<Vec<_>>())
});

/// The token counts of one row (or group), by price class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: i128,
    pub cache_read: i128,
    pub cache_write_5m: i128,
    pub cache_write_1h: i128,
    pub output: i128,
}

/// Rates in USD per token at scale 16 (`None` = NULL); the multiplier at scale 8.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenRates {
    pub input: Option<i128>,
    pub cache_read: Option<i128>,
    pub cache_write: Option<i128>,
    pub cache_write_1h: Option<i128>,
    pub output: Option<i128>,
    pub batch_input: Option<i128>,
    pub batch_output: Option<i128>,
    pub multiplier: Option<i128>,
}

/// The costs of one row: list figures at scale 16, net figures at scale 24; `None` = NULL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Costs {
    pub list: [Option<i128>; 5],
    pub net: [Option<i128>; 4],
}

/// Apply the rates to the tokens. `None` from an overflow is told apart from NULL by the caller's `Err`.
pub fn costs(t: Tokens, r: TokenRates) -> std::result::Result<Costs, &'static str> {
    let mul = |n: i128, rate: Option<i128>| rate.map(|rate| checked_mul(n, rate).ok_or("overflow")).transpose();
    let add = |a: Option<i128>, b: Option<i128>| match (a, b) {
        (Some(a), Some(b)) => a.checked_add(b).map(Some).ok_or("overflow"),
        _ => Ok(None),
    };
    let net = |list: Option<i128>| match (list, r.multiplier) {
        (Some(v), Some(m)) => checked_mul(v, m).map(Some).ok_or("overflow"),
        _ => Ok(None),
    };
    let all_input = [t.cache_read, t.cache_write_5m, t.cache_write_1h]
        .into_iter()
        .try_fold(t.input, |acc, n| acc.checked_add(n))
        .ok_or("overflow")?;
    let input = mul(t.input, r.input)?;
    let output = mul(t.output, r.output)?;
    let cache_read = mul(t.cache_read, r.cache_read)?;
    let cache_write = add(mul(t.cache_write_5m, r.cache_write)?, mul(t.cache_write_1h, r.cache_write_1h)?)?;
    let list = add(add(input, output)?, add(cache_read, cache_write)?)?;
    let uncached = add(mul(all_input, r.input)?, output)?;
    let savings = match (uncached, list) {
        (Some(u), Some(l)) => Some(u.checked_sub(l).ok_or("overflow")?),
        _ => None,
    };
    let batch = add(mul(all_input, r.batch_input)?, mul(t.output, r.batch_output)?)?;
    Ok(Costs {
        list: [input, output, cache_read, cache_write, list],
        net: [net(list)?, net(uncached)?, net(savings)?, net(batch)?],
    })
}

/// `a * b`, `None` on overflow. Operands that fit in 64 bits (every token count, every rate, the multiplier and any
/// realistic cost) cannot overflow 128 bits, so they skip the general overflow check: for 128-bit operands that
/// check is a library call (`__muloti4`) that made this function the most expensive step of `invocation_costs`.
#[inline]
fn checked_mul(a: i128, b: i128) -> Option<i128> {
    const SMALL: u128 = i64::MAX as u128;
    if a.unsigned_abs() <= SMALL && b.unsigned_abs() <= SMALL { Some(a * b) } else { a.checked_mul(b) }
}

/// The SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TokenCosts {
    signature: Signature,
}

impl TokenCosts {
    pub fn new() -> Self {
        TokenCosts { signature: Signature::any(13, Volatility::Immutable) }
    }
}

impl Default for TokenCosts {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for TokenCosts {
    fn name(&self) -> &str {
        "token_costs"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(COST_FIELDS.clone()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 13 {
            return exec_err!("token_costs takes 13 arguments, got {}", args.args.len());
        }
        let rows = args.number_rows;
        let arrays = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<Vec<_>>>()?;
        let counts = arrays[..5]
            .iter()
            .map(|a| arrow::compute::cast(a, &DataType::Int64))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rates = arrays[5..12]
            .iter()
            .map(|a| arrow::compute::cast(a, &DataType::Decimal128(38, PER_TOKEN_SCALE)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let multiplier = arrow::compute::cast(&arrays[12], &DataType::Decimal128(38, MULTIPLIER_SCALE))?;
        // Plain slices and validity bitmaps, taken once outside the row loop: this function runs on every request
        // of `invocation_costs`, and per-row array access (downcast, bounds and null checks) cost more than the
        // arithmetic.
        let counts: Vec<&PrimitiveArray<Int64Type>> = counts.iter().map(|a| a.as_primitive::<Int64Type>()).collect();
        let rates: Vec<&PrimitiveArray<Decimal128Type>> =
            rates.iter().chain(std::iter::once(&multiplier)).map(|a| a.as_primitive::<Decimal128Type>()).collect();
        let count_nulls =
            counts.iter().fold(None, |acc: Option<NullBuffer>, a| NullBuffer::union(acc.as_ref(), a.nulls()));
        let count_values: Vec<&[i64]> = counts.iter().map(|a| a.values().as_ref()).collect();
        let rate_values: Vec<&[i128]> = rates.iter().map(|a| a.values().as_ref()).collect();
        let rate_nulls: Vec<Option<&NullBuffer>> = rates.iter().map(|a| a.nulls()).collect();
        let rate = |i: usize, row: usize| -> Option<i128> {
            rate_nulls[i].is_none_or(|nulls| nulls.is_valid(row)).then(|| rate_values[i][row])
        };
        let mut list: Vec<Decimal128Builder> = (0..5).map(|_| Decimal128Builder::with_capacity(rows)).collect();
        let mut net: Vec<Decimal128Builder> = (0..4).map(|_| Decimal128Builder::with_capacity(rows)).collect();
        // `row` indexes thirteen columns at once; no one of them is the loop's iterator.
        #[allow(clippy::needless_range_loop)]
        for row in 0..rows {
            let result = if count_nulls.as_ref().is_none_or(|nulls| nulls.is_valid(row)) {
                let n = |i: usize| i128::from(count_values[i][row]);
                let tokens =
                    Tokens { input: n(0), cache_read: n(1), cache_write_5m: n(2), cache_write_1h: n(3), output: n(4) };
                let rates = TokenRates {
                    input: rate(0, row),
                    cache_read: rate(1, row),
                    cache_write: rate(2, row),
                    cache_write_1h: rate(3, row),
                    output: rate(4, row),
                    batch_input: rate(5, row),
                    batch_output: rate(6, row),
                    multiplier: rate(7, row),
                };
                match costs(tokens, rates) {
                    Ok(c) => c,
                    Err(e) => return exec_err!("token_costs: {e} in row {row}"),
                }
            } else {
                Costs::default()
            };
            for (b, v) in list.iter_mut().zip(result.list) {
                b.append_option(v);
            }
            for (b, v) in net.iter_mut().zip(result.net) {
                b.append_option(v);
            }
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(9);
        for mut b in list {
            columns.push(Arc::new(b.finish().with_precision_and_scale(38, LIST_SCALE)?));
        }
        for mut b in net {
            columns.push(Arc::new(b.finish().with_precision_and_scale(38, NET_SCALE)?));
        }
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(COST_FIELDS.clone(), columns, None)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates as written in a price sheet (USD per million tokens, at most 10 decimals) to scale 16 per token.
    fn per_token(per_million: &str) -> Option<i128> {
        crate::pricing::parse_decimal(per_million, 10)
    }

    #[test]
    fn arithmetic_matches_a_hand_computation() {
        // 1000 input at $3/M, 200 cache read at $0.30/M, 300 5m writes at $3.75/M, 100 1h writes at $6/M,
        // 500 output at $15/M; batch at $1.50 / $7.50; 12.5% off.
        let tokens = Tokens { input: 1000, cache_read: 200, cache_write_5m: 300, cache_write_1h: 100, output: 500 };
        let rates = TokenRates {
            input: per_token("3"),
            cache_read: per_token("0.30"),
            cache_write: per_token("3.75"),
            cache_write_1h: per_token("6"),
            output: per_token("15"),
            batch_input: per_token("1.50"),
            batch_output: per_token("7.50"),
            multiplier: Some(87_500_000),
        };
        let c = costs(tokens, rates).unwrap();
        // In millionths of a dollar: input 3000, cache read 60, writes 1125 + 600, output 7500: list 12285.
        let micro = |n: i128| Some(n * 10i128.pow(16 - 6));
        assert_eq!(c.list, [micro(3000), micro(7500), micro(60), micro(1725), micro(12285)]);
        // Net at scale 24, times 0.875: uncached = 1600 * 3 + 7500 = 12300; batch = 1600 * 1.5 + 500 * 7.5 = 6150.
        let net = |micro_usd: i128| Some(micro_usd * 10i128.pow(24 - 6) * 875 / 1000);
        assert_eq!(c.net, [net(12285), net(12300), net(15), net(6150)]);
    }

    #[test]
    fn multiplication_is_exact_and_overflow_still_caught() {
        let big = i128::from(i64::MAX);
        assert_eq!(checked_mul(big, -big), Some(-(big * big)), "64-bit operands: the exact product");
        assert_eq!(checked_mul(big + 1, 3), Some((big + 1) * 3), "past 64 bits: the general path, still exact");
        assert_eq!(checked_mul(i128::MAX / 2, 3), None, "a product past 128 bits is an overflow");
        assert_eq!(checked_mul(i128::MIN, 1), Some(i128::MIN));
        assert_eq!(checked_mul(i128::MIN, -1), None);
    }

    #[test]
    fn null_rates_make_null_costs_never_zero() {
        let tokens = Tokens { input: 10, output: 0, ..Tokens::default() };
        let c = costs(tokens, TokenRates { multiplier: Some(100_000_000), ..TokenRates::default() }).unwrap();
        assert_eq!(c, Costs::default(), "an unpriced row costs NULL everywhere");
        let no_batch = TokenRates {
            input: Some(1),
            output: Some(1),
            cache_read: Some(1),
            cache_write: Some(1),
            cache_write_1h: Some(1),
            multiplier: Some(100_000_000),
            ..TokenRates::default()
        };
        let c = costs(tokens, no_batch).unwrap();
        assert!(c.list[4].is_some() && c.net[3].is_none(), "no batch price: batch cost NULL, the rest priced");
        let huge = Tokens { input: i128::MAX / 2, ..Tokens::default() };
        assert!(costs(huge, no_batch).is_err(), "overflow is an error");
    }
}
