//! One writer at a time for a warehouse in an object store: the lease object `_lease.json`, created with a
//! conditional PUT (`If-None-Match: *`), so of two writers starting together exactly one creates it. The other
//! learns who holds it, since when and when it was last renewed, and stops before writing anything.
//!
//! A held lease is renewed every [`LeaseTiming::renew_every`] (30 s) by a heartbeat thread, with a PUT conditional
//! on the ETag of the lease as this writer last wrote it (`If-Match`): if anyone else wrote the object in between
//! (broke the lease and took it), the renewal fails, the lease is marked lost, and the writer stops with
//! [`LeaseError::Lost`] at its next step that would make files visible ([`Lease::check`]).
//!
//! A lease is released (deleted) when its writer finishes, fails or is interrupted by an error. One left behind
//! (a writer killed outright, a lost machine) is taken over by the next writer when
//! - its holder ran on the *same host* and its process is gone, or
//! - it was not renewed for [`LeaseTiming::stale_after`] (10 minutes, twenty missed renewals), by the holder's
//!   own record of its last renewal: a hung or dead writer on another host. The taker gets a notice naming the old
//!   holder ([`Lease::notice`]). Hosts' clocks are assumed to agree to well within that time (NTP).
//!
//! Otherwise a person breaks it with `--break-lease` after making sure the holder is dead (breaking a live
//! writer's lease makes that writer stop at its next commit, see above). Every takeover is a compare-and-swap on
//! the old lease's ETag, so of two writers taking over the same stale lease one wins and the other is refused.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chrono::{DateTime, Utc};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{self, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use super::files::{Remote, io_error};

/// Name of the lease object under the warehouse root.
pub const LEASE_OBJECT: &str = "_lease.json";

/// How often a lease is renewed, and how long unrenewed before another host may take it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    pub renew_every: Duration,
    pub stale_after: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming { renew_every: Duration::from_secs(30), stale_after: Duration::from_secs(10 * 60) }
    }
}

/// Why the lease could not be taken, or was lost.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "warehouse {url} is being written by {holder} (lease taken {age_secs}s ago, last renewed {renewed_secs}s ago); \
         if that run is dead, run again with --break-lease"
    )]
    Held { url: String, holder: String, age_secs: i64, renewed_secs: i64 },
    #[error(
        "lost the writer lease of warehouse {url} to {holder}: it was broken and taken while this run wrote; \
         stopped before writing more"
    )]
    Lost { url: String, holder: String },
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
    /// Last renewal; absent in leases written before renewals existed (then `acquired_at` counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renewed_at: Option<DateTime<Utc>>,
}

impl Holder {
    fn describe(&self) -> String {
        format!("run {} (pid {} on {})", self.run, self.pid, self.host)
    }

    fn last_renewed(&self) -> DateTime<Utc> {
        self.renewed_at.unwrap_or(self.acquired_at).max(self.acquired_at)
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

// The lease records wall-clock times (its age and renewals are compared across hosts), read here at the edge.
#[allow(clippy::disallowed_methods)]
fn now() -> DateTime<Utc> {
    Utc::now()
}

/// What the heartbeat shares with the writer.
#[derive(Debug, Default)]
struct Shared {
    lost: AtomicBool,
    /// Who holds the lease now, once it is lost.
    taken_by: Mutex<Option<String>>,
}

/// A held lease, renewed in the background; dropping it stops the renewals and releases it.
#[derive(Debug)]
pub struct Lease {
    remote: Arc<Remote>,
    key: ObjectPath,
    run: String,
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
    notice: Option<String>,
}

impl Lease {
    /// Take the lease for `run` with the default [`LeaseTiming`], breaking an existing one first when
    /// `break_existing` (see the module docs).
    pub fn acquire(remote: Arc<Remote>, run: &str, break_existing: bool) -> Result<Lease, LeaseError> {
        Self::acquire_with(remote, run, break_existing, LeaseTiming::default())
    }

    /// [`Lease::acquire`] with explicit timing.
    pub fn acquire_with(
        remote: Arc<Remote>,
        run: &str,
        break_existing: bool,
        timing: LeaseTiming,
    ) -> Result<Lease, LeaseError> {
        let key = remote.prefix().clone().join(LEASE_OBJECT);
        let url = remote.url().to_string();
        let io_err = |source| LeaseError::Io { url: url.clone(), source };
        let started = now();
        let me = Holder {
            run: run.to_string(),
            host: host_name(),
            pid: std::process::id(),
            acquired_at: started,
            renewed_at: Some(started),
        };
        let body = serde_json::to_vec(&me).map_err(|e| io_err(io::Error::other(e)))?;
        let stale_after = chrono::TimeDelta::from_std(timing.stale_after).unwrap_or(chrono::TimeDelta::MAX);
        let mut notice = None;
        // First try to create it; if it exists, decide whether it may be taken over, and swap it (a PUT on its
        // ETag) so that of two takers only one wins.
        let mut mode = PutMode::Create;
        for _attempt in 0..2 {
            let options = PutOptions { mode: mode.clone(), ..PutOptions::default() };
            match remote.block_on(remote.store().put_opts(&key, PutPayload::from(body.clone()), options)) {
                Ok(put) => {
                    let Some(e_tag) = put.e_tag else {
                        return Err(io_err(io::Error::other("the object store returned no ETag for the lease")));
                    };
                    let lease = Lease::start(remote, key, run, e_tag, me, timing, notice);
                    return Ok(lease);
                }
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {}
                Err(e) => return Err(io_err(io_error(e))),
            }
            let Some((holder, e_tag)) = read_holder(&remote, &key).map_err(io_err)? else {
                // Released between our PUT and our read: create it again.
                mode = PutMode::Create;
                continue;
            };
            let now = now();
            let unrenewed = holder.as_ref().map(|h| now.signed_duration_since(h.last_renewed()));
            let dead = holder.as_ref().is_some_and(Holder::is_dead_here);
            let stale = unrenewed.is_some_and(|age| age >= stale_after);
            if !break_existing && !dead && !stale {
                return Err(held(&url, holder.as_ref(), now));
            }
            if stale && !break_existing && !dead {
                let (who, secs) = match &holder {
                    Some(h) => (h.describe(), unrenewed.map_or(0, |a| a.num_seconds())),
                    None => ("an unreadable lease".into(), 0),
                };
                notice = Some(format!(
                    "took over the writer lease of {url} from {who}, not renewed for {secs}s (a writer renews it every \
                     {}s; after {}s it counts as dead)",
                    timing.renew_every.as_secs(),
                    timing.stale_after.as_secs()
                ));
            }
            mode = PutMode::Update(UpdateVersion { e_tag: Some(e_tag), version: None });
        }
        // The swap lost: another writer took the lease in between.
        let holder = read_holder(&remote, &key).map_err(io_err)?.and_then(|(h, _)| h);
        Err(held(&url, holder.as_ref(), now()))
    }

    fn start(
        remote: Arc<Remote>,
        key: ObjectPath,
        run: &str,
        e_tag: String,
        me: Holder,
        timing: LeaseTiming,
        notice: Option<String>,
    ) -> Lease {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = mpsc::channel::<()>();
        let heartbeat = {
            let (remote, key, shared) = (remote.clone(), key.clone(), shared.clone());
            std::thread::spawn(move || renew(&remote, &key, me, e_tag, timing.renew_every, &shared, &stopped))
        };
        Lease { remote, key, run: run.to_string(), shared, stop: Some(stop), heartbeat: Some(heartbeat), notice }
    }

    /// Fails with [`LeaseError::Lost`] once a renewal found the lease taken by another writer.
    pub fn check(&self) -> Result<(), LeaseError> {
        if !self.shared.lost.load(Ordering::Acquire) {
            return Ok(());
        }
        let holder =
            self.shared.taken_by.lock().ok().and_then(|h| h.clone()).unwrap_or_else(|| "another writer".into());
        Err(LeaseError::Lost { url: self.remote.url().to_string(), holder })
    }

    /// How the lease was taken, when it was taken over from a stale holder.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
}

fn held(url: &str, holder: Option<&Holder>, now: DateTime<Utc>) -> LeaseError {
    let (holder, age_secs, renewed_secs) = match holder {
        Some(h) => (
            h.describe(),
            now.signed_duration_since(h.acquired_at).num_seconds(),
            now.signed_duration_since(h.last_renewed()).num_seconds(),
        ),
        None => ("an unreadable lease".to_string(), 0, 0),
    };
    LeaseError::Held { url: url.to_string(), holder, age_secs, renewed_secs }
}

/// The heartbeat: every `every`, rewrite the lease with a new `renewed_at`, conditional on the ETag this writer
/// last wrote. A refusal (the object was rewritten or deleted by someone else) marks the lease lost and ends the
/// heartbeat; other failures (the network) are retried at the next beat, and a lease whose renewals keep failing
/// becomes stale for others after [`LeaseTiming::stale_after`], as a dead writer's does.
fn renew(
    remote: &Remote,
    key: &ObjectPath,
    mut me: Holder,
    mut e_tag: String,
    every: Duration,
    shared: &Shared,
    stopped: &mpsc::Receiver<()>,
) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
        me.renewed_at = Some(now());
        let Ok(body) = serde_json::to_vec(&me) else { continue };
        let mode = PutMode::Update(UpdateVersion { e_tag: Some(e_tag.clone()), version: None });
        let options = PutOptions { mode, ..PutOptions::default() };
        match remote.block_on(remote.store().put_opts(key, PutPayload::from(body), options)) {
            Ok(put) => {
                if let Some(tag) = put.e_tag {
                    e_tag = tag;
                }
            }
            Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
                let taker = match read_holder(remote, key) {
                    Ok(Some((Some(h), _))) => h.describe(),
                    Ok(None) => "nobody (the lease was deleted)".to_string(),
                    _ => "another writer".to_string(),
                };
                if let Ok(mut taken_by) = shared.taken_by.lock() {
                    *taken_by = Some(taker);
                }
                shared.lost.store(true, Ordering::Release);
                return;
            }
            Err(_) => {}
        }
    }
}

/// The lease's holder (`None` when unreadable) and ETag; `None` when there is no lease.
fn read_holder(remote: &Remote, key: &ObjectPath) -> io::Result<Option<(Option<Holder>, String)>> {
    let got = remote.block_on(async {
        let result = remote.store().get(key).await?;
        let e_tag = result.meta.e_tag.clone();
        Ok::<_, object_store::Error>((result.bytes().await?, e_tag))
    });
    match got {
        Ok((bytes, Some(e_tag))) => Ok(Some((serde_json::from_slice(&bytes).ok(), e_tag))),
        Ok((_, None)) => Err(io::Error::other("the object store returned no ETag for the lease")),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(io_error(e)),
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
        // Delete it only while it is still ours (a person may have broken it and another writer taken it).
        if let Ok(Some((Some(holder), _))) = read_holder(&self.remote, &self.key)
            && holder.run == self.run
        {
            let _ = self.remote.block_on(self.remote.store().delete(&self.key));
        }
    }
}
