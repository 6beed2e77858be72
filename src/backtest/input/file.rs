//! Owns: opening one recorded file for reading — large buffers, gunzip by name (`.gz`), and
//! a count of the file bytes read so far (compressed bytes for gzip) for the progress bar.
//! Never: interprets the content.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;

/// Read buffer of every input file (decompressed side) and of the gzip reader's input.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// Bytes of a file read so far, shared with the reader that counts them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadBytes(Arc<AtomicU64>);

impl ReadBytes {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts the bytes `inner` hands out.
struct Counting<R> {
    inner: R,
    read: ReadBytes,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened file: its lines, its size and the bytes read so far.
pub(crate) struct OpenedFile {
    pub(crate) reader: Box<dyn BufRead + Send>,
    pub(crate) read: ReadBytes,
    pub(crate) size: u64,
}

/// Opens `path` for buffered reading, through gunzip when its name ends in `.gz`
/// (concatenated gzip members are read as one stream; a cut-off member is a read error).
pub(crate) fn open_file(path: &Path) -> anyhow::Result<OpenedFile> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    let read = ReadBytes::default();
    let counted = Counting {
        inner: file,
        read: read.clone(),
    };
    let raw: Box<dyn Read + Send> = if is_gzip(path) {
        let buffered = BufReader::with_capacity(READ_BUFFER_BYTES, counted);
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else {
        Box::new(counted)
    };
    Ok(OpenedFile {
        reader: Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, raw)),
        read,
        size,
    })
}

/// True when the file name ends in `.gz`.
pub(crate) fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The file name as text (empty when it has none or is not UTF-8).
pub(crate) fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// Strips a trailing `\n` / `\r\n`.
pub(crate) fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
