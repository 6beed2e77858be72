//! Owns: one WebSocket connection's socket and its phase machine (non-blocking TCP connect →
//! lazy TLS inside the WS handshake → open), draining reads, pongs and flushes. Never: decides
//! when to reconnect, reads the policy clock or retries on its own.
//!
//! Allocation: tungstenite reads frames into one `BytesMut` (`read_buffer_bytes`) and hands out
//! each payload as a `Bytes` split off that buffer, which the buffer reclaims once the payload is
//! dropped (the callback only borrows it), so steady-state unfragmented frames do not allocate
//! over ws:// (`tests/feed_ws_alloc.rs`). Over wss://, rustls' buffered `StreamOwned` copies
//! each decrypted TLS record into a new `Vec` (its received-plaintext queue): one allocation
//! per record (measured ≈1.04 per frame), avoidable only with rustls' unbuffered API.
//! tungstenite does allocate for fragmented messages (continuation frames are concatenated),
//! for control frames it queues (pong/close replies) and for every message written through it
//! (`send_text` takes a `String`). Order frames bypass it (`send_text_now`: built and masked
//! in a reused buffer, written straight to the socket): no allocation over ws://, one over
//! wss:// (rustls encrypts each record into a new `Vec`). The handshake allocates freely.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::MidHandshake;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{HandshakeError, Message, WebSocket};

use super::{WsEndpoint, WsError};
use crate::core::clock::mono_ns;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnPhase {
    /// Waiting for the non-blocking TCP connect.
    Connecting,
    /// TLS (lazily, inside) and WebSocket handshake in progress.
    Handshaking,
    /// Frames flow.
    Open,
    /// Closed by either side or after an error; never reopens.
    Closed,
}

impl std::fmt::Display for ConnPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnPhase::Connecting => "tcp connecting",
            ConnPhase::Handshaking => "tls/ws handshaking",
            ConnPhase::Open => "open",
            ConnPhase::Closed => "closed",
        })
    }
}

/// A data frame's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A UTF-8 text message.
    Text,
    /// A binary message.
    Binary,
}

/// The byte stream under tungstenite: plain TCP or rustls over TCP.
#[derive(Debug)]
enum Transport {
    /// `unsent`: the tail of a frame written directly (`write_frame_now`) that the socket did
    /// not take; it goes out before anything tungstenite writes after it.
    Plain {
        socket: TcpStream,
        unsent: Vec<u8>,
    },
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// Writes as much of `bytes` as the socket takes without blocking.
fn write_some(socket: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match socket.write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Transport {
    /// Sends what a direct write left unsent; true when nothing is left.
    fn drain_unsent(socket: &mut TcpStream, unsent: &mut Vec<u8>) -> io::Result<bool> {
        if !unsent.is_empty() {
            let n = write_some(socket, unsent)?;
            unsent.drain(..n);
        }
        Ok(unsent.is_empty())
    }

    /// Writes one complete frame now: with TLS, encrypts it into rustls' buffer first. Returns
    /// the monotonic stamp taken with the frame encoded and encrypted, just before the write
    /// syscall. Bytes the socket does not take stay queued, in order, for the next flush.
    /// The caller has flushed everything queued before (tungstenite's buffer included).
    fn write_frame_now(&mut self, frame: &[u8]) -> io::Result<u64> {
        match self {
            Transport::Plain { socket, unsent } => {
                let stamp = mono_ns();
                let n = if unsent.is_empty() {
                    write_some(socket, frame)?
                } else {
                    0
                };
                unsent.extend_from_slice(&frame[n..]);
                Ok(stamp)
            }
            Transport::Tls(stream) => {
                stream.conn.writer().write_all(frame)?;
                let stamp = mono_ns();
                while stream.conn.wants_write() {
                    match stream.conn.write_tls(&mut stream.sock) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // rustls keeps the rest and writes it before anything later.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(stamp)
            }
        }
    }

    /// True when bytes wait for the socket to become writable.
    fn has_unsent(&self) -> bool {
        match self {
            Transport::Plain { unsent, .. } => !unsent.is_empty(),
            Transport::Tls(stream) => stream.conn.wants_write(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain { socket, .. } => socket.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain { socket, unsent } => {
                // Earlier bytes first: until they are out, nothing new is taken.
                if !Self::drain_unsent(socket, unsent)? {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                socket.write(buf)
            }
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain { socket, unsent } => {
                if !Self::drain_unsent(socket, unsent)? {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                socket.flush()
            }
            Transport::Tls(s) => s.flush(),
        }
    }
}

enum State {
    Connecting(TcpStream),
    Handshaking(MidHandshake<ClientHandshake<Transport>>),
    Open(Box<WebSocket<Transport>>),
    Closed,
}

/// What one `drive` call observed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DriveReport {
    /// Data frames delivered to the callback.
    pub frames: u32,
    /// Payload bytes of those frames.
    pub bytes: u64,
    /// Server pings seen (pongs are queued by tungstenite and flushed here).
    pub pings: u32,
    /// The WebSocket handshake completed during this call.
    pub opened: bool,
    /// The server closed (close frame or EOF); the connection is now `Closed`.
    pub closed_by_server: bool,
    /// Reading stopped at the frame budget (`drive_up_to`), not at WouldBlock: more may be
    /// buffered or waiting on the socket, and the poller will not report it again (mio is
    /// edge-triggered), so the caller must drive the connection again soon.
    pub more: bool,
}

/// One non-blocking WebSocket client connection.
pub struct WsConnection {
    id: u64,
    url: String,
    host: String,
    peer: SocketAddr,
    tls: Option<Arc<ClientConfig>>,
    ws_config: WebSocketConfig,
    state: State,
    write_pending: bool,
    handshake_interrupts: u32,
    /// xorshift state for the client frame masks of direct writes.
    mask_state: u64,
    /// A throwaway key of the negotiated TLS cipher, only for [`Self::warm_send_path`].
    warm_cipher: Option<ring::aead::LessSafeKey>,
}

/// Next xorshift64 state (never zero for a non-zero seed).
fn next_mask(state: u64) -> u64 {
    let mut x = state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// A key for `suite`'s AEAD (fixed bytes: it never protects anything), for the warm-up.
fn warm_key(suite: rustls::SupportedCipherSuite) -> Option<ring::aead::LessSafeKey> {
    use rustls::CipherSuite as Suite;
    let algorithm = match suite.suite() {
        Suite::TLS13_AES_128_GCM_SHA256
        | Suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | Suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => &ring::aead::AES_128_GCM,
        Suite::TLS13_AES_256_GCM_SHA384
        | Suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | Suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => &ring::aead::AES_256_GCM,
        Suite::TLS13_CHACHA20_POLY1305_SHA256
        | Suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | Suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => &ring::aead::CHACHA20_POLY1305,
        _ => return None,
    };
    let key = ring::aead::UnboundKey::new(algorithm, &[0x6b; 32][..algorithm.key_len()]).ok()?;
    Some(ring::aead::LessSafeKey::new(key))
}

/// A client text frame (FIN, opcode 1, masked) carrying `payload`, written into `out`.
fn encode_masked_text_frame(payload: &[u8], mask: u32, out: &mut Vec<u8>) {
    out.clear();
    out.push(0x81);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = mask.to_be_bytes();
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    // Eight bytes at a time: a byte-wise zip with a cycled key cost ~1 ns a byte.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = out[start..].chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

impl std::fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnection")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("peer", &self.peer)
            .field("phase", &self.phase())
            .finish()
    }
}

impl WsConnection {
    /// Starts a non-blocking connect to `endpoint.addr` for `request_url` and registers the
    /// socket with `registry` under `Token(id)` for READABLE | WRITABLE.
    pub fn connect(
        id: u64,
        request_url: String,
        endpoint: &WsEndpoint,
        tls: Option<Arc<ClientConfig>>,
        ws_config: WebSocketConfig,
        registry: &Registry,
    ) -> Result<Self, WsError> {
        let io_err = |source| WsError::Io {
            url: request_url.clone(),
            peer: endpoint.addr,
            phase: ConnPhase::Connecting,
            source,
        };
        if endpoint.tls && tls.is_none() {
            return Err(WsError::Tls {
                detail: format!("{request_url}: wss:// needs a TLS client config"),
            });
        }
        let mut socket = TcpStream::connect(endpoint.addr).map_err(io_err)?;
        registry
            .register(
                &mut socket,
                Token(id as usize),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(io_err)?;
        Ok(Self {
            id,
            host: endpoint.host.clone(),
            peer: endpoint.addr,
            tls: if endpoint.tls { tls } else { None },
            url: request_url,
            ws_config,
            state: State::Connecting(socket),
            write_pending: false,
            handshake_interrupts: 0,
            mask_state: (mono_ns() ^ (id << 32)) | 1,
            warm_cipher: None,
        })
    }

    /// This connection's id (also its mio token).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The request URL (base plus streams).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The remote address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The current phase.
    pub fn phase(&self) -> ConnPhase {
        match self.state {
            State::Connecting(_) => ConnPhase::Connecting,
            State::Handshaking(_) => ConnPhase::Handshaking,
            State::Open(_) => ConnPhase::Open,
            State::Closed => ConnPhase::Closed,
        }
    }

    /// True once the WebSocket handshake is done and until it closes.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// True when queued bytes (a pong, a control message, a close) still wait for WRITABLE.
    pub fn write_pending(&self) -> bool {
        self.write_pending
    }

    /// How often the handshake returned WouldBlock (diagnostics).
    pub fn handshake_interrupts(&self) -> u32 {
        self.handshake_interrupts
    }

    fn not_open(&self) -> WsError {
        WsError::NotOpen {
            url: self.url.clone(),
            peer: self.peer,
            phase: self.phase(),
        }
    }

    fn io_error(&self, source: io::Error) -> WsError {
        WsError::Io {
            url: self.url.clone(),
            peer: self.peer,
            phase: self.phase(),
            source,
        }
    }

    fn protocol_error(&self, phase: ConnPhase, source: tungstenite::Error) -> WsError {
        WsError::Protocol {
            url: self.url.clone(),
            peer: self.peer,
            phase,
            source: Box::new(source),
        }
    }

    /// Advances the connection as far as the socket allows: finishes connect/handshake, then
    /// drains every buffered frame until WouldBlock (mio is edge-triggered and rustls and
    /// tungstenite buffer), calling `on_frame(kind, payload, recv_ns)` per data frame with
    /// `recv_ns = mono_ns()` taken right after the read returned; then flushes pending writes.
    pub fn drive<F>(&mut self, on_frame: &mut F) -> Result<DriveReport, WsError>
    where
        F: FnMut(FrameKind, &[u8], u64),
    {
        self.drive_up_to(u32::MAX, on_frame)
    }

    /// `drive`, but stops reading after `max_frames` data frames (`report.more` then says
    /// so), so a caller can act on a tick before paying for the next read syscall, which on
    /// an idle socket only returns WouldBlock.
    pub fn drive_up_to<F>(
        &mut self,
        max_frames: u32,
        on_frame: &mut F,
    ) -> Result<DriveReport, WsError>
    where
        F: FnMut(FrameKind, &[u8], u64),
    {
        let mut report = DriveReport::default();
        loop {
            match std::mem::replace(&mut self.state, State::Closed) {
                State::Connecting(socket) => {
                    if !self.finish_connect(socket)? {
                        return Ok(report);
                    }
                    report.opened = true;
                }
                State::Handshaking(mid) => {
                    let result = mid.handshake();
                    if !self.on_handshake(result)? {
                        return Ok(report);
                    }
                    report.opened = true;
                }
                State::Open(ws) => {
                    self.state = State::Open(ws);
                    self.drain(&mut report, max_frames.max(1), on_frame)?;
                    return Ok(report);
                }
                State::Closed => return Ok(report),
            }
        }
    }

    /// True when the TCP connect finished and the handshake completed at once.
    fn finish_connect(&mut self, socket: TcpStream) -> Result<bool, WsError> {
        let fail = |this: &mut Self, socket: TcpStream, e: io::Error| {
            this.state = State::Connecting(socket);
            let err = this.io_error(e);
            this.state = State::Closed;
            err
        };
        match socket.take_error() {
            Ok(Some(e)) | Err(e) => return Err(fail(self, socket, e)),
            Ok(None) => {}
        }
        match socket.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                self.state = State::Connecting(socket);
                return Ok(false);
            }
            Err(e) => return Err(fail(self, socket, e)),
        }
        if let Err(e) = socket.set_nodelay(true) {
            return Err(fail(self, socket, e));
        }
        let transport = match &self.tls {
            None => Transport::Plain {
                socket,
                unsent: Vec::new(),
            },
            Some(config) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|e| WsError::Tls {
                    detail: format!("{}: bad server name {}: {e}", self.url, self.host),
                })?;
                let mut tls =
                    ClientConnection::new(Arc::clone(config), name).map_err(|e| WsError::Tls {
                        detail: format!("{}: {e}", self.url),
                    })?;
                // A direct frame write (`send_text_now`) hands rustls a whole frame at once;
                // it only does so when nothing is queued, so the buffer stays bounded by one
                // frame plus what a congested socket holds back.
                tls.set_buffer_limit(None);
                Transport::Tls(Box::new(StreamOwned::new(tls, socket)))
            }
        };
        let result = tungstenite::client::client_with_config(
            self.url.as_str(),
            transport,
            Some(self.ws_config),
        );
        self.on_handshake(result)
    }

    /// Applies a handshake step's result; true when the WebSocket is open.
    fn on_handshake(&mut self, result: HandshakeResult) -> Result<bool, WsError> {
        match result {
            Ok((ws, _response)) => {
                self.warm_cipher = match ws.get_ref() {
                    Transport::Tls(stream) => {
                        stream.conn.negotiated_cipher_suite().and_then(warm_key)
                    }
                    Transport::Plain { .. } => None,
                };
                self.state = State::Open(Box::new(ws));
                Ok(true)
            }
            Err(HandshakeError::Interrupted(mid)) => {
                self.handshake_interrupts += 1;
                self.state = State::Handshaking(mid);
                Ok(false)
            }
            Err(HandshakeError::Failure(e)) => {
                self.state = State::Closed;
                Err(self.protocol_error(ConnPhase::Handshaking, e))
            }
        }
    }

    fn drain<F>(
        &mut self,
        report: &mut DriveReport,
        max_frames: u32,
        on_frame: &mut F,
    ) -> Result<(), WsError>
    where
        F: FnMut(FrameKind, &[u8], u64),
    {
        let State::Open(ws) = &mut self.state else {
            return Ok(());
        };
        loop {
            if report.frames >= max_frames {
                report.more = true;
                break;
            }
            let result = ws.read();
            let recv_ns = mono_ns();
            match result {
                Ok(Message::Text(text)) => {
                    report.frames += 1;
                    report.bytes += text.len() as u64;
                    on_frame(FrameKind::Text, text.as_bytes(), recv_ns);
                }
                Ok(Message::Binary(data)) => {
                    report.frames += 1;
                    report.bytes += data.len() as u64;
                    on_frame(FrameKind::Binary, &data, recv_ns);
                }
                Ok(Message::Ping(_)) => {
                    // tungstenite queued the pong; it goes out on the next read or flush.
                    report.pings += 1;
                    self.write_pending = true;
                }
                Ok(Message::Pong(_)) | Ok(Message::Frame(_)) => {}
                Ok(Message::Close(_)) => {
                    // Best effort to send the queued close reply; we do not wait for EOF.
                    let _ = ws.flush();
                    report.closed_by_server = true;
                    self.state = State::Closed;
                    return Ok(());
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    report.closed_by_server = true;
                    self.state = State::Closed;
                    return Ok(());
                }
                Err(e) => {
                    self.state = State::Closed;
                    return Err(self.protocol_error(ConnPhase::Open, e));
                }
            }
        }
        if self.write_pending {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out queued frames; WouldBlock leaves `write_pending` set for the next WRITABLE.
    pub fn flush(&mut self) -> Result<(), WsError> {
        let State::Open(ws) = &mut self.state else {
            self.write_pending = false;
            return Ok(());
        };
        match ws.flush() {
            Ok(()) => self.write_pending = false,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                self.write_pending = true;
            }
            Err(e) => {
                self.state = State::Closed;
                return Err(self.protocol_error(ConnPhase::Open, e));
            }
        }
        Ok(())
    }

    /// Queues a text message and tries to flush it. `Ok` means queued (maybe not yet on the
    /// wire: WouldBlock after queuing is not a loss); `WriteBufferFull` means it was not queued.
    pub fn send_text(&mut self, text: String) -> Result<(), WsError> {
        let State::Open(ws) = &mut self.state else {
            return Err(self.not_open());
        };
        match ws.write(Message::text(text)) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(tungstenite::Error::WriteBufferFull(_)) => {
                return Err(WsError::WriteBufferFull {
                    url: self.url.clone(),
                    peer: self.peer,
                });
            }
            Err(e) => {
                self.state = State::Closed;
                return Err(self.protocol_error(ConnPhase::Open, e));
            }
        }
        self.write_pending = true;
        self.flush()
    }

    /// Writes one text message as a single masked frame straight to the socket, bypassing
    /// tungstenite's queue (whose `Message` takes an owned `String` per message): the frame
    /// is built in `scratch` (reused by the caller), encrypted into rustls' buffer when
    /// wss://, stamped, then written. Returns the monotonic stamp taken just before the write
    /// syscall (for tick-to-order). When earlier bytes are still queued (a congested socket)
    /// it queues through tungstenite instead, behind them, and stamps before that.
    pub fn send_text_now(&mut self, text: &str, scratch: &mut Vec<u8>) -> Result<u64, WsError> {
        // Whatever tungstenite or an earlier direct write queued goes first (every queueing
        // path sets `write_pending`, so an idle connection skips the flush).
        if self.write_pending {
            self.flush()?;
        }
        if self.write_pending || !self.is_open() {
            let stamp = mono_ns();
            self.send_text(text.to_owned())?;
            return Ok(stamp);
        }
        self.mask_state = next_mask(self.mask_state);
        encode_masked_text_frame(text.as_bytes(), self.mask_state as u32, scratch);
        let State::Open(ws) = &mut self.state else {
            return Err(self.not_open());
        };
        match ws.get_mut().write_frame_now(scratch) {
            Ok(stamp) => {
                self.write_pending = ws.get_ref().has_unsent();
                Ok(stamp)
            }
            Err(e) => {
                self.state = State::Closed;
                Err(self.io_error(e))
            }
        }
    }

    /// Runs what [`Self::send_text_now`] runs before the write, on scratch data, and sends
    /// nothing: the frame masking into `scratch` and, over TLS, an AEAD seal of it with a
    /// throwaway key of the negotiated cipher (the connection's own record layer cannot
    /// encrypt without sending). An order thread that sends rarely calls this while idle so
    /// the next order does not find this code cold.
    pub fn warm_send_path(&mut self, text: &str, scratch: &mut Vec<u8>) {
        encode_masked_text_frame(text.as_bytes(), 0x5a5a_5a5a, scratch);
        if let Some(key) = &self.warm_cipher {
            let nonce = ring::aead::Nonce::assume_unique_for_key([0; ring::aead::NONCE_LEN]);
            // Only a frame longer than the AEAD's limit (~64 GiB) could be refused.
            let _ = key.seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), scratch);
        }
    }

    /// True when [`Self::warm_send_path`] also runs the TLS cipher (a wss:// connection
    /// whose negotiated suite it knows).
    pub fn warms_encryption(&self) -> bool {
        self.warm_cipher.is_some()
    }

    /// Sends a close frame (best effort, one flush attempt) and drops the socket.
    pub fn close(&mut self) {
        if let State::Open(ws) = &mut self.state {
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        // Dropping the socket closes the fd, which also removes it from the epoll set.
        self.state = State::Closed;
        self.write_pending = false;
    }
}

/// What `client_with_config` and `MidHandshake::handshake` return.
type HandshakeResult = Result<
    (
        WebSocket<Transport>,
        tungstenite::handshake::client::Response,
    ),
    HandshakeError<ClientHandshake<Transport>>,
>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame RFC 6455 §5.2 describes, built the slow obvious way.
    fn reference_frame(payload: &[u8], mask: u32) -> Vec<u8> {
        let mut out = vec![0x81];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= usize::from(u16::MAX) {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let key = mask.to_be_bytes();
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    #[test]
    fn masked_frames_match_the_rfc_layout_at_every_length_and_header_size() {
        let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 31 + 7) as u8).collect();
        let mut out = Vec::new();
        for len in (0..300).chain([65_535, 65_536, 70_000]) {
            let mask = 0x9e37_79b9u32.wrapping_mul(len as u32 + 1);
            encode_masked_text_frame(&payload[..len], mask, &mut out);
            assert_eq!(out, reference_frame(&payload[..len], mask), "length {len}");
        }
    }
}
