//! The workloads the generator mixes, and the exact allocation of records to hours.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use serde_json::{Value, json};

use super::GeneratedRecord;
use super::text::{system_prompt, tokens_of, words_between};

/// Regions the generated account logs in.
pub const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// SplitMix64: tiny, fast, and stable across versions (a dependency's RNG could change its stream).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    /// Multiplies generated text lengths (prompt and response sizes); 1.0 is the default mix.
    pub body_scale: f64,
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed, body_scale: 1.0 }
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n.max(1) as u128) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    /// A random UUID v4 string.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// The traffic patterns in the generated account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A search service calling Nova Lite around the clock at a steady high rate (provisioned-throughput candidate).
    Steady,
    /// A support chat app on Claude 3.5 Sonnet v2 repeating a long system prompt; one app version caches it.
    Chat,
    /// A nightly summarization job, non-streaming InvokeModel on Claude 3 Haiku, 01:00-03:00 UTC (batch candidate).
    Nightly,
    /// Developers and small services, across every modelId form, with guardrail blocks and offloaded bodies.
    Developers,
}

const WORKLOADS: [(Workload, f64); 4] =
    [(Workload::Steady, 0.40), (Workload::Chat, 0.25), (Workload::Nightly, 0.15), (Workload::Developers, 0.20)];

fn hour_weight(workload: Workload, t: DateTime<Utc>) -> f64 {
    let weekend = matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
    let business = (14..23).contains(&t.hour());
    match workload {
        Workload::Steady => 1.0,
        Workload::Chat => (if business { 1.0 } else { 0.35 }) * if weekend { 0.6 } else { 1.0 },
        Workload::Nightly => {
            if (1..3).contains(&t.hour()) {
                1.0
            } else {
                0.0
            }
        }
        Workload::Developers => {
            if business && !weekend {
                1.0
            } else {
                0.08
            }
        }
    }
}

/// Records per hour per workload, summing exactly to `total` (largest-remainder rounding).
pub fn allocate(total: u64, start: DateTime<Utc>, hours: usize, seed: u64) -> Vec<[u64; 4]> {
    let mut weights = vec![[0.0f64; 4]; hours];
    for (w, (workload, share)) in WORKLOADS.iter().enumerate() {
        let per_hour: Vec<f64> =
            (0..hours).map(|h| hour_weight(*workload, start + Duration::hours(h as i64))).collect();
        let sum: f64 = per_hour.iter().sum();
        for h in 0..hours {
            weights[h][w] = if sum > 0.0 { share * per_hour[h] / sum } else { 0.0 };
        }
    }
    let mut counts = vec![[0u64; 4]; hours];
    let mut remainders = Vec::with_capacity(hours * 4);
    let mut assigned = 0u64;
    for h in 0..hours {
        for w in 0..4 {
            let exact = weights[h][w] * total as f64;
            counts[h][w] = exact.floor() as u64;
            assigned += counts[h][w];
            // Tie-break by a seeded hash so equal remainders do not all land at the start.
            let tie = Rng::new(seed ^ ((h * 4 + w) as u64)).next_u64();
            remainders.push((exact - exact.floor(), tie, h, w));
        }
    }
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, _, h, w) in remainders.iter().take(total.saturating_sub(assigned) as usize) {
        counts[h][w] += 1;
    }
    counts
}

/// All records of one hour, sorted by time.
pub fn generate_hour(
    hour: DateTime<Utc>,
    counts: &[u64; 4],
    seed: u64,
    account: &str,
    body_scale: f64,
) -> Vec<GeneratedRecord> {
    let mut out = Vec::with_capacity(counts.iter().sum::<u64>() as usize);
    for (w, (workload, _)) in WORKLOADS.iter().enumerate() {
        let mut rng = Rng::new(seed ^ (hour.timestamp() as u64).wrapping_mul(0x9E37_79B9) ^ (w as u64) << 56);
        rng.body_scale = body_scale;
        for _ in 0..counts[w] {
            let ts = hour + Duration::seconds(rng.below(3600) as i64);
            out.push(make_record(*workload, ts, &mut rng, account));
        }
    }
    out.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.request_id.cmp(&b.request_id)));
    out
}

/// The pieces every record shares.
struct Call<'a> {
    ts: DateTime<Utc>,
    account: &'a str,
    region: &'static str,
    operation: &'static str,
    model_id: String,
    identity: String,
    inference_region: Option<&'static str>,
    metadata: Option<Value>,
    input_body: Option<Value>,
    output_body: Value,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read: Option<i64>,
    cache_write: Option<i64>,
    offload_input: bool,
}

fn finish(call: Call<'_>, rng: &mut Rng) -> GeneratedRecord {
    let request_id = rng.uuid();
    let mut input = serde_json::Map::new();
    input.insert("inputContentType".into(), json!("application/json"));
    let mut offloaded_input = None;
    if let Some(body) = &call.input_body {
        if call.offload_input {
            let key = format!(
                "s3://bedrock-logs-{}-{}/AWSLogs/{}/BedrockModelInvocationLogs/{}/{}/data/{request_id}_input.json.gz",
                call.account,
                call.region,
                call.account,
                call.region,
                call.ts.format("%Y/%m/%d/%H")
            );
            input.insert("inputBodyS3Path".into(), json!(key));
            offloaded_input = Some(body.to_string());
        } else {
            input.insert("inputBodyJson".into(), body.clone());
        }
    }
    if let Some(v) = call.input_tokens {
        input.insert("inputTokenCount".into(), json!(v));
    }
    if let Some(v) = call.cache_read {
        input.insert("cacheReadInputTokenCount".into(), json!(v));
    }
    if let Some(v) = call.cache_write {
        input.insert("cacheWriteInputTokenCount".into(), json!(v));
    }
    let mut output = serde_json::Map::new();
    output.insert("outputContentType".into(), json!("application/json"));
    output.insert("outputBodyJson".into(), call.output_body);
    if let Some(v) = call.output_tokens {
        output.insert("outputTokenCount".into(), json!(v));
    }
    let mut record = json!({
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": call.ts.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "accountId": call.account,
        "identity": {"arn": call.identity},
        "region": call.region,
        "requestId": request_id,
        "operation": call.operation,
        "modelId": call.model_id,
        "input": input,
        "output": output,
    });
    if let Some(r) = call.inference_region {
        record["inferenceRegion"] = json!(r);
    }
    if let Some(m) = call.metadata {
        record["requestMetadata"] = m;
    }
    GeneratedRecord { timestamp: call.ts, region: call.region, request_id, json: record.to_string(), offloaded_input }
}

fn role(account: &str, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
}

fn user(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}

fn make_record(workload: Workload, ts: DateTime<Utc>, rng: &mut Rng, account: &str) -> GeneratedRecord {
    match workload {
        Workload::Steady => steady(ts, rng, account),
        Workload::Chat => chat(ts, rng, account),
        Workload::Nightly => nightly(ts, rng, account),
        Workload::Developers => developers(ts, rng, account),
    }
}

/// Token counts of one generated call.
#[derive(Debug, Clone, Copy, Default)]
struct Tokens {
    input: i64,
    output: i64,
    read: i64,
    write: i64,
    write_1h: i64,
}

fn converse_output(text: &str, stop: &str, tokens: Tokens, latency: i64) -> Value {
    let Tokens { input, output, read, write, write_1h } = tokens;
    let mut usage = json!({
        "inputTokens": input, "outputTokens": output, "totalTokens": input + output + read + write,
        "cacheReadInputTokens": read, "cacheWriteInputTokens": write,
    });
    if write > 0 {
        usage["cacheDetails"] = if write_1h > 0 {
            json!([{"inputTokens": write_1h, "ttl": "1h"}, {"inputTokens": write - write_1h, "ttl": "5m"}])
        } else {
            json!([{"inputTokens": write, "ttl": "5m"}])
        };
    }
    json!({"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop, "usage": usage, "metrics": {"latencyMs": latency}})
}

fn steady(ts: DateTime<Utc>, rng: &mut Rng, account: &str) -> GeneratedRecord {
    let query = words_between(rng, 200, 1200);
    let answer = words_between(rng, 100, 600);
    let system = "Rank the search results for the query and return JSON.";
    let (input, output) = (tokens_of(&query) + tokens_of(system), tokens_of(&answer));
    let stream = rng.chance(0.3);
    let body = json!({"system": [{"text": system}], "messages": [{"role": "user", "content": [{"text": query}]}], "inferenceConfig": {"maxTokens": 1024}});
    let call = Call {
        ts,
        account,
        region: "us-east-1",
        operation: if stream { "ConverseStream" } else { "Converse" },
        model_id: "amazon.nova-lite-v1:0".into(),
        identity: role(account, "search-ranker-prod", &format!("i-{:08x}", rng.below(4))),
        inference_region: None,
        metadata: Some(json!({"team": "search", "service": "ranker"})),
        input_body: Some(body),
        output_body: converse_output(
            &answer,
            "end_turn",
            Tokens { input, output, ..Tokens::default() },
            rng.range(150, 900),
        ),
        input_tokens: Some(input),
        output_tokens: Some(output),
        cache_read: Some(0),
        cache_write: Some(0),
        offload_input: false,
    };
    finish(call, rng)
}

fn chat(ts: DateTime<Utc>, rng: &mut Rng, account: &str) -> GeneratedRecord {
    // Two app versions share one 12 KB system prompt; only v2 puts a cache point after it.
    let cached_app = rng.chance(0.5);
    let system = system_prompt("Acme's support assistant", (12_000.0 * rng.body_scale) as usize);
    let system_tokens = tokens_of(&system);
    let turns = rng.range(0, 3) as usize;
    let mut messages = Vec::new();
    let mut history_tokens = 0;
    for _ in 0..turns {
        let q = words_between(rng, 80, 300);
        let a = words_between(rng, 200, 800);
        history_tokens += tokens_of(&q) + tokens_of(&a);
        messages.push(json!({"role": "user", "content": [{"text": q}]}));
        messages.push(json!({"role": "assistant", "content": [{"text": a}]}));
    }
    let question = words_between(rng, 80, 400);
    let answer = words_between(rng, 300, 2400);
    messages.push(json!({"role": "user", "content": [{"text": question}]}));
    let mut system_blocks = vec![json!({"text": system})];
    if cached_app {
        system_blocks.push(json!({"cachePoint": {"type": "default"}}));
    }
    let body = json!({"system": system_blocks, "messages": messages, "inferenceConfig": {"maxTokens": 2048, "temperature": 0.3}});
    let rest = history_tokens + tokens_of(&question);
    let (input, read, write, write_1h) = if cached_app {
        if rng.chance(0.12) {
            let w1h = if rng.chance(0.25) { system_tokens } else { 0 };
            (rest, 0, system_tokens, w1h)
        } else {
            (rest, system_tokens, 0, 0)
        }
    } else {
        (rest + system_tokens, 0, 0, 0)
    };
    let output = tokens_of(&answer);
    let stream = rng.chance(0.7);
    let app = if cached_app { "support-chat-v2" } else { "support-chat-v1" };
    let call = Call {
        ts,
        account,
        region: "us-east-1",
        operation: if stream { "ConverseStream" } else { "Converse" },
        model_id: "us.anthropic.claude-3-5-sonnet-20241022-v2:0".into(),
        identity: role(account, app, "ecs-task"),
        inference_region: Some(["us-east-1", "us-east-2", "us-west-2"][rng.below(3) as usize]),
        metadata: Some(json!({"team": "support", "app": app})),
        input_body: Some(body),
        output_body: converse_output(
            &answer,
            "end_turn",
            Tokens { input, output, read, write, write_1h },
            rng.range(900, 9000),
        ),
        input_tokens: Some(input),
        output_tokens: Some(output),
        cache_read: Some(read),
        cache_write: Some(write),
        offload_input: false,
    };
    finish(call, rng)
}

fn anthropic_response(model: &str, text: &str, input: i64, output: i64) -> Value {
    json!({
        "id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    })
}

fn anthropic_stream(model: &str, text: &str, input: i64, output: i64, latency: i64) -> Value {
    let mut chunks = vec![
        json!({"type": "message_start", "message": {"model": model, "usage": {"input_tokens": input, "output_tokens": 1}}}),
    ];
    for piece in text.as_bytes().chunks(400) {
        chunks.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": String::from_utf8_lossy(piece)}}));
    }
    chunks.push(
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output}}),
    );
    chunks.push(json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
        "inputTokenCount": input, "outputTokenCount": output, "invocationLatency": latency, "firstByteLatency": latency / 6}}));
    Value::Array(chunks)
}

fn nightly(ts: DateTime<Utc>, rng: &mut Rng, account: &str) -> GeneratedRecord {
    let document = words_between(rng, 2_000, 20_000);
    let summary = words_between(rng, 300, 1_200);
    let (input, output) = (tokens_of(&document) + 40, tokens_of(&summary));
    let system = "You summarize internal documents for the data team. Answer in five bullet points.";
    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024, "system": system,
        "messages": [{"role": "user", "content": [{"type": "text", "text": format!("Summarize this document:\n{document}")}]}]});
    let call = Call {
        ts,
        account,
        region: "us-east-1",
        operation: "InvokeModel",
        model_id: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        identity: role(account, "etl-nightly", "summarize-job"),
        inference_region: None,
        metadata: Some(json!({"team": "data", "job": "nightly-summarize"})),
        input_body: Some(body),
        output_body: anthropic_response("claude-3-haiku-20240307", &summary, input, output),
        input_tokens: Some(input),
        output_tokens: Some(output),
        cache_read: Some(0),
        cache_write: Some(0),
        offload_input: rng.chance(0.01),
    };
    finish(call, rng)
}

fn developers(ts: DateTime<Utc>, rng: &mut Rng, account: &str) -> GeneratedRecord {
    let dev = ["alice", "bob", "carol", "dmitri"][rng.below(4) as usize];
    let prompt = words_between(rng, 100, 3000);
    let answer = words_between(rng, 100, 2000);
    let (input, output) = (tokens_of(&prompt), tokens_of(&answer));
    let anthropic_body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2048,
        "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]});
    let converse_body =
        json!({"messages": [{"role": "user", "content": [{"text": prompt}]}], "inferenceConfig": {"maxTokens": 2048}});
    let mut call = Call {
        ts,
        account,
        region: "us-west-2",
        operation: "InvokeModel",
        model_id: String::new(),
        identity: user(account, dev),
        inference_region: None,
        metadata: if rng.chance(0.5) { Some(json!({"team": "platform", "project": "evals"})) } else { None },
        input_body: Some(anthropic_body.clone()),
        output_body: anthropic_response("claude-3-5-haiku-20241022", &answer, input, output),
        input_tokens: Some(input),
        output_tokens: Some(output),
        cache_read: Some(0),
        cache_write: Some(0),
        offload_input: false,
    };
    match rng.below(13) {
        0 => {
            call.model_id = "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-70b-instruct-v1:0".into();
            call.input_body = Some(json!({"prompt": prompt, "max_gen_len": 1024, "temperature": 0.5}));
            call.output_body = json!({"generation": answer, "prompt_token_count": input, "generation_token_count": output, "stop_reason": "stop"});
            (call.cache_read, call.cache_write) = (None, None);
        }
        1 => {
            call.region = "us-east-1";
            call.operation = "ConverseStream";
            call.model_id = "global.anthropic.claude-sonnet-4-20250514-v1:0".into();
            call.inference_region = Some(["us-east-1", "eu-west-1", "ap-northeast-1"][rng.below(3) as usize]);
            call.input_body = Some(converse_body);
            call.output_body = converse_output(
                &answer,
                "end_turn",
                Tokens { input, output, ..Tokens::default() },
                rng.range(800, 6000),
            );
        }
        2 => {
            call.region = "eu-west-1";
            call.operation = "InvokeModelWithResponseStream";
            call.model_id = format!(
                "arn:aws:bedrock:eu-west-1:{account}:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
            );
            call.inference_region = Some(["eu-west-1", "eu-central-1", "eu-west-3"][rng.below(3) as usize]);
            call.output_body =
                anthropic_stream("claude-3-7-sonnet-20250219", &answer, input, output, rng.range(1000, 8000));
            if rng.chance(0.1) {
                // Top-level counts missing: the stream's own metrics must fill them.
                (call.input_tokens, call.output_tokens, call.cache_read, call.cache_write) = (None, None, None, None);
            }
        }
        3 => {
            call.model_id = format!("arn:aws:bedrock:us-west-2:{account}:application-inference-profile/k8v2x9q4m1ab");
            call.metadata = Some(json!({"team": "marketing", "app": "copywriter"}));
        }
        4 => {
            call.region = "us-east-1";
            call.model_id = format!("arn:aws:bedrock:us-east-1:{account}:provisioned-model/p3x7n2k9w4qz");
            call.identity = role(account, "fraud-scoring", "scorer");
        }
        5 => {
            call.model_id =
                format!("arn:aws:bedrock:us-west-2:{account}:custom-model/amazon.titan-text-express-v1/c8d9e0f1a2b3");
            call.input_body = Some(json!({"inputText": prompt, "textGenerationConfig": {"maxTokenCount": 1024}}));
            call.output_body = json!({"inputTextTokenCount": input, "results": [{"tokenCount": output, "outputText": answer, "completionReason": "FINISH"}]});
        }
        6 => {
            call.model_id = format!("arn:aws:bedrock:us-west-2:{account}:imported-model/im9q8r7s6t5u");
            call.input_body = Some(json!({"prompt": prompt, "max_tokens": 512}));
            call.output_body = json!({"generation": answer, "stop_reason": "stop"});
        }
        7 => {
            call.operation = "InvokeModelWithResponseStream";
            call.model_id = "amazon.titan-text-express-v1".into();
            call.input_body = Some(json!({"inputText": prompt, "textGenerationConfig": {"maxTokenCount": 1024}}));
            call.output_body = json!([
                {"outputText": answer, "index": 0, "totalOutputTextTokenCount": output, "completionReason": "FINISH", "inputTextTokenCount": input,
                 "amazon-bedrock-invocationMetrics": {"inputTokenCount": input, "outputTokenCount": output, "invocationLatency": 2100, "firstByteLatency": 400}}
            ]);
            (call.cache_read, call.cache_write) = (None, None);
        }
        8 => {
            call.model_id = "mistral.mistral-large-2407-v1:0".into();
            call.input_body = Some(json!({"prompt": format!("<s>[INST] {prompt} [/INST]"), "max_tokens": 1024}));
            call.output_body = json!({"outputs": [{"text": answer, "stop_reason": "stop"}]});
        }
        9 => {
            call.region = "us-east-1";
            call.operation = "Converse";
            call.model_id = "cohere.command-r-plus-v1:0".into();
            call.input_body = Some(converse_body);
            call.output_body = converse_output(
                &answer,
                "end_turn",
                Tokens { input, output, ..Tokens::default() },
                rng.range(500, 4000),
            );
        }
        10 => {
            // Guardrail blocked the input of an InvokeModel call: no counts at all.
            call.region = "us-east-1";
            call.model_id = format!(
                "arn:aws:bedrock:us-east-1:{account}:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
            );
            call.output_body = json!({"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Sorry, please provide a more appropriate answer."}],
                "amazon-bedrock-guardrailAction": "INTERVENED"});
            (call.input_tokens, call.output_tokens, call.cache_read, call.cache_write) = (None, None, None, None);
        }
        11 => {
            // Guardrail blocked a Converse call: counts present and zero.
            call.region = "us-east-1";
            call.operation = "Converse";
            call.model_id = "us.anthropic.claude-3-5-haiku-20241022-v1:0".into();
            call.inference_region = Some("us-east-2");
            call.input_body = Some(converse_body);
            call.output_body =
                converse_output("Sorry, I cannot help with that.", "guardrail_intervened", Tokens::default(), 120);
            (call.input_tokens, call.output_tokens) = (Some(0), Some(0));
        }
        _ => {
            call.region = "us-east-1";
            call.model_id = "us.anthropic.claude-3-5-haiku-20241022-v1:0".into();
            call.inference_region = Some(["us-east-1", "us-east-2", "us-west-2"][rng.below(3) as usize]);
        }
    }
    finish(call, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn allocation_is_exact_and_shaped() {
        let start = Utc.with_ymd_and_hms(2025, 11, 3, 0, 0, 0).single().unwrap();
        for total in [0u64, 1, 7, 1000, 123_457] {
            let counts = allocate(total, start, 48, 7);
            let sum: u64 = counts.iter().flat_map(|c| c.iter()).sum();
            assert_eq!(sum, total, "total {total}");
        }
        let counts = allocate(100_000, start, 48, 7);
        // The nightly job runs only at 01:00 and 02:00.
        for (h, c) in counts.iter().enumerate() {
            assert_eq!(c[2] > 0, h % 24 == 1 || h % 24 == 2, "hour {h}");
        }
    }

    #[test]
    fn same_seed_same_records() {
        let hour = Utc.with_ymd_and_hms(2025, 11, 3, 15, 0, 0).single().unwrap();
        let a = generate_hour(hour, &[3, 3, 0, 20], 42, "111122223333", 1.0);
        let b = generate_hour(hour, &[3, 3, 0, 20], 42, "111122223333", 1.0);
        assert_eq!(a.len(), 26);
        assert!(a.iter().zip(&b).all(|(x, y)| x.json == y.json));
        let c = generate_hour(hour, &[3, 3, 0, 20], 43, "111122223333", 1.0);
        assert_ne!(a[0].json, c[0].json);
    }
}
