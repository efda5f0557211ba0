//! S3 as a source (edge): list the delivery layout and open objects as streams.
//!
//! Layout: `<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<stamp>_<hex>.json.gz`.
//! With a time window only the hour folders in range (plus an hour of margin each side, since delivery lags)
//! are listed; otherwise the whole prefix is (ListObjectsV2, paginated). Offloaded bodies under `data/` and
//! permission-check markers are skipped. Objects are fetched by the ingest workers, streaming: a worker holds
//! one object's bytes in flight at a time, never a whole listing's.

use std::io;
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use super::{SourceObject, delivery_hour, not_a_log};
use crate::aws::{S3Location, describe, io_error};
use crate::ingest::OffloadedFetcher;

/// Errors listing S3.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0:?} is not an s3://BUCKET/PREFIX URL")]
    Url(String),
    #[error("{0}")]
    List(String),
}

/// Parse an `s3://` URL.
pub fn parse_url(url: &str) -> Result<S3Location, Error> {
    S3Location::parse(url).ok_or_else(|| Error::Url(url.to_string()))
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub etag: String,
    pub size: u64,
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    pub not_logs: u64,
    /// ListObjectsV2 calls made (pages).
    pub pages: u64,
}

fn is_log_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    [".json.gz", ".gz", ".json", ".jsonl", ".ndjson"].iter().any(|e| lower.ends_with(e))
}

/// The folder that holds Region folders: `<prefix>/AWSLogs/<acct>/BedrockModelInvocationLogs/`.
const LAYOUT_ROOT: &str = "BedrockModelInvocationLogs/";

/// List the log objects under `location`, pruned to the hour folders of `[since, until)` when given.
pub async fn list(
    client: &aws_sdk_s3::Client,
    location: &S3Location,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    let prefixes = match (since, until) {
        (None, None) => vec![location.prefix.clone()],
        _ => hour_prefixes(client, location, since, until, now, &mut listing).await?,
    };
    for prefix in prefixes {
        list_prefix(client, &location.bucket, &prefix, &mut listing).await?;
    }
    // Keys outside the window's hours can still appear when the user's prefix reaches below the Region level.
    listing.objects.retain(|o| match delivery_hour(&o.key) {
        Some(hour) => crate::ingest::hour_in_range(Some(hour), since, until),
        None => true,
    });
    Ok(listing)
}

async fn list_prefix(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    listing: &mut Listing,
) -> Result<(), Error> {
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::List(describe(&e, "s3:ListBucket", &format!("s3://{bucket}/{prefix}"))))?;
        listing.pages += 1;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            if not_a_log(key).is_some() || !is_log_key(key) {
                listing.not_logs += 1;
                continue;
            }
            listing.objects.push(ObjectMeta {
                key: key.to_string(),
                etag: object.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                size: object.size().unwrap_or(0).max(0) as u64,
            });
        }
    }
    Ok(())
}

/// Common prefixes one level below `prefix`.
async fn children(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    listing: &mut Listing,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).delimiter("/").into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::List(describe(&e, "s3:ListBucket", &format!("s3://{bucket}/{prefix}"))))?;
        listing.pages += 1;
        out.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
    }
    Ok(out)
}

/// The hour-folder prefixes to list for a window: find each `<region>/` folder, then name its hours.
async fn hour_prefixes(
    client: &aws_sdk_s3::Client,
    location: &S3Location,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    listing: &mut Listing,
) -> Result<Vec<String>, Error> {
    let (Some(since), Some(until)) = (since, until.or(Some(now))) else {
        // Without a start the window is unbounded below: list everything and filter by hour folder.
        return Ok(vec![location.prefix.clone()]);
    };
    let bucket = &location.bucket;
    let prefix = &location.prefix;
    let region_roots: Vec<String> = if let Some(at) = prefix.find(LAYOUT_ROOT) {
        let after = &prefix[at + LAYOUT_ROOT.len()..];
        match after.split_once('/') {
            Some((region, _)) if !region.is_empty() => vec![format!("{}{region}/", &prefix[..at + LAYOUT_ROOT.len()])],
            _ => children(client, bucket, &prefix[..at + LAYOUT_ROOT.len()], listing).await?,
        }
    } else {
        let base = if prefix.is_empty() || prefix.ends_with('/') { prefix.clone() } else { format!("{prefix}/") };
        let aws_logs = if base.ends_with("AWSLogs/") { base } else { format!("{base}AWSLogs/") };
        let mut roots = Vec::new();
        for account in children(client, bucket, &aws_logs, listing).await? {
            roots.extend(children(client, bucket, &format!("{account}{LAYOUT_ROOT}"), listing).await?);
        }
        roots
    };
    let margin = Duration::hours(1);
    let first = (since - margin).duration_trunc(Duration::hours(1)).unwrap_or(since);
    let last = until + margin;
    let mut prefixes = Vec::new();
    for root in region_roots {
        let mut hour = first;
        while hour < last {
            prefixes.push(format!("{root}{}/", hour.format("%Y/%m/%d/%H")));
            hour += Duration::hours(1);
        }
    }
    Ok(prefixes)
}

/// Turn listed objects into sources whose openers stream the object body on a worker thread.
pub fn sources(
    client: &aws_sdk_s3::Client,
    handle: &Handle,
    bucket: &str,
    objects: Vec<ObjectMeta>,
) -> Vec<SourceObject> {
    objects
        .into_iter()
        .map(|o| {
            let (client, handle, bucket_name, key) =
                (client.clone(), handle.clone(), bucket.to_string(), o.key.clone());
            let id = format!("s3://{bucket}/{}", o.key);
            let open_id = id.clone();
            SourceObject {
                hour: delivery_hour(&o.key),
                fingerprint: o.etag,
                size: o.size,
                id,
                open: Arc::new(move || {
                    let request = client.get_object().bucket(&bucket_name).key(&key).send();
                    let response = handle.block_on(request).map_err(|e| io_error(&e, "s3:GetObject", &open_id))?;
                    let body = response.body.into_async_read();
                    Ok(Box::new(SyncIoBridge::new_with_handle(body, handle.clone())) as Box<dyn io::Read + Send>)
                }),
            }
        })
        .collect()
}

/// A fetcher of offloaded request bodies (`inputBodyS3Path`, an `s3://bucket/key`) through `client`, blocking on
/// `handle` from the decoder thread that asks.
pub fn offloaded_fetcher(client: aws_sdk_s3::Client, handle: Handle) -> OffloadedFetcher {
    OffloadedFetcher(Arc::new(move |path: &str| {
        let location = parse_url(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        handle.block_on(async {
            let response = client
                .get_object()
                .bucket(&location.bucket)
                .key(&location.prefix)
                .send()
                .await
                .map_err(|e| io_error(&e, "s3:GetObject", path))?;
            let bytes = response.body.collect().await.map_err(io::Error::other)?;
            Ok(bytes.into_bytes().to_vec())
        })
    }))
}
