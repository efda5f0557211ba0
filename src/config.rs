//! Configuration in two stages: [`RawConfig`] is the TOML file as written (unknown keys are an error naming the
//! key and the file); [`Config`] is what a run uses, validated once: the price book parsed, the discount exact,
//! sizes and ports checked. Precedence: the file, then environment variables, then flags. Settings that shape a
//! single run (`--format`, `--quiet`) are flags only.
//!
//! ```toml
//! # bedrock-spend.toml
//! warehouse = "/data/bedrock-spend"               # the Parquet warehouse
//! price_book = "/etc/finops/bedrock-prices.csv"   # a private price sheet in the pricing/ format
//! discount_pct = 7.5                              # private-pricing / EDP discount applied to list prices
//! memory_limit = "8G"                             # what a query may hold before it fails [default: half the RAM]
//!
//! [report]
//! metadata_keys = ["team", "app"]                 # request-metadata keys the report breaks spend down by
//!
//! [recommend]
//! min_monthly_savings_usd = 5                     # hide recommendations worth less than this a month
//!
//! [smtp]
//! host = "smtp.example.com"
//! port = 587
//! tls = "starttls"                                # starttls | tls (implicit) | none (a local relay)
//! username = "finops-bot"                         # the password only from BEDROCK_SPEND_SMTP_PASSWORD
//! from = "FinOps <finops@example.com>"
//! ca_file = "/etc/ssl/private-ca.pem"             # an extra CA to trust (a private relay); system roots stay
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pricing::{self, Discount, Pricing};

/// The default configuration file, read when it exists and `--config` is not given.
pub const DEFAULT_PATH: &str = "bedrock-spend.toml";
/// The default warehouse.
pub const DEFAULT_WAREHOUSE: &str = "./bedrock-spend-data";

/// The file as written.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The warehouse directory.
    pub warehouse: Option<PathBuf>,
    /// A price sheet replacing the bundled `pricing/bedrock-prices.csv`.
    pub price_book: Option<PathBuf>,
    /// Discount off list prices, in percent (0-100), as a number or a decimal string.
    pub discount_pct: Option<DecimalText>,
    /// Memory a query may use: bytes, or a number with K, M, G or T (powers of 1024).
    pub memory_limit: Option<SizeText>,
    /// `[recommend]`: thresholds of the recommender.
    #[serde(default)]
    pub recommend: RawRecommend,
    /// `[report]`: what the monthly report breaks spend down by.
    #[serde(default)]
    pub report: RawReport,
    /// `[smtp]`: how reports are emailed.
    pub smtp: Option<RawSmtp>,
}

/// `[recommend]` as written.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRecommend {
    /// Hide recommendations saving less than this per month (USD) [default: 1].
    pub min_monthly_savings_usd: Option<DecimalText>,
    /// Days analysed when `--since` is not given, ending with the last day of data [default: 30].
    pub window_days: Option<u32>,
    /// Batch: a caller's traffic must run on at least this many days to count as a recurring job [default: 5].
    pub batch_min_days: Option<u32>,
    /// Batch: the share of a caller's requests (percent) that must fall in one window of at most 6 consecutive
    /// UTC hours for it to count as a scheduled job [default: 80].
    pub batch_window_share_pct: Option<u32>,
    /// Batch: a caller whose streaming or tool-use calls of a model exceed this percent of its calls is
    /// interactive and never recommended [default: 5].
    pub batch_max_interactive_pct: Option<u32>,
    /// Prompt caching: a prefix must be sent without caching at least this many times [default: 5].
    pub cache_min_requests: Option<u32>,
    /// Provisioned Throughput: a commitment must cost at least this percent less than on demand [default: 10].
    pub pt_margin_pct: Option<u32>,
    /// Provisioned Throughput: the quietest UTC hour of day must carry at least this percent of the busiest
    /// hour's requests for the traffic to count as round the clock [default: 40].
    pub pt_min_offpeak_pct: Option<u32>,
    /// Model lifecycle: warn about models reaching end of life within this many days of the window's end
    /// [default: 90].
    pub lifecycle_horizon_days: Option<u32>,
    /// Batch: request-metadata keys (at most [`MAX_BATCH_METADATA_KEYS`]) that split a caller's traffic of a model
    /// into separate candidates, e.g. `["team", "job"]` [default: none].
    pub batch_group_by_metadata: Option<Vec<String>>,
    /// `[recommend.provisioned_capacity."MODEL"]`: a model unit's capacity per model, overriding or adding to the
    /// capacity columns of `pricing/provisioned-throughput.csv` (AWS quotes it with a Provisioned Throughput offer).
    pub provisioned_capacity: Option<std::collections::BTreeMap<String, RawCapacity>>,
}

/// `[recommend.provisioned_capacity."MODEL"]` as written: tokens a minute one model unit serves.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    /// Input tokens a minute per model unit.
    pub input_tpm_per_mu: i64,
    /// Output tokens a minute per model unit.
    pub output_tpm_per_mu: i64,
}

/// `[report]` as written.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// Request-metadata keys to break spend down by [default: `["team"]`].
    pub metadata_keys: Option<Vec<String>>,
}

/// `[smtp]` as written. The password is never read from the file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `starttls`, `tls` (implicit TLS) or `none`.
    pub tls: Option<String>,
    pub username: Option<String>,
    /// The sender, `Name <address>` or a bare address.
    pub from: Option<String>,
    /// A PEM file of extra CA certificates to trust besides the system roots (a private relay's CA).
    pub ca_file: Option<PathBuf>,
}

/// A decimal written as a TOML number or string, kept as text so it is parsed exactly.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DecimalText {
    Int(i64),
    Float(f64),
    Text(String),
}

impl DecimalText {
    /// The decimal text.
    pub fn as_text(&self) -> String {
        match self {
            DecimalText::Int(v) => v.to_string(),
            DecimalText::Float(v) => v.to_string(),
            DecimalText::Text(s) => s.clone(),
        }
    }
}

/// A size written as a number of bytes or a string such as `"8G"`.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SizeText {
    Bytes(u64),
    Text(String),
}

/// What a run uses after the file, the environment and the flags are combined and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub warehouse: PathBuf,
    pub pricing: Pricing,
    pub memory_limit_bytes: usize,
    pub recommend: RecommendConfig,
    pub report: ReportConfig,
    /// `None` when neither the file nor the environment names an SMTP host.
    pub smtp: Option<SmtpConfig>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

/// Thresholds of the recommender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendConfig {
    pub min_monthly_savings_usd: rust_decimal::Decimal,
    pub window_days: u32,
    pub batch_min_days: u32,
    pub batch_window_share_pct: u32,
    pub batch_max_interactive_pct: u32,
    pub cache_min_requests: u32,
    pub pt_margin_pct: u32,
    pub pt_min_offpeak_pct: u32,
    pub lifecycle_horizon_days: u32,
    /// Request-metadata keys batch candidates are grouped by besides caller, model and Region (at most
    /// [`MAX_BATCH_METADATA_KEYS`], none by default).
    pub batch_group_by_metadata: Vec<String>,
    /// Model-unit capacities from the config file, by normalized base model id; they override the price book's.
    pub provisioned_capacity: std::collections::BTreeMap<String, Capacity>,
}

/// How many request-metadata keys batch candidates can be grouped by (the named query has that many slots, since
/// SQL parameters are scalars and the keys are never pasted into SQL).
pub const MAX_BATCH_METADATA_KEYS: usize = 3;

/// A model unit's capacity in tokens a minute (both positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub input_tpm_per_mu: i64,
    pub output_tpm_per_mu: i64,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        RecommendConfig {
            min_monthly_savings_usd: rust_decimal::Decimal::ONE,
            window_days: 30,
            batch_min_days: 5,
            batch_window_share_pct: 80,
            batch_max_interactive_pct: 5,
            cache_min_requests: 5,
            pt_margin_pct: 10,
            pt_min_offpeak_pct: 40,
            lifecycle_horizon_days: 90,
            batch_group_by_metadata: Vec::new(),
            provisioned_capacity: std::collections::BTreeMap::new(),
        }
    }
}

/// What the report breaks spend down by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    pub metadata_keys: Vec<String>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig { metadata_keys: vec!["team".to_string()] }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    StartTls,
    Implicit,
    None,
}

/// A validated `[smtp]` section (the password comes from the environment when the mail is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub from: String,
    /// Extra CA certificates (PEM) trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
}

/// Values given on the command line (flags win over everything).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub warehouse: Option<PathBuf>,
    pub price_book: Option<PathBuf>,
    pub discount_pct: Option<String>,
    pub memory_limit: Option<String>,
}

/// The environment variables read, each overriding the file's key of the same meaning.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("BEDROCK_SPEND_CONFIG", "--config"),
    ("BEDROCK_SPEND_WAREHOUSE", "warehouse"),
    ("BEDROCK_SPEND_PRICE_BOOK", "price_book"),
    ("BEDROCK_SPEND_DISCOUNT_PCT", "discount_pct"),
    ("BEDROCK_SPEND_MEMORY_LIMIT", "memory_limit"),
    ("BEDROCK_SPEND_SMTP_HOST", "smtp.host"),
    ("BEDROCK_SPEND_SMTP_PORT", "smtp.port"),
    ("BEDROCK_SPEND_SMTP_TLS", "smtp.tls"),
    ("BEDROCK_SPEND_SMTP_USERNAME", "smtp.username"),
    ("BEDROCK_SPEND_SMTP_FROM", "smtp.from"),
    ("BEDROCK_SPEND_SMTP_CA_FILE", "smtp.ca_file"),
];

/// Errors reading or validating the configuration; each names the file or the setting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {path}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("cannot read price book {path}")]
    PriceBook { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Pricing(#[from] pricing::Error),
    #[error("{setting} {value:?} {reason}")]
    Invalid { setting: &'static str, value: String, reason: &'static str },
}

/// Parse configuration text.
pub fn parse(text: &str, path: &Path) -> Result<RawConfig, Error> {
    toml::from_str(text).map_err(|source| Error::Parse { path: path.to_path_buf(), source })
}

/// Read the file named by `explicit`, or `./bedrock-spend.toml` when it exists, or nothing.
pub fn load(explicit: Option<&Path>) -> Result<(RawConfig, Option<PathBuf>), Error> {
    let default = Path::new(DEFAULT_PATH);
    let path = match explicit {
        Some(p) => p,
        None if default.exists() => default,
        None => return Ok((RawConfig::default(), None)),
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    Ok((parse(&text, path)?, Some(path.to_path_buf())))
}

impl Config {
    /// Read the file, then apply the process environment and the flags.
    pub fn resolve(flags: &Overrides) -> Result<Config, Error> {
        Config::resolve_with(flags, &|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// As [`Config::resolve`], with the environment given as a lookup (for tests).
    pub fn resolve_with(flags: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let explicit = flags.config.clone().or_else(|| env("BEDROCK_SPEND_CONFIG").map(PathBuf::from));
        let (raw, file) = load(explicit.as_deref())?;
        let price_text = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| Error::PriceBook { path: path.to_path_buf(), source })
        };
        Config::validate(raw, file, flags, env, &price_text)
    }

    /// Combine and check: the pure second stage.
    pub fn validate(
        raw: RawConfig,
        file: Option<PathBuf>,
        flags: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
        read_price_book: &dyn Fn(&Path) -> Result<String, Error>,
    ) -> Result<Config, Error> {
        let pick_path = |flag: &Option<PathBuf>, var: &str, file_value: Option<PathBuf>| {
            flag.clone().or_else(|| env(var).map(PathBuf::from)).or(file_value)
        };
        let warehouse = pick_path(&flags.warehouse, "BEDROCK_SPEND_WAREHOUSE", raw.warehouse)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_WAREHOUSE));
        let discount_text = flags
            .discount_pct
            .clone()
            .or_else(|| env("BEDROCK_SPEND_DISCOUNT_PCT"))
            .or(raw.discount_pct.map(|d| d.as_text()));
        let discount = match discount_text {
            Some(text) => Discount::parse(&text)?,
            None => Discount::none(),
        };
        let pricing = match pick_path(&flags.price_book, "BEDROCK_SPEND_PRICE_BOOK", raw.price_book) {
            Some(path) => Pricing::parse(&read_price_book(&path)?, &path.display().to_string(), discount)?,
            None => Pricing::parse(pricing::BUNDLED_PRICES, pricing::BUNDLED_ORIGIN, discount)?,
        };
        let memory_text = flags.memory_limit.clone().or_else(|| env("BEDROCK_SPEND_MEMORY_LIMIT"));
        let memory_limit_bytes = match (memory_text, raw.memory_limit) {
            (Some(text), _) | (None, Some(SizeText::Text(text))) => parse_size(&text).ok_or(Error::Invalid {
                setting: "memory_limit",
                value: text,
                reason: "is not a size such as 4G",
            })?,
            (None, Some(SizeText::Bytes(b))) => usize::try_from(b).unwrap_or(usize::MAX),
            (None, None) => crate::query::SessionOptions::default().memory_limit_bytes,
        };
        if memory_limit_bytes < (16 << 20) {
            return Err(Error::Invalid {
                setting: "memory_limit",
                value: memory_limit_bytes.to_string(),
                reason: "is below the 16M a query needs",
            });
        }
        let mut recommend = RecommendConfig::default();
        if let Some(v) = raw.recommend.min_monthly_savings_usd.as_ref() {
            let text = v.as_text();
            recommend.min_monthly_savings_usd =
                text.parse::<rust_decimal::Decimal>().ok().filter(|d| !d.is_sign_negative()).ok_or(Error::Invalid {
                    setting: "recommend.min_monthly_savings_usd",
                    value: text,
                    reason: "is not a non-negative amount",
                })?;
        }
        if let Some(days) = raw.recommend.window_days {
            if days == 0 || days > 3660 {
                return Err(Error::Invalid {
                    setting: "recommend.window_days",
                    value: days.to_string(),
                    reason: "must be from 1 to 3660",
                });
            }
            recommend.window_days = days;
        }
        let r = &raw.recommend;
        let bounded: [(&'static str, Option<u32>, u32, u32, &mut u32); 7] = [
            ("recommend.batch_min_days", r.batch_min_days, 1, 3660, &mut recommend.batch_min_days),
            (
                "recommend.batch_window_share_pct",
                r.batch_window_share_pct,
                1,
                100,
                &mut recommend.batch_window_share_pct,
            ),
            (
                "recommend.batch_max_interactive_pct",
                r.batch_max_interactive_pct,
                0,
                100,
                &mut recommend.batch_max_interactive_pct,
            ),
            ("recommend.cache_min_requests", r.cache_min_requests, 2, u32::MAX, &mut recommend.cache_min_requests),
            ("recommend.pt_margin_pct", r.pt_margin_pct, 0, 99, &mut recommend.pt_margin_pct),
            ("recommend.pt_min_offpeak_pct", r.pt_min_offpeak_pct, 0, 100, &mut recommend.pt_min_offpeak_pct),
            (
                "recommend.lifecycle_horizon_days",
                r.lifecycle_horizon_days,
                0,
                3660,
                &mut recommend.lifecycle_horizon_days,
            ),
        ];
        for (setting, value, low, high, slot) in bounded {
            if let Some(v) = value {
                if v < low || v > high {
                    return Err(Error::Invalid {
                        setting,
                        value: v.to_string(),
                        reason: "is out of range (see README)",
                    });
                }
                *slot = v;
            }
        }
        if let Some(keys) = &raw.recommend.batch_group_by_metadata {
            recommend.batch_group_by_metadata = metadata_keys(keys)?;
        }
        for (model, capacity) in raw.recommend.provisioned_capacity.iter().flatten() {
            let (setting, value) = ("recommend.provisioned_capacity", model.clone());
            let Some(base) = crate::model_id::normalize(model).model else {
                return Err(Error::Invalid {
                    setting,
                    value,
                    reason: "is not a model id (e.g. amazon.nova-lite-v1:0)",
                });
            };
            if capacity.input_tpm_per_mu <= 0 || capacity.output_tpm_per_mu <= 0 {
                return Err(Error::Invalid {
                    setting,
                    value,
                    reason: "needs positive input_tpm_per_mu and output_tpm_per_mu",
                });
            }
            let capacity =
                Capacity { input_tpm_per_mu: capacity.input_tpm_per_mu, output_tpm_per_mu: capacity.output_tpm_per_mu };
            if recommend.provisioned_capacity.insert(base, capacity).is_some() {
                return Err(Error::Invalid { setting, value, reason: "names a model given twice (under two ids)" });
            }
        }
        let mut report = ReportConfig::default();
        if let Some(keys) = raw.report.metadata_keys {
            if let Some(bad) = keys.iter().find(|k| k.trim().is_empty()) {
                return Err(Error::Invalid { setting: "report.metadata_keys", value: bad.clone(), reason: "is empty" });
            }
            report.metadata_keys = keys;
        }
        let smtp = smtp_config(raw.smtp.unwrap_or_default(), env)?;
        Ok(Config { warehouse, pricing, memory_limit_bytes, recommend, report, smtp, file })
    }
}

/// `batch_group_by_metadata`: non-empty, distinct, at most [`MAX_BATCH_METADATA_KEYS`].
fn metadata_keys(keys: &[String]) -> Result<Vec<String>, Error> {
    let setting = "recommend.batch_group_by_metadata";
    if keys.len() > MAX_BATCH_METADATA_KEYS {
        return Err(Error::Invalid { setting, value: keys.join(","), reason: "names more than 3 keys" });
    }
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        if key.trim().is_empty() {
            return Err(Error::Invalid { setting, value: key.clone(), reason: "is empty" });
        }
        if key.contains(',') {
            // The keys reach the named query as one comma-separated parameter.
            return Err(Error::Invalid { setting, value: key.clone(), reason: "contains a comma" });
        }
        if out.contains(key) {
            return Err(Error::Invalid { setting, value: key.clone(), reason: "is named twice" });
        }
        out.push(key.clone());
    }
    Ok(out)
}

fn smtp_config(raw: RawSmtp, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<SmtpConfig>, Error> {
    let Some(host) = env("BEDROCK_SPEND_SMTP_HOST").or(raw.host) else {
        return Ok(None);
    };
    let tls_text = env("BEDROCK_SPEND_SMTP_TLS").or(raw.tls).unwrap_or_else(|| "starttls".to_string());
    let tls = match tls_text.as_str() {
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Implicit,
        "none" => SmtpTls::None,
        _ => {
            return Err(Error::Invalid {
                setting: "smtp.tls",
                value: tls_text,
                reason: "must be starttls, tls or none",
            });
        }
    };
    let port = match env("BEDROCK_SPEND_SMTP_PORT") {
        Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or(Error::Invalid {
            setting: "smtp.port",
            value: text,
            reason: "is not a port number",
        })?,
        None => raw.port.unwrap_or(match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }),
    };
    let username = env("BEDROCK_SPEND_SMTP_USERNAME").or(raw.username);
    let from = env("BEDROCK_SPEND_SMTP_FROM").or(raw.from).ok_or(Error::Invalid {
        setting: "smtp.from",
        value: String::new(),
        reason: "is required when smtp.host is set",
    })?;
    let ca_file = env("BEDROCK_SPEND_SMTP_CA_FILE").map(PathBuf::from).or(raw.ca_file);
    Ok(Some(SmtpConfig { host, port, tls, username, from, ca_file }))
}

/// `1048576`, `512K`, `512M`, `8G`, `1T` (powers of 1024; a trailing `B` or `iB` is allowed).
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix("IB").or_else(|| t.strip_suffix('B')).unwrap_or(&t);
    let (digits, shift) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        'T' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: usize = digits.trim().parse().ok()?;
    n.checked_mul(1usize.checked_shl(shift)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn no_book(path: &Path) -> Result<String, Error> {
        Err(Error::PriceBook { path: path.to_path_buf(), source: std::io::ErrorKind::NotFound.into() })
    }

    const EXAMPLE: &str = r#"
warehouse = "/data/bedrock-spend"
discount_pct = 7.5
memory_limit = "8G"

[report]
metadata_keys = ["team", "app"]

[recommend]
min_monthly_savings_usd = 5

[smtp]
host = "smtp.example.com"
port = 587
tls = "starttls"
username = "finops-bot"
from = "FinOps <finops@example.com>"
ca_file = "/etc/ssl/private-ca.pem"
"#;

    #[test]
    fn module_doc_example_parses_and_validates() {
        // The doc example, minus the price_book line (its file does not exist here).
        let docs = include_str!("config.rs");
        let example: String = docs
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start())
            .filter(|l| !l.starts_with("price_book"))
            .collect::<Vec<_>>()
            .join("\n");
        let raw = parse(&example, Path::new("doc.toml")).unwrap();
        assert_eq!(raw, parse(EXAMPLE, Path::new("x.toml")).unwrap(), "the doc example and the test agree");
        let c = Config::validate(raw, None, &Overrides::default(), &no_env, &no_book).unwrap();
        assert_eq!(c.warehouse, PathBuf::from("/data/bedrock-spend"));
        assert_eq!(c.pricing.discount.as_text(), "7.5");
        assert_eq!(c.memory_limit_bytes, 8 << 30);
        assert_eq!(c.report.metadata_keys, vec!["team", "app"]);
        assert_eq!(c.recommend.min_monthly_savings_usd, rust_decimal::Decimal::from(5));
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.tls), ("smtp.example.com", 587, SmtpTls::StartTls));
    }

    #[test]
    fn readme_example_parses_and_validates() {
        // The README's example file, minus the price_book line (its file does not exist here).
        let readme = include_str!("../README.md");
        let example: String = readme
            .lines()
            .skip_while(|l| !l.starts_with("# bedrock-spend.toml"))
            .take_while(|l| !l.starts_with("```"))
            .filter(|l| !l.starts_with("price_book"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(example.contains("[recommend]"), "found the example: {example}");
        let raw = parse(&example, Path::new("README.toml")).unwrap();
        let c = Config::validate(raw, None, &Overrides::default(), &no_env, &no_book).unwrap();
        assert_eq!(c.recommend.min_monthly_savings_usd, rust_decimal::Decimal::from(5));
        assert_eq!(c.recommend.pt_margin_pct, 10);
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        for text in ["warehous = 1", "[report]\nmetadata_key = [\"team\"]", "[smtp]\npassword = \"x\""] {
            let err = parse(text, Path::new("/etc/bs.toml")).unwrap_err();
            let shown = format!("{:#}", anyhow::Error::from(err));
            assert!(shown.contains("/etc/bs.toml"), "{text}: {shown}");
            let key = text.lines().last().unwrap().split('=').next().unwrap().trim();
            assert!(shown.contains(key), "{text}: names {key}: {shown}");
        }
    }

    #[test]
    fn file_then_environment_then_flags() {
        let raw = || parse("warehouse = \"file\"\ndiscount_pct = \"1\"", Path::new("x")).unwrap();
        let env = |name: &str| match name {
            "BEDROCK_SPEND_WAREHOUSE" => Some("env".to_string()),
            "BEDROCK_SPEND_DISCOUNT_PCT" => Some("2".to_string()),
            _ => None,
        };
        let c = Config::validate(raw(), None, &Overrides::default(), &no_env, &no_book).unwrap();
        assert_eq!((c.warehouse.to_str(), c.pricing.discount.as_text()), (Some("file"), "1"));
        let c = Config::validate(raw(), None, &Overrides::default(), &env, &no_book).unwrap();
        assert_eq!((c.warehouse.to_str(), c.pricing.discount.as_text()), (Some("env"), "2"));
        let flags =
            Overrides { warehouse: Some("flag".into()), discount_pct: Some("3".into()), ..Overrides::default() };
        let c = Config::validate(raw(), None, &flags, &env, &no_book).unwrap();
        assert_eq!((c.warehouse.to_str(), c.pricing.discount.as_text()), (Some("flag"), "3"));
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("discount_pct = 120", "discount"),
            ("memory_limit = \"lots\"", "memory_limit"),
            ("memory_limit = 1000", "memory_limit"),
            ("[smtp]\nhost = \"h\"\nfrom = \"a@b\"\ntls = \"ssl\"", "smtp.tls"),
            ("[smtp]\nhost = \"h\"", "smtp.from"),
            ("[recommend]\nwindow_days = 0", "recommend.window_days"),
            ("[recommend]\nbatch_window_share_pct = 101", "recommend.batch_window_share_pct"),
            ("[recommend]\ncache_min_requests = 1", "recommend.cache_min_requests"),
            ("[recommend]\nmin_monthly_savings_usd = -1", "recommend.min_monthly_savings_usd"),
            (
                "[recommend]\nbatch_group_by_metadata = [\"a\", \"b\", \"c\", \"d\"]",
                "recommend.batch_group_by_metadata",
            ),
            ("[recommend]\nbatch_group_by_metadata = [\"team\", \"team\"]", "recommend.batch_group_by_metadata"),
            (
                "[recommend.provisioned_capacity.nonsense]\ninput_tpm_per_mu = 1\noutput_tpm_per_mu = 1",
                "recommend.provisioned_capacity \"nonsense\"",
            ),
            (
                "[recommend.provisioned_capacity.\"amazon.nova-lite-v1:0\"]\ninput_tpm_per_mu = 0\noutput_tpm_per_mu = 1",
                "recommend.provisioned_capacity \"amazon.nova-lite-v1:0\"",
            ),
            ("price_book = \"/nonexistent.csv\"", "/nonexistent.csv"),
        ];
        for (text, want) in cases {
            let raw = parse(text, Path::new("x")).unwrap();
            let err = Config::validate(raw, None, &Overrides::default(), &no_env, &no_book).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn capacities_are_keyed_by_the_base_model_and_metadata_keys_kept_in_order() {
        let text = "[recommend]\nbatch_group_by_metadata = [\"team\", \"job\"]\n\
                    [recommend.provisioned_capacity.\"us.amazon.nova-lite-v1:0\"]\n\
                    input_tpm_per_mu = 2000000\noutput_tpm_per_mu = 250000\n";
        let raw = parse(text, Path::new("x")).unwrap();
        let c = Config::validate(raw, None, &Overrides::default(), &no_env, &no_book).unwrap();
        assert_eq!(c.recommend.batch_group_by_metadata, vec!["team", "job"]);
        let want = Capacity { input_tpm_per_mu: 2_000_000, output_tpm_per_mu: 250_000 };
        assert_eq!(c.recommend.provisioned_capacity.get("amazon.nova-lite-v1:0"), Some(&want));
        assert_eq!(c.recommend.provisioned_capacity.len(), 1);
        let err = parse("[recommend.provisioned_capacity.m]\ninput_tpm_per_mu = 1", Path::new("x")).unwrap_err();
        let shown = format!("{:#}", anyhow::Error::from(err));
        assert!(shown.contains("output_tpm_per_mu"), "{shown}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("8g"), Some(8 << 30));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size(""), None);
    }
}
