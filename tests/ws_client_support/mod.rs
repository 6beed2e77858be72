//! Shared by the tests that drive one `WsConnection` by hand: connect to a local test server
//! (ws:// or wss:// trusting the given self-signed certificate) and finish the handshake.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kestrel::feed::ws::{WsConnection, WsEndpoint};
use tungstenite::protocol::WebSocketConfig;

/// An open connection to `addr` (path `/ws-api/v3`); with `server_cert_der`, over TLS to
/// `localhost` trusting that certificate. The returned `Poll` holds the socket's registration.
pub fn open_connection(
    addr: SocketAddr,
    server_cert_der: Option<&[u8]>,
) -> (mio::Poll, WsConnection) {
    let scheme = if server_cert_der.is_some() {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://localhost:{}/ws-api/v3", addr.port());
    let endpoint = WsEndpoint::with_addr(&url, addr).expect("valid test url");
    let client_tls = server_cert_der.map(|der| {
        let cert = rustls::pki_types::CertificateDer::from(der.to_vec());
        kestrel::feed::ws::client_config_with(false, &[cert]).expect("client tls config")
    });
    let poll = mio::Poll::new().expect("poll");
    let mut conn = WsConnection::connect(
        1,
        url,
        &endpoint,
        client_tls,
        WebSocketConfig::default(),
        poll.registry(),
    )
    .expect("connect starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !conn.is_open() {
        assert!(Instant::now() < deadline, "handshake finished in time");
        conn.drive(&mut |_, _, _| {}).expect("handshake progresses");
        std::thread::sleep(Duration::from_millis(1));
    }
    (poll, conn)
}
