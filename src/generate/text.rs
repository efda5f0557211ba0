//! Filler text for generated prompts and responses: plausible English-like words, so gzip ratios and body
//! sizes resemble real traffic. No real prompt text is ever used.

use super::workload::Rng;

const WORDS: &[&str] = &[
    "the",
    "customer",
    "order",
    "refund",
    "policy",
    "account",
    "invoice",
    "shipping",
    "delivery",
    "please",
    "review",
    "summary",
    "report",
    "quarterly",
    "revenue",
    "forecast",
    "model",
    "request",
    "response",
    "analysis",
    "data",
    "pipeline",
    "search",
    "results",
    "ranking",
    "query",
    "document",
    "contract",
    "clause",
    "section",
    "compliance",
    "security",
    "incident",
    "ticket",
    "priority",
    "escalate",
    "support",
    "agent",
    "product",
    "feature",
    "release",
    "version",
    "update",
    "error",
    "timeout",
    "retry",
    "latency",
    "budget",
    "cost",
    "team",
    "project",
    "deadline",
    "meeting",
    "notes",
    "action",
    "items",
    "follow",
    "up",
    "with",
    "and",
    "or",
    "for",
    "to",
    "of",
    "in",
    "on",
    "a",
    "is",
    "are",
    "was",
    "be",
    "this",
    "that",
    "which",
    "should",
    "must",
    "can",
    "will",
    "not",
    "only",
    "when",
    "if",
    "then",
    "because",
    "however",
    "therefore",
    "example",
    "context",
    "answer",
    "question",
    "explain",
    "describe",
    "translate",
    "classify",
    "extract",
    "entities",
    "sentiment",
    "positive",
    "negative",
    "neutral",
    "json",
    "format",
    "table",
    "list",
    "steps",
    "guide",
    "user",
    "assistant",
    "system",
    "instructions",
    "rules",
    "always",
    "never",
];

/// About `chars` characters of words.
pub fn words(rng: &mut Rng, chars: usize) -> String {
    let mut out = String::with_capacity(chars + 16);
    let mut since_period = 0;
    while out.len() < chars {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        since_period += 1;
        if since_period > 8 + rng.below(10) as usize {
            out.push('.');
            since_period = 0;
        }
    }
    out
}

/// A fixed long text for a named system prompt: the same name always gives the same text.
pub fn system_prompt(name: &str, chars: usize) -> String {
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    let mut rng = Rng::new(seed);
    format!("You are {name}. Follow these rules exactly. {}", words(&mut rng, chars))
}

/// Tokens a text of this length would have (about four characters a token for English).
pub fn tokens_of(text: &str) -> i64 {
    (text.len() as i64 / 4).max(1)
}

/// Words of a length drawn uniformly from `lo..=hi` characters.
pub fn words_between(rng: &mut Rng, lo: i64, hi: i64) -> String {
    let chars = (rng.range(lo, hi) as f64 * rng.body_scale).max(1.0) as usize;
    words(rng, chars)
}
