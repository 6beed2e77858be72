//! Owns: reading a market's capture files as one sequence of classified lines: stream
//! frames (combined-stream envelopes, kept as recorded) and bare REST depth snapshots.
//! Never: paces, parses payloads beyond the envelope, or rewrites a frame's bytes.

use std::io::BufRead;
use std::ops::Range;
use std::path::PathBuf;

use crate::feed::replay::{open_capture, split_capture_line};

use super::SimError;

/// One useful capture line.
#[derive(Debug)]
pub(crate) enum CaptureItem {
    /// A combined-stream frame `{"stream":…,"data":…}` as recorded.
    Frame(StreamFrame),
    /// A bare REST depth snapshot body.
    Snapshot { recv_ns: u64, text: String },
}

/// A recorded combined-stream frame and where its parts are.
#[derive(Debug)]
pub(crate) struct StreamFrame {
    /// Recorded receive time.
    pub recv_ns: u64,
    /// The whole envelope text.
    pub text: String,
    /// Byte range of the stream name.
    pub stream: Range<usize>,
    /// Byte range of the `data` payload.
    pub data: Range<usize>,
}

impl StreamFrame {
    /// The stream name (`btcusdt@depth@100ms`).
    pub fn stream(&self) -> &str {
        &self.text[self.stream.clone()]
    }

    /// The bare payload, as a raw `/ws/<stream>` connection receives it.
    pub fn data(&self) -> &str {
        &self.text[self.data.clone()]
    }

    /// Whether the payload is a `depthUpdate` diff.
    pub fn is_depth_diff(&self) -> bool {
        self.data().starts_with("{\"e\":\"depthUpdate\"")
    }

    /// Whether the payload is a public `trade`.
    pub fn is_trade(&self) -> bool {
        self.data().starts_with("{\"e\":\"trade\"")
    }
}

/// Finds the stream name and payload of a combined-stream envelope.
fn envelope(frame: &str) -> Option<(Range<usize>, Range<usize>)> {
    const HEAD: &str = "{\"stream\":\"";
    const DATA: &str = "\",\"data\":";
    let rest = frame.strip_prefix(HEAD)?;
    let name_end = HEAD.len() + rest.find('"')?;
    let after = &frame[name_end..];
    if !after.starts_with(DATA) || !frame.ends_with('}') {
        return None;
    }
    Some((HEAD.len()..name_end, name_end + DATA.len()..frame.len() - 1))
}

/// Classifies one capture line; `None` for lines that are neither frames nor snapshots.
pub(crate) fn classify(line: &str) -> Option<CaptureItem> {
    let (recv_ns, frame) = split_capture_line(line)?;
    if frame.starts_with("{\"lastUpdateId\"") {
        return Some(CaptureItem::Snapshot {
            recv_ns,
            text: frame.to_owned(),
        });
    }
    let (stream, data) = envelope(frame)?;
    Some(CaptureItem::Frame(StreamFrame {
        recv_ns,
        text: frame.to_owned(),
        stream,
        data,
    }))
}

/// Several capture files read as one stream of items.
pub(crate) struct CaptureLines {
    paths: Vec<PathBuf>,
    next_path: usize,
    reader: Option<Box<dyn BufRead + Send>>,
    line: String,
    skipped_lines: u64,
}

impl CaptureLines {
    /// Prepares to read `paths` in order; files are opened when reached.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            next_path: 0,
            reader: None,
            line: String::with_capacity(1 << 16),
            skipped_lines: 0,
        }
    }

    /// Lines that were neither frames nor snapshots.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// The next item, `None` after the last file.
    pub fn next_item(&mut self) -> Result<Option<CaptureItem>, SimError> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                let Some(path) = self.paths.get(self.next_path) else {
                    return Ok(None);
                };
                self.reader = Some(open_capture(path)?);
                self.next_path += 1;
                continue;
            };
            self.line.clear();
            let read =
                reader
                    .read_line(&mut self.line)
                    .map_err(|source| SimError::CaptureRead {
                        path: self.paths[self.next_path - 1].clone(),
                        source,
                    })?;
            if read == 0 {
                self.reader = None;
                continue;
            }
            match classify(&self.line) {
                Some(item) => return Ok(Some(item)),
                None => self.skipped_lines += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_snapshot_lines_are_split_without_touching_bytes() {
        let line = "17 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"p\":\"1.0\"}}\n";
        let Some(CaptureItem::Frame(frame)) = classify(line) else {
            panic!("a frame line classifies as a frame");
        };
        assert_eq!(frame.recv_ns, 17);
        assert_eq!(frame.stream(), "btcusdt@trade");
        assert_eq!(frame.data(), "{\"e\":\"trade\",\"p\":\"1.0\"}");
        assert!(matches!(
            classify("18 {\"lastUpdateId\":5,\"bids\":[],\"asks\":[]}"),
            Some(CaptureItem::Snapshot { recv_ns: 18, .. })
        ));
        assert!(classify("garbage").is_none());
        assert!(classify("19 {\"result\":null,\"id\":1}").is_none());
    }

    #[test]
    fn several_files_read_as_one_stream_and_junk_lines_are_counted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = dir.path().join("a.txt");
        let second = dir.path().join("b.txt");
        std::fs::write(&first, "1 {\"stream\":\"x@trade\",\"data\":{}}\njunk\n")
            .expect("write capture");
        std::fs::write(&second, "2 {\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}\n")
            .expect("write capture");
        let mut lines = CaptureLines::new(vec![first, second]);
        assert!(matches!(lines.next_item(), Ok(Some(CaptureItem::Frame(_)))));
        assert!(matches!(
            lines.next_item(),
            Ok(Some(CaptureItem::Snapshot { recv_ns: 2, .. }))
        ));
        assert!(matches!(lines.next_item(), Ok(None)));
        assert_eq!(lines.skipped_lines(), 1);
    }
}
