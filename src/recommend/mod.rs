//! The recommender: finds money in the warehouse. Each rule reads typed rows from the query session (never Arrow
//! batches), prices what it proposes with the price book through the same exact decimal rules as every other
//! cost, and returns [`Recommendation`]s with their evidence and an honest confidence. Rules are pure functions
//! of typed rows; only [`recommend`] talks to the session.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::RecommendConfig;
use crate::query::{Period, Session};

/// What kind of move a recommendation proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Batch,
    PromptCaching,
    CacheRegression,
    ProvisionedThroughput,
    ReservedTier,
    UnusedProvisionedThroughput,
    Routing,
    ModelLifecycle,
    FlexTier,
}

/// How sure the recommendation is, given what the logs cannot show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// One recommendation. JSON keys are the field names; money serializes as numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Stable across re-runs on the same data: derived from the kind and the scope.
    pub id: String,
    pub kind: Kind,
    /// The traffic it concerns: model, region, principal, metadata key/value, prefix fingerprint, profile...
    pub scope: BTreeMap<String, String>,
    /// What that traffic cost over the analysed window.
    #[serde(with = "rust_decimal::serde::float")]
    pub current_cost_usd: Decimal,
    /// What the move saves over the analysed window (0 for reliability moves; negative is a stated increase).
    #[serde(with = "rust_decimal::serde::float")]
    pub savings_usd: Decimal,
    /// `savings_usd` normalised to 30 days of the window's activity.
    #[serde(with = "rust_decimal::serde::float")]
    pub monthly_savings_usd: Decimal,
    pub confidence: Confidence,
    pub confidence_reason: String,
    /// The numbers that justify it.
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// One or two sentences a developer can act on.
    pub action: String,
}

/// Errors of the recommender.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Query(#[from] crate::query::Error),
}

/// Every recommendation for the traffic in `period`, ranked by monthly savings (largest first), those below
/// `config.min_monthly_savings_usd` left out.
pub async fn recommend(
    session: &Session,
    period: &Period,
    config: &RecommendConfig,
) -> Result<Vec<Recommendation>, Error> {
    // The rules arrive with issue 17; until then there is nothing to recommend.
    let _ = (session, period, config);
    Ok(Vec::new())
}
