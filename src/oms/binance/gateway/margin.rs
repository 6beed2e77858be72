//! Owns: the Binance gateway's margin mode — the listenToken of each margin account traded
//! (fetched over REST, renewed before it expires, subscribed on the WebSocket API and
//! subscribed again after a reconnect), which account (cross or isolated) each request
//! names, and the reuse of REST buffers by margin orders. Never: sends an order (the
//! gateway's REST path does) or reads the clock (times come in).
//!
//! The protocol is in the gateway's module doc (Binance margin trade data stream,
//! developers.binance.com/docs/margin_trading/trade-data-stream, 2025-10).

use super::{BinanceGateway, Phase, RestPurpose};
use crate::core::{ClientOrderId, Market, SymbolId};
use crate::feed::ws::WsConnection;
use crate::oms::binance::response::{ListenToken, Pending, ReplyKind, ReplyOutcome};
use crate::oms::binance::{BuildError, OrderRoute, OrderSymbols, ParseError, Request, SymbolScope};
use crate::oms::venue::{VenueCommand, VenueReject};

/// A failed listenToken request is asked again after this long.
const TOKEN_RETRY_NS: u64 = 1_000_000_000;

/// One margin account's user-data listenToken: the cross account's, or one isolated
/// symbol's.
#[derive(Clone, Copy, Debug)]
pub(super) struct TokenSlot {
    /// The isolated account's symbol; `None` for the cross account.
    pub(super) isolated_symbol: Option<SymbolId>,
    pub(super) token: Option<ListenToken>,
    /// A token request is in flight.
    pub(super) requested: bool,
    /// Subscribed with `token` on the current connection.
    pub(super) subscribed: bool,
    /// A newer token arrived while the subscription with the older one was in flight:
    /// subscribe again once that one is answered.
    pub(super) resubscribe: bool,
    /// When to fetch the next token: before this one expires, or the retry of a failure
    /// (0: at once).
    pub(super) renew_at_ns: u64,
}

impl BinanceGateway {
    /// The listenToken slots of a margin gateway: the cross account, or each symbol's
    /// isolated account (Binance issues an isolated token per symbol).
    pub(super) fn token_slots(symbols: &OrderSymbols, isolated: bool) -> Vec<TokenSlot> {
        let slot = |isolated_symbol| TokenSlot {
            isolated_symbol,
            token: None,
            requested: false,
            subscribed: false,
            resubscribe: false,
            renew_at_ns: 0,
        };
        if !isolated {
            return vec![slot(None)];
        }
        (0..symbols.id_bound())
            .map(|index| SymbolId(index as u32))
            .filter(|&id| symbols.get(id).is_some())
            .map(|id| slot(Some(id)))
            .collect()
    }

    /// The account a request about `symbol` on `market` names: the isolated one of the
    /// symbol when this margin gateway trades isolated margin.
    pub(super) fn scope_of(&self, symbol: SymbolId, market: Market) -> SymbolScope {
        if market == Market::Margin && self.config.codec.isolated_margin {
            SymbolScope::isolated(symbol)
        } else {
            SymbolScope::new(symbol, market)
        }
    }

    /// A margin order for the other margin account than the one this gateway trades (cross
    /// vs isolated): its cancels, queries and stream would look in the wrong account.
    pub(super) fn wrong_margin_account(&self, command: &VenueCommand) -> Option<VenueReject> {
        let (client_order_id, market, margin) = match command {
            VenueCommand::Place(order) => (order.client_order_id, order.market, order.margin),
            VenueCommand::PlaceOco(oco) => (oco.list_id, oco.market, oco.margin),
            _ => return None,
        };
        let isolated = self.config.codec.isolated_margin;
        (market == Market::Margin && margin.isolated != isolated).then(|| {
            BuildError::BadOrder {
                client_order_id,
                reason: if isolated {
                    "a cross-margin order on a gateway trading isolated margin"
                } else {
                    "an isolated-margin order on a gateway trading cross margin"
                },
            }
            .to_reject()
        })
    }

    /// Fetches each margin account's listenToken: the first, a renewal once due, or the
    /// retry of a failed request.
    pub(super) fn maintain_tokens(&mut self, now_ns: u64) {
        for slot in 0..self.tokens.len() {
            let TokenSlot {
                isolated_symbol,
                token,
                requested,
                renew_at_ns,
                ..
            } = self.tokens[slot];
            if requested || now_ns < renew_at_ns {
                continue;
            }
            if token.is_some() {
                self.counters.listen_token_renewals += 1;
            }
            let request = Request::MarginListenToken {
                isolated_symbol,
                validity_ms: self.config.listen_token_validity_ms,
            };
            let sent = self.send_rest(&request, RestPurpose::ListenToken(slot), now_ns, None);
            self.tokens[slot].requested = sent;
            if !sent {
                self.tokens[slot].renew_at_ns = now_ns.saturating_add(TOKEN_RETRY_NS);
            }
        }
    }

    /// Keeps a REST job's buffers for the next request (margin only: spot and futures send
    /// few REST requests and keep none).
    pub(super) fn reuse_rest_buffers(&mut self, buffers: [String; 2]) {
        for buffer in buffers {
            if self.rest_buffers.len() < self.rest_buffers.capacity() {
                self.rest_buffers.push(buffer);
            }
        }
    }

    /// On a connection coming up: subscribes every margin account whose token is there and
    /// not yet subscribed (or being subscribed).
    pub(super) fn subscribe_tokens_due(&mut self, now_ns: u64) {
        if self.phase == Phase::Connecting && self.api.as_ref().is_some_and(WsConnection::is_open) {
            for slot in 0..self.tokens.len() {
                let due = self.tokens[slot].token.is_some()
                    && !self.tokens[slot].subscribed
                    && !self.in_flight.values().any(|f| f.token_slot == Some(slot));
                if due {
                    self.subscribe_token(slot, now_ns);
                }
            }
        }
    }

    /// Subscribes margin account `slot` with its listenToken (on a fresh connection, or
    /// again with a renewed token, which extends the subscription).
    fn subscribe_token(&mut self, slot: usize, now_ns: u64) {
        let Some(token) = self.tokens.get(slot).and_then(|s| s.token) else {
            return;
        };
        let pending = Pending {
            kind: ReplyKind::SubscribeUserData,
            market: Market::Margin,
            route: OrderRoute::Book,
            symbol: self.tokens[slot].isolated_symbol.unwrap_or(SymbolId(0)),
            client_order_id: ClientOrderId(0),
        };
        let request = Request::SubscribeListenToken {
            listen_token: token.as_str(),
        };
        if let Err(error) = self.send_ws_control_for(&request, pending, Some(slot), now_ns) {
            self.last_error = Some(error);
            self.connection_lost(now_ns);
        }
    }

    /// A margin listenToken arrived for `slot` (or its request failed).
    pub(super) fn on_listen_token(
        &mut self,
        slot: usize,
        outcome: &Result<ReplyOutcome, ParseError>,
        now_ns: u64,
    ) {
        let venue_now_ms = self.clock.timestamp_ms(self.local_ms(now_ns));
        let lead_limit_ms = self.config.listen_token_renew_lead_ms;
        let Some(entry) = self.tokens.get_mut(slot) else {
            return;
        };
        entry.requested = false;
        let Ok(ReplyOutcome::ListenToken(token)) = *outcome else {
            entry.renew_at_ns = now_ns.saturating_add(TOKEN_RETRY_NS);
            return;
        };
        // Renew before `expirationTime` (venue ms), by the configured lead or half the
        // token's life, whichever is shorter.
        let left_ms = token.expiration_ms.saturating_sub(venue_now_ms);
        let lead_ms = lead_limit_ms.min(left_ms / 2);
        entry.token = Some(token);
        entry.renew_at_ns = now_ns.saturating_add((left_ms - lead_ms).saturating_mul(1_000_000));
        let renewing = entry.subscribed;
        let answer_pending = self.in_flight.values().any(|f| f.token_slot == Some(slot));
        // A renewed token is subscribed on the live connection at once (that extends the
        // subscription); a first one once the connection is open (`subscribe_tokens_due`);
        // one that overtook a subscription still in flight after that is answered.
        if answer_pending {
            if let Some(entry) = self.tokens.get_mut(slot) {
                entry.resubscribe = true;
            }
        } else if renewing && self.api.as_ref().is_some_and(WsConnection::is_open) {
            self.subscribe_token(slot, now_ns);
        }
    }

    /// The answer to a margin `userDataStream.subscribe.listenToken`: the link is up once
    /// every account is subscribed; a refusal (-1209: invalid or expired token) drops the
    /// token and the connection, and a new token is subscribed on the next one.
    pub(super) fn on_token_subscribed(
        &mut self,
        slot: usize,
        outcome: Result<ReplyOutcome, ParseError>,
        now_ns: u64,
    ) {
        if let Ok(ReplyOutcome::Subscribed { .. }) = outcome {
            let mut again = false;
            if let Some(entry) = self.tokens.get_mut(slot) {
                entry.subscribed = true;
                again = std::mem::take(&mut entry.resubscribe);
            }
            self.subscribed = self.tokens.iter().all(|s| s.subscribed);
            self.link_ready(now_ns);
            if again {
                self.subscribe_token(slot, now_ns);
            }
            return;
        }
        if let Err(error) = &outcome {
            self.parse_failed(error);
        }
        if let Some(entry) = self.tokens.get_mut(slot) {
            entry.token = None;
            entry.resubscribe = false;
            entry.renew_at_ns = 0;
        }
        self.last_error = Some("margin listenToken subscription refused".to_owned());
        self.connection_lost(now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{reconcile_request, GatewayConfig, GatewayKeys, ReconcileRun};
    use super::*;
    use crate::core::{Instrument, SymbolTable};
    use crate::oms::binance::{BinanceOrderCodec, CodecConfig, HmacSigner, InstrumentFamily};
    use crate::oms::venue::{MarginParams, VenueOrder};

    fn symbols() -> (OrderSymbols, SymbolId, SymbolId) {
        let mut table = SymbolTable::new();
        let btc = table.intern("BTCUSDT").expect("valid name");
        let eth = table.intern("ETHUSDT").expect("valid name");
        let instruments = [
            Instrument::new("BTCUSDT", Market::Spot, "BTC", "USDT"),
            Instrument::new("ETHUSDT", Market::Spot, "ETH", "USDT"),
        ];
        let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &instruments)
            .expect("spot instruments");
        (symbols, btc, eth)
    }

    fn gateway(isolated: bool) -> BinanceGateway {
        let mut config = GatewayConfig::for_host(Market::Margin, "127.0.0.1:9", false);
        config.codec.isolated_margin = isolated;
        BinanceGateway::new(config, &GatewayKeys::simex_test(), symbols().0, &[])
            .expect("a margin gateway on spot symbols")
    }

    #[test]
    fn margin_reconciliation_asks_the_margin_endpoints_of_the_traded_account() {
        let (symbols, btc, _) = symbols();
        let signer = HmacSigner::new(b"secret").expect("non-empty");
        let mut codec =
            BinanceOrderCodec::new(symbols, "key", signer, CodecConfig::default()).expect("codec");
        let run = ReconcileRun::new(btc, Market::Margin, 5);
        for (scope, account_path, flag) in [
            (
                SymbolScope::new(btc, Market::Margin),
                "/sapi/v1/margin/account",
                "isIsolated=FALSE",
            ),
            (
                SymbolScope::isolated(btc),
                "/sapi/v1/margin/isolated/account",
                "isIsolated=TRUE",
            ),
        ] {
            let built: Vec<(&str, String)> = BinanceGateway::reconcile_steps(Market::Margin)
                .iter()
                .map(|step| {
                    let (request, ..) = reconcile_request(*step, scope, &run, 7);
                    let rest = codec.rest(&request, 1).expect("builds");
                    (rest.path, rest.query_str().to_owned())
                })
                .collect();
            let paths: Vec<&str> = built.iter().map(|(path, _)| *path).collect();
            assert_eq!(
                paths,
                [
                    "/sapi/v1/margin/openOrders",
                    "/sapi/v1/margin/myTrades",
                    "/sapi/v1/margin/allOrders",
                    account_path
                ]
            );
            assert!(
                built[..3].iter().all(|(_, query)| query.contains(flag)),
                "{built:?}"
            );
            assert!(built[1].1.contains("fromId=6") && built[2].1.contains("orderId=7"));
        }
    }

    #[test]
    fn a_margin_gateway_holds_one_token_per_account_and_refuses_the_other_account() {
        let cross = gateway(false);
        assert_eq!(cross.tokens.len(), 1);
        assert_eq!(cross.tokens[0].isolated_symbol, None);
        let isolated = gateway(true);
        let (_, btc, eth) = symbols();
        let slots: Vec<_> = isolated.tokens.iter().map(|s| s.isolated_symbol).collect();
        assert_eq!(slots, [Some(btc), Some(eth)]);
        assert_eq!(
            isolated.scope_of(btc, Market::Margin),
            SymbolScope::isolated(btc)
        );
        assert_eq!(
            cross.scope_of(btc, Market::Margin),
            SymbolScope::new(btc, Market::Margin)
        );
        let order = |isolated| {
            VenueCommand::Place(VenueOrder {
                symbol: btc,
                market: Market::Margin,
                margin: MarginParams {
                    isolated,
                    ..MarginParams::default()
                },
                ..VenueOrder::default()
            })
        };
        assert!(cross.wrong_margin_account(&order(false)).is_none());
        assert!(cross.wrong_margin_account(&order(true)).is_some());
        assert!(isolated.wrong_margin_account(&order(true)).is_none());
        assert!(isolated.wrong_margin_account(&order(false)).is_some());
    }

    #[test]
    fn a_token_that_overtakes_a_subscription_in_flight_is_subscribed_once_that_is_answered() {
        use crate::oms::binance::response::parse_listen_token;
        let mut gateway = gateway(false);
        let token = |expiration: u64| {
            let body = format!(r#"{{"token":"abc+/=","expirationTime":{expiration}}}"#);
            parse_listen_token(body.as_bytes()).expect("valid token")
        };
        gateway.tokens[0].token = Some(token(1));
        let pending = Pending {
            kind: ReplyKind::SubscribeUserData,
            market: Market::Margin,
            route: OrderRoute::Book,
            symbol: SymbolId(0),
            client_order_id: ClientOrderId(0),
        };
        gateway.in_flight.insert(
            9,
            super::super::InFlight {
                pending,
                sent_ns: 0,
                token_slot: Some(0),
            },
        );
        let newer = token(u64::MAX);
        gateway.on_listen_token(0, &Ok(ReplyOutcome::ListenToken(newer)), 0);
        assert_eq!(gateway.tokens[0].token, Some(newer));
        assert!(
            gateway.tokens[0].resubscribe,
            "waits for the answer in flight"
        );
        assert!(!gateway.tokens[0].requested);
        gateway.in_flight.remove(&9);
        // Answered: the newer token goes out at once (here there is no connection to send
        // it on, which the gateway treats as a lost link).
        gateway.on_token_subscribed(0, Ok(ReplyOutcome::Subscribed { subscription_id: 0 }), 0);
        assert!(!gateway.tokens[0].resubscribe);
        assert_eq!(
            gateway.last_error(),
            Some("no WebSocket API connection"),
            "the resubscription was attempted"
        );
        // A refused subscription drops the token: a new one is fetched at once.
        gateway.tokens[0].token = Some(newer);
        gateway.on_token_subscribed(0, Err(ParseError::SinkFull("test")), 5);
        assert_eq!(gateway.tokens[0].token, None);
        assert_eq!(gateway.tokens[0].renew_at_ns, 0);
    }

    #[test]
    fn a_margin_gateway_needs_spot_symbols() {
        let mut table = SymbolTable::new();
        table.intern("BTCUSDT").expect("valid name");
        let futures = OrderSymbols::new(
            InstrumentFamily::UsdmFutures,
            &table,
            &[Instrument::new(
                "BTCUSDT",
                Market::UsdmFutures,
                "BTC",
                "USDT",
            )],
        )
        .expect("futures instruments");
        let config = GatewayConfig::for_host(Market::Margin, "127.0.0.1:9", false);
        assert!(matches!(
            BinanceGateway::new(config, &GatewayKeys::simex_test(), futures, &[]),
            Err(super::super::GatewayError::Market(Market::Margin))
        ));
    }
}
