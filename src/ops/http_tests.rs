//! Tests of the ops HTTP server over real loopback sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

use super::*;

fn server(limits: HttpLimits) -> OpsServer {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    OpsServer::bind_with_limits(addr, limits).expect("bind an ephemeral loopback port")
}

/// Sends `raw` from a client thread while this thread polls the server; returns the reply.
fn exchange(server: &mut OpsServer, registry: &Registry, raw: &[u8]) -> String {
    let addr = server.local_addr().expect("bound listener has an address");
    let raw = raw.to_vec();
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect to test server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set timeout");
        stream.write_all(&raw).expect("send request");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read reply");
        reply
    });
    while !client.is_finished() {
        server.poll(registry, Duration::from_millis(5));
        thread::sleep(Duration::from_millis(1));
    }
    client.join().expect("client thread finished")
}

#[test]
fn metrics_are_served_with_exposition_content_type() {
    let mut registry = Registry::new();
    registry
        .counter("orders_submitted_total", "Orders accepted", &[])
        .expect("valid")
        .add(3);
    let mut server = server(HttpLimits::default());
    let reply = exchange(
        &mut server,
        &registry,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{reply}"
    );
    assert!(reply.contains("Connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n# HELP orders_submitted_total Orders accepted\n# TYPE orders_submitted_total counter\norders_submitted_total 3\n"), "{reply}");
}

#[test]
fn healthz_answers_ok() {
    let registry = Registry::new();
    let mut server = server(HttpLimits::default());
    let reply = exchange(&mut server, &registry, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nok\n"), "{reply}");
}

#[test]
fn unknown_path_is_404_and_wrong_method_is_405_with_allow() {
    let registry = Registry::new();
    let mut server = server(HttpLimits::default());
    let reply = exchange(&mut server, &registry, b"GET /nope HTTP/1.1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reply}");
    let post = b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    let reply = exchange(&mut server, &registry, post);
    assert!(
        reply.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{reply}"
    );
    assert!(reply.contains("Allow: GET\r\n"), "{reply}");
}

#[test]
fn malformed_and_oversized_requests_are_refused() {
    let registry = Registry::new();
    let mut server = server(HttpLimits::default());
    let reply = exchange(&mut server, &registry, b"GARBAGE\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    huge.resize(9 * 1024, b'a');
    let reply = exchange(&mut server, &registry, &huge);
    assert!(reply.starts_with("HTTP/1.1 431 "), "{reply}");
    let big_body = b"POST /metrics HTTP/1.1\r\nContent-Length: 999999\r\n\r\n";
    let reply = exchange(&mut server, &registry, big_body);
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    let chunked = b"POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let reply = exchange(&mut server, &registry, chunked);
    assert!(reply.starts_with("HTTP/1.1 501 "), "{reply}");
}

#[test]
fn idle_client_neither_blocks_others_nor_outlives_its_deadline() {
    let registry = Registry::new();
    let limits = HttpLimits {
        connection_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    };
    let mut server = server(limits);
    let addr = server.local_addr().expect("bound");
    let mut idle = TcpStream::connect(addr).expect("connect idle client");
    idle.write_all(b"GET /metr")
        .expect("send a partial request");
    let started = Instant::now();
    let reply = exchange(&mut server, &registry, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(
        server.dropped_connections(),
        0,
        "the other client was served while the idle one was still held"
    );
    while server.dropped_connections() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "idle client never dropped"
        );
        server.poll(&registry, Duration::from_millis(5));
        thread::sleep(Duration::from_millis(5));
    }
    idle.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set timeout");
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest);
    assert!(
        closed.is_err() || rest.is_empty(),
        "idle client got no reply"
    );
}

#[test]
fn added_route_sees_headers_query_and_body() {
    let registry = Registry::new();
    let mut server = server(HttpLimits::default());
    server.route(
        Method::Post,
        "/control/echo",
        |req: &Request<'_>, _: &Registry| match req.header("authorization") {
            Some("Bearer secret") => {
                let mut body = format!("{}|", req.query).into_bytes();
                body.extend_from_slice(req.body);
                Response::new(200, "application/json", body)
            }
            _ => Response::text(401, "unauthorized").with_header("WWW-Authenticate", "Bearer"),
        },
    );
    let ok = b"POST /control/echo?dry=1 HTTP/1.1\r\nAUTHORIZATION: Bearer secret\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    let reply = exchange(&mut server, &registry, ok);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\ndry=1|{\"a\":1}"), "{reply}");
    let denied = b"POST /control/echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    let reply = exchange(&mut server, &registry, denied);
    assert!(
        reply.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{reply}"
    );
    assert!(reply.contains("WWW-Authenticate: Bearer\r\n"), "{reply}");
}

#[test]
fn metrics_config_defaults_to_loopback_9464_and_rejects_unknown_keys() {
    let default: MetricsConfig = toml::from_str("").expect("empty section uses defaults");
    assert_eq!(default, MetricsConfig::default());
    assert_eq!(default.listen.to_string(), "127.0.0.1:9464");
    let set: MetricsConfig = toml::from_str("listen = \"0.0.0.0:9100\"").expect("valid");
    assert_eq!(set.listen.port(), 9100);
    assert!(toml::from_str::<MetricsConfig>("lisen = \"0.0.0.0:1\"").is_err());
}

#[test]
fn binding_a_used_port_reports_the_address() {
    let first = server(HttpLimits::default());
    let addr = first.local_addr().expect("bound");
    let err = OpsServer::bind(addr).err().expect("port already in use");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
