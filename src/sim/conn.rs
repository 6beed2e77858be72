//! Owns: the simulator's server sockets: plain TCP or rustls over TCP, the self-signed
//! certificate, replaying bytes already read while routing a request, and split writes.
//! Never: parses HTTP or WebSocket frames.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::SimError;

/// Pause between the two halves of a split write, long enough to reach the client apart.
const SPLIT_PAUSE: Duration = Duration::from_millis(30);

/// A self-signed certificate and the rustls server config built on it (the simulator's, and
/// any test server's that needs one).
pub struct Tls {
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    pub config: Arc<ServerConfig>,
}

impl Tls {
    /// A fresh certificate for `localhost` and `127.0.0.1` and a ring-backed server config.
    pub fn self_signed() -> Result<Self, SimError> {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
        let cert_der = certified.cert.der().to_vec();
        let cert_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)?;
        Ok(Self {
            cert_der,
            cert_pem,
            config: Arc::new(config),
        })
    }
}

/// An accepted connection, plain or TLS.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    /// Wraps an accepted socket, starting a TLS session when `tls` is given.
    pub fn new(socket: TcpStream, tls: Option<&Arc<ServerConfig>>) -> Result<Self, SimError> {
        Ok(match tls {
            Some(config) => {
                let session = ServerConnection::new(Arc::clone(config))?;
                Conn::Tls(Box::new(StreamOwned::new(session, socket)))
            }
            None => Conn::Plain(socket),
        })
    }

    /// The underlying socket (timeouts, blocking mode, shutdown).
    pub fn socket(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Closes the TCP connection at once, without a close handshake.
    pub fn abort(&self) {
        // The peer may already be gone; nothing is left to do with the error.
        let _ = self.socket().shutdown(Shutdown::Both);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A connection that first re-reads the bytes consumed while routing the request, and can
/// split its next write in two.
pub(crate) struct Rewind {
    prefix: Vec<u8>,
    pos: usize,
    conn: Conn,
    split_next: bool,
}

impl Rewind {
    pub fn new(prefix: Vec<u8>, conn: Conn) -> Self {
        Self {
            prefix,
            pos: 0,
            conn,
            split_next: false,
        }
    }

    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// Makes the next write go out as two TCP writes with a pause between them.
    pub fn split_next_write(&mut self) {
        self.split_next = true;
    }
}

impl Read for Rewind {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.conn.read(buf)
    }
}

impl Write for Rewind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.split_next && buf.len() >= 2 {
            self.split_next = false;
            let half = buf.len() / 2;
            self.conn.write_all(&buf[..half])?;
            self.conn.flush()?;
            std::thread::sleep(SPLIT_PAUSE);
            self.conn.write_all(&buf[half..])?;
            return Ok(buf.len());
        }
        self.conn.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.flush()
    }
}
