"""The consolidated best bid/offer of one symbol across venues (stale venues left out).

Book actors of every venue publish their :class:`TopOfBook` here; on each change the actor
publishes a :class:`ConsolidatedTop` to its subscribers and answers
``ask(GetConsolidated())`` with the current one (None when no venue is fresh). The router
uses it to route intents with ``venue=None`` to the best-priced venue.

>>> # ChildSpec("BTC-USDT", lambda: ConsolidatedActor("BTC/USDT", subscribers=("/strategies/arb",)))
"""

from __future__ import annotations

from typing import Any

import trio

from actors.runtime import Actor
from actors.trading.book import ConsolidatedBook
from actors.trading.book_actor import Fanout
from actors.trading.messages import ConsolidatedTop, FeedStatus, TopOfBook
from actors.trading.protocol import GetConsolidated


class ConsolidatedActor(Actor):
    """Best bid and offer of ``symbol`` over the fresh venues."""

    def __init__(
        self, symbol: str, *, subscribers: tuple[str, ...] = (), max_age: float | None = None
    ) -> None:
        self.symbol = symbol
        self.max_age = max_age
        self.book = ConsolidatedBook(symbol)
        self.current: ConsolidatedTop | None = None
        self._paths = subscribers

    async def on_start(self) -> None:
        """Resolve subscribers lazily."""
        self.fanout = Fanout(self, self._paths)

    async def handle(self, message: Any) -> Any:
        """Tops and feed status in, ``GetConsolidated`` asks answered."""
        if isinstance(message, TopOfBook):
            self.book.update(message)
            self._republish()
        elif isinstance(message, FeedStatus):
            if not message.live:
                self.book.mark_down(message.venue, message.reason)
                self._republish()
        elif isinstance(message, GetConsolidated):
            return self.book.consolidated(trio.current_time(), self.max_age)
        else:
            return await super().handle(message)
        return None

    def _republish(self) -> None:
        top = self.book.consolidated(trio.current_time(), self.max_age)
        if top != self.current:
            self.current = top
            if top is not None:
                self.fanout.publish(top)
