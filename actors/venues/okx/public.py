"""OKX public websockets: ``/ws/v5/public`` (``books``, ``books5``, ``bbo-tbt``, ``trades``,
``tickers``) and ``/ws/v5/business`` (``candle<bar>``).

Hub stream keys are ``<channel>:<instId>``. ``books`` subscribers get their snapshot at the
next depth tick and updates from then on (see ``books.py``); ``books5``, ``bbo-tbt`` and
``tickers`` push their current state right after the subscription reply; candles are pushed
once a second per connection, a closed candle first when its bar rolled over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from actors.venues.candles import INTERVALS_MS
from actors.venues.engine import DepthDiff
from actors.venues.hub import Conn, dumps
from actors.venues.okx.books import snapshot_frame, top_frame, update_frame
from actors.venues.okx.shapes import BARS, candle_row, ticker_json
from actors.venues.okx.ws import Endpoint, no_channel
from actors.venues.rules import Market

if TYPE_CHECKING:
    from actors.venues.server import Venue

PUBLIC_CHANNELS = ("books", "books5", "bbo-tbt", "trades", "tickers")
CANDLE_INTERVAL_S = 1.0


class PublicEndpoint(Endpoint):
    """``/ws/v5/public``."""

    name = "public"

    def _market(self, arg: dict[str, Any]) -> Market:
        m = self.protocol.by_inst_id.get(str(arg.get("instId", "")))
        if m is None or arg.get("channel") not in PUBLIC_CHANNELS:
            raise no_channel(arg)
        return m

    def subscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a public channel of one instrument."""
        m = self._market(arg)
        channel = arg["channel"]
        self.venue.hub.subscribe(conn, f"{channel}:{m.okx_id}")
        if channel == "books":
            conn.state.setdefault("books_pending", set()).add(m.okx_id)
        return {"channel": channel, "instId": m.okx_id}

    def after_subscribe(self, conn: Conn, arg: dict[str, Any]) -> None:
        """Current state of ``books5``, ``bbo-tbt`` and ``tickers`` right away."""
        m = self.protocol.by_inst_id[arg["instId"]]
        channel = arg["channel"]
        if channel in ("books5", "bbo-tbt"):
            conn.push(dumps(top_frame(self.venue, m, channel, 5 if channel == "books5" else 1)))
        elif channel == "tickers":
            conn.push(dumps(tickers_frame(self.venue, m)))

    def unsubscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Unsubscribe a public channel."""
        m = self._market(arg)
        self.venue.hub.unsubscribe(conn, f"{arg['channel']}:{m.okx_id}")
        conn.state.get("books_pending", set()).discard(m.okx_id)
        return {"channel": arg["channel"], "instId": m.okx_id}


def tickers_frame(venue: Venue, m: Market) -> dict[str, Any]:
    """A ``tickers`` push."""
    return {"arg": {"channel": "tickers", "instId": m.okx_id}, "data": [ticker_json(venue, m)]}


def books_tick(venue: Venue, m: Market, diff: DepthDiff | None, now_ms: int) -> bool:
    """Send the ``books`` update of ``diff`` to synced subscribers and snapshots to new ones;
    True if an update went out."""
    conns = venue.hub.by_stream.get(f"books:{m.okx_id}")
    if not conns:
        return False
    text = dumps(update_frame(venue, m, diff, now_ms)) if diff is not None else None
    snapshot: str | None = None
    sent = False
    for conn in conns:
        pending = conn.state.get("books_pending")
        if pending and m.okx_id in pending:
            pending.discard(m.okx_id)
            snapshot = snapshot or dumps(snapshot_frame(venue, m))
            conn.push(snapshot)
        elif text is not None:
            conn.push(text)
            sent = True
    return sent


class BusinessEndpoint(Endpoint):
    """``/ws/v5/business``: candles (ccxt sends every ``candle*`` channel here)."""

    name = "business"

    def _parse(self, arg: dict[str, Any]) -> tuple[str, Market]:
        channel = str(arg.get("channel", ""))
        m = self.protocol.by_inst_id.get(str(arg.get("instId", "")))
        bar = channel[len("candle") :] if channel.startswith("candle") else ""
        if m is None or bar not in BARS:
            raise no_channel(arg)
        return bar, m

    def subscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a candle channel."""
        bar, m = self._parse(arg)
        conn.state.setdefault("candles", {})[(bar, m.okx_id)] = None
        return {"channel": f"candle{bar}", "instId": m.okx_id}

    def after_subscribe(self, conn: Conn, arg: dict[str, Any]) -> None:
        """The current candle right away."""
        bar, m = self._parse(arg)
        push_candles(self.venue, conn, [(bar, m)])

    def unsubscribe(self, conn: Conn, arg: dict[str, Any]) -> dict[str, Any]:
        """Unsubscribe a candle channel."""
        bar, m = self._parse(arg)
        conn.state.get("candles", {}).pop((bar, m.okx_id), None)
        return {"channel": f"candle{bar}", "instId": m.okx_id}

    def tasks(self) -> tuple[Any, ...]:
        """The once-a-second candle pusher."""
        return (self._candle_sender,)

    async def _candle_sender(self, venue: Venue, conn: Conn) -> None:
        while True:
            await trio.sleep(CANDLE_INTERVAL_S)
            subs = conn.state.get("candles") or {}
            push_candles(venue, conn, [(bar, self.protocol.by_inst_id[i]) for bar, i in subs])


def push_candles(venue: Venue, conn: Conn, subs: list[tuple[str, Market]]) -> None:
    """Queue the current candle of each ``(bar, market)``; the closed one first if the bar
    rolled over since the last push."""
    now = venue.now_ms()
    sent: dict[tuple[str, str], int | None] = conn.state.setdefault("candles", {})
    for bar, m in subs:
        width = INTERVALS_MS[BARS[bar]]
        candles = venue.engine.books[m.id].candles.series(width, None, now, limit=2)
        if not candles:
            continue
        arg = {"channel": f"candle{bar}", "instId": m.okx_id}
        current = candles[-1]
        previous = sent.get((bar, m.okx_id))
        if previous is not None and previous < current.open_ms and len(candles) == 2:
            conn.push(dumps({"arg": arg, "data": [candle_row(m, candles[0], True)]}))
        sent[(bar, m.okx_id)] = current.open_ms
        conn.push(dumps({"arg": arg, "data": [candle_row(m, current, False)]}))
