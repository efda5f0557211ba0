//! Where the warehouse's files live: a local directory, or an object store prefix (`s3://BUCKET/PREFIX`).
//!
//! [`Files`] is the one seam between the warehouse's logic ([`super::warehouse`]) and its storage. The warehouse
//! names every file by a path under its root; for a local warehouse that path *is* the file, and every operation is
//! the `std::fs` call it always was (the ingest hot path is unchanged). For a remote warehouse the root is a local
//! *staging* directory: Parquet and rejects files are written there exactly as for a local warehouse, and
//! [`Files::upload`] sends a finished file to the object at the same relative key. Everything else (listing,
//! reading, small atomic writes, renames, deletes) goes to the object store.
//!
//! What an object store changes, and why the warehouse's guarantees still hold:
//! - a PUT is atomic (an object appears whole or not at all), so a file needs no temporary name to be published;
//! - a rename is a copy then a delete: every rename the warehouse does is repeatable (roll-forward checks what
//!   exists), so a crash between the two halves is finished by the next writer;
//! - there is no directory to fsync and no `flock`: a lease object taken with a conditional PUT
//!   (see [`super::lease`]) keeps one writer at a time.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{self, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};
use futures::TryStreamExt;

use super::parquet::sync_dir;

/// Files at or below this size are uploaded with one PUT; larger ones in parts of [`PART_BYTES`].
const SINGLE_PUT_BYTES: u64 = 32 << 20;
/// Part size of a multipart upload (S3 wants at least 5 MiB a part).
const PART_BYTES: usize = 16 << 20;

/// A warehouse in an object store: the store, the key prefix of the warehouse root, and the local directory where
/// files are written before they are uploaded (removed when the last handle goes).
#[derive(Debug)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix`, for messages.
    url: String,
    /// Key of the warehouse root (empty for a whole bucket).
    prefix: ObjectPath,
    staging: PathBuf,
    handle: tokio::runtime::Handle,
}

impl Remote {
    /// A warehouse at `prefix` of `store` (whose URL is `url`), run on `handle`. Creates a fresh staging directory.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        url: &str,
        prefix: &str,
        handle: tokio::runtime::Handle,
    ) -> io::Result<Remote> {
        let staging = std::env::temp_dir().join(format!(
            "bedrock-spend-staging-{}-{:08x}",
            std::process::id(),
            xxhash_rust::xxh3::xxh3_64(format!("{url}{:?}", std::time::Instant::now()).as_bytes()) as u32
        ));
        fs::create_dir_all(&staging)?;
        Ok(Remote {
            store,
            url: url.trim_end_matches('/').to_string(),
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            staging,
            handle,
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Key of the warehouse root.
    pub fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }

    /// Run an object-store call to completion from synchronous code (the warehouse is driven from plain threads).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Only unpublished temporary files are here; the next run starts a fresh directory anyway.
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// An object-store error as an I/O error of the same meaning (missing stays `NotFound`, so callers that tolerate a
/// missing file work unchanged).
pub fn io_error(e: object_store::Error) -> io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            io::ErrorKind::AlreadyExists
        }
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
            io::ErrorKind::PermissionDenied
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// The warehouse's files: local, or remote through a staging directory (see the module docs).
#[derive(Debug, Clone)]
pub struct Files {
    root: PathBuf,
    remote: Option<Arc<Remote>>,
}

impl Files {
    /// A local warehouse at `root`.
    pub fn local(root: &Path) -> Files {
        Files { root: root.to_path_buf(), remote: None }
    }

    /// A remote warehouse; its paths are under the staging directory.
    pub fn remote(remote: Arc<Remote>) -> Files {
        Files { root: remote.staging.clone(), remote: Some(remote) }
    }

    /// The root every path is under (the staging directory of a remote warehouse).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The object store, when remote.
    pub fn remote_store(&self) -> Option<&Arc<Remote>> {
        self.remote.as_ref()
    }

    /// How a path is shown to people: itself, or its `s3://` URL.
    pub fn display(&self, path: &Path) -> PathBuf {
        match &self.remote {
            None => path.to_path_buf(),
            Some(r) => match path.strip_prefix(&self.root) {
                Ok(rel) => PathBuf::from(format!("{}/{}", r.url, rel.display())),
                Err(_) => path.to_path_buf(),
            },
        }
    }

    /// The object key of a path under the root.
    fn key(&self, remote: &Remote, path: &Path) -> io::Result<ObjectPath> {
        let rel = path
            .strip_prefix(&self.root)
            .map_err(|_| io::Error::other(format!("{} is outside the warehouse", path.display())))?;
        let mut key = remote.prefix.clone();
        for part in rel.components() {
            let part = part.as_os_str().to_str().ok_or_else(|| io::Error::other("a path that is not UTF-8"))?;
            key = key.join(part);
        }
        Ok(key)
    }

    /// The path under the root of an object key below the prefix.
    fn path_of(&self, remote: &Remote, key: &ObjectPath) -> Option<PathBuf> {
        let parts = key.prefix_match(&remote.prefix)?;
        let mut path = self.root.clone();
        for part in parts {
            path.push(part.as_ref());
        }
        Some(path)
    }

    /// Make a directory (locally; in a remote warehouse, its staging twin, where files are written first).
    pub fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    /// The files directly in a directory; none when it does not exist.
    pub fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let Some(remote) = &self.remote else { return list_local(dir, false) };
        let key = self.key(remote, dir)?;
        let listed = remote.block_on(remote.store.list_with_delimiter(Some(&key))).map_err(io_error)?;
        Ok(listed.objects.iter().filter_map(|m| self.path_of(remote, &m.location)).collect())
    }

    /// The directories directly in a directory; none when it does not exist.
    pub fn list_dirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let Some(remote) = &self.remote else { return list_local(dir, true) };
        let key = self.key(remote, dir)?;
        let listed = remote.block_on(remote.store.list_with_delimiter(Some(&key))).map_err(io_error)?;
        Ok(listed.common_prefixes.iter().filter_map(|p| self.path_of(remote, p)).collect())
    }

    /// A whole file.
    pub fn read(&self, path: &Path) -> io::Result<Bytes> {
        let Some(remote) = &self.remote else { return fs::read(path).map(Bytes::from) };
        let key = self.key(remote, path)?;
        remote.block_on(async { remote.store.get(&key).await?.bytes().await }).map_err(io_error)
    }

    /// A file to read from the start.
    pub fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        match &self.remote {
            None => Ok(Box::new(File::open(path)?)),
            Some(_) => Ok(Box::new(io::Cursor::new(self.read(path)?))),
        }
    }

    /// Does the file exist?
    pub fn exists(&self, path: &Path) -> io::Result<bool> {
        let Some(remote) = &self.remote else { return Ok(path.exists()) };
        let key = self.key(remote, path)?;
        match remote.block_on(remote.store.head(&key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }

    /// When the file was last written.
    pub fn modified(&self, path: &Path) -> io::Result<DateTime<Utc>> {
        let Some(remote) = &self.remote else { return Ok(DateTime::<Utc>::from(fs::metadata(path)?.modified()?)) };
        let key = self.key(remote, path)?;
        Ok(remote.block_on(remote.store.head(&key)).map_err(io_error)?.last_modified)
    }

    /// Write a small file atomically (a temporary name and a rename locally; one PUT remotely).
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let Some(remote) = &self.remote else { return super::parquet::write_file_atomic(path, bytes) };
        let key = self.key(remote, path)?;
        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
        remote.block_on(remote.store.put(&key, payload)).map(|_| ()).map_err(io_error)
    }

    /// Rename a file (remotely: copy, then delete the original; repeatable after a crash between the two).
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let Some(remote) = &self.remote else { return fs::rename(from, to) };
        let (from, to) = (self.key(remote, from)?, self.key(remote, to)?);
        remote
            .block_on(async {
                remote.store.copy(&from, &to).await?;
                remote.store.delete(&from).await
            })
            .map_err(io_error)
    }

    /// Remove a file; a missing one is not an error.
    pub fn remove_if_present(&self, path: &Path) -> io::Result<()> {
        let result = match &self.remote {
            None => fs::remove_file(path),
            Some(remote) => {
                let key = self.key(remote, path)?;
                remote.block_on(remote.store.delete(&key)).map_err(io_error)
            }
        };
        match result {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Make the renames in a directory durable (an object store has no directory to sync).
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.remote.is_some() { Ok(()) } else { sync_dir(Some(dir)) }
    }

    /// Publish a finished local file `tmp` as `dest`: a rename (made durable) locally; an upload of `tmp` to
    /// `dest`'s key remotely, after which the local file is removed.
    pub fn upload(&self, tmp: &Path, dest: &Path) -> io::Result<()> {
        let Some(remote) = &self.remote else {
            fs::rename(tmp, dest)?;
            return sync_dir(dest.parent());
        };
        let key = self.key(remote, dest)?;
        let size = fs::metadata(tmp)?.len();
        if size <= SINGLE_PUT_BYTES {
            let payload = PutPayload::from(Bytes::from(fs::read(tmp)?));
            remote.block_on(remote.store.put(&key, payload)).map_err(io_error)?;
        } else {
            let file = File::open(tmp)?;
            remote.block_on(upload_parts(remote.store.as_ref(), &key, file))?;
        }
        fs::remove_file(tmp)
    }

    /// The objects below a directory, recursively (remote only; used to sweep temporary objects).
    pub fn list_recursive(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let Some(remote) = &self.remote else { return Ok(Vec::new()) };
        let key = self.key(remote, dir)?;
        let listed: Vec<_> = remote.block_on(remote.store.list(Some(&key)).try_collect()).map_err(io_error)?;
        Ok(listed.iter().filter_map(|m: &object_store::ObjectMeta| self.path_of(remote, &m.location)).collect())
    }
}

/// Parts uploaded at once by [`upload_parts`].
const PARTS_IN_FLIGHT: usize = 4;

/// Upload `file` to `key` as a multipart upload of [`PART_BYTES`] parts, [`PARTS_IN_FLIGHT`] at a time. If any
/// part, or the completion, fails, the upload is aborted: S3 keeps (and bills) the parts of an upload neither
/// completed nor aborted until a lifecycle rule removes them.
async fn upload_parts(store: &dyn ObjectStore, key: &ObjectPath, file: File) -> io::Result<()> {
    let upload = store.put_multipart(key).await.map_err(io_error)?;
    send_parts(upload, file, PART_BYTES).await
}

/// Send `reader` through `upload` in parts of `part_bytes`, then complete it; abort it on any failure.
async fn send_parts(mut upload: Box<dyn MultipartUpload>, mut reader: impl Read, part_bytes: usize) -> io::Result<()> {
    use futures::stream::{FuturesUnordered, StreamExt};
    let sent: io::Result<()> = async {
        let mut in_flight: FuturesUnordered<object_store::UploadPart> = FuturesUnordered::new();
        loop {
            let mut part = Vec::with_capacity(part_bytes);
            (&mut reader).take(part_bytes as u64).read_to_end(&mut part)?;
            if part.is_empty() {
                break;
            }
            if in_flight.len() >= PARTS_IN_FLIGHT
                && let Some(done) = in_flight.next().await
            {
                done.map_err(io_error)?;
            }
            in_flight.push(upload.put_part(PutPayload::from(part)));
        }
        while let Some(done) = in_flight.next().await {
            done.map_err(io_error)?;
        }
        upload.complete().await.map(|_| ()).map_err(io_error)
    }
    .await;
    if sent.is_err() {
        // The upload's error is what is reported; an abort that fails too leaves the parts to the lifecycle rule.
        let _ = upload.abort().await;
    }
    sent
}

fn list_local(dir: &Path, dirs: bool) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if (dirs && kind.is_dir()) || (!dirs && kind.is_file()) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A multipart upload that fails the part numbered `fail_part` (from 1) and records what happened to it.
    #[derive(Debug)]
    struct Recorded {
        fail_part: Option<usize>,
        parts: usize,
        log: Arc<Mutex<Vec<String>>>,
    }

    #[async_trait::async_trait]
    impl MultipartUpload for Recorded {
        fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
            self.parts += 1;
            let (n, fail, log) = (self.parts, self.fail_part == Some(self.parts), self.log.clone());
            Box::pin(async move {
                log.lock().unwrap().push(format!("part {n} of {} bytes", data.content_length()));
                if fail {
                    Err(object_store::Error::Generic { store: "test", source: "part refused".into() })
                } else {
                    Ok(())
                }
            })
        }
        async fn complete(&mut self) -> object_store::Result<object_store::PutResult> {
            self.log.lock().unwrap().push("complete".into());
            Ok(object_store::PutResult { e_tag: None, version: None })
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            self.log.lock().unwrap().push("abort".into());
            Ok(())
        }
    }

    /// A reader that fails after `ok` bytes.
    struct BreaksAfter {
        ok: usize,
    }

    impl Read for BreaksAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.ok);
            buf[..n].fill(7);
            self.ok -= n;
            Ok(n)
        }
    }

    fn send(fail_part: Option<usize>, reader: impl Read) -> (io::Result<()>, Vec<String>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let upload = Box::new(Recorded { fail_part, parts: 0, log: log.clone() });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let result = rt.block_on(send_parts(upload, reader, 10));
        let log = log.lock().unwrap().clone();
        (result, log)
    }

    #[test]
    fn a_failed_multipart_upload_is_aborted_not_left_billing() {
        // 25 bytes in parts of 10: three parts, then complete.
        let (ok, log) = send(None, &[1u8; 25][..]);
        assert!(ok.is_ok());
        assert_eq!(log.iter().filter(|l| l.starts_with("part")).count(), 3, "{log:?}");
        assert!(log.contains(&"part 3 of 5 bytes".to_string()), "{log:?}");
        assert_eq!(log.last().map(String::as_str), Some("complete"));

        let (failed, log) = send(Some(2), &[1u8; 25][..]);
        assert!(failed.is_err(), "a refused part fails the upload");
        assert_eq!(log.last().map(String::as_str), Some("abort"), "{log:?}");
        assert!(!log.contains(&"complete".to_string()), "{log:?}");

        let (failed, log) = send(None, BreaksAfter { ok: 15 });
        assert_eq!(failed.unwrap_err().to_string(), "disk gone", "the local read's error is reported");
        assert_eq!(log.last().map(String::as_str), Some("abort"), "{log:?}");
        assert!(!log.contains(&"complete".to_string()), "{log:?}");
    }
}
