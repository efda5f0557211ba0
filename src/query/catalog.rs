//! The named queries, embedded from `queries/*.sql` at compile time so the binary works from any directory.

/// One named query.
#[derive(Debug, Clone, Copy)]
pub struct NamedQuery {
    /// The file stem.
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every query in `queries/`.
pub const QUERIES: &[NamedQuery] =
    &[NamedQuery { name: "tokens_by_model", sql: include_str!("../../queries/tokens_by_model.sql") }];

/// Look a query up by name.
pub fn find(name: &str) -> Option<&'static NamedQuery> {
    QUERIES.iter().find(|q| q.name == name)
}

/// The first line of the query's header comment.
pub fn description(query: &NamedQuery) -> &'static str {
    query.sql.lines().next().unwrap_or_default().trim_start_matches("--").trim()
}
