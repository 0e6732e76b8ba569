"""OKX v5 error codes and messages: the request-level envelope and per-order ``sCode``/``sMsg``.

OKX answers a request-level failure with ``{"code": "<code>", "msg": "...", "data": []}``
(HTTP 400 for bad parameters, 401 for authentication, 429 for rate limits) and an order-level
failure with HTTP 200, ``code`` ``"1"`` (all failed) or ``"2"`` (some failed) and the reason of
each order in ``data[i].sCode``/``sMsg``. ccxt maps these codes to its exceptions exactly
(``ccxt/okx.py``, ``exceptions.exact``).
"""

from __future__ import annotations

from actors.venues.rejects import Reason, Rejected
from actors.venues.rules import ABOVE_MAX, BELOW_MIN


class OkxError(Exception):
    """A request-level OKX error.

    Example: ``raise OkxError("51001", "Instrument ID does not exist.", 400)``
    """

    def __init__(self, code: str, msg: str, status: int = 400) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        """The JSON body OKX sends for this error."""
        return {"code": self.code, "msg": self.msg, "data": []}


class OrderFailure(Exception):
    """An order-level failure: ``sCode``/``sMsg`` of one order in a batch."""

    def __init__(self, s_code: str, s_msg: str) -> None:
        super().__init__(f"{s_code} {s_msg}")
        self.s_code = s_code
        self.s_msg = s_msg


def empty(name: str) -> OkxError:
    """50014, a required parameter is missing."""
    return OkxError("50014", f"Parameter {name} can not be empty.")


def bad_param(name: str) -> OkxError:
    """51000, a parameter's value is wrong."""
    return OkxError("51000", f"Parameter {name} error")


def unknown_instrument() -> OkxError:
    """51001, no such instrument."""
    return OkxError("51001", "Instrument ID does not exist.")


def body_not_json() -> OkxError:
    """50002, the body is not JSON."""
    return OkxError("50002", "Json data format error")


def too_many_requests() -> OkxError:
    """50011 with HTTP 429: the endpoint's rate limit."""
    return OkxError("50011", "Too Many Requests", 429)


def auth(code: str, msg: str) -> OkxError:
    """An authentication failure (HTTP 401)."""
    return OkxError(code, msg, 401)


def order_failure(r: Rejected, *, action: str = "place") -> OrderFailure:
    """The ``sCode``/``sMsg`` of a shared-core refusal for an order ``action`` (place,
    cancel, amend)."""
    reason = r.reason
    field = r.field or "sz"
    if reason is Reason.BAD_NUMBER:
        return OrderFailure("51000", f"Parameter {field} error")
    if reason in (Reason.BAD_PRICE, Reason.PRICE_TICK):
        return OrderFailure("51000", "Parameter px error")
    if reason is Reason.PRICE_RANGE:
        return OrderFailure("51006", "Order price out of the limit.")
    if reason is Reason.BAD_QUANTITY:
        return OrderFailure("51000", f"Parameter {field} error")
    if reason is Reason.QTY_STEP:
        return OrderFailure("51121", "Order quantity must be a multiple of the lot size.")
    if reason is Reason.QTY_RANGE:
        if r.detail == ABOVE_MAX:
            return OrderFailure("51203", "Order amount exceeds the limit.")
        if r.detail == BELOW_MIN:
            return OrderFailure(
                "51020", "Order amount should be greater than the min available amount."
            )
        return OrderFailure("51000", f"Parameter {field} error: {r.detail}")
    if reason is Reason.NOTIONAL:
        return OrderFailure("51203", "Order amount exceeds the limit.")
    if reason is Reason.INSUFFICIENT_FUNDS:
        return OrderFailure("51008", f"Order failed. Insufficient {r.field} balance in account.")
    if reason is Reason.DUPLICATE_ORDER:
        return OrderFailure("51016", "Duplicated client order ID")
    if reason in (Reason.UNKNOWN_ORDER, Reason.ORDER_CLOSED):
        if action == "cancel":
            if reason is Reason.ORDER_CLOSED:
                return OrderFailure(
                    "51402", "Order cancellation failed as the order has been completed."
                )
            return OrderFailure("51400", "Order cancellation failed as the order does not exist.")
        if action == "amend":
            return OrderFailure("51503", "Order modification failed as the order does not exist.")
        return OrderFailure("51603", "Order does not exist")
    return OrderFailure("51000", str(r))
