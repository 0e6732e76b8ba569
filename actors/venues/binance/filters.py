"""Binance's ``exchangeInfo`` entry of a market: its filters, as the venue enforces them."""

from __future__ import annotations

from actors.venues.engine import STP_MODES
from actors.venues.rules import Market, fmt


def exchange_info(m: Market, default_stp: str) -> dict[str, object]:
    """``m``'s entry in ``/api/v3/exchangeInfo``."""
    s = m.spec
    return {
        "symbol": m.id,
        "status": "TRADING",
        "baseAsset": m.base,
        "baseAssetPrecision": 8,
        "quoteAsset": m.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(m.min_price, m.pd),
                "maxPrice": fmt(m.max_price, m.pd),
                "tickSize": fmt(m.tick, m.pd),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(m.min_qty, m.qd),
                "maxQty": fmt(m.max_qty, m.qd),
                "stepSize": fmt(m.step, m.qd),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": f"{s.min_notional:.8f}",
                "applyMinToMarket": True,
                "maxNotional": f"{s.max_notional:.8f}",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": default_stp,
        "allowedSelfTradePreventionModes": list(STP_MODES),
    }
