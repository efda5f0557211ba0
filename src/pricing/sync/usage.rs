//! What a Price List SKU charges for, read from its usage type: token class, routing, service tier, batch, long
//! context, or a kind of SKU the book has no column for (mantle, Reserved throughput, latency-optimized, custom
//! models, anything not priced per token). Pure: strings in, a class out.
//!
//! Classification goes by the usage type's words, never by `inferenceType` alone: a batch SKU such as
//! `APN1-NovaPro-input-tokens-batch` still says `inferenceType = "Input tokens"`. Three grammars are in use
//! (reference: `updates-2026-12.md` section 3, `pricing-research.md` section 5b):
//!
//! - `AmazonBedrock`, kebab case, the model's short name first: `USE1-NovaPro-input-tokens`,
//!   `APN1-NovaPro-cache-read-input-token-count`, `APN1-Nova2.0Lite-input-tokens-cross-region-global`,
//!   `USE1-gpt-oss-120b-output-tokens-priority`, `USE1-Claude4Sonnet-output-tokens-long-context-cross-region-global`.
//! - `AmazonBedrockFoundationModels` (Marketplace, `MP:`), CamelCase: `USE1-MP:USE1_InputTokenCount_Global-Units`,
//!   `USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units`, `APN1-MP:APN1_MillionBatchInputTokens-Units`,
//! - and the same offer's snake case for newer models: `USE1-MP:USE1_input_tokens_long_ctx_standard-Units`.
//!
//! A word this module does not know makes the SKU unknown (listed by the sync), never guessed.

use super::offer::Attributes;

/// The token class a SKU prices, i.e. the book column it fills (with [`TokenSku::batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenClass {
    Input,
    Output,
    CacheRead,
    /// A cache write with the default 5-minute TTL.
    CacheWrite5m,
    CacheWrite1h,
}

/// The routing class a price holds for: `global.` cross-Region profiles, or in-Region and geographic (`us.`,
/// `eu.`, `apac.` ...) traffic, which the Price List prices alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Routing {
    Global,
    Regional,
}

/// The service tier (Reserved is not per token and never gets here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Standard,
    Flex,
    Priority,
}

impl Tier {
    /// The book's `tier` column: blank for Standard.
    pub fn book_value(self) -> &'static str {
        match self {
            Tier::Standard => "",
            Tier::Flex => "flex",
            Tier::Priority => "priority",
        }
    }
}

/// A SKU priced per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenSku {
    pub class: TokenClass,
    pub routing: Routing,
    pub tier: Tier,
    /// Batch inference (the book's `batch_*` columns).
    pub batch: bool,
    /// The long-context rate (requests over the model's long-context threshold).
    pub long_context: bool,
}

/// What a SKU is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkuClass {
    /// Priced per token: goes into the book.
    Token(TokenSku),
    /// `bedrock-mantle` endpoints (no invocation logs exist for them): skipped, counted.
    Mantle,
    /// Reserved tier: a price per 1K tokens-per-minute per hour, not per token: skipped, counted.
    ReservedTpm,
    /// Latency-optimized inference: the book has no column for it yet: skipped, counted.
    LatencyOptimized,
    /// Custom-model inference (priced per model, not per base model id): skipped, counted.
    CustomModel,
    /// Not a token price at all (images, hours, search units, storage ...): skipped, counted.
    NotTokens,
}

/// A usage type this module cannot read with confidence. The sync lists it; nothing is guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("usage type {usage_type:?}: {reason}")]
pub struct UnknownSku {
    pub usage_type: String,
    pub reason: String,
}

fn unknown(usage_type: &str, reason: impl Into<String>) -> UnknownSku {
    UnknownSku { usage_type: usage_type.to_string(), reason: reason.into() }
}

/// Where the token class starts in an `AmazonBedrock` kebab-case usage type (the model's name before it may
/// itself contain hyphens: `gpt-oss-120b`, `Mistral-Large-3-675b-Instruct`).
const KEBAB_MARKERS: [&str; 4] =
    ["-input-token", "-output-token", "-cache-read-input-token", "-cache-write-input-token"];

/// Words that name the token class or fill the name out.
const CLASS_WORDS: [&str; 11] =
    ["input", "output", "cache", "read", "write", "token", "tokens", "count", "1h", "5m", "million"];
/// Words that qualify the price (routing, tier, batch, long context).
const QUALIFIER_WORDS: [&str; 11] =
    ["global", "geo", "cross", "region", "batch", "flex", "priority", "standard", "long", "ctx", "context"];

/// Classify a SKU by its usage type, checked against its product attributes (`feature`, `service_tier`).
pub fn classify(usage_type: &str, attributes: &Attributes) -> Result<SkuClass, UnknownSku> {
    if usage_type.contains("-mantle-") {
        return Ok(SkuClass::Mantle);
    }
    // Drop the billing-Region prefix (`USE1-`, `APN1-`, `EU-`): the Region comes from `regionCode`.
    let Some((_, rest)) = usage_type.split_once('-') else {
        return Err(unknown(usage_type, "has no billing-Region prefix"));
    };
    let words: Vec<String> = if let Some(mp) = rest.strip_prefix("MP:") {
        // `USE1_InputTokenCount_Global-Units`: drop the Region code and the `-Units` tail.
        let body = mp.split_once('_').map_or(mp, |(_, b)| b);
        let body = body.strip_suffix("-Units").unwrap_or(body);
        split_words(body)
    } else {
        let lower = rest.to_ascii_lowercase();
        if lower.contains("-reserved-") {
            return Ok(SkuClass::ReservedTpm);
        }
        let start = KEBAB_MARKERS.iter().filter_map(|m| lower.find(m)).min();
        match start {
            Some(i) => lower[i + 1..].split('-').map(str::to_string).collect(),
            None if lower.contains("token") => {
                return Err(unknown(usage_type, "mentions tokens but names no known token class"));
            }
            None => return Ok(SkuClass::NotTokens),
        }
    };
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("reserved") {
        return Ok(SkuClass::ReservedTpm);
    }
    if has("latency") && has("optimized") {
        return Ok(SkuClass::LatencyOptimized);
    }
    if has("custom") && has("model") {
        return Ok(SkuClass::CustomModel);
    }
    if !has("token") && !has("tokens") {
        return Ok(SkuClass::NotTokens);
    }
    if let Some(word) =
        words.iter().find(|w| !CLASS_WORDS.contains(&w.as_str()) && !QUALIFIER_WORDS.contains(&w.as_str()))
    {
        return Err(unknown(usage_type, format!("has the word {word:?}, which no known token SKU uses")));
    }
    let class = if has("cache") {
        match (has("read"), has("write"), has("1h")) {
            (true, false, false) => TokenClass::CacheRead,
            (false, true, false) => TokenClass::CacheWrite5m,
            (false, true, true) => TokenClass::CacheWrite1h,
            _ => return Err(unknown(usage_type, "is a cache SKU but neither a read nor a 5m / 1h write")),
        }
    } else {
        match (has("input"), has("output")) {
            (true, false) => TokenClass::Input,
            (false, true) => TokenClass::Output,
            _ => return Err(unknown(usage_type, "names neither input nor output tokens")),
        }
    };
    let routing = if has("global") { Routing::Global } else { Routing::Regional };
    let tier = match (has("flex"), has("priority")) {
        (false, false) => Tier::Standard,
        (true, false) => Tier::Flex,
        (false, true) => Tier::Priority,
        (true, true) => return Err(unknown(usage_type, "names two service tiers")),
    };
    let batch = has("batch");
    let long_context = has("long") && (has("ctx") || has("context"));
    if has("long") != long_context {
        return Err(unknown(usage_type, "says long but not long context"));
    }
    // The attributes must not contradict the usage type (they never decide it: see the module doc).
    if let Some(feature) = &attributes.feature
        && feature.to_ascii_lowercase().contains("batch") != batch
    {
        return Err(unknown(usage_type, format!("contradicts its feature attribute {feature:?}")));
    }
    if let Some(stated) = attributes.service_tier.as_deref().map(str::to_ascii_lowercase) {
        let agrees = match stated.as_str() {
            "" | "standard" | "on-demand" => tier == Tier::Standard,
            "flex" => tier == Tier::Flex,
            "priority" => tier == Tier::Priority,
            _ => false,
        };
        if !agrees {
            return Err(unknown(usage_type, format!("contradicts its service_tier attribute {stated:?}")));
        }
    }
    Ok(SkuClass::Token(TokenSku { class, routing, tier, batch, long_context }))
}

/// Split `CacheWrite1hInputTokenCount_Global` or `input_tokens_long_ctx` into lower-case words: at `_` and `-`,
/// before an upper-case letter that follows a lower-case letter or a digit, and before a digit that follows a
/// letter (`Write1h` -> `write`, `1h`; `InputTPM` -> `input`, `tpm`; `1Month` -> `1`, `month`).
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c == '_' || c == '-' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        let boundary = match previous {
            Some(p) if c.is_ascii_uppercase() => p.is_ascii_lowercase() || p.is_ascii_digit(),
            Some(p) if c.is_ascii_digit() => p.is_ascii_alphabetic(),
            _ => false,
        };
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(class: TokenClass, routing: Routing, tier: Tier, batch: bool, long_context: bool) -> SkuClass {
        SkuClass::Token(TokenSku { class, routing, tier, batch, long_context })
    }

    /// Every usage type quoted in the reference (updates-2026-12 section 3, pricing-research 5b and 5c).
    #[test]
    fn classifies_every_real_usage_type() {
        use Routing::*;
        use Tier::*;
        use TokenClass::*;
        let none = Attributes::default();
        let cases: &[(&str, SkuClass)] = &[
            ("USE1-NovaPro-input-tokens", token(Input, Regional, Standard, false, false)),
            ("APN1-NovaPro-input-tokens", token(Input, Regional, Standard, false, false)),
            ("APN1-NovaPro-output-tokens", token(Output, Regional, Standard, false, false)),
            ("APN1-NovaPro-cache-read-input-token-count", token(CacheRead, Regional, Standard, false, false)),
            ("USE1-NovaMicro-cache-write-input-token-count", token(CacheWrite5m, Regional, Standard, false, false)),
            ("APN1-NovaPro-input-tokens-batch", token(Input, Regional, Standard, true, false)),
            ("APN1-Nova2.0Lite-input-tokens-cross-region-global", token(Input, Global, Standard, false, false)),
            ("USE1-Nova2.0Lite-input-tokens-flex", token(Input, Regional, Flex, false, false)),
            ("USE1-gpt-oss-120b-output-tokens-priority", token(Output, Regional, Priority, false, false)),
            ("USE1-Claude4.6Opus-output-tokens-cross-region-global", token(Output, Global, Standard, false, false)),
            ("USE1-Claude4.6Sonnet-input-tokens", token(Input, Regional, Standard, false, false)),
            ("USE1-Claude4.6Opus-output-tokens", token(Output, Regional, Standard, false, false)),
            ("USE1-Claude3Haiku-input-tokens", token(Input, Regional, Standard, false, false)),
            ("USW2-Claude3Sonnet-input-tokens", token(Input, Regional, Standard, false, false)),
            ("USW2-ClaudeInstant-input-tokens", token(Input, Regional, Standard, false, false)),
            ("USW2-Claude2.1-input-tokens", token(Input, Regional, Standard, false, false)),
            ("USE1-Llama3-1-405B-output-tokens-batch", token(Output, Regional, Standard, true, false)),
            ("USW2-Mistral-Large-3-675b-Instruct-input-tokens-batch", token(Input, Regional, Standard, true, false)),
            ("USE1-deepseek.v3.2-input-tokens", token(Input, Regional, Standard, false, false)),
            ("USE1-Claude4Sonnet-input-tokens-cross-region-global-batch", token(Input, Global, Standard, true, false)),
            (
                "USE1-Claude4Sonnet-output-tokens-long-context-cross-region-global",
                token(Output, Global, Standard, false, true),
            ),
            ("USE1-MP:USE1_InputTokenCount-Units", token(Input, Regional, Standard, false, false)),
            ("USW2-MP:USW2_InputTokenCount-Units", token(Input, Regional, Standard, false, false)),
            ("USE1-MP:USE1_OutputTokenCount-Units", token(Output, Regional, Standard, false, false)),
            ("USE1-MP:USE1_CacheReadInputTokenCount-Units", token(CacheRead, Regional, Standard, false, false)),
            ("USE1-MP:USE1_CacheWriteInputTokenCount-Units", token(CacheWrite5m, Regional, Standard, false, false)),
            ("USE1-MP:USE1_InputTokenCount_Global-Units", token(Input, Global, Standard, false, false)),
            ("EU-MP:EU_InputTokenCount_Global-Units", token(Input, Global, Standard, false, false)),
            ("EU-MP:EU_OutputTokenCount_Global-Units", token(Output, Global, Standard, false, false)),
            ("USE1-MP:USE1_CacheReadInputTokenCount_Global-Units", token(CacheRead, Global, Standard, false, false)),
            (
                "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units",
                token(CacheWrite1h, Global, Standard, false, false),
            ),
            ("USW2-MP:USW2_CacheWrite1hInputTokenCount-Units", token(CacheWrite1h, Regional, Standard, false, false)),
            ("EUW2-MP:EUW2_InputTokenCount_Global_Batch-Units", token(Input, Global, Standard, true, false)),
            ("APN1-MP:APN1_MillionBatchInputTokens-Units", token(Input, Regional, Standard, true, false)),
            ("USE1-MP:USE1_input_tokens_standard-Units", token(Input, Regional, Standard, false, false)),
            ("USE1-MP:USE1_output_tokens_standard-Units", token(Output, Regional, Standard, false, false)),
            ("USE1-MP:USE1_input_tokens_global_standard-Units", token(Input, Global, Standard, false, false)),
            ("USE1-MP:USE1_output_tokens_global_standard-Units", token(Output, Global, Standard, false, false)),
            ("USW2-MP:USW2_cache_write_tokens_standard-Units", token(CacheWrite5m, Regional, Standard, false, false)),
            (
                "USW2-MP:USW2_cache_write_tokens_1h_standard-Units",
                token(CacheWrite1h, Regional, Standard, false, false),
            ),
            (
                "USE1-MP:USE1_cache_write_tokens_1h_global_standard-Units",
                token(CacheWrite1h, Global, Standard, false, false),
            ),
            (
                "USE1-MP:USE1_cache_write_tokens_global_standard-Units",
                token(CacheWrite5m, Global, Standard, false, false),
            ),
            ("USW2-MP:USW2_input_tokens_long_ctx_standard-Units", token(Input, Regional, Standard, false, true)),
            ("USW2-MP:USW2_output_tokens_long_ctx_standard-Units", token(Output, Regional, Standard, false, true)),
            ("USE1-MP:USE1_Reserved_1Month_InputTPM_Geo-Units", SkuClass::ReservedTpm),
            ("USW2-MP:USW2_Reserved_1Month_InputTPM_Geo-Units", SkuClass::ReservedTpm),
            ("APS7-MP:APS7_Reserved_1Month_InputTPM_Geo-Units", SkuClass::ReservedTpm),
            ("USE1-Claude4Sonnet-reserved-1-month-input-tokens-per-minute", SkuClass::ReservedTpm),
            ("USE1-openai.gpt-oss-120b-mantle-input-tokens-standard", SkuClass::Mantle),
            ("APN1-zai.glm5-mantle-input-tokens-flex", SkuClass::Mantle),
            ("APN1-zai.glm5-mantle-cache-write-tokens-5m-long-ctx-flex", SkuClass::Mantle),
            ("USE1-NovaPro-input-tokens-latency-optimized", SkuClass::LatencyOptimized),
            ("USE1-NovaMicro-cache-read-input-token-count-custom-model", SkuClass::CustomModel),
            ("USE1-NovaCanvas-generated-images", SkuClass::NotTokens),
            ("USE1-MP:USE1_search_units-Units", SkuClass::NotTokens),
        ];
        for (usage_type, want) in cases {
            assert_eq!(classify(usage_type, &none).as_ref(), Ok(want), "case {usage_type}");
        }
    }

    #[test]
    fn unknown_words_and_contradictions_are_not_guessed() {
        let none = Attributes::default();
        for usage_type in [
            "USE1-NovaPro-input-tokens-turbo",
            "USE1-MP:USE1_InputTokenCount_Global_Express-Units",
            "USE1-MP:USE1_input_tokens_flex_priority-Units",
            "USE1-NovaPro-tokens-of-esteem",
            "USE1-MP:USE1_CacheTokenCount-Units",
            "NoPrefixAtAll",
        ] {
            assert!(classify(usage_type, &none).is_err(), "case {usage_type} must be unknown");
        }
        // A batch SKU still says "Input tokens" (so inferenceType is not read), but a contradicting feature or
        // service tier makes it unknown.
        let batch = Attributes {
            inference_type: Some("Input tokens".into()),
            feature: Some("Batch Inference".into()),
            ..Attributes::default()
        };
        assert!(matches!(
            classify("APN1-NovaPro-input-tokens-batch", &batch),
            Ok(SkuClass::Token(TokenSku { batch: true, .. }))
        ));
        assert!(classify("APN1-NovaPro-input-tokens", &batch).is_err());
        let flex = Attributes { service_tier: Some("flex".into()), ..Attributes::default() };
        assert!(classify("USE1-Nova2.0Lite-input-tokens-flex", &flex).is_ok());
        assert!(classify("USE1-Nova2.0Lite-input-tokens-priority", &flex).is_err());
    }

    #[test]
    fn splits_camel_and_snake_case() {
        assert_eq!(
            split_words("CacheWrite1hInputTokenCount_Global"),
            ["cache", "write", "1h", "input", "token", "count", "global"]
        );
        assert_eq!(split_words("Reserved_1Month_InputTPM_Geo"), ["reserved", "1", "month", "input", "tpm", "geo"]);
        assert_eq!(split_words("input_tokens_long_ctx_standard"), ["input", "tokens", "long", "ctx", "standard"]);
    }
}
