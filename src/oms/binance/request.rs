//! Owns: the Binance order codec's request side: what a request is, the codec that turns it
//! into a signed REST request or WebSocket API frame in one reused buffer, and why a build fails.
//! Never: does I/O, reads the clock (timestamps come in), or allocates per order.
//!
//! Which endpoint and which params each request uses lives in `endpoints`; this file holds
//! the transport framing and signing, which are the same for every request.
//!
//! Session authentication (Binance web-socket-api "Session Authentication"): once the
//! connection's `session.logon` succeeded, the caller switches the codec to
//! [`BinanceOrderCodec::set_session_authenticated`], and WebSocket API requests that would be
//! HMAC-signed go without `apiKey` and `signature` (they keep `timestamp` and `recvWindow`):
//! no HMAC on the order path. `userDataStream.subscribe.signature` keeps its signature (its
//! name says it carries one), and REST is always signed.

use super::endpoints::{fill_params, is_book_stop_limit, Endpoint, Signing};
use super::order_prefix::{OrderPrefixes, PREFIX_PARAMS};
use super::params::{Param, ParamError, ParamSet};
use super::sign::{Ed25519Signer, HmacSigner, PrefixedHmacSigner};
use super::symbols::{InstrumentFamily, OrderSymbols};
use super::wire::{Overflow, WireBuf};
use crate::core::decimal::write_u64;
use crate::core::{ClientOrderId, FilterReject, Market, Price, SymbolId};
use crate::oms::venue::{OcoOrder, RejectKind, VenueOrder, VenueReject};

/// Bytes reserved for one encoded request; the largest (an OCO over the WebSocket API)
/// stays well under it, so no request grows the buffer.
const REQUEST_CAPACITY: usize = 4096;

/// The user-data subscription that carries its own signature, logged on or not.
const SUBSCRIBE_WITH_SIGNATURE: &str = "userDataStream.subscribe.signature";

/// Entries a reconciliation page asks for (`limit`): Binance's largest page of `myTrades`,
/// `userTrades` and `allOrders`. A shorter page is the last.
pub const RECONCILE_PAGE: u64 = 1000;

/// HTTP method of a REST request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Delete,
}

impl HttpMethod {
    /// Upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Where a futures order lives: the regular book, or the Algo Service that has held
/// conditional orders since 2025-12 (protocols.md §1.5).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OrderRoute {
    /// `/order`, `/openOrders`, `order.*`.
    #[default]
    Book,
    /// `/algoOrder`, `/openAlgoOrders`, `algoOrder.*` (USDⓈ-M conditional orders only).
    Algo,
}

impl OrderRoute {
    /// The route an order takes: futures stops and take-profits go to the Algo Service.
    pub fn of(order: &VenueOrder) -> Self {
        use crate::core::OrderType;
        match (order.market, order.order_type) {
            (Market::UsdmFutures, OrderType::StopMarket | OrderType::TakeProfitMarket) => {
                OrderRoute::Algo
            }
            _ => OrderRoute::Book,
        }
    }
}

/// The symbol and account a request is about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SymbolScope {
    pub symbol: SymbolId,
    pub market: Market,
    /// Isolated margin account of the symbol (margin only).
    pub isolated_margin: bool,
}

impl SymbolScope {
    /// A spot, cross-margin or futures scope.
    pub const fn new(symbol: SymbolId, market: Market) -> Self {
        Self {
            symbol,
            market,
            isolated_margin: false,
        }
    }
    /// The isolated margin account of `symbol`.
    pub const fn isolated(symbol: SymbolId) -> Self {
        Self {
            symbol,
            market: Market::Margin,
            isolated_margin: true,
        }
    }
}

/// What the futures listenKey endpoint is asked to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ListenKeyAction {
    /// `POST`: create (or return and extend the active one).
    Open,
    /// `PUT`: extend by 60 minutes.
    KeepAlive,
    /// `DELETE`: close.
    Close,
}

/// One request the gateway can send.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Request<'a> {
    /// Place one order; `reference_price` (average or mark price, zero when unknown) values
    /// market orders and bands limit prices in the local filter check.
    Place {
        order: &'a VenueOrder,
        reference_price: Price,
    },
    /// Place a spot or margin OCO exit.
    PlaceOco {
        oco: &'a OcoOrder,
        reference_price: Price,
    },
    /// Cancel one order by client id.
    Cancel {
        scope: SymbolScope,
        client_order_id: ClientOrderId,
        route: OrderRoute,
    },
    /// Cancel every open order of a symbol on one route.
    CancelAll {
        scope: SymbolScope,
        route: OrderRoute,
    },
    /// Ask for one order's state.
    QueryOrder {
        scope: SymbolScope,
        client_order_id: ClientOrderId,
        route: OrderRoute,
    },
    /// List the open orders of a symbol on one route.
    OpenOrders {
        scope: SymbolScope,
        route: OrderRoute,
    },
    /// Our trades on a symbol after `since_trade_id`, one page of [`RECONCILE_PAGE`].
    Trades {
        scope: SymbolScope,
        since_trade_id: u64,
    },
    /// Orders of a symbol in any state from venue order id `from_order_id` on, one page of
    /// [`RECONCILE_PAGE`] (`allOrders`: resolves the orders of trades nobody journaled).
    AllOrders {
        scope: SymbolScope,
        from_order_id: u64,
    },
    /// Balances (spot, cross or isolated margin) or the futures account.
    Account { scope: SymbolScope },
    /// USDⓈ-M positions (`positionRisk`), of one symbol or all (`None`).
    Positions { symbol: Option<SymbolId> },
    /// The venue clock (`/time`), unsigned.
    ServerTime,
    /// The futures user-data listenKey (API key only, unsigned).
    ListenKey(ListenKeyAction),
    /// Spot user data over the WebSocket API: `userDataStream.subscribe` on a session that
    /// passed `session.logon`, else the signed `userDataStream.subscribe.signature`.
    SubscribeUserData { after_logon: bool },
    /// A margin user-data listenToken (`POST /sapi/v1/userListenToken`): of the cross
    /// margin account, or of `isolated_symbol`'s isolated account, valid for `validity_ms`
    /// (0 leaves it to the venue: 24 h, also the maximum).
    MarginListenToken {
        isolated_symbol: Option<SymbolId>,
        validity_ms: u64,
    },
    /// Margin user data over the WebSocket API with a listenToken
    /// (`userDataStream.subscribe.listenToken`; no signature, no logon).
    SubscribeListenToken { listen_token: &'a str },
    /// Authenticate the WebSocket API session with the Ed25519 key (`session.logon`).
    Logon,
}

/// What a request costs against the venue's limits, as documented (the response headers
/// are authoritative; the rate tracker resyncs to them).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RequestCost {
    /// Request weight.
    pub weight: u32,
    /// Orders counted against the order-rate limits.
    pub orders: u32,
}

/// A REST request ready for the transport: send `X-MBX-APIKEY` when `needs_api_key`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RestRequest<'a> {
    pub method: HttpMethod,
    pub path: &'static str,
    /// Query string without `?` (ASCII; empty for POST/PUT).
    pub query: &'a [u8],
    /// `application/x-www-form-urlencoded` body (ASCII; empty for GET/DELETE).
    pub body: &'a [u8],
    pub needs_api_key: bool,
    pub cost: RequestCost,
}

impl RestRequest<'_> {
    /// The query string as text (it is always ASCII).
    pub fn query_str(&self) -> &str {
        std::str::from_utf8(self.query).unwrap_or("")
    }
    /// The body as text (it is always ASCII).
    pub fn body_str(&self) -> &str {
        std::str::from_utf8(self.body).unwrap_or("")
    }
}

/// A WebSocket API text frame ready to send.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WsRequest<'a> {
    /// The JSON request, ASCII.
    pub text: &'a [u8],
    /// The method name (`order.place`, …) for logs and metrics.
    pub method: &'static str,
    pub cost: RequestCost,
}

impl WsRequest<'_> {
    /// The frame as text (it is always ASCII).
    pub fn text_str(&self) -> &str {
        std::str::from_utf8(self.text).unwrap_or("")
    }
}

/// Binance's `newOrderRespType`: how much the order reply carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OrderResponseType {
    /// Ids and time only: the fastest reply; fills come from the user-data stream.
    #[default]
    Ack,
    /// Plus the order's state.
    Result,
    /// Plus the immediate fills (spot and margin; futures answer `RESULT`).
    Full,
}

impl OrderResponseType {
    pub(crate) const fn as_str(self, market: Market) -> &'static str {
        match (self, market) {
            (OrderResponseType::Ack, _) => "ACK",
            (OrderResponseType::Result, _) | (OrderResponseType::Full, Market::UsdmFutures) => {
                "RESULT"
            }
            (OrderResponseType::Full, _) => "FULL",
        }
    }
}

/// Which price triggers USDⓈ-M conditional orders (`workingType`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum TriggerPriceSource {
    /// The mark price: a protective stop is not triggered by a one-print wick on the book.
    #[default]
    MarkPrice,
    /// The last traded price (the venue's own default).
    ContractPrice,
}

impl TriggerPriceSource {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            TriggerPriceSource::MarkPrice => "MARK_PRICE",
            TriggerPriceSource::ContractPrice => "CONTRACT_PRICE",
        }
    }
}

/// Per-codec settings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CodecConfig {
    /// `recvWindow` in ms (≤ 60000); 0 leaves it out (the venue then uses 5000).
    pub recv_window_ms: u32,
    /// `newOrderRespType` for placements.
    pub response_type: OrderResponseType,
    /// Trigger source of futures conditional orders.
    pub trigger_price_source: TriggerPriceSource,
    /// Whether the venue still takes `sideEffectType=AUTO_BORROW_REPAY` (protocols.md §1.4
    /// reports, unconfirmed, that it was retired). When false it becomes the pair it
    /// replaced: `AUTO_REPAY` for reduce-only orders, `MARGIN_BUY` otherwise.
    pub auto_borrow_repay: bool,
    /// The margin account a margin gateway trades: each symbol's isolated account rather
    /// than the cross account (orders still say which they mean in `MarginParams`).
    pub isolated_margin: bool,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            recv_window_ms: 5_000,
            response_type: OrderResponseType::Ack,
            trigger_price_source: TriggerPriceSource::MarkPrice,
            auto_borrow_repay: true,
            isolated_margin: false,
        }
    }
}

/// Why a request was not built; every case is a local refusal before anything is sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BuildError {
    /// The symbol is not in the codec's table.
    #[error("symbol {0:?} is not tradable through this codec")]
    UnknownSymbol(SymbolId),
    /// The order's market is served by the other codec (spot vs futures instruments).
    #[error("{market:?} requests do not go through the {family:?} codec")]
    WrongMarket {
        market: Market,
        family: InstrumentFamily,
    },
    /// The order fails the instrument's exchange filters.
    #[error("order {client_order_id}: {reject}")]
    Filter {
        client_order_id: ClientOrderId,
        reject: FilterReject,
    },
    /// The order is inconsistent (a limit without a price, an OCO with its legs crossed, …).
    #[error("order {client_order_id}: {reason}")]
    BadOrder {
        client_order_id: ClientOrderId,
        reason: &'static str,
    },
    /// A value could not be written (too precise for the venue, unsafe text, too long).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The venue has no such request on this market.
    #[error("{what} is not available on {market:?}")]
    Unsupported { what: &'static str, market: Market },
    /// The venue has this request over REST only.
    #[error("{what} has no WebSocket API method on {market:?}; send it over REST")]
    RestOnly { what: &'static str, market: Market },
    /// The venue has this request over the WebSocket API only.
    #[error("{0} exists only on the WebSocket API")]
    WsOnly(&'static str),
    /// `session.logon` needs the Ed25519 key, which was not configured.
    #[error("session.logon needs an Ed25519 key; none is configured")]
    NoLogonKey,
}

impl BuildError {
    /// The refusal as the order manager sees it, with the code the venue itself would have
    /// answered where there is one (-1013 filter, -1111 precision, -1121 symbol).
    pub fn to_reject(&self) -> VenueReject {
        let (kind, code) = match self {
            BuildError::UnknownSymbol(_) | BuildError::WrongMarket { .. } => {
                (RejectKind::BadSymbol, -1121)
            }
            BuildError::Filter { .. } => (RejectKind::Filter, -1013),
            BuildError::Param(ParamError::TooPrecise { .. }) => (RejectKind::Filter, -1111),
            BuildError::BadOrder { .. } | BuildError::Param(_) => (RejectKind::Other, -1102),
            BuildError::Unsupported { .. }
            | BuildError::RestOnly { .. }
            | BuildError::WsOnly(_)
            | BuildError::NoLogonKey => (RejectKind::Other, 0),
        };
        VenueReject {
            kind,
            code,
            retry_after_ms: 0,
        }
    }
}

impl From<Overflow> for BuildError {
    fn from(overflow: Overflow) -> Self {
        BuildError::Param(ParamError::from(overflow))
    }
}

/// Why a codec could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The API key would need escaping in a query or JSON string.
    #[error("API key is empty or holds characters other than ASCII letters and digits")]
    BadApiKey,
    /// The constant order prefixes could not be written (a symbol name too long for them).
    #[error("cannot precompute the REST order prefixes: {0}")]
    Prefix(ParamError),
    /// `recvWindow` above the venue's 60000 ms maximum.
    #[error("recvWindow {0} ms exceeds the venue maximum of 60000")]
    RecvWindowTooLarge(u32),
}

/// Turns requests into signed Binance REST requests and WebSocket API frames.
pub struct BinanceOrderCodec {
    symbols: OrderSymbols,
    api_key: String,
    signer: HmacSigner,
    /// `signer` with `apiKey=<key>&` absorbed: most WebSocket API payloads start with it.
    ws_signer: PrefixedHmacSigner,
    /// `signer` with each REST placement's constant prefix absorbed.
    order_prefixes: OrderPrefixes,
    logon_signer: Option<Ed25519Signer>,
    /// The API key of the Ed25519 key `session.logon` names (on Binance a separate API key
    /// of the same account: a key has one type, HMAC or Ed25519).
    logon_api_key: String,
    /// The WebSocket API connection is logged on: HMAC requests go unsigned.
    session_authenticated: bool,
    config: CodecConfig,
    /// `recvWindow` as sent (empty when left out), written once.
    recv_window_text: String,
    /// `"apiKey":"<key>"`, the JSON member every signed WebSocket API frame carries.
    api_key_json: String,
    params: ParamSet,
    payload: WireBuf,
    out: WireBuf,
}

impl std::fmt::Debug for BinanceOrderCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceOrderCodec")
            .field("family", &self.symbols.family())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Which wire form a request is being built for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Transport {
    Rest,
    WsApi,
}

impl BinanceOrderCodec {
    /// A codec for the symbols of one family, signing with `signer` under `api_key`.
    pub fn new(
        symbols: OrderSymbols,
        api_key: &str,
        signer: HmacSigner,
        config: CodecConfig,
    ) -> Result<Self, CodecError> {
        if api_key.is_empty() || !api_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CodecError::BadApiKey);
        }
        if config.recv_window_ms > 60_000 {
            return Err(CodecError::RecvWindowTooLarge(config.recv_window_ms));
        }
        let ws_signer = signer.with_prefix(format!("apiKey={api_key}&").as_bytes());
        let order_prefixes =
            OrderPrefixes::new(&symbols, &signer, &config).map_err(CodecError::Prefix)?;
        let recv_window_text = match config.recv_window_ms {
            0 => String::new(),
            ms => ms.to_string(),
        };
        Ok(Self {
            recv_window_text,
            api_key_json: format!("\"apiKey\":\"{api_key}\""),
            order_prefixes,
            symbols,
            api_key: api_key.to_owned(),
            ws_signer,
            signer,
            logon_signer: None,
            logon_api_key: String::new(),
            session_authenticated: false,
            config,
            params: ParamSet::default(),
            payload: WireBuf::with_capacity(REQUEST_CAPACITY),
            out: WireBuf::with_capacity(REQUEST_CAPACITY),
        })
    }

    /// Adds the Ed25519 key `session.logon` signs with and the API key it belongs to.
    pub fn with_logon_key(mut self, api_key: &str, signer: Ed25519Signer) -> Self {
        self.logon_signer = Some(signer);
        self.logon_api_key = api_key.to_owned();
        self
    }

    /// Whether the WebSocket API connection is logged on (`session.logon` answered success):
    /// from then on its HMAC requests are written without `apiKey` and `signature`. Set it
    /// back to false when the connection is lost.
    pub fn set_session_authenticated(&mut self, logged_on: bool) {
        self.session_authenticated = logged_on;
    }

    /// Whether WebSocket API requests rely on the session's logon.
    pub fn is_session_authenticated(&self) -> bool {
        self.session_authenticated
    }

    /// Whether `session.logon` can be built (an Ed25519 key is set).
    pub fn has_logon_key(&self) -> bool {
        self.logon_signer.is_some()
    }

    /// The key for the `X-MBX-APIKEY` header.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The symbols this codec trades.
    pub fn symbols(&self) -> &OrderSymbols {
        &self.symbols
    }

    /// The settings in force.
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    fn prepare(
        &mut self,
        request: &Request<'_>,
        timestamp_ms: u64,
        transport: Transport,
    ) -> Result<Endpoint, BuildError> {
        self.params.clear();
        let endpoint = fill_params(
            &mut self.params,
            &self.symbols,
            &self.config,
            request,
            transport,
        )?;
        // HMAC frames write `apiKey` from precomputed text (see `write_ws_frame`).
        if transport == Transport::WsApi && endpoint.signing == Signing::Ed25519 {
            self.params
                .trusted_text(Param::ApiKey, &self.logon_api_key)?;
        }
        if matches!(endpoint.signing, Signing::Hmac | Signing::Ed25519) {
            if !self.recv_window_text.is_empty() {
                self.params
                    .trusted_text(Param::RecvWindow, &self.recv_window_text)?;
            }
            self.params.integer(Param::Timestamp, timestamp_ms)?;
        }
        Ok(endpoint)
    }

    /// Builds `request` as a REST request, signed at `timestamp_ms` (venue time, ms).
    pub fn rest(
        &mut self,
        request: &Request<'_>,
        timestamp_ms: u64,
    ) -> Result<RestRequest<'_>, BuildError> {
        let endpoint = self.prepare(request, timestamp_ms, Transport::Rest)?;
        let path = endpoint
            .rest_path
            .ok_or(BuildError::WsOnly(endpoint.what))?;
        self.out.clear();
        match endpoint.signing {
            Signing::Hmac => {
                let prefixed = match request {
                    Request::Place { order, .. }
                        if OrderRoute::of(order) == OrderRoute::Book
                            && !is_book_stop_limit(order) =>
                    {
                        self.order_prefixes
                            .get(order.symbol, order.side, order.order_type)
                    }
                    _ => None,
                };
                let signature = match prefixed {
                    Some(prefixed) => {
                        let prefix_len = prefixed.prefix().len();
                        self.out.extend(prefixed.prefix())?;
                        self.params
                            .write_query_without(&PREFIX_PARAMS, &mut self.out)?;
                        prefixed.sign_rest(&self.out.as_bytes()[prefix_len..])
                    }
                    None => {
                        self.params.write_query(&mut self.out)?;
                        self.signer.sign(self.out.as_bytes())
                    }
                };
                if !self.out.is_empty() {
                    self.out.push(b'&')?;
                }
                self.out.extend(b"signature=")?;
                self.out.extend(signature.as_bytes())?;
            }
            Signing::ApiKeyOnly | Signing::None => self.params.write_query(&mut self.out)?,
            Signing::Ed25519 => return Err(BuildError::WsOnly(endpoint.what)),
        }
        let (query, body) = match endpoint.method {
            HttpMethod::Get | HttpMethod::Delete => (self.out.as_bytes(), &[][..]),
            HttpMethod::Post | HttpMethod::Put => (&[][..], self.out.as_bytes()),
        };
        Ok(RestRequest {
            method: endpoint.method,
            path,
            query,
            body,
            needs_api_key: endpoint.signing != Signing::None,
            cost: endpoint.cost,
        })
    }

    /// Builds `request` as a WebSocket API frame with id `request_id`, signed at `timestamp_ms`.
    pub fn ws(
        &mut self,
        request: &Request<'_>,
        timestamp_ms: u64,
        request_id: u64,
    ) -> Result<WsRequest<'_>, BuildError> {
        let endpoint = self.prepare(request, timestamp_ms, Transport::WsApi)?;
        let method = endpoint.ws_method.ok_or(BuildError::RestOnly {
            what: endpoint.what,
            market: endpoint.market,
        })?;
        self.write_ws_frame(method, endpoint.signing, request_id)?;
        Ok(WsRequest {
            text: self.out.as_bytes(),
            method,
            cost: endpoint.cost,
        })
    }

    fn write_ws_frame(
        &mut self,
        method: &'static str,
        signing: Signing,
        request_id: u64,
    ) -> Result<(), BuildError> {
        // On a logged-on session the venue authenticates the request by its connection.
        let hmac = signing == Signing::Hmac
            && !(self.session_authenticated && method != SUBSCRIBE_WITH_SIGNATURE);
        let out = &mut self.out;
        out.clear();
        out.extend(b"{\"id\":")?;
        let mut digits = [0u8; 20];
        let len = write_u64(request_id, &mut digits);
        out.extend(&digits[..len])?;
        out.extend(b",\"method\":\"")?;
        out.extend(method.as_bytes())?;
        out.push(b'"')?;
        if signing == Signing::None && self.params.iter().next().is_none() {
            out.push(b'}')?;
            return Ok(());
        }
        out.extend(b",\"params\":{")?;
        if hmac {
            // JSON member order is free; only the signed payload must be sorted.
            out.extend(self.api_key_json.as_bytes())?;
            if self.params.iter().next().is_some() {
                out.push(b',')?;
            }
        }
        self.params.write_json_members(out)?;
        match signing {
            Signing::Hmac if hmac => {
                self.payload.clear();
                let signature = if self.params.has_any_before(Param::ApiKey) {
                    // OCO legs and algoType sort before apiKey: sign the full sorted payload.
                    self.params.trusted_text(Param::ApiKey, &self.api_key)?;
                    self.params.write_query(&mut self.payload)?;
                    self.signer.sign(self.payload.as_bytes())
                } else {
                    // `apiKey=<key>&` leads the payload and is already hashed into ws_signer.
                    self.params.write_query(&mut self.payload)?;
                    self.ws_signer.sign_rest(self.payload.as_bytes())
                };
                push_signature(out, signature.as_bytes())?;
            }
            Signing::Ed25519 => {
                let signer = self.logon_signer.as_ref().ok_or(BuildError::NoLogonKey)?;
                self.payload.clear();
                self.params.write_query(&mut self.payload)?;
                let signature = signer.sign(self.payload.as_bytes());
                push_signature(out, signature.as_str().as_bytes())?;
            }
            Signing::Hmac | Signing::ApiKeyOnly | Signing::None => {}
        }
        out.extend(b"}}")?;
        Ok(())
    }
}

fn push_signature(out: &mut WireBuf, signature: &[u8]) -> Result<(), Overflow> {
    out.extend(b",\"signature\":\"")?;
    out.extend(signature)?;
    out.push(b'"')
}
