"""The OKX v5 spot protocol of the embedded venue (in progress)."""

from __future__ import annotations

from actors.venues.protocol import VenueProtocol


class OkxProtocol(VenueProtocol):
    """OKX v5 on the shared venue core."""

    name = "okx"
