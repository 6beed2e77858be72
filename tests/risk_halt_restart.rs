//! A halt survives a restart: a critical breach halts the real order stage, its journal is
//! written as the persist thread writes it, and a new session rebuilt from that journal —
//! with limits under which nothing would trip — still refuses entries until the operator
//! resumes; after the resume, the session after it trades from the start.

mod risk_support;

use kestrel::core::{AssetName, Notional, Side, StrategyId, SymbolTable};
use kestrel::engine::control::{control_link, ControlCommand, ControlOutcome};
use kestrel::engine::persist_loop::encode;
use kestrel::engine::stage::{OrderOutputs, OrderStage};
use kestrel::engine::trading::{paper_venue, rebuild_order_side, risk_rails};
use kestrel::engine::JournalMsg;
use kestrel::oms::manager::OmsConfig;
use kestrel::oms::OmsStage;
use kestrel::persist::{JournalConfig, JournalWriter};
use kestrel::risk::{codes, RiskLimits, StrategyMode, TradingMode};
use risk_support::{instrument, limit, q, Rig, BTC, MS};

/// Appends `messages` to the journal in `dir` as a new session, as the persist thread does.
fn write_session(dir: &std::path::Path, symbols: &SymbolTable, messages: &[JournalMsg]) {
    let (mut writer, recovered) = JournalWriter::open(&JournalConfig::new(dir)).expect("journal");
    writer.begin_session(&recovered).expect("session");
    let mut buf = vec![0u8; 4096];
    for msg in messages {
        let (kind, event_ns, len) = encode(msg, symbols, &mut buf);
        writer
            .append(kind, event_ns, &buf[..len.expect("encodes")])
            .expect("append");
    }
    writer.close().expect("close");
}

/// A session rebuilt from the journal in `dir` with `limits`: the real start-up path.
struct Session {
    stage: OmsStage<kestrel::oms::paper::PaperVenue, kestrel::oms::portfolio::PortfolioLedger>,
    control: kestrel::engine::control::ControlClient,
    out: OrderOutputs,
    journal: Vec<JournalMsg>,
    now: u64,
}

impl Session {
    fn start(
        dir: &std::path::Path,
        symbols: &SymbolTable,
        session: u32,
        limits: RiskLimits,
    ) -> Self {
        let traded = [(BTC, instrument())];
        let usdt = AssetName::new("USDT").expect("asset");
        let (manager, rebuilt) = rebuild_order_side(
            dir,
            session,
            OmsConfig::default(),
            symbols,
            &traded,
            &[(usdt, q("10000"))],
        )
        .expect("rebuilt");
        let venue = paper_venue(&manager, &traded).expect("venue");
        let (rails, restored) = risk_rails(
            limits,
            symbols,
            &traded,
            &[(StrategyId(1), StrategyMode::Enabled)],
            &rebuilt,
        );
        let mut stage = OmsStage::new(manager, venue, rails);
        stage.set_restored(restored);
        let (control, endpoint) = control_link();
        stage.attach_control(endpoint);
        let mut session = Self {
            stage,
            control,
            out: OrderOutputs::with_capacity(1024, 1024),
            journal: Vec::new(),
            now: 50_000 * MS,
        };
        let mut top = kestrel::core::BookTop {
            valid: true,
            bid_count: 1,
            ask_count: 1,
            ..Default::default()
        };
        top.bids[0] = kestrel::core::Level {
            price: risk_support::p("59999.99"),
            qty: q("50"),
        };
        top.asks[0] = kestrel::core::Level {
            price: risk_support::p("60000.00"),
            qty: q("50"),
        };
        let event = kestrel::core::MarketEvent {
            symbol: BTC,
            recv_ns: session.now,
            exch_ts_ms: 0,
            kind: kestrel::core::MarketEventKind::Book(top),
        };
        let now = session.now;
        session.stage.on_market(&event, now, &mut session.out);
        session.settle();
        session
    }

    fn settle(&mut self) {
        for _ in 0..20 {
            self.now += MS;
            let now = self.now;
            self.stage.poll(now, &mut self.out);
        }
        self.out.exec.drain().for_each(drop);
        self.journal.extend(self.out.journal.drain());
    }

    /// Sends a 0.001 BTC limit buy; true when it reached the venue.
    fn entry_sent(&mut self) -> bool {
        let before = self.stage.manager().counters().orders_sent;
        let intent = kestrel::core::OrderIntent {
            intent_seq: self.now,
            ..limit(Side::Buy, "59000", "0.001")
        };
        let now = self.now;
        self.stage.on_intent(&intent, now, &mut self.out);
        self.settle();
        self.stage.manager().counters().orders_sent > before
    }

    /// The operator's resume, through the control link; the order thread answers it.
    fn resume(&mut self) {
        let id = self.control.send(ControlCommand::Resume).expect("room");
        self.settle();
        assert_eq!(self.control.reply(id), Some(ControlOutcome::Done));
    }

    fn last_state(&self) -> Option<(TradingMode, TradingMode, u16)> {
        self.journal.iter().rev().find_map(|m| match m {
            JournalMsg::State { change, .. } => Some((change.from, change.to, change.cause_code)),
            _ => None,
        })
    }
}

#[test]
fn a_critical_halt_survives_a_restart_and_only_resume_clears_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut symbols = SymbolTable::new();
    assert_eq!(symbols.intern("BTCUSDT").expect("name"), BTC);

    // Session 1: the equity floor sits above the account: halted once reconciled.
    let strict = RiskLimits {
        equity_floor: Notional::from_int(20_000),
        ..RiskLimits::non_binding()
    };
    let mut rig = Rig::new(strict, "10000");
    rig.wait_ms(200);
    assert_eq!(
        rig.transitions(),
        vec![(
            TradingMode::Active as u8,
            TradingMode::Halted as u8,
            codes::CAUSE_EQUITY_FLOOR
        )]
    );
    rig.send(limit(Side::Buy, "59000", "0.001"));
    assert_eq!(rig.last_reject(), codes::HALTED);
    write_session(dir.path(), &symbols, &rig.journal);

    // Session 2, after the restart: limits under which nothing trips, and still halted.
    let mut second = Session::start(dir.path(), &symbols, 2, RiskLimits::non_binding());
    assert_eq!(
        second.last_state(),
        Some((
            TradingMode::Active,
            TradingMode::Halted,
            codes::CAUSE_EQUITY_FLOOR
        )),
        "the restored halt is journaled with its original cause"
    );
    assert!(!second.entry_sent(), "halted across the restart");
    second.now += 3_600_000 * MS; // an hour later, past any timer
    second.settle();
    assert!(!second.entry_sent(), "no timer clears it");
    second.resume();
    assert_eq!(
        second.last_state(),
        Some((
            TradingMode::Halted,
            TradingMode::Active,
            codes::CAUSE_OPERATOR_RESUME
        ))
    );
    assert!(second.entry_sent(), "resumed");
    write_session(dir.path(), &symbols, &second.journal);

    // Session 3: the journal's last word is the resume: trading from the start.
    let mut third = Session::start(dir.path(), &symbols, 3, RiskLimits::non_binding());
    assert_eq!(third.last_state(), None);
    assert!(third.entry_sent());
}

#[test]
fn a_kill_switch_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut symbols = SymbolTable::new();
    symbols.intern("BTCUSDT").expect("name");
    let mut rig = Rig::new(RiskLimits::non_binding(), "10000");
    assert_eq!(
        rig.command(ControlCommand::Kill {
            cancel_all: false,
            flatten: false
        }),
        ControlOutcome::Done
    );
    write_session(dir.path(), &symbols, &rig.journal);
    let mut second = Session::start(dir.path(), &symbols, 2, RiskLimits::non_binding());
    assert_eq!(
        second.last_state(),
        Some((
            TradingMode::Active,
            TradingMode::Halted,
            codes::CAUSE_KILL_SWITCH
        ))
    );
    assert!(!second.entry_sent());
    second.resume();
    assert!(second.entry_sent());
}
