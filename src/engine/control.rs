//! Owns: the link between the ops thread's control API and the order thread — operator
//! commands one way, their replies and the engine's status snapshots the other — over
//! bounded SPSC rings, and binding the ops side's server to it. Never: blocks or allocates
//! on the order thread; a snapshot that finds its ring full is skipped (the next one
//! supersedes it), a command ring that is full makes the ops side answer "busy".

use std::path::PathBuf;

use crate::core::{Fill, Notional, OrderUpdate, Price, Qty, StrategyId, SymbolId};
use crate::risk::{HealthLevel, RiskLimits, StrategyMode, TradingMode, BREAKER_COUNT};

/// Rows a status snapshot carries inline.
pub const STATUS_POSITIONS: usize = 16;
pub const STATUS_OPEN_ORDERS: usize = 64;
pub const STATUS_FILLS: usize = 32;
pub const STATUS_STRATEGIES: usize = 16;

/// What the operator asks the order thread to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlCommand {
    /// Halt trading (persisted); optionally cancel every open order and close every position.
    Kill { cancel_all: bool, flatten: bool },
    /// Clear the kill switch and any critical halt.
    Resume,
    /// Cancel every order and close every position at market (trading state unchanged).
    Flatten,
    /// Cancel every open order, protective stops included.
    CancelAll,
    /// Enable, disable or dry-run one strategy.
    SetStrategyMode {
        strategy: StrategyId,
        mode: StrategyMode,
    },
    /// Swap in new limits (already validated by the ops side; boxed by the ops thread, so
    /// the order thread only moves a pointer).
    ReloadLimits(Box<RiskLimits>),
}

/// A command and the id its reply will carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlRequest {
    pub id: u64,
    pub command: ControlCommand,
}

/// How the order thread answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlOutcome {
    /// Done (orders it sent are on their way).
    Done,
    /// No such strategy.
    UnknownStrategy,
}

/// The answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlReply {
    pub id: u64,
    pub outcome: ControlOutcome,
}

/// One breaker as the status shows it (floats: display only).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BreakerStatus {
    /// Cause code (`risk::codes::CAUSE_*`); its name is `risk::codes::name`.
    pub cause: u16,
    pub level: HealthLevel,
    pub tripped: bool,
    /// The measured value and its limit, in the breaker's unit (USD, %, µs, count, ms).
    pub observed: f64,
    pub limit: f64,
}

/// One position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionRow {
    pub symbol: SymbolId,
    /// Signed base quantity.
    pub qty: Qty,
    pub avg_entry_price: Price,
    pub mark: Price,
    pub unrealized_pnl: Notional,
    pub realized_pnl: Notional,
}

/// One strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyRow {
    pub strategy: StrategyId,
    pub mode: StrategyMode,
    /// Gross notional of its position and open orders.
    pub exposure: Notional,
    pub budget: Notional,
}

/// The engine as the order thread last saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineStatus {
    /// Monotonic ns of the snapshot.
    pub published_ns: u64,
    pub health: HealthLevel,
    pub mode: TradingMode,
    pub kill_switch: bool,
    /// Why trading is halted or reduce-only (a `risk::codes` cause; 0 when active).
    pub mode_cause: u16,
    /// Every traded symbol reconciled with the venue.
    pub reconciled: bool,
    pub equity: Notional,
    pub high_water_mark: Notional,
    pub drawdown_pct: f64,
    pub daily_drawdown_pct: f64,
    pub gross_exposure: Notional,
    pub venue_exposure: Notional,
    pub breakers: [BreakerStatus; BREAKER_COUNT],
    pub rejects_total: u64,
    pub positions: [PositionRow; STATUS_POSITIONS],
    pub position_count: usize,
    pub open_orders: [OrderUpdate; STATUS_OPEN_ORDERS],
    pub open_order_count: usize,
    /// Most recent last.
    pub fills: [Fill; STATUS_FILLS],
    pub fill_count: usize,
    pub strategies: [StrategyRow; STATUS_STRATEGIES],
    pub strategy_count: usize,
}

impl Default for EngineStatus {
    fn default() -> Self {
        Self {
            published_ns: 0,
            health: HealthLevel::Ok,
            mode: TradingMode::Active,
            kill_switch: false,
            mode_cause: 0,
            reconciled: false,
            equity: Notional::ZERO,
            high_water_mark: Notional::ZERO,
            drawdown_pct: 0.0,
            daily_drawdown_pct: 0.0,
            gross_exposure: Notional::ZERO,
            venue_exposure: Notional::ZERO,
            breakers: [BreakerStatus::default(); BREAKER_COUNT],
            rejects_total: 0,
            positions: [PositionRow::default(); STATUS_POSITIONS],
            position_count: 0,
            open_orders: [OrderUpdate::default(); STATUS_OPEN_ORDERS],
            open_order_count: 0,
            fills: [Fill::default(); STATUS_FILLS],
            fill_count: 0,
            strategies: [StrategyRow::default(); STATUS_STRATEGIES],
            strategy_count: 0,
        }
    }
}

impl EngineStatus {
    /// The positions held.
    pub fn positions(&self) -> &[PositionRow] {
        &self.positions[..self.position_count.min(STATUS_POSITIONS)]
    }
    /// The open orders (the first [`STATUS_OPEN_ORDERS`]).
    pub fn open_orders(&self) -> &[OrderUpdate] {
        &self.open_orders[..self.open_order_count.min(STATUS_OPEN_ORDERS)]
    }
    /// The recent fills, oldest first.
    pub fn fills(&self) -> &[Fill] {
        &self.fills[..self.fill_count.min(STATUS_FILLS)]
    }
    /// The strategies.
    pub fn strategies(&self) -> &[StrategyRow] {
        &self.strategies[..self.strategy_count.min(STATUS_STRATEGIES)]
    }
}

/// Where the control API listens and what it needs.
#[derive(Debug, Clone)]
pub struct ControlSetup {
    pub config: crate::ops::ControlConfig,
    /// The bearer token state changes need (`None`: every change is refused).
    pub token: Option<String>,
    /// The file `POST /reload` re-reads (`None`: reload is refused).
    pub config_path: Option<PathBuf>,
}

impl ControlSetup {
    /// Binds the control API for the symbols of `symbols`, joined to `client`.
    pub fn bind(
        &self,
        client: crate::engine::control::ControlClient,
        symbols: &crate::core::SymbolTable,
    ) -> anyhow::Result<crate::ops::ControlServer> {
        use anyhow::Context;
        let names = symbols.names_by_index();
        crate::ops::ControlServer::bind(
            &self.config,
            client,
            names,
            self.config_path.clone(),
            self.token.clone(),
        )
        .with_context(|| format!("control API {}", self.config.listen))
    }
}

/// Commands the ring holds before the ops side answers "busy".
const REQUEST_CAPACITY: usize = 32;
/// Snapshots in flight (the ops side keeps only the newest).
const STATUS_CAPACITY: usize = 2;

/// The ops side of the link.
pub struct ControlClient {
    requests: rtrb::Producer<ControlRequest>,
    replies: rtrb::Consumer<ControlReply>,
    status: rtrb::Consumer<Box<EngineStatus>>,
    returned: rtrb::Producer<Box<EngineStatus>>,
    latest: Option<Box<EngineStatus>>,
    next_id: u64,
}

/// The order thread's side of the link.
pub struct ControlEndpoint {
    requests: rtrb::Consumer<ControlRequest>,
    replies: rtrb::Producer<ControlReply>,
    status: rtrb::Producer<Box<EngineStatus>>,
    /// Empty snapshot boxes handed back by the ops side (allocated once, at start-up).
    spare: rtrb::Consumer<Box<EngineStatus>>,
}

/// Creates both ends of a control link.
pub fn control_link() -> (ControlClient, ControlEndpoint) {
    let (request_tx, request_rx) = rtrb::RingBuffer::new(REQUEST_CAPACITY);
    let (reply_tx, reply_rx) = rtrb::RingBuffer::new(REQUEST_CAPACITY);
    let (status_tx, status_rx) = rtrb::RingBuffer::new(STATUS_CAPACITY);
    // Boxes circulate: the order thread fills a spare and sends it, the ops side keeps the
    // newest and returns the one it replaced. STATUS_CAPACITY + 2 boxes cover every slot.
    let (mut spare_tx, spare_rx) = rtrb::RingBuffer::new(STATUS_CAPACITY + 2);
    for _ in 0..STATUS_CAPACITY + 1 {
        // Fresh ring of capacity STATUS_CAPACITY + 2: these pushes cannot fail.
        let _ = spare_tx.push(Box::default());
    }
    (
        ControlClient {
            requests: request_tx,
            replies: reply_rx,
            status: status_rx,
            returned: spare_tx,
            latest: None,
            next_id: 1,
        },
        ControlEndpoint {
            requests: request_rx,
            replies: reply_tx,
            status: status_tx,
            spare: spare_rx,
        },
    )
}

impl ControlClient {
    /// Queues `command`; returns the id its reply will carry, or `None` when the order
    /// thread has not taken the earlier ones yet (the caller answers "busy").
    pub fn send(&mut self, command: ControlCommand) -> Option<u64> {
        let id = self.next_id;
        self.requests.push(ControlRequest { id, command }).ok()?;
        self.next_id += 1;
        Some(id)
    }

    /// The reply to request `id`, if it has arrived (older replies are discarded).
    pub fn reply(&mut self, id: u64) -> Option<ControlOutcome> {
        while let Ok(reply) = self.replies.pop() {
            if reply.id == id {
                return Some(reply.outcome);
            }
        }
        None
    }

    /// The newest status the order thread published, if any yet.
    pub fn status(&mut self) -> Option<&EngineStatus> {
        while let Ok(next) = self.status.pop() {
            if let Some(old) = self.latest.replace(next) {
                // The spare ring has room for every box in circulation.
                let _ = self.returned.push(old);
            }
        }
        self.latest.as_deref()
    }
}

impl ControlEndpoint {
    /// The next operator command, if any.
    #[inline]
    pub fn next_request(&mut self) -> Option<ControlRequest> {
        self.requests.pop().ok()
    }

    /// Answers a request (dropped if the ops side stopped reading: it times out instead).
    pub fn reply(&mut self, id: u64, outcome: ControlOutcome) {
        let _ = self.replies.push(ControlReply { id, outcome });
    }

    /// Publishes a snapshot filled in by `fill`; skipped (false) when no spare box is back yet.
    pub fn publish(&mut self, fill: impl FnOnce(&mut EngineStatus)) -> bool {
        let Ok(mut slot) = self.spare.pop() else {
            return false;
        };
        fill(&mut slot);
        self.status.push(slot).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_replies_and_snapshots_cross_without_losing_boxes() {
        let (mut client, mut endpoint) = control_link();
        let id = client.send(ControlCommand::Resume).expect("room");
        let request = endpoint.next_request().expect("arrives");
        assert_eq!(request.id, id);
        assert_eq!(request.command, ControlCommand::Resume);
        endpoint.reply(id, ControlOutcome::Done);
        assert_eq!(client.reply(id), Some(ControlOutcome::Done));
        assert!(client.status().is_none());
        // Many snapshots: the ops side always ends with the newest, boxes keep circulating.
        for n in 1..=50u64 {
            assert!(endpoint.publish(|s| s.published_ns = n), "snapshot {n}");
            assert_eq!(client.status().map(|s| s.published_ns), Some(n));
        }
        // Without the ops side reading, the order thread skips instead of blocking.
        let mut published = 0;
        for _ in 0..10 {
            published += usize::from(endpoint.publish(|s| s.published_ns = 99));
        }
        assert!(published <= STATUS_CAPACITY + 1);
        assert_eq!(client.status().map(|s| s.published_ns), Some(99));
    }

    #[test]
    fn a_full_command_ring_says_busy() {
        let (mut client, _endpoint) = control_link();
        for _ in 0..REQUEST_CAPACITY {
            assert!(client.send(ControlCommand::CancelAll).is_some());
        }
        assert!(client.send(ControlCommand::CancelAll).is_none());
    }
}
