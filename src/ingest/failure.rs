//! Why a source could not be read, as a value: the source's identity, what kind of failure it was, and what was
//! said about it. A failed source is not recorded as done, so the next run reads it again; whatever decides from
//! failures (the CloudWatch watermark, the exit code, a scheduler reading `--json`) compares ids and kinds, never
//! message text.

use std::fmt;
use std::io;

/// What kind of failure ended a source: decides what a person (or a retry policy) should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The network or the service failed (a reset connection, a timeout, a 5xx or throttling after the SDK's
    /// retries): running again is likely to work.
    Transport,
    /// The caller may not read it (an IAM action it lacks, a file it may not open): running again will not help
    /// until the permission is granted.
    AccessDenied,
    /// It is not there (an object deleted after it was listed, a log group that does not exist).
    NotFound,
    /// The bytes cannot be read as what they claim to be.
    CorruptInput,
    /// This program failed (a broken invariant, such as a batch that would not build).
    Internal,
}

impl FailureKind {
    /// The name used in `--json` output: stable, snake case.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transport => "transport",
            FailureKind::AccessDenied => "access_denied",
            FailureKind::NotFound => "not_found",
            FailureKind::CorruptInput => "corrupt_input",
            FailureKind::Internal => "internal",
        }
    }

    /// Classify an I/O error kind. Source readers turn AWS errors into I/O errors whose kind carries the SDK's
    /// verdict ([`crate::aws::io_error`]: access denied becomes `PermissionDenied`, a missing resource
    /// `NotFound`), so this one mapping serves local files, S3 and CloudWatch alike.
    pub fn from_io(kind: io::ErrorKind) -> FailureKind {
        match kind {
            io::ErrorKind::PermissionDenied => FailureKind::AccessDenied,
            io::ErrorKind::NotFound => FailureKind::NotFound,
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput => {
                FailureKind::CorruptInput
            }
            _ => FailureKind::Transport,
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Transport => "transport error",
            FailureKind::AccessDenied => "access denied",
            FailureKind::NotFound => "not found",
            FailureKind::CorruptInput => "corrupt input",
            FailureKind::Internal => "internal error",
        })
    }
}

/// One source that could not be read; it was not recorded as done and is retried by the next run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// The source's id ([`super::sources::SourceObject::id`]): the same id the manifest, the rejects and the
    /// CloudWatch checkpoint use.
    pub source_id: String,
    /// What kind of failure it was.
    pub kind: FailureKind,
    /// What went wrong, for people (it does not repeat the id).
    pub message: String,
}

impl fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.source_id, self.message, self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_classify() {
        let cases = [
            (io::ErrorKind::PermissionDenied, FailureKind::AccessDenied),
            (io::ErrorKind::NotFound, FailureKind::NotFound),
            (io::ErrorKind::InvalidData, FailureKind::CorruptInput),
            (io::ErrorKind::UnexpectedEof, FailureKind::CorruptInput),
            (io::ErrorKind::ConnectionReset, FailureKind::Transport),
            (io::ErrorKind::TimedOut, FailureKind::Transport),
            (io::ErrorKind::Other, FailureKind::Transport),
        ];
        for (io_kind, want) in cases {
            assert_eq!(FailureKind::from_io(io_kind), want, "case {io_kind:?}");
        }
    }
}
