//! Owns: where requests about existing orders and the account go (cancel, cancel-all,
//! query, open orders, trades, balances) on spot, margin and USDⓈ-M, book or algo route,
//! and the `symbol` / `isIsolated` / order-reference params they carry.
//! Never: places orders or lets the algo route reach spot or margin.

use super::endpoints::{endpoint, is_isolated_text, symbol_for, Endpoint};
use super::params::{Param, ParamSet};
use super::request::{BuildError, HttpMethod, OrderRoute, SymbolScope};
use super::symbols::OrderSymbols;
use crate::core::{ClientOrderId, Market};

/// Requests about existing orders of one symbol.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Cancel,
    CancelAll,
    Query,
    OpenOrders,
    Trades,
    AllOrders,
}

/// The endpoint of an order-management request, with `symbol` (and `isIsolated`) set.
pub(super) fn scoped(
    params: &mut ParamSet,
    symbols: &OrderSymbols,
    scope: SymbolScope,
    route: OrderRoute,
    action: Action,
) -> Result<Endpoint, BuildError> {
    let entry = symbol_for(symbols, scope.symbol, scope.market)?;
    params.trusted_text(Param::Symbol, entry.name.as_str())?;
    if scope.market == Market::Margin {
        params.trusted_text(Param::IsIsolated, is_isolated_text(scope.isolated_margin))?;
    }
    use HttpMethod::{Delete, Get};
    use Market::{Margin, Spot, UsdmFutures as Usdm};
    let algo = route == OrderRoute::Algo;
    if algo && scope.market != Usdm {
        return Err(BuildError::Unsupported {
            what: "algo order route",
            market: scope.market,
        });
    }
    let found = match (action, scope.market, algo) {
        (Action::Cancel, Spot, _) => endpoint(
            "cancel",
            Spot,
            Delete,
            "/api/v3/order",
            Some("order.cancel"),
            1,
            0,
        ),
        (Action::Cancel, Margin, _) => endpoint(
            "margin cancel",
            Margin,
            Delete,
            "/sapi/v1/margin/order",
            None,
            10,
            0,
        ),
        (Action::Cancel, Usdm, false) => endpoint(
            "cancel",
            Usdm,
            Delete,
            "/fapi/v1/order",
            Some("order.cancel"),
            1,
            0,
        ),
        (Action::Cancel, Usdm, true) => endpoint(
            "algo cancel",
            Usdm,
            Delete,
            "/fapi/v1/algoOrder",
            Some("algoOrder.cancel"),
            1,
            0,
        ),
        (Action::CancelAll, Spot, _) => endpoint(
            "cancel all",
            Spot,
            Delete,
            "/api/v3/openOrders",
            Some("openOrders.cancelAll"),
            1,
            0,
        ),
        (Action::CancelAll, Margin, _) => endpoint(
            "margin cancel all",
            Margin,
            Delete,
            "/sapi/v1/margin/openOrders",
            None,
            1,
            0,
        ),
        (Action::CancelAll, Usdm, false) => endpoint(
            "cancel all",
            Usdm,
            Delete,
            "/fapi/v1/allOpenOrders",
            None,
            1,
            0,
        ),
        (Action::CancelAll, Usdm, true) => endpoint(
            "algo cancel all",
            Usdm,
            Delete,
            "/fapi/v1/algoOpenOrders",
            None,
            1,
            0,
        ),
        (Action::Query, Spot, _) => endpoint(
            "query order",
            Spot,
            Get,
            "/api/v3/order",
            Some("order.status"),
            4,
            0,
        ),
        (Action::Query, Margin, _) => endpoint(
            "margin query order",
            Margin,
            Get,
            "/sapi/v1/margin/order",
            None,
            10,
            0,
        ),
        (Action::Query, Usdm, false) => endpoint(
            "query order",
            Usdm,
            Get,
            "/fapi/v1/order",
            Some("order.status"),
            1,
            0,
        ),
        (Action::Query, Usdm, true) => endpoint(
            "query algo order",
            Usdm,
            Get,
            "/fapi/v1/algoOrder",
            None,
            1,
            0,
        ),
        (Action::OpenOrders, Spot, _) => endpoint(
            "open orders",
            Spot,
            Get,
            "/api/v3/openOrders",
            Some("openOrders.status"),
            6,
            0,
        ),
        (Action::OpenOrders, Margin, _) => endpoint(
            "margin open orders",
            Margin,
            Get,
            "/sapi/v1/margin/openOrders",
            None,
            10,
            0,
        ),
        (Action::OpenOrders, Usdm, false) => {
            endpoint("open orders", Usdm, Get, "/fapi/v1/openOrders", None, 1, 0)
        }
        (Action::OpenOrders, Usdm, true) => endpoint(
            "open algo orders",
            Usdm,
            Get,
            "/fapi/v1/openAlgoOrders",
            None,
            1,
            0,
        ),
        (Action::Trades, Spot, _) => endpoint(
            "my trades",
            Spot,
            Get,
            "/api/v3/myTrades",
            Some("myTrades"),
            20,
            0,
        ),
        (Action::Trades, Margin, _) => endpoint(
            "margin trades",
            Margin,
            Get,
            "/sapi/v1/margin/myTrades",
            None,
            10,
            0,
        ),
        (Action::Trades, Usdm, _) => {
            endpoint("user trades", Usdm, Get, "/fapi/v1/userTrades", None, 5, 0)
        }
        (Action::AllOrders, Spot, _) => endpoint(
            "all orders",
            Spot,
            Get,
            "/api/v3/allOrders",
            Some("allOrders"),
            20,
            0,
        ),
        (Action::AllOrders, Margin, _) => endpoint(
            "margin all orders",
            Margin,
            Get,
            "/sapi/v1/margin/allOrders",
            None,
            200,
            0,
        ),
        (Action::AllOrders, Usdm, _) => {
            endpoint("all orders", Usdm, Get, "/fapi/v1/allOrders", None, 5, 0)
        }
    };
    Ok(found)
}

/// The client id param of an order reference: `origClientOrderId`, or `clientAlgoId` on
/// the futures Algo Service.
pub(super) fn order_ref(
    params: &mut ParamSet,
    market: Market,
    route: OrderRoute,
    client_order_id: ClientOrderId,
) -> Result<(), BuildError> {
    let param = match (market, route) {
        (Market::UsdmFutures, OrderRoute::Algo) => Param::ClientAlgoId,
        _ => Param::OrigClientOrderId,
    };
    params.client_id(param, client_order_id)?;
    Ok(())
}

pub(super) fn account(
    params: &mut ParamSet,
    symbols: &OrderSymbols,
    scope: SymbolScope,
) -> Result<Endpoint, BuildError> {
    if !symbols.family().serves(scope.market) {
        return Err(BuildError::WrongMarket {
            market: scope.market,
            family: symbols.family(),
        });
    }
    Ok(match scope.market {
        Market::Spot => {
            params.trusted_text(Param::OmitZeroBalances, "true")?;
            endpoint(
                "account",
                Market::Spot,
                HttpMethod::Get,
                "/api/v3/account",
                Some("account.status"),
                20,
                0,
            )
        }
        Market::Margin if scope.isolated_margin => {
            let entry = symbols
                .get(scope.symbol)
                .ok_or(BuildError::UnknownSymbol(scope.symbol))?;
            params.trusted_text(Param::Symbols, entry.name.as_str())?;
            endpoint(
                "isolated margin account",
                Market::Margin,
                HttpMethod::Get,
                "/sapi/v1/margin/isolated/account",
                None,
                10,
                0,
            )
        }
        Market::Margin => endpoint(
            "margin account",
            Market::Margin,
            HttpMethod::Get,
            "/sapi/v1/margin/account",
            None,
            10,
            0,
        ),
        Market::UsdmFutures => endpoint(
            "futures account",
            Market::UsdmFutures,
            HttpMethod::Get,
            "/fapi/v2/account",
            None,
            5,
            0,
        ),
    })
}
