//! Normalizes the many forms of `modelId` (bare ids, foundation-model ARNs, cross-Region profile ids and ARNs,
//! application profiles, provisioned, custom and imported models) to a base model, a provider and a routing
//! class. See section 4 of `../shared/reference/invocation-log-format.md`.
//!
//! Grouping by the raw `modelId` splits one model into many keys (profile ARNs even embed the caller's
//! account), so every cost query groups by the normalized `model`. Where the base model cannot be read from
//! the id (application profiles, provisioned and imported models, prompt routers) `model` is `None`: it is
//! resolved later from the account's Bedrock estate, never guessed.
//!
//! Crate level because three layers need the same answer: ingest stores it in each row, `query` recomputes it
//! in SQL (`bedrock_model`), and control-plane discovery reads the base model of profiles and Provisioned
//! Throughput. Pure: strings in, values out.

/// How a request reached a model; decides how it is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Routing {
    /// A base model in the caller's Region.
    InRegion,
    /// A geographic cross-Region profile (`us.`, `eu.`, `apac.`...): billed at the source Region's price.
    Geo,
    /// A global cross-Region profile (`global.`): cheaper than geographic.
    Global,
    /// An application inference profile (tags for cost allocation; the base model is not in the id).
    ApplicationProfile,
    /// Provisioned Throughput: billed per model unit-hour, not per token.
    Provisioned,
    /// A custom (fine-tuned) model.
    Custom,
    /// An imported model (Custom Model Units).
    Imported,
    /// Anything else (prompt management, prompt routers, Marketplace endpoints, unrecognized forms).
    #[default]
    Unknown,
}

impl Routing {
    /// The value stored in the `routing` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::InRegion => "in-region",
            Routing::Geo => "geo",
            Routing::Global => "global",
            Routing::ApplicationProfile => "application-profile",
            Routing::Provisioned => "provisioned",
            Routing::Custom => "custom",
            Routing::Imported => "imported",
            Routing::Unknown => "unknown",
        }
    }
}

/// What a `modelId` names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelRef {
    /// Normalized base model id, e.g. `anthropic.claude-3-5-sonnet-20241022-v2:0`.
    pub model: Option<String>,
    /// The provider segment of the base model id (`anthropic`, `meta`, `amazon`...).
    pub provider: Option<String>,
    pub routing: Routing,
    /// The inference profile the request went through: a system profile id (`us.anthropic...`) or an
    /// application profile ARN.
    pub inference_profile: Option<String>,
}

/// Providers whose ids start base model ids; anything else in first position may be a geography prefix.
pub const KNOWN_PROVIDERS: &[&str] = &[
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "google",
    "luma",
    "meta",
    "minimax",
    "mistral",
    "moonshot",
    "moonshotai",
    "nvidia",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
    "zai",
];

/// Distinct model ids a thread remembers before it starts over: far more than any account uses.
const REMEMBERED_IDS: usize = 4096;

thread_local! {
    static NORMALIZED: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<ModelRef>, IdHash>> =
        Default::default();
}

/// The hasher of remembered model ids: seeded xxh3 over the id's bytes. Ids are ARNs of about 90 bytes, looked
/// up once per row, and std's SipHash of them was 0.45% of ingest's instructions. The seed is drawn once per
/// process, so a log cannot be crafted to collide its ids (and [`REMEMBERED_IDS`] bounds the table anyway).
#[derive(Clone, Copy)]
struct IdHash(u64);

impl Default for IdHash {
    fn default() -> Self {
        static SEED: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8)
        });
        IdHash(*SEED)
    }
}

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

/// See [`IdHash`]: each write is hashed with the state so far as its seed.
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`normalize`], remembered per thread. A log holds a handful of distinct model ids, and normalizing every
/// row's again (splitting it, three allocations, three frees) was 2% of ingest's instructions. The answer is a
/// pure function of the id, so remembering it changes nothing but the cost.
///
/// An `Rc`, not an `Arc`: a row lives and dies on the thread that decoded it, so its count needs no atomic
/// increment and decrement. The `lock decq` in dropping each row drew 1.5% of a profile's samples (skid from the
/// instructions around it may count in that); the saving is too small for this machine's wall clock to show.
pub fn normalize_shared(model_id: &str) -> std::rc::Rc<ModelRef> {
    NORMALIZED.with(|cell| {
        let mut cache = cell.borrow_mut();
        if let Some(found) = cache.get(model_id) {
            return found.clone();
        }
        if cache.len() >= REMEMBERED_IDS {
            cache.clear();
        }
        let normalized = std::rc::Rc::new(normalize(model_id));
        cache.insert(model_id.into(), normalized.clone());
        normalized
    })
}

/// Normalize a logged `modelId`.
pub fn normalize(model_id: &str) -> ModelRef {
    let id = model_id.trim();
    if let Some(rest) = id.strip_prefix("arn:") {
        return normalize_arn(rest);
    }
    normalize_plain_id(id)
}

/// A bare base model id or a system-defined profile id.
fn normalize_plain_id(id: &str) -> ModelRef {
    let Some((first, remainder)) = id.split_once('.') else {
        return ModelRef::default();
    };
    if KNOWN_PROVIDERS.contains(&first) {
        return base(id, Routing::InRegion);
    }
    // A geography prefix: 2-8 lowercase letters (or `us-gov`), and the rest still looks like `provider.name`.
    let prefix_ok = (2..=8).contains(&first.len()) && first.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    if prefix_ok && remainder.contains('.') && looks_like_base_id(remainder) {
        let routing = if first == "global" { Routing::Global } else { Routing::Geo };
        let mut m = base(remainder, routing);
        m.inference_profile = Some(id.to_string());
        return m;
    }
    if looks_like_base_id(id) {
        return base(id, Routing::InRegion);
    }
    ModelRef::default()
}

fn looks_like_base_id(id: &str) -> bool {
    match id.split_once('.') {
        Some((provider, name)) => {
            !provider.is_empty()
                && !name.is_empty()
                && provider.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !id.contains('/')
                && !id.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn base(id: &str, routing: Routing) -> ModelRef {
    let provider = id.split_once('.').map(|(p, _)| p.to_string());
    ModelRef { model: Some(id.to_string()), provider, routing, inference_profile: None }
}

/// `arn:<partition>:<service>:<region>:<account>:<resource-type>/<resource-id>` with `arn:` already removed.
fn normalize_arn(rest: &str) -> ModelRef {
    let mut fields = rest.splitn(5, ':');
    let _partition = fields.next();
    let service = fields.next().unwrap_or_default();
    let _region = fields.next();
    let _account = fields.next();
    let resource = fields.next().unwrap_or_default();
    if service != "bedrock" {
        return ModelRef::default();
    }
    let (kind, id) = resource.split_once('/').unwrap_or((resource, ""));
    let full_arn = || format!("arn:{rest}");
    match kind {
        "foundation-model" => normalize_plain_id(id),
        "inference-profile" => normalize_plain_id(id),
        "application-inference-profile" => ModelRef {
            routing: Routing::ApplicationProfile,
            inference_profile: Some(full_arn()),
            ..ModelRef::default()
        },
        "provisioned-model" => ModelRef { routing: Routing::Provisioned, ..ModelRef::default() },
        "custom-model" => {
            // Old form `custom-model/<base-model-id>/<id>`: the base model is in the ARN.
            let base_id = id.rsplit_once('/').map(|(b, _)| b).filter(|b| looks_like_base_id(b));
            match base_id {
                Some(b) => ModelRef { routing: Routing::Custom, ..base(b, Routing::Custom) },
                None => ModelRef { routing: Routing::Custom, ..ModelRef::default() },
            }
        }
        "custom-model-deployment" => ModelRef { routing: Routing::Custom, ..ModelRef::default() },
        "imported-model" => ModelRef { routing: Routing::Imported, ..ModelRef::default() },
        _ => ModelRef::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_answers_are_the_answers() {
        let ids = [
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123",
            " meta.llama3-70b-instruct-v1:0 ",
            "not a model",
        ];
        // Twice round, then past the point where the thread's memory starts over, then round again.
        for round in 0..3 {
            for id in ids {
                assert_eq!(*normalize_shared(id), normalize(id), "{id}, round {round}");
            }
            if round == 1 {
                for i in 0..REMEMBERED_IDS + 10 {
                    let id = format!("us.anthropic.model-{i}");
                    assert_eq!(*normalize_shared(&id), normalize(&id));
                }
            }
        }
    }

    #[test]
    fn every_form_in_the_reference() {
        use Routing::*;
        let s = |v: &str| Some(v.to_string());
        type Case<'a> = (&'a str, Option<String>, Option<String>, Routing, Option<String>);
        let cases: &[Case] = &[
            (
                "anthropic.claude-3-haiku-20240307-v1:0",
                s("anthropic.claude-3-haiku-20240307-v1:0"),
                s("anthropic"),
                InRegion,
                None,
            ),
            ("meta.llama2-13b-chat-v1", s("meta.llama2-13b-chat-v1"), s("meta"), InRegion, None),
            ("amazon.titan-text-lite-v1", s("amazon.titan-text-lite-v1"), s("amazon"), InRegion, None),
            ("anthropic.claude-v2:1", s("anthropic.claude-v2:1"), s("anthropic"), InRegion, None),
            ("ai21.jamba-instruct-v1:0", s("ai21.jamba-instruct-v1:0"), s("ai21"), InRegion, None),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0",
                s("anthropic.claude-3-5-sonnet-20241022-v2:0"),
                s("anthropic"),
                InRegion,
                None,
            ),
            (
                "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
                s("anthropic.claude-3-5-sonnet-20241022-v2:0"),
                s("anthropic"),
                Geo,
                s("us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
            ),
            (
                "eu.meta.llama3-2-3b-instruct-v1:0",
                s("meta.llama3-2-3b-instruct-v1:0"),
                s("meta"),
                Geo,
                s("eu.meta.llama3-2-3b-instruct-v1:0"),
            ),
            (
                "apac.amazon.nova-lite-v1:0",
                s("amazon.nova-lite-v1:0"),
                s("amazon"),
                Geo,
                s("apac.amazon.nova-lite-v1:0"),
            ),
            (
                "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
                s("anthropic.claude-3-haiku-20240307-v1:0"),
                s("anthropic"),
                Geo,
                s("us-gov.anthropic.claude-3-haiku-20240307-v1:0"),
            ),
            (
                "global.anthropic.claude-opus-4-6-v1",
                s("anthropic.claude-opus-4-6-v1"),
                s("anthropic"),
                Global,
                s("global.anthropic.claude-opus-4-6-v1"),
            ),
            (
                "arn:aws:bedrock:us-east-1:663981805246:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
                s("anthropic.claude-sonnet-4-20250514-v1:0"),
                s("anthropic"),
                Geo,
                s("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            ),
            (
                "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                s("anthropic.claude-sonnet-4-5-20250929-v1:0"),
                s("anthropic"),
                Global,
                s("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            ),
            (
                "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6",
                None,
                None,
                ApplicationProfile,
                s("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6"),
            ),
            ("arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abcdef123456", None, None, Provisioned, None),
            (
                "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.titan-text-express-v1/abcdef123456",
                s("amazon.titan-text-express-v1"),
                s("amazon"),
                Custom,
                None,
            ),
            ("arn:aws:bedrock:us-east-1:111122223333:custom-model-deployment/abcdef123456", None, None, Custom, None),
            ("arn:aws:bedrock:us-east-1:111122223333:imported-model/abcdef123456", None, None, Imported, None),
            ("arn:aws:bedrock:us-east-1:111122223333:prompt/PROMPT12345:1", None, None, Unknown, None),
            (
                "arn:aws:bedrock:us-east-1:111122223333:default-prompt-router/anthropic.claude:1",
                None,
                None,
                Unknown,
                None,
            ),
            ("arn:aws:sagemaker:us-east-1:111122223333:endpoint/my-endpoint", None, None, Unknown, None),
            ("", None, None, Unknown, None),
            ("gibberish", None, None, Unknown, None),
        ];
        for (id, model, provider, routing, profile) in cases {
            let got = normalize(id);
            assert_eq!(&got.model, model, "model, case {id}");
            assert_eq!(&got.provider, provider, "provider, case {id}");
            assert_eq!(got.routing, *routing, "routing, case {id}");
            assert_eq!(&got.inference_profile, profile, "profile, case {id}");
        }
    }
}
