//! The named queries, embedded from `queries/*.sql` at compile time so the binary works from any directory.
//! Each file opens with a `--` header: the question it answers, its parameters, its columns.

/// One named query.
#[derive(Debug, Clone, Copy)]
pub struct NamedQuery {
    /// The file stem.
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! queries {
    ($($name:literal),* $(,)?) => {
        &[$(NamedQuery { name: $name, sql: include_str!(concat!("../../queries/", $name, ".sql")) }),*]
    };
}

/// Every query in `queries/` (a test checks that the folder and this list agree).
pub const QUERIES: &[NamedQuery] = queries![
    "month_summary",
    "spend_by_model",
    "spend_by_day",
    "spend_by_principal",
    "spend_by_metadata",
    "cache_savings",
    "unpriced_usage",
    "errors_and_guardrails",
    "hourly_token_demand",
    "repeated_prefixes",
    "batchable_traffic",
    "tokens_by_model",
    "unpriced_totals",
    "warehouse_extent",
    "warehouse_tables",
    "table_columns",
    "price_book",
    "model_prices",
    "model_provisioned_prices",
    "recommend_batch",
    "recommend_prompt_caching",
    "recommend_throughput",
    "recommend_provisioned_prices",
    "recommend_model_traffic",
    "recommend_model_prices",
    "recommend_cache_weeks",
    "recommend_provisioned_usage",
    "recommend_errors_by_region",
    "spend_by_day_and_model",
    "coverage_by_day",
    "price_sources",
    "model_days",
    "days_with_data",
];

/// Look a query up by name.
pub fn find(name: &str) -> Option<&'static NamedQuery> {
    QUERIES.iter().find(|q| q.name == name)
}

/// The first line of the query's header comment.
pub fn description(query: &NamedQuery) -> &'static str {
    query.sql.lines().next().unwrap_or_default().trim_start_matches("--").trim()
}

/// The `$name` parameters a statement uses, in order of first use.
pub fn parameters(sql: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or_default();
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                    end += 1;
                }
                let name = &code[start..end];
                if !name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit()) && !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
                i = end;
            } else {
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_listed_once() {
        // At run time: a test binary reused from a shared build cache may have been built in another checkout.
        let root = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let dir = std::path::Path::new(&root).join("queries");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".sql")).map(String::from))
            .collect();
        files.sort();
        let mut listed: Vec<String> = QUERIES.iter().map(|q| q.name.to_string()).collect();
        listed.sort();
        let before = listed.len();
        listed.dedup();
        assert_eq!(before, listed.len(), "no two queries share a name");
        assert_eq!(files, listed);
        for q in QUERIES {
            assert!(q.sql.starts_with("--"), "{} opens with a header comment", q.name);
        }
    }

    #[test]
    fn finds_parameters() {
        assert_eq!(parameters("SELECT $a, $b -- $c\nWHERE x = $a AND y = '$1'"), vec!["a", "b"]);
    }
}
