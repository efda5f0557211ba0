//! One writer at a time for a warehouse in an object store: the lease object `_lease.json`, created with a
//! conditional PUT (`If-None-Match: *`), so of two writers starting together exactly one creates it. The other
//! learns who holds it and since when, and stops before writing anything.
//!
//! A lease is released (deleted) when its writer finishes, fails or is interrupted by an error. A writer killed
//! outright (SIGKILL, a lost machine) leaves its lease behind: the next writer on the *same host* sees that the
//! holder's process is gone and takes the lease over; on another host a person breaks it with `--break-lease`
//! after making sure the holder is dead (breaking a live writer's lease lets two writers run; the warehouse's
//! dedupe keeps rows unique, but their compactions could race).

use std::io;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{self, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::files::{Remote, io_error};

/// Name of the lease object under the warehouse root.
pub const LEASE_OBJECT: &str = "_lease.json";

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "warehouse {url} is being written by {holder} (lease taken {age_secs}s ago); if that run is dead, run again \
         with --break-lease"
    )]
    Held { url: String, holder: String, age_secs: i64 },
    #[error("cannot take the writer lease {url}/{LEASE_OBJECT}")]
    Io { url: String, source: io::Error },
}

/// What the lease object says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Holder {
    run: String,
    host: String,
    pid: u32,
    acquired_at: DateTime<Utc>,
}

impl Holder {
    fn describe(&self) -> String {
        format!("run {} (pid {} on {})", self.run, self.pid, self.host)
    }

    /// Is this holder a process of this host that no longer runs?
    fn is_dead_here(&self) -> bool {
        self.host == host_name() && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// A held lease; dropping it releases it.
#[derive(Debug)]
pub struct Lease {
    remote: Arc<Remote>,
    key: ObjectPath,
    run: String,
}

impl Lease {
    /// Take the lease for `run`, breaking an existing one first when `break_existing` (see the module docs).
    pub fn acquire(remote: Arc<Remote>, run: &str, break_existing: bool) -> Result<Lease, LeaseError> {
        let key = remote.prefix().clone().join(LEASE_OBJECT);
        let url = remote.url().to_string();
        let io_err = |source| LeaseError::Io { url: url.clone(), source };
        // Clock read for the lease's own record only (its age in a refusal), as the run id's is.
        #[allow(clippy::disallowed_methods)]
        let now = Utc::now();
        let me = Holder { run: run.to_string(), host: host_name(), pid: std::process::id(), acquired_at: now };
        let body = serde_json::to_vec(&me).map_err(|e| io_err(io::Error::other(e)))?;
        let mut broke = false;
        loop {
            let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            let put = remote.block_on(remote.store().put_opts(&key, PutPayload::from(body.clone()), options));
            match put {
                Ok(_) => return Ok(Lease { remote, key, run: run.to_string() }),
                Err(object_store::Error::AlreadyExists { .. }) if !broke => {
                    let holder = read_holder(&remote, &key).map_err(io_err)?;
                    let dead = holder.as_ref().is_some_and(Holder::is_dead_here);
                    if !break_existing && !dead {
                        let (holder, age_secs) = match holder {
                            Some(h) => (h.describe(), now.signed_duration_since(h.acquired_at).num_seconds()),
                            None => ("an unreadable lease".to_string(), 0),
                        };
                        return Err(LeaseError::Held { url, holder, age_secs });
                    }
                    remote.block_on(remote.store().delete(&key)).map_err(|e| io_err(io_error(e)))?;
                    broke = true;
                }
                Err(object_store::Error::AlreadyExists { .. }) => {
                    // Another writer took it between our delete and our PUT: it won.
                    let holder = read_holder(&remote, &key).map_err(io_err)?;
                    let (holder, age_secs) = match holder {
                        Some(h) => (h.describe(), now.signed_duration_since(h.acquired_at).num_seconds()),
                        None => ("another writer".to_string(), 0),
                    };
                    return Err(LeaseError::Held { url, holder, age_secs });
                }
                Err(e) => return Err(io_err(io_error(e))),
            }
        }
    }
}

fn read_holder(remote: &Remote, key: &ObjectPath) -> io::Result<Option<Holder>> {
    let bytes = remote.block_on(async { remote.store().get(key).await?.bytes().await });
    match bytes {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(io_error(e)),
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Delete it only while it is still ours (a person may have broken it and another writer taken it).
        if let Ok(Some(holder)) = read_holder(&self.remote, &self.key)
            && holder.run == self.run
        {
            let _ = self.remote.block_on(self.remote.store().delete(&self.key));
        }
    }
}
