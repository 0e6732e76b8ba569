"""Messages of the trading wing: small immutable values that cross actor boundaries.

Every message is a frozen ``msgspec.Struct`` in one tagged union (tag field ``"type"``, tag
value = class name), so a remote transport and the journal carry them as JSON with
:func:`encode` / :func:`decode`. Market data uses floats (it is hot and approximate by
nature); orders, fills and money use :class:`decimal.Decimal` (exact accounting; msgspec
writes them as JSON strings, so no digit is lost).

>>> from decimal import Decimal
>>> intent = OrderIntent(client_order_id="ax-mm-1", strategy="mm", venue=None,
...     symbol="BTC/USDT", side="buy", order_type="limit", amount=Decimal("0.01"),
...     price=Decimal("50000"), created_at=0.0)
>>> decode(encode(intent)) == intent
True
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Literal, TypeAlias

import msgspec

Side: TypeAlias = Literal["buy", "sell"]
OrderType: TypeAlias = Literal["limit", "market"]
TimeInForce: TypeAlias = Literal["GTC", "IOC", "FOK"]
Level: TypeAlias = tuple[float, float]
"""One price level: (price, size)."""


class OrderStatus(enum.StrEnum):
    """Lifecycle states of an order (see :mod:`actors.trading.orders` for the transitions)."""

    NEW = "NEW"
    SUBMITTING = "SUBMITTING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"


class RejectReason(enum.StrEnum):
    """Why the risk engine refused an intent; one code per check."""

    INVALID_INTENT = "INVALID_INTENT"
    HALTED = "HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    DAILY_LOSS = "DAILY_LOSS"
    NO_BOOK = "NO_BOOK"
    STALE_BOOK = "STALE_BOOK"
    AMOUNT_LIMIT = "AMOUNT_LIMIT"
    NOTIONAL_LIMIT = "NOTIONAL_LIMIT"
    PRICE_BAND = "PRICE_BAND"
    POSITION_LIMIT = "POSITION_LIMIT"
    EXPOSURE_LIMIT = "EXPOSURE_LIMIT"
    OPEN_ORDERS_LIMIT = "OPEN_ORDERS_LIMIT"
    RATE_LIMIT_SECOND = "RATE_LIMIT_SECOND"
    RATE_LIMIT_MINUTE = "RATE_LIMIT_MINUTE"
    DUPLICATE_ID = "DUPLICATE_ID"
    SELF_TRADE = "SELF_TRADE"
    """It would trade against one of the desk's own resting orders on that venue and symbol."""
    RISK_UNAVAILABLE = "RISK_UNAVAILABLE"
    """Risk could not be reached (restarting, or its node is down): the intent was never seen
    by risk, so nothing was journaled or sent. Decided by the strategy's own ``submit``."""
    NO_CLIENT_ID = "NO_CLIENT_ID"
    """The strategy had no leased client order id left and the journal could not lease more
    (restarting, or its node is down): nothing was journaled or sent. Decided by ``submit``."""


class TradingState(enum.StrEnum):
    """Desk-wide trading mode enforced by the risk engine."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    """Only orders that bring |position| closer to zero are allowed."""
    HALTED = "HALTED"
    """No new orders at all (kill switch)."""


class ReconcileVerdict(enum.StrEnum):
    """Outcome of asking the venue about one order by client order id."""

    FOUND = "FOUND"
    """The venue knows the order; ``ReconcileResult.update`` carries its state."""
    NOT_FOUND_IN_GRACE = "NOT_FOUND_IN_GRACE"
    """Not found, but the submit may still be in flight: the order stays as it is."""
    NEVER_REACHED_VENUE = "NEVER_REACHED_VENUE"
    """Not found after the grace period: the order is REJECTED."""


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Base of every trading message (tagged by class name in field ``type``)."""


# --- market data (floats) ------------------------------------------------------------------


class BookSnapshot(Message, frozen=True, kw_only=True):
    """A copied order book of one venue and symbol; bids descending, asks ascending."""

    venue: str
    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    nonce: int | None = None
    timestamp_ms: int | None = None
    received_at: float
    """trio clock seconds when the connection received it."""


class TopOfBook(Message, frozen=True, kw_only=True):
    """Best bid and offer of one venue's book; sides are None when empty."""

    venue: str
    symbol: str
    bid: float | None
    bid_size: float | None
    ask: float | None
    ask_size: float | None
    nonce: int | None = None
    timestamp_ms: int | None = None
    stale: bool = False
    received_at: float = 0.0

    @property
    def mid(self) -> float | None:
        """Midpoint, or None when a side is empty."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def bid_price(self) -> Decimal | None:
        """The best bid as a Decimal (the venue's digits, as an order wants them)."""
        return None if self.bid is None else Decimal(repr(self.bid))

    @property
    def ask_price(self) -> Decimal | None:
        """The best ask as a Decimal (the venue's digits, as an order wants them)."""
        return None if self.ask is None else Decimal(repr(self.ask))


class TradeTick(Message, frozen=True, kw_only=True):
    """One public trade printed by a venue."""

    venue: str
    symbol: str
    price: float
    amount: float
    side: Side | None = None
    """Aggressor side when the venue says so."""
    trade_id: str | None = None
    timestamp_ms: int | None = None
    received_at: float = 0.0


class Ticker(Message, frozen=True, kw_only=True):
    """A venue's rolling 24h ticker of one symbol (Binance ``<symbol>@ticker``).

    Every figure is optional: venues and stream flavours differ in what they carry (a mini
    ticker has no best bid/ask).
    """

    venue: str
    symbol: str
    last: float | None = None
    bid: float | None = None
    bid_size: float | None = None
    ask: float | None = None
    ask_size: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    vwap: float | None = None
    change: float | None = None
    percentage: float | None = None
    base_volume: float | None = None
    quote_volume: float | None = None
    timestamp_ms: int | None = None
    received_at: float = 0.0
    """trio clock seconds when the connection received it."""


class FeedStatus(Message, frozen=True, kw_only=True):
    """A market-data feed went down (``live=False``) or came back."""

    venue: str
    symbol: str
    live: bool
    reason: str = ""
    at: float = 0.0


class ConsolidatedTop(Message, frozen=True, kw_only=True):
    """Best bid and offer for one symbol across the non-stale venues."""

    symbol: str
    bid: float | None
    bid_size: float | None
    bid_venue: str | None
    ask: float | None
    ask_size: float | None
    ask_venue: str | None
    venues: tuple[str, ...] = ()
    """The venues that contributed (fresh ones)."""


# --- orders (Decimal) ----------------------------------------------------------------------


class OrderIntent(Message, frozen=True, kw_only=True):
    """What a strategy wants to trade; ``venue=None`` routes to the best-priced venue."""

    client_order_id: str
    strategy: str
    venue: str | None
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = "GTC"
    created_at: float
    book_at: float | None = None
    """When the market data the decision answered arrived (its ``received_at``, same clock as
    ``created_at``); None when it answered no book (a timer, a fill). The router measures
    tick-to-order from it."""


class _AboutIntent(Message, frozen=True, kw_only=True):
    """A message about one intent: its client order id is the intent's."""

    intent: OrderIntent

    @property
    def client_order_id(self) -> str:
        return self.intent.client_order_id


class RiskApproved(_AboutIntent, frozen=True, kw_only=True):
    """The risk engine let this intent through."""

    at: float = 0.0
    cancel_first: tuple[str, ...] = ()
    """Our resting orders it would trade against (self-trade prevention ``cancel_resting``):
    the router cancels them and sends this order only once they have ended."""


class RiskRejected(_AboutIntent, frozen=True, kw_only=True):
    """The risk engine refused this intent; ``detail`` names the values involved."""

    reason: RejectReason
    detail: str
    at: float = 0.0
    cancel: tuple[str, ...] = ()
    """Our resting orders to cancel as well (self-trade prevention ``cancel_both``)."""


class SubmitOrder(_AboutIntent, frozen=True, kw_only=True):
    """The router sends an approved intent to a concrete venue."""

    venue: str
    sent_at: float = 0.0
    sent_wall: float = 0.0
    """Wall-clock seconds (epoch) when it was sent: after a restart, how long ago that was."""


class SubmitUnknown(Message, frozen=True, kw_only=True):
    """A submit timed out or got a 5xx: the venue may or may not have the order."""

    client_order_id: str
    venue: str
    reason: str
    at: float = 0.0


class CancelOrder(Message, frozen=True, kw_only=True):
    """Request to cancel an order by client order id."""

    client_order_id: str
    reason: str = ""
    at: float = 0.0


class CancelRejected(Message, frozen=True, kw_only=True):
    """The venue refused a cancel (e.g. the order filled first); the order stays live."""

    client_order_id: str
    venue: str
    reason: str
    at: float = 0.0


class OrderUpdate(Message, frozen=True, kw_only=True):
    """The venue's view of an order: status and its cumulative filled quantity."""

    client_order_id: str
    venue: str
    venue_order_id: str | None
    status: OrderStatus
    filled: Decimal
    remaining: Decimal
    average_price: Decimal | None = None
    timestamp_ms: int | None = None
    reason: str = ""


class Fill(Message, frozen=True, kw_only=True):
    """One execution; ``trade_id`` is unique per venue and symbol."""

    client_order_id: str
    venue: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    trade_id: str
    timestamp_ms: int | None = None


class ReconcileResult(Message, frozen=True, kw_only=True):
    """What reconciliation learned about one order (the verdict is decided live, then kept)."""

    client_order_id: str
    venue: str
    verdict: ReconcileVerdict
    update: OrderUpdate | None = None
    at: float = 0.0


# --- risk control --------------------------------------------------------------------------


class SetTradingState(Message, frozen=True, kw_only=True):
    """Operator command: switch the desk to ``state`` (HALTED is the kill switch)."""

    state: TradingState
    reason: str


class TradingStateChanged(Message, frozen=True, kw_only=True):
    """The risk engine changed trading state (by command or automatically)."""

    state: TradingState
    previous: TradingState
    reason: str
    automatic: bool = False
    at: float = 0.0


# --- fault injection ---------------------------------------------------------------------------


class FaultInjected(Message, frozen=True, kw_only=True):
    """A fault injected on purpose by a fault plan (``actors.testing``), journaled so a run
    can be read afterwards: what, where, for how long, and whether it could be applied."""

    fault: str
    """Its kind: ``crash``, ``drop_websockets``, ``order_error``..."""
    target: str
    """The actor path or venue name it hit."""
    description: str
    seconds: float = 0.0
    """How long it lasts (0: it acted at once)."""
    error: str | None = None
    """Why it could not be applied, if it could not."""
    at: float = 0.0
    """Wall-clock seconds (epoch) when it was injected."""


AnyMessage: TypeAlias = (
    BookSnapshot
    | TopOfBook
    | TradeTick
    | Ticker
    | FeedStatus
    | ConsolidatedTop
    | OrderIntent
    | RiskApproved
    | RiskRejected
    | SubmitOrder
    | SubmitUnknown
    | CancelOrder
    | CancelRejected
    | OrderUpdate
    | Fill
    | ReconcileResult
    | SetTradingState
    | TradingStateChanged
    | FaultInjected
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyMessage)


def encode(msg: Message) -> bytes:
    """Serialise a message to tagged JSON bytes."""
    return _encoder.encode(msg)


def decode(data: bytes | str) -> AnyMessage:
    """Parse tagged JSON back into its message; raises ``msgspec.DecodeError`` on bad input."""
    return _decoder.decode(data)


def client_order_id_of(msg: Message) -> str | None:
    """The client order id a message concerns, or None (market data, state commands)."""
    return getattr(msg, "client_order_id", None)


def validate_intent(intent: OrderIntent) -> str | None:
    """Return why an intent is malformed (naming field and value), or None when well-formed."""
    cid = intent.client_order_id
    if not cid or not isinstance(cid, str):
        return "client_order_id is empty"
    if intent.side not in ("buy", "sell"):
        return f"order {cid}: side must be 'buy' or 'sell', got {intent.side!r}"
    if intent.order_type not in ("limit", "market"):
        return f"order {cid}: order_type must be 'limit' or 'market', got {intent.order_type!r}"
    if intent.time_in_force not in ("GTC", "IOC", "FOK"):
        return f"order {cid}: time_in_force must be GTC, IOC or FOK, got {intent.time_in_force!r}"
    if not isinstance(intent.amount, Decimal):
        return f"order {cid}: amount must be a Decimal, got {intent.amount!r}"
    if intent.price is not None and not isinstance(intent.price, Decimal):
        return f"order {cid}: price must be a Decimal, got {intent.price!r}"
    if not isinstance(intent.symbol, str) or (
        intent.venue is not None and not isinstance(intent.venue, str)
    ):
        return f"order {cid}: symbol and venue must be strings"
    if not intent.amount.is_finite() or intent.amount <= 0:
        return f"order {cid}: amount must be a finite number > 0, got {intent.amount}"
    if intent.order_type == "limit":
        if intent.price is None:
            return f"order {cid}: limit order needs a price"
        if not intent.price.is_finite() or intent.price <= 0:
            return f"order {cid}: price must be a finite number > 0, got {intent.price}"
    elif intent.price is not None:
        return f"order {cid}: market order must not carry a price, got {intent.price}"
    if "/" not in intent.symbol:
        return f"order {cid}: symbol must be BASE/QUOTE, got {intent.symbol!r}"
    return None


def split_symbol(symbol: str) -> tuple[str, str]:
    """('BTC', 'USDT') from the unified ccxt symbol 'BTC/USDT' (or 'BTC/USDT:USDT')."""
    base, sep, rest = symbol.partition("/")
    if not sep or not base or not rest:
        raise ValueError(f"symbol must be BASE/QUOTE, got {symbol!r}")
    return base, rest.split(":", 1)[0]
