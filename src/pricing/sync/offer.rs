//! The AWS Price List offer files, as serde reads them: only the fields the sync needs, prices kept as the
//! decimal text AWS publishes (never `f64`), and the conversion of a SKU's unit to a price per million tokens.
//! Pure: bytes in, typed values out.
//!
//! Layout (public, no credentials; <https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api.html>):
//! `/offers/v1.0/aws/<OfferCode>/current/region_index.json` lists each Region's `currentVersionUrl`, e.g.
//! `/offers/v1.0/aws/AmazonBedrock/20261120184712/us-east-1/index.json`, an offer file of about 5 MB:
//! `{offerCode, version, publicationDate, products: {SKU: {sku, attributes}}, terms: {OnDemand: {SKU:
//! {"SKU.TERM": {effectiveDate, priceDimensions: {"SKU.TERM.RATE": {unit, description, pricePerUnit: {USD}}}}}}}}`.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

/// The two offer codes Bedrock's per-token prices are split over.
pub const OFFER_CODES: [&str; 2] = [AMAZON_BEDROCK, FOUNDATION_MODELS];
/// Nova, Titan, Llama, Mistral, DeepSeek, gpt-oss, Qwen, old Claude: the `model` attribute names the model.
pub const AMAZON_BEDROCK: &str = "AmazonBedrock";
/// Marketplace-listed models (current Claude, Cohere, AI21, Writer): the `servicename` attribute names the model.
pub const FOUNDATION_MODELS: &str = "AmazonBedrockFoundationModels";

/// The path of an offer code's region index, below the endpoint (or the `--offer-dir` folder).
pub fn region_index_path(offer_code: &str) -> String {
    format!("/offers/v1.0/aws/{offer_code}/current/region_index.json")
}

/// `region_index.json`.
#[derive(Debug, Deserialize)]
pub struct RegionIndex {
    #[serde(default)]
    pub regions: BTreeMap<String, RegionEntry>,
}

/// One Region of the index.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionEntry {
    /// The path of the Region's current offer file (absolute on the endpoint).
    pub current_version_url: String,
}

/// One Region's offer file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub offer_code: String,
    #[serde(default)]
    pub version: String,
    /// E.g. `2026-11-20T18:47:12Z`.
    pub publication_date: String,
    #[serde(default)]
    pub products: BTreeMap<String, Product>,
    #[serde(default)]
    pub terms: Terms,
}

/// A product (SKU) and the attributes the sync reads.
#[derive(Debug, Deserialize)]
pub struct Product {
    pub sku: String,
    #[serde(default)]
    pub attributes: Attributes,
}

/// Product attributes. Unknown ones are ignored.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Attributes {
    #[serde(default)]
    pub usagetype: String,
    #[serde(rename = "regionCode")]
    pub region_code: Option<String>,
    /// `AmazonBedrock`'s model display name, e.g. "Nova Pro", "Nova 2.0 Lite".
    pub model: Option<String>,
    /// `AmazonBedrockFoundationModels`' product name, e.g. "Claude Sonnet 4.5 (Amazon Bedrock Edition)".
    pub servicename: Option<String>,
    /// "Input tokens", "Output tokens" ... (not trusted for batch: see `usage`).
    #[serde(rename = "inferenceType")]
    pub inference_type: Option<String>,
    /// "On-demand Inference", "Batch Inference".
    pub feature: Option<String>,
    /// standard / flex / priority.
    pub service_tier: Option<String>,
}

/// The offer's terms; only On-Demand prices are per token.
#[derive(Debug, Default, Deserialize)]
pub struct Terms {
    #[serde(rename = "OnDemand", default)]
    pub on_demand: BTreeMap<String, BTreeMap<String, Term>>,
}

/// One term of a SKU.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Term {
    #[serde(default)]
    pub effective_date: String,
    #[serde(default)]
    pub price_dimensions: BTreeMap<String, PriceDimension>,
}

/// One rate of a term.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceDimension {
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub begin_range: Option<String>,
    #[serde(default)]
    pub end_range: Option<String>,
    #[serde(default)]
    pub price_per_unit: BTreeMap<String, String>,
}

/// The price of a SKU in USD per million tokens, from its one On-Demand rate. `Err` says why it cannot be read
/// (the sync lists the SKU, never guesses).
///
/// Units: `1K tokens` (`AmazonBedrock`) is multiplied by 1,000; `1M tokens` is already per million. `Units` (the
/// Marketplace offer's token usage types, `..._InputTokenCount-Units`) counts one unit per million tokens: the
/// reference quotes Sonnet 4.6's `USE1_InputTokenCount_Global-Units` at `3.0000000000`, its $3 per million, and a
/// bill's `USE2_InputTokenCount-Units` at $3.30 per million. A `Units` rate whose description speaks of
/// thousands is read per 1,000 instead; a `Units` rate in `AmazonBedrock` with no such hint is not guessed.
pub fn price_per_million(offer_code: &str, term_dimensions: &[&PriceDimension]) -> Result<Decimal, String> {
    let [dimension] = term_dimensions else {
        return Err(format!("has {} On-Demand rates (one expected)", term_dimensions.len()));
    };
    let open_range = |r: &Option<String>, open: &str| r.as_deref().is_none_or(|v| v == open);
    if !open_range(&dimension.begin_range, "0") || !open_range(&dimension.end_range, "Inf") {
        return Err("is a tiered rate (a range of usage)".to_string());
    }
    let text = dimension.price_per_unit.get("USD").ok_or("has no USD price")?;
    let price = Decimal::from_str_exact(text.trim()).map_err(|_| format!("has the price {text:?}, not a decimal"))?;
    if price.is_sign_negative() {
        return Err(format!("has the negative price {text}"));
    }
    let description = dimension.description.to_ascii_lowercase();
    let factor: u32 = match dimension.unit.trim().to_ascii_lowercase().as_str() {
        "1k tokens" => 1_000,
        "1m tokens" => 1,
        "tokens" => 1_000_000,
        "units" if ["thousand", "1k ", "1,000 "].iter().any(|h| description.contains(h)) => 1_000,
        "units" if ["million", "1m "].iter().any(|h| description.contains(h)) || offer_code == FOUNDATION_MODELS => 1,
        other => return Err(format!("has the unit {other:?}, not a known token unit")),
    };
    price.checked_mul(Decimal::from(factor)).map(|p| p.normalize()).ok_or_else(|| format!("price {text} overflows"))
}

/// Parse a decimal price as the book writes it (`0.25`, `3`), exactly.
pub fn parse_price(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok().filter(|d| !d.is_sign_negative())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(unit: &str, usd: &str, description: &str) -> PriceDimension {
        PriceDimension {
            unit: unit.into(),
            description: description.into(),
            begin_range: Some("0".into()),
            end_range: Some("Inf".into()),
            price_per_unit: [("USD".to_string(), usd.to_string())].into(),
        }
    }

    #[test]
    fn units_become_per_million_exactly() {
        let cases = [
            (AMAZON_BEDROCK, "1K tokens", "0.0009600000", "", Ok("0.96")),
            (AMAZON_BEDROCK, "1K tokens", "0.0000875000", "", Ok("0.0875")),
            (FOUNDATION_MODELS, "1M tokens", "6.8750000000", "", Ok("6.875")),
            (FOUNDATION_MODELS, "Units", "3.0000000000", "Claude Sonnet 4.6 input tokens", Ok("3")),
            (AMAZON_BEDROCK, "Units", "0.0003000000", "USD 0.0003 per 1K input tokens", Ok("0.3")),
            (AMAZON_BEDROCK, "Units", "0.3", "per million input tokens", Ok("0.3")),
            (AMAZON_BEDROCK, "Units", "0.3", "input tokens", Err(())),
            (AMAZON_BEDROCK, "Hrs", "39.60", "", Err(())),
            (AMAZON_BEDROCK, "1K tokens", "abc", "", Err(())),
            (AMAZON_BEDROCK, "1K tokens", "1e-3", "", Err(())),
        ];
        for (code, unit, usd, description, want) in cases {
            let d = dim(unit, usd, description);
            let got = price_per_million(code, &[&d]).map(|p| p.to_string()).map_err(|_| ());
            assert_eq!(got, want.map(str::to_string), "case {code} {unit} {usd}");
        }
        let tiered = PriceDimension { begin_range: Some("1000000".into()), ..dim("1K tokens", "0.001", "") };
        assert!(price_per_million(AMAZON_BEDROCK, &[&tiered]).is_err());
        assert!(price_per_million(AMAZON_BEDROCK, &[]).is_err());
    }
}
