//! Sources: what the pipeline reads. Each kind of input becomes a list of [`SourceObject`]s, each able to open a
//! byte stream, so the decode and write path is shared: [`local`] (files and folders), [`s3`] (the delivery
//! layout in a bucket) and [`cloudwatch`] (a log group's events in a time window). Each of them lists or plans
//! its sources and opens them; none decodes. Deciding which of them a run reads is [`super::plan`]'s.
//!
//! This file holds what they share: the source type and the names of the S3 delivery layout (which objects are
//! not logs, which hour folder a key sits in), used for local copies of that layout and for S3 alike.

use std::io::{self, Read};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

pub mod cloudwatch;
pub mod local;
pub mod s3;

/// Opens the bytes of one source; called on a worker thread.
pub type Opener = Arc<dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync>;

/// One input object.
#[derive(Clone)]
pub struct SourceObject {
    /// Stable identity, also stored in the `source` column and the key of the manifest, of failures and of the
    /// CloudWatch watermark: a canonical path, `s3://bucket/key`, or `cloudwatch://group#stream@region`.
    pub id: String,
    /// Content identity (size + mtime, or ETag): a changed fingerprint means the source is read again.
    pub fingerprint: String,
    /// Compressed size in bytes, for progress.
    pub size: u64,
    /// The UTC hour folder of the S3 delivery layout, when the path has one (used to skip files by time).
    pub hour: Option<DateTime<Utc>>,
    /// Opens the bytes (on a decoder thread).
    pub open: Opener,
}

impl std::fmt::Debug for SourceObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceObject")
            .field("id", &self.id)
            .field("fingerprint", &self.fingerprint)
            .field("size", &self.size)
            .finish()
    }
}

/// Why a path was not read as a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotALog {
    /// Under a `data/` prefix: an offloaded large body, not a batch of records.
    OffloadedBody,
    /// `amazon-bedrock-logs-permission-check`: the marker Bedrock writes when logging is configured.
    PermissionCheck,
    /// Found while walking a folder, with a name that is not a log file (README, .DS_Store...).
    OtherFile,
}

/// Classify a path or key by name alone.
pub fn not_a_log(path: &str) -> Option<NotALog> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if name.contains("amazon-bedrock-logs-permission-check") {
        return Some(NotALog::PermissionCheck);
    }
    // Offloaded bodies sit in a `data/` folder directly under an hour folder (`.../HH/data/<id>_input.json.gz`);
    // a `data` folder anywhere else (a user's own tree) means nothing.
    let segments: Vec<&str> = path.split(['/', '\\']).collect();
    let under_hour =
        segments.windows(2).any(|w| w[1] == "data" && w[0].len() == 2 && w[0].bytes().all(|b| b.is_ascii_digit()));
    if under_hour {
        return Some(NotALog::OffloadedBody);
    }
    None
}

/// The hour folder of a key in the delivery layout
/// `.../BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<file>`.
pub fn delivery_hour(path: &str) -> Option<DateTime<Utc>> {
    let segments: Vec<&str> = path.split(['/', '\\']).collect();
    let at = segments.iter().position(|s| *s == "BedrockModelInvocationLogs")?;
    let parts = segments.get(at + 2..at + 6)?;
    let num = |s: &str| s.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(num(parts[0])? as i32, num(parts[1])?, num(parts[2])?)?;
    let hour = num(parts[3]).filter(|h| *h < 24)?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_keys() {
        let cases = [
            (
                "logs/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/16/20241120T164851056Z_9b86bf4994c4ab1c.json.gz",
                None,
            ),
            (
                "logs/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2026/04/20/00/data/f3ae_input.json.gz",
                Some(NotALog::OffloadedBody),
            ),
            (
                "logs/AWSLogs/1/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check",
                Some(NotALog::PermissionCheck),
            ),
            ("prefix/amazon-bedrock-logs-permission-check", Some(NotALog::PermissionCheck)),
            ("exports/database.json", None),
            ("/home/me/data/bedrock/export.json", None),
        ];
        for (key, want) in cases {
            assert_eq!(not_a_log(key), want, "case {key}");
        }
    }

    #[test]
    fn hour_folders() {
        let key = "p/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/16/x.json.gz";
        assert_eq!(delivery_hour(key).map(|t| t.to_rfc3339()).as_deref(), Some("2024-11-20T16:00:00+00:00"));
        assert_eq!(delivery_hour("p/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/x.json.gz"), None);
        assert_eq!(delivery_hour("p/AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/13/20/01/x.gz"), None);
        assert_eq!(delivery_hour("other/2024/11/20/16/x.json.gz"), None);
    }
}
