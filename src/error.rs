//! The crate error, gathering each module's errors, the exit code a scheduler sees, and how an error and its causes
//! read as one line.

use std::process::ExitCode;

/// Every error a command can end with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ingest(#[from] crate::ingest::Error),
    #[error(transparent)]
    Warehouse(#[from] crate::store::warehouse::Error),
    #[error(transparent)]
    List(#[from] crate::ingest::sources::local::ListError),
    #[error(transparent)]
    Plan(#[from] crate::ingest::plan::Error),
    #[error(transparent)]
    Query(#[from] crate::query::Error),
    #[error(transparent)]
    Ddl(#[from] crate::ddl::Error),
    #[error(transparent)]
    Generate(#[from] crate::generate::Error),
    #[error(transparent)]
    Pricing(#[from] crate::pricing::Error),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    S3(#[from] crate::ingest::sources::s3::Error),
}

/// An error and its causes as one line, `outer: cause: innermost cause`, each cause said once. Some errors print
/// their source inside their own message and return it from `source()` too (object_store's S3 errors wrap the
/// request's "... after N retries ... - HTTP error: ..." three levels deep), so printing every level repeats it; a
/// level whose text the line already holds adds nothing and is left out. Nothing is lost: what is left out is, by
/// that test, already printed.
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    for level in std::iter::successors(Some(err), |e| e.source()) {
        let text = level.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// How a command ended, for the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything succeeded (duplicates skipped count as success).
    Ok,
    /// The command finished but some items failed (records rejected, objects unreadable).
    Partial,
}

impl Outcome {
    /// 0 for success, 1 for a partial success.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Partial => ExitCode::from(1),
        }
    }
}

impl Error {
    /// Fatal errors exit with 2.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A level that prints its source inside its own message and returns it from `source()` too.
    #[derive(Debug)]
    struct Wraps(&'static str, Option<Box<Wraps>>);

    impl std::fmt::Display for Wraps {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match (&self.1, self.0.contains("{}")) {
                (Some(inner), true) => write!(f, "{}", self.0.replace("{}", &inner.to_string())),
                _ => write!(f, "{}", self.0),
            }
        }
    }

    impl std::error::Error for Wraps {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn chain(levels: &[&'static str]) -> Wraps {
        let mut err: Option<Box<Wraps>> = None;
        for text in levels.iter().rev() {
            err = Some(Box::new(Wraps(text, err)));
        }
        *err.unwrap()
    }

    #[test]
    fn each_cause_is_said_once() {
        // The shape of an object_store error on an S3 warehouse read, under our own context.
        let err = chain(&[
            "cannot register the invocations table at s3://bucket/prefix",
            "Object Store error: {}",
            "Generic S3 error: {}",
            "Error performing HEAD http://127.0.0.1:9/bucket/prefix/_warehouse.json in 1s, after 2 retries - {}",
            "HTTP error: {}",
            "error sending request",
            "client error (Connect)",
            "Connection refused (os error 111)",
        ]);
        let text = chain_text(&err);
        assert_eq!(
            text,
            "cannot register the invocations table at s3://bucket/prefix: Object Store error: Generic S3 error: Error \
             performing HEAD http://127.0.0.1:9/bucket/prefix/_warehouse.json in 1s, after 2 retries - HTTP error: error \
             sending request: client error (Connect): Connection refused (os error 111)"
        );
        assert_eq!(text.matches("after 2 retries").count(), 1);
        // Causes that do not repeat are all kept, in order.
        let plain = chain(&["reading config ./x.toml", "permission denied"]);
        assert_eq!(chain_text(&plain), "reading config ./x.toml: permission denied");
    }
}
