//! `pricing sync`: rebuild the price book from the public AWS Price List offer files plus the hand-kept rows, and
//! say how it differs from the current book.
//!
//! The pipeline: [`fetch`] reads the region index and each Region's offer for both offer codes (over HTTPS, or
//! from a folder of saved files) — the only I/O here; [`offer`] parses them into typed structs with exact decimal
//! prices; [`usage::classify`] says what each SKU charges for; [`alias`] says which model it is; [`build`] turns
//! the priced SKUs into book rows (one region `*` row where a region-uniform model costs the same in every
//! commercial Region), merges `pricing/hand-kept-prices.csv` over them, and [`book`] diffs and writes the result.
//! Nothing is guessed: a SKU that cannot be classified, priced or matched to one alias is listed, and the rows
//! it would have filled stay as they are in no book (unknown, not $0).

pub mod alias;
pub mod book;
pub mod fetch;
pub mod offer;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use alias::AliasTable;
use book::{BookRow, RowKey};
use offer::Offer;
use usage::{Routing, SkuClass, TokenClass, TokenSku};

/// The bundled hand-kept rows.
pub const BUNDLED_HAND_KEPT: &str = include_str!("../../../pricing/hand-kept-prices.csv");

/// Errors of a sync; each names what failed (URL, file and line, SKU).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to fetch {url} after {attempts} attempt(s)")]
    Request { url: String, attempts: u32, source: reqwest::Error },
    #[error("timed out fetching {url} ({timeout_secs} s per attempt, {attempts} attempt(s))")]
    Timeout { url: String, timeout_secs: u64, attempts: u32 },
    #[error("{url} answered HTTP {status} after {attempts} attempt(s)")]
    Status { url: String, status: u16, attempts: u32 },
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("cannot read {path}")]
    ReadFile { path: String, source: std::io::Error },
    #[error("{location} is not a Price List {what}")]
    Parse { location: String, what: &'static str, source: serde_json::Error },
    #[error("{location} holds offer {found:?}, expected {expected}")]
    WrongOffer { location: String, found: String, expected: String },
    #[error("Region {0} is in neither offer's region index")]
    UnknownRegion(String),
    #[error("alias table {origin} line {line}: {reason}")]
    Aliases { origin: String, line: u64, reason: String },
    #[error("{origin} line {line}: {reason}")]
    Book { origin: String, line: u64, reason: String },
    #[error("cannot read price sheet")]
    Sheet(#[source] crate::pricing::Error),
    #[error("SKU {sku} of {offer_code} matches two aliases in {origin}: {first} and {second}")]
    AmbiguousAlias { origin: String, offer_code: String, sku: String, first: String, second: String },
    #[error("{model} in {place}: SKUs {first} and {second} both price {column}, differently")]
    ConflictingSkus { model: String, place: String, column: &'static str, first: String, second: String },
    #[error("the synced book would not load")]
    Invalid(#[source] crate::pricing::Error),
}

/// One Region's offer file, as fetched.
#[derive(Debug)]
pub struct OfferFile {
    /// The offer code asked for.
    pub offer_code: String,
    /// The Region of the region index entry.
    pub region: String,
    /// Where it was read (URL or path), for messages.
    pub location: String,
    pub offer: Offer,
}

/// A SKU the sync could not use, listed for the user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListedSku {
    pub offer_code: String,
    pub region: String,
    pub sku: String,
    pub usage_type: String,
    /// The product's `model` or `servicename`.
    pub name: String,
    pub reason: String,
}

/// What a sync saw besides the rows.
#[derive(Debug, Default)]
pub struct SyncReport {
    pub offer_files: usize,
    pub regions: BTreeSet<String>,
    pub publication_dates: BTreeSet<String>,
    /// SKUs that became (part of) a row.
    pub priced_skus: usize,
    /// SKUs deliberately left out, by reason.
    pub skipped: BTreeMap<&'static str, usize>,
    /// Token SKUs whose usage type or price could not be read.
    pub unknown: Vec<ListedSku>,
    /// Token SKUs whose product matches no alias.
    pub unmatched: Vec<ListedSku>,
    /// Price-List rows not written because they lack an input price (the book requires one).
    pub incomplete: Vec<String>,
    /// Hand-kept rows that replaced a Price List row: (line, label, what changed).
    pub overrides: Vec<(u64, String, String)>,
    /// Hand-kept rows with no Price List counterpart.
    pub hand_kept_added: usize,
    /// Rows of the current book kept because their Region was not synced (`--region`).
    pub carried_over: usize,
}

/// Skip reasons, as the summary prints them.
const SKIP_MANTLE: &str = "bedrock-mantle (no invocation logs)";
const SKIP_RESERVED: &str = "Reserved tier (priced per 1K tokens-per-minute per hour, not per token)";
const SKIP_LATENCY: &str = "latency-optimized (no book column yet)";
const SKIP_CUSTOM: &str = "custom-model inference";
const SKIP_NOT_TOKENS: &str = "not priced per token (images, hours, units ...)";
const SKIP_BATCH_CACHE: &str = "batch cache rates (no book column)";
const SKIP_NO_TERM: &str = "no On-Demand term";

/// Regions where Claude's prices are known to differ (GovCloud, China, ISO): never folded into region `*`.
fn is_commercial(region: &str) -> bool {
    !["us-gov-", "cn-", "us-iso", "eu-isoe-"].iter().any(|p| region.starts_with(p))
}

/// One price cell while rows are assembled: the price, the SKUs that state it, their offer and publication date.
#[derive(Debug, Clone)]
struct Cell {
    price: Decimal,
    skus: Vec<String>,
}

/// Prices of one (model, region, tier, long context, routing), before routings are settled.
#[derive(Debug, Clone, Default)]
struct Draft {
    cells: [Option<Cell>; 7],
    offer_code: String,
    publication_date: String,
}

/// (model, region, tier, long_context_above) while SKUs are gathered; (model, routing, tier, long_context_above)
/// while Regions are folded.
type GroupKey = (String, String, String, String);

/// The book column of a token SKU, or `None` when the book has none (batch cache rates).
fn column(sku: &TokenSku) -> Option<usize> {
    Some(match (sku.batch, sku.class) {
        (false, TokenClass::Input) => 0,
        (false, TokenClass::Output) => 1,
        (false, TokenClass::CacheRead) => 2,
        (false, TokenClass::CacheWrite5m) => 3,
        (false, TokenClass::CacheWrite1h) => 4,
        (true, TokenClass::Input) => 5,
        (true, TokenClass::Output) => 6,
        (true, _) => return None,
    })
}

/// The result of a sync: the new book's rows (sorted) and what was seen.
#[derive(Debug)]
pub struct Synced {
    pub rows: Vec<BookRow>,
    pub report: SyncReport,
}

/// Build the book from offer files, the alias table and the hand-kept rows. `carry_over`: rows of the current
/// book to keep when only some Regions were synced (those of Regions not synced). Pure.
pub fn build(
    offers: &[OfferFile],
    aliases: &AliasTable,
    hand_kept: &[(u64, BookRow)],
    carry_over: &[BookRow],
) -> Result<Synced, Error> {
    let mut report = SyncReport { offer_files: offers.len(), ..SyncReport::default() };
    let mut uniform: BTreeSet<String> = BTreeSet::new();
    let mut groups: BTreeMap<GroupKey, BTreeMap<Routing, Draft>> = BTreeMap::new();
    for file in offers {
        report.regions.insert(file.region.clone());
        report.publication_dates.insert(file.offer.publication_date.clone());
        for (sku, product) in &file.offer.products {
            let attrs = &product.attributes;
            let region = attrs.region_code.clone().unwrap_or_else(|| file.region.clone());
            let listed = |reason: String| ListedSku {
                offer_code: file.offer_code.clone(),
                region: region.clone(),
                sku: sku.clone(),
                usage_type: attrs.usagetype.clone(),
                name: attrs.servicename.clone().or_else(|| attrs.model.clone()).unwrap_or_default(),
                reason,
            };
            let token = match usage::classify(&attrs.usagetype, attrs) {
                Err(unknown) => {
                    report.unknown.push(listed(unknown.reason));
                    continue;
                }
                Ok(SkuClass::Token(token)) => token,
                Ok(other) => {
                    let reason = match other {
                        SkuClass::Mantle => SKIP_MANTLE,
                        SkuClass::ReservedTpm => SKIP_RESERVED,
                        SkuClass::LatencyOptimized => SKIP_LATENCY,
                        SkuClass::CustomModel => SKIP_CUSTOM,
                        SkuClass::NotTokens | SkuClass::Token(_) => SKIP_NOT_TOKENS,
                    };
                    *report.skipped.entry(reason).or_default() += 1;
                    continue;
                }
            };
            let Some(alias) = aliases.find(&file.offer_code, sku, attrs)? else {
                report.unmatched.push(listed("no alias in the alias table".to_string()));
                continue;
            };
            let Some(col) = column(&token) else {
                *report.skipped.entry(SKIP_BATCH_CACHE).or_default() += 1;
                continue;
            };
            let long_context = match (token.long_context, alias.long_context_above) {
                (false, _) => String::new(),
                (true, Some(n)) => n.to_string(),
                (true, None) => {
                    report.unknown.push(listed(format!(
                        "a long-context rate, but the alias table gives {} no long_context_above threshold",
                        alias.model
                    )));
                    continue;
                }
            };
            let dimensions: Vec<&offer::PriceDimension> = file
                .offer
                .terms
                .on_demand
                .get(sku)
                .into_iter()
                .flat_map(|terms| terms.values())
                .flat_map(|term| term.price_dimensions.values())
                .collect();
            if dimensions.is_empty() {
                *report.skipped.entry(SKIP_NO_TERM).or_default() += 1;
                continue;
            }
            let price = match offer::price_per_million(&file.offer_code, &dimensions) {
                Ok(price) => price,
                Err(reason) => {
                    report.unknown.push(listed(reason));
                    continue;
                }
            };
            if alias.region_uniform {
                uniform.insert(alias.model.clone());
            }
            let key = (alias.model.clone(), region.clone(), token.tier.book_value().to_string(), long_context);
            let draft = groups.entry(key).or_default().entry(token.routing).or_default();
            if draft.offer_code.is_empty() || file.offer.publication_date > draft.publication_date {
                draft.publication_date = file.offer.publication_date.clone();
            }
            if !draft.offer_code.split(' ').any(|c| c == file.offer_code) {
                draft.offer_code = [draft.offer_code.as_str(), &file.offer_code].join(" ").trim().to_string();
            }
            match &mut draft.cells[col] {
                slot @ None => *slot = Some(Cell { price, skus: vec![sku.clone()] }),
                Some(cell) if cell.price == price => cell.skus.push(sku.clone()),
                Some(cell) => {
                    return Err(Error::ConflictingSkus {
                        model: alias.model.clone(),
                        place: format!("{region} ({:?} routing)", token.routing).to_ascii_lowercase(),
                        column: book::PRICE_COLUMNS[col],
                        first: format!("{} ({})", cell.skus.join("+"), cell.price),
                        second: format!("{sku} ({price})"),
                    });
                }
            }
            report.priced_skus += 1;
        }
    }

    // Settle routings: a model with no global SKU in a Region (no global profile there) has one price for every
    // routing in that Region (`*`), as hand-made books wrote it.
    let with_global: BTreeSet<(String, String)> = groups
        .iter()
        .filter(|(_, by_routing)| by_routing.contains_key(&Routing::Global))
        .map(|((model, region, _, _), _)| (model.clone(), region.clone()))
        .collect();
    let mut drafts: Vec<(String, String, String, String, String, Draft)> = Vec::new();
    for ((model, region, tier, long), by_routing) in groups {
        let only_regional = !with_global.contains(&(model.clone(), region.clone()));
        for (routing, draft) in by_routing {
            let routing = match (routing, only_regional) {
                (Routing::Regional, true) => "*",
                (Routing::Regional, false) => "regional",
                (Routing::Global, _) => "global",
            };
            if draft.cells[0].is_none() {
                report.incomplete.push(format!(
                    "{model} {region} {routing}{}{}: no input price in the Price List",
                    if tier.is_empty() { String::new() } else { format!(" tier {tier}") },
                    if long.is_empty() { String::new() } else { format!(" long context > {long}") },
                ));
                continue;
            }
            drafts.push((model.clone(), region.clone(), routing.to_string(), tier.clone(), long.clone(), draft));
        }
    }

    // Fold region-uniform models into one region `*` row where every commercial Region agrees.
    let mut rows: Vec<BookRow> = Vec::new();
    let mut by_class: BTreeMap<GroupKey, Vec<(String, Draft)>> = BTreeMap::new();
    for (model, region, routing, tier, long, draft) in drafts {
        by_class.entry((model, routing, tier, long)).or_default().push((region, draft));
    }
    for ((model, routing, tier, long), regions) in by_class {
        let row = |region: &str, draft: &Draft, note: &str| BookRow {
            model: model.clone(),
            region: region.to_string(),
            routing: routing.clone(),
            effective_from: String::new(),
            effective_to: String::new(),
            prices: draft.cells.clone().map(|c| c.map(|c| c.price)),
            source: format!(
                "AWS Price List {} {} SKU {}{note}",
                draft.offer_code,
                draft.publication_date,
                draft
                    .cells
                    .iter()
                    .flatten()
                    .flat_map(|c| c.skus.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            as_of: draft.publication_date.chars().take(10).collect(),
            confidence: "A".to_string(),
            tier: tier.clone(),
            long_context_above: long.clone(),
        };
        let prices = |d: &Draft| d.cells.clone().map(|c| c.map(|c| c.price));
        let commercial: Vec<&(String, Draft)> = regions.iter().filter(|(r, _)| is_commercial(r)).collect();
        let fold = uniform.contains(&model)
            && commercial.len() > 1
            && commercial.iter().all(|(_, d)| prices(d) == prices(&commercial[0].1));
        if !fold {
            rows.extend(regions.iter().map(|(region, draft)| row(region, draft, "")));
            continue;
        }
        let (rep_region, rep) = commercial.iter().find(|(r, _)| r == "us-east-1").copied().unwrap_or(commercial[0]);
        let note = format!(" ({rep_region}; the same in all {} commercial Regions synced)", commercial.len());
        rows.push(row("*", rep, &note));
        // A non-commercial Region (GovCloud) keeps its own row where it differs.
        for (region, draft) in regions.iter().filter(|(r, _)| !is_commercial(r)) {
            if prices(draft) != prices(rep) {
                rows.push(row(region, draft, ""));
            }
        }
    }

    // Rows of Regions this run did not sync stay as they were; a region `*` row too, unless this run wrote one for
    // the same model.
    let starred: BTreeSet<&str> = rows.iter().filter(|r| r.region == "*").map(|r| r.model.as_str()).collect();
    let kept: Vec<BookRow> =
        carry_over.iter().filter(|r| r.region != "*" || !starred.contains(r.model.as_str())).cloned().collect();
    report.carried_over = kept.len();
    rows.extend(kept);

    // Hand-kept rows override the Price List row with the same key, and are never dropped.
    let mut index: BTreeMap<RowKey, usize> = rows.iter().enumerate().map(|(i, r)| (r.key(), i)).collect();
    for (line, kept) in hand_kept {
        match index.get(&kept.key()) {
            Some(&i) => {
                let what = if rows[i].same_prices(kept) {
                    "same prices".to_string()
                } else {
                    kept.describe_prices(Some(&rows[i]))
                };
                report.overrides.push((*line, kept.label(), what));
                rows[i] = kept.clone();
            }
            None => {
                index.insert(kept.key(), rows.len());
                rows.push(kept.clone());
                report.hand_kept_added += 1;
            }
        }
    }
    book::sort_rows(&mut rows);
    report.unknown.sort();
    report.unmatched.sort();
    Ok(Synced { rows, report })
}

/// The rows of the current book that a sync of only the `synced` Regions may keep: those of other Regions and of
/// region `*` ([`build`] drops a `*` row when it wrote one for the same model).
pub fn rows_outside(current: &[BookRow], synced: &BTreeSet<String>) -> Vec<BookRow> {
    current.iter().filter(|r| !synced.contains(&r.region)).cloned().collect()
}

impl SyncReport {
    /// The summary a user reads after the diff.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "read {} offer file(s) for {} Region(s), published {}",
            self.offer_files,
            self.regions.len(),
            self.publication_dates.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(out, "{} SKU(s) priced", self.priced_skus);
        for (reason, n) in &self.skipped {
            let _ = writeln!(out, "{n} SKU(s) skipped: {reason}");
        }
        let mut list = |title: &str, skus: &[ListedSku]| {
            if !skus.is_empty() {
                let _ = writeln!(out, "{} {title}:", skus.len());
                for s in skus {
                    let _ = writeln!(
                        out,
                        "  {} {} {} {:?} {:?}: {}",
                        s.offer_code, s.region, s.sku, s.usage_type, s.name, s.reason
                    );
                }
            }
        };
        list("SKU(s) not priced: unknown usage type or price", &self.unknown);
        list("SKU(s) not priced: no alias (add one to the alias table)", &self.unmatched);
        for line in &self.incomplete {
            let _ = writeln!(out, "not written: {line}");
        }
        for (line, label, what) in &self.overrides {
            let _ = writeln!(out, "hand-kept line {line} overrides the Price List row {label}: {what}");
        }
        if self.hand_kept_added > 0 {
            let _ = writeln!(out, "{} hand-kept row(s) added (no Price List counterpart)", self.hand_kept_added);
        }
        if self.carried_over > 0 {
            let _ = writeln!(out, "{} row(s) of Regions not synced kept as they were", self.carried_over);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FM: &str = offer::FOUNDATION_MODELS;

    /// An offer file with `(sku, usagetype, servicename, USD per 1M tokens)` SKUs.
    fn file<S: AsRef<str>>(region: &str, skus: &[(S, S, &str, &str)]) -> OfferFile {
        let mut products = serde_json::Map::new();
        let mut terms = serde_json::Map::new();
        for (sku, usage, name, usd) in skus {
            let (sku, usage) = (sku.as_ref(), usage.as_ref());
            products.insert(
                sku.to_string(),
                serde_json::json!({"sku": sku, "attributes": {"usagetype": usage, "servicename": name, "regionCode": region}}),
            );
            terms.insert(
                sku.to_string(),
                serde_json::json!({format!("{sku}.T"): {"effectiveDate": "2026-11-01T00:00:00Z", "priceDimensions":
                    {format!("{sku}.T.R"): {"unit": "1M tokens", "description": "", "pricePerUnit": {"USD": usd}}}}}),
            );
        }
        let json = serde_json::json!({"offerCode": FM, "version": "v", "publicationDate": "2026-11-18T09:00:00Z",
            "products": products, "terms": {"OnDemand": terms}});
        OfferFile {
            offer_code: FM.to_string(),
            region: region.to_string(),
            location: format!("{region}/index.json"),
            offer: serde_json::from_value(json).unwrap(),
        }
    }

    fn aliases() -> AliasTable {
        AliasTable::parse(
            "offer_code,name,model,region_uniform,long_context_above\n\
             AmazonBedrockFoundationModels,Claude U,anthropic.u,yes,\n\
             AmazonBedrockFoundationModels,Other P,other.p,,\n",
            "t",
        )
        .unwrap()
    }

    fn prices(rows: &[BookRow], model: &str, region: &str) -> Option<(Option<Decimal>, Option<Decimal>)> {
        rows.iter().find(|r| r.model == model && r.region == region).map(|r| (r.prices[0], r.prices[1]))
    }

    #[test]
    fn folds_uniform_models_keeps_govcloud_and_region_specific_rows() {
        let d = |s: &str| Some(s.parse::<Decimal>().unwrap());
        let regions = [
            ("us-east-1", "USE1", "1", "0.5"),
            ("eu-west-2", "EUW2", "1", "0.6"),
            ("us-gov-west-1", "UGW1", "1.2", "0.6"),
        ];
        let offers: Vec<OfferFile> = regions
            .iter()
            .map(|(region, p, claude_input, other_input)| {
                let skus = [
                    (format!("{p}IN"), format!("{p}-MP:{p}_InputTokenCount-Units"), "Claude U", *claude_input),
                    (format!("{p}OUT"), format!("{p}-MP:{p}_OutputTokenCount-Units"), "Claude U", "5"),
                    // A Region-specific provider: different prices per Region, never folded.
                    (format!("{p}P"), format!("{p}-MP:{p}_InputTokenCount-Units"), "Other P", *other_input),
                ];
                file(region, &skus)
            })
            .collect();
        let synced = build(&offers, &aliases(), &[], &[]).unwrap();
        let rows = &synced.rows;
        assert_eq!(prices(rows, "anthropic.u", "*"), Some((d("1"), d("5"))), "commercial Regions agree: one * row");
        assert_eq!(prices(rows, "anthropic.u", "us-gov-west-1"), Some((d("1.2"), d("5"))), "GovCloud differs: own row");
        assert_eq!(prices(rows, "anthropic.u", "us-east-1"), None);
        assert_eq!(prices(rows, "other.p", "us-east-1"), Some((d("0.5"), None)));
        assert_eq!(prices(rows, "other.p", "eu-west-2"), Some((d("0.6"), None)));
        assert!(rows.iter().all(|r| r.routing == "*"), "no global SKU: one price for every routing");
        assert!(rows[0].source.contains("the same in all 2 commercial Regions"), "{}", rows[0].source);

        // Commercial Regions that disagree: one row per Region.
        let offers = vec![
            file("us-east-1", &[("A", "USE1-MP:USE1_InputTokenCount-Units", "Claude U", "1")]),
            file("eu-west-2", &[("B", "EUW2-MP:EUW2_InputTokenCount-Units", "Claude U", "1.1")]),
        ];
        let rows = build(&offers, &aliases(), &[], &[]).unwrap().rows;
        assert_eq!(rows.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(), ["eu-west-2", "us-east-1"]);
    }

    #[test]
    fn conflicts_and_missing_thresholds_are_not_guessed() {
        let offers = vec![file(
            "us-east-1",
            &[
                ("A", "USE1-MP:USE1_InputTokenCount-Units", "Claude U", "1"),
                ("B", "USE1-MP:USE1_input_tokens_standard-Units", "Claude U", "2"),
            ],
        )];
        let err = build(&offers, &aliases(), &[], &[]).unwrap_err().to_string();
        assert!(err.contains("SKUs A (1) and B (2) both price input_per_mtok"), "{err}");
        // Two SKUs agreeing on a price are one cell naming both.
        let offers = vec![file(
            "us-east-1",
            &[
                ("A", "USE1-MP:USE1_InputTokenCount-Units", "Claude U", "1"),
                ("B", "USE1-MP:USE1_input_tokens_standard-Units", "Claude U", "1.0"),
                ("C", "USE1-MP:USE1_input_tokens_long_ctx_standard-Units", "Claude U", "2"),
            ],
        )];
        let synced = build(&offers, &aliases(), &[], &[]).unwrap();
        assert_eq!(synced.rows.len(), 1);
        assert!(synced.rows[0].source.contains("SKU A B"), "{}", synced.rows[0].source);
        assert_eq!(synced.report.unknown.len(), 1, "a long-context SKU without a threshold is listed");
        assert!(synced.report.unknown[0].reason.contains("long_context_above"));
    }
}
