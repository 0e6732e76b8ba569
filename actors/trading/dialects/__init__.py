"""What ccxt does not unify, per exchange: one small module per ccxt id, and a generic default.

The desk speaks ccxt's unified API everywhere (``create_order`` with ``clientOrderId`` and
``timeInForce``, ``cancel_order``/``fetch_order`` by ``clientOrderId``, ``watch_*``, market
precision and limits). A :class:`Dialect` holds the few things that differ between exchanges
and that ccxt leaves to the caller:

* the client order id an exchange accepts (:class:`ClientIdRules`: alphabet and length);
* how the private session opens and confirms its private stream (``authenticate``);
* whether orders can go over the websocket (``ws_order_entry``, for the hot path);
* how an order is looked up by client id (``lookup_params``);
* the parameters of ``watch_ticker`` and of self-trade prevention;
* the error codes that mean "keys refused" or "clock refused" (``credential_error``);
* how ``fetch_my_trades`` pages (``trade_params``, ``next_trade_page``);
* which plain-text websocket frames are the exchange's own (``text_frames``).

Adding an exchange is one file: ``actors/trading/dialects/<ccxt id>.py`` defining
``DIALECT`` (a :class:`Dialect`, or an instance of a subclass that overrides a method). An
exchange without a file gets the generic :class:`Dialect`, which sends only ccxt's unified
parameters.

>>> dialect_for("okx").client_ids.max_len
32
>>> dialect_for("some-exchange-without-a-file").exchange
'some-exchange-without-a-file'
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CredentialProblem = Literal["auth", "clock"]

SelfTradePolicy = Literal["reject", "cancel_resting", "cancel_both"]
"""The desk's own self-trade policies (``risk.self_trade``) that an exchange can back up."""

UNIFIED_SELF_TRADE: Mapping[str, str] = {
    "reject": "EXPIRE_TAKER",
    "cancel_resting": "EXPIRE_MAKER",
    "cancel_both": "EXPIRE_BOTH",
}
"""Desk policy -> ccxt's unified ``selfTradePrevention`` value (binance and okx map it)."""


@dataclass(frozen=True, slots=True)
class ClientIdRules:
    """The client order ids an exchange accepts: at most ``max_len`` characters matching
    ``pattern`` (a regex of one character).

    >>> ClientIdRules(32, "[A-Za-z0-9]").accepts("axmm1")
    True
    """

    max_len: int
    pattern: str = "[A-Za-z0-9]"

    def accepts(self, client_order_id: str) -> bool:
        """Whether ``client_order_id`` is a valid id for this exchange."""
        return _matcher(self.pattern, self.max_len)(client_order_id) is not None


@functools.cache
def _matcher(pattern: str, max_len: int) -> Callable[[str], Any]:
    return re.compile(f"(?:{pattern}){{1,{max_len}}}").fullmatch


CODE = re.compile(r'"s?[Cc]ode"\s*:\s*"?(-?\d+)')
"""An exchange error code inside a ccxt error message (``okx {"code":"50113",...}``)."""


def error_codes(exc: BaseException) -> set[str]:
    """The exchange error codes quoted in a ccxt exception's message.

    >>> sorted(error_codes(Exception('okx {"code":"1","data":[{"sCode":"51000"}]}')))
    ['1', '51000']
    """
    return set(CODE.findall(str(exc)))


@dataclass(frozen=True)
class Dialect:
    """How the desk talks to one exchange where ccxt leaves it open; the generic default.

    Subclass and override a method for behaviour (``authenticate``), or ``replace`` fields
    for data. Instances are immutable and shared by every actor of a venue.
    """

    exchange: str = "generic"
    """The ccxt id this dialect is for."""
    generic: bool = False
    """True for the default an exchange without a dialect file gets."""
    client_ids: ClientIdRules = ClientIdRules(32)
    """Letters and digits, at most 32: accepted nearly everywhere (OKX's rule)."""
    ticker_params: Mapping[str, Any] = field(default_factory=dict)
    """Extra params of ``watch_ticker``."""
    self_trade: Mapping[str, str] = field(default_factory=dict)
    """Desk self-trade policy -> the value of ccxt's unified ``selfTradePrevention`` param;
    empty: the exchange gets none (ccxt would pass an unknown param through as is)."""
    auth_codes: frozenset[str] = frozenset()
    """Exchange error codes that mean the keys (or their permissions) are refused, beyond
    what ccxt already raises as ``AuthenticationError``/``PermissionDenied``."""
    clock_codes: frozenset[str] = frozenset()
    """Exchange error codes that mean the request's timestamp was refused, beyond ccxt's
    ``InvalidNonce``."""
    confirm_private: bool = False
    """Whether ``authenticate`` opens the private stream and waits for the exchange's answer
    (the session then knows the subscription is live before it reconciles). The generic
    default leaves it to the ``watch_*`` calls, whose ``authenticate`` signatures differ
    between ccxt classes (bybit's takes a url)."""
    ws_orders: bool = True
    """Orders may go over the websocket where ccxt has ``createOrderWs``; False forbids it."""
    trades_page: int = 100
    """``limit`` of one ``fetch_my_trades`` page."""
    open_orders_at_once: bool = False
    """Whether ``fetch_open_orders`` without a symbol returns every open order of the
    account in one unpaged answer (Binance spot), so a reconciliation over many symbols
    asks once instead of once per symbol. OKX answers without a symbol too, but in pages
    of 100, which ccxt does not follow unless asked to paginate: left per symbol."""
    text_frames: frozenset[str] = frozenset()
    """Websocket frames the exchange sends as plain text, not JSON (a keep-alive answer):
    passed to ccxt; any other non-JSON frame is counted as malformed and dropped."""

    # --- client ids ----------------------------------------------------------------------

    def lookup_params(self, client_order_id: str) -> dict[str, Any]:
        """Params of ``fetch_order``/``cancel_order`` that name an order by its client id."""
        return {"clientOrderId": client_order_id}

    def order_params(
        self, client_order_id: str, time_in_force: str | None, self_trade: str | None
    ) -> dict[str, Any]:
        """The params of one ``create_order``: ccxt's unified ones plus self-trade prevention.

        >>> Dialect().order_params("c1", "IOC", "reject")
        {'clientOrderId': 'c1', 'timeInForce': 'IOC'}
        """
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if time_in_force is not None:
            params["timeInForce"] = time_in_force
        value = self.self_trade.get(self_trade) if self_trade else None
        if value is not None:
            params["selfTradePrevention"] = value
        return params

    # --- sessions ------------------------------------------------------------------------

    def authenticate(self, exchange: Any) -> Callable[[], Awaitable[Any]] | None:
        """The coroutine function (asyncio side) that opens and confirms the private stream,
        or None when the ``watch_*`` calls do it themselves (``confirm_private``)."""
        if not self.confirm_private:
            return None
        call: Callable[[], Awaitable[Any]] | None = getattr(exchange, "authenticate", None)
        return call

    def ws_order_entry(self, exchange: Any) -> bool:
        """Whether orders can go over ``exchange``'s websocket (``create_order_ws``)."""
        has = getattr(exchange, "has", None) or {}
        return self.ws_orders and bool(has.get("createOrderWs"))

    def credential_error(self, exc: BaseException) -> CredentialProblem | None:
        """``auth`` when the exchange refused the keys, ``clock`` when it refused the
        timestamp, None for anything else (by ccxt's exception class, then by code)."""
        import ccxt

        if isinstance(exc, ccxt.InvalidNonce):
            return "clock"
        if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied)):
            return "auth"
        if isinstance(exc, ccxt.BaseError):
            codes = error_codes(exc)
            if codes & self.clock_codes:
                return "clock"
            if codes & self.auth_codes:
                return "auth"
        return None

    # --- private trades ------------------------------------------------------------------

    def trade_params(self, venue_order_id: str | None) -> dict[str, Any]:
        """Params of the first ``fetch_my_trades`` page (of one order when given).

        Generic: ccxt's unified ``fetch_my_trades`` has no order filter, so the caller
        filters by order id itself; no paging beyond ccxt's own.
        """
        return {}

    def next_trade_page(
        self, params: dict[str, Any], page: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Params of the page after ``page`` (a full one), or None: no more pages."""
        return None


DEFAULT = Dialect(generic=True)


@functools.cache
def dialect_for(exchange: str) -> Dialect:
    """The dialect of ccxt id ``exchange``: its module's ``DIALECT``, else the generic one."""
    if re.fullmatch(r"[a-z][a-z0-9_]*", exchange):
        try:
            module = importlib.import_module(f"{__name__}.{exchange}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{exchange}":
                raise  # the module exists and is broken: say so
        else:
            found = getattr(module, "DIALECT", None)
            if not isinstance(found, Dialect):
                raise TypeError(f"{module.__name__}.DIALECT must be a Dialect, got {found!r}")
            return found
    return dataclasses.replace(DEFAULT, exchange=exchange)


def strictest(dialects: list[Dialect]) -> ClientIdRules:
    """Rules every one of ``dialects`` accepts (ids are letters and digits; the shortest
    length wins): an id that may go to any venue of the desk must fit them all.

    >>> strictest([dialect_for("binance"), dialect_for("okx")]).max_len
    32
    """
    if not dialects:
        return DEFAULT.client_ids
    return ClientIdRules(min(d.client_ids.max_len for d in dialects), "[A-Za-z0-9]")
