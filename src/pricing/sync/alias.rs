//! The alias table (`pricing/price-list-aliases.csv`): which Bedrock model id a Price List product is. Neither
//! offer carries a model id, so a maintained table maps the `AmazonBedrock` `model` attribute ("Nova Pro") or the
//! `AmazonBedrockFoundationModels` `servicename` ("Claude Sonnet 4.5 (Amazon Bedrock Edition)") to the id the
//! book uses. A wrong join is the main way a sync could misprice, so matching is exact (no case folding, no
//! suffix stripping), a product that matches no row is listed, and one that matches two rows is an error. Pure.

use serde::Deserialize;

use super::Error;
use super::offer::Attributes;

/// The bundled alias table.
pub const BUNDLED_ALIASES: &str = include_str!("../../../pricing/price-list-aliases.csv");

/// One alias row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// Line in the table (comments counted), for messages.
    pub line: u64,
    /// `AmazonBedrock`, `AmazonBedrockFoundationModels` or `*` (either).
    pub offer_code: String,
    /// The display name or `servicename`, exactly as the Price List spells it.
    pub name: String,
    /// The Bedrock model id the book uses.
    pub model: String,
    /// The provider prices this model the same in every commercial Region (Claude): the sync may then write one
    /// region `*` row instead of one per Region.
    pub region_uniform: bool,
    /// The model's long-context threshold in input tokens, for its `long_ctx` SKUs (the Price List does not say).
    pub long_context_above: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct RawAlias {
    offer_code: String,
    name: String,
    model: String,
    #[serde(default)]
    region_uniform: String,
    #[serde(default)]
    long_context_above: String,
}

/// A parsed alias table.
#[derive(Debug, Clone)]
pub struct AliasTable {
    /// Where it came from, for messages.
    pub origin: String,
    pub aliases: Vec<Alias>,
}

impl AliasTable {
    /// Parse the table; `#` lines are comments.
    pub fn parse(text: &str, origin: &str) -> Result<AliasTable, Error> {
        let invalid = |line, reason: String| Error::Aliases { origin: origin.to_string(), line, reason };
        let mut reader =
            csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| invalid(1, e.to_string()))?.clone();
        let mut aliases = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| invalid(0, e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let raw: RawAlias = record.deserialize(Some(&headers)).map_err(|e| invalid(line, e.to_string()))?;
            if raw.name.is_empty() || raw.model.is_empty() {
                return Err(invalid(line, "name and model are required".to_string()));
            }
            let region_uniform = match raw.region_uniform.as_str() {
                "" | "no" => false,
                "yes" => true,
                other => return Err(invalid(line, format!("region_uniform {other:?} is not yes, no or blank"))),
            };
            let long_context_above = match raw.long_context_above.as_str() {
                "" => None,
                n => Some(n.parse().map_err(|_| invalid(line, format!("long_context_above {n:?} is not a number")))?),
            };
            aliases.push(Alias {
                line,
                offer_code: raw.offer_code,
                name: raw.name,
                model: raw.model,
                region_uniform,
                long_context_above,
            });
        }
        Ok(AliasTable { origin: origin.to_string(), aliases })
    }

    /// The alias of a product: its `model` or `servicename` attribute matched exactly, in its offer code or `*`.
    /// `Ok(None)`: no alias (the sync lists the SKU). Two matching rows: an error naming both.
    pub fn find(&self, offer_code: &str, sku: &str, attributes: &Attributes) -> Result<Option<&Alias>, Error> {
        let names = [attributes.model.as_deref(), attributes.servicename.as_deref()];
        let mut found = self
            .aliases
            .iter()
            .filter(|a| (a.offer_code == offer_code || a.offer_code == "*") && names.contains(&Some(a.name.as_str())));
        let first = found.next();
        if let (Some(a), Some(b)) = (first, found.next()) {
            return Err(Error::AmbiguousAlias {
                origin: self.origin.clone(),
                offer_code: offer_code.to_string(),
                sku: sku.to_string(),
                first: format!("line {} {:?} -> {}", a.line, a.name, a.model),
                second: format!("line {} {:?} -> {}", b.line, b.name, b.model),
            });
        }
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_parses_and_names_are_unique() {
        let table = AliasTable::parse(BUNDLED_ALIASES, "bundled").unwrap();
        assert!(table.aliases.len() > 10);
        let mut seen = std::collections::BTreeSet::new();
        for a in &table.aliases {
            assert!(seen.insert((a.offer_code.clone(), a.name.clone())), "line {} repeats {:?}", a.line, a.name);
            assert!(a.offer_code != "*", "line {}: the bundled table names its offer", a.line);
        }
    }

    #[test]
    fn matches_exactly_and_rejects_two_matches() {
        let text = "offer_code,name,model,region_uniform,long_context_above\n\
                    AmazonBedrock,Nova Pro,amazon.nova-pro-v1:0,,\n\
                    AmazonBedrockFoundationModels,Claude X (Amazon Bedrock Edition),anthropic.x,yes,200000\n\
                    *,Nova Pro,amazon.nova-pro-v2,,\n";
        let table = AliasTable::parse(text, "t.csv").unwrap();
        let claude = Attributes { servicename: Some("Claude X (Amazon Bedrock Edition)".into()), ..Default::default() };
        let found = table.find("AmazonBedrockFoundationModels", "SKU1", &claude).unwrap().unwrap();
        assert_eq!(
            (found.model.as_str(), found.region_uniform, found.long_context_above),
            ("anthropic.x", true, Some(200000))
        );
        assert!(table.find("AmazonBedrock", "SKU1", &claude).unwrap().is_none(), "offer code must match");
        let lower = Attributes { servicename: Some("claude x (amazon bedrock edition)".into()), ..Default::default() };
        assert!(table.find("AmazonBedrockFoundationModels", "SKU1", &lower).unwrap().is_none(), "exact match only");
        let nova = Attributes { model: Some("Nova Pro".into()), ..Default::default() };
        let err = table.find("AmazonBedrock", "SKU2", &nova).unwrap_err().to_string();
        assert!(err.contains("SKU2") && err.contains("line 2") && err.contains("line 4"), "{err}");
        assert!(AliasTable::parse("offer_code,name,model,region_uniform\n*,a,b,maybe\n", "t").is_err());
    }
}
