//! Owns: the gateway's REST helper thread — one std thread with a keep-alive ureq agent, fed
//! through a bounded job channel and answering through a bounded reply channel, for the
//! fallback order path, reconciliation queries, `/time` and the futures listenKey.
//! Never: runs on the order thread, retries on its own (an order request sent twice could
//! trade twice), decodes bodies, or logs the API key.
//!
//! A job's query and body buffers come back with its reply, for the order thread to reuse:
//! margin orders, which only REST takes, then build their request without allocating.

use std::path::Path;
use std::time::Duration;

use crossbeam::channel::{bounded, Receiver, Sender, TrySendError};
use ureq::Agent;

use crate::core::clock::wall_ms;
use crate::feed::binance::snapshot_fetch::build_agent;
use crate::feed::ws::WsError;
use crate::oms::binance::HttpMethod;

/// Jobs (and replies) in flight at once; a full queue refuses the job instead of blocking.
const QUEUE: usize = 256;
/// Largest reply body read (an account or trade list of a busy symbol stays far below).
const MAX_BODY_BYTES: u64 = 8 << 20;

/// One REST request for the helper thread.
#[derive(Debug)]
pub struct RestJob {
    /// Matches the reply to the request.
    pub token: u64,
    pub method: HttpMethod,
    pub path: &'static str,
    pub query: String,
    pub body: String,
    pub needs_api_key: bool,
}

/// The thread's answer to one job.
#[derive(Debug)]
pub struct RestReply {
    pub token: u64,
    /// HTTP status; 0 when the request failed in transport (connect, TLS, timeout).
    pub status: u16,
    /// `Retry-After` in ms, when sent.
    pub retry_after_ms: Option<u64>,
    /// Rate-limit headers (`X-MBX-USED-WEIGHT-*`, `X-MBX-ORDER-COUNT-*`).
    pub limit_headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Local wall-clock ms when the request was sent and answered (for `/time` samples).
    pub sent_wall_ms: u64,
    pub received_wall_ms: u64,
    /// Transport failure text, for the operator (never contains the key).
    pub error: Option<String>,
    /// The job's query and body buffers, handed back for reuse.
    pub spent: [String; 2],
}

/// Why the helper could not start.
#[derive(Debug, thiserror::Error)]
pub enum RestWorkerError {
    #[error(transparent)]
    Cert(#[from] WsError),
    #[error("spawning the gateway REST thread: {0}")]
    Spawn(std::io::Error),
}

/// The order thread's end: non-blocking `submit` and `try_recv`.
#[derive(Debug)]
pub struct RestWorker {
    jobs: Sender<RestJob>,
    replies: Receiver<RestReply>,
}

impl RestWorker {
    /// Starts the thread for `base_url` (`http(s)://host:port`), sending `api_key` where a
    /// request needs it, trusting only `trusted_cert` when given.
    pub fn start(
        base_url: String,
        api_key: String,
        trusted_cert: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, RestWorkerError> {
        let agent = build_agent(trusted_cert, timeout)?;
        let (jobs, job_rx) = bounded::<RestJob>(QUEUE);
        let (reply_tx, replies) = bounded::<RestReply>(QUEUE);
        std::thread::Builder::new()
            .name("gateway-rest".to_owned())
            .spawn(move || serve(&agent, &base_url, &api_key, &job_rx, &reply_tx))
            .map_err(RestWorkerError::Spawn)?;
        Ok(Self { jobs, replies })
    }

    /// Queues a job; gives it back when the queue is full or the thread is gone.
    pub fn submit(&self, job: RestJob) -> Result<(), RestJob> {
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => Err(job),
        }
    }

    /// The next finished job, if any.
    pub fn try_recv(&self) -> Option<RestReply> {
        self.replies.try_recv().ok()
    }
}

fn serve(
    agent: &Agent,
    base_url: &str,
    api_key: &str,
    jobs: &Receiver<RestJob>,
    replies: &Sender<RestReply>,
) {
    while let Ok(job) = jobs.recv() {
        let mut reply = execute(agent, base_url, api_key, &job);
        reply.spent = [job.query, job.body];
        if replies.send(reply).is_err() {
            return;
        }
    }
}

fn execute(agent: &Agent, base_url: &str, api_key: &str, job: &RestJob) -> RestReply {
    let url = if job.query.is_empty() {
        format!("{base_url}{}", job.path)
    } else {
        format!("{base_url}{}?{}", job.path, job.query)
    };
    let key = if job.needs_api_key { api_key } else { "" };
    let sent_wall_ms = wall_ms();
    let result = match job.method {
        HttpMethod::Get => with_key(agent.get(&url), key).call(),
        HttpMethod::Delete => with_key(agent.delete(&url), key).call(),
        HttpMethod::Post => with_key(agent.post(&url), key)
            .content_type("application/x-www-form-urlencoded")
            .send(job.body.as_str()),
        HttpMethod::Put => with_key(agent.put(&url), key)
            .content_type("application/x-www-form-urlencoded")
            .send(job.body.as_str()),
    };
    let mut reply = RestReply {
        token: job.token,
        status: 0,
        retry_after_ms: None,
        limit_headers: Vec::new(),
        body: Vec::new(),
        sent_wall_ms,
        received_wall_ms: 0,
        error: None,
        spent: [String::new(), String::new()],
    };
    match result {
        Ok(mut response) => {
            reply.status = response.status().as_u16();
            for (name, value) in response.headers() {
                let Ok(value) = value.to_str() else { continue };
                let name = name.as_str();
                if name.eq_ignore_ascii_case("retry-after") {
                    reply.retry_after_ms =
                        crate::oms::binance::rate_limit::retry_after_header_ms(value);
                } else if name.len() > 6 && name[..6].eq_ignore_ascii_case("x-mbx-") {
                    reply
                        .limit_headers
                        .push((name.to_owned(), value.to_owned()));
                }
            }
            match response
                .body_mut()
                .with_config()
                .limit(MAX_BODY_BYTES)
                .read_to_vec()
            {
                Ok(body) => reply.body = body,
                Err(e) => {
                    reply.status = 0;
                    reply.error = Some(format!(
                        "{} {}: reading body: {e}",
                        job.method.as_str(),
                        job.path
                    ));
                }
            }
        }
        Err(e) => reply.error = Some(format!("{} {}: {e}", job.method.as_str(), job.path)),
    }
    reply.received_wall_ms = wall_ms();
    reply
}

fn with_key<B>(request: ureq::RequestBuilder<B>, key: &str) -> ureq::RequestBuilder<B> {
    if key.is_empty() {
        request
    } else {
        request.header("X-MBX-APIKEY", key)
    }
}
