//! A user's output file (`-o PATH`, `--eml PATH`, a rewritten price book), written whole or not at all.
//!
//! A regular file is written beside its final name and renamed over it once complete, so a failed run never
//! leaves a partial file where a scheduler would pick it up. A path that names something else that already
//! exists (`/dev/null`, `/dev/stdout`, a named pipe) is written in place: renaming over it would replace the
//! device with a regular file (run as root, `-o /dev/null` once turned the machine's `/dev/null` into a file).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// An output being written: [`Pending::commit`] publishes it, dropping it unpublished removes the partial file.
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
    /// The temporary file beside `path`; `None` when writing in place.
    tmp: Option<PathBuf>,
}

/// Open `path` for writing whole: the file to write into, and the handle that publishes it.
pub fn create(path: &Path) -> io::Result<(File, Pending)> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        return Ok((file, Pending { path: path.to_path_buf(), tmp: None }));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".tmp-{}-{name}", std::process::id()));
    let file = File::create(&tmp)?;
    Ok((file, Pending { path: path.to_path_buf(), tmp: Some(tmp) }))
}

impl Pending {
    /// Publish the finished file under its name (call after the writer is flushed and closed).
    pub fn commit(mut self) -> io::Result<()> {
        match self.tmp.take() {
            Some(tmp) => std::fs::rename(&tmp, &self.path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Write `bytes` to `path` whole or not at all.
pub fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (mut file, pending) = create(path)?;
    io::Write::write_all(&mut file, bytes)?;
    drop(file);
    pending.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_appears_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("bedrock-spend-output-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        write_whole(&path, b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n");
        let (file, pending) = create(&path).unwrap();
        drop(file);
        drop(pending);
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n", "an abandoned rewrite leaves the old file");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "and no temporary file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pipe_is_written_in_place_not_replaced() {
        // A named pipe stands for /dev/null and /dev/stdout: replacing one with a regular file is the bug guarded.
        let dir = std::env::temp_dir().join(format!("bedrock-spend-output-pipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pipe = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status().unwrap();
        assert!(made.success());
        let reader = {
            let pipe = pipe.clone();
            std::thread::spawn(move || std::fs::read(pipe).unwrap())
        };
        write_whole(&pipe, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&pipe).unwrap().file_type().is_fifo(), "still a pipe, not a regular file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
