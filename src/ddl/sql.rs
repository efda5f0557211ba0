//! The pieces of engine SQL that `ddl` writes from the crate's own rules rather than copies: column types from
//! the Arrow schema, string literals in each dialect, `bedrock_model` as plain SQL (CASE and regular
//! expressions) and `token_costs` as exact DECIMAL expressions. Pure: values in, SQL text out.

use arrow::datatypes::DataType;

use super::{Engine, Error};

/// Type of a per-token rate in the engines: the book's per-million price (at most 10 decimals) divided by a
/// million. Twenty digits hold rates up to $10,000 per token.
pub const RATE_TYPE: &str = "DECIMAL(20,16)";
/// Type a token count is multiplied in: 17 + 20 + 1 = 38 digits is the widest product Spark keeps exact (past
/// 38 digits it drops decimals, `spark.sql.decimalOperations.allowPrecisionLoss`).
const TOKENS_TYPE: &str = "DECIMAL(17,0)";
/// Type of an intermediate cost (up to $10^12 per row or group, 16 decimals: the exact product). Sums of four
/// stay within 38 digits, and its product with the discount multiplier is exactly 38.
const COST_TYPE: &str = "DECIMAL(28,16)";
/// Type of the discount multiplier (at most 1, 8 decimals).
pub const MULTIPLIER_TYPE: &str = "DECIMAL(9,8)";
/// Output types, as DataFusion's `token_costs` returns them.
const LIST_TYPE: &str = "DECIMAL(38,16)";
const NET_TYPE: &str = "DECIMAL(38,24)";

/// A string literal in `engine`'s SQL. Spark reads backslashes in literals as escapes (a regex `\s` is written
/// `\\s`); Trino takes the text as is and doubles quotes.
pub fn literal(engine: Engine, text: &str) -> String {
    match engine {
        Engine::Spark => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        Engine::Athena => format!("'{}'", text.replace('\'', "''")),
    }
}

/// The DDL type of an Arrow type: Hive's names, which Athena's DDL and Spark's both take.
pub fn column_type(column: &str, data_type: &DataType) -> Result<String, Error> {
    Ok(match data_type {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "string".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Int32 => "int".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Float64 => "double".into(),
        DataType::Date32 => "date".into(),
        // Parquet stores UTC instants; both engines read them as `timestamp` (Spark: an instant shown in the
        // session time zone, Athena: UTC).
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => format!(
                "map<{},{}>",
                column_type(column, fields[0].data_type())?,
                column_type(column, fields[1].data_type())?
            ),
            other => return Err(Error::UnsupportedType { column: column.into(), data_type: other.to_string() }),
        },
        other => return Err(Error::UnsupportedType { column: column.into(), data_type: other.to_string() }),
    })
}

/// Prefix of a Bedrock ARN up to its resource: `arn:<partition>:bedrock:<region>:<account>:` (the Rust code
/// splits the part after `arn:` at its first four colons; `[^:]*` does the same).
const BEDROCK_ARN: &str = "^arn:[^:]*:bedrock:[^:]*:[^:]*:";
/// `looks_like_base_id`: a provider of `[a-z0-9-]`, a dot, a non-empty name; no `/` and no white space anywhere.
const BASE_ID: &str = "[a-z0-9-]+[.][^/\\s]+";

/// CTEs that read `grouped` (with a `model_id` column) and define `named`: its columns plus `model`, `provider`,
/// `routing` and `inference_profile`, as [`crate::model_id::normalize`] gives them. One step per CTE because
/// neither engine lets a select list use its own aliases. The rule, step by step, mirrors the Rust:
/// trim; a Bedrock ARN's resource type (`kind`) and id; a plain id (bare, or the id of a foundation-model or
/// inference-profile ARN) is a base model when it starts with a known provider, a system profile when a 2-8
/// letter geography prefix precedes a base id, a base model when it looks like one; custom-model ARNs may
/// carry their base model; the other ARN kinds give only a routing.
///
/// Known gap: Rust trims and tests Unicode white space; the regular expressions use ASCII `\s`.
pub fn model_ref_ctes(engine: Engine) -> String {
    let lit = |text: &str| literal(engine, text);
    let providers = crate::model_id::KNOWN_PROVIDERS.join("|");
    let arn_id_re = format!("{BEDROCK_ARN}[^/]*/([\\s\\S]*)$");
    let custom_re = format!("{BEDROCK_ARN}custom-model/({BASE_ID})/[^/]*$");
    let profile_re = format!("^[a-z-]{{2,8}}[.]{BASE_ID}$");
    format!(
        "mr_trimmed AS (
  SELECT g.*, regexp_replace(g.model_id, {trim}, '') AS mr_id FROM grouped g
),
mr_arn AS (
  SELECT t.*,
    CASE WHEN regexp_like(t.mr_id, {arn}) THEN regexp_extract(t.mr_id, {kind}, 1) END AS mr_kind
  FROM mr_trimmed t
),
mr_plain AS (
  SELECT a.*,
    CASE
      WHEN a.mr_id LIKE 'arn:%' THEN
        CASE WHEN a.mr_kind IN ('foundation-model', 'inference-profile') AND regexp_like(a.mr_id, {arn_id})
          THEN regexp_extract(a.mr_id, {arn_id}, 1) END
      ELSE a.mr_id
    END AS mr_plain,
    CASE WHEN a.mr_kind = 'custom-model' AND regexp_like(a.mr_id, {custom})
      THEN regexp_extract(a.mr_id, {custom}, 1) END AS mr_custom_base
  FROM mr_arn a
),
mr_class AS (
  SELECT p.*,
    CASE
      WHEN regexp_like(p.mr_plain, {known}) THEN 'base'
      WHEN regexp_like(p.mr_plain, {profile}) THEN 'profile'
      WHEN regexp_like(p.mr_plain, {base}) THEN 'base'
    END AS mr_plain_class
  FROM mr_plain p
),
mr_model AS (
  SELECT k.*,
    CASE
      WHEN k.mr_plain_class = 'base' THEN k.mr_plain
      WHEN k.mr_plain_class = 'profile' THEN regexp_extract(k.mr_plain, {after_prefix}, 1)
      WHEN k.mr_kind = 'custom-model' THEN k.mr_custom_base
    END AS model,
    CASE
      WHEN k.mr_plain_class = 'base' THEN 'in-region'
      WHEN k.mr_plain_class = 'profile' AND k.mr_plain LIKE 'global.%' THEN 'global'
      WHEN k.mr_plain_class = 'profile' THEN 'geo'
      WHEN k.mr_kind = 'application-inference-profile' THEN 'application-profile'
      WHEN k.mr_kind = 'provisioned-model' THEN 'provisioned'
      WHEN k.mr_kind IN ('custom-model', 'custom-model-deployment') THEN 'custom'
      WHEN k.mr_kind = 'imported-model' THEN 'imported'
      ELSE 'unknown'
    END AS routing,
    CASE
      WHEN k.mr_plain_class = 'profile' THEN k.mr_plain
      WHEN k.mr_kind = 'application-inference-profile' THEN k.mr_id
    END AS inference_profile
  FROM mr_class k
),
named AS (
  SELECT m.*, CASE WHEN m.model IS NOT NULL THEN regexp_extract(m.model, {provider}, 1) END AS provider
  FROM mr_model m
)",
        trim = lit("^\\s+|\\s+$"),
        arn = lit(BEDROCK_ARN),
        kind = lit(&format!("{BEDROCK_ARN}([^/]*)")),
        arn_id = lit(&arn_id_re),
        custom = lit(&custom_re),
        known = lit(&format!("^({providers})[.]")),
        profile = lit(&profile_re),
        base = lit(&format!("^{BASE_ID}$")),
        after_prefix = lit("^[a-z-]{2,8}[.]([\\s\\S]*)$"),
        provider = lit("^([^.]*)[.]"),
    )
}

/// `long_context_floor(total_input)` as a CASE expression over the `invocations` token columns: the largest of
/// `thresholds` (the book's, [`crate::pricing::PriceBook::long_context_thresholds`]) that the request's total
/// input (input + cache read + cache write tokens, missing counts 0) exceeds, NULL when none, as a BIGINT. The
/// engines have no session functions; the DataFusion function (src/query/long_context.rs) takes the thresholds
/// from the same book, so both group alike.
pub fn long_context_floor(thresholds: &[i64]) -> String {
    let mut sorted = thresholds.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    if sorted.is_empty() {
        return "CAST(NULL AS BIGINT)".into();
    }
    let total = "coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)";
    // Largest first: the first threshold the total exceeds is the largest one.
    let arms: String = sorted.iter().map(|n| format!(" WHEN {total} > {n} THEN CAST({n} AS BIGINT)")).collect();
    format!("CASE{arms} END")
}

/// The select-list items of `token_costs`: reads `c.n_input`, `c.n_cache_read`, `c.n_cache_write_5m`,
/// `c.n_cache_write_1h`, `c.n_output`, the `c.*_rate` columns and `c.discount_multiplier`, and names the nine
/// figures as [`crate::query::token_costs`] does, with its types (list figures at scale 16, net at scale 24).
///
/// Every product is a token count as [`TOKENS_TYPE`] times a rate as [`RATE_TYPE`], so it is exact in both
/// engines; each sum is cast back to [`COST_TYPE`] so that no later product passes 38 digits. A NULL rate
/// makes every figure that uses it NULL, as in the function.
pub fn token_costs() -> String {
    let n = |column: &str| format!("CAST(c.{column} AS {TOKENS_TYPE})");
    let cost = |expr: String| format!("CAST({expr} AS {COST_TYPE})");
    let mul = |count: String, rate: &str| cost(format!("{count} * c.{rate}"));
    let all_input =
        format!("CAST(c.n_input + c.n_cache_read + c.n_cache_write_5m + c.n_cache_write_1h AS {TOKENS_TYPE})");
    let input = mul(n("n_input"), "input_rate");
    let output = mul(n("n_output"), "output_rate");
    let cache_read = mul(n("n_cache_read"), "cache_read_rate");
    let cache_write = cost(format!(
        "{} + {}",
        mul(n("n_cache_write_5m"), "cache_write_rate"),
        mul(n("n_cache_write_1h"), "cache_write_1h_rate")
    ));
    let list = cost(format!("{input} + {output} + {cache_read} + {cache_write}"));
    let uncached = cost(format!("{} + {output}", mul(all_input.clone(), "input_rate")));
    let savings = cost(format!("{uncached} - {list}"));
    let batch = cost(format!("{} + {}", mul(all_input, "batch_input_rate"), mul(n("n_output"), "batch_output_rate")));
    let net = |expr: &str| format!("CAST({expr} * c.discount_multiplier AS {NET_TYPE})");
    let items = [
        (format!("CAST({input} AS {LIST_TYPE})"), "input_cost_usd"),
        (format!("CAST({output} AS {LIST_TYPE})"), "output_cost_usd"),
        (format!("CAST({cache_read} AS {LIST_TYPE})"), "cache_read_cost_usd"),
        (format!("CAST({cache_write} AS {LIST_TYPE})"), "cache_write_cost_usd"),
        (format!("CAST({list} AS {LIST_TYPE})"), "list_cost_usd"),
        (net(&list), "cost_usd"),
        (net(&uncached), "uncached_cost_usd"),
        (net(&savings), "cache_savings_usd"),
        (net(&batch), "batch_cost_usd"),
    ];
    items.iter().map(|(expr, name)| format!("    {expr} AS {name}")).collect::<Vec<_>>().join(",\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_follow_each_dialect() {
        assert_eq!(literal(Engine::Spark, r"^\s+'x"), r"'^\\s+\'x'");
        assert_eq!(literal(Engine::Athena, r"^\s+'x"), r"'^\s+''x'");
    }

    #[test]
    fn long_context_floor_takes_the_largest_threshold_first() {
        assert_eq!(long_context_floor(&[]), "CAST(NULL AS BIGINT)");
        let sql = long_context_floor(&[200_000, 1_000_000, 200_000]);
        assert_eq!(sql.matches(" WHEN ").count(), 2, "one arm per distinct threshold: {sql}");
        let (big, small) = (sql.find("> 1000000 THEN").unwrap(), sql.find("> 200000 THEN").unwrap());
        assert!(big < small, "largest first: {sql}");
    }

    #[test]
    fn token_costs_names_the_functions_fields_in_order() {
        let sql = token_costs();
        let names: Vec<&str> =
            sql.lines().filter_map(|l| l.rsplit_once(" AS ").map(|(_, n)| n.trim_end_matches(','))).collect();
        let expected: Vec<String> =
            crate::query::token_costs::COST_FIELDS.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names, expected);
    }
}
