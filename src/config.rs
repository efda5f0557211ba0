//! The configuration file (TOML): what to analyse and how to price it. Settings that shape a single run
//! (`--format`, `--quiet`) are flags only. Precedence: the file, then environment variables, then flags.
//!
//! ```toml
//! # bedrock-spend.toml
//! warehouse = "/data/bedrock-spend"      # the Parquet warehouse
//! price_book = "/etc/finops/bedrock-prices.csv"  # a private price sheet in the pricing/ format
//! discount_pct = 7.5                      # private-pricing / EDP discount applied to list prices
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file as written.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The warehouse directory.
    pub warehouse: Option<PathBuf>,
    /// A price sheet replacing the bundled `pricing/bedrock-prices.csv`.
    pub price_book: Option<PathBuf>,
    /// Discount off list prices, in percent (0-100), as a number or a decimal string.
    pub discount_pct: Option<Discount>,
}

/// A discount written as a TOML number or string; kept as decimal text so it is parsed exactly.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Discount {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Discount {
    /// The decimal text of the discount.
    pub fn as_text(&self) -> String {
        match self {
            Discount::Int(v) => v.to_string(),
            Discount::Float(v) => v.to_string(),
            Discount::Text(s) => s.clone(),
        }
    }
}

/// Errors reading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {path}")]
    Parse { path: PathBuf, source: toml::de::Error },
}

/// Parse configuration text.
pub fn parse(text: &str, path: &Path) -> Result<RawConfig, Error> {
    toml::from_str(text).map_err(|source| Error::Parse { path: path.to_path_buf(), source })
}

/// Read the file named by `--config`, or `./bedrock-spend.toml` when it exists, or nothing.
pub fn load(explicit: Option<&Path>) -> Result<RawConfig, Error> {
    let default = Path::new("bedrock-spend.toml");
    let path = match explicit {
        Some(p) => p,
        None if default.exists() => default,
        None => return Ok(RawConfig::default()),
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_in_module_docs_parses() {
        let text = "warehouse = \"/data/bedrock-spend\"\nprice_book = \"/etc/finops/bedrock-prices.csv\"\ndiscount_pct = 7.5\n";
        let c = parse(text, Path::new("x.toml")).unwrap();
        assert_eq!(c.warehouse.as_deref(), Some(Path::new("/data/bedrock-spend")));
        assert_eq!(c.discount_pct.map(|d| d.as_text()).as_deref(), Some("7.5"));
        assert!(parse("warehous = 1", Path::new("x.toml")).is_err(), "unknown keys are rejected");
        assert_eq!(
            parse("discount_pct = \"12.25\"", Path::new("x")).unwrap().discount_pct,
            Some(Discount::Text("12.25".into()))
        );
    }
}
