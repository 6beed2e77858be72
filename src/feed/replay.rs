//! Owns: replaying a recorded capture file (`<recv_ns> <raw frame>` per line, plain or gzip,
//! the format of hftbacktest's collector and of the bundled `data/` captures) as raw frames
//! at the recorded pace, a multiple of it, or as fast as possible. Never: decodes venue JSON
//! (venue decoders do that) or allocates per line after the first long line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::core::MarketEvent;
use crate::engine::stage::{FrameSink, MarketSource, Outbox, SourceState};

/// The `[replay]` section.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// Capture file; relative paths are taken from the working directory.
    pub path: PathBuf,
    /// Multiple of the recorded pace (1.0 = as recorded).
    #[serde(default = "default_speed")]
    pub speed: f64,
    /// Ignore the recorded pace and replay as fast as the engine takes it.
    #[serde(default)]
    pub as_fast_as_possible: bool,
    /// Name of the stream in the journal's capture records (e.g. `binance-spot`).
    #[serde(default = "default_stream")]
    pub stream: String,
}

fn default_stream() -> String {
    "replay".to_owned()
}

fn default_speed() -> f64 {
    1.0
}

/// Why a capture could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot open capture {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Opens a capture file as buffered lines, gunzipping it when its name ends in `.gz`.
pub fn open_capture(path: &Path) -> Result<Box<dyn BufRead + Send>, ReplayError> {
    let file = File::open(path).map_err(|source| ReplayError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let raw: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, raw)))
}

/// Splits a capture line into its recorded receive stamp (ns) and frame text.
pub fn split_capture_line(line: &str) -> Option<(u64, &str)> {
    let line = line.trim_end_matches(['\n', '\r']);
    let (stamp, frame) = line.split_once(' ')?;
    Some((stamp.parse().ok()?, frame))
}

/// Lines read per poll, so one poll never holds the feed thread for long.
const LINES_PER_POLL: usize = 64;

/// A capture file replayed as raw frames.
pub struct CaptureReplay {
    reader: Box<dyn BufRead + Send>,
    line: String,
    speed: f64,
    as_fast_as_possible: bool,
    /// Tag of this source's frames: index 0 of the engine's stream names (one replay per run).
    stream_tag: u16,
    /// Recorded stamp of the first frame and the engine time it was replayed at.
    origin: Option<(u64, u64)>,
    /// A frame read but not yet due.
    waiting: bool,
    malformed_lines: u64,
    frames: u64,
    finished: bool,
}

impl CaptureReplay {
    /// Opens `config.path` (gzip when the name ends in `.gz`).
    pub fn open(config: &ReplayConfig) -> Result<Self, ReplayError> {
        Ok(Self {
            reader: open_capture(&config.path)?,
            line: String::with_capacity(1 << 16),
            speed: config.speed,
            as_fast_as_possible: config.as_fast_as_possible,
            stream_tag: 0,
            origin: None,
            waiting: false,
            malformed_lines: 0,
            frames: 0,
            finished: false,
        })
    }

    /// Lines that were not `<integer> <frame>` and were skipped.
    pub fn malformed_lines(&self) -> u64 {
        self.malformed_lines
    }

    /// Frames replayed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Splits the current line into its recorded stamp and frame text.
    fn current(&self) -> Option<(u64, &str)> {
        split_capture_line(&self.line)
    }

    /// True when the frame recorded at `recorded_ns` is due at engine time `now_ns`.
    fn due(&mut self, recorded_ns: u64, now_ns: u64) -> bool {
        if self.as_fast_as_possible {
            return true;
        }
        let (first_recorded, first_now) = *self.origin.get_or_insert((recorded_ns, now_ns));
        let offset = recorded_ns.saturating_sub(first_recorded) as f64 / self.speed;
        now_ns.saturating_sub(first_now) as f64 >= offset
    }
}

impl MarketSource for CaptureReplay {
    fn poll(
        &mut self,
        now_ns: u64,
        _events: &mut Outbox<MarketEvent>,
        frames: &mut dyn FrameSink,
    ) -> SourceState {
        if self.finished {
            return SourceState::Finished;
        }
        let mut produced = false;
        for _ in 0..LINES_PER_POLL {
            if !self.waiting {
                self.line.clear();
                match self.reader.read_line(&mut self.line) {
                    Ok(0) | Err(_) => {
                        // A read error on a local file ends the replay like its end does.
                        self.finished = true;
                        break;
                    }
                    Ok(_) => {}
                }
            }
            let Some((recorded_ns, _)) = self.current() else {
                self.malformed_lines += 1;
                self.waiting = false;
                continue;
            };
            if !self.due(recorded_ns, now_ns) {
                self.waiting = true;
                break;
            }
            self.waiting = false;
            if let Some((_, frame)) = self.current() {
                frames.capture(self.stream_tag, now_ns, frame.as_bytes());
                self.frames += 1;
                produced = true;
            }
        }
        match (produced, self.finished) {
            (true, _) => SourceState::Active,
            (false, true) => SourceState::Finished,
            (false, false) => SourceState::Idle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct Collect(Vec<(u16, Vec<u8>)>);
    impl FrameSink for Collect {
        fn capture(&mut self, tag: u16, _recv_ns: u64, frame: &[u8]) -> bool {
            self.0.push((tag, frame.to_vec()));
            true
        }
    }

    #[test]
    fn replays_lines_in_order_and_skips_malformed_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cap.txt");
        let mut f = File::create(&path).expect("create capture");
        writeln!(f, "100 {{\"a\":1}}").expect("write");
        writeln!(f, "garbage").expect("write");
        writeln!(f, "200 {{\"a\":2}}").expect("write");
        drop(f);
        let cfg = ReplayConfig {
            path,
            speed: 1.0,
            as_fast_as_possible: true,
            stream: "test".to_owned(),
        };
        let mut replay = CaptureReplay::open(&cfg).expect("open");
        let mut events = Outbox::with_capacity(4);
        let mut sink = Collect(Vec::new());
        while replay.poll(0, &mut events, &mut sink) != SourceState::Finished {}
        assert_eq!(
            sink.0,
            vec![(0, b"{\"a\":1}".to_vec()), (0, b"{\"a\":2}".to_vec())]
        );
        assert_eq!(replay.malformed_lines(), 1);
    }

    #[test]
    fn recorded_pace_holds_frames_until_due() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cap.txt");
        std::fs::write(&path, "1000 x\n3000 y\n").expect("write capture");
        let cfg = ReplayConfig {
            path,
            speed: 2.0,
            as_fast_as_possible: false,
            stream: "test".to_owned(),
        };
        let mut replay = CaptureReplay::open(&cfg).expect("open");
        let mut events = Outbox::with_capacity(4);
        let mut sink = Collect(Vec::new());
        assert_eq!(replay.poll(10, &mut events, &mut sink), SourceState::Active);
        assert_eq!(sink.0.len(), 1);
        // 2000 ns recorded at 2× speed is due 1000 ns after the first frame.
        assert_eq!(replay.poll(500, &mut events, &mut sink), SourceState::Idle);
        assert_eq!(
            replay.poll(1010, &mut events, &mut sink),
            SourceState::Active
        );
        assert_eq!(sink.0.len(), 2);
        assert_eq!(
            replay.poll(2000, &mut events, &mut sink),
            SourceState::Finished
        );
    }
}
