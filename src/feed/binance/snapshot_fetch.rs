//! Owns: the REST depth-snapshot fetcher of the live Binance feed — one std thread with a
//! keep-alive ureq agent, fed through a bounded request channel and answering through a
//! bounded response channel. Never: runs on the feed thread, decodes bodies, or gives up on a
//! symbol silently (every failure is counted and retried, then reported as `Failed`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam::channel::{bounded, Receiver, Sender, TrySendError};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

use crate::feed::ws::{load_certs, WsError};

/// Per-phase timeout of the agent (connect, send, first response byte, body).
const PHASE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest snapshot body accepted (a 5000-level spot snapshot is about 300 KB).
const MAX_BODY_BYTES: u64 = 16 << 20;
/// Attempts per request before answering `Failed`.
const MAX_ATTEMPTS: u32 = 5;
/// First retry delay; doubled per attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Largest retry delay.
const BACKOFF_CAP: Duration = Duration::from_secs(1);

/// What the fetcher answers for one request.
#[derive(Debug)]
pub enum SnapshotReply {
    /// The response body of a 200 reply, for the symbol at `index`.
    Body {
        /// Index of the symbol in the fetcher's URL list.
        index: usize,
        /// The whole body.
        body: Vec<u8>,
    },
    /// Every attempt failed; the caller may ask again.
    Failed {
        /// Index of the symbol in the fetcher's URL list.
        index: usize,
    },
}

/// Fetcher health, for the ops thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchCounters {
    /// Requests taken from the channel.
    pub requests: u64,
    /// HTTP attempts made (including retries).
    pub attempts: u64,
    /// 200 replies delivered.
    pub ok: u64,
    /// Replies with a status other than 200.
    pub http_errors: u64,
    /// Connect, TLS, timeout or body-read failures.
    pub transport_errors: u64,
    /// Requests answered `Failed` after `MAX_ATTEMPTS`.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct SharedCounters {
    requests: AtomicU64,
    attempts: AtomicU64,
    ok: AtomicU64,
    http_errors: AtomicU64,
    transport_errors: AtomicU64,
    failed: AtomicU64,
}

/// Why the fetcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The trusted certificate could not be loaded.
    #[error(transparent)]
    Cert(#[from] WsError),
    /// The thread could not be spawned.
    #[error("spawning the snapshot fetcher: {0}")]
    Spawn(std::io::Error),
}

/// The feed thread's end of the fetcher: non-blocking `request` and `try_recv`.
#[derive(Debug)]
pub struct SnapshotFetcher {
    requests: Sender<usize>,
    replies: Receiver<SnapshotReply>,
    counters: Arc<SharedCounters>,
}

impl SnapshotFetcher {
    /// Starts the fetcher thread for `urls` (one full depth URL per symbol index), trusting
    /// the webpki roots, or only `trusted_cert` (PEM or DER) when given: ureq 3 takes root
    /// certificates, not a rustls `ClientConfig`, and a specific set replaces its webpki roots.
    pub fn start(urls: Vec<String>, trusted_cert: Option<&Path>) -> Result<Self, FetchError> {
        let agent = build_agent(trusted_cert, PHASE_TIMEOUT)?;
        // One request in flight per symbol: channels of that size never fill.
        let capacity = urls.len().max(1);
        let (requests, request_rx) = bounded::<usize>(capacity);
        let (reply_tx, replies) = bounded::<SnapshotReply>(capacity);
        let counters = Arc::new(SharedCounters::default());
        let shared = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("snapshot-fetch".to_owned())
            .spawn(move || serve(&agent, &urls, &request_rx, &reply_tx, &shared))
            .map_err(FetchError::Spawn)?;
        Ok(Self {
            requests,
            replies,
            counters,
        })
    }

    /// Queues a fetch for symbol `index`; false when the queue is full or the thread is gone.
    pub fn request(&self, index: usize) -> bool {
        match self.requests.try_send(index) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// The next finished fetch, if any.
    pub fn try_recv(&self) -> Option<SnapshotReply> {
        self.replies.try_recv().ok()
    }

    /// Counters since start.
    pub fn counters(&self) -> FetchCounters {
        let c = &self.counters;
        FetchCounters {
            requests: c.requests.load(Ordering::Relaxed),
            attempts: c.attempts.load(Ordering::Relaxed),
            ok: c.ok.load(Ordering::Relaxed),
            http_errors: c.http_errors.load(Ordering::Relaxed),
            transport_errors: c.transport_errors.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

/// A keep-alive agent with `timeout` for each phase (no resolve/global timeout: those spawn a
/// thread per request), status codes returned as replies, and the trusted certificate.
/// Shared by every REST client of the engine (snapshots, exchangeInfo, the order gateway).
/// `GET url` with `agent`: the body of a 200 answer (at most `limit` bytes); anything else
/// is an error naming the URL.
pub(crate) fn get_ok_body(agent: &Agent, url: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .with_context(|| format!("reading {url}"))?;
    anyhow::ensure!(status == 200, "GET {url}: HTTP {status}");
    Ok(body)
}

pub(crate) fn build_agent(
    trusted_cert: Option<&Path>,
    timeout: Duration,
) -> Result<Agent, WsError> {
    let mut tls = TlsConfig::builder();
    if let Some(path) = trusted_cert {
        let mut roots = Vec::new();
        for der in load_certs(path)? {
            roots.push(Certificate::from_der(der.as_ref()).to_owned());
        }
        tls = tls.root_certs(RootCerts::Specific(Arc::new(roots)));
    }
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(timeout))
        .timeout_send_request(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .timeout_recv_body(Some(timeout))
        .tls_config(tls.build())
        .build();
    Ok(config.into())
}

fn serve(
    agent: &Agent,
    urls: &[String],
    requests: &Receiver<usize>,
    replies: &Sender<SnapshotReply>,
    counters: &SharedCounters,
) {
    while let Ok(index) = requests.recv() {
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let reply = match urls.get(index) {
            Some(url) => fetch_with_retry(agent, url, counters)
                .map_or(SnapshotReply::Failed { index }, |body| {
                    SnapshotReply::Body { index, body }
                }),
            None => SnapshotReply::Failed { index },
        };
        if matches!(reply, SnapshotReply::Failed { .. }) {
            counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        if replies.send(reply).is_err() {
            return;
        }
    }
}

fn fetch_with_retry(agent: &Agent, url: &str, counters: &SharedCounters) -> Option<Vec<u8>> {
    let mut delay = BACKOFF_BASE;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(delay);
            delay = (delay * 2).min(BACKOFF_CAP);
        }
        counters.attempts.fetch_add(1, Ordering::Relaxed);
        match fetch_once(agent, url) {
            Ok(body) => {
                counters.ok.fetch_add(1, Ordering::Relaxed);
                return Some(body);
            }
            Err(Failure::Status) => {
                counters.http_errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure::Transport) => {
                counters.transport_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    None
}

enum Failure {
    Status,
    Transport,
}

fn fetch_once(agent: &Agent, url: &str) -> Result<Vec<u8>, Failure> {
    let mut response = agent.get(url).call().map_err(|_| Failure::Transport)?;
    let status = response.status().as_u16();
    // Read to the end in every case, so the connection goes back to the pool.
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .map_err(|_| Failure::Transport)?;
    if status == 200 {
        Ok(body)
    } else {
        Err(Failure::Status)
    }
}
