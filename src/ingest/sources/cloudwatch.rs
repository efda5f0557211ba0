//! CloudWatch Logs as a source (edge): FilterLogEvents over the `aws/bedrock/modelinvocations` stream of a log
//! group, between a start and an end time, following `nextToken`.
//!
//! A log group window becomes one [`SourceObject`] whose reader fetches pages lazily and yields one record per
//! line, so memory stays at one page however many events the window holds. The incremental checkpoint is an
//! event-time watermark per log group and Region, advanced only after a run's rows are durable; each run starts
//! an overlap window before the watermark to catch late-delivered events, and dedupe makes the overlap free.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use super::SourceObject;
use crate::aws::io_error;
use crate::store::files::Files;

/// The log stream Bedrock writes to in every log group.
pub const STREAM: &str = "aws/bedrock/modelinvocations";
/// How far before the watermark an incremental run starts (events arrived 5-13 s late in real data).
pub const DEFAULT_OVERLAP_MINUTES: i64 = 15;

/// Parse `cloudwatch://LOG_GROUP` (the group name may itself contain slashes).
pub fn parse_url(url: &str) -> Option<String> {
    let group = url.strip_prefix("cloudwatch://")?;
    (!group.is_empty()).then(|| group.to_string())
}

/// Watermarks of every log group read so far, keyed `region:group`.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub version: u32,
    pub watermarks: BTreeMap<String, DateTime<Utc>>,
}

impl Checkpoint {
    fn path(warehouse: &Path) -> std::path::PathBuf {
        warehouse.join("_checkpoints").join("cloudwatch.json")
    }

    /// Read the checkpoint (empty when none was written yet).
    pub fn load(files: &Files) -> io::Result<Checkpoint> {
        match files.read(&Self::path(files.root())) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(io::Error::other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Checkpoint { version: 1, ..Checkpoint::default() }),
            Err(e) => Err(e),
        }
    }

    /// Write it atomically (temporary file, fsync, rename).
    pub fn save(&self, files: &Files) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        files.write_atomic(&Self::path(files.root()), &bytes)
    }

    /// The key of a log group in a Region.
    pub fn key(region: &str, group: &str) -> String {
        format!("{region}:{group}")
    }
}

/// The window to read: from the watermark less the overlap (or `since`), to `until` (or now).
pub fn window(
    watermark: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    overlap: Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = until.unwrap_or(now).min(now);
    let start = match (watermark, since) {
        (Some(w), Some(s)) => (w - overlap).max(s),
        (Some(w), None) => w - overlap,
        (None, Some(s)) => s,
        (None, None) => DateTime::<Utc>::UNIX_EPOCH,
    };
    (start.min(end), end)
}

/// A source reading one log group's events in `[start, end]`.
pub fn source(
    client: &aws_sdk_cloudwatchlogs::Client,
    handle: &Handle,
    region: &str,
    group: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> SourceObject {
    let (client, handle, group_name) = (client.clone(), handle.clone(), group.to_string());
    let id = format!("cloudwatch://{group}#{STREAM}@{region}");
    SourceObject {
        fingerprint: format!("{}-{}", start.timestamp_millis(), end.timestamp_millis()),
        size: 0,
        hour: None,
        id,
        open: Arc::new(move || {
            Ok(Box::new(EventReader {
                client: client.clone(),
                handle: handle.clone(),
                group: group_name.clone(),
                start_ms: start.timestamp_millis(),
                end_ms: end.timestamp_millis(),
                next_token: None,
                buffer: Vec::new(),
                position: 0,
                finished: false,
                pages: 0,
            }) as Box<dyn Read + Send>)
        }),
    }
}

/// Streams FilterLogEvents pages as newline-delimited records.
struct EventReader {
    client: aws_sdk_cloudwatchlogs::Client,
    handle: Handle,
    group: String,
    start_ms: i64,
    end_ms: i64,
    next_token: Option<String>,
    buffer: Vec<u8>,
    position: usize,
    finished: bool,
    pages: u64,
}

impl EventReader {
    fn fetch_page(&mut self) -> io::Result<()> {
        let request = self
            .client
            .filter_log_events()
            .log_group_name(&self.group)
            .log_stream_names(STREAM)
            .start_time(self.start_ms)
            .end_time(self.end_ms)
            .set_next_token(self.next_token.clone())
            .send();
        let page = self
            .handle
            .block_on(request)
            .map_err(|e| io_error(&e, "logs:FilterLogEvents", &format!("log group {}", self.group)))?;
        self.pages += 1;
        self.buffer.clear();
        self.position = 0;
        for event in page.events() {
            if let Some(message) = event.message() {
                self.buffer.extend_from_slice(message.trim_end().as_bytes());
                self.buffer.push(b'\n');
            }
        }
        let token = page.next_token().map(str::to_string);
        // The end is a missing token, or the same token again with nothing new (as GetLogEvents does).
        self.finished = token.is_none() || (token == self.next_token && page.events().is_empty());
        self.next_token = token;
        Ok(())
    }
}

impl Read for EventReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.buffer.len() {
            if self.finished {
                return Ok(0);
            }
            self.fetch_page()?;
        }
        let n = out.len().min(self.buffer.len() - self.position);
        out[..n].copy_from_slice(&self.buffer[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows() {
        let t = |h| Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).single().unwrap();
        let overlap = Duration::minutes(15);
        assert_eq!(window(None, None, None, t(12), overlap), (DateTime::<Utc>::UNIX_EPOCH, t(12)));
        assert_eq!(window(Some(t(10)), None, None, t(12), overlap), (t(10) - overlap, t(12)));
        assert_eq!(window(Some(t(10)), Some(t(11)), None, t(12), overlap), (t(11), t(12)));
        assert_eq!(window(None, Some(t(3)), Some(t(5)), t(12), overlap), (t(3), t(5)));
        assert_eq!(window(None, None, Some(t(20)), t(12), overlap), (DateTime::<Utc>::UNIX_EPOCH, t(12)));
    }

    #[test]
    fn urls() {
        assert_eq!(parse_url("cloudwatch:///aws/bedrock/invocations").as_deref(), Some("/aws/bedrock/invocations"));
        assert_eq!(parse_url("cloudwatch://bedrock-logs").as_deref(), Some("bedrock-logs"));
        assert_eq!(parse_url("cloudwatch://"), None);
    }
}
