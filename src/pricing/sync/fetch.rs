//! Reading the offer files: over HTTPS from the Price List endpoint (reqwest with rustls, the system's proxy
//! variables `HTTPS_PROXY` / `NO_PROXY` honoured, a timeout per attempt, retries with exponential backoff on
//! timeouts, connection errors, 5xx and 429), or from a folder holding the same paths (`--offer-dir`, for
//! machines without internet). The only I/O of the sync.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;

use super::offer::{self, Offer, RegionIndex};
use super::{Error, OfferFile};

/// The public Price List endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://pricing.us-east-1.amazonaws.com";

/// How hard to try over HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Limit for one attempt, from connecting until the last byte of the body.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { timeout: Duration::from_secs(60), retries: 3, backoff: Duration::from_millis(500) }
    }
}

/// Where offer files come from.
#[derive(Debug)]
pub enum OfferSource {
    Http {
        client: reqwest::Client,
        endpoint: String,
        options: HttpOptions,
    },
    /// A folder holding `offers/v1.0/aws/<Code>/...` as the endpoint serves them.
    Dir(PathBuf),
}

/// Offer files fetched at once (each is about 5 MB).
const CONCURRENT_FETCHES: usize = 4;

impl OfferSource {
    /// An HTTP source for `endpoint` (e.g. [`DEFAULT_ENDPOINT`]).
    pub fn http(endpoint: &str, options: HttpOptions) -> Result<OfferSource, Error> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("bedrock-spend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Client)?;
        Ok(OfferSource::Http { client, endpoint: endpoint.trim_end_matches('/').to_string(), options })
    }

    /// The bytes at `path` (an absolute path on the endpoint, as the region index gives it), and where they came
    /// from (URL or file path) for messages.
    async fn get(&self, path: &str) -> Result<(String, Vec<u8>), Error> {
        // The index may give a full URL: keep only its path, so `--endpoint` and `--offer-dir` still apply.
        let path = match path.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => path,
        };
        match self {
            OfferSource::Dir(dir) => {
                let file = dir.join(path.trim_start_matches('/'));
                let location = file.display().to_string();
                let bytes = tokio::fs::read(&file)
                    .await
                    .map_err(|source| Error::ReadFile { path: location.clone(), source })?;
                Ok((location, bytes))
            }
            OfferSource::Http { client, endpoint, options } => {
                let url = format!("{endpoint}{path}");
                let bytes = get_with_retries(client, &url, options).await?;
                Ok((url, bytes))
            }
        }
    }
}

/// One GET, retried on what may pass (timeouts, connection errors, 5xx, 429) with doubling waits.
async fn get_with_retries(client: &reqwest::Client, url: &str, options: &HttpOptions) -> Result<Vec<u8>, Error> {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let failure = match client.get(url).send().await {
            Ok(response) if response.status().is_success() => match response.bytes().await {
                Ok(bytes) => return Ok(bytes.to_vec()),
                Err(e) => e_to_error(url, attempt, options, e),
            },
            Ok(response) => {
                let status = response.status();
                let error = Error::Status { url: url.to_string(), status: status.as_u16(), attempts: attempt };
                if !(status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS) {
                    return Err(error);
                }
                error
            }
            Err(e) => e_to_error(url, attempt, options, e),
        };
        if attempt > options.retries {
            return Err(failure);
        }
        let wait = options.backoff.saturating_mul(1 << (attempt - 1).min(6));
        note_retry(url, attempt, &failure);
        tokio::time::sleep(wait).await;
    }
}

fn e_to_error(url: &str, attempts: u32, options: &HttpOptions, source: reqwest::Error) -> Error {
    if source.is_timeout() {
        Error::Timeout { url: url.to_string(), timeout_secs: options.timeout.as_secs().max(1), attempts }
    } else {
        Error::Request { url: url.to_string(), attempts, source }
    }
}

/// Say on stderr that an attempt failed and will be retried (a sync is run by people and schedulers alike).
fn note_retry(url: &str, attempt: u32, failure: &Error) {
    let reason = match failure {
        Error::Status { status, .. } => format!("HTTP {status}"),
        Error::Timeout { .. } => "timed out".to_string(),
        _ => "connection failed".to_string(),
    };
    eprintln!("note: {url}: {reason} (attempt {attempt}), retrying");
}

/// Read the region index of both offer codes and every Region's offer (only `regions` when given).
pub async fn fetch_offers(source: &OfferSource, regions: &[String]) -> Result<Vec<OfferFile>, Error> {
    let mut wanted: Vec<(String, String, String)> = Vec::new();
    let mut indexed: BTreeSet<String> = BTreeSet::new();
    for code in offer::OFFER_CODES {
        let (location, bytes) = source.get(&offer::region_index_path(code)).await?;
        let index: RegionIndex =
            serde_json::from_slice(&bytes).map_err(|source| Error::Parse { location, what: "region index", source })?;
        for (region, entry) in index.regions {
            indexed.insert(region.clone());
            if regions.is_empty() || regions.contains(&region) {
                wanted.push((code.to_string(), region, entry.current_version_url));
            }
        }
    }
    if let Some(missing) = regions.iter().find(|r| !indexed.contains(*r)) {
        return Err(Error::UnknownRegion(missing.clone()));
    }
    let mut files: Vec<OfferFile> = futures::stream::iter(wanted)
        .map(|(code, region, path)| async move {
            let (location, bytes) = source.get(&path).await?;
            let offer: Offer = serde_json::from_slice(&bytes).map_err(|source| Error::Parse {
                location: location.clone(),
                what: "offer file",
                source,
            })?;
            if offer.offer_code != code {
                return Err(Error::WrongOffer { location, found: offer.offer_code, expected: code });
            }
            Ok(OfferFile { offer_code: code, region, location, offer })
        })
        .buffer_unordered(CONCURRENT_FETCHES)
        .collect::<Vec<Result<OfferFile, Error>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    files.sort_by(|a, b| (&a.offer_code, &a.region).cmp(&(&b.offer_code, &b.region)));
    Ok(files)
}
