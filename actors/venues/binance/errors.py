"""Binance error codes, messages and HTTP statuses the venue answers with."""

from __future__ import annotations

from actors.venues.rejects import Reason, Rejected


class BinanceError(Exception):
    """An error answered as Binance does: HTTP status plus ``{"code", "msg"}``.

    Example: ``raise BinanceError(400, -1121, "Invalid symbol.")``
    """

    def __init__(self, status: int, code: int, msg: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        """The JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}


def invalid_symbol() -> BinanceError:
    """-1121, unknown symbol."""
    return BinanceError(400, -1121, "Invalid symbol.")


def filter_failure(name: str) -> BinanceError:
    """-1013, a symbol filter rejected the order."""
    return BinanceError(400, -1013, f"Filter failure: {name}")


def insufficient_balance() -> BinanceError:
    """-2010, the account cannot pay for the order."""
    return BinanceError(400, -2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> BinanceError:
    """-2010, an open order already uses this client order id."""
    return BinanceError(400, -2010, "Duplicate order sent.")


def unknown_order_cancel() -> BinanceError:
    """-2011, cancel of an order the venue does not know."""
    return BinanceError(400, -2011, "Unknown order sent.")


def order_does_not_exist() -> BinanceError:
    """-2013, query of an order the venue does not know."""
    return BinanceError(400, -2013, "Order does not exist.")


def bad_signature() -> BinanceError:
    """-1022, HMAC mismatch."""
    return BinanceError(400, -1022, "Signature for this request is not valid.")


def bad_api_key() -> BinanceError:
    """-2015, unknown API key."""
    return BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def bad_api_key_format() -> BinanceError:
    """-2014, missing or malformed API key header."""
    return BinanceError(401, -2014, "API-key format invalid.")


def timestamp_outside_window() -> BinanceError:
    """-1021, timestamp older than recvWindow."""
    return BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def timestamp_ahead() -> BinanceError:
    """-1021, timestamp more than 1 s ahead of the server."""
    return BinanceError(
        400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
    )


def mandatory_param(name: str) -> BinanceError:
    """-1102, a mandatory parameter is missing."""
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_chars(name: str) -> BinanceError:
    """-1100, a parameter is not a valid number."""
    return BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")


def bad_recv_window() -> BinanceError:
    """-1131, recvWindow above 60000."""
    return BinanceError(400, -1131, "recvWindow must be less than 60000")


def too_much_weight(limit: int, retry_after: int) -> BinanceError:
    """-1003 with HTTP 429: request weight over the per-minute limit."""
    return BinanceError(
        429,
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        retry_after=retry_after,
    )


def banned(until_ms: int, retry_after: int) -> BinanceError:
    """-1003 with HTTP 418: the IP is banned for ignoring 429s."""
    return BinanceError(
        418,
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
        retry_after=retry_after,
    )


def too_many_orders(limit: int) -> BinanceError:
    """-1015 with HTTP 429: order-count limit."""
    return BinanceError(
        429, -1015, f"Too many new orders; current limit is {limit} orders per 10 SECOND.", 1
    )


def invalid_param(msg: str) -> BinanceError:
    """-1130 or similar: a parameter value is invalid."""
    return BinanceError(400, -1130, msg)


def unsupported(msg: str) -> BinanceError:
    """-1116/-1115 and friends collapse to this when an enum is not supported."""
    return BinanceError(400, -1116, msg)


def internal_error() -> BinanceError:
    """-1001 with HTTP 503, used only by injected faults."""
    return BinanceError(503, -1001, "Internal error; unable to process your request.")


def unknown_listen_key() -> BinanceError:
    """-1125, a user-data stream key the venue does not know (or that expired)."""
    return BinanceError(400, -1125, "This listenKey does not exist.")


def invalid_interval() -> BinanceError:
    """-1120, a kline interval Binance does not have."""
    return BinanceError(400, -1120, "Invalid interval.")


def from_reject(r: Rejected, *, cancel: bool = False) -> BinanceError:
    """The Binance answer to a shared-core refusal (``cancel``: for a cancel request)."""
    reason = r.reason
    if reason is Reason.BAD_NUMBER:
        return illegal_chars(r.field)
    if reason is Reason.BAD_PRICE:
        return BinanceError(400, -1013, "Invalid price.")
    if reason is Reason.BAD_QUANTITY:
        return BinanceError(400, -1013, "Invalid quantity.")
    if reason in (Reason.PRICE_TICK, Reason.PRICE_RANGE):
        return filter_failure("PRICE_FILTER")
    if reason in (Reason.QTY_STEP, Reason.QTY_RANGE):
        return filter_failure("LOT_SIZE")
    if reason is Reason.NOTIONAL:
        return filter_failure("NOTIONAL")
    if reason is Reason.INSUFFICIENT_FUNDS:
        return insufficient_balance()
    if reason is Reason.DUPLICATE_ORDER:
        return duplicate_order()
    if reason is Reason.WOULD_TAKE:
        return BinanceError(400, -2010, "Order would immediately match and take.")
    if reason in (Reason.UNKNOWN_ORDER, Reason.ORDER_CLOSED):
        return unknown_order_cancel() if cancel else order_does_not_exist()
    return BinanceError(400, -1013, str(r))
