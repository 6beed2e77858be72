//! Owns: watching the files strategies load at run time (the HMM model, the calibration
//! profile) and handing each new version, parsed, to the strategy thread through a bounded
//! channel the dispatcher drains on its timer. Never: runs on a hot thread (the ops thread
//! polls it), or hands over a file that did not parse (the strategy keeps the version it
//! has, and the error is reported once per file version).

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crossbeam::channel::{Receiver, Sender, TrySendError};

use crate::strat::Reloaded;

/// Parses a file's bytes into the object strategies take.
pub type ParseFn = fn(&[u8]) -> anyhow::Result<Arc<dyn Any + Send + Sync>>;

/// One watched file.
pub struct WatchedFile {
    /// The reload key strategies match on.
    pub key: &'static str,
    pub path: PathBuf,
    pub parse: ParseFn,
}

/// The version of a file last looked at: modification time and length.
type Version = Option<(SystemTime, u64)>;

fn version_of(path: &Path) -> Version {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Polls watched files; a changed file is parsed and sent.
pub struct FileWatcher {
    files: Vec<(WatchedFile, Version)>,
    tx: Sender<Reloaded>,
    /// New versions handed over.
    pub sent: u64,
    /// Versions that failed to read or parse.
    pub failed: u64,
}

impl FileWatcher {
    /// A watcher over `files` and the channel its receiver end goes to the dispatcher
    /// (`Dispatcher::attach_reloads`).
    pub fn new(files: Vec<WatchedFile>) -> (Self, Receiver<Reloaded>) {
        let (tx, rx) = crossbeam::channel::bounded(16);
        let files = files.into_iter().map(|f| (f, None)).collect();
        (
            Self {
                files,
                tx,
                sent: 0,
                failed: 0,
            },
            rx,
        )
    }

    /// Loads every file now (start-up): the parsed versions, or the first error naming the
    /// file. Later polls send only versions newer than these.
    pub fn load_all(&mut self) -> anyhow::Result<Vec<Reloaded>> {
        let mut loaded = Vec::with_capacity(self.files.len());
        for (file, seen) in &mut self.files {
            *seen = version_of(&file.path);
            let value = read_parse(file)?;
            loaded.push(Reloaded {
                key: file.key,
                value,
            });
        }
        Ok(loaded)
    }

    /// Looks at every file once; a new version that parses is sent. Returns how many were
    /// sent. Errors are printed once per version.
    pub fn poll(&mut self) -> usize {
        let mut sent = 0;
        for (file, seen) in &mut self.files {
            let now = version_of(&file.path);
            if now.is_none() || now == *seen {
                continue;
            }
            *seen = now;
            match read_parse(file) {
                Ok(value) => {
                    let reloaded = Reloaded {
                        key: file.key,
                        value,
                    };
                    match self.tx.try_send(reloaded) {
                        Ok(()) => {
                            sent += 1;
                            self.sent += 1;
                            eprintln!(
                                "kestrel: reloaded {} from {}",
                                file.key,
                                file.path.display()
                            );
                        }
                        Err(TrySendError::Full(_)) => {
                            // The strategy thread is behind: try again on the next poll.
                            *seen = None;
                        }
                        Err(TrySendError::Disconnected(_)) => {}
                    }
                }
                Err(e) => {
                    self.failed += 1;
                    eprintln!(
                        "kestrel: {} not reloaded, keeping the current version: {e:#}",
                        file.key
                    );
                }
            }
        }
        sent
    }
}

fn read_parse(file: &WatchedFile) -> anyhow::Result<Arc<dyn Any + Send + Sync>> {
    use anyhow::Context;
    let bytes =
        std::fs::read(&file.path).with_context(|| format!("reading {}", file.path.display()))?;
    (file.parse)(&bytes).with_context(|| format!("parsing {}", file.path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_number(bytes: &[u8]) -> anyhow::Result<Arc<dyn Any + Send + Sync>> {
        let text = std::str::from_utf8(bytes)?;
        let n: u64 = text.trim().parse()?;
        Ok(Arc::new(n))
    }

    fn write(path: &Path, text: &str, secs: u64) {
        std::fs::write(path, text).expect("write");
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        file.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .expect("set mtime");
    }

    #[test]
    fn a_new_version_that_parses_is_sent_once_and_a_bad_one_is_kept_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.txt");
        write(&path, "1", 1_000);
        let (mut watcher, rx) = FileWatcher::new(vec![WatchedFile {
            key: "n",
            path: path.clone(),
            parse: parse_number,
        }]);
        let loaded = watcher.load_all().expect("loads");
        assert_eq!(loaded[0].value.downcast_ref::<u64>(), Some(&1));
        assert_eq!(watcher.poll(), 0, "unchanged since the load");
        write(&path, "2", 2_000);
        assert_eq!(watcher.poll(), 1);
        assert_eq!(watcher.poll(), 0, "sent once");
        let got = rx.try_recv().expect("sent");
        assert_eq!((got.key, got.value.downcast_ref::<u64>()), ("n", Some(&2)));
        write(&path, "not a number", 3_000);
        assert_eq!(watcher.poll(), 0);
        assert_eq!(watcher.failed, 1);
        assert!(rx.try_recv().is_err(), "a bad version is never handed over");
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(
            watcher.poll(),
            0,
            "a missing file keeps the current version"
        );
        assert!(watcher.load_all().is_err(), "but start-up needs it");
    }
}
