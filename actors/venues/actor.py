"""The embedded venues as one supervised actor of the trading process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actors.runtime import Actor, Refuse
from actors.venues.config import VenueConfig
from actors.venues.server import Venue, serve_many


@dataclass(frozen=True, slots=True)
class GetEndpoints:
    """Ask a ``VenueActor`` for ``{venue name: base URL}`` of the venues it serves."""


class VenueActor(Actor):
    """Serves embedded venues (one port each, correlated markets) until stopped.

    All venues of a process share one actor so their fair values come from one model. A
    restart is a fresh exchange: books, balances and orders start over, as after a real
    venue's outage with a wipe; the desk reconciles against what the venue then says.
    Give fixed ports (the topology picks free ones for port 0) so clients find it again.

    >>> # ChildSpec("venues", lambda: VenueActor([VenueConfig(name="sim", port=8765)]))
    """

    def __init__(self, configs: Sequence[VenueConfig]) -> None:
        if not configs:
            raise ValueError("VenueActor needs at least one VenueConfig")
        self._configs = tuple(configs)
        self._venues: list[Venue] = []

    async def on_start(self) -> None:
        self._venues = await self.ctx.start(serve_many, self._configs)
        for venue in self._venues:
            self.ctx.log.info(
                "venue %s listening on %s (%s)", venue.config.name, venue.url, venue.config.protocol
            )

    async def handle(self, message: Any) -> Any:
        if isinstance(message, GetEndpoints):
            return {venue.config.name: venue.url for venue in self._venues}
        return Refuse(TypeError(f"{self.ctx.path} does not take {type(message).__name__}"))

    def venues(self) -> list[Venue]:
        """The running venues (in-process handles, for tests and the status view)."""
        return list(self._venues)
