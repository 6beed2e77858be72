//! Owns: the reconciliation replies: open orders (book and algo), our trades, orders in any
//! state (`allOrders`), balances (spot, cross and isolated margin, futures) and futures
//! positions, as venue reports. A margin balance is the asset's `netAsset` (what is held
//! minus what is owed), reported as `free = netAsset − locked` so `free + locked` is the net.
//! Never: names a trade's order by a guess (a trade of a venue order id the gateway does not
//! know is reported with client id 0, for the gateway to resolve), or reports a hedge-mode
//! position as one-way.

use serde::Deserialize;

use super::decode::{asset, one_way_position, order_type, parse_json, side, unknown, ParseError};
use super::response::{missing, AlgoOrder, OrderReply, ReplyContext, Tally};
use crate::core::{ClientOrderId, Market, OrderStatus, Price, Qty};
use crate::oms::venue::{VenueFill, VenueOpenOrder, VenueReport};

pub(super) fn open_orders(
    body: &[u8],
    market: Market,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    let orders: Vec<OrderReply<'_>> = parse_json(body, "open orders")?;
    for order in &orders {
        open_order(order, market, context, tally)?;
    }
    Ok(())
}

pub(super) fn open_algo_orders(
    body: &[u8],
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    let orders: Vec<AlgoOrder<'_>> = parse_json(body, "open algo orders")?;
    for order in &orders {
        open_algo_order(order, context, tally)?;
    }
    Ok(())
}

pub(super) fn trades(
    body: &[u8],
    market: Market,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    let trades: Vec<Trade<'_>> = parse_json(body, "trades")?;
    for trade in &trades {
        trade_fill(trade, market, context, tally)?;
    }
    Ok(())
}

/// An `allOrders` page: every order as [`VenueReport::ResolvedOrder`] (the gateway keeps
/// the ones its unresolved trades name).
pub(super) fn all_orders(
    body: &[u8],
    market: Market,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    const WHAT: &str = "order";
    let orders: Vec<OrderReply<'_>> = parse_json(body, "all orders")?;
    for order in &orders {
        let Some(symbol_id) = context.symbols.id_of(order.symbol) else {
            tally.skipped += 1;
            continue;
        };
        let status = order_status(order.status.ok_or_else(|| missing(WHAT, "status"))?)?;
        tally.push(VenueReport::ResolvedOrder {
            order: VenueOpenOrder {
                client_order_id: ClientOrderId::parse(order.client_order_id),
                venue_order_id: order.order_id,
                symbol: symbol_id,
                market,
                side: side(order.side.ok_or_else(|| missing(WHAT, "side"))?, WHAT)?,
                order_type: order_type(
                    order.order_type.ok_or_else(|| missing(WHAT, "type"))?,
                    WHAT,
                )?,
                price: order.price.unwrap_or_default(),
                trigger_price: order.stop_price.unwrap_or_default(),
                qty: order.orig_qty.ok_or_else(|| missing(WHAT, "origQty"))?,
                filled_qty: order.executed_qty.unwrap_or_default(),
                reduce_only: order.reduce_only.unwrap_or(false),
            },
            status,
        })?;
    }
    Ok(())
}

/// An order object's `status` as ours.
fn order_status(status: &str) -> Result<OrderStatus, ParseError> {
    Ok(match status {
        "NEW" | "PENDING_NEW" => OrderStatus::New,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" | "PENDING_CANCEL" => OrderStatus::Canceled,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        "REJECTED" => OrderStatus::Rejected,
        other => return Err(unknown("order", "status", other)),
    })
}

pub(super) fn positions(
    body: &[u8],
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    let positions: Vec<PositionRisk<'_>> = parse_json(body, "positionRisk")?;
    for position in &positions {
        position_report(position, context, tally)?;
    }
    Ok(())
}

fn open_order(
    order: &OrderReply<'_>,
    market: Market,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    const WHAT: &str = "open order";
    let Some(symbol_id) = context.symbols.id_of(order.symbol) else {
        tally.skipped += 1;
        return Ok(());
    };
    tally.push(VenueReport::OpenOrder(VenueOpenOrder {
        client_order_id: ClientOrderId::parse(order.client_order_id),
        venue_order_id: order.order_id,
        symbol: symbol_id,
        market,
        side: side(order.side.ok_or_else(|| missing(WHAT, "side"))?, WHAT)?,
        order_type: order_type(order.order_type.ok_or_else(|| missing(WHAT, "type"))?, WHAT)?,
        price: order.price.unwrap_or_default(),
        trigger_price: order.stop_price.unwrap_or_default(),
        qty: order.orig_qty.ok_or_else(|| missing(WHAT, "origQty"))?,
        filled_qty: order.executed_qty.unwrap_or_default(),
        reduce_only: order.reduce_only.unwrap_or(false),
    }))
}

fn open_algo_order(
    order: &AlgoOrder<'_>,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    const WHAT: &str = "open algo order";
    let name = order.symbol.ok_or_else(|| missing(WHAT, "symbol"))?;
    let Some(symbol_id) = context.symbols.id_of(name) else {
        tally.skipped += 1;
        return Ok(());
    };
    tally.push(VenueReport::OpenOrder(VenueOpenOrder {
        client_order_id: ClientOrderId::parse(order.client_algo_id),
        venue_order_id: order.algo_id,
        symbol: symbol_id,
        market: Market::UsdmFutures,
        side: side(order.side.ok_or_else(|| missing(WHAT, "side"))?, WHAT)?,
        order_type: order_type(order.order_type.ok_or_else(|| missing(WHAT, "type"))?, WHAT)?,
        price: order.price.unwrap_or_default(),
        trigger_price: order.trigger_price.unwrap_or_default(),
        qty: order.quantity.unwrap_or_default(),
        filled_qty: Qty::ZERO,
        reduce_only: order.reduce_only.unwrap_or(false),
    }))
}

/// A spot `myTrades` or futures `userTrades` entry (the two spell sides differently).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trade<'a> {
    symbol: &'a str,
    id: u64,
    order_id: u64,
    price: Price,
    qty: Qty,
    commission: Qty,
    commission_asset: &'a str,
    time: u64,
    is_buyer: Option<bool>,
    buyer: Option<bool>,
    is_maker: Option<bool>,
    maker: Option<bool>,
}

fn trade_fill(
    trade: &Trade<'_>,
    market: Market,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    const WHAT: &str = "trade";
    let Some(symbol_id) = context.symbols.id_of(trade.symbol) else {
        tally.skipped += 1;
        return Ok(());
    };
    // Client id 0: the gateway resolves the order (allOrders) before anyone sees the fill.
    let id = context
        .orders
        .client_id(symbol_id, trade.order_id)
        .unwrap_or_default();
    let buyer = trade
        .is_buyer
        .or(trade.buyer)
        .ok_or_else(|| missing(WHAT, "isBuyer"))?;
    tally.push(VenueReport::Fill(VenueFill {
        client_order_id: id,
        symbol: symbol_id,
        market,
        side: if buyer {
            crate::core::Side::Buy
        } else {
            crate::core::Side::Sell
        },
        price: trade.price,
        qty: trade.qty,
        fee: trade.commission,
        fee_asset: asset(trade.commission_asset, WHAT)?,
        venue_trade_id: trade.id,
        venue_order_id: trade.order_id,
        is_maker: trade
            .is_maker
            .or(trade.maker)
            .ok_or_else(|| missing(WHAT, "isMaker"))?,
        venue_ts_ms: trade.time,
    }))
}

#[derive(Deserialize)]
struct Balance<'a> {
    asset: &'a str,
    free: Qty,
    locked: Qty,
}

#[derive(Deserialize)]
struct SpotAccount<'a> {
    #[serde(borrow)]
    balances: Vec<Balance<'a>>,
}

/// One asset of a margin account (`userAssets` entry, isolated `baseAsset`/`quoteAsset`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // `borrowed` and `interest` are read to validate the shape.
struct MarginAsset<'a> {
    asset: &'a str,
    free: Qty,
    locked: Qty,
    borrowed: Qty,
    interest: Qty,
    /// `free + locked − borrowed − interest`: negative while the asset is owed.
    net_asset: Qty,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrossMarginAccount<'a> {
    #[serde(borrow)]
    user_assets: Vec<MarginAsset<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IsolatedMarginAccount<'a> {
    #[serde(borrow)]
    assets: Vec<IsolatedPair<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IsolatedPair<'a> {
    #[serde(borrow)]
    base_asset: MarginAsset<'a>,
    #[serde(borrow)]
    quote_asset: MarginAsset<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FuturesAccount<'a> {
    #[serde(borrow)]
    assets: Vec<FuturesAsset<'a>>,
    #[serde(borrow, default)]
    positions: Vec<PositionRisk<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FuturesAsset<'a> {
    asset: &'a str,
    wallet_balance: Qty,
}

#[derive(Deserialize)]
struct FuturesBalance<'a> {
    asset: &'a str,
    balance: Qty,
}

/// A futures position (`positionRisk` entry or `account.positions` entry).
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct PositionRisk<'a> {
    symbol: &'a str,
    position_amt: Qty,
    entry_price: Price,
    position_side: &'a str,
}

/// A margin asset as the balance the portfolio books: what the account is worth in it net
/// of its debt, so `free + locked` = `netAsset` (negative, not clamped, while borrowed).
fn margin_balance(entry: &MarginAsset<'_>, tally: &mut Tally<'_>) -> Result<(), ParseError> {
    tally.push(VenueReport::Balance {
        asset: asset(entry.asset, "margin account balance")?,
        free: entry.net_asset.saturating_sub(entry.locked),
        locked: entry.locked,
    })
}

fn balance(entry: &Balance<'_>, tally: &mut Tally<'_>) -> Result<(), ParseError> {
    tally.push(VenueReport::Balance {
        asset: asset(entry.asset, "account balance")?,
        free: entry.free,
        locked: entry.locked,
    })
}

pub(super) fn account(
    body: &[u8],
    market: Market,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    match market {
        Market::Spot => {
            let reply: SpotAccount<'_> = parse_json(body, "spot account")?;
            for entry in &reply.balances {
                balance(entry, tally)?;
            }
        }
        Market::Margin if body.windows(12).any(|w| w == b"\"userAssets\"") => {
            let reply: CrossMarginAccount<'_> = parse_json(body, "cross margin account")?;
            for entry in &reply.user_assets {
                margin_balance(entry, tally)?;
            }
        }
        Market::Margin => {
            let reply: IsolatedMarginAccount<'_> = parse_json(body, "isolated margin account")?;
            for pair in &reply.assets {
                margin_balance(&pair.base_asset, tally)?;
                margin_balance(&pair.quote_asset, tally)?;
            }
        }
        Market::UsdmFutures if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') => {
            // `/fapi/v2/balance`: the wallet balance per asset.
            let reply: Vec<FuturesBalance<'_>> = parse_json(body, "futures balance")?;
            for entry in &reply {
                tally.push(VenueReport::Balance {
                    asset: asset(entry.asset, "futures balance")?,
                    free: entry.balance,
                    locked: Qty::ZERO,
                })?;
            }
        }
        Market::UsdmFutures => {
            let reply: FuturesAccount<'_> = parse_json(body, "futures account")?;
            for entry in &reply.assets {
                // Futures margin is not locked per order the way spot balances are.
                tally.push(VenueReport::Balance {
                    asset: asset(entry.asset, "futures account")?,
                    free: entry.wallet_balance,
                    locked: Qty::ZERO,
                })?;
            }
            for position in &reply.positions {
                position_report(position, context, tally)?;
            }
        }
    }
    Ok(())
}

fn position_report(
    position: &PositionRisk<'_>,
    context: &ReplyContext<'_>,
    tally: &mut Tally<'_>,
) -> Result<(), ParseError> {
    match one_way_position(
        context.symbols,
        position.symbol,
        position.position_side,
        position.position_amt,
        position.entry_price,
        "position",
    )? {
        Some(report) => tally.push(report),
        None => {
            tally.skipped += 1;
            Ok(())
        }
    }
}
