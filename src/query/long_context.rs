//! `long_context_floor(total_input)`: the largest long-context threshold of the session's price book that a
//! request's total input (input + cache read + cache write tokens) exceeds, or NULL when it exceeds none.
//!
//! Why a band and not the total: `usage_costs` prices groups of requests, and a long-context row prices a whole
//! request once its total input passes the model's threshold. Grouping by this floor keeps every group on one
//! side of every threshold in the book, so the grouped view stays exact (a group never mixes requests below and
//! above a threshold), while adding only as many groups as the book has distinct thresholds. Which threshold
//! applies to which model stays in SQL: a row with `long_context_above` N applies to a group exactly when
//! N <= its floor, because N is one of the book's thresholds and the floor is the largest one below the total.
//!
//! The thresholds come from the book, so the function is built per session from [`crate::pricing::PriceBook`].

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// The SQL function, holding the book's thresholds in ascending order.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LongContextFloor {
    signature: Signature,
    thresholds: Vec<i64>,
}

impl LongContextFloor {
    /// The function over `thresholds` (any order, duplicates allowed).
    pub fn new(mut thresholds: Vec<i64>) -> Self {
        thresholds.sort_unstable();
        thresholds.dedup();
        LongContextFloor { signature: Signature::any(1, Volatility::Immutable), thresholds }
    }

    /// The largest threshold strictly below `total`.
    pub fn floor(&self, total: i64) -> Option<i64> {
        let below = self.thresholds.partition_point(|t| *t < total);
        below.checked_sub(1).map(|i| self.thresholds[i])
    }
}

impl ScalarUDFImpl for LongContextFloor {
    fn name(&self) -> &str {
        "long_context_floor"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [totals] = args.args.as_slice() else {
            return exec_err!("long_context_floor takes one argument, got {}", args.args.len());
        };
        let totals = arrow::compute::cast(&totals.to_array(args.number_rows)?, &DataType::Int64)?;
        let totals = totals.as_primitive::<Int64Type>();
        let floors: Int64Array = if self.thresholds.is_empty() {
            Int64Array::new_null(totals.len())
        } else {
            totals.iter().map(|t| t.and_then(|t| self.floor(t))).collect()
        };
        Ok(ColumnarValue::Array(Arc::new(floors)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_the_largest_threshold_strictly_below_the_total() {
        let f = LongContextFloor::new(vec![1_000_000, 200_000, 200_000]);
        let cases = [
            (0, None),
            (199_999, None),
            (200_000, None), // "exceeds": at the threshold is still standard context
            (200_001, Some(200_000)),
            (1_000_000, Some(200_000)),
            (1_000_001, Some(1_000_000)),
        ];
        for (total, want) in cases {
            assert_eq!(f.floor(total), want, "total {total}");
        }
        assert_eq!(LongContextFloor::new(vec![]).floor(5_000_000), None);
    }
}
